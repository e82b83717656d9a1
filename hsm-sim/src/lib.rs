//! `hsm-sim`: the rest of the payment world in software, so every softpos flow runs end to end on
//! one machine, and a tool payment testers use on its own.
//!
//! - [`card`]: virtual contactless cards (Visa, Mastercard, UnionPay, phone wallet, fault
//!   profiles), usable in process as an [`emv::CardTransport`] or behind `vpcd`.
//! - [`hsm`]: the payment HSM (DUKPT, PIN blocks, ARQC/ARPC, MACs); keys stay inside.
//! - [`iso8583`]: the ISO 8583:1987 codec, builders and MAC, re-exported from `emv::iso8583`;
//!   `docs/iso8583.md` is its field table.
//! - [`host`]: the acquirer host over mutually authenticated TLS, the issuer and the ledger.
//! - [`wallet`]: the customer's wallet: device key, consumer-presented and offline codes.
//! - [`cli`]: the console commands of the `hsm-sim` binary.
#![forbid(unsafe_code)]

pub mod card;
pub mod cli;
pub mod host;
pub mod hsm;
pub mod wallet;
/// The ISO 8583 codec, builders and MAC live in `emv` (shared with the terminal); the path
/// `hsm_sim::iso8583` stays for the simulator's code and its users.
pub use emv::iso8583;
