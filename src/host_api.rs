//! The terminal's client of the host's HTTPS JSON API (`docs/host-api.md`): what does not fit
//! an ISO 8583 message. Blocking (no async runtime in the terminal), over the link's own rustls
//! configuration: TLS 1.3, the bundle's host CA as the only anchor, the host's key pinned, the
//! terminal's certificate presented.

use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::acquirer::{AcquirerError, TerminalCredentials, client_config};

/// A client of the host's API.
#[derive(Clone)]
pub struct HostApi {
    agent: ureq::Agent,
    base: String,
}

impl std::fmt::Debug for HostApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HostApi")
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

impl HostApi {
    /// The API the enrolment bundle names, with the link's credentials and `timeout` for each
    /// request (a long poll passes its own, [`HostApi::get_waiting`]).
    pub fn new(credentials: &TerminalCredentials, timeout: Duration) -> Result<Self, HostApiError> {
        let c = credentials;
        let api = c.api.as_deref().ok_or(HostApiError::NoApi)?;
        let config = client_config(
            &c.ca_pem,
            &c.certificate_pem,
            &c.key_pem,
            c.host_spki_sha256,
        )
        .map_err(HostApiError::Credentials)?;
        Self::with_config(api, &c.server_name, config, timeout)
    }

    /// An API at `address` (`HOST:PORT`) whose certificate must carry `server_name`, reached
    /// with `config`.
    pub fn with_config(
        address: &str,
        server_name: &str,
        config: Arc<rustls::ClientConfig>,
        timeout: Duration,
    ) -> Result<Self, HostApiError> {
        let bad = || HostApiError::BadAddress(address.to_owned());
        let addrs: Vec<SocketAddr> = address.to_socket_addrs().map_err(|_| bad())?.collect();
        let port = addrs.first().ok_or_else(bad)?.port();
        // The URL carries the certificate's name; the connection goes to the configured
        // address whatever that name resolves to.
        let agent = ureq::AgentBuilder::new()
            .tls_config(config)
            .resolver(move |_: &str| Ok(addrs.clone()))
            .timeout(timeout)
            .redirects(0)
            .build();
        let host = if server_name.contains(':') {
            format!("[{server_name}]")
        } else {
            server_name.to_owned()
        };
        Ok(Self {
            agent,
            base: format!("https://{host}:{port}"),
        })
    }

    /// `GET path`, answered with JSON.
    pub fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, HostApiError> {
        answer(self.agent.get(&self.url(path)).call())
    }

    /// `GET path` that the host may hold open for up to `wait` (a long poll): the request's
    /// timeout is `wait` plus a margin.
    pub fn get_waiting<T: DeserializeOwned>(
        &self,
        path: &str,
        wait: Duration,
    ) -> Result<T, HostApiError> {
        answer(
            self.agent
                .get(&self.url(path))
                .timeout(wait + LONG_POLL_MARGIN)
                .call(),
        )
    }

    /// `POST path` with a JSON `body`, answered with JSON.
    pub fn post<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<T, HostApiError> {
        answer(self.agent.post(&self.url(path)).send_json(body))
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
}

/// How much longer than the host's hold a long poll waits before giving up.
const LONG_POLL_MARGIN: Duration = Duration::from_secs(5);

fn answer<T: DeserializeOwned>(
    result: Result<ureq::Response, ureq::Error>,
) -> Result<T, HostApiError> {
    match result {
        Ok(response) => response
            .into_json()
            .map_err(|e| HostApiError::BadAnswer(e.to_string())),
        Err(ureq::Error::Status(status, response)) => {
            let message = response
                .into_json::<ErrorBody>()
                .map(|b| b.error)
                .unwrap_or_else(|_| "no reason given".to_owned());
            Err(HostApiError::Refused { status, message })
        }
        Err(ureq::Error::Transport(t)) => Err(HostApiError::Unreachable(t.to_string())),
    }
}

#[derive(serde::Deserialize)]
struct ErrorBody {
    error: String,
}

/// Why an API request failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HostApiError {
    /// The enrolment bundle names no API address.
    #[error("the enrolment names no host API: enrol the terminal again")]
    NoApi,
    /// The API address is not `HOST:PORT`.
    #[error("the host API address {0:?} is not HOST:PORT")]
    BadAddress(String),
    /// The terminal's credentials cannot make a TLS configuration.
    #[error("the terminal's credentials: {0}")]
    Credentials(AcquirerError),
    /// The host answered with an error status.
    #[error("the host refused ({status}): {message}")]
    Refused {
        /// The HTTP status.
        status: u16,
        /// The host's reason.
        message: String,
    },
    /// No answer: connection, TLS or timeout. A request that was sent may have reached the
    /// host.
    #[error("the host API is unreachable: {0}")]
    Unreachable(String),
    /// The answer is not the JSON expected.
    #[error("the host's answer is not understood: {0}")]
    BadAnswer(String),
}
