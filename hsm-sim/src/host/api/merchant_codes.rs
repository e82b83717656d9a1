//! The terminal's routes for the merchant's code (`docs/qr-merchant-code.md` § Payment):
//! open a payment, wait on it, cancel it. Each needs the terminal's client certificate.
//!
//! - `POST /v1/merchant-codes` ([`CreatePayment`]) → [`PaymentView`] with the first token;
//! - `GET /v1/merchant-codes/{reference}?terminal_id=…&status=…&token=…&wait=…` → the payment
//!   as soon as its status or token differs from the ones given (a long poll: the terminal
//!   learns the customer's consent at once, and each new token when it rotates);
//! - `POST /v1/merchant-codes/{reference}/cancel` ([`CancelPayment`]) → the payment, cancelled
//!   unless it was already paid.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use emv::api::merchant_code::{
    CancelPayment, CreatePayment, MAX_WAIT_SECS, PaymentStatus, PaymentView, WaitQuery,
};

use super::{ApiError, ApiState, ClientCertificate};
use crate::host::merchant_code::{Refusal, Snapshot, Status};

pub(super) fn routes() -> Router<ApiState> {
    Router::new()
        .route("/v1/merchant-codes", post(create))
        .route("/v1/merchant-codes/{reference}", get(wait))
        .route("/v1/merchant-codes/{reference}/cancel", post(cancel))
}

/// The largest amount a code may carry (minor units): what fits DE 4.
const MAX_AMOUNT: u64 = 999_999_999_999;

/// An amount a payment can be opened for: above zero, and fitting DE 4.
pub(super) fn check_amount(amount: u64) -> Result<(), ApiError> {
    if amount == 0 || amount > MAX_AMOUNT {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "the amount must be above zero and fit twelve digits",
        ));
    }
    Ok(())
}

async fn create(
    State(state): State<ApiState>,
    certificate: ClientCertificate,
    Json(body): Json<CreatePayment>,
) -> Result<(StatusCode, Json<PaymentView>), ApiError> {
    certificate.check_terminal(&state, &body.terminal_id)?;
    check_amount(body.amount)?;
    let snapshot = state
        .server
        .merchant_codes()
        .create(&body.terminal_id, body.amount, body.currency, now())
        .map_err(ApiError::internal)?;
    tracing::info!(reference = %snapshot.reference, "merchant's-code payment opened");
    Ok((StatusCode::CREATED, Json(view(&snapshot))))
}

pub(super) async fn wait(
    State(state): State<ApiState>,
    certificate: ClientCertificate,
    Path(reference): Path<String>,
    Query(query): Query<WaitQuery>,
) -> Result<Json<PaymentView>, ApiError> {
    certificate.check_terminal(&state, &query.terminal_id)?;
    let codes = state.server.merchant_codes();
    let mut changes = codes
        .subscribe(&query.terminal_id, &reference)
        .map_err(refused)?;
    let deadline = Instant::now() + Duration::from_secs(query.wait.min(MAX_WAIT_SECS));
    loop {
        changes.borrow_and_update();
        let current = view(
            &codes
                .snapshot(&query.terminal_id, &reference, now())
                .map_err(refused)?,
        );
        let known = query.status == Some(current.status) && query.token == current.token;
        let left = deadline.saturating_duration_since(Instant::now());
        if !known || current.status.is_final() || left.is_zero() {
            return Ok(Json(current));
        }
        // Wake for a change, the next token, the payment's expiry or the end of the wait.
        let next = current.rotates_at.min(current.expires_at);
        let until_next = Duration::from_secs(next.saturating_sub(now())) + WAKE_MARGIN;
        tokio::select! {
            changed = changes.changed() => {
                if changed.is_err() {
                    return Err(refused(Refusal::Unknown));
                }
            }
            () = tokio::time::sleep(left.min(until_next)) => {}
        }
    }
}

/// Past a window's end before the new token is read, so that it is the new window's.
const WAKE_MARGIN: Duration = Duration::from_millis(20);

pub(super) async fn cancel(
    State(state): State<ApiState>,
    certificate: ClientCertificate,
    Path(reference): Path<String>,
    Json(body): Json<CancelPayment>,
) -> Result<Json<PaymentView>, ApiError> {
    certificate.check_terminal(&state, &body.terminal_id)?;
    let snapshot = state
        .server
        .merchant_codes()
        .cancel(&body.terminal_id, &reference, now())
        .map_err(refused)?;
    Ok(Json(view(&snapshot)))
}

/// The API's view of a snapshot.
pub(super) fn view(snapshot: &Snapshot) -> PaymentView {
    PaymentView {
        reference: snapshot.reference.clone(),
        status: status(&snapshot.status),
        token: snapshot.token.clone(),
        rotates_at: snapshot.rotates_at,
        expires_at: snapshot.expires_at,
        amount: snapshot.amount,
        currency: snapshot.currency,
    }
}

/// The API's name of a status.
pub(super) fn status(status: &Status) -> PaymentStatus {
    match status {
        Status::Pending => PaymentStatus::Pending,
        Status::Confirmed { .. } => PaymentStatus::Confirmed,
        Status::Paid { .. } => PaymentStatus::Paid,
        Status::Cancelled => PaymentStatus::Cancelled,
        Status::Expired => PaymentStatus::Expired,
        Status::Declined { .. } => PaymentStatus::Declined,
        Status::Refused => PaymentStatus::Refused,
        Status::Reversed => PaymentStatus::Reversed,
    }
}

/// A refusal as an answer: 404 for an unknown payment, 409 for one that can no longer be paid,
/// 402 for a declined payer, 422 for a code that does not fit the payment.
pub(super) fn refused(refusal: Refusal) -> ApiError {
    let status = match refusal {
        Refusal::Unknown => StatusCode::NOT_FOUND,
        Refusal::AlreadyPaid
        | Refusal::Cancelled
        | Refusal::Expired
        | Refusal::Reversed
        | Refusal::NotConfirmed => StatusCode::CONFLICT,
        Refusal::Declined(_) => StatusCode::PAYMENT_REQUIRED,
        _ => StatusCode::UNPROCESSABLE_ENTITY,
    };
    ApiError::new(status, refusal.to_string())
}

pub(super) fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
