//! AES DUKPT, ANSI X9.24-3-2017: derived unique key per transaction, for both ends.
//!
//! - Host: [`derive_initial_key`] (BDK + initial key ID → initial key), then
//!   [`derive_working_key`] for a KSN. `hsm-sim`'s HSM keeps the BDKs.
//! - Terminal (PIN pad): holds only its initial key and the current [`Ksn`]; for each
//!   transaction it calls [`next_ksn`] (persist the result before use, security doc C2), then
//!   [`derive_working_key`] with [`KeyUsage::PinEncryption`].
//!
//! KSN (12 bytes) = initial key ID (BDK ID 4 ‖ derivation ID 4) ‖ transaction counter (4).
//! A valid counter has 1 to 16 one-bits (X9.24-3 §6.1); the last one is `0xFFFF0000`.
//!
//! Derivation (X9.24-3 §6.3): each key is AES-ECB(derivation key, derivation data), one block per
//! 128 bits of output, with derivation data = version `01` ‖ block counter ‖ key usage (2) ‖
//! algorithm (2) ‖ length in bits (2) ‖ either the whole initial key ID (initial key) or the
//! derivation ID ‖ counter (every other key). From the initial key, the transaction's
//! derivation key is reached by setting the counter's one-bits from the most significant down,
//! deriving a key-derivation key at each step; the working key is derived from that key.

use zeroize::Zeroize;

use super::block;
use super::key::AesKey;

/// An initial key ID (X9.24-3 §6.1): BDK ID (4 bytes) ‖ derivation ID (4 bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct InitialKeyId(pub [u8; 8]);

impl InitialKeyId {
    /// The BDK ID, the leftmost 4 bytes, which names the base derivation key.
    pub fn bdk_id(&self) -> [u8; 4] {
        let [a, b, c, d, ..] = self.0;
        [a, b, c, d]
    }

    /// The derivation ID, the rightmost 4 bytes, which names the device under that BDK.
    pub fn derivation_id(&self) -> [u8; 4] {
        let [.., a, b, c, d] = self.0;
        [a, b, c, d]
    }
}

/// A 12-byte AES DUKPT key serial number: initial key ID ‖ 32-bit transaction counter.
/// Not secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Ksn([u8; 12]);

impl Ksn {
    /// Builds a KSN from its parts.
    pub fn new(initial_key_id: InitialKeyId, counter: u32) -> Self {
        let mut b = [0u8; 12];
        b[..8].copy_from_slice(&initial_key_id.0);
        b[8..].copy_from_slice(&counter.to_be_bytes());
        Self(b)
    }

    /// Wraps KSN bytes as they travel (e.g. in ISO 8583 DE 53).
    pub fn from_bytes(bytes: [u8; 12]) -> Self {
        Self(bytes)
    }

    /// The KSN bytes.
    pub fn to_bytes(self) -> [u8; 12] {
        self.0
    }

    /// The initial key ID (leftmost 8 bytes).
    pub fn initial_key_id(&self) -> InitialKeyId {
        let mut id = [0u8; 8];
        id.copy_from_slice(&self.0[..8]);
        InitialKeyId(id)
    }

    /// The transaction counter (rightmost 4 bytes, big-endian).
    pub fn counter(&self) -> u32 {
        let [.., a, b, c, d] = self.0;
        u32::from_be_bytes([a, b, c, d])
    }

    /// Whether the counter is one a terminal may use: non-zero, at most 16 one-bits.
    pub fn is_valid(&self) -> bool {
        counter_is_valid(self.counter())
    }
}

/// The first KSN of a freshly loaded initial key (counter 1).
pub fn first_ksn(initial_key_id: InitialKeyId) -> Ksn {
    Ksn::new(initial_key_id, 1)
}

/// The next KSN after `current` (X9.24-3 §6.1): counter + 1, skipping any counter with more
/// than 16 one-bits (from `0x0001FFFE` the next is `0x00020000`). After `0xFFFF0000` the key is
/// exhausted: [`DukptError::KeyExhausted`], and the device must be re-keyed.
pub fn next_ksn(current: Ksn) -> Result<Ksn, DukptError> {
    let mut counter = current
        .counter()
        .checked_add(1)
        .ok_or(DukptError::KeyExhausted)?;
    while counter.count_ones() > MAX_COUNTER_ONE_BITS {
        // Every counter strictly between `counter` and `counter + lowest set bit` has the same
        // high bits plus more low ones, so it is invalid too: skip them all at once.
        counter = counter
            .checked_add(lowest_set_bit(counter))
            .ok_or(DukptError::KeyExhausted)?;
    }
    Ok(Ksn::new(current.initial_key_id(), counter))
}

