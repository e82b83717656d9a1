//! Virtual contactless cards: personalized Visa qVSDC, Mastercard M/Chip, UnionPay qUICS and
//! phone-wallet profiles, plus fault profiles for the terminal's error paths.
//!
//! The card engine is a function of (card state, C-APDU bytes) → R-APDU bytes
//! ([`VirtualCard::process`]). It runs in process as an [`emv::CardTransport`]
//! ([`VirtualCard`]), or behind `pcscd` through the vpcd virtual reader ([`vpcd`]), so the
//! terminal reads it exactly as it reads a real card.
//!
//! Each card's ICC master key is derived from the simulated issuer's IMK-AC
//! ([`crate::hsm::test_keys`]), so the cryptograms it makes verify at the simulated host. Its
//! certificates and signatures come from the simulator PKI ([`pki`]), so the terminal's offline
//! data authentication passes with the simulator CA key (`D0`): fDDA for Visa, the wallet and
//! UnionPay, CDA for Mastercard.
//!
//! Logs carry command headers and status words only, never the PAN or track 2.

mod dol;
mod engine;
mod oda;
pub mod pki;
mod profile;
pub mod vpcd;

pub use engine::{Reply, VirtualCard, continue_atc_after};
pub use profile::{
    Fault, HOSTILE_CARDHOLDER_NAME, HOSTILE_LABEL, LegacyOda, Profile, Record, Scheme, mask_pan,
};
