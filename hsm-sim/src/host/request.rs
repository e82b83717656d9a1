//! From a decoded message to the issuer's [`Request`]: the request kind (MTI and processing
//! code), the mandatory elements, DE 55 (parsed with `emv::tlv`), and the PIN and ARQC checks
//! through the security module. The MAC was checked before (`server.rs`); a failure here is a
//! DE 39 code answered without touching the ledger.

use std::collections::HashMap;

use emv::crypto::cryptogram::{CryptogramInput, CryptogramVersion};
use emv::tlv::{Tag, Tlv};
use zeroize::Zeroizing;

use super::enrol::TerminalRecord;
use super::issuer::{
    ChipOutcome, IdempotencyKey, OriginalReference, OwnedCardReference, PinOutcome, Request,
    RequestKind,
};
use super::security::{CardKeyReference, SecurityError, SecurityModule};
use crate::iso8583::{Message, Mti};

/// Checks mandatory fields, PIN and ARQC (the MAC was checked before); `Err(code)` answers
/// without touching the ledger.
pub(super) fn validate(
    security: &dyn SecurityModule,
    pin_verification_values: &HashMap<String, Zeroizing<Vec<u8>>>,
    message: Message,
    key: IdempotencyKey,
    record: Option<&TerminalRecord>,
    mac_ksn: Option<[u8; 12]>,
) -> Result<Request, &'static str> {
    let mti = message.mti().original();
    let processing = message.text(3).and_then(|p| p.get(..2));
    let verification = message.text(25) == Some(POS_CONDITION_ACCOUNT_VERIFICATION);
    let kind = match (mti, processing) {
        (Mti::AUTHORIZATION_REQUEST, Some("00")) if verification => {
            RequestKind::AccountVerification
        }
        (Mti::AUTHORIZATION_REQUEST, Some("00")) => RequestKind::Authorization,
        (Mti::FINANCIAL_REQUEST, Some("00")) => RequestKind::Purchase,
        (Mti::FINANCIAL_REQUEST, Some("20")) => RequestKind::Refund,
        (Mti::FINANCIAL_REQUEST, Some("02")) => RequestKind::Void { of_refund: false },
        (Mti::FINANCIAL_REQUEST, Some("22")) => RequestKind::Void { of_refund: true },
        (Mti::FINANCIAL_ADVICE, Some("00")) => RequestKind::Advice,
        (Mti::REVERSAL_REQUEST | Mti::REVERSAL_ADVICE, _) => RequestKind::Reversal,
        (Mti::RECONCILIATION_REQUEST, _) => RequestKind::Reconciliation,
        (_, None) => return Err("30"),
        _ => return Err("12"),
    };
    if message.has(52) {
        return Err("30");
    }
    let needs: &[u8] = match kind {
        RequestKind::Authorization
        | RequestKind::AccountVerification
        | RequestKind::Purchase
        | RequestKind::Refund
        | RequestKind::Advice => &[3, 4, 22, 49],
        RequestKind::Void { .. } => &[3, 90],
        RequestKind::Reversal => &[90],
        RequestKind::Reconciliation => &[74, 75, 76, 77, 86, 87, 88, 89, 97],
    };
    if needs.iter().any(|&n| !message.has(n)) {
        return Err("30");
    }
    let ksn = match message.field(63) {
        Some(k) => Some(<[u8; 12]>::try_from(k).map_err(|_| "30")?),
        None => None,
    };
    if let (Some(k), Some(r)) = (&ksn, record)
        && !r.is_pin_key(k)
    {
        // Key separation: a PIN block under any key but the terminal's PIN key (its MAC key,
        // say) is refused.
        tracing::warn!("DE 63 does not name the terminal's PIN key");
        return Err("30");
    }
    let pan = pan(&message);
    let money = matches!(
        kind,
        RequestKind::Authorization
            | RequestKind::AccountVerification
            | RequestKind::Purchase
            | RequestKind::Refund
            | RequestKind::Advice
    );
    if money && pan.is_none() {
        return Err("30");
    }
    let amount = message
        .text(4)
        .map_or(Ok(0), str::parse::<i64>)
        .map_err(|_| "30")?;
    let original = message.text(90).map(|o| OriginalReference {
        mti: o.get(..4).unwrap_or_default().to_owned(),
        stan: o.get(4..10).unwrap_or_default().to_owned(),
        transmission: o.get(10..20).unwrap_or_default().to_owned(),
    });
    let icc = match message.field(55) {
        Some(data) => Some(parse_icc(data).ok_or("30")?),
        None => None,
    };
    let pin = match (message.field(62), &pan) {
        (None, _) => PinOutcome::Absent,
        (Some(_), _)
            if !matches!(
                kind,
                RequestKind::Authorization
                    | RequestKind::AccountVerification
                    | RequestKind::Purchase
            ) =>
        {
            return Err("30");
        }
        (Some(block), Some(pan)) => {
            let block = <[u8; 16]>::try_from(block).map_err(|_| "30")?;
            let ksn = ksn.ok_or("30")?;
            match pin_verification_values.get(pan.as_str()) {
                None => PinOutcome::Absent, // unknown card: declined 14 by the issuer
                Some(pvv) => match security.verify_pin(&ksn, &block, pan, pvv) {
                    Ok(true) => PinOutcome::Correct,
                    Ok(false) | Err(SecurityError::Rejected(_)) => PinOutcome::Wrong,
                    Err(SecurityError::Replayed) => PinOutcome::Replayed,
                    Err(e) => {
                        tracing::warn!(error = %e, "PIN verification unavailable");
                        PinOutcome::Unavailable
                    }
                },
            }
        }
        (Some(_), None) => return Err("30"),
    };
    let chip = match (&icc, &pan) {
        (None, _) => ChipOutcome::Absent,
        (Some(icc), Some(pan)) => check_chip(security, &message, icc, pan)?,
        (Some(_), None) => return Err("30"),
    };
    let expiry = message
        .text(14)
        .map(str::to_owned)
        .or_else(|| track2_expiry(&message))
        .or_else(|| {
            icc.as_ref()
                .and_then(|i| tag(i, 0x5F24))
                .map(|v| hex::encode(v.get(..2).unwrap_or_default()))
        });
    let entry_mode = message.text(22).unwrap_or("");
    let contactless = entry_mode.starts_with("07") || entry_mode.starts_with("91");
    let consumer_device_cvm = icc.as_ref().is_some_and(|i| {
        tag(i, 0x9F6C)
            .and_then(|v| v.get(1))
            .is_some_and(|b| b & 0x80 != 0)
            || tag(i, 0x9F34)
                .and_then(|v| v.first())
                .is_some_and(|b| b & 0x3F == 0x01)
    });
    Ok(Request {
        message,
        key,
        kind,
        pan,
        amount,
        expiry,
        contactless,
        consumer_device_cvm,
        pin,
        chip,
        ksn,
        mac_ksn,
        original,
    })
}

