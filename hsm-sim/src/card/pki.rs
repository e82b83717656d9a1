//! The simulator's public key infrastructure for offline data authentication (EMV Book 2
//! §5, §6): a made-up certification authority per scheme RID, one issuer key pair per scheme and
//! a few ICC key pairs per scheme, with certificates and signatures built exactly as a real CA,
//! issuer and card build them, so the terminal's whole ODA chain verifies.
//!
//! Nothing here belongs to a real payment network. The keys were generated once by
//! `cargo run -p hsm-sim --example gen_pki -- --out hsm-sim/testdata/pki` and are kept, private
//! parts included, in `hsm-sim/testdata/pki/*.toml`; the CA public keys are in
//! `assets/capk/simulator.toml` under index [`SIMULATOR_CA_INDEX`] (`D0`, unused by Visa,
//! Mastercard and UnionPay). They are test keys: public, protecting nothing.
//!
//! Everything is a pure function the virtual card calls:
//! - [`SchemePki::issuer_certificate`]: `90`, `92`, `9F32` for a PAN's issuer identifier.
//! - [`SchemePki::icc_certificate`]: `9F46`, `9F47`, `9F48` for a PAN, expiry and static data.
//! - [`SchemePki::signed_static_application_data`]: SDA `93`.
//! - [`signed_dynamic_application_data`]: DDA and fDDA `9F4B`.
//! - [`combined_signed_dynamic_application_data`]: CDA `9F4B` from the ICC dynamic data fields
//!   (the transaction data hash code comes from `emv::oda::transaction_data_hash_code`).
//!
//! The file is self-contained (it uses only `emv`, `rsa`, `sha1`, `serde`, `toml`, `hex` and
//! `thiserror`) so the emv round-trip tests and the `gen_pki` example can include it too.

use std::fmt;

use rsa::traits::{PrivateKeyParts, PublicKeyParts};
use rsa::{BigUint, RsaPrivateKey};
use serde::Deserialize;
use sha1::{Digest, Sha1};

/// The CA public key index of the simulator CA in every scheme (EMV Book 2 §5.1, tag `8F`).
/// Visa uses 01-09 and 50-99 test indexes, Mastercard 00-06 and EF-FE, UnionPay 01-0B: `D0` is
/// free in all three.
pub const SIMULATOR_CA_INDEX: u8 = 0xD0;

/// Signed data format of DDA, CDA and UnionPay fDDA signed dynamic application data (Book 2
/// Table 17).
pub const FORMAT_DYNAMIC: u8 = 0x05;

/// Signed data format of Visa fDDA signed dynamic application data, as real Visa cards sign.
pub const FORMAT_VISA_FDDA: u8 = 0x95;

/// The whole simulator PKI: one [`SchemePki`] per scheme RID.
pub struct SimulatorPki {
    schemes: Vec<SchemePki>,
}

impl SimulatorPki {
    /// The shipped simulator keys of `hsm-sim/testdata/pki/` (embedded with `include_str!`).
    pub fn load() -> Result<Self, PkiError> {
        Self::from_files(&[VISA_FILE, MASTERCARD_FILE, UNIONPAY_FILE])
    }

    /// Parses key files in the format `gen_pki` writes (one file per scheme).
    pub fn from_files(files: &[&str]) -> Result<Self, PkiError> {
        let schemes = files
            .iter()
            .map(|text| SchemePki::from_toml(text))
            .collect::<Result<_, _>>()?;
        Ok(Self { schemes })
    }

    /// The PKI of the scheme whose RID (first five bytes of the AID) is `rid`.
    pub fn scheme(&self, rid: [u8; 5]) -> Option<&SchemePki> {
        self.schemes.iter().find(|s| s.rid == rid)
    }

    /// Every scheme's PKI.
    pub fn schemes(&self) -> &[SchemePki] {
        &self.schemes
    }
}

/// One scheme's simulator CA, issuer and ICC keys.
pub struct SchemePki {
    rid: [u8; 5],
    ca_index: u8,
    ca_expiry: String,
    issuer_certificate_expiry: [u8; 2],
    issuer_certificate_serial: [u8; 3],
    ca: SigningKey,
    issuer: SigningKey,
    icc: Vec<SigningKey>,
}

