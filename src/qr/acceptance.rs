//! The scanner's acceptance check for the customer's code (`docs/qr-customer-code.md`): which
//! decoded payloads may end a scan and go to the engine.
//!
//! - A signed offline code (`SPOC1:`) is accepted when its device signature holds over the
//!   bytes read ([`OfflineCode::is_intact`]): one frame is enough. Whether the terminal trusts
//!   it (the wallet CA, the age, the counter) is the engine's check, which says why it refuses.
//! - An EMVCo consumer-presented code must parse (base64 of BER-TLV with its templates), but
//!   its cryptogram is the issuer's to check, so two frames must agree
//!   ([`Verdict::NoCheck`]).
//! - Anything else (a merchant's code, a link, stray text) is not a customer's code.

use emv::qr::cpm;
use emv::qr::offline_code::{OfflineCode, TEXT_PREFIX};

use super::scanner::Verdict;

/// The verdict on a payload read from the customer's screen.
pub fn customer_code(payload: &[u8]) -> Verdict {
    let Ok(text) = std::str::from_utf8(payload) else {
        return Verdict::Invalid;
    };
    if text.trim_start().starts_with(TEXT_PREFIX) {
        return match OfflineCode::parse_text(text) {
            Ok(code) if code.is_intact() => Verdict::Valid,
            _ => Verdict::Invalid,
        };
    }
    match cpm::parse(text) {
        Ok(_) => Verdict::NoCheck,
        Err(_) => Verdict::Invalid,
    }
}

#[cfg(test)]
mod tests {
    use ed25519_dalek::SigningKey;
    use emv::pan::Pan;
    use emv::qr::cpm::{CpmCode, build};
    use emv::qr::offline_code::{CodeFields, DeviceCertificate, OfflineCode};

    use super::*;

    fn offline_code() -> OfflineCode {
        let (ca, device) = (
            SigningKey::from_bytes(&[1; 32]),
            SigningKey::from_bytes(&[2; 32]),
        );
        let certificate =
            DeviceCertificate::issue(&ca, [3; 8], [4; 16], &device.verifying_key(), 2_000_000_000);
        let fields = CodeFields {
            method: 1,
            counter: 9,
            issued_at: 1_800_000_000,
            validity_secs: 120,
            currency: 978,
            amount_cap: 5_000,
            nonce: None,
        };
        OfflineCode::sign(fields, certificate, &device).expect("a signed code")
    }

    #[test]
    fn an_intact_offline_code_is_valid_and_a_misread_one_is_not() {
        let code = offline_code();
        assert_eq!(customer_code(code.to_text().as_bytes()), Verdict::Valid);
        // One bit read wrong in the signed part: the device signature no longer holds.
        let mut bytes = code.as_bytes().to_vec();
        bytes[5] ^= 0x01;
        let misread = OfflineCode::parse(&bytes).expect("still well formed");
        assert_eq!(
            customer_code(misread.to_text().as_bytes()),
            Verdict::Invalid
        );
        assert_eq!(customer_code(b"SPOC1:not base64url!"), Verdict::Invalid);
    }

    #[test]
    fn a_consumer_presented_code_needs_two_frames_and_other_codes_are_refused() {
        let pan = Pan::from_digits("4761739001010119").expect("a Luhn-valid PAN");
        let icc = [(0x9F26, vec![0x11; 8]), (0x9F36, vec![0x00, 0x07])];
        let text = build(&CpmCode {
            aid: &[0xA0, 0x00, 0x00, 0x00, 0x03, 0x10, 0x10],
            label: "VISA",
            pan: &pan,
            expiry: None,
            pan_sequence_number: None,
            cardholder_name: None,
            icc: &icc,
        })
        .expect("a code");
        assert_eq!(customer_code(text.as_bytes()), Verdict::NoCheck);
        // A merchant's code (the PromptPay payload of `tests/data/qr/emvco-promptpay.png`), a
        // link, bytes that are not text.
        let merchant =
            b"00020101021129370016A000000677010111011300669186952145802TH5303764630471E4";
        assert_eq!(customer_code(merchant), Verdict::Invalid);
        assert_eq!(customer_code(b"https://example.com/menu"), Verdict::Invalid);
        assert_eq!(customer_code(&[0xFF, 0xFE, 0x00]), Verdict::Invalid);
    }
}
