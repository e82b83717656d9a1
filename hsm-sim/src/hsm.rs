//! The payment HSM: AES DUKPT, PIN blocks, ARQC/ARPC and MACs, with keys that never leave it.
//!
//! [`Hsm`] is the acquirer host's and issuer's security module. It holds the base derivation
//! keys (by BDK ID), the issuer's zone PIN key and PIN verification key, and the issuers'
//! IMK-AC (by RID). Its operations take and return only cryptograms, PIN blocks, MACs and
//! verification values; the one call that returns a clear key is
//! [`Hsm::create_terminal_key`], the explicit export of a terminal's initial key for its
//! enrolment bundle.
//!
//! Replays (security doc C4): the HSM remembers, per initial key ID, the highest transaction
//! counter it has seen. A PIN operation needs a counter above the last PIN operation's, a
//! request MAC one above the last request MAC's, and neither may be below anything seen for
//! the key (so a key used for both, as old enrolments did, may MAC and encrypt the PIN of one
//! transaction under one KSN). Counters live in memory only; the host keeps its own durable
//! copies (the ledger's `ksn_counters` for PIN keys, `mac_ksn_counters` for MAC keys).
//!
//! PIN verification values ([`Hsm::pin_verification_value`]): the issuer stores no PIN, only
//! PVV = leftmost 8 bytes of AES-CMAC(PVK, `"softpos-pvv-1"` ‖ format 4 PAN field ‖ PIN length
//! ‖ PIN digits padded with `F` to 12). This is the simulator's own scheme in the spirit of the
//! IBM 3624 / Visa PVV, not either of them.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Mutex, PoisonError};

use emv::crypto::cryptogram::{self, ArpcMethod, CryptoError, CryptogramInput, CryptogramVersion};
use emv::crypto::dukpt::{
    self, DukptError, InitialKeyId, KeyType, KeyUsage, Ksn, derive_initial_key,
};
use emv::crypto::key::{AesKey, TdesKey16};
use emv::crypto::mac::{aes_cmac, verify_aes_cmac};
use emv::crypto::pin_block::{self, FillSource, OsFill, Pin, PinBlockError, format4_pan_field};
use zeroize::Zeroizing;

mod storage;
pub mod test_keys;

/// The payment HSM of the simulated acquirer and issuer. Share it behind an `Arc`; every
/// operation takes `&self`.
pub struct Hsm {
    bdks: HashMap<[u8; 4], AesKey>,
    default_bdk_id: [u8; 4],
    zone_pin_key: AesKey,
    pin_verification_key: AesKey,
    issuer_master_keys: Vec<([u8; 5], TdesKey16)>,
    counters: Mutex<HashMap<InitialKeyId, SeenCounters>>,
    test_key_mode: bool,
}

/// The keys an [`Hsm`] starts with.
pub struct HsmKeys {
    /// Base derivation keys by BDK ID; the first is the default for new terminals.
    pub bdks: Vec<([u8; 4], AesKey)>,
    /// The issuer's AES zone PIN key.
    pub zone_pin_key: AesKey,
    /// The issuer's PIN verification key.
    pub pin_verification_key: AesKey,
    /// IMK-AC by RID (first five bytes of the AID).
    pub issuer_master_keys: Vec<([u8; 5], TdesKey16)>,
}

/// A terminal's initial key and first KSN, for its enrolment bundle. The initial key is
/// secret: it zeroizes on drop and has no `Debug`.
pub struct TerminalKey {
    /// The AES DUKPT initial key (X9.24-3-2017 §6.3.1).
    pub initial_key: AesKey,
    /// The initial KSN: the new initial key ID with counter 0; the terminal's first
    /// transaction uses [`emv::crypto::dukpt::next_ksn`] of it.
    pub initial_ksn: Ksn,
}

impl Hsm {
    /// An HSM holding `keys`.
    pub fn new(keys: HsmKeys) -> Result<Self, HsmError> {
        let default_bdk_id = keys
            .bdks
            .first()
            .map(|(id, _)| *id)
            .ok_or(HsmError::UnknownBdk)?;
        Ok(Self {
            bdks: keys.bdks.into_iter().collect(),
            default_bdk_id,
            zone_pin_key: keys.zone_pin_key,
            pin_verification_key: keys.pin_verification_key,
            issuer_master_keys: keys.issuer_master_keys,
            counters: Mutex::new(HashMap::new()),
            test_key_mode: false,
        })
    }