/// An issuer public key certificate and its companions, as the card returns them in records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuerCertificate {
    /// `90` issuer public key certificate.
    pub certificate: Vec<u8>,
    /// `92` issuer public key remainder; empty when the key fits in the certificate (then the
    /// card omits `92`).
    pub remainder: Vec<u8>,
    /// `9F32` issuer public key exponent.
    pub exponent: Vec<u8>,
}

/// An ICC public key certificate and its companions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IccCertificate {
    /// `9F46` ICC public key certificate.
    pub certificate: Vec<u8>,
    /// `9F47` ICC public key exponent.
    pub exponent: Vec<u8>,
    /// `9F48` ICC public key remainder; empty when the key fits (then the card omits `9F48`).
    pub remainder: Vec<u8>,
}

impl SchemePki {
    /// The scheme's RID.
    pub fn rid(&self) -> [u8; 5] {
        self.rid
    }

    /// The CA public key index the card returns in `8F`.
    pub fn ca_index(&self) -> u8 {
        self.ca_index
    }

    /// How many ICC key pairs the scheme has (cards pick one by number).
    pub fn icc_key_count(&self) -> usize {
        self.icc.len()
    }

    /// ICC key pair number `n` (0-based), for [`Self::icc_certificate`] and the signatures.
    pub fn icc_key(&self, n: usize) -> Option<&SigningKey> {
        self.icc.get(n)
    }

    /// The serial number the CA gives the issuer public key certificate (Book 2 Table 6).
    pub fn issuer_certificate_serial(&self) -> [u8; 3] {
        self.issuer_certificate_serial
    }

    /// The issuer's key pair (signs `93` and the ICC certificates).
    pub fn issuer_key(&self) -> &SigningKey {
        &self.issuer
    }

    /// EMV Book 2 §5.3 Table 6: the CA signs the issuer public key certificate (`90`) for the
    /// issuer identifier made of the PAN's first six digits, `F`-padded.
    pub fn issuer_certificate(&self, pan_digits: &str) -> Result<IssuerCertificate, PkiError> {
        self.issuer_certificate_with(
            issuer_identifier(pan_digits)?,
            self.issuer_certificate_expiry,
            self.issuer_certificate_serial,
        )
    }

    /// [`Self::issuer_certificate`] with every field chosen by the caller (fault profiles: an
    /// expired certificate, another issuer identifier). `expiry` is MMYY in BCD.
    pub fn issuer_certificate_with(
        &self,
        issuer_identifier: [u8; 4],
        expiry: [u8; 2],
        serial_number: [u8; 3],
    ) -> Result<IssuerCertificate, PkiError> {
        let n_ca = self.ca.modulus_length();
        let modulus = self.issuer.modulus();
        let exponent = self.issuer.exponent();
        let (in_certificate, remainder) = split_key(&modulus, n_ca - ISSUER_FIXED_LENGTH);
        let mut body = vec![0x02];
        body.extend_from_slice(&issuer_identifier);
        body.extend_from_slice(&expiry);
        body.extend_from_slice(&serial_number);
        body.extend_from_slice(&[
            SHA1,
            RSA,
            length_byte(modulus.len())?,
            length_byte(exponent.len())?,
        ]);
        body.extend_from_slice(&in_certificate);
        let hash = sha1([&body, remainder.as_slice(), exponent.as_slice()]);
        let certificate = self.ca.sign_frame(&body, &hash)?;
        Ok(IssuerCertificate {
            certificate,
            remainder,
            exponent,
        })
    }

