//! EMV application cryptograms: ICC master key derivation, session keys, ARQC/TC/AAC and ARPC.
//!
//! The virtual cards in `hsm-sim` call [`derive_icc_master_key`] and [`application_cryptogram`];
//! the host calls [`verify_application_cryptogram`] and [`arpc`].
//!
//! What each cryptogram version (CVN) fixes:
//!
//! | CVN | master key | AC key | AC data | padding | usual ARPC |
//! |---|---|---|---|---|---|
//! | Visa 10 (`0A`) | option A | the ICC master key (UDK) | minimum set ‖ CVR (IAD bytes 4-7) | ISO 9797-1 method 1 | method 1, UDK |
//! | Visa 18 (`12`) | option B | common session key | minimum set ‖ whole IAD | method 2 | method 2, session key |
//! | Mastercard 16 (`10`) | option A | M/Chip SKD (ATC, UN) | minimum set ‖ CVR (IAD bytes 3-8) | method 2 | method 1, ICC master key |
//! | Mastercard 17 (`11`) | option A | M/Chip SKD (ATC, UN) | as 16 ‖ counters (IAD bytes 11-18) | method 2 | method 1, ICC master key |
//! | EMV CSK | option A | common session key | minimum set | method 2 | method 1 or 2, session key |
//!
//! Sources: EMV 4.4 Book 2 Annex A1.2-A1.4 and §8.1-8.2; the Visa and Mastercard data layouts as
//! jPOS `CVN10DataBuilder`, `CVN18DataBuilder`, `CVNMCDataBuilder` and `IssuerApplicationData`
//! read them, and pyemv `cvn.py`.

use sha1::{Digest, Sha1};
use subtle::ConstantTimeEq;
use zeroize::Zeroize;

use super::block;
use super::key::TdesKey16;
use super::mac::{Padding, retail_mac};

/// The cryptogram version (CVN), which fixes the key derivation, the data and the padding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CryptogramVersion {
    /// Visa CVN 10 (`0A`): UDK directly, Book 2 minimum data ‖ CVR, ISO 9797-1 padding 1.
    VisaCvn10,
    /// Visa CVN 18 (`12`): EMV common session key, minimum data ‖ full IAD, padding 2.
    VisaCvn18,
    /// Mastercard CVN 16 (`10`): M/Chip session key derivation.
    MastercardCvn16,
    /// Mastercard CVN 17 (`11`): M/Chip session key derivation, counters in the data.
    MastercardCvn17,
    /// The generic EMV common session key (EMV Book 2 A1.3.1), padding method 2; UnionPay
    /// qUICS cards use this.
    EmvCsk,
}

impl CryptogramVersion {
    /// The master key derivation option this version conventionally uses: option B for Visa
    /// CVN 18 (pyemv `VisaCVN18`), option A for the others (jPOS `MChipCryptogram`, pyemv
    /// `VisaCVN10`). Option B equals option A for PANs of 16 digits or fewer.
    pub fn master_key_derivation(self) -> DerivationOption {
        match self {
            Self::VisaCvn18 => DerivationOption::B,
            Self::VisaCvn10 | Self::MastercardCvn16 | Self::MastercardCvn17 | Self::EmvCsk => {
                DerivationOption::A
            }
        }
    }

    /// The ISO/IEC 9797-1 padding method of the application cryptogram.
    pub fn padding(self) -> Padding {
        match self {
            Self::VisaCvn10 => Padding::Method1,
            _ => Padding::Method2,
        }
    }

    /// Reads the CVN from issuer application data (tag `9F10`): Visa IAD formats 0/1/3 carry it
    /// in byte 3 (`0A`, `12`); Mastercard M/Chip IADs (18, 20, 26 or 28 bytes) in byte 2
    /// (`10`, `11`). Returns `None` for anything else.
    pub fn from_issuer_application_data(iad: &[u8]) -> Option<Self> {
        if matches!(iad.len(), 18 | 20 | 26 | 28) {
            match iad.get(1) {
                Some(0x10) => return Some(Self::MastercardCvn16),
                Some(0x11) => return Some(Self::MastercardCvn17),
                _ => {}
            }
        }
        match iad.get(2) {
            Some(0x0A) => Some(Self::VisaCvn10),
            Some(0x12) => Some(Self::VisaCvn18),
            _ => None,
        }
    }
}

