//! The TLS server: accepts terminals, reads framed ISO 8583 messages, checks DE 41 and the
//! MAC, has [`super::request`] turn each message into the issuer's request (PIN and ARQC checked
//! through the security module), and hands it to the issuer's writer.
//!
//! Connections are admitted by [`super::admission`] (per-source cap, handshake slots and
//! timeout). Order of checks (`docs/iso8583.md` §1, §6, §7): decode; DE 41 against the client
//! certificate, an enrolment record on file and the revocation list (`58`); the request MAC
//! against the terminal's enrolment record ([`TerminalRecord`]: MAC required, DE 61 under the
//! terminal's MAC key, CMAC right, KSN above the last one, durably), answered `30` without MAC
//! when it fails; DE 7 freshness (`63`, [`super::freshness`]); then everything else, answered
//! with a MAC when the request had one.
//!
//! Bad input never reaches the ledger: an undecodable message of a known request MTI is
//! answered with DE 39 = `30`; an unknown MTI, a bad length header or garbage closes the
//! connection. Other connections are unaffected (one task each).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, SystemTime};

use rustls::pki_types::CertificateDer;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::time::timeout;
use tokio_rustls::TlsAcceptor;
use zeroize::Zeroizing;

use super::admission::Admission;
use super::attestation::{self, AttestationService};
use super::contract::{self, Presence};
use super::enrol::TerminalRecord;
use super::issuer::{self, IdempotencyKey, IssuerWorker};
use super::mac::{MAC_KSN_FIELD, MacParts};
use super::mac_counters::MacCounters;
use super::merchant_code::{self, MerchantCodes, TokenKey};
use super::security::{SecurityError, SecurityModule};
use super::velocity;
use super::{Faults, HostError, blocklist, freshness, ledger, pki, request, wallets};
use crate::iso8583::{self, Message, Mti};

pub(crate) use super::request::cryptogram_version;

/// Shared state of the running server.
#[derive(Clone)]
pub(crate) struct ServerState(Arc<Inner>);

struct Inner {
    tls: Arc<rustls::ServerConfig>,
    api_tls: Arc<rustls::ServerConfig>,
    worker: Mutex<Option<IssuerWorker>>,
    writer_thread: Mutex<Option<thread::JoinHandle<()>>>,
    security: Arc<dyn SecurityModule>,
    pin_verification_values: HashMap<String, Zeroizing<Vec<u8>>>,
    faults: Faults,
    data_dir: PathBuf,
    mac_counters: MacCounters,
    merchant_codes: MerchantCodes,
    attestation: AttestationService,
    velocity: velocity::Monitor,
}

impl ServerState {
    /// Opens the data directory: CA, host certificate, ledger (seeded on first start).
    pub(crate) fn open(
        data_dir: &Path,
        security: Arc<dyn SecurityModule>,
    ) -> Result<Self, HostError> {
        let ca = pki::HostCa::load_or_create(data_dir)?;
        let cert_path = data_dir.join(HOST_CERT_FILE);
        let key_path = data_dir.join(HOST_KEY_FILE);
        let stored = if cert_path.exists() && key_path.exists() {
            Some((
                std::fs::read_to_string(&cert_path).map_err(HostError::io(&cert_path))?,
                Zeroizing::new(
                    std::fs::read_to_string(&key_path).map_err(HostError::io(&key_path))?,
                ),
            ))
        } else {
            None
        };
        // A host certificate that expires within a month (or no longer chains to the CA) is
        // replaced at start.
        let current = stored.filter(|(cert, _)| {
            pki::server_certificate_valid_for(ca.cert_pem(), cert, RENEW_BEFORE_EXPIRY)
        });
        let (cert_pem, key_pem) = if let Some(current) = current {
            current
        } else {
            // Renewal keeps the host's key: enrolment bundles pin it (`host_spki_sha256`).
            let key = pki::load_or_create_host_key(data_dir)?;
            let cert = ca.issue_server(&key)?;
            std::fs::write(&cert_path, &cert).map_err(HostError::io(&cert_path))?;
            (cert, Zeroizing::new(key.serialize_pem()))
        };
        let tls = pki::server_config(ca.cert_pem(), &cert_pem, &key_pem)?;
        let api_tls = super::api::tls_config(ca.cert_pem(), &cert_pem, &key_pem)?;
        let conn = ledger::open_writer(&data_dir.join(ledger::LEDGER_FILE))?;
        if !ledger::has_accounts(&conn)? {
            seed(&conn, security.as_ref(), &issuer::demo_accounts())?;
            tracing::info!("seeded the demo accounts");
        }
        let pin_verification_values = ledger::pin_verification_values(&conn)?
            .into_iter()
            .map(|(pan, pvv)| (pan, Zeroizing::new(pvv)))
            .collect();
        let mac_counters = MacCounters::open(&data_dir.join(ledger::LEDGER_FILE))?;
        let (worker, writer_thread) = IssuerWorker::start(conn, security.clone())?;
        Ok(Self(Arc::new(Inner {
            tls,
            api_tls,
            worker: Mutex::new(Some(worker)),
            writer_thread: Mutex::new(Some(writer_thread)),
            security,
            pin_verification_values,
            faults: Faults::default(),
            data_dir: data_dir.to_path_buf(),
            mac_counters,
            merchant_codes: MerchantCodes::new(
                TokenKey::random()
                    .map_err(|_| HostError::Hsm("the OS random source failed".to_owned()))?,
                merchant_code::DEFAULT_LIFETIME_SECS,
            ),
            attestation: AttestationService::load_or_create(data_dir)?,
            velocity: velocity::Monitor::default(),
        })))
    }