    /// EMV Book 2 §6.4 Table 14: the issuer signs the ICC public key certificate (`9F46`) for
    /// `icc`, the card's PAN (digits), its expiry (`YYMM`, as in the profile) and the static data
    /// to be authenticated (records flagged by the AFL, then the AIP if `9F4A` lists `82`).
    pub fn icc_certificate(
        &self,
        icc: &SigningKey,
        pan_digits: &str,
        expiry_yymm: &str,
        serial_number: [u8; 3],
        static_data: &[u8],
    ) -> Result<IccCertificate, PkiError> {
        let n_i = self.issuer.modulus_length();
        let modulus = icc.modulus();
        let exponent = icc.exponent();
        let (in_certificate, remainder) = split_key(&modulus, n_i - ICC_FIXED_LENGTH);
        let mut body = vec![0x04];
        body.extend_from_slice(&padded_pan(pan_digits)?);
        body.extend_from_slice(&mmyy(expiry_yymm)?);
        body.extend_from_slice(&serial_number);
        body.extend_from_slice(&[
            SHA1,
            RSA,
            length_byte(modulus.len())?,
            length_byte(exponent.len())?,
        ]);
        body.extend_from_slice(&in_certificate);
        let hash = sha1([
            &body,
            remainder.as_slice(),
            exponent.as_slice(),
            static_data,
        ]);
        let certificate = self.issuer.sign_frame(&body, &hash)?;
        Ok(IccCertificate {
            certificate,
            exponent,
            remainder,
        })
    }

    /// EMV Book 2 §5.4 Table 7: SDA's signed static application data (`93`), signed by the
    /// issuer over the static data, carrying the data authentication code (`9F45`).
    pub fn signed_static_application_data(
        &self,
        data_authentication_code: [u8; 2],
        static_data: &[u8],
    ) -> Result<Vec<u8>, PkiError> {
        let n_i = self.issuer.modulus_length();
        let mut body = vec![0x03, SHA1];
        body.extend_from_slice(&data_authentication_code);
        body.resize(n_i - HASH_LENGTH - 2, PAD);
        let hash = sha1([&body, static_data]);
        self.issuer.sign_frame(&body, &hash)
    }

    /// The `[[key]]` entry of `assets/capk/simulator.toml` for this scheme's CA public key,
    /// checksum included (format: `docs/capk.md`).
    pub fn ca_key_file_entry(&self, label: &str) -> String {
        let modulus = self.ca.modulus();
        let exponent = self.ca.exponent();
        let checksum =
            emv::oda::CaPublicKey::checksum_of(self.rid, self.ca_index, &modulus, &exponent);
        format!(
            "[[key]]\nlabel = \"{label}\"\nsource = \"hsm-sim/testdata/pki (gen_pki)\"\n\
             rid = \"{}\"\nindex = \"{:02X}\"\nexponent = \"{}\"\nexpiry = \"{}\"\n\
             checksum = \"{}\"\nmodulus = \"\"\"\n{}\"\"\"\n",
            hex::encode_upper(self.rid),
            self.ca_index,
            hex::encode_upper(&exponent),
            self.ca_expiry,
            hex::encode_upper(checksum),
            wrapped_hex(&modulus),
        )
    }

    fn from_toml(text: &str) -> Result<Self, PkiError> {
        let file: SchemeFile = toml::from_str(text).map_err(PkiError::Syntax)?;
        let rid = fixed(&file.rid, "rid")?;
        let [ca_index] = fixed::<1>(&file.ca_index, "ca_index")?;
        Ok(Self {
            rid,
            ca_index,
            ca_expiry: file.ca_expiry,
            issuer_certificate_expiry: fixed(
                &file.issuer_certificate_expiry,
                "issuer_certificate_expiry",
            )?,
            issuer_certificate_serial: fixed(
                &file.issuer_certificate_serial,
                "issuer_certificate_serial",
            )?,
            ca: SigningKey::from_entry(&file.ca)?,
            issuer: SigningKey::from_entry(&file.issuer)?,
            icc: file
                .icc
                .iter()
                .map(SigningKey::from_entry)
                .collect::<Result<_, _>>()?,
        })
    }
}

