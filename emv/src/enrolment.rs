//! The activation protocol both ends share (`docs/enrolment.md`): the request and answer
//! messages, the proof the device key signs, and the activation code's alphabet and
//! normalisation. No I/O: the terminal sends and the host checks what is defined here.
//!
//! A code reads `7Q4K-P9XM-4DKC-WZ2B-HN8Q`: the first [`CODE_CHARS`] characters are the secret
//! one-time code, the last [`FINGERPRINT_CHARS`] the host's fingerprint (the first 60 bits of
//! SHA-256 of the host key's SubjectPublicKeyInfo), both in Crockford's base32.

use serde::{Deserialize, Serialize};

/// What the device key signs before the code and the keys.
pub const PROOF_LABEL: &[u8] = b"softpos activation v1\0";

/// Crockford's base32 alphabet: no I, L, O, U.
pub const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
/// Characters in the secret part of a code.
pub const CODE_CHARS: usize = 8;
/// Characters in the host fingerprint part of a code.
pub const FINGERPRINT_CHARS: usize = 12;

/// What the terminal sends (JSON over the host's HTTPS API).
#[derive(Clone, Serialize, Deserialize)]
pub struct ActivationRequest {
    /// The secret part of the code (`XXXX-XXXX`; case, dashes and look-alikes tolerated).
    pub code: String,
    /// The device key's SubjectPublicKeyInfo (DER, hex): P-256.
    pub device_public_key: String,
    /// The PIN pad's public key (SEC1, hex).
    pub pin_pad_public_key: String,
    /// ECDSA P-256 SHA-256 signature (DER, hex) by the device key over [`proof_message`].
    pub signature: String,
}

/// What the host answers (JSON).
#[derive(Clone, Serialize, Deserialize)]
pub struct ActivationResponse {
    /// The terminal ID (DE 41).
    pub terminal_id: String,
    /// The merchant the terminal belongs to.
    pub merchant: String,
    /// The client certificate (PEM) for the device key.
    pub certificate_pem: String,
    /// The host CA (PEM).
    pub ca_pem: String,
    /// The ISO 8583 host address, `HOST:PORT`.
    pub host: String,
    /// The name the host's certificate carries.
    pub server_name: String,
    /// SHA-256 of the host key's SubjectPublicKeyInfo (hex).
    pub host_spki_sha256: String,
    /// The AES DUKPT MAC initial key (hex), for the link. Secret: only ever inside TLS.
    pub mac_initial_key: String,
    /// Its initial KSN (hex).
    pub mac_initial_ksn: String,
    /// The PIN initial key wrapped for the PIN pad (hex, [`crate::crypto::key_wrap`]).
    pub pin_key_wrapped: String,
    /// The host's HTTPS API, `HOST:PORT` (`docs/host-api.md`), when it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api: Option<String>,
    /// The public key that checks attestation tokens (SEC1 uncompressed, hex), when the host
    /// attests terminals.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attestation_public_key: Option<String>,
}

impl std::fmt::Debug for ActivationResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ActivationResponse")
            .field("terminal_id", &self.terminal_id)
            .field("host", &self.host)
            .finish_non_exhaustive()
    }
}

/// What the device key signs: [`PROOF_LABEL`] ‖ the normalised code ‖ its SPKI ‖ the pad's key.
pub fn proof_message(code: &str, device_spki: &[u8], pin_pad_key: &[u8]) -> Vec<u8> {
    let code = normalize(code);
    let mut message =
        Vec::with_capacity(PROOF_LABEL.len() + code.len() + device_spki.len() + pin_pad_key.len());
    message.extend_from_slice(PROOF_LABEL);
    message.extend_from_slice(code.as_bytes());
    message.extend_from_slice(device_spki);
    message.extend_from_slice(pin_pad_key);
    message
}

/// Upper case, no dashes or spaces, look-alikes mapped (`O` → `0`, `I`/`L` → `1`).
pub fn normalize(code: &str) -> String {
    code.chars()
        .filter(|c| !matches!(c, '-' | ' '))
        .map(|c| match c.to_ascii_uppercase() {
            'O' => '0',
            'I' | 'L' => '1',
            c => c,
        })
        .collect()
}

/// Whether every character of `raw` is in [`ALPHABET`].
pub fn is_base32(raw: &str) -> bool {
    raw.bytes().all(|b| ALPHABET.contains(&b))
}

/// The first `chars` base32 characters of `bytes` (5 bits each, most significant first).
pub fn base32(bytes: &[u8], chars: usize) -> String {
    (0..chars)
        .map(|i| {
            let bit = i * 5;
            let hi = u16::from(bytes.get(bit / 8).copied().unwrap_or(0));
            let lo = u16::from(bytes.get(bit / 8 + 1).copied().unwrap_or(0));
            let window = (hi << 8 | lo) >> (11 - bit % 8);
            char::from(ALPHABET[usize::from(window & 0x1F)])
        })
        .collect()
}

/// The fingerprint of a host key pin (SHA-256 of its SPKI), without dashes.
pub fn fingerprint(host_spki_sha256: &[u8; 32]) -> String {
    base32(host_spki_sha256, FINGERPRINT_CHARS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalisation_folds_case_dashes_spaces_and_look_alikes() {
        assert_eq!(normalize("7q4k-p9xm"), "7Q4KP9XM");
        assert_eq!(normalize("o1 Il-L0"), "011110");
        assert!(is_base32(&normalize("7Q4K-P9XM-4DKC-WZ2B-HN8Q")));
        assert!(!is_base32("7Q4KU"));
    }

    #[test]
    fn the_proof_is_label_normalised_code_spki_pad_key() {
        let message = proof_message("ab-cd efgh", b"SPKI", b"PAD");
        let mut expected = PROOF_LABEL.to_vec();
        expected.extend_from_slice(b"ABCDEFGHSPKIPAD");
        assert_eq!(message, expected);
        assert_eq!(proof_message("ABCDEFGH", b"SPKI", b"PAD"), expected);
    }

    #[test]
    fn base32_reads_five_bits_at_a_time_most_significant_first() {
        // 0x00 0x44 0x32 0x14 0xC7 = 00000 00001 00010 00011 00100 00101 00110 00111.
        assert_eq!(base32(&[0x00, 0x44, 0x32, 0x14, 0xC7], 8), "01234567");
        assert_eq!(fingerprint(&[0xFF; 32]), "ZZZZZZZZZZZZ");
    }

    #[test]
    fn the_answer_debug_hides_the_keys() {
        let answer = ActivationResponse {
            terminal_id: "A0000001".into(),
            merchant: "M1".into(),
            certificate_pem: String::new(),
            ca_pem: String::new(),
            host: "h:1".into(),
            server_name: "h".into(),
            host_spki_sha256: String::new(),
            mac_initial_key: "SECRETMACKEY".into(),
            mac_initial_ksn: String::new(),
            pin_key_wrapped: "WRAPPEDPIN".into(),
            api: None,
            attestation_public_key: None,
        };
        let shown = format!("{answer:?}");
        assert!(shown.contains("A0000001"));
        assert!(!shown.contains("SECRETMACKEY") && !shown.contains("WRAPPEDPIN"));
    }
}
