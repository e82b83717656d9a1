//! The receipt as a QR code the customer scans to keep a copy: a compact text of the receipt
//! (no full PAN: the last four digits only), signed by the terminal so that the merchant can
//! tell a copy the terminal made from an edited one.
//!
//! The signature is AES-CMAC (NIST SP 800-38B) truncated to 8 bytes, under a receipt key
//! derived from the terminal's device key (`device.key` next to the journal,
//! `crate::journal::seal`) with the NIST SP 800-108 counter-mode KDF, label
//! `softpos receipt code`. A link to a server was not chosen: the terminal has no server to
//! publish receipts on, and a customer's copy must not depend on one being up. Only a holder
//! of the device key (the terminal, or the merchant's back office reading its journal) can
//! verify a code; the customer's phone reads the text as it is.

use std::fmt::Write as _;
use std::path::Path;

use emv::crypto::key::AesKey;
use emv::crypto::mac::aes_cmac;
use qrcode::{EcLevel, QrCode};

use crate::engine::Receipt;
use crate::journal::{DEVICE_KEY_FILE, TxKind, seal};

/// The key receipts are signed with.
pub(crate) struct ReceiptKey(AesKey);

impl ReceiptKey {
    /// The receipt key of the terminal whose data directory is `data_dir` (its device key,
    /// created there if it is missing, as the journal would).
    pub(crate) fn of_data_dir(data_dir: &Path) -> Option<Self> {
        let loaded = std::fs::create_dir_all(data_dir)
            .map_err(|e| e.to_string())
            .and_then(|()| {
                seal::load_or_create_device_key(&data_dir.join(DEVICE_KEY_FILE))
                    .map_err(|e| e.to_string())
            });
        match loaded {
            Ok(device) => Some(Self::derive(&device)),
            Err(e) => {
                tracing::warn!(error = %e, "no device key: receipts get no QR code");
                None
            }
        }
    }

    /// The receipt key derived from `device` (SP 800-108 counter mode, one AES-CMAC block:
    /// counter 1, label, 0x00, L = 128 bits).
    pub(crate) fn derive(device: &AesKey) -> Self {
        let mut input = vec![0x01];
        input.extend_from_slice(LABEL);
        input.extend_from_slice(&[0x00, 0x00, 0x80]);
        Self(AesKey::from_bytes_128(aes_cmac(device, &input)))
    }

    /// The compact, signed text of `receipt`.
    #[cfg(test)]
    pub(crate) fn sign(&self, receipt: &Receipt) -> String {
        self.sign_body(&body(receipt))
    }

    /// `body` ([`body`]) with its signature.
    pub(crate) fn sign_body(&self, body: &str) -> String {
        format!("{body}MAC {}", self.tag(body))
    }

    /// Whether `text` is a receipt text this key signed, unaltered (the check a back office
    /// holding the device key makes).
    #[cfg(test)]
    pub(crate) fn verify(&self, text: &str) -> bool {
        let Some(at) = text.rfind("MAC ") else {
            return false;
        };
        let (body, tag) = text.split_at(at);
        tag.strip_prefix("MAC ") == Some(self.tag(body).as_str())
    }

    /// The first 8 bytes of the CMAC, in hex groups of four (`9F1C-2A7B-5D3E-4F60`).
    fn tag(&self, body: &str) -> String {
        let mac = aes_cmac(&self.0, body.as_bytes());
        mac[..8]
            .chunks(2)
            .map(hex::encode_upper)
            .collect::<Vec<_>>()
            .join("-")
    }
}

/// The receipt's text without its signature, one field a line.
pub(crate) fn body(r: &Receipt) -> String {
    let mut text = String::new();
    let _ = writeln!(text, "{HEADER}");
    let _ = writeln!(text, "{}", r.header.merchant_name);
    let _ = writeln!(text, "TID {} #{}", r.header.terminal_id, r.id);
    let _ = writeln!(text, "{}", r.date_time);
    let kind = match r.kind {
        TxKind::Sale => "SALE",
        TxKind::Refund => "REFUND",
        TxKind::Void => "VOID",
        TxKind::Preauth => "PREAUTH",
        TxKind::Completion => "COMPLETION",
        TxKind::CardCheck => "CARD CHECK",
    };
    let currency = iso_currency::Currency::from_numeric(r.currency)
        .map_or_else(|| format!("{:03}", r.currency), |c| c.code().to_owned());
    let amount = crate::journal::export::format_amount(r.amount, r.header.currency_exponent);
    let _ = writeln!(text, "{kind} {currency} {amount}");
    if let Some(pan) = &r.masked_pan {
        let digits: Vec<char> = pan
            .to_string()
            .chars()
            .filter(char::is_ascii_digit)
            .collect();
        let last: String = digits[digits.len().saturating_sub(4)..].iter().collect();
        let label = r.card_label.as_deref().unwrap_or("CARD");
        let _ = writeln!(text, "{label} ****{last}");
    }
    let _ = write!(text, "{}", r.outcome);
    if let Some(code) = &r.auth_code {
        let _ = write!(text, " AUTH {code}");
    }
    text.push('\n');
    text
}