    /// An HSM with the public test keys of [`test_keys`] (BDK = the X9.24-3 supplement's, BDK
    /// ID `12345678`), in test-key mode.
    pub fn with_test_keys() -> Self {
        Self {
            bdks: HashMap::from([(test_keys::TEST_BDK_ID, test_keys::test_bdk())]),
            default_bdk_id: test_keys::TEST_BDK_ID,
            zone_pin_key: test_keys::issuer_zone_pin_key(),
            pin_verification_key: test_keys::pin_verification_key(),
            issuer_master_keys: test_issuer_master_keys(),
            counters: Mutex::new(HashMap::new()),
            test_key_mode: true,
        }
    }

    /// Opens the HSM key file in `data_dir` (`hsm-keys`), or creates it with fresh random BDK,
    /// zone PIN key and PIN verification key (file mode 0600). The issuer master keys are the
    /// [`test_keys`] ones, since the virtual cards are personalised with them. The key file is
    /// clear: this is a simulator, not key storage.
    pub fn load_or_create(data_dir: &Path) -> Result<Self, HsmError> {
        let stored = storage::load_or_create(data_dir)?;
        Self::new(HsmKeys {
            bdks: vec![(stored.bdk_id, stored.bdk)],
            zone_pin_key: stored.zone_pin_key,
            pin_verification_key: stored.pin_verification_key,
            issuer_master_keys: test_issuer_master_keys(),
        })
    }

    /// Whether this HSM runs on the public test keys.
    pub fn test_key_mode(&self) -> bool {
        self.test_key_mode
    }

    /// Creates a terminal's initial key under the default BDK with a fresh random derivation
    /// ID. This is the explicit export of a clear key, for the enrolment bundle only.
    pub fn create_terminal_key(&self) -> Result<TerminalKey, HsmError> {
        let mut derivation_id = [0u8; 4];
        getrandom::fill(&mut derivation_id).map_err(|_| HsmError::RandomUnavailable)?;
        let mut id = [0u8; 8];
        id[..4].copy_from_slice(&self.default_bdk_id);
        id[4..].copy_from_slice(&derivation_id);
        self.export_initial_key(InitialKeyId(id))
    }

    /// Exports the initial key of a given initial key ID (whose BDK ID must be known). Like
    /// [`Hsm::create_terminal_key`], an explicit export for enrolment.
    pub fn export_initial_key(
        &self,
        initial_key_id: InitialKeyId,
    ) -> Result<TerminalKey, HsmError> {
        let bdk = self.bdk(initial_key_id)?;
        Ok(TerminalKey {
            initial_key: derive_initial_key(bdk, initial_key_id)?,
            initial_ksn: Ksn::new(initial_key_id, 0),
        })
    }

    /// Translates a format 4 PIN block from the terminal's DUKPT PIN key (`ksn`) to the
    /// issuer's zone PIN key (ISO 9564-1 §9.4.2), with fresh fill. Rejects a replayed KSN.
    pub fn translate_pin_format4_dukpt(
        &self,
        ksn: Ksn,
        pin_block: &[u8; 16],
        pan_digits: &str,
    ) -> Result<[u8; 16], HsmError> {
        self.translate_pin_format4_dukpt_with_fill(ksn, pin_block, pan_digits, &mut OsFill)
    }

    /// [`Hsm::translate_pin_format4_dukpt`] with a caller's fill source (tests use
    /// [`emv::crypto::pin_block::danger::FixedFill`]).
    pub fn translate_pin_format4_dukpt_with_fill(
        &self,
        ksn: Ksn,
        pin_block: &[u8; 16],
        pan_digits: &str,
        fill: &mut impl FillSource,
    ) -> Result<[u8; 16], HsmError> {
        let pin = self.decrypt_dukpt_pin(ksn, pin_block, pan_digits)?;
        Ok(pin_block::encrypt_format4(
            &self.zone_pin_key,
            &pin,
            pan_digits,
            fill,
        )?)
    }

