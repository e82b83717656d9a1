//! The ISO 8583 requests the engine sends, field by field as `docs/iso8583.md` §4 lists them.

use emv::iso8583::{Message, Mti};
use emv::kernel::OnlineRequestData;
use emv::pan::Pan;

use crate::journal::TxRecord;
use crate::pinpad::EncryptedPin;

/// Terminal-wide fields.
#[derive(Debug, Clone)]
pub(crate) struct Terminal<'a> {
    pub(crate) terminal_id: &'a str,
    pub(crate) merchant_id: &'a str,
    pub(crate) currency: u16,
}

/// A chip request (0100 authorization or 0200 purchase/refund) from the kernel's online data
/// (`docs/iso8583.md` §4; DE 55 per §4 "DE 55 in requests").
#[allow(clippy::too_many_arguments)]
pub(crate) fn chip_request(
    t: &Terminal<'_>,
    mti: Mti,
    processing: &str,
    amount: u64,
    stan: u32,
    transmission: &str,
    online: &OnlineRequestData,
    pin: Option<&EncryptedPin>,
) -> Message {
    let mut m = base(t, mti, processing, amount, stan, transmission)
        .with(2, online.pan.expose_digits())
        .with(22, POS_ENTRY_CONTACTLESS_CHIP)
        .with(55, online.icc_data.clone());
    if online.expiry_yymm.len() == 4 {
        m.set(14, online.expiry_yymm.as_str());
    }
    if let Some(psn) = online.pan_sequence_number {
        // 5F34 is one BCD byte.
        m.set(23, psn_field(psn));
    }
    if let Some(track2) = &online.track2 {
        let de35 = track2.expose_de35();
        m.set(35, de35.as_bytes());
    }
    if let Some(pin) = pin {
        m.set(62, pin.pin_block.to_vec());
        m.set(63, pin.ksn.to_vec());
    }
    m
}

/// A completion of a pre-authorization: 0220 naming the 0100 in DE 90.
pub(crate) fn completion(
    t: &Terminal<'_>,
    mti: Mti,
    amount: u64,
    stan: u32,
    transmission: &str,
    pan: &Pan,
    original: &TxRecord,
) -> Message {
    base(t, mti, PROCESSING_PURCHASE, amount, stan, transmission)
        .with(2, pan.expose_digits())
        .with(22, POS_ENTRY_CONTACTLESS_CHIP)
        .with(90, original_data(original))
}

/// A store-and-forward advice (0220, or 0221 for a repeat) of an offline approval.
#[allow(clippy::too_many_arguments)]
pub(crate) fn advice(
    t: &Terminal<'_>,
    repeat: bool,
    amount: u64,
    stan: u32,
    transmission: &str,
    pan: &Pan,
    icc_data: &[u8],
    expiry: Option<&str>,
    psn: Option<u8>,
) -> Message {
    let mti = if repeat {
        Mti::FINANCIAL_ADVICE_REPEAT
    } else {
        Mti::FINANCIAL_ADVICE
    };
    let mut m = base(t, mti, PROCESSING_PURCHASE, amount, stan, transmission)
        .with(2, pan.expose_digits())
        .with(22, POS_ENTRY_CONTACTLESS_CHIP)
        .with(55, icc_data.to_vec());
    if let Some(e) = expiry.filter(|e| e.len() == 4) {
        m.set(14, e);
    }
    if let Some(psn) = psn {
        m.set(23, psn_field(psn));
    }
    m
}

/// A void of `original` (0200, `020000` or `220000` for a refund, DE 90).
pub(crate) fn void(
    t: &Terminal<'_>,
    stan: u32,
    transmission: &str,
    original: &TxRecord,
) -> Message {
    let processing = if original.processing.as_deref() == Some(PROCESSING_REFUND) {
        PROCESSING_VOID_REFUND
    } else {
        PROCESSING_VOID_PURCHASE
    };
    let mut m = Message::new(Mti::FINANCIAL_REQUEST)
        .with(3, processing)
        .with(4, format!("{:012}", original.amount))
        .with(7, transmission)
        .with(11, format!("{stan:06}"))
        .with(41, t.terminal_id)
        .with(42, merchant(t.merchant_id))
        .with(49, format!("{:03}", t.currency))
        .with(90, original_data(original));
    m.set_mti(Mti::FINANCIAL_REQUEST);
    m
}

/// A reversal (0400, or 0401 for a repeat) of `original` with the reversal's own DE 11 and
/// DE 7 (the same for every repeat, `docs/iso8583.md` §7).
pub(crate) fn reversal(
    t: &Terminal<'_>,
    repeat: bool,
    stan: u32,
    transmission: &str,
    original: &TxRecord,
) -> Message {
    let mti = if repeat {
        Mti::REVERSAL_REQUEST_REPEAT
    } else {
        Mti::REVERSAL_REQUEST
    };
    Message::new(mti)
        .with(
            3,
            original
                .processing
                .clone()
                .unwrap_or_else(|| PROCESSING_PURCHASE.to_owned()),
        )
        .with(4, format!("{:012}", original.amount))
        .with(7, transmission)
        .with(11, format!("{stan:06}"))
        .with(41, t.terminal_id)
        .with(42, merchant(t.merchant_id))
        .with(49, format!("{:03}", t.currency))
        .with(90, original_data(original))
}

/// DE 90 naming `original`: MTI ‖ DE 11 ‖ DE 7 ‖ 22 zeros (`docs/iso8583.md` §3).
pub(crate) fn original_data(original: &TxRecord) -> String {
    format!(
        "{}{:06}{}{}",
        original.mti.as_deref().unwrap_or("0200"),
        original.stan.unwrap_or(0),
        original.transmission.as_deref().unwrap_or("0000000000"),
        "0".repeat(22)
    )
}

fn base(
    t: &Terminal<'_>,
    mti: Mti,
    processing: &str,
    amount: u64,
    stan: u32,
    transmission: &str,
) -> Message {
    Message::new(mti)
        .with(3, processing)
        .with(4, format!("{amount:012}"))
        .with(7, transmission)
        .with(11, format!("{stan:06}"))
        .with(12, transmission.get(4..).unwrap_or("000000"))
        .with(13, transmission.get(..4).unwrap_or("0101"))
        .with(41, t.terminal_id)
        .with(42, merchant(t.merchant_id))
        .with(49, format!("{:03}", t.currency))
}

/// DE 23 from `5F34` (one BCD byte).
fn psn_field(psn: u8) -> String {
    format!("{:03}", u16::from(psn >> 4) * 10 + u16::from(psn & 0x0F))
}

/// DE 42 is `ans15`, left-justified and space padded.
fn merchant(id: &str) -> String {
    format!("{:<15.15}", id)
}

/// DE 3 purchase.
pub(crate) const PROCESSING_PURCHASE: &str = "000000";
/// DE 3 refund.
pub(crate) const PROCESSING_REFUND: &str = "200000";
const PROCESSING_VOID_PURCHASE: &str = "020000";
const PROCESSING_VOID_REFUND: &str = "220000";
/// DE 22: contactless chip, PIN can be entered.
const POS_ENTRY_CONTACTLESS_CHIP: &str = "071";
/// DE 25 POS condition code `51`: account verification, no funds moved (a card check; the
/// host's `RequestKind::AccountVerification`).
pub(crate) const POS_CONDITION_ACCOUNT_VERIFICATION: &str = "51";