/// Key usage indicators of the derivation data (X9.24-3 §6.3.2, table 2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyUsage {
    /// `0002` key encryption key.
    KeyEncryptionKey,
    /// `1000` PIN encryption.
    PinEncryption,
    /// `2000` message authentication, generation (the terminal's request MAC).
    MacGeneration,
    /// `2001` message authentication, verification (the terminal checks the host's MAC).
    MacVerification,
    /// `2002` message authentication, both ways.
    MacBothWays,
    /// `3000` data encryption, encrypt.
    DataEncryptionEncrypt,
    /// `3001` data encryption, decrypt.
    DataEncryptionDecrypt,
    /// `3002` data encryption, both ways.
    DataEncryptionBothWays,
    /// `8000` key derivation (intermediate derivation keys).
    KeyDerivation,
    /// `8001` key derivation, initial key.
    KeyDerivationInitialKey,
}

impl KeyUsage {
    /// The 2-byte indicator.
    pub fn code(self) -> u16 {
        match self {
            Self::KeyEncryptionKey => 0x0002,
            Self::PinEncryption => 0x1000,
            Self::MacGeneration => 0x2000,
            Self::MacVerification => 0x2001,
            Self::MacBothWays => 0x2002,
            Self::DataEncryptionEncrypt => 0x3000,
            Self::DataEncryptionDecrypt => 0x3001,
            Self::DataEncryptionBothWays => 0x3002,
            Self::KeyDerivation => 0x8000,
            Self::KeyDerivationInitialKey => 0x8001,
        }
    }
}

/// AES key types a DUKPT key can have (X9.24-3 §6.3.2, algorithm indicators `0002`-`0004`).
/// The TDEA and HMAC working key types of the standard are not supported here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyType {
    /// AES-128, algorithm `0002`.
    Aes128,
    /// AES-192, algorithm `0003`.
    Aes192,
    /// AES-256, algorithm `0004`.
    Aes256,
}

impl KeyType {
    /// The key type of a key of `len` bytes.
    pub fn for_length(len: usize) -> Option<Self> {
        match len {
            16 => Some(Self::Aes128),
            24 => Some(Self::Aes192),
            32 => Some(Self::Aes256),
            _ => None,
        }
    }

    /// Key length in bytes.
    pub fn byte_len(self) -> usize {
        match self {
            Self::Aes128 => 16,
            Self::Aes192 => 24,
            Self::Aes256 => 32,
        }
    }

    fn algorithm(self) -> u16 {
        match self {
            Self::Aes128 => 0x0002,
            Self::Aes192 => 0x0003,
            Self::Aes256 => 0x0004,
        }
    }
}

/// Derives a device's initial key from the base derivation key (X9.24-3 §6.3.1, usage `8001`).
/// The initial key has the BDK's type.
pub fn derive_initial_key(
    bdk: &AesKey,
    initial_key_id: InitialKeyId,
) -> Result<AesKey, DukptError> {
    let key_type = KeyType::for_length(bdk.len()).ok_or(DukptError::InvalidKey)?;
    derive_key(
        bdk,
        KeyUsage::KeyDerivationInitialKey,
        key_type,
        initial_key_id.0,
    )
}

/// Derives the transaction's derivation key from the initial key (X9.24-3 §6.3.3, usage
/// `8000` at each one-bit of the counter, most significant first). This is the key the
/// standard's test vectors list per KSN; working keys derive from it.
pub fn derive_transaction_key(initial_key: &AesKey, ksn: Ksn) -> Result<AesKey, DukptError> {
    if !ksn.is_valid() {
        return Err(DukptError::InvalidKsn);
    }
    let key_type = KeyType::for_length(initial_key.len()).ok_or(DukptError::InvalidKey)?;
    let derivation_id = ksn.initial_key_id().derivation_id();
    let counter = ksn.counter();
    let mut key = initial_key.clone();
    let mut working_counter = 0u32;
    for bit in (0..32).rev() {
        let mask = 1u32 << bit;
        if counter & mask == 0 {
            continue;
        }
        working_counter |= mask;
        key = derive_key(
            &key,
            KeyUsage::KeyDerivation,
            key_type,
            derivation_data_tail(derivation_id, working_counter),
        )?;
    }
    Ok(key)
}

