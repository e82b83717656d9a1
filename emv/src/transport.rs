//! The one seam between the kernel and a card: [`CardTransport`].
//!
//! The app implements it over PC/SC (`src/reader/pcsc.rs`), and `hsm-sim` implements it in
//! process for tests. The kernel never calls a transport itself; the driver loop does, and it
//! uses [`exchange`], which handles `61xx` (GET RESPONSE) and `6Cxx` (wrong Le) once for every
//! caller (ISO/IEC 7816-4 §5.3.4, EMV Book 1 §9.3).

use zeroize::Zeroizing;

use crate::apdu::{ApduError, Command, Response, StatusWord};

/// Something that carries one command APDU to a card and brings back its response.
pub trait CardTransport {
    /// Sends `command` and returns the card's raw response (data and status word), with no
    /// interpretation of the status word.
    fn transmit(&mut self, command: &Command) -> Result<Response, TransportError>;
}

impl<T: CardTransport + ?Sized> CardTransport for &mut T {
    fn transmit(&mut self, command: &Command) -> Result<Response, TransportError> {
        (**self).transmit(command)
    }
}

impl<T: CardTransport + ?Sized> CardTransport for Box<T> {
    fn transmit(&mut self, command: &Command) -> Result<Response, TransportError> {
        (**self).transmit(command)
    }
}

/// Sends `command` and follows the transport-level status words: `61xx` is answered with GET
/// RESPONSE (the data of each part is concatenated) and `6Cxx` with one resend of the same
/// command with the right Le. Any other status word is returned to the caller.
///
/// The parts are gathered in a [`Zeroizing`] buffer that never grows in place (a record can
/// hold track 2 or the PAN): see [`append_zeroizing`].
pub fn exchange<T: CardTransport + ?Sized>(
    transport: &mut T,
    command: &Command,
) -> Result<Response, TransportError> {
    let mut response = transport.transmit(command)?;
    if let StatusWord::WrongLe(le) = response.status {
        response = transport.transmit(&command.with_le(le))?;
    }
    let mut data = Zeroizing::new(Vec::new());
    let mut rounds = 0;
    while let StatusWord::BytesRemaining(remaining) = response.status {
        rounds += 1;
        if rounds > MAX_GET_RESPONSE_ROUNDS {
            return Err(TransportError::Protocol("too many GET RESPONSE rounds"));
        }
        append_zeroizing(&mut data, &response.data);
        response = transport.transmit(&Command::get_response(remaining))?;
    }
    if data.is_empty() {
        return Ok(response);
    }
    append_zeroizing(&mut data, &response.data);
    // The vector moves (no copy) into the response, which zeroizes it in turn.
    Ok(Response::new(core::mem::take(&mut *data), response.status))
}

/// Appends `more` to `buffer` without leaving a copy behind: `Vec` growth would move the bytes
/// to a new allocation and free the old one as it is, so when `buffer` is full its content
/// moves to a larger [`Zeroizing`] vector first and the old one is wiped as it drops.
pub fn append_zeroizing(buffer: &mut Zeroizing<Vec<u8>>, more: &[u8]) {
    let needed = buffer.len().saturating_add(more.len());
    if needed > buffer.capacity() {
        let mut larger = Zeroizing::new(Vec::with_capacity(
            needed.max(buffer.capacity().saturating_mul(2)),
        ));
        larger.extend_from_slice(buffer);
        *buffer = larger;
    }
    buffer.extend_from_slice(more);
}

/// Errors a transport reports. They are about carrying bytes, never about what the card said.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TransportError {
    /// The card left the field (or was removed) during the exchange.
    #[error("the card was removed")]
    CardRemoved,
    /// No card is present in the reader.
    #[error("no card in the reader")]
    NoCard,
    /// The card was reset by another application or the reader.
    #[error("the card was reset")]
    CardReset,
    /// The reader itself is gone (unplugged, or the service stopped).
    #[error("the reader is not available")]
    ReaderUnavailable,
    /// No answer within the transport's time limit.
    #[error("the card did not answer in time")]
    Timeout,
    /// The bytes that came back are not a response APDU.
    #[error("malformed response APDU: {0}")]
    MalformedResponse(#[from] ApduError),
    /// The command could not be sent as it is.
    #[error("transport protocol error: {0}")]
    Protocol(&'static str),
    /// Any other failure of the underlying transport, with its source kept.
    #[error("transport failure: {0}")]
    Other(#[source] Box<dyn std::error::Error + Send + Sync + 'static>),
}

/// A card that keeps answering `61xx` is broken; stop after this many rounds.
const MAX_GET_RESPONSE_ROUNDS: usize = 16;

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;

    use hex_literal::hex;

    use super::*;

    /// A transport that replays a script of (expected command, response) pairs.
    struct Script(VecDeque<(Vec<u8>, Vec<u8>)>);

    impl CardTransport for Script {
        fn transmit(&mut self, command: &Command) -> Result<Response, TransportError> {
            let (expected, response) = self.0.pop_front().ok_or(TransportError::CardRemoved)?;
            assert_eq!(command.serialize(), expected);
            Ok(Response::from_bytes(&response)?)
        }
    }

    #[test]
    fn get_response_is_followed_and_concatenated() {
        let mut card = Script(VecDeque::from([
            (hex!("00B2011400").to_vec(), hex!("70036110").to_vec()),
            (hex!("00C0000010").to_vec(), hex!("AABB6102").to_vec()),
            (hex!("00C0000002").to_vec(), hex!("CCDD9000").to_vec()),
        ]));
        let r = exchange(&mut card, &Command::read_record(2, 1)).unwrap();
        assert_eq!(&r.data[..], &hex!("7003AABBCCDD"));
        assert!(r.is_success());
    }

    #[test]
    fn appending_never_grows_a_buffer_in_place() {
        let mut buffer = Zeroizing::new(Vec::new());
        let mut expected = Vec::new();
        for round in 0..40u8 {
            let part = [round; 37];
            let before = buffer.as_ptr();
            let full = buffer.len() + part.len() > buffer.capacity();
            append_zeroizing(&mut buffer, &part);
            expected.extend_from_slice(&part);
            // Without room the content moved to a new allocation (the old one was wiped as it
            // dropped); with room it stayed where it was.
            if !full {
                assert_eq!(buffer.as_ptr(), before, "round {round}");
            }
            assert!(buffer.capacity() >= buffer.len());
        }
        assert_eq!(buffer.as_slice(), expected.as_slice());
    }

    #[test]
    fn wrong_le_is_resent_once() {
        let mut card = Script(VecDeque::from([
            (hex!("00B2011400").to_vec(), hex!("6C05").to_vec()),
            (hex!("00B2011405").to_vec(), hex!("01020304059000").to_vec()),
        ]));
        let r = exchange(&mut card, &Command::read_record(2, 1)).unwrap();
        assert_eq!(&r.data[..], &hex!("0102030405"));
    }

    #[test]
    fn endless_get_response_is_an_error() {
        struct Endless;
        impl CardTransport for Endless {
            fn transmit(&mut self, _: &Command) -> Result<Response, TransportError> {
                Ok(Response::new(vec![0], StatusWord::BytesRemaining(1)))
            }
        }
        assert!(matches!(
            exchange(&mut Endless, &Command::read_record(1, 1)),
            Err(TransportError::Protocol(_))
        ));
    }
}
