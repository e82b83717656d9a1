//! The wallet's routes (`docs/wallet-api.md`). A wallet has no client certificate: each
//! request carries the customer's consent, signed by the enrolled device's key.
//!
//! - `POST /v1/wallet/merchant-payments` ([`PayMerchantCode`]) → [`WalletPayment`]: pays a
//!   merchant's code. The consent is checked before the token is looked at (an unsigned
//!   request cannot spend someone's token); the payment is then confirmed, and the answer
//!   waits until the merchant's terminal has completed it with its 0200.
//! - `POST /v1/wallet/inbox` ([`Inbox`]) → the requests to pay waiting for this wallet.
//! - `POST /v1/wallet/payment-requests/{reference}` ([`AnswerRequest`]) → [`WalletPayment`]:
//!   the customer confirms or refuses a request; a confirmation waits, as a payment does, for
//!   the terminal's 0200.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};

use super::merchant_codes::{now, refused, status};
use super::{ApiError, ApiState};
use crate::host::merchant_code::{Charged, MerchantCodes, PayAttempt, Refusal};
use crate::host::wallets::{self, ConsentRefused};
use crate::wallet::api::{
    AnswerRequest, COMPLETION_WAIT, Inbox, InboxItem, PayMerchantCode, WalletPayment,
};
use crate::wallet::consent::{ANSWER_REQUEST, INBOX, PAY_MERCHANT_CODE};

pub(super) fn routes() -> Router<ApiState> {
    Router::new()
        .route("/v1/wallet/merchant-payments", post(pay_merchant_code))
        .route("/v1/wallet/inbox", post(inbox))
        .route(
            "/v1/wallet/payment-requests/{reference}",
            post(answer_request),
        )
}

async fn pay_merchant_code(
    State(state): State<ApiState>,
    Json(body): Json<PayMerchantCode>,
) -> Result<Json<WalletPayment>, ApiError> {
    let fields = body.signed_fields();
    let fields: Vec<&str> = fields.iter().map(String::as_str).collect();
    let record = wallets::check_consent(
        state.server.data_dir(),
        &body.consent,
        PAY_MERCHANT_CODE,
        &fields,
    )
    .map_err(consent_refused)?;
    let codes = state.server.merchant_codes();
    let attempt = PayAttempt {
        reference: body.reference.as_deref(),
        terminal_id: body.terminal_id.as_deref(),
        amount: body.amount,
        token: &body.token,
        wallet: &record.device_id,
    };
    let charged = codes
        .pay(&attempt, now(), |_| {
            if record.accounts.is_empty() {
                Err(Refusal::Declined("the wallet has no account".to_owned()))
            } else {
                Ok(())
            }
        })
        .map_err(refused)?;
    tracing::info!(reference = %charged.reference, "merchant's-code payment confirmed by the wallet");
    outcome(codes, charged).await.map(Json)
}

async fn inbox(
    State(state): State<ApiState>,
    Json(body): Json<Inbox>,
) -> Result<Json<Vec<InboxItem>>, ApiError> {
    let record = wallets::check_consent(state.server.data_dir(), &body.consent, INBOX, &[])
        .map_err(consent_refused)?;
    let waiting = state
        .server
        .merchant_codes()
        .inbox(&record.device_id, now());
    Ok(Json(waiting))
}

async fn answer_request(
    State(state): State<ApiState>,
    Path(reference): Path<String>,
    Json(body): Json<AnswerRequest>,
) -> Result<Json<WalletPayment>, ApiError> {
    let answer = body.answer.as_str();
    let record = wallets::check_consent(
        state.server.data_dir(),
        &body.consent,
        ANSWER_REQUEST,
        &[&reference, answer],
    )
    .map_err(consent_refused)?;
    let confirm = match answer {
        "confirm" => true,
        "refuse" => false,
        _ => {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "the answer is \"confirm\" or \"refuse\"",
            ));
        }
    };
    if confirm && record.accounts.is_empty() {
        return Err(refused(Refusal::Declined(
            "the wallet has no account".into(),
        )));
    }
    let codes = state.server.merchant_codes();
    let charged = codes
        .answer(&reference, &record.device_id, confirm, now())
        .map_err(refused)?;
    tracing::info!(reference = %charged.reference, confirm, "request to pay answered");
    outcome(codes, charged).await.map(Json)
}

/// Where payment `charged` ends: the answer waits (at most [`COMPLETION_WAIT`]) for the
/// terminal to complete it.
async fn outcome(codes: &MerchantCodes, charged: Charged) -> Result<WalletPayment, ApiError> {
    let mut changes = codes.watch(&charged.reference).map_err(refused)?;
    let finished = tokio::time::timeout(COMPLETION_WAIT, changes.wait_for(|s| s.is_final()))
        .await
        .ok()
        .and_then(Result::ok)
        .map(|s| s.clone());
    let current = match finished {
        Some(status) => status,
        None => changes.borrow().clone(),
    };
    Ok(WalletPayment {
        status: status(&current),
        reference: charged.reference,
        terminal_id: charged.terminal_id,
        amount: charged.amount,
        currency: charged.currency,
    })
}

fn consent_refused(refusal: ConsentRefused) -> ApiError {
    let status = match refusal {
        ConsentRefused::UnknownDevice | ConsentRefused::Consent(_) => StatusCode::UNAUTHORIZED,
        ConsentRefused::Revoked => StatusCode::FORBIDDEN,
        ConsentRefused::Registry(e) => return ApiError::internal(e),
    };
    ApiError::new(status, refusal.to_string())
}