    /// Verifies an online PIN: deciphers the DUKPT format 4 PIN block and compares its PIN
    /// verification value with the stored one in constant time. `Ok(false)` for a wrong PIN.
    /// Rejects a replayed KSN.
    pub fn verify_pin(
        &self,
        ksn: Ksn,
        pin_block: &[u8; 16],
        pan_digits: &str,
        pin_verification_value: &[u8],
    ) -> Result<bool, HsmError> {
        let pin = self.decrypt_dukpt_pin(ksn, pin_block, pan_digits)?;
        let expected = self.pin_verification_value(pan_digits, &pin)?;
        Ok(constant_time_eq(&expected, pin_verification_value))
    }

    /// Verifies a format 4 PIN block under the issuer's zone PIN key (after translation)
    /// against a PIN verification value.
    pub fn verify_zone_pin(
        &self,
        zone_pin_block: &[u8; 16],
        pan_digits: &str,
        pin_verification_value: &[u8],
    ) -> Result<bool, HsmError> {
        let pin = pin_block::decrypt_format4(&self.zone_pin_key, zone_pin_block, pan_digits)?;
        let expected = self.pin_verification_value(pan_digits, &pin)?;
        Ok(constant_time_eq(&expected, pin_verification_value))
    }

    /// The PIN verification value of a PIN for a PAN (see the module documentation), for
    /// account seeding. The PIN is not kept.
    pub fn pin_verification_value(&self, pan_digits: &str, pin: &Pin) -> Result<[u8; 8], HsmError> {
        let mut data = Zeroizing::new([0xFFu8; PVV_INPUT_LEN]);
        data[..PVV_DOMAIN.len()].copy_from_slice(PVV_DOMAIN);
        let pan_at = PVV_DOMAIN.len();
        data[pan_at..pan_at + 16].copy_from_slice(&format4_pan_field(pan_digits)?);
        let len_at = pan_at + 16;
        data[len_at] = u8::try_from(pin.len()).map_err(|_| PinBlockError::InvalidPinLength)?;
        data[len_at + 1..len_at + 1 + pin.len()].copy_from_slice(pin.expose_secret());
        let mac = aes_cmac(&self.pin_verification_key, data.as_slice());
        let mut pvv = [0u8; 8];
        pvv.copy_from_slice(&mac[..8]);
        Ok(pvv)
    }

    /// Verifies an ARQC (EMV Book 2 §8.1) with the ICC master key derived from the IMK-AC of
    /// `rid` (option per [`CryptogramVersion::master_key_derivation`]).
    #[allow(clippy::too_many_arguments)] // Mirrors the card's key reference; no natural grouping.
    pub fn verify_arqc(
        &self,
        rid: &[u8],
        version: CryptogramVersion,
        pan_digits: &str,
        pan_sequence_number: u8,
        input: &CryptogramInput<'_>,
        arqc: [u8; 8],
    ) -> Result<(), HsmError> {
        let imk = self.issuer_master_key(rid)?;
        match cryptogram::verify_application_cryptogram(
            version,
            imk,
            pan_digits,
            pan_sequence_number,
            input,
            arqc,
        ) {
            Err(CryptoError::CryptogramMismatch) => Err(HsmError::CryptogramMismatch),
            other => Ok(other?),
        }
    }

    /// Computes an ARPC (EMV Book 2 §8.2) for an ARQC.
    #[allow(clippy::too_many_arguments)] // Mirrors the card's key reference; no natural grouping.
    pub fn arpc(
        &self,
        rid: &[u8],
        version: CryptogramVersion,
        pan_digits: &str,
        pan_sequence_number: u8,
        atc: [u8; 2],
        arqc: [u8; 8],
        method: ArpcMethod,
    ) -> Result<Vec<u8>, HsmError> {
        let mk = self.icc_master_key(rid, version, pan_digits, pan_sequence_number)?;
        Ok(cryptogram::arpc(version, &mk, atc, arqc, method)?)
    }

