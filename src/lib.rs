//! softpos: an open software payment terminal.
//!
//! The app crate: the reader, camera and acquirer links, the PIN process, the journal, and the
//! command line and GUI that drive them. The EMV kernel lives in the `emv` crate (no I/O); the
//! rest of the payment world, for demos and tests, in `hsm-sim`.
//!
//! - [`reader`]: PC/SC readers (real USB readers and the `vpcd` virtual reader).
//! - [`config`]: where the terminal's configuration comes from.
//! - [`cli`]: the `softpos` commands.
#![forbid(unsafe_code)]

pub mod cli;
pub mod config;
pub mod demo;
pub mod pinpad;
pub mod reader;
pub mod tap;