/// EMV Book 2 §6.5.1 Table 17 (DDA, fDDA): the card signs its ICC dynamic data over the
/// terminal dynamic data (DDOL data for DDA; `9F37 ‖ 9F02 ‖ 5F2A ‖ 9F69` for fDDA).
/// `icc_dynamic_data` is the length of the ICC dynamic number followed by the number (for Visa
/// fDDA, `02 ‖ ATC`). `format` is [`FORMAT_DYNAMIC`] or [`FORMAT_VISA_FDDA`].
pub fn signed_dynamic_application_data(
    icc: &SigningKey,
    format: u8,
    icc_dynamic_data: &[u8],
    terminal_dynamic_data: &[u8],
) -> Result<Vec<u8>, PkiError> {
    let n_ic = icc.modulus_length();
    if icc_dynamic_data.len() + SDAD_FIXED_LENGTH > n_ic {
        return Err(PkiError::DoesNotFit);
    }
    let mut body = vec![format, SHA1, length_byte(icc_dynamic_data.len())?];
    body.extend_from_slice(icc_dynamic_data);
    body.resize(n_ic - HASH_LENGTH - 2, PAD);
    let hash = sha1([&body, terminal_dynamic_data]);
    icc.sign_frame(&body, &hash)
}

/// EMV Book 2 §6.6.1 Tables 18-19 (CDA): the card signs the ICC dynamic data made of its ICC
/// dynamic number, the CID, the application cryptogram and the transaction data hash code, over
/// the terminal's unpredictable number (`9F37`).
pub fn combined_signed_dynamic_application_data(
    icc: &SigningKey,
    icc_dynamic_number: &[u8],
    cryptogram_information_data: u8,
    application_cryptogram: [u8; 8],
    transaction_data_hash_code: [u8; 20],
    unpredictable_number: &[u8],
) -> Result<Vec<u8>, PkiError> {
    let mut dynamic = vec![length_byte(icc_dynamic_number.len())?];
    dynamic.extend_from_slice(icc_dynamic_number);
    dynamic.push(cryptogram_information_data);
    dynamic.extend_from_slice(&application_cryptogram);
    dynamic.extend_from_slice(&transaction_data_hash_code);
    signed_dynamic_application_data(icc, FORMAT_DYNAMIC, &dynamic, unpredictable_number)
}

/// An RSA private key of the simulator (CA, issuer or ICC). Test keys only; still, it has no
/// `Debug` of its parts and the `rsa` crate zeroizes it on drop.
pub struct SigningKey {
    key: RsaPrivateKey,
}

impl SigningKey {
    /// Wraps a generated key (used by `gen_pki`).
    pub fn from_private_key(mut key: RsaPrivateKey) -> Result<Self, PkiError> {
        key.precompute().map_err(|_| PkiError::InvalidKey)?;
        Ok(Self { key })
    }

    /// The modulus, big-endian, without leading zeros.
    pub fn modulus(&self) -> Vec<u8> {
        self.key.n().to_bytes_be()
    }

    /// The public exponent (`03` or `010001`).
    pub fn exponent(&self) -> Vec<u8> {
        self.key.e().to_bytes_be()
    }

    /// The modulus length in bytes.
    pub fn modulus_length(&self) -> usize {
        self.key.size()
    }

    /// Signs the recovered-data frame `6A ‖ body ‖ hash ‖ BC`, whose length must be the
    /// modulus length: raw RSA with the private key (CRT), no other padding (Book 2 Annex A2.1).
    fn sign_frame(&self, body: &[u8], hash: &[u8; 20]) -> Result<Vec<u8>, PkiError> {
        let mut frame = Vec::with_capacity(self.modulus_length());
        frame.push(HEADER);
        frame.extend_from_slice(body);
        frame.extend_from_slice(hash);
        frame.push(TRAILER);
        if frame.len() != self.modulus_length() {
            return Err(PkiError::DoesNotFit);
        }
        let message = BigUint::from_bytes_be(&frame);
        if &message >= self.key.n() {
            // A 6A header is below any modulus whose top byte is 6B or more; all ours are.
            return Err(PkiError::DoesNotFit);
        }
        let signature = self.raw_sign(&message)?;
        let bytes = signature.to_bytes_be();
        let mut out = vec![0; self.modulus_length().saturating_sub(bytes.len())];
        out.extend_from_slice(&bytes);
        Ok(out)
    }