    /// The issuer authentication data (tag `91`) for an authorisation response: for Visa CVN 18
    /// ARPC method 2, ARPC (4) ‖ CSU (4), with CSU byte 2 bit 8 ("issuer approves", VIS 1.6 as
    /// publicly described) set when the ARC is `"00"` (`3030`); otherwise ARPC method 1,
    /// ARPC (8) ‖ ARC (2).
    #[allow(clippy::too_many_arguments)] // Mirrors the card's key reference; no natural grouping.
    pub fn issuer_authentication_data(
        &self,
        rid: &[u8],
        version: CryptogramVersion,
        pan_digits: &str,
        pan_sequence_number: u8,
        atc: [u8; 2],
        arqc: [u8; 8],
        response_code: [u8; 2],
    ) -> Result<Vec<u8>, HsmError> {
        let method = match version {
            CryptogramVersion::VisaCvn18 => {
                let approved = response_code == *b"00";
                let card_status_update = [0x00, if approved { 0x80 } else { 0x00 }, 0x00, 0x00];
                ArpcMethod::Method2 { card_status_update }
            }
            _ => ArpcMethod::Method1 { response_code },
        };
        let mut data = self.arpc(
            rid,
            version,
            pan_digits,
            pan_sequence_number,
            atc,
            arqc,
            method,
        )?;
        match method {
            ArpcMethod::Method1 { response_code } => data.extend_from_slice(&response_code),
            ArpcMethod::Method2 { card_status_update } => {
                data.extend_from_slice(&card_status_update);
            }
        }
        Ok(data)
    }

    /// Verifies the terminal's request MAC: AES-CMAC with the DUKPT "MAC generation" key
    /// (usage `2000`) of `ksn`, 8 to 16 bytes. Rejects a KSN not above the last request MAC's of
    /// its key (or below anything seen for it). The
    /// counter is recorded only once the MAC verified, so a forged message cannot push a
    /// terminal's counter forward and lock it out.
    pub fn mac_verify(&self, ksn: Ksn, data: &[u8], mac: &[u8]) -> Result<(), HsmError> {
        if !ksn.is_valid() {
            return Err(HsmError::Dukpt(DukptError::InvalidKsn));
        }
        let stale = {
            let table = self.counters.lock().unwrap_or_else(PoisonError::into_inner);
            table
                .get(&ksn.initial_key_id())
                .is_some_and(|seen| seen.is_stale(ksn.counter(), Operation::Mac))
        };
        if stale {
            return Err(HsmError::ReplayedKsn);
        }
        let key = self.working_key(ksn, KeyUsage::MacGeneration)?;
        if !verify_aes_cmac(&key, data, mac) {
            return Err(HsmError::MacMismatch);
        }
        self.check_counter(ksn, Operation::Mac)
    }

    /// The host's response MAC: the leftmost 8 bytes of AES-CMAC with the DUKPT "MAC
    /// verification" key (usage `2001`) of `ksn`, which the terminal derives to check it.
    pub fn mac_generate(&self, ksn: Ksn, data: &[u8]) -> Result<[u8; 8], HsmError> {
        let key = self.working_key(ksn, KeyUsage::MacVerification)?;
        Ok(emv::iso8583::mac::compute(&key, data))
    }

    /// The 8-byte MAC of `data` for `ksn` with the request key (`request = true`, usage
    /// `2000`, the key the terminal signs with; the caller compares in constant time) or the
    /// response key (usage `2001`). Does not check replays; prefer [`Hsm::mac_verify`].
    pub fn mac(&self, ksn: Ksn, data: &[u8], request: bool) -> Result<[u8; 8], HsmError> {
        let usage = if request {
            KeyUsage::MacGeneration
        } else {
            KeyUsage::MacVerification
        };
        let key = self.working_key(ksn, usage)?;
        Ok(emv::iso8583::mac::compute(&key, data))
    }

    fn decrypt_dukpt_pin(
        &self,
        ksn: Ksn,
        pin_block: &[u8; 16],
        pan_digits: &str,
    ) -> Result<Pin, HsmError> {
        self.check_counter(ksn, Operation::Pin)?;
        let key = self.working_key(ksn, KeyUsage::PinEncryption)?;
        Ok(pin_block::decrypt_format4(&key, pin_block, pan_digits)?)
    }

    fn working_key(&self, ksn: Ksn, usage: KeyUsage) -> Result<AesKey, HsmError> {
        let bdk = self.bdk(ksn.initial_key_id())?;
        let initial_key = derive_initial_key(bdk, ksn.initial_key_id())?;
        Ok(dukpt::derive_working_key(
            &initial_key,
            ksn,
            usage,
            KeyType::Aes128,
        )?)
    }

    fn bdk(&self, initial_key_id: InitialKeyId) -> Result<&AesKey, HsmError> {
        self.bdks
            .get(&initial_key_id.bdk_id())
            .ok_or(HsmError::UnknownBdk)
    }

