//! Message authentication on the acquirer link (`docs/iso8583.md` §6), as pure functions.
//!
//! A MACed request carries **DE 61**, the 12-byte KSN of the terminal's MAC key (an AES DUKPT
//! initial key of its own, X9.24-3-2017), and **DE 64** (or **DE 128** when a secondary bitmap
//! is present), the leftmost 8 bytes of AES-CMAC (NIST SP 800-38B) over the encoded message
//! from the MTI up to the MAC bytes, under the DUKPT working key of that KSN with key usage
//! `2000` (MAC generation, X9.24-3 §6.3.2). The answer carries the host's MAC under the same
//! KSN's working key of usage `2001` (MAC verification), so neither side can produce the
//! other's MACs with the key it uses for its own.
//!
//! Where the KSN comes from (a durable counter on the terminal, the HSM on the host) is the
//! caller's business; nothing here keeps state.

use crate::crypto::dukpt::{self, DukptError, KeyType, KeyUsage, Ksn};
use crate::crypto::key::AesKey;
use crate::crypto::mac::{aes_cmac, verify_aes_cmac};

use super::{CodecError, Message};

/// Signs `message` as a request: sets DE 61 to `ksn` and the MAC field ([`mac_field`]) to the
/// MAC under the DUKPT key of `ksn` with usage `2000`. Any MAC already there is replaced. The
/// working key is dropped (zeroized) before this returns.
pub fn sign_request(message: &mut Message, initial_key: &AesKey, ksn: Ksn) -> Result<(), MacError> {
    message.remove(64);
    message.remove(128);
    message.set(MAC_KSN_FIELD, ksn.to_bytes().to_vec());
    let field = mac_field(message);
    message.set(field, vec![0u8; MAC_LEN]);
    let body = message.encode()?;
    let covered = body
        .get(..body.len().saturating_sub(MAC_LEN))
        .unwrap_or_default();
    let key = working_key(initial_key, ksn, KeyUsage::MacGeneration)?;
    message.set(field, compute(&key, covered).to_vec());
    Ok(())
}

/// Checks that the encoded response `body` ends with the host's MAC for `ksn` (usage `2001`).
/// A response without a MAC, with both MAC fields, or whose MAC is not its last bytes fails.
pub fn verify_response(initial_key: &AesKey, ksn: Ksn, body: &[u8]) -> Result<(), MacError> {
    let parts = MacParts::of(body)?;
    let key = working_key(initial_key, ksn, KeyUsage::MacVerification)?;
    if verify_aes_cmac(&key, parts.covered, &parts.mac) {
        Ok(())
    } else {
        Err(MacError::Mismatch)
    }
}

/// Checks a request's MAC with the terminal's initial key: the KSN is DE 61, the key usage
/// `2000`. Returns the KSN (which the answer is MACed with). The host, which holds the base
/// derivation key rather than the initial key, splits the body with [`MacParts::of`] instead.
pub fn verify_request(initial_key: &AesKey, body: &[u8]) -> Result<Ksn, MacError> {
    let parts = MacParts::of(body)?;
    let ksn = parts.ksn.ok_or(MacError::NoKsn)?;
    let key = working_key(initial_key, ksn, KeyUsage::MacGeneration)?;
    if verify_aes_cmac(&key, parts.covered, &parts.mac) {
        Ok(ksn)
    } else {
        Err(MacError::Mismatch)
    }
}

/// The 8-byte MAC of `covered` under a DUKPT working key: the leftmost 8 bytes of AES-CMAC.
pub fn compute(working_key: &AesKey, covered: &[u8]) -> [u8; MAC_LEN] {
    let full = aes_cmac(working_key, covered);
    let mut mac = [0u8; MAC_LEN];
    mac.copy_from_slice(full.get(..MAC_LEN).unwrap_or(&[0u8; MAC_LEN]));
    mac
}

/// The MAC field of a message: DE 128 if any field above 64 (other than 128) is present, so
/// that a secondary bitmap is there anyway, else DE 64.
pub fn mac_field(message: &Message) -> u8 {
    if message.field_numbers().any(|n| n > 64 && n != 128) {
        128
    } else {
        64
    }
}

/// An encoded message split for its MAC check. No `Debug`: the covered bytes hold the PAN.
#[derive(Clone, PartialEq, Eq)]
pub struct MacParts<'a> {
    /// The bytes the MAC covers: the message from the MTI up to the MAC.
    pub covered: &'a [u8],
    /// The MAC the message carries.
    pub mac: [u8; MAC_LEN],
    /// DE 61, if present and 12 bytes.
    pub ksn: Option<Ksn>,
}

impl<'a> MacParts<'a> {
    /// Decodes `body` and splits it: the MAC field ([`mac_field`]) must be present, alone
    /// (not both DE 64 and DE 128), 8 bytes, and the last bytes of the message.
    pub fn of(body: &'a [u8]) -> Result<Self, MacError> {
        let message = Message::decode(body)?;
        let field = mac_field(&message);
        let other = if field == 64 { 128 } else { 64 };
        if message.has(other) {
            return Err(MacError::BothFields);
        }
        let received = message.field(field).ok_or(MacError::Missing)?;
        let mac: [u8; MAC_LEN] = received.try_into().map_err(|_| MacError::Length)?;
        let (covered, tail) = body
            .split_at_checked(body.len().saturating_sub(MAC_LEN))
            .ok_or(MacError::Length)?;
        if tail != mac {
            return Err(MacError::NotLast);
        }
        let ksn = message
            .field(MAC_KSN_FIELD)
            .and_then(|k| <[u8; 12]>::try_from(k).ok())
            .map(Ksn::from_bytes);
        Ok(Self { covered, mac, ksn })
    }
}

/// Why a MAC could not be made or did not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MacError {
    /// The message does not encode or decode.
    #[error("the message is not valid ISO 8583")]
    Codec(#[from] CodecError),
    /// The DUKPT working key cannot be derived (bad KSN, key length).
    #[error("the DUKPT MAC key cannot be derived")]
    Dukpt(#[from] DukptError),
    /// The message carries no MAC.
    #[error("no MAC")]
    Missing,
    /// The message carries both DE 64 and DE 128.
    #[error("both DE 64 and DE 128 are present")]
    BothFields,
    /// The MAC field is not 8 bytes.
    #[error("the MAC is not 8 bytes")]
    Length,
    /// The MAC field is not the end of the message.
    #[error("the MAC is not the last field")]
    NotLast,
    /// A MACed request without a 12-byte KSN in DE 61.
    #[error("no KSN in DE 61")]
    NoKsn,
    /// The MAC does not verify.
    #[error("the MAC does not verify")]
    Mismatch,
    /// A MAC on the answer to a request that carried none.
    #[error("a MAC on the answer to a request without MAC")]
    Unexpected,
}

fn working_key(initial_key: &AesKey, ksn: Ksn, usage: KeyUsage) -> Result<AesKey, MacError> {
    Ok(dukpt::derive_working_key(
        initial_key,
        ksn,
        usage,
        KeyType::Aes128,
    )?)
}

/// The field that carries the KSN of the MAC key (`docs/iso8583.md` §3, private use).
pub const MAC_KSN_FIELD: u8 = 61;
/// ISO 8583 DE 64/128 carry 8 MAC bytes.
pub const MAC_LEN: usize = 8;
