//! The engine's requests, built by the one builder of each message type
//! (`emv::iso8583::messages`, `docs/iso8583.md` §4) from the kernel's online data and the
//! journal's records.

use emv::iso8583::messages::{self as build, CardData, Original, PinData};
use emv::iso8583::{Message, Mti};
use emv::kernel::OnlineRequestData;
use emv::pan::Pan;

use crate::journal::TxRecord;
use crate::pinpad::EncryptedPin;

pub(crate) use emv::iso8583::messages::{PROCESSING_PURCHASE, PROCESSING_REFUND, Terminal};

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
    let track2 = online.track2.as_ref().map(|t| t.expose_de35());
    let card = chip_card(online, track2.as_ref().map(|t| t.as_str()));
    let pin = pin.map(pin_data);
    build::financial(
        t,
        mti,
        processing,
        amount,
        stan,
        transmission,
        &card,
        pin.as_ref(),
    )
}

/// A card check from the kernel's online data: the zero-amount 0100 with DE 25 `51`
/// (`docs/iso8583.md` §4).
pub(crate) fn account_verification(
    t: &Terminal<'_>,
    stan: u32,
    transmission: &str,
    online: &OnlineRequestData,
    pin: Option<&EncryptedPin>,
) -> Message {
    let track2 = online.track2.as_ref().map(|t| t.expose_de35());
    let card = chip_card(online, track2.as_ref().map(|t| t.as_str()));
    let pin = pin.map(pin_data);
    build::account_verification(t, stan, transmission, &card, pin.as_ref())
}

/// A completion of a pre-authorization: 0220 (0221 repeat) naming the 0100 in DE 90.
pub(crate) fn completion(
    t: &Terminal<'_>,
    mti: Mti,
    amount: u64,
    stan: u32,
    transmission: &str,
    pan: &Pan,
    original: &TxRecord,
) -> Message {
    build::completion(
        t,
        mti,
        amount,
        stan,
        transmission,
        pan.expose_digits(),
        build::POS_ENTRY_CONTACTLESS_CHIP,
        &original_of(original),
    )
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
    let card = CardData {
        pan: pan.expose_digits(),
        entry_mode: build::POS_ENTRY_CONTACTLESS_CHIP,
        expiry_yymm: expiry,
        pan_sequence_number: psn,
        track2: None,
        icc_data: Some(icc_data),
    };
    build::financial(
        t,
        mti,
        PROCESSING_PURCHASE,
        amount,
        stan,
        transmission,
        &card,
        None,
    )
}

/// A void of `original` (0200, `020000` or `220000` for a refund, DE 90).
pub(crate) fn void(
    t: &Terminal<'_>,
    stan: u32,
    transmission: &str,
    original: &TxRecord,
) -> Message {
    build::void(t, stan, transmission, &original_of(original))
}

/// `request` naming `original` in DE 90 (a refund of a sale, `docs/iso8583.md` §4).
pub(crate) fn naming_original(request: Message, original: &TxRecord) -> Message {
    request.with(90, original_of(original).data_elements())
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
    build::reversal(t, mti, stan, transmission, &original_of(original))
}

/// The card fields of a chip request; `track2` is DE 35 as the caller holds it.
fn chip_card<'a>(online: &'a OnlineRequestData, track2: Option<&'a str>) -> CardData<'a> {
    CardData {
        pan: online.pan.expose_digits(),
        entry_mode: build::POS_ENTRY_CONTACTLESS_CHIP,
        expiry_yymm: Some(online.expiry_yymm.as_str()),
        pan_sequence_number: online.pan_sequence_number,
        track2,
        icc_data: Some(&online.icc_data),
    }
}

fn pin_data(pin: &EncryptedPin) -> PinData<'_> {
    PinData {
        pin_block: &pin.pin_block,
        ksn: &pin.ksn,
    }
}

/// The original a journal record names: its MTI, DE 11, DE 7, DE 3 and amount as sent (a
/// record from before those were journalled counts as a 0200 purchase).
fn original_of(record: &TxRecord) -> Original<'_> {
    Original {
        mti: record
            .mti
            .as_deref()
            .and_then(Mti::from_digits)
            .unwrap_or(Mti::FINANCIAL_REQUEST),
        stan: record.stan.unwrap_or(0),
        transmission: record.transmission.as_deref().unwrap_or("0000000000"),
        processing: record.processing.as_deref().unwrap_or(PROCESSING_PURCHASE),
        amount: record.amount,
    }
}
