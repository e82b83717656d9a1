//! The terminal's attestation routes (`docs/attestation.md` § The exchange). Each needs the
//! terminal's client certificate; a blocked terminal gets nothing.
//!
//! - `POST /v1/attestation/challenge` ([`ChallengeRequest`]) → [`Challenge`];
//! - `POST /v1/attestation/evidence` ([`EvidenceSubmission`]) → [`Attested`], or 403
//!   "terminal blocked, contact your provider", 401 for a replayed or unknown nonce or a
//!   signature that is not the device key's.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use emv::api::attestation::{Attested, Challenge, ChallengeRequest, EvidenceSubmission};
use emv::attestation::NONCE_LEN;

use super::{ApiError, ApiState, ClientCertificate};
use crate::host::attestation::AttestError;

pub(super) fn routes() -> Router<ApiState> {
    Router::new()
        .route("/v1/attestation/challenge", post(challenge))
        .route("/v1/attestation/evidence", post(evidence))
}

async fn challenge(
    State(state): State<ApiState>,
    certificate: ClientCertificate,
    Json(body): Json<ChallengeRequest>,
) -> Result<Json<Challenge>, ApiError> {
    certificate.check_terminal(&state, &body.terminal_id)?;
    let nonce = state
        .server
        .attestation()
        .challenge(&body.terminal_id)
        .map_err(ApiError::internal)?;
    Ok(Json(Challenge {
        nonce: hex::encode(nonce),
    }))
}

async fn evidence(
    State(state): State<ApiState>,
    certificate: ClientCertificate,
    Json(body): Json<EvidenceSubmission>,
) -> Result<Json<Attested>, ApiError> {
    certificate.check_terminal(&state, &body.terminal_id)?;
    let bad = |what: &str| ApiError::new(StatusCode::BAD_REQUEST, format!("bad {what}"));
    let nonce: [u8; NONCE_LEN] = hex::decode(&body.nonce)
        .ok()
        .and_then(|n| n.try_into().ok())
        .ok_or_else(|| bad("nonce"))?;
    let signature = hex::decode(&body.signature).map_err(|_| bad("signature"))?;
    let judged = tokio::task::spawn_blocking(move || {
        state.server.attestation().attest(
            &body.terminal_id,
            &nonce,
            body.evidence.as_bytes(),
            &signature,
        )
    })
    .await
    .map_err(ApiError::internal)?;
    match judged {
        Ok(granted) => Ok(Json(Attested {
            token: hex::encode_upper(granted.token),
            expires_at: granted.expires_at,
            warnings: granted.warnings,
        })),
        Err(AttestError::Host(e)) => Err(ApiError::internal(e)),
        Err(e @ (AttestError::BadNonce | AttestError::BadSignature)) => {
            Err(ApiError::new(StatusCode::UNAUTHORIZED, e.to_string()))
        }
        Err(e @ AttestError::Malformed) => {
            Err(ApiError::new(StatusCode::BAD_REQUEST, e.to_string()))
        }
        Err(e) => Err(ApiError::new(StatusCode::FORBIDDEN, e.to_string())),
    }
}