/// Master key derivation options of EMV Book 2 Annex A1.4.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DerivationOption {
    /// Option A: PAN ‖ PSN, rightmost 16 digits (PANs of up to 16 digits).
    A,
    /// Option B: SHA-1 based, for PANs longer than 16 digits.
    B,
}

/// The Book 2 minimum data set for an application cryptogram, in its fixed order, plus the
/// issuer application data (IAD, tag `9F10`) from which CVR bytes and counters are taken.
#[derive(Debug, Clone, Copy)]
pub struct CryptogramInput<'a> {
    /// `9F02` amount, authorised.
    pub amount: [u8; 6],
    /// `9F03` amount, other.
    pub amount_other: [u8; 6],
    /// `9F1A` terminal country code.
    pub terminal_country: [u8; 2],
    /// `95` terminal verification results.
    pub tvr: [u8; 5],
    /// `5F2A` transaction currency code.
    pub currency: [u8; 2],
    /// `9A` transaction date (YYMMDD).
    pub date: [u8; 3],
    /// `9C` transaction type.
    pub transaction_type: u8,
    /// `9F37` unpredictable number.
    pub unpredictable_number: [u8; 4],
    /// `82` application interchange profile.
    pub aip: [u8; 2],
    /// `9F36` application transaction counter.
    pub atc: [u8; 2],
    /// `9F10` issuer application data, as the card returns it.
    pub issuer_application_data: &'a [u8],
}

/// Derives an ICC master key from the issuer master key (EMV Book 2 Annex A1.4).
///
/// `pan_digits` is the PAN (tag `5A`) as 12-19 decimal digits, without `F` padding;
/// `pan_sequence_number` is the value byte of tag `5F34` (n2, BCD: `0x01` is PSN 01). The result
/// has odd parity.
pub fn derive_icc_master_key(
    issuer_master_key: &TdesKey16,
    pan_digits: &str,
    pan_sequence_number: u8,
    option: DerivationOption,
) -> Result<TdesKey16, CryptoError> {
    let pan = pan_digits.as_bytes();
    if !(12..=19).contains(&pan.len()) || !pan.iter().all(u8::is_ascii_digit) {
        return Err(CryptoError::InvalidPan);
    }
    let psn = [pan_sequence_number >> 4, pan_sequence_number & 0x0F];
    if psn.iter().any(|&d| d > 9) {
        return Err(CryptoError::InvalidPanSequenceNumber);
    }
    // PAN ‖ PSN as digit values (at most 21 digits).
    let mut digits = [0u8; 21];
    let n = pan.len() + 2;
    for (d, &c) in digits.iter_mut().zip(pan) {
        *d = c - b'0';
    }
    digits[pan.len()..n].copy_from_slice(&psn);
    let digits = &digits[..n];

    let y = match option {
        DerivationOption::B if pan.len() > 16 => option_b_digits(digits),
        // A1.4.2: option B with a PAN of 16 digits or fewer is option A.
        DerivationOption::A | DerivationOption::B => rightmost_16_digits(digits),
    };
    let left = block::tdes_encrypt(issuer_master_key.expose_secret(), y);
    let right = block::tdes_encrypt(issuer_master_key.expose_secret(), block::xor8(y, [0xFF; 8]));
    Ok(key_from_halves(left, right).with_odd_parity())
}

/// The EMV common session key (EMV Book 2 Annex A1.3.1) with the diversification value
/// R = ATC ‖ `00 00 00 00 00 00`: SK = 3DES(MK)[ATC ‖ F0 ‖ 00…] ‖ 3DES(MK)[ATC ‖ 0F ‖ 00…].
pub fn common_session_key(icc_master_key: &TdesKey16, atc: [u8; 2]) -> TdesKey16 {
    emv_session_key(icc_master_key, [atc[0], atc[1], 0, 0, 0, 0, 0, 0])
}