    pub(crate) fn faults(&self) -> &Faults {
        &self.0.faults
    }

    /// The host's data directory (enrolment records, wallets).
    pub(crate) fn data_dir(&self) -> &Path {
        &self.0.data_dir
    }

    /// The merchant's-code payments.
    pub(crate) fn merchant_codes(&self) -> &MerchantCodes {
        &self.0.merchant_codes
    }

    /// The attestation service ([`super::attestation`]).
    pub(crate) fn attestation(&self) -> &AttestationService {
        &self.0.attestation
    }

    /// The HTTPS API's TLS configuration ([`super::api`]).
    pub(crate) fn api_tls(&self) -> Arc<rustls::ServerConfig> {
        self.0.api_tls.clone()
    }

    /// Closes the writer's queue and waits for its last commit.
    pub(crate) fn close_ledger(&self) {
        if let Ok(mut w) = self.0.worker.lock() {
            w.take();
        }
        let handle = self.0.writer_thread.lock().ok().and_then(|mut t| t.take());
        if let Some(handle) = handle {
            let _ = handle.join();
        }
    }

    fn worker(&self) -> Option<IssuerWorker> {
        self.0.worker.lock().ok().and_then(|w| w.clone())
    }
}

/// Seeds accounts, asking the security module for each PIN verification value.
pub(crate) fn seed(
    conn: &rusqlite::Connection,
    security: &dyn SecurityModule,
    accounts: &[ledger::AccountSeed],
) -> Result<(), HostError> {
    for account in accounts {
        let pvv = match security.pin_verification_value(&account.pan, issuer::DEMO_PIN) {
            Ok(pvv) => pvv,
            Err(e) => {
                tracing::warn!(error = %e, "no PIN verification value; online PIN will fail");
                Vec::new()
            }
        };
        ledger::put_account(conn, account, &pvv)?;
    }
    Ok(())
}

/// Accepts connections until `shutdown` fires, then stops the connections and the ledger.
pub(crate) async fn serve(
    listener: TcpListener,
    state: ServerState,
    admission: Arc<Admission>,
    mut shutdown: oneshot::Receiver<()>,
) {
    let acceptor = TlsAcceptor::from(state.0.tls.clone());
    let mut connections = tokio::task::JoinSet::new();
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    let Some(place) = admission.admit(peer.ip()) else {
                        tracing::warn!(source = %peer.ip(), "too many connections from one source: closed");
                        drop(stream);
                        continue;
                    };
                    tracing::debug!(%peer, "connection");
                    let _ = stream.set_nodelay(true);
                    connections.spawn(connection(stream, acceptor.clone(), state.clone(), admission.clone(), place));
                }
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    drop(listener);
    // Requests already with the writer finish (their connections get their answer);
    // connections waiting for a request are closed.
    connections.abort_all();
    while connections.join_next().await.is_some() {}
    state.close_ledger();
    tracing::info!("acquirer host stopped");
}