/// The QR code of `text` as an RGB image: dark modules black on white, `scale` pixels a
/// module, with the standard four-module quiet zone. `None` when the text is too long for a
/// QR code.
pub(crate) fn qr_pixels(text: &str, scale: u32) -> Option<(u32, Vec<u8>)> {
    let code = QrCode::with_error_correction_level(text.as_bytes(), EcLevel::M).ok()?;
    let modules = u32::try_from(code.width()).ok()?;
    let colours = code.to_colors();
    let side = (modules + 2 * QUIET_ZONE) * scale;
    let mut rgb = vec![0xFF; usize::try_from(side * side * 3).ok()?];
    for (i, colour) in colours.iter().enumerate() {
        if *colour != qrcode::Color::Dark {
            continue;
        }
        let i = u32::try_from(i).ok()?;
        let (mx, my) = (i % modules + QUIET_ZONE, i / modules + QUIET_ZONE);
        for y in my * scale..(my + 1) * scale {
            for x in mx * scale..(mx + 1) * scale {
                let at = usize::try_from((y * side + x) * 3).ok()?;
                rgb[at..at + 3].fill(0);
            }
        }
    }
    Some((side, rgb))
}

/// The dark modules of `text`'s QR code as (column, row), and the width in modules (for the
/// PDF, which draws them as squares).
pub(crate) fn qr_modules(text: &str) -> Option<(u32, Vec<(u32, u32)>)> {
    let code = QrCode::with_error_correction_level(text.as_bytes(), EcLevel::M).ok()?;
    let modules = u32::try_from(code.width()).ok()?;
    let dark = code
        .to_colors()
        .iter()
        .enumerate()
        .filter(|(_, c)| **c == qrcode::Color::Dark)
        .filter_map(|(i, _)| u32::try_from(i).ok())
        .map(|i| (i % modules, i / modules))
        .collect();
    Some((modules, dark))
}

/// The first line of every receipt text: what it is, and its format's version.
const HEADER: &str = "SOFTPOS RECEIPT 1";
const LABEL: &[u8] = b"softpos receipt code";
/// Modules of white around a QR code (ISO/IEC 18004 §6.3.8).
const QUIET_ZONE: u32 = 4;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::ReceiptHeader;

    fn receipt() -> Receipt {
        Receipt {
            header: ReceiptHeader {
                merchant_name: "Demo Merchant".into(),
                merchant_location: "Zurich".into(),
                merchant_id: "MERCHANT0000001".into(),
                terminal_id: "T0000001".into(),
                currency_exponent: 2,
            },
            id: 12,
            kind: TxKind::Sale,
            date_time: "2026-12-03 14:16:34 UTC".into(),
            masked_pan: Some(emv::pan::MaskedPan::from_digits("4761739001010119")),
            card_label: Some("VISA DEBIT".into()),
            aid: Some("A0000000031010".into()),
            entry_mode: None,
            cvm: None,
            amount: 1357,
            tip: 123,
            currency: 978,
            auth_code: Some("123456".into()),
            stan: Some(7),
            rrn: None,
            response_code: Some("00".into()),
            response_text: None,
            outcome: "APPROVED",
            tvr: None,
            tsi: None,
        }
    }

    #[test]
    fn the_signed_text_holds_the_last_four_only_and_verifies() {
        let key = ReceiptKey::derive(&AesKey::from_bytes_128([7; 16]));
        let text = key.sign(&receipt());
        assert!(text.starts_with("SOFTPOS RECEIPT 1\nDemo Merchant\nTID T0000001 #12\n"));
        assert!(text.contains("SALE EUR 13.57\nVISA DEBIT ****0119\nAPPROVED AUTH 123456\n"));
        assert!(!text.contains("476173"), "{text}");
        assert!(key.verify(&text), "{text}");
        // Altered, or signed by another terminal: refused.
        assert!(!key.verify(&text.replace("13.57", "18.57")));
        let other = ReceiptKey::derive(&AesKey::from_bytes_128([8; 16]));
        assert!(!other.verify(&text));
        assert!(!key.verify("SOFTPOS RECEIPT 1\n"));
        let tag = text.rsplit("MAC ").next().unwrap_or_default();
        assert_eq!(tag.len(), "9F1C-2A7B-5D3E-4F60".len(), "{tag}");
    }

    #[test]
    fn the_qr_code_has_a_quiet_zone_and_dark_modules() {
        let key = ReceiptKey::derive(&AesKey::from_bytes_128([7; 16]));
        let text = key.sign(&receipt());
        let (side, rgb) = qr_pixels(&text, 3).expect("fits a QR code");
        assert_eq!(rgb.len(), usize::try_from(side * side * 3).unwrap_or(0));
        // The quiet zone's first rows are white; the finder pattern's corner is dark.
        assert!(
            rgb[..usize::try_from(side * 3 * 12).unwrap_or(0)]
                .iter()
                .all(|b| *b == 0xFF)
        );
        let corner = usize::try_from(((4 * 3) * side + 4 * 3) * 3).unwrap_or(0);
        assert_eq!(&rgb[corner..corner + 3], &[0, 0, 0]);
        let (modules, dark) = qr_modules(&text).expect("fits a QR code");
        assert_eq!(side, (modules + 8) * 3);
        assert!(dark.contains(&(0, 0)) && !dark.is_empty());
        assert!(qr_pixels(&"x".repeat(4000), 1).is_none());
    }
}