/// The EMV common session key derivation (EMV Book 2 Annex A1.3.1) for any 8-byte
/// diversification value R: SK = 3DES(MK)[R with byte 3 = F0] ‖ 3DES(MK)[R with byte 3 = 0F],
/// with odd parity.
pub fn emv_session_key(icc_master_key: &TdesKey16, r: [u8; 8]) -> TdesKey16 {
    let mut f1 = r;
    f1[2] = 0xF0;
    let mut f2 = r;
    f2[2] = 0x0F;
    let left = block::tdes_encrypt(icc_master_key.expose_secret(), f1);
    let right = block::tdes_encrypt(icc_master_key.expose_secret(), f2);
    key_from_halves(left, right).with_odd_parity()
}

/// The Mastercard M/Chip session key derivation (SKD) for CVN 16/17:
/// SK = 3DES(MK)[ATC ‖ F0 00 ‖ UN] ‖ 3DES(MK)[ATC ‖ 0F 00 ‖ UN]; that is the common session key
/// with R = ATC ‖ 00 00 ‖ UN.
pub fn mastercard_session_key(
    icc_master_key: &TdesKey16,
    atc: [u8; 2],
    unpredictable_number: [u8; 4],
) -> TdesKey16 {
    let [u0, u1, u2, u3] = unpredictable_number;
    emv_session_key(icc_master_key, [atc[0], atc[1], 0, 0, u0, u1, u2, u3])
}

/// The application cryptogram key of `version`: the ICC master key itself for Visa CVN 10,
/// the common session key for CVN 18 and EMV CSK, the M/Chip SKD key for Mastercard.
pub fn application_cryptogram_key(
    version: CryptogramVersion,
    icc_master_key: &TdesKey16,
    atc: [u8; 2],
    unpredictable_number: [u8; 4],
) -> TdesKey16 {
    match version {
        CryptogramVersion::VisaCvn10 => icc_master_key.clone(),
        CryptogramVersion::VisaCvn18 | CryptogramVersion::EmvCsk => {
            common_session_key(icc_master_key, atc)
        }
        CryptogramVersion::MastercardCvn16 | CryptogramVersion::MastercardCvn17 => {
            mastercard_session_key(icc_master_key, atc, unpredictable_number)
        }
    }
}

/// The data that the cryptogram of `version` is computed over, before padding (see the table
/// in the module documentation). Fails if the IAD is too short to hold the CVR or counters.
pub fn cryptogram_data(
    version: CryptogramVersion,
    input: &CryptogramInput<'_>,
) -> Result<Vec<u8>, CryptoError> {
    let iad = input.issuer_application_data;
    let mut data = Vec::with_capacity(MINIMUM_DATA_LEN + iad.len());
    data.extend_from_slice(&input.amount);
    data.extend_from_slice(&input.amount_other);
    data.extend_from_slice(&input.terminal_country);
    data.extend_from_slice(&input.tvr);
    data.extend_from_slice(&input.currency);
    data.extend_from_slice(&input.date);
    data.push(input.transaction_type);
    data.extend_from_slice(&input.unpredictable_number);
    data.extend_from_slice(&input.aip);
    data.extend_from_slice(&input.atc);
    let iad_range = |range: core::ops::Range<usize>| {
        iad.get(range)
            .ok_or(CryptoError::InvalidIssuerApplicationData)
    };
    match version {
        // Visa IAD formats 0/1/3: length, DKI, CVN, then the 4-byte CVR.
        CryptogramVersion::VisaCvn10 => data.extend_from_slice(iad_range(3..7)?),
        CryptogramVersion::VisaCvn18 => data.extend_from_slice(iad),
        // M/Chip IAD: DKI, CVN, 6-byte CVR, 2-byte DAC/IDN, 8-byte counters.
        CryptogramVersion::MastercardCvn16 => data.extend_from_slice(iad_range(2..8)?),
        CryptogramVersion::MastercardCvn17 => {
            data.extend_from_slice(iad_range(2..8)?);
            data.extend_from_slice(iad_range(10..18)?);
        }
        CryptogramVersion::EmvCsk => {}
    }
    Ok(data)
}

