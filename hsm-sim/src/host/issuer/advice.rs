//! Advices (0220/0221) against the ledger: an offline approval or the completion of a 0100,
//! acknowledged `00` once recorded and posted by [`rules::post_advice`].

use rusqlite::Connection;

use super::authorize::chip;
use super::rules;
use super::store::{self, Row};
use super::{ChipOutcome, Outcome, Request, response};
use crate::host::HostError;

/// An advice: a completion releases its 0100's hold and posts the advice's amount instead.
pub(super) fn advice(tx: &Connection, request: &Request) -> Result<Outcome, HostError> {
    let original = store::find_original(tx, request)?;
    let completion = original.as_ref().is_some_and(|o| o.kind == "authorization");
    if let Some(o) = original.as_ref().filter(|_| completion) {
        // The hold of the 0100 is released and replaced by the advice's amount.
        store::undo(tx, o)?;
    }
    // Read the account after the release, or saving it would put the hold back.
    let found = store::account(tx, request.pan_digits())?;
    // A cryptogram that does not verify is not the card's offline approval (a forged or
    // altered advice): acknowledged, so the terminal stops repeating it, recorded, and not
    // posted. It then shows as a difference at reconciliation, as it would for the acquirer.
    if matches!(request.chip, ChipOutcome::Checked { valid: false, .. }) {
        tracing::warn!("advice with a cryptogram that does not verify: recorded, not posted");
    }
    let posted = rules::post_advice(found.as_ref(), request.amount, chip(&request.chip));
    if let Some(a) = &posted {
        store::save_account(tx, a)?;
    }
    let id = store::insert_row(
        tx,
        &Row {
            request,
            account_id: found.as_ref().map(|a| a.id),
            code: rules::APPROVED,
            approved: posted.is_some(),
            original_id: original.as_ref().map(|o| o.id),
            completion,
        },
    )?;
    Ok(Outcome {
        message: response(&request.message, rules::APPROVED),
        transaction_id: Some(id),
    })
}
