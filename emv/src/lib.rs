//! The softpos contactless EMV kernel, and the payment cryptography that the terminal and the
//! host simulator share.
//!
//! This crate performs no I/O: it never touches PC/SC, a socket, a screen or a file. Card
//! exchanges go through the [`CardTransport`] trait, which the app implements over PC/SC and
//! `hsm-sim` implements in process for tests. The kernels are state machines in the sans-IO
//! style of rustls: a state takes a response APDU and returns the next command or an outcome.
//!
//! Layout:
//! - [`apdu`], [`transport`]: command and response APDUs, status words, the transport trait.
//! - [`tlv`]: BER-TLV with the EMV tag dictionary (names, formats, sensitivity); [`dol`]: data
//!   object lists (PDOL, CDOL1, DDOL).
//! - [`config`]: terminal configuration (TOML).
//! - [`display`]: card text (labels, names) made safe to show.
//! - [`entry_point`]: EMV Book B, PPSE, candidate list, pre-processing, outcomes.
//! - [`kernel`]: Kernel 2 (Mastercard), Kernel 3 (Visa), Kernel 7 (UnionPay), CVM.
//! - [`oda`]: offline data authentication (EMV Book 2): CA keys, certificates, SDA/DDA/fDDA/CDA.
//! - [`crypto`]: DUKPT (X9.24), ISO 9564 PIN blocks, EMV session keys, cryptograms and MACs.
//! - [`enrolment`]: the activation protocol: request and answer messages, the signed proof,
//!   the activation code's alphabet and normalisation.
//! - [`iso8583`]: the acquirer protocol: the ISO 8583 codec, its field table, the request
//!   builders, response codes and the message MAC.
//! - [`api`]: the JSON bodies of the host's HTTPS API that terminal and host share.
//! - [`qr`]: EMVCo QR codes: the merchant-presented code and its CRC, the customer's codes
//!   (EMVCo consumer-presented mode and the signed offline code).
#![forbid(unsafe_code)]

pub mod apdu;
pub mod api;
pub mod attestation;
pub mod config;
pub mod crypto;
pub mod display;
pub mod dol;
pub mod enrolment;
pub mod entry_point;
#[doc(hidden)]
pub mod fuzz;
pub mod iso8583;
pub mod kernel;
pub mod oda;
pub mod pan;
pub mod qr;
pub mod tlv;
pub mod transport;

pub use apdu::{Command, Response, StatusWord};
pub use transport::{CardTransport, TransportError};