async fn connection(
    stream: TcpStream,
    acceptor: TlsAcceptor,
    state: ServerState,
    admission: Arc<Admission>,
    _place: super::admission::Place,
) {
    // Waiting for a handshake slot counts towards the handshake's time.
    let handshake = async {
        let _slot = admission.handshake_slot().await?;
        Some(acceptor.accept(stream).await)
    };
    let mut tls = match timeout(admission.handshake_timeout(), handshake).await {
        Ok(Some(Ok(tls))) => tls,
        Ok(Some(Err(e))) => {
            tracing::info!(error = %e, "TLS handshake refused");
            return;
        }
        Ok(None) => return,
        Err(_) => {
            tracing::info!("TLS handshake timed out");
            return;
        }
    };
    let Some(certificate) = tls
        .get_ref()
        .1
        .peer_certificates()
        .and_then(|c| c.first())
        .map(|c| c.clone().into_owned())
    else {
        return;
    };
    let mut terminal: Option<Bound> = None;
    loop {
        let mut header = [0u8; 2];
        match timeout(IDLE_TIMEOUT, tls.read_exact(&mut header)).await {
            Ok(Ok(_)) => {}
            _ => break,
        }
        let Ok(len) = iso8583::frame_len(header) else {
            tracing::info!("bad length header: closing");
            break;
        };
        let mut body = vec![0u8; len];
        match timeout(FRAME_TIMEOUT, tls.read_exact(&mut body)).await {
            Ok(Ok(_)) => {}
            _ => break,
        }
        let (reply, faults_apply) = handle(&state, &certificate, &mut terminal, &body).await;
        body.fill(0);
        let Some(mut reply) = reply else {
            break;
        };
        let action = if faults_apply {
            state.faults().next_action()
        } else {
            Default::default()
        };
        if let Some(d) = action.delay {
            tokio::time::sleep(d).await;
        }
        if action.close_connection {
            tracing::info!("fault: closing instead of answering");
            break;
        }
        if action.drop_response {
            tracing::info!("fault: dropping the response");
            continue;
        }
        if action.bad_mac {
            reply = corrupt_mac(reply);
        }
        let Ok(len) = u16::try_from(reply.len()) else {
            break;
        };
        let mut frame = Vec::with_capacity(reply.len() + 2);
        frame.extend_from_slice(&len.to_be_bytes());
        frame.extend_from_slice(&reply);
        if tls.write_all(&frame).await.is_err() || tls.flush().await.is_err() {
            break;
        }
    }
    let _ = tls.shutdown().await;
}

/// The terminal a connection is bound to (by its first message's DE 41) and its enrolment
/// record.
struct Bound {
    terminal_id: String,
    record: TerminalRecord,
}

