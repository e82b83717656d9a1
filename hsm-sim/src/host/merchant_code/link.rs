//! A merchant's-code payment on the ISO 8583 link: the terminal's 0200 names the payment in
//! DE 105 (`docs/iso8583.md`); the host puts the confirming wallet's account in DE 2 and, once
//! the issuer has answered, marks the payment paid or declined. A reversal or a void of that
//! 0200, once approved, marks it reversed.

use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use emv::qr::{MERCHANT_CODE_FIELD, OFFLINE_CODE_FIELD};

use super::MerchantCodes;
use crate::host::wallets;
use crate::iso8583::{Message, Mti};

/// The payment's reference when `message` carries DE 105, with DE 2 set to the account of the
/// wallet that confirmed it; `Ok(None)` without DE 105. `Err` is the DE 39 to answer: `30` for
/// a request other than a 0200 or one that also carries card data, `12` for a payment that is not
/// this terminal's, not of DE 4's amount, not confirmed, or completed by another 0200, `57`
/// when the wallet has no account, `91` when its registry cannot be read.
pub(crate) fn resolve(
    codes: &MerchantCodes,
    data_dir: &Path,
    message: &mut Message,
    terminal_id: &str,
) -> Result<Option<String>, &'static str> {
    let Some(reference) = message.text(MERCHANT_CODE_FIELD).map(str::to_owned) else {
        return Ok(None);
    };
    // Only a purchase (0200) completes a payment, and it carries no card of its own.
    if message.mti() != Mti::FINANCIAL_REQUEST
        || [2, 35, 55, OFFLINE_CODE_FIELD]
            .into_iter()
            .any(|f| message.has(f))
    {
        return Err("30");
    }
    let amount = message
        .text(4)
        .and_then(|a| a.parse::<u64>().ok())
        .ok_or("30")?;
    let request = format!(
        "{}/{}",
        message.text(11).ok_or("30")?,
        message.text(7).ok_or("30")?
    );
    let wallet = codes
        .resolve(terminal_id, &reference, amount, &request, now())
        .map_err(|e| {
            tracing::warn!(error = %e, "merchant's-code payment refused");
            "12"
        })?;
    let record = match wallets::load(data_dir, &wallet) {
        Ok(Some(record)) => record,
        Ok(None) => return Err("57"),
        Err(e) => {
            tracing::error!(error = %e, "wallet registry unreadable");
            return Err("91");
        }
    };
    let account = record.accounts.first().cloned().ok_or("57")?;
    message.set(2, account);
    Ok(Some(reference))
}

/// The issuer answered `reply` to the 0200 of payment `reference`: the payment is paid or
/// declined accordingly (a reply that does not decode leaves it confirmed).
pub(crate) fn complete(codes: &MerchantCodes, terminal_id: &str, reference: &str, reply: &[u8]) {
    let Ok(answer) = Message::decode(reply) else {
        return;
    };
    if let Some(code) = answer.text(39) {
        codes.complete(terminal_id, reference, code, now());
    }
}

/// The request (`DE 11/DE 7`, as [`resolve`] binds it) that `message` undoes: the original
/// named in DE 90 of a reversal (0400, 0420 and their repeats) or of a void (0200 with
/// processing code `02`).
pub(crate) fn undoes(message: &Message) -> Option<String> {
    let mti = message.mti().original();
    let undoing = matches!(mti, Mti::REVERSAL_REQUEST | Mti::REVERSAL_ADVICE)
        || (mti == Mti::FINANCIAL_REQUEST
            && message.text(3).and_then(|p| p.get(..2)) == Some("02"));
    if !undoing {
        return None;
    }
    // DE 90: original MTI (4), STAN (6), transmission date and time (10), …
    let original = message.text(90)?;
    Some(format!(
        "{}/{}",
        original.get(4..10)?,
        original.get(10..20)?
    ))
}

/// The host approved `reply` to a reversal or void of `original`: the merchant's-code payment
/// that request completed is reversed.
pub(crate) fn reverse(codes: &MerchantCodes, terminal_id: &str, original: &str, reply: &[u8]) {
    let approved = Message::decode(reply).is_ok_and(|answer| answer.text(39) == Some("00"));
    if approved && let Some(reference) = codes.reverse(terminal_id, original) {
        tracing::info!(%reference, "merchant's-code payment reversed");
    }
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
