//! `GET /v1/health`: whether the host is up, and whether the caller presented a terminal
//! certificate (a terminal checks its API credentials with it).

use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;

use super::{ApiState, ClientCertificate};

pub(super) fn routes() -> Router<ApiState> {
    Router::new().route("/v1/health", get(health))
}

/// The answer of `GET /v1/health`.
#[derive(Debug, Serialize)]
struct Health {
    status: &'static str,
    client_certificate: bool,
}

async fn health(certificate: ClientCertificate) -> Json<Health> {
    Json(Health {
        status: "ok",
        client_certificate: certificate.0.is_some(),
    })
}
