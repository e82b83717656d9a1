//! The terminal's routes for requests to pay (`docs/request-to-pay.md`): ask the customer's
//! wallet, found by its alias, to pay; then wait and cancel as for the merchant's code. Each
//! needs the terminal's client certificate.
//!
//! - `POST /v1/payment-requests` ([`CreateRequest`]) → [`PaymentView`] (201), or 404 for an
//!   alias no active wallet has;
//! - `GET /v1/payment-requests/{reference}?…` and `POST /v1/payment-requests/{reference}/cancel`:
//!   as `/v1/merchant-codes/…` ([`super::merchant_codes`]).

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use emv::api::merchant_code::{CreateRequest, PaymentView};

use super::merchant_codes::{cancel, check_amount, now, view, wait};
use super::{ApiError, ApiState, ClientCertificate};
use crate::host::wallets;

pub(super) fn routes() -> Router<ApiState> {
    Router::new()
        .route("/v1/payment-requests", post(create))
        .route("/v1/payment-requests/{reference}", get(wait))
        .route("/v1/payment-requests/{reference}/cancel", post(cancel))
}

/// The longest merchant name a request carries.
const MAX_MERCHANT: usize = 64;

async fn create(
    State(state): State<ApiState>,
    certificate: ClientCertificate,
    Json(body): Json<CreateRequest>,
) -> Result<(StatusCode, Json<PaymentView>), ApiError> {
    certificate.check_terminal(&state, &body.terminal_id)?;
    check_amount(body.amount)?;
    let merchant: String = body
        .merchant
        .chars()
        .filter(|c| !c.is_control())
        .take(MAX_MERCHANT)
        .collect();
    let payer = wallets::find_by_alias(state.server.data_dir(), &body.alias)
        .map_err(ApiError::internal)?
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, "no wallet has this alias"))?;
    let snapshot = state
        .server
        .merchant_codes()
        .request(
            &body.terminal_id,
            body.amount,
            body.currency,
            &payer.device_id,
            &merchant,
            now(),
        )
        .map_err(ApiError::internal)?;
    tracing::info!(reference = %snapshot.reference, "request to pay sent");
    Ok((StatusCode::CREATED, Json(view(&snapshot))))
}