/// Handles one message body: the response body (`None` closes the connection) and whether
/// fault switches apply to it.
async fn handle(
    state: &ServerState,
    certificate: &CertificateDer<'static>,
    terminal: &mut Option<Bound>,
    body: &[u8],
) -> (Option<Vec<u8>>, bool) {
    let message = match Message::decode(body) {
        Ok(m) => m,
        Err(e) => {
            tracing::info!(error = %e, "undecodable message");
            return (format_error_for_raw(body), false);
        }
    };
    let mti = message.mti();
    if !KNOWN_REQUESTS.contains(&mti) {
        tracing::info!(%mti, "unknown MTI: closing");
        return (None, false);
    }
    // Answers without a MAC: before the request's MAC is known to be good.
    let unsigned = |code: &str| (issuer::response(&message, code).encode().ok(), false);
    let Some(terminal_id) = message.text(41).map(str::to_owned) else {
        return unsigned("30");
    };
    if terminal.as_ref().map(|b| b.terminal_id.as_str()) != Some(terminal_id.as_str()) {
        if !pki::certificate_names_terminal(certificate, &terminal_id) {
            tracing::warn!("DE 41 does not match the client certificate");
            return unsigned("58");
        }
        let record = match TerminalRecord::load(&state.0.data_dir, &terminal_id) {
            Ok(Some(r)) => r,
            Ok(None) => {
                // No record, no MAC rule and no key binding: such a terminal is not served.
                tracing::warn!("terminal without an enrolment record: refused");
                return unsigned("58");
            }
            Err(e) => {
                tracing::error!(error = %e, "unreadable enrolment record");
                return unsigned("91");
            }
        };
        *terminal = Some(Bound {
            terminal_id: terminal_id.clone(),
            record,
        });
    }
    match blocklist::is_blocked(&state.0.data_dir, &terminal_id) {
        Ok(false) => {}
        Ok(true) => {
            tracing::warn!("terminal on the revocation list: refused");
            return unsigned("58");
        }
        Err(e) => {
            tracing::error!(error = %e, "unreadable revocation list");
            return unsigned("91");
        }
    }
    let Some(record) = terminal.as_ref().map(|b| &b.record) else {
        return unsigned("58");
    };
    let mac_ksn = match check_mac(state, &message, body, record) {
        Ok(k) => k,
        Err(code) => return unsigned(code),
    };
    // From here on, a request with a good MAC gets a MACed answer whatever it says.
    let reject = |code: &str| (signed(state, mac_ksn.as_ref(), &message, code), false);
    if let Err(code) =
        attestation::link::check(&state.0.attestation, record, &terminal_id, &message)
    {
        return reject(code);
    }
    let (Some(stan), Some(transmission)) = (message.text(11), message.text(7)) else {
        return reject("30");
    };
    if freshness::applies_to(mti)
        && !freshness::is_fresh(transmission, SystemTime::now(), freshness::WINDOW)
    {
        tracing::warn!(%mti, "DE 7 outside the freshness window");
        return reject(freshness::STALE_CODE);
    }
    if mti == Mti::NETWORK_REQUEST {
        let code = match message.text(70) {
            Some("001" | "002" | "301") => "00",
            _ => "30",
        };
        return reject(code);
    }
    let key = IdempotencyKey {
        terminal_id: terminal_id.clone(),
        stan: stan.to_owned(),
        transmission: transmission.to_owned(),
        mti_class: mti.original(),
    };
    // A customer's signed offline code (DE 104) names the payer's account (DE 2).
    let mut message = message.clone();
    if let Err(code) = wallets::resolve_offline_code(&state.0.data_dir, &mut message, &key) {
        return reject(code);
    }
    // A merchant's-code payment (DE 105) names the wallet that confirmed it.
    let merchant_code = match merchant_code::link::resolve(
        &state.0.merchant_codes,
        &state.0.data_dir,
        &mut message,
        &terminal_id,
    ) {
        Ok(reference) => reference,
        Err(code) => return reject(code),
    };
    let undoes = merchant_code::link::undoes(&message);
    let watched = velocity::Observation::of(&message);
    let request = match request::validate(
        state.0.security.as_ref(),
        &state.0.pin_verification_values,
        message,
        key,
        Some(record),
        mac_ksn,
    ) {
        Ok(r) => r,
        Err(code) => return reject(code),
    };
    let Some(worker) = state.worker() else {
        return (None, false);
    };
    let Some(reply) = worker.submit(request).await else {
        return (None, false);
    };
    if let Some(reference) = merchant_code {
        merchant_code::link::complete(&state.0.merchant_codes, &terminal_id, &reference, &reply);
    }
    if let Some(original) = undoes {
        merchant_code::link::reverse(&state.0.merchant_codes, &terminal_id, &original, &reply);
    }
    if let Some(seen) = watched {
        velocity::after_reply(
            &state.0.velocity,
            &state.0.data_dir,
            &terminal_id,
            seen,
            &reply,
        );
    }
    match mac_ksn {
        None => (Some(reply), true),
        Some(ksn) => match issuer::sign_response(state.0.security.as_ref(), &ksn, reply) {
            Ok(signed) => (Some(signed), true),
            Err(e) => {
                tracing::error!(error = %e, "cannot MAC the response: closing");
                (None, false)
            }
        },
    }
}

/// A response with DE 39 = `code`, MACed with `mac_ksn` when the request had a good MAC.
fn signed(
    state: &ServerState,
    mac_ksn: Option<&[u8; 12]>,
    request: &Message,
    code: &str,
) -> Option<Vec<u8>> {
    let mut response = issuer::response(request, code);
    let Some(ksn) = mac_ksn else {
        return response.encode().ok();
    };
    let field = issuer::mac_field(&response);
    response.set(field, vec![0u8; 8]);
    let bytes = response.encode().ok()?;
    match issuer::sign_response(state.0.security.as_ref(), ksn, bytes) {
        Ok(b) => Some(b),
        Err(e) => {
            tracing::error!(error = %e, "cannot MAC the response: closing");
            None
        }
    }
}

