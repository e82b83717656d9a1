//! Card readers: where taps come from.
//!
//! [`pcsc`] reads real and virtual contactless readers through the PC/SC service (`pcscd`). A
//! tester's USB NFC reader and the `vpcd` virtual reader that `hsm-sim card` plugs into look
//! the same from here.

pub mod pcsc;

pub use pcsc::{PcscReader, ReaderError, ReaderInfo, ReaderWaker};