fn check_chip(
    security: &dyn SecurityModule,
    message: &Message,
    icc: &[Tlv],
    pan: &str,
) -> Result<ChipOutcome, &'static str> {
    let fixed = |t: u32, n: usize| -> Result<Vec<u8>, &'static str> {
        tag(icc, t)
            .filter(|v| v.len() == n)
            .map(<[u8]>::to_vec)
            .ok_or("30")
    };
    let arqc: [u8; 8] = fixed(0x9F26, 8)?.try_into().map_err(|_| "30")?;
    let atc_bytes: [u8; 2] = fixed(0x9F36, 2)?.try_into().map_err(|_| "30")?;
    let aid = tag(icc, 0x84)
        .or_else(|| tag(icc, 0x4F))
        .filter(|a| a.len() >= 5)
        .ok_or("30")?;
    let rid = aid.get(..5).unwrap_or_default().to_vec();
    let iad = tag(icc, 0x9F10).unwrap_or_default();
    let psn = match tag(icc, 0x5F34).and_then(|v| v.first()) {
        Some(p) => *p,
        // DE 23 is n3 decimal; the key derivation takes 5F34's BCD byte.
        None => message
            .text(23)
            .and_then(|s| s.parse::<u8>().ok())
            .map_or(0, |d| ((d / 10 % 10) << 4) | (d % 10)),
    };
    let Some(version) = cryptogram_version(&rid, iad) else {
        return Err("30");
    };
    let card = OwnedCardReference {
        rid: rid.clone(),
        pan_sequence_number: psn,
        version,
    };
    let atc = u16::from_be_bytes(atc_bytes);
    let input = CryptogramInput {
        amount: fixed(0x9F02, 6)?.try_into().map_err(|_| "30")?,
        amount_other: tag(icc, 0x9F03)
            .and_then(|v| <[u8; 6]>::try_from(v).ok())
            .unwrap_or([0; 6]),
        terminal_country: fixed(0x9F1A, 2)?.try_into().map_err(|_| "30")?,
        tvr: fixed(0x95, 5)?.try_into().map_err(|_| "30")?,
        currency: fixed(0x5F2A, 2)?.try_into().map_err(|_| "30")?,
        date: fixed(0x9A, 3)?.try_into().map_err(|_| "30")?,
        transaction_type: *fixed(0x9C, 1)?.first().ok_or("30")?,
        unpredictable_number: fixed(0x9F37, 4)?.try_into().map_err(|_| "30")?,
        aip: fixed(0x82, 2)?.try_into().map_err(|_| "30")?,
        atc: atc_bytes,
        issuer_application_data: iad,
    };
    let reference = CardKeyReference {
        rid: &rid,
        pan,
        pan_sequence_number: psn,
        version,
    };
    Ok(match security.verify_arqc(&reference, &input, arqc) {
        // An advice's TC (or the ARQC of a sale the terminal approved while the host was
        // down) is computed exactly like an ARQC (Book 2 §8.1), so it is checked the same
        // way; the issuer decides what a bad one means (`issuer::advice`).
        Ok(valid) => {
            if !valid {
                tracing::warn!("application cryptogram verification failed");
            }
            ChipOutcome::Checked {
                valid,
                atc,
                arqc,
                card,
            }
        }
        Err(e) => {
            tracing::warn!(error = %e, "ARQC verification unavailable");
            ChipOutcome::Unavailable
        }
    })
}