    fn issuer_master_key(&self, rid: &[u8]) -> Result<&TdesKey16, HsmError> {
        self.issuer_master_keys
            .iter()
            .find(|(r, _)| r.as_slice() == rid)
            .map(|(_, k)| k)
            .ok_or(HsmError::UnknownIssuer)
    }

    fn icc_master_key(
        &self,
        rid: &[u8],
        version: CryptogramVersion,
        pan_digits: &str,
        pan_sequence_number: u8,
    ) -> Result<TdesKey16, HsmError> {
        Ok(cryptogram::derive_icc_master_key(
            self.issuer_master_key(rid)?,
            pan_digits,
            pan_sequence_number,
            version.master_key_derivation(),
        )?)
    }

    /// Replay rule of the module documentation; records the counter when it passes.
    fn check_counter(&self, ksn: Ksn, operation: Operation) -> Result<(), HsmError> {
        if !ksn.is_valid() {
            return Err(HsmError::Dukpt(DukptError::InvalidKsn));
        }
        let counter = ksn.counter();
        let mut table = self.counters.lock().unwrap_or_else(PoisonError::into_inner);
        let seen = table.entry(ksn.initial_key_id()).or_default();
        if seen.is_stale(counter, operation) {
            return Err(HsmError::ReplayedKsn);
        }
        seen.highest = counter;
        match operation {
            Operation::Pin => seen.highest_pin = Some(counter),
            Operation::Mac => seen.highest_mac = Some(counter),
        }
        Ok(())
    }
}

/// Errors of the HSM. None carries key, PIN or PAN material.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HsmError {
    /// No BDK with the KSN's BDK ID.
    #[error("unknown BDK ID")]
    UnknownBdk,
    /// No issuer master key for this RID.
    #[error("unknown issuer")]
    UnknownIssuer,
    /// A KSN counter not above the last one seen for its initial key ID (security doc C4).
    #[error("replayed or stale KSN")]
    ReplayedKsn,
    /// The ARQC does not verify.
    #[error("ARQC does not verify")]
    CryptogramMismatch,
    /// The MAC does not verify.
    #[error("MAC does not verify")]
    MacMismatch,
    /// DUKPT derivation failed.
    #[error("DUKPT: {0}")]
    Dukpt(#[from] DukptError),
    /// PIN block processing failed.
    #[error("PIN block: {0}")]
    PinBlock(#[from] PinBlockError),
    /// EMV cryptography failed.
    #[error("EMV cryptography: {0}")]
    Crypto(#[from] CryptoError),
    /// The random source failed.
    #[error("random source unavailable")]
    RandomUnavailable,
    /// Reading or writing the key file failed.
    #[error("HSM key file: {0}")]
    Storage(#[from] std::io::Error),
    /// The key file is malformed.
    #[error("HSM key file is malformed")]
    MalformedKeyFile,
}

#[derive(Default)]
struct SeenCounters {
    highest: u32,
    highest_pin: Option<u32>,
    highest_mac: Option<u32>,
}

/// The operation a KSN is used for.
#[derive(Clone, Copy)]
enum Operation {
    Pin,
    Mac,
}

impl SeenCounters {
    /// A counter below anything seen, or not above the last one of the same operation.
    fn is_stale(&self, counter: u32, operation: Operation) -> bool {
        let last = match operation {
            Operation::Pin => self.highest_pin,
            Operation::Mac => self.highest_mac,
        };
        counter < self.highest || last.is_some_and(|last| counter <= last)
    }
}

/// Compares two byte strings in time that depends only on their lengths.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn test_issuer_master_keys() -> Vec<([u8; 5], TdesKey16)> {
    vec![
        ([0xA0, 0x00, 0x00, 0x00, 0x03], test_keys::visa_imk_ac()),
        (
            [0xA0, 0x00, 0x00, 0x00, 0x04],
            test_keys::mastercard_imk_ac(),
        ),
        ([0xA0, 0x00, 0x00, 0x03, 0x33], test_keys::unionpay_imk_ac()),
    ]
}

/// Domain separation tag of the PIN verification value.
const PVV_DOMAIN: &[u8] = b"softpos-pvv-1";
/// Domain ‖ PAN field (16) ‖ PIN length (1) ‖ 12 digit slots.
const PVV_INPUT_LEN: usize = 13 + 16 + 1 + 12;