/// Derives a working key for a KSN from the initial key (X9.24-3 §6.3.3 and §6.3.4). Host and
/// terminal use the same call. The working key may not be stronger than the initial key.
pub fn derive_working_key(
    initial_key: &AesKey,
    ksn: Ksn,
    usage: KeyUsage,
    key_type: KeyType,
) -> Result<AesKey, DukptError> {
    if key_type.byte_len() > initial_key.len() {
        return Err(DukptError::WorkingKeyTooStrong);
    }
    if matches!(
        usage,
        KeyUsage::KeyDerivation | KeyUsage::KeyDerivationInitialKey
    ) {
        return Err(DukptError::InvalidUsage);
    }
    let transaction_key = derive_transaction_key(initial_key, ksn)?;
    derive_key(
        &transaction_key,
        usage,
        key_type,
        derivation_data_tail(ksn.initial_key_id().derivation_id(), ksn.counter()),
    )
}

/// Host side in one call: BDK + KSN → working key.
pub fn derive_working_key_from_bdk(
    bdk: &AesKey,
    ksn: Ksn,
    usage: KeyUsage,
    key_type: KeyType,
) -> Result<AesKey, DukptError> {
    let initial_key = derive_initial_key(bdk, ksn.initial_key_id())?;
    derive_working_key(&initial_key, ksn, usage, key_type)
}

/// Errors of AES and TDES DUKPT.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DukptError {
    /// The transaction counter cannot advance: the device needs a new initial key.
    #[error("DUKPT key exhausted: the device must be re-keyed")]
    KeyExhausted,
    /// A KSN whose counter is zero or has too many one-bits.
    #[error("invalid KSN counter")]
    InvalidKsn,
    /// A key of a length this derivation does not accept.
    #[error("invalid DUKPT key length")]
    InvalidKey,
    /// A working key type stronger than the derivation key.
    #[error("working key stronger than its derivation key")]
    WorkingKeyTooStrong,
    /// A key usage that is not a working key usage.
    #[error("not a working key usage")]
    InvalidUsage,
}

fn derive_key(
    derivation_key: &AesKey,
    usage: KeyUsage,
    key_type: KeyType,
    tail: [u8; 8],
) -> Result<AesKey, DukptError> {
    let len = key_type.byte_len();
    let bits = u16::try_from(len * 8).map_err(|_| DukptError::InvalidKey)?;
    let mut out = [0u8; 32];
    let blocks = len.div_ceil(16);
    for (i, chunk) in out.chunks_exact_mut(16).take(blocks).enumerate() {
        let counter = u8::try_from(i + 1).map_err(|_| DukptError::InvalidKey)?;
        let mut data = [0u8; 16];
        data[0] = DERIVATION_DATA_VERSION;
        data[1] = counter;
        data[2..4].copy_from_slice(&usage.code().to_be_bytes());
        data[4..6].copy_from_slice(&key_type.algorithm().to_be_bytes());
        data[6..8].copy_from_slice(&bits.to_be_bytes());
        data[8..].copy_from_slice(&tail);
        let mut derived = block::aes_encrypt(derivation_key.expose_secret(), data)
            .ok_or(DukptError::InvalidKey)?;
        chunk.copy_from_slice(&derived);
        derived.zeroize();
    }
    let key = AesKey::from_slice(&out[..len]).ok_or(DukptError::InvalidKey);
    out.zeroize();
    key
}

fn derivation_data_tail(derivation_id: [u8; 4], counter: u32) -> [u8; 8] {
    let mut tail = [0u8; 8];
    tail[..4].copy_from_slice(&derivation_id);
    tail[4..].copy_from_slice(&counter.to_be_bytes());
    tail
}

fn counter_is_valid(counter: u32) -> bool {
    counter != 0 && counter.count_ones() <= MAX_COUNTER_ONE_BITS
}

fn lowest_set_bit(value: u32) -> u32 {
    value & value.wrapping_neg()
}

/// At most 16 one-bits in a transaction counter (X9.24-3 §6.1).
const MAX_COUNTER_ONE_BITS: u32 = 16;
/// Derivation data version (X9.24-3 §6.3.2).
const DERIVATION_DATA_VERSION: u8 = 0x01;
