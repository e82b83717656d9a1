//! `POST /v1/activate` (`docs/enrolment.md` § The exchange): a new terminal redeems its
//! one-time code. No client certificate: the terminal has none yet. The decisions are
//! [`crate::host::activation::activate`]'s; this route adds where the terminal reaches the
//! host afterwards.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::routing::post;
use axum::{Json, Router};
use emv::enrolment::{ActivationRequest, ActivationResponse};

use super::{ApiError, ApiState};
use crate::host::activation::{self, ActivationError};

pub(super) fn routes() -> Router<ApiState> {
    Router::new().route("/v1/activate", post(activate))
}

async fn activate(
    State(state): State<ApiState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Json(request): Json<ActivationRequest>,
) -> Result<Json<ActivationResponse>, ApiError> {
    // The terminal reached this API by the name in its Host header: it reaches the link and
    // the API by that name afterwards.
    let name = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(host_name)
        .filter(|n| !n.is_empty())
        .ok_or_else(|| ApiError::new(StatusCode::BAD_REQUEST, "no Host header"))?;
    let link = format!("{name}:{}", state.link_port);
    let api = format!("{name}:{}", state.api_port);
    let verifier = hex::encode_upper(state.server.attestation().public_key());
    let decided = tokio::task::spawn_blocking(move || {
        // One activation at a time: terminal IDs are assigned in order, and the limiter is
        // shared.
        let mut limiter = state.activations.lock().unwrap_or_else(|p| p.into_inner());
        activation::activate(
            state.server.data_dir(),
            &link,
            &request,
            peer.ip(),
            &mut limiter,
        )
    })
    .await
    .map_err(ApiError::internal)?;
    match decided {
        Ok(answer) => Ok(Json(ActivationResponse {
            api: Some(api),
            attestation_public_key: Some(verifier),
            ..answer
        })),
        Err(ActivationError::Host(e)) => Err(ApiError::internal(e)),
        Err(e @ ActivationError::TooManyAttempts) => {
            Err(ApiError::new(StatusCode::TOO_MANY_REQUESTS, e.to_string()))
        }
        Err(e @ ActivationError::BadRequest(_)) => {
            Err(ApiError::new(StatusCode::BAD_REQUEST, e.to_string()))
        }
        Err(e) => Err(ApiError::new(StatusCode::FORBIDDEN, e.to_string())),
    }
}

/// The host part of a Host header: `name`, `1.2.3.4` or `[::1]`, without the port.
fn host_name(host: &str) -> &str {
    if host.starts_with('[') {
        return host.split_inclusive(']').next().unwrap_or_default();
    }
    host.rsplit_once(':').map_or(host, |(name, _)| name)
}

#[cfg(test)]
mod tests {
    use super::host_name;

    #[test]
    fn the_host_name_drops_the_port() {
        assert_eq!(host_name("127.0.0.1:8443"), "127.0.0.1");
        assert_eq!(host_name("host.example:1"), "host.example");
        assert_eq!(host_name("host.example"), "host.example");
        assert_eq!(host_name("[::1]:8443"), "[::1]");
        assert_eq!(host_name("[::1]"), "[::1]");
    }
}
