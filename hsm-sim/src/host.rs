//! The acquirer host: ISO 8583:1987 over mutually authenticated TLS 1.3, the simulated issuer
//! and its SQLite ledger.
//!
//! The host is a library so tests and `softpos demo` can run it embedded:
//!
//! ```no_run
//! # fn main() -> Result<(), hsm_sim::host::HostError> {
//! use hsm_sim::host::{Host, HostConfig};
//! let dir = std::path::PathBuf::from("/tmp/hsm-sim-data");
//! let host = Host::start(HostConfig::new(&dir))?; // listens on 127.0.0.1:0
//! let bundle = host.enroll("T0000001")?;          // what a terminal needs to connect
//! println!("host on {}", host.local_addr());
//! host.shutdown();
//! # Ok(()) }
//! ```
//!
//! The wire contract is `docs/iso8583.md`; the operator's guide is `docs/hsm-sim.md`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::thread;

use tokio::sync::oneshot;

use crate::iso8583::CodecError;

pub mod activation;
mod admission;
mod api;
pub mod attestation;
pub mod bench;
pub mod blocklist;
pub mod client;
pub mod contract;
pub mod enrol;
pub mod faults;
pub mod freshness;
#[doc(hidden)]
pub mod fuzz;
pub mod issuer;
pub mod ledger;
pub mod mac;
mod mac_counters;
pub mod merchant_code;
pub mod pki;
mod request;
pub mod security;
mod server;
pub mod terminals;
pub mod velocity;
pub mod wallets;

pub use admission::ConnectionLimits;
pub use enrol::{EnrolOptions, EnrolmentBundle};
pub use faults::{Fault, Faults};

/// How to run the host.
#[derive(Debug, Clone)]
pub struct HostConfig {
    /// Where the CA, keys, accounts and ledger live; created and seeded on first start.
    pub data_dir: PathBuf,
    /// The address to listen on (`127.0.0.1:0` picks a free port).
    pub listen: SocketAddr,
    /// The address of the HTTPS API (`docs/host-api.md`; `127.0.0.1:0` picks a free port).
    pub api_listen: SocketAddr,
    /// Worker threads of the host's runtime.
    pub worker_threads: usize,
    /// Connection limits (per source, handshakes, handshake timeout).
    pub limits: ConnectionLimits,
}

impl HostConfig {
    /// Defaults: listen on `127.0.0.1:0`, two worker threads, [`ConnectionLimits::default`].
    pub fn new(data_dir: impl AsRef<Path>) -> Self {
        Self {
            data_dir: data_dir.as_ref().to_path_buf(),
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            api_listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            worker_threads: 2,
            limits: ConnectionLimits::default(),
        }
    }

    /// Sets the listen address.
    pub fn listen(mut self, addr: SocketAddr) -> Self {
        self.listen = addr;
        self
    }

    /// Sets the HTTPS API's listen address.
    pub fn api_listen(mut self, addr: SocketAddr) -> Self {
        self.api_listen = addr;
        self
    }
}

/// The acquirer host.
#[derive(Debug)]
pub struct Host;

impl Host {
    /// Creates (first start) or opens the data directory, binds the listener and serves on a
    /// runtime of its own until [`HostHandle::shutdown`] (or drop).
    pub fn start(config: HostConfig) -> Result<HostHandle, HostError> {
        std::fs::create_dir_all(&config.data_dir).map_err(HostError::io(&config.data_dir))?;
        let security: Arc<dyn security::SecurityModule> =
            Arc::new(security::HsmSecurity::load_or_create(&config.data_dir)?);
        let state = server::ServerState::open(&config.data_dir, security)?;
        let bind = |addr: SocketAddr| -> Result<(std::net::TcpListener, SocketAddr), HostError> {
            let listener =
                std::net::TcpListener::bind(addr).map_err(HostError::io(&config.data_dir))?;
            listener
                .set_nonblocking(true)
                .map_err(HostError::io(&config.data_dir))?;
            let local = listener
                .local_addr()
                .map_err(HostError::io(&config.data_dir))?;
            Ok((listener, local))
        };
        let (std_listener, local_addr) = bind(config.listen)?;
        let (api_listener, api_addr) = bind(config.api_listen)?;
        let api_router = api::router(api::ApiState {
            server: state.clone(),
            link_port: local_addr.port(),
            api_port: api_addr.port(),
            activations: Default::default(),
        });
        let api_tls = state.api_tls();
        let api_admission = admission::Admission::new(config.limits);
        let (api_shutdown_tx, api_shutdown_rx) = oneshot::channel();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(config.worker_threads.max(1))
            .thread_name("hsm-sim-host")
            .enable_all()
            .build()
            .map_err(HostError::io(&config.data_dir))?;
        let (shutdown_tx, shutdown_rx) = oneshot::channel();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let serving = state.clone();
        let admission = admission::Admission::new(config.limits);
        let thread = thread::Builder::new()
            .name("hsm-sim-host".to_owned())
            .spawn(move || {
                runtime.block_on(async move {
                    let listeners = tokio::net::TcpListener::from_std(std_listener)
                        .and_then(|l| Ok((l, tokio::net::TcpListener::from_std(api_listener)?)));
                    match listeners {
                        Ok((listener, api_listener)) => {
                            let _ = ready_tx.send(Ok(()));
                            let api = tokio::spawn(api::serve(
                                api_listener,
                                api_tls,
                                api_router,
                                api_admission,
                                api_shutdown_rx,
                            ));
                            server::serve(listener, serving, admission, shutdown_rx).await;
                            let _ = api.await;
                        }
                        Err(e) => {
                            let _ = ready_tx.send(Err(e));
                        }
                    }
                });
                runtime.shutdown_timeout(std::time::Duration::from_secs(5));
            })
            .map_err(HostError::io(&config.data_dir))?;
        ready_rx
            .recv()
            .map_err(|_| HostError::Stopped)?
            .map_err(HostError::io(&config.data_dir))?;
        tracing::info!(%local_addr, %api_addr, data = %config.data_dir.display(), "acquirer host listening");
        Ok(HostHandle {
            local_addr,
            api_addr,
            api_shutdown: Some(api_shutdown_tx),
            data_dir: config.data_dir,
            state,
            shutdown: Some(shutdown_tx),
            thread: Some(thread),
        })
    }
}