/// Computes the 8-byte application cryptogram for `version` with the ICC master key.
pub fn application_cryptogram(
    version: CryptogramVersion,
    icc_master_key: &TdesKey16,
    input: &CryptogramInput<'_>,
) -> Result<[u8; 8], CryptoError> {
    let data = cryptogram_data(version, input)?;
    let key = application_cryptogram_key(
        version,
        icc_master_key,
        input.atc,
        input.unpredictable_number,
    );
    Ok(retail_mac(&key, &data, version.padding()))
}

/// Host side: derives the ICC master key from the issuer master key (with
/// [`CryptogramVersion::master_key_derivation`]), recomputes the cryptogram and compares it in
/// constant time. `Err(CryptoError::CryptogramMismatch)` means the ARQC is wrong.
pub fn verify_application_cryptogram(
    version: CryptogramVersion,
    issuer_master_key: &TdesKey16,
    pan_digits: &str,
    pan_sequence_number: u8,
    input: &CryptogramInput<'_>,
    cryptogram: [u8; 8],
) -> Result<(), CryptoError> {
    let icc_master_key = derive_icc_master_key(
        issuer_master_key,
        pan_digits,
        pan_sequence_number,
        version.master_key_derivation(),
    )?;
    let expected = application_cryptogram(version, &icc_master_key, input)?;
    if bool::from(expected.ct_eq(&cryptogram)) {
        Ok(())
    } else {
        Err(CryptoError::CryptogramMismatch)
    }
}

/// ARPC methods of EMV Book 2 §8.2.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArpcMethod {
    /// Method 1: ARQC XOR (ARC ‖ 00…), 8-byte ARPC.
    Method1 {
        /// The 2-byte authorisation response code.
        response_code: [u8; 2],
    },
    /// Method 2: MAC over ARQC ‖ CSU ‖ proprietary data, 4-byte ARPC.
    Method2 {
        /// The 4-byte card status update.
        card_status_update: [u8; 4],
    },
}

/// Computes the ARPC for an ARQC (EMV Book 2 §8.2) with the key [`arpc_key`] gives for
/// `version`.
pub fn arpc(
    version: CryptogramVersion,
    icc_master_key: &TdesKey16,
    atc: [u8; 2],
    arqc: [u8; 8],
    method: ArpcMethod,
) -> Result<Vec<u8>, CryptoError> {
    let key = arpc_key(version, icc_master_key, atc);
    Ok(match method {
        ArpcMethod::Method1 { response_code } => arpc_method1(&key, arqc, response_code).to_vec(),
        ArpcMethod::Method2 { card_status_update } => {
            arpc_method2(&key, arqc, card_status_update, &[])?.to_vec()
        }
    })
}

/// The ARPC key of `version`: the ICC master key itself for Visa CVN 10 and Mastercard CVN
/// 16/17 (pyemv `MasterCardCVN16`: "Authorisation Response Cryptogram Session Key derivation
/// method = None"; jPOS `testGenerateARPCImpl_MCHIP_M1`), the common session key for Visa
/// CVN 18 and EMV CSK.
pub fn arpc_key(version: CryptogramVersion, icc_master_key: &TdesKey16, atc: [u8; 2]) -> TdesKey16 {
    match version {
        CryptogramVersion::VisaCvn18 | CryptogramVersion::EmvCsk => {
            common_session_key(icc_master_key, atc)
        }
        CryptogramVersion::VisaCvn10
        | CryptogramVersion::MastercardCvn16
        | CryptogramVersion::MastercardCvn17 => icc_master_key.clone(),
    }
}

/// ARPC method 1 with an explicit key (EMV Book 2 §8.2.1):
/// ARPC = 3DES(key)[ARQC ⊕ (ARC ‖ 00 00 00 00 00 00)].
pub fn arpc_method1(key: &TdesKey16, arqc: [u8; 8], response_code: [u8; 2]) -> [u8; 8] {
    let arc_block = [response_code[0], response_code[1], 0, 0, 0, 0, 0, 0];
    block::tdes_encrypt(key.expose_secret(), block::xor8(arqc, arc_block))
}

