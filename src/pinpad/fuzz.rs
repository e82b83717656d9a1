//! The body of the PIN pad pipe protocol's fuzz target (`fuzz/fuzz_targets/pinpad_protocol.rs`,
//! run with `scripts/fuzz pinpad_protocol`): the input is a byte stream as either end of the
//! pipe reads it. Frames are read off it with [`read_frame`] until it ends or a frame is
//! refused, and each payload is decoded both as the PIN pad decodes the terminal's requests and
//! as the terminal decodes the pad's answers. What decodes must encode to a payload that
//! decodes to the same encoding, and must fit in one frame. Panics only on a bug. The committed
//! corpus is replayed by `tests/fuzz_corpora.rs` through this same function.

use std::io::Cursor;

use super::protocol::{MAX_FRAME, PinPadMessage, TerminalMessage, read_frame, write_frame};

/// Reads and decodes every frame of `stream`.
pub fn pipe_stream(stream: &[u8]) {
    let mut reader = Cursor::new(stream);
    while let Ok(payload) = read_frame(&mut reader) {
        assert!(
            !payload.is_empty() && payload.len() <= MAX_FRAME,
            "frame length"
        );
        if let Ok(message) = TerminalMessage::decode(&payload) {
            let encoded = message.encode();
            let again = TerminalMessage::decode(&encoded).expect("an encoded request decodes");
            assert_eq!(*again.encode(), *encoded, "request round trip");
            assert!(
                write_frame(&mut Vec::new(), &encoded).is_ok(),
                "fits a frame"
            );
        }
        if let Ok(message) = PinPadMessage::decode(&payload) {
            let encoded = message.encode();
            let again = PinPadMessage::decode(&encoded).expect("an encoded answer decodes");
            assert_eq!(again.encode(), encoded, "answer round trip");
            assert!(
                write_frame(&mut Vec::new(), &encoded).is_ok(),
                "fits a frame"
            );
        }
    }
}