/// Adds (or resets) accounts in the ledger of `data_dir`, with the demo PIN, before the host
/// starts (a running host caches PIN verification values at start).
pub fn seed_accounts(data_dir: &Path, accounts: &[ledger::AccountSeed]) -> Result<(), HostError> {
    std::fs::create_dir_all(data_dir).map_err(HostError::io(data_dir))?;
    let security = security::HsmSecurity::load_or_create(data_dir)?;
    let conn = ledger::open_writer(&data_dir.join(ledger::LEDGER_FILE))?;
    if !ledger::has_accounts(&conn)? {
        server::seed(&conn, &security, &issuer::demo_accounts())?;
    }
    server::seed(&conn, &security, accounts)
}

/// A running host. Dropping it shuts the host down.
pub struct HostHandle {
    local_addr: SocketAddr,
    api_addr: SocketAddr,
    api_shutdown: Option<oneshot::Sender<()>>,
    data_dir: PathBuf,
    state: server::ServerState,
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<thread::JoinHandle<()>>,
}

impl HostHandle {
    /// The address the host listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The address of the HTTPS API (`docs/host-api.md`).
    pub fn api_addr(&self) -> SocketAddr {
        self.api_addr
    }

    /// The data directory.
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// The ledger database file (open it with [`ledger::LedgerView::open`]).
    pub fn ledger_path(&self) -> PathBuf {
        self.data_dir.join(ledger::LEDGER_FILE)
    }

    /// The fault switches (shared with the running server).
    pub fn faults(&self) -> &Faults {
        self.state.faults()
    }

    /// Issues the enrolment bundle of `terminal_id` for this host's address, with a MAC key
    /// (the host then requires MACs from this terminal).
    pub fn enroll(&self, terminal_id: &str) -> Result<EnrolmentBundle, HostError> {
        self.enroll_with(terminal_id, EnrolOptions::default())
    }

    /// [`HostHandle::enroll`] with `options` (e.g. no MAC key, for a client that does not MAC).
    pub fn enroll_with(
        &self,
        terminal_id: &str,
        options: EnrolOptions,
    ) -> Result<EnrolmentBundle, HostError> {
        let mut bundle = enrol::enroll_with(
            &self.data_dir,
            terminal_id,
            &self.local_addr.to_string(),
            options,
        )?;
        bundle.api = Some(self.api_addr.to_string());
        Ok(bundle)
    }

    /// Stops accepting, closes connections, flushes the ledger and waits for the host thread.
    pub fn shutdown(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        if let Some(tx) = self.api_shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for HostHandle {
    fn drop(&mut self) {
        self.stop();
    }
}

impl std::fmt::Debug for HostHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HostHandle")
            .field("local_addr", &self.local_addr)
            .field("api_addr", &self.api_addr)
            .field("data_dir", &self.data_dir)
            .finish_non_exhaustive()
    }
}

/// Errors of the host layer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HostError {
    /// A file or socket operation failed.
    #[error("I/O error on {path}")]
    Io {
        /// The file, directory or address involved.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The ledger database failed.
    #[error("ledger error")]
    Ledger(#[from] rusqlite::Error),
    /// Certificate generation failed.
    #[error("certificate generation failed")]
    Certificate(#[from] rcgen::Error),
    /// TLS configuration or handshake failed.
    #[error("TLS error: {0}")]
    Tls(String),
    /// A rustls error.
    #[error("TLS error")]
    Rustls(#[from] rustls::Error),
    /// A PEM file holds no usable certificate or key.
    #[error("bad PEM data")]
    BadPem,
    /// A terminal ID is not 8 characters `A-Z0-9`.
    #[error("terminal ID must be 8 characters A-Z0-9")]
    BadTerminalId,
    /// An enrolment bundle file is missing or malformed.
    #[error("bad enrolment bundle: {0}")]
    BadBundle(String),
    /// A message could not be encoded or decoded.
    #[error(transparent)]
    Codec(#[from] CodecError),
    /// The host closed the connection without answering.
    #[error("connection closed by the host")]
    ConnectionClosed,
    /// No answer within the client's timeout.
    #[error("timed out")]
    Timeout,
    /// The answer's MAC is missing or wrong (`docs/iso8583.md` §6): treat it as no answer.
    #[error("the host's answer failed its MAC check")]
    BadMac,
    /// The HSM refused or failed an operation.
    #[error("HSM error: {0}")]
    Hsm(String),
    /// A message MAC could not be made (`emv::iso8583::mac`).
    #[error("message MAC")]
    Mac(#[from] emv::iso8583::mac::MacError),
    /// The host has stopped.
    #[error("host stopped")]
    Stopped,
}

impl HostError {
    pub(crate) fn io(path: &Path) -> impl FnOnce(std::io::Error) -> Self + '_ {
        move |source| Self::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}