/// The cryptogram version from the RID and the IAD (`9F10`, read by
/// [`CryptogramVersion::from_issuer_application_data`]); UnionPay uses the EMV common session
/// key. Visa defaults to CVN 18 and Mastercard to CVN 16 when the IAD does not say.
pub(crate) fn cryptogram_version(rid: &[u8], iad: &[u8]) -> Option<CryptogramVersion> {
    let from_iad = CryptogramVersion::from_issuer_application_data(iad);
    match rid {
        [0xA0, 0x00, 0x00, 0x00, 0x03] => Some(from_iad.unwrap_or(CryptogramVersion::VisaCvn18)),
        [0xA0, 0x00, 0x00, 0x00, 0x04] => {
            Some(from_iad.unwrap_or(CryptogramVersion::MastercardCvn16))
        }
        [0xA0, 0x00, 0x00, 0x03, 0x33] => Some(CryptogramVersion::EmvCsk),
        _ => None,
    }
}

/// Parses DE 55 as a flat list of primitive BER-TLV objects (EMV Book 3 Annex B, with
/// [`emv::tlv::parse`]); `None` if malformed or if it holds a template.
fn parse_icc(data: &[u8]) -> Option<Vec<Tlv>> {
    let list = emv::tlv::parse(data).ok()?;
    list.iter().all(|t| t.bytes().is_some()).then_some(list)
}

fn tag(icc: &[Tlv], t: u32) -> Option<&[u8]> {
    emv::tlv::find(icc, Tag::new(t)).and_then(Tlv::bytes)
}

/// The PAN from DE 2, or from track 2 (DE 35) up to its separator.
fn pan(message: &Message) -> Option<Zeroizing<String>> {
    if let Some(p) = message.text(2) {
        return Some(Zeroizing::new(p.to_owned()));
    }
    let track2 = message.text(35)?;
    let end = track2.find(['=', 'D'])?;
    track2.get(..end).map(|p| Zeroizing::new(p.to_owned()))
}

fn track2_expiry(message: &Message) -> Option<String> {
    let track2 = message.text(35)?;
    let sep = track2.find(['=', 'D'])?;
    track2.get(sep + 1..sep + 5).map(str::to_owned)
}

/// DE 25 of an account verification (zero-amount card check), as Visa and most acquirers
/// use it: "request for account number verification without authorization".
const POS_CONDITION_ACCOUNT_VERIFICATION: &str = "51";
