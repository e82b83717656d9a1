//! Authorizations, purchases, account verifications and refunds against the ledger: load the
//! account, apply the rule ([`rules::authorize`], [`rules::refund`]), store the effect, and
//! answer with DE 38 and the ARPC.

use rusqlite::Connection;

use super::rules::{self, AuthorizationFacts, Chip};
use super::store::{self, Row};
use super::{ChipOutcome, Outcome, Request, RequestKind, response};
use crate::host::HostError;
use crate::host::security::{CardKeyReference, SecurityModule};

/// An authorization, purchase or account verification.
pub(super) fn authorize(
    tx: &Connection,
    security: &dyn SecurityModule,
    request: &Request,
) -> Result<Outcome, HostError> {
    let pan = request.pan_digits();
    let found = store::account(tx, pan)?;
    let pin_ksn = match (&found, &request.ksn) {
        (Some(_), Some(ksn)) => Some(store::ksn_facts(tx, ksn)?),
        _ => None,
    };
    let facts = AuthorizationFacts {
        verification: request.kind == RequestKind::AccountVerification,
        amount: request.amount,
        expiry: request.expiry.clone(),
        contactless: request.contactless,
        consumer_device_cvm: request.consumer_device_cvm,
        pin: request.pin,
        chip: chip(&request.chip),
        pin_ksn,
        today: super::today(),
    };
    let decision = rules::authorize(found, &facts);
    if let (true, Some(ksn)) = (decision.record_ksn, &request.ksn) {
        store::record_ksn(tx, ksn)?;
    }
    if let Some(a) = &decision.account {
        store::save_account(tx, a)?;
    }
    let code = decision.code;
    // An account verification is "approved" with 85 (no reason to decline): nothing is held.
    let approved = decision.approved();
    let id = store::insert_row(
        tx,
        &Row {
            request,
            account_id: decision.account.as_ref().map(|a| a.id),
            code,
            approved,
            original_id: None,
            completion: false,
        },
    )?;
    let mut message = response(&request.message, code);
    if approved {
        message.set(38, authorization_code(id));
    }
    if let ChipOutcome::Checked {
        valid: true,
        atc,
        arqc,
        card,
    } = &request.chip
    {
        let reference = CardKeyReference {
            rid: &card.rid,
            pan,
            pan_sequence_number: card.pan_sequence_number,
            version: card.version,
        };
        let arc = [
            code.as_bytes().first().copied().unwrap_or(b'0'),
            code.as_bytes().get(1).copied().unwrap_or(b'0'),
        ];
        match security.issuer_authentication_data(&reference, atc.to_be_bytes(), *arqc, arc) {
            Ok(data) => {
                message.set(
                    55,
                    emv::tlv::encode_primitive(emv::tlv::Tag::new(0x91), &data),
                );
            }
            Err(e) => tracing::warn!(error = %e, "no ARPC"),
        }
    }
    Ok(Outcome {
        message,
        transaction_id: Some(id),
    })
}

/// A refund: credited when the rule approves it. One that names its sale in DE 90 must also
/// pass [`rules::refund_of`] (same card, refunds of the sale never above it).
pub(super) fn refund(tx: &Connection, request: &Request) -> Result<Outcome, HostError> {
    let found = store::account(tx, request.pan_digits())?;
    let mut code = rules::refund(found.as_ref(), request.amount);
    let mut original_id = None;
    if code == rules::APPROVED && request.original.is_some() {
        let original = store::find_original(tx, request)?;
        let refunded = match &original {
            Some(o) => store::refunded(tx, o.id)?,
            None => 0,
        };
        code = rules::refund_of(original.as_ref(), refunded, request.amount);
        if let Some(o) = &original {
            if o.account_id != found.as_ref().map(|a| a.id) {
                tracing::warn!("refund names a sale of another card");
                code = "12";
            }
            original_id = Some(o.id);
        }
    }
    let approved = code == rules::APPROVED;
    if let (true, Some(a)) = (approved, &found) {
        store::credit(tx, a.id, request.amount)?;
    }
    let id = store::insert_row(
        tx,
        &Row {
            request,
            account_id: found.as_ref().map(|a| a.id),
            code,
            approved,
            original_id,
            completion: false,
        },
    )?;
    let mut message = response(&request.message, code);
    if approved {
        message.set(38, authorization_code(id));
    }
    Ok(Outcome {
        message,
        transaction_id: Some(id),
    })
}

/// An original that arrives after its reversal: declined `05` and recorded, never approved.
pub(super) fn late_original(tx: &Connection, request: &Request) -> Result<Outcome, HostError> {
    tracing::warn!(stan = %request.key.stan, "original arrived after its reversal: declined");
    let account_id = store::account(tx, request.pan_digits())?.map(|a| a.id);
    let id = store::insert_row(
        tx,
        &Row {
            request,
            account_id,
            code: "05",
            approved: false,
            original_id: None,
            completion: false,
        },
    )?;
    Ok(Outcome {
        message: response(&request.message, "05"),
        transaction_id: Some(id),
    })
}

/// The ARQC check's outcome as the rules see it.
pub(super) fn chip(outcome: &ChipOutcome) -> Chip {
    match outcome {
        ChipOutcome::Absent => Chip::Absent,
        ChipOutcome::Unavailable => Chip::Unavailable,
        ChipOutcome::Checked { valid, atc, .. } => Chip::Checked {
            valid: *valid,
            atc: *atc,
        },
    }
}

/// DE 38 of an approval: six digits of the transaction id.
fn authorization_code(id: i64) -> String {
    format!("{:06}", id % 1_000_000)
}