/// The request MAC (`docs/iso8583.md` §6): `Ok(Some(ksn))` when it verified (the answer is
/// MACed with that KSN), `Ok(None)` when there is none and none is required, `Err(code)`
/// otherwise. A terminal enrolled with a MAC key must MAC every request but 0800, with the
/// KSN of that key in DE 61; one enrolled without may send requests without MAC. The KSN's
/// counter must be above the last one that verified for its key, which the host keeps
/// durably ([`MacCounters`]).
fn check_mac(
    state: &ServerState,
    message: &Message,
    body: &[u8],
    record: &TerminalRecord,
) -> Result<Option<[u8; 12]>, &'static str> {
    let field = issuer::mac_field(message);
    let other = if field == 64 { 128 } else { 64 };
    if message.has(other) {
        return Err("30");
    }
    let Some(received) = message.field(field) else {
        if record.mac_required && message.mti() != Mti::NETWORK_REQUEST {
            tracing::warn!("request without MAC from a terminal enrolled with a MAC key");
            return Err("30");
        }
        return Ok(None);
    };
    let ksn: [u8; 12] = message
        .field(MAC_KSN_FIELD)
        .and_then(|k| k.try_into().ok())
        .ok_or("30")?;
    if !record.is_mac_key(&ksn) {
        tracing::warn!("DE 61 does not name the terminal's MAC key");
        return Err("30");
    }
    // What the MAC covers, and that the MAC is 8 bytes and the message's last
    // (`emv::iso8583::mac`, the terminal's own rule).
    let Ok(parts) = MacParts::of(body) else {
        return Err("30");
    };
    if parts.mac != received {
        return Err("30");
    }
    let counters = &state.0.mac_counters;
    match counters.is_stale(&ksn) {
        Ok(false) => {}
        Ok(true) => {
            tracing::warn!("stale MAC KSN (durable counter)");
            return Err("30");
        }
        Err(e) => {
            tracing::error!(error = %e, "MAC counters unavailable");
            return Err("96");
        }
    }
    match state
        .0
        .security
        .verify_request_mac(&ksn, parts.covered, &parts.mac)
    {
        Ok(true) => match counters.advance(&ksn) {
            Ok(true) => Ok(Some(ksn)),
            Ok(false) => {
                tracing::warn!("stale MAC KSN (durable counter)");
                Err("30")
            }
            Err(e) => {
                tracing::error!(error = %e, "MAC counters unavailable");
                Err("96")
            }
        },
        Ok(false) => {
            tracing::warn!("wrong request MAC");
            Err("30")
        }
        Err(SecurityError::Replayed) => {
            tracing::warn!("stale MAC KSN");
            Err("30")
        }
        Err(e) => {
            tracing::warn!(error = %e, "MAC unavailable");
            Err("91")
        }
    }
}

/// For a body that does not decode: a `30` response if it starts with a known request MTI,
/// else `None` (close). Nothing of the request can be echoed (`docs/iso8583.md` §4): the
/// answer has DE 37 where its type requires one, and DE 39.
pub(super) fn format_error_for_raw(body: &[u8]) -> Option<Vec<u8>> {
    let digits = std::str::from_utf8(body.get(..4)?).ok()?;
    let mti = Mti::from_bcd(u16::from_str_radix(digits, 16).ok()?)?;
    if !KNOWN_REQUESTS.contains(&mti) {
        return None;
    }
    let response = mti.original().response()?;
    let mut answer = Message::new(response);
    if contract::presence(response, 37) == Some(Presence::Mandatory) {
        answer.set(37, issuer::NOT_RECORDED);
    }
    answer.with(39, "30").encode().ok()
}

/// The bad-MAC fault: flip the MAC, or add a wrong one.
fn corrupt_mac(reply: Vec<u8>) -> Vec<u8> {
    let Ok(mut message) = Message::decode(&reply) else {
        return reply;
    };
    let field = issuer::mac_field(&message);
    let mut mac = message
        .field(field)
        .map_or([0xA5; 8].to_vec(), <[u8]>::to_vec);
    if let Some(last) = mac.last_mut() {
        *last ^= 0x01;
    }
    message.set(field, mac);
    message.encode().unwrap_or(reply)
}

/// The request MTIs the host serves.
pub(super) const KNOWN_REQUESTS: [Mti; 10] = [
    Mti::AUTHORIZATION_REQUEST,
    Mti::FINANCIAL_REQUEST,
    Mti::FINANCIAL_ADVICE,
    Mti::FINANCIAL_ADVICE_REPEAT,
    Mti::REVERSAL_REQUEST,
    Mti::REVERSAL_REQUEST_REPEAT,
    Mti::REVERSAL_ADVICE,
    Mti::REVERSAL_ADVICE_REPEAT,
    Mti::RECONCILIATION_REQUEST,
    Mti::NETWORK_REQUEST,
];
const RENEW_BEFORE_EXPIRY: Duration = Duration::from_secs(30 * 24 * 3600);
const IDLE_TIMEOUT: Duration = Duration::from_secs(300);
const FRAME_TIMEOUT: Duration = Duration::from_secs(30);
const HOST_CERT_FILE: &str = "host.pem";
const HOST_KEY_FILE: &str = pki::HOST_KEY_FILE;
