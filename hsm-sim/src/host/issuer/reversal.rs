//! Voids and reversals against the ledger: find the original named in DE 90, apply the rule
//! ([`rules::void`], [`rules::reversal`]) and undo the original once.

use rusqlite::Connection;

use super::rules;
use super::store::{self, Row};
use super::{Outcome, Request, response};
use crate::host::HostError;

/// A void of a purchase (or of a refund, `of_refund`).
pub(super) fn void(
    tx: &Connection,
    request: &Request,
    of_refund: bool,
) -> Result<Outcome, HostError> {
    let original = store::find_original(tx, request)?;
    let code = rules::void(original.as_ref(), of_refund);
    if let (rules::APPROVED, Some(o)) = (code, &original) {
        store::undo(tx, o)?;
    }
    let id = store::insert_row(
        tx,
        &Row {
            request,
            account_id: original.as_ref().and_then(|o| o.account_id),
            code,
            approved: code == rules::APPROVED,
            original_id: original.as_ref().map(|o| o.id),
            completion: false,
        },
    )?;
    Ok(Outcome {
        message: response(&request.message, code),
        transaction_id: Some(id),
    })
}

/// A reversal (0400/0420 and repeats): always acknowledged, the original undone once.
pub(super) fn reversal(tx: &Connection, request: &Request) -> Result<Outcome, HostError> {
    let original = store::find_original(tx, request)?;
    let changed = match &original {
        Some(o) => store::undo(tx, o)?,
        None => false,
    };
    if original.is_none() && request.original.is_some() {
        tracing::info!(stan = %request.key.stan, "reversal of an unknown transaction: acknowledged");
        // Remembered, so that an original arriving after its reversal is not approved.
        store::remember_early_reversal(tx, request)?;
    }
    // Every 0410 acknowledges the reversal; its code says what there was to undo, so that the
    // terminal counts at settlement exactly what the host counts (`docs/iso8583.md` §4).
    let code = rules::reversal(original.as_ref());
    let id = store::insert_row(
        tx,
        &Row {
            request,
            account_id: original.as_ref().and_then(|o| o.account_id),
            code,
            approved: changed,
            original_id: original.as_ref().map(|o| o.id),
            completion: false,
        },
    )?;
    Ok(Outcome {
        message: response(&request.message, code),
        transaction_id: Some(id),
    })
}