    /// m^d mod n by the Chinese remainder theorem, checked by re-encryption.
    fn raw_sign(&self, message: &BigUint) -> Result<BigUint, PkiError> {
        let key = &self.key;
        let (Some(dp), Some(dq), Some(qinv), [p, q]) =
            (key.dp(), key.dq(), key.crt_coefficient(), key.primes())
        else {
            return Err(PkiError::InvalidKey);
        };
        let m1 = message.modpow(dp, p);
        let m2 = message.modpow(dq, q);
        let difference = (m1 + p - (&m2 % p)) % p;
        let h = (qinv * difference) % p;
        let signature = m2 + h * q;
        if &signature.modpow(key.e(), key.n()) != message {
            return Err(PkiError::InvalidKey);
        }
        Ok(signature)
    }

    /// The key as a `[ca]`/`[issuer]`/`[[icc]]` table of the testdata files. It contains the
    /// private exponent and primes: only for the simulator's own test keys.
    pub fn danger_to_toml_table(&self) -> String {
        let key = &self.key;
        let primes = key.primes();
        let part = |value: Option<&BigUint>| {
            value
                .map(|v| wrapped_hex(&v.to_bytes_be()))
                .unwrap_or_default()
        };
        format!(
            "bits = {}\npublic_exponent = \"{}\"\nmodulus = \"\"\"\n{}\"\"\"\n\
             private_exponent = \"\"\"\n{}\"\"\"\nprime_1 = \"\"\"\n{}\"\"\"\nprime_2 = \"\"\"\n{}\"\"\"\n",
            key.size() * 8,
            hex::encode_upper(key.e().to_bytes_be()),
            wrapped_hex(&key.n().to_bytes_be()),
            wrapped_hex(&key.d().to_bytes_be()),
            part(primes.first()),
            part(primes.get(1)),
        )
    }

    fn from_entry(entry: &KeyEntry) -> Result<Self, PkiError> {
        let number = |text: &str, field| {
            parse_hex(text)
                .map(|b| BigUint::from_bytes_be(&b))
                .ok_or(PkiError::InvalidField(field))
        };
        let key = RsaPrivateKey::from_components(
            number(&entry.modulus, "modulus")?,
            number(&entry.public_exponent, "public_exponent")?,
            number(&entry.private_exponent, "private_exponent")?,
            vec![
                number(&entry.prime_1, "prime_1")?,
                number(&entry.prime_2, "prime_2")?,
            ],
        )
        .map_err(|_| PkiError::InvalidKey)?;
        if key.size() * 8 != entry.bits {
            return Err(PkiError::InvalidField("bits"));
        }
        Self::from_private_key(key)
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("bits", &(self.modulus_length() * 8))
            .finish_non_exhaustive()
    }
}

/// Generates one scheme's keys and writes its testdata file (used once by `gen_pki`).
pub mod generate {
    use super::*;

    /// Key sizes in bits and public exponents (3 or 65537) of one scheme: CA > issuer > ICC,
    /// all within 1024-1984 bits (Book 2 §5.1 and Annex B2.1).
    #[derive(Debug, Clone, Copy)]
    pub struct Sizes {
        /// CA key size and exponent.
        pub ca: (usize, u32),
        /// Issuer key size and exponent.
        pub issuer: (usize, u32),
        /// ICC key size and exponent.
        pub icc: (usize, u32),
        /// How many ICC key pairs to make.
        pub icc_count: usize,
    }

    /// Generates a scheme PKI with `rng` and returns its testdata file text.
    pub fn scheme_file<R: rsa::rand_core::CryptoRngCore + ?Sized>(
        rng: &mut R,
        name: &str,
        rid: [u8; 5],
        sizes: Sizes,
    ) -> Result<String, PkiError> {
        let mut make = |(bits, e): (usize, u32)| {
            RsaPrivateKey::new_with_exp(&mut *rng, bits, &BigUint::from(e))
                .map_err(|_| PkiError::InvalidKey)
                .and_then(SigningKey::from_private_key)
        };
        let ca = make(sizes.ca)?;
        let issuer = make(sizes.issuer)?;
        let mut text = format!(
            "# Simulator PKI of {name} (RID {rid}): TEST KEYS made up by `cargo run -p hsm-sim \
             --example gen_pki -- --out hsm-sim/testdata/pki`.\n# They protect nothing and belong \
             to no payment network. The CA public key is in assets/capk/simulator.toml.\n\n\
             rid = \"{rid}\"\nca_index = \"{index:02X}\"\nca_expiry = \"{ca_expiry}\"\n\
             issuer_certificate_expiry = \"{issuer_expiry}\"\nissuer_certificate_serial = \"000001\"\n\n\
             [ca]\n{ca}\n[issuer]\n{issuer}",
            rid = hex::encode_upper(rid),
            index = SIMULATOR_CA_INDEX,
            ca_expiry = CA_EXPIRY,
            issuer_expiry = ISSUER_CERTIFICATE_EXPIRY,
            ca = ca.danger_to_toml_table(),
            issuer = issuer.danger_to_toml_table(),
        );
        for _ in 0..sizes.icc_count {
            text.push_str(&format!(
                "\n[[icc]]\n{}",
                make(sizes.icc)?.danger_to_toml_table()
            ));
        }
        Ok(text)
    }