/// ARPC method 2 with an explicit key (EMV Book 2 §8.2.2): the leftmost 4 bytes of the
/// ISO/IEC 9797-1 algorithm 3 MAC (padding method 2) over ARQC ‖ CSU ‖ proprietary
/// authentication data (0-8 bytes).
pub fn arpc_method2(
    key: &TdesKey16,
    arqc: [u8; 8],
    card_status_update: [u8; 4],
    proprietary_authentication_data: &[u8],
) -> Result<[u8; 4], CryptoError> {
    if proprietary_authentication_data.len() > 8 {
        return Err(CryptoError::InvalidProprietaryAuthenticationData);
    }
    let mut data = [0u8; 20];
    data[..8].copy_from_slice(&arqc);
    data[8..12].copy_from_slice(&card_status_update);
    let end = 12 + proprietary_authentication_data.len();
    data[12..end].copy_from_slice(proprietary_authentication_data);
    let [a, b, c, d, ..] = retail_mac(key, &data[..end], Padding::Method2);
    Ok([a, b, c, d])
}

/// Errors from the cryptographic functions.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CryptoError {
    /// Placeholder while the module is written.
    #[error("not implemented yet")]
    NotImplemented,
    /// A PAN that is not 12-19 decimal digits.
    #[error("invalid PAN")]
    InvalidPan,
    /// A PAN sequence number byte that is not two BCD digits.
    #[error("invalid PAN sequence number")]
    InvalidPanSequenceNumber,
    /// Issuer application data too short for the CVR or counters the CVN needs.
    #[error("issuer application data too short for this cryptogram version")]
    InvalidIssuerApplicationData,
    /// Proprietary authentication data longer than 8 bytes (ARPC method 2).
    #[error("proprietary authentication data longer than 8 bytes")]
    InvalidProprietaryAuthenticationData,
    /// The cryptogram does not verify.
    #[error("application cryptogram does not verify")]
    CryptogramMismatch,
}

/// Rightmost 16 digits of `digits`, left-padded with zeros, as 8 BCD bytes (A1.4.1).
fn rightmost_16_digits(digits: &[u8]) -> [u8; 8] {
    let mut padded = [0u8; 16];
    let take = digits.len().min(16);
    let from = digits.len() - take;
    padded[16 - take..].copy_from_slice(&digits[from..]);
    pack_bcd(&padded)
}

/// Option B (A1.4.2): SHA-1 over PAN ‖ PSN (BCD, a leading zero nibble if odd), then the first
/// 16 decimal nibbles of the hash, continued if needed with the hex nibbles A-F read as 0-5.
fn option_b_digits(digits: &[u8]) -> [u8; 8] {
    let odd = digits.len() % 2;
    let mut nibbles = [0u8; 22];
    nibbles[odd..odd + digits.len()].copy_from_slice(digits);
    let nibbles = &nibbles[..odd + digits.len()];
    let mut packed = [0u8; 11];
    for (p, pair) in packed.iter_mut().zip(nibbles.chunks_exact(2)) {
        *p = (pair[0] << 4) | pair[1];
    }
    let hash = Sha1::digest(&packed[..nibbles.len() / 2]);
    let hash_nibbles = hash.iter().flat_map(|b| [b >> 4, b & 0x0F]);
    let mut y = [0u8; 16];
    let mut n = 0;
    for d in hash_nibbles.clone().filter(|&d| d <= 9) {
        if n == 16 {
            break;
        }
        y[n] = d;
        n += 1;
    }
    for d in hash_nibbles.filter(|&d| d > 9) {
        if n == 16 {
            break;
        }
        y[n] = d - 10;
        n += 1;
    }
    packed.zeroize();
    pack_bcd(&y)
}

fn pack_bcd(digits: &[u8; 16]) -> [u8; 8] {
    let mut out = [0u8; 8];
    for (o, pair) in out.iter_mut().zip(digits.chunks_exact(2)) {
        *o = (pair[0] << 4) | pair[1];
    }
    out
}

fn key_from_halves(mut left: [u8; 8], mut right: [u8; 8]) -> TdesKey16 {
    let mut bytes = [0u8; 16];
    bytes[..8].copy_from_slice(&left);
    bytes[8..].copy_from_slice(&right);
    left.zeroize();
    right.zeroize();
    let key = TdesKey16::from_bytes(bytes);
    bytes.zeroize();
    key
}

/// Length of the Book 2 minimum data set (`9F02` … `9F36`).
const MINIMUM_DATA_LEN: usize = 33;
