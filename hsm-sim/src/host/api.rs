//! The host's HTTPS JSON API, beside the ISO 8583 port: what does not fit an authorisation
//! message (`docs/host-api.md`).
//!
//! One [`axum::Router`] assembled from a route file per topic (`api/*.rs`), served by hyper
//! over tokio-rustls on its own listener. TLS 1.3 with the host's certificate; a client
//! certificate is optional (a wallet has none) but verified against the host CA when presented,
//! and handlers see it as [`ClientCertificate`] to tell a terminal from anyone else.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::FromRequestParts;
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use rustls::pki_types::CertificateDer;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::time::timeout;
use tokio_rustls::TlsAcceptor;

use super::admission::Admission;
use super::pki;
use super::server::ServerState;

mod activation;
mod attestation;
mod health;
mod merchant_codes;
mod payment_requests;
mod wallet;

/// What every route handler can reach: the running host.
#[derive(Clone)]
pub(crate) struct ApiState {
    /// The running host, for the topic routes that read or change it.
    pub(crate) server: ServerState,
    /// The ISO 8583 port, for activated terminals.
    pub(crate) link_port: u16,
    /// This API's port.
    pub(crate) api_port: u16,
    /// Wrong activation codes per source; held for the whole of an activation.
    pub(crate) activations: Arc<Mutex<super::activation::WrongCodeLimiter>>,
}

/// The client certificate the connection presented, verified against the host CA (`None` for
/// a client without one, such as a wallet).
#[derive(Clone, Debug)]
pub(crate) struct ClientCertificate(pub(crate) Option<CertificateDer<'static>>);

impl<S: Send + Sync> FromRequestParts<S> for ClientCertificate {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Self>()
            .cloned()
            .ok_or_else(|| ApiError::internal("no connection identity"))
    }
}

impl ClientCertificate {
    /// Checks that this connection is terminal `terminal_id`'s: its certificate names it, the
    /// terminal is enrolled and not on the revocation list (the ISO 8583 port's checks).
    pub(crate) fn check_terminal(
        &self,
        state: &ApiState,
        terminal_id: &str,
    ) -> Result<(), ApiError> {
        let certificate = self.0.as_ref().ok_or_else(|| {
            ApiError::new(
                StatusCode::UNAUTHORIZED,
                "a terminal certificate is required",
            )
        })?;
        let refused = || ApiError::new(StatusCode::FORBIDDEN, "not this terminal's certificate");
        if !pki::certificate_names_terminal(certificate, terminal_id) {
            return Err(refused());
        }
        let data_dir = state.server.data_dir();
        match super::enrol::TerminalRecord::load(data_dir, terminal_id) {
            Ok(Some(_)) => {}
            Ok(None) => return Err(refused()),
            Err(e) => return Err(ApiError::internal(e)),
        }
        match super::blocklist::is_blocked(data_dir, terminal_id) {
            Ok(false) => Ok(()),
            Ok(true) => Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "terminal blocked, contact your provider",
            )),
            Err(e) => Err(ApiError::internal(e)),
        }
    }
}

/// An error answer: an HTTP status and a JSON body `{"error": "..."}` in plain words.
#[derive(Debug)]
pub(crate) struct ApiError {
    status: StatusCode,
    message: String,
}

impl ApiError {
    /// An answer with `status` and `message` (a topic's 4xx: plain words for the client).
    pub(crate) fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
        }
    }

    /// 500: the host failed; the message goes to the log, the client sees a generic one.
    pub(crate) fn internal(message: impl std::fmt::Display) -> Self {
        tracing::warn!(error = %message, "API request failed");
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "the host failed")
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (
            self.status,
            axum::Json(serde_json::json!({ "error": self.message })),
        )
            .into_response()
    }
}

/// The API's routes, one topic per file.
pub(crate) fn router(state: ApiState) -> Router {
    Router::new()
        .merge(activation::routes())
        .merge(attestation::routes())
        .merge(health::routes())
        .merge(merchant_codes::routes())
        .merge(payment_requests::routes())
        .merge(wallet::routes())
        .with_state(state)
}

/// The API's rustls configuration: the host's certificate, TLS 1.3, ALPN `http/1.1`, client
/// certificates optional but verified against the host CA.
pub(crate) fn tls_config(
    ca_pem: &str,
    cert_pem: &str,
    key_pem: &str,
) -> Result<Arc<rustls::ServerConfig>, super::HostError> {
    let mut config = pki::server_config_optional_client(ca_pem, cert_pem, key_pem)?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// Serves `router` on `listener` until `shutdown` fires; open connections (long polls too)
/// are then closed.
pub(crate) async fn serve(
    listener: TcpListener,
    tls: Arc<rustls::ServerConfig>,
    router: Router,
    admission: Arc<Admission>,
    mut shutdown: oneshot::Receiver<()>,
) {
    let acceptor = TlsAcceptor::from(tls);
    let mut connections = tokio::task::JoinSet::new();
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    let Some(place) = admission.admit(peer.ip()) else {
                        tracing::warn!(source = %peer.ip(), "API: too many connections from one source: closed");
                        continue;
                    };
                    let _ = stream.set_nodelay(true);
                    let acceptor = acceptor.clone();
                    let router = router.clone();
                    let admission = admission.clone();
                    connections.spawn(async move {
                        let _place = place;
                        let handshake = async {
                            let _slot = admission.handshake_slot().await?;
                            Some(acceptor.accept(stream).await)
                        };
                        let tls = match timeout(admission.handshake_timeout(), handshake).await {
                            Ok(Some(Ok(tls))) => tls,
                            Ok(Some(Err(e))) => {
                                tracing::info!(error = %e, "API: TLS handshake refused");
                                return;
                            }
                            _ => return,
                        };
                        let certificate = ClientCertificate(
                            tls.get_ref()
                                .1
                                .peer_certificates()
                                .and_then(|c| c.first())
                                .map(|c| c.clone().into_owned()),
                        );
                        let service = TowerToHyperService::new(
                            router
                                .layer(axum::Extension(certificate))
                                .layer(axum::Extension(axum::extract::ConnectInfo(peer))),
                        );
                        let served = hyper::server::conn::http1::Builder::new()
                            .timer(TokioTimer::new())
                            .header_read_timeout(HEADER_TIMEOUT)
                            .serve_connection(TokioIo::new(tls), service)
                            .await;
                        if let Err(e) = served {
                            tracing::debug!(error = %e, "API connection ended");
                        }
                    });
                }
                Err(e) => {
                    tracing::warn!(error = %e, "API: accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    connections.abort_all();
    while connections.join_next().await.is_some() {}
}

/// How long a client has to send a request's headers.
const HEADER_TIMEOUT: Duration = Duration::from_secs(10);
