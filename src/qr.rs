//! QR codes from a camera or an image: from a grey frame to the payload bytes.
//!
//! - [`grey`]: the decoder's input, an 8-bit luma buffer (from YUYV, NV12, RGB).
//! - [`binarize`]: the local threshold that phone-camera frames need.
//! - [`decoder`]: the pipeline of decoder passes (rqrr, then rxing), each guarded against
//!   panics.
//! - [`scanner`]: the scanner service (source thread, latest-frame slot, decoder thread) and
//!   its acceptance rule.
//! - [`synth`]: deterministic degraded frames for the benchmark and the tests.
//!
//! - [`acceptance`]: the check that lets a customer's code end a scan.
//!
//! What the payload means (EMVCo MPM/CPM, signed offline codes) is the payment code's business;
//! the scanner only takes a check from it. See docs/qr-decoding.md.

pub mod acceptance;
pub mod binarize;
pub mod decoder;
pub mod grey;
pub mod scanner;
pub mod synth;

pub use decoder::{Attempt, Decoded, Engine, Pass, Pipeline};
pub use grey::GreyImage;
