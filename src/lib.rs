//! softpos: an open software payment terminal.
//!
//! The app crate: the reader, camera and acquirer links, the PIN process, the journal, and the
//! command line and GUI that drive them. The EMV kernel lives in the `emv` crate (no I/O); the
//! rest of the payment world, for demos and tests, in `hsm-sim`.
//!
//! - [`reader`]: where cards come from: PC/SC readers (real USB readers and the `vpcd`
//!   virtual reader) and an in-process virtual card.
//! - [`card_session`]: one tap, the kernel run over a reader's transport.
//! - [`config`]: where the terminal's configuration comes from.
//! - [`engine`]: the transaction state machine (sale, refund, void, pre-authorization,
//!   completion, settlement, crash recovery) that the CLI and the GUI drive.
//! - [`acquirer`]: ISO 8583 over mutual TLS 1.3 to the acquirer host.
//! - [`journal`]: the SQLite transaction journal.
//! - [`camera`] and [`qr`]: frames from a camera or image files, and the QR decoder pipeline
//!   from a grey frame to the payload bytes.
//! - [`cli`]: the `softpos` commands.
//! - `gui` (feature `gui`): the merchant's Slint GUI, which drives the engine's worker thread.
// `deny`, not `forbid`: `pinpad::window` includes the code Slint generates from `ui/`, which
// carries `#[allow(unsafe_code)]`; only that module allows it (STYLE.md section 5).
#![deny(unsafe_code)]

pub mod acquirer;
pub mod activation;
pub mod attestation;
pub mod camera;
pub mod card_session;
pub mod cli;
pub mod config;
#[cfg(feature = "demo")]
pub mod demo;
pub mod dir_lock;
pub mod durable;
pub mod engine;
#[cfg(feature = "gui")]
pub mod gui;
pub mod host_api;
pub mod journal;
pub mod pinpad;
pub mod qr;
pub mod reader;
pub mod tap;