    /// The simulator CA keys' expiry in `assets/capk/simulator.toml`.
    pub const CA_EXPIRY: &str = "2049-12-31";
    /// The issuer certificates' expiry, MMYY: December 2049.
    pub const ISSUER_CERTIFICATE_EXPIRY: &str = "1249";
}

/// Why the simulator PKI could not load or sign.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PkiError {
    /// A testdata file is not valid TOML or lacks a field.
    #[error("simulator PKI file syntax: {0}")]
    Syntax(#[source] toml::de::Error),
    /// A field is not hex of the right length.
    #[error("simulator PKI field `{0}` is not valid")]
    InvalidField(&'static str),
    /// The key parts do not make an RSA key.
    #[error("simulator PKI key is not a valid RSA key")]
    InvalidKey,
    /// The PAN or expiry given is not digits of the right length.
    #[error("PAN or expiry is not valid for a certificate")]
    InvalidCardData,
    /// The data does not fit the key's modulus (a key too short for its signer, or ICC dynamic
    /// data too long).
    #[error("data does not fit the key's modulus")]
    DoesNotFit,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SchemeFile {
    rid: String,
    ca_index: String,
    ca_expiry: String,
    issuer_certificate_expiry: String,
    issuer_certificate_serial: String,
    ca: KeyEntry,
    issuer: KeyEntry,
    #[serde(default)]
    icc: Vec<KeyEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyEntry {
    bits: usize,
    public_exponent: String,
    modulus: String,
    private_exponent: String,
    prime_1: String,
    prime_2: String,
}

/// Splits a modulus into the part that goes in a certificate with `room` bytes for the key (the
/// whole key padded with `BB` if it fits) and the remainder (Book 2 Tables 6 and 14).
fn split_key(modulus: &[u8], room: usize) -> (Vec<u8>, Vec<u8>) {
    if modulus.len() <= room {
        let mut part = modulus.to_vec();
        part.resize(room, PAD);
        (part, Vec::new())
    } else {
        let (head, tail) = modulus.split_at(room);
        (head.to_vec(), tail.to_vec())
    }
}

/// The issuer identifier: the PAN's first six digits, `F`-padded to four bytes (Book 2 Table 6).
pub fn issuer_identifier(pan_digits: &str) -> Result<[u8; 4], PkiError> {
    let bin = pan_digits.get(..6).ok_or(PkiError::InvalidCardData)?;
    let bytes = bcd(&format!("{bin}FF"))?;
    bytes.try_into().map_err(|_| PkiError::InvalidCardData)
}

/// The PAN as 10 bytes of compressed numeric, `F`-padded (Book 2 Table 14).
fn padded_pan(pan_digits: &str) -> Result<[u8; 10], PkiError> {
    if !(12..=19).contains(&pan_digits.len()) {
        return Err(PkiError::InvalidCardData);
    }
    let padded = format!("{pan_digits:F<20}");
    bcd(&padded)?
        .try_into()
        .map_err(|_| PkiError::InvalidCardData)
}

/// `YYMM` (profile expiry) as MMYY in BCD (certificate expiry).
fn mmyy(expiry_yymm: &str) -> Result<[u8; 2], PkiError> {
    let (yy, mm) = (expiry_yymm.get(..2), expiry_yymm.get(2..4));
    let (Some(yy), Some(mm)) = (yy, mm) else {
        return Err(PkiError::InvalidCardData);
    };
    if expiry_yymm.len() != 4 {
        return Err(PkiError::InvalidCardData);
    }
    bcd(&format!("{mm}{yy}"))?
        .try_into()
        .map_err(|_| PkiError::InvalidCardData)
}

/// Digits (and `F`) as packed BCD; the length must be even.
fn bcd(digits: &str) -> Result<Vec<u8>, PkiError> {
    if !digits.len().is_multiple_of(2) || !digits.chars().all(|c| c.is_ascii_digit() || c == 'F') {
        return Err(PkiError::InvalidCardData);
    }
    hex::decode(digits).map_err(|_| PkiError::InvalidCardData)
}

fn length_byte(length: usize) -> Result<u8, PkiError> {
    u8::try_from(length).map_err(|_| PkiError::DoesNotFit)
}

fn sha1<const N: usize>(parts: [&[u8]; N]) -> [u8; 20] {
    let mut hash = Sha1::new();
    for part in parts {
        hash.update(part);
    }
    hash.finalize().into()
}

fn fixed<const N: usize>(text: &str, field: &'static str) -> Result<[u8; N], PkiError> {
    parse_hex(text)
        .and_then(|b| b.try_into().ok())
        .ok_or(PkiError::InvalidField(field))
}

fn parse_hex(text: &str) -> Option<Vec<u8>> {
    let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    hex::decode(compact).ok()
}

fn wrapped_hex(bytes: &[u8]) -> String {
    hex::encode_upper(bytes)
        .as_bytes()
        .chunks(64)
        .map(|line| format!("{}\n", String::from_utf8_lossy(line)))
        .collect()
}

/// Recovered data header and trailer, SHA-1 and RSA indicators, pad byte (Book 2 Annex A2.1,
/// B2.1, B2.3).
const HEADER: u8 = 0x6A;
const TRAILER: u8 = 0xBC;
const SHA1: u8 = 0x01;
const RSA: u8 = 0x01;
const PAD: u8 = 0xBB;
const HASH_LENGTH: usize = 20;
/// Issuer certificate bytes besides the key (N_CA - 36 left for the key).
const ISSUER_FIXED_LENGTH: usize = 36;
/// ICC certificate bytes besides the key (N_I - 42 left for the key).
const ICC_FIXED_LENGTH: usize = 42;
/// Signed dynamic data bytes besides ICC dynamic data and pad.
const SDAD_FIXED_LENGTH: usize = 25;

const VISA_FILE: &str = include_str!("../../testdata/pki/visa.toml");
const MASTERCARD_FILE: &str = include_str!("../../testdata/pki/mastercard.toml");
const UNIONPAY_FILE: &str = include_str!("../../testdata/pki/unionpay.toml");

#[cfg(test)]
mod tests {
    use super::*;
    use emv::oda::{
        Authenticator, CaKeyStore, OdaFailure, OdaInput, OdaMethod, OfflineDataAuthenticator,
    };

    const VISA: [u8; 5] = [0xA0, 0x00, 0x00, 0x00, 0x03];
    const PAN: &str = "4761739001010119";
    const PAN_BCD: [u8; 8] = [0x47, 0x61, 0x73, 0x90, 0x01, 0x01, 0x01, 0x19];

    fn pki() -> SimulatorPki {
        SimulatorPki::load().expect("simulator PKI loads")
    }

    #[test]
    fn every_scheme_has_keys_sized_by_the_book_2_rules() {
        let pki = pki();
        assert_eq!(pki.schemes().len(), 3);
        for scheme in pki.schemes() {
            let n_ca = scheme.ca.modulus_length();
            let n_i = scheme.issuer.modulus_length();
            assert!((128..=248).contains(&n_ca));
            assert!(n_i < n_ca, "issuer shorter than CA");
            assert!(scheme.icc_key_count() >= 1);
            for icc in &scheme.icc {
                assert!(icc.modulus_length() < n_i && icc.modulus_length() >= 128);
            }
            assert_eq!(scheme.ca_index(), SIMULATOR_CA_INDEX);
        }
    }

    #[test]
    fn simulator_ca_keys_are_in_the_shipped_store_with_their_checksums() {
        let store = CaKeyStore::embedded_test().expect("test store loads");
        for scheme in pki().schemes() {
            let key = store
                .get(scheme.rid(), scheme.ca_index())
                .expect("sim CA key shipped");
            assert_eq!(key.modulus(), scheme.ca.modulus().as_slice());
        }
    }

    #[test]
    fn fdda_chain_built_here_verifies_in_the_kernel() {
        let pki = pki();
        let visa = pki.scheme(VISA).expect("Visa");
        let issuer = visa.issuer_certificate(PAN).expect("issuer certificate");
        let icc_key = visa.icc_key(0).expect("ICC key");
        let static_data = [0x5A, 0x08, 0x47, 0x61, 0x73, 0x90, 0x01, 0x01, 0x01, 0x19];
        let icc = visa
            .icc_certificate(icc_key, PAN, "2812", [0, 0, 1], &static_data)
            .expect("icc");
        let terminal = [
            0x38, 0x39, 0x30, 0x31, 0, 0, 0, 0, 0x10, 0, 0x09, 0x78, 1, 2, 3, 4, 5, 0x16, 0,
        ];
        let sdad = signed_dynamic_application_data(
            icc_key,
            FORMAT_VISA_FDDA,
            &[0x02, 0x00, 0x07],
            &terminal,
        )
        .expect("SDAD");
        let input = OdaInput {
            method: OdaMethod::Fdda,
            rid: VISA,
            ca_public_key_index: Some(visa.ca_index()),
            issuer_public_key_certificate: Some(&issuer.certificate),
            issuer_public_key_remainder: (!issuer.remainder.is_empty())
                .then_some(&issuer.remainder[..]),
            issuer_public_key_exponent: Some(&issuer.exponent),
            icc_public_key_certificate: Some(&icc.certificate),
            icc_public_key_exponent: Some(&icc.exponent),
            icc_public_key_remainder: (!icc.remainder.is_empty()).then_some(&icc.remainder[..]),
            pan: Some(&PAN_BCD),
            static_data: &static_data,
            signed_static_application_data: None,
            signed_dynamic_application_data: Some(&sdad),
            terminal_dynamic_data: &terminal,
            cda: None,
            transaction_date: [0x26, 0x11, 0x21],
        };
        let authenticator = Authenticator::new(CaKeyStore::embedded_test().expect("store"));
        let result = authenticator.authenticate(&input).expect("performed");
        assert_eq!(result.status, Ok(()));
        assert_eq!(result.recovered_dynamic_number, Some(vec![0x00, 0x07]));

        let other = [0u8; 19];
        let input = OdaInput {
            terminal_dynamic_data: &other,
            ..input
        };
        let result = authenticator.authenticate(&input).expect("performed");
        assert_eq!(
            result.status,
            Err(OdaFailure::Signature("9F4B hash does not match"))
        );
    }

    #[test]
    fn card_data_errors_are_reported_not_panicked() {
        let pki = pki();
        let visa = pki.scheme(VISA).expect("Visa");
        assert!(matches!(
            visa.issuer_certificate("4761"),
            Err(PkiError::InvalidCardData)
        ));
        let icc = visa.icc_key(0).expect("ICC key");
        assert!(matches!(
            visa.icc_certificate(icc, "47617390010101X9", "2812", [0; 3], &[]),
            Err(PkiError::InvalidCardData)
        ));
        assert!(matches!(
            visa.icc_certificate(icc, PAN, "28", [0; 3], &[]),
            Err(PkiError::InvalidCardData)
        ));
        let too_long = vec![0; icc.modulus_length()];
        assert!(matches!(
            signed_dynamic_application_data(icc, FORMAT_DYNAMIC, &too_long, &[]),
            Err(PkiError::DoesNotFit)
        ));
        assert_eq!(
            issuer_identifier(PAN).expect("BIN"),
            [0x47, 0x61, 0x73, 0xFF]
        );
        assert_eq!(mmyy("2812").expect("date"), [0x12, 0x28]);
    }
}
