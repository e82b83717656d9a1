//! The acquirer link: ISO 8583:1987 over mutually authenticated TLS 1.3, following the
//! `docs/iso8583.md` dialect of the acquirer host.
//!
//! - The terminal presents the client certificate of its enrolment bundle and trusts only the
//!   bundle's host CA (pinned: no system roots). TLS 1.3 only (`docs/iso8583.md` §1).
//! - Frames are a 2-byte big-endian length and the message body (§1 "Framing").
//! - One request at a time; a response must echo the request's DE 11 and DE 41 and carry the
//!   response MTI. Anything else on the connection (such as a late answer to an earlier request
//!   that timed out) is discarded.
//! - Message authentication (§6): with the bundle's MAC key (an AES DUKPT key of its own,
//!   never the PIN pad's), every request, 0800 included, is sent with a fresh KSN in DE 61,
//!   made durable before use, and an AES-CMAC in DE 64/128 (key usage `2000`); the answer must
//!   carry the host's MAC for that KSN (usage `2001`). A missing or wrong MAC on the answer is
//!   [`AcquirerError::BadMac`]: no answer, which the engine reverses. A bundle enrolled without
//!   MAC key (`hsm-sim enroll --no-mac`) sends no MAC and accepts no MACed answer.
//! - Any error drops the connection: the next exchange reconnects. Whether an error could have
//!   let the request reach the host is [`AcquirerError::may_have_reached_host`]: the engine
//!   reverses exactly those. The link counts the bytes it writes to the socket: once any byte
//!   of a request is out, every failure of the exchange (a corrupt TLS record, an alert, a
//!   timeout) is [`AcquirerError::AfterSend`], which may have reached the host.
//!
//! The link is blocking (the engine and the kernel are synchronous): `std::net::TcpStream` with
//! read and write timeouts, and a `rustls::StreamOwned`.

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::time::{Duration, Instant};

use emv::crypto::attestation_token::TOKEN_FIELD;
use emv::iso8583::mac::MacError;
use emv::iso8583::messages::{self, NETWORK_ECHO, NETWORK_SIGN_ON};
use emv::iso8583::{self, CodecError, Message, ResponseCode};
use rustls::pki_types::ServerName;
use rustls::{ClientConfig, ClientConnection, StreamOwned};

mod credentials;
mod mac_counter;
mod socket;
pub(crate) mod tls;

use socket::CountingSocket;

pub use credentials::{CredentialsError, MANIFEST_FILE, TerminalCredentials};
pub use mac_counter::{COUNTER_FILE, MacKey, MacKeyError};
pub use tls::client_config;

mod interrupt;
pub use interrupt::LinkInterrupter;

/// How the link behaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinkSettings {
    /// How long to wait for a response before the request counts as unanswered (the host
    /// timeout, default 30 s).
    pub response_timeout: Duration,
    /// How long to wait for the TCP connection and the TLS handshake.
    pub connect_timeout: Duration,
}

impl Default for LinkSettings {
    fn default() -> Self {
        Self {
            response_timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
        }
    }
}

/// The terminal's connection to its acquirer.
pub struct Acquirer {
    config: Arc<ClientConfig>,
    host: String,
    server_name: ServerName<'static>,
    terminal_id: String,
    settings: LinkSettings,
    stream: Option<StreamOwned<ClientConnection, CountingSocket>>,
    /// When the connection last carried an exchange.
    last_used: Instant,
    /// Time spent in the last exchange's TLS handshake (zero when the connection was reused).
    last_handshake: Duration,
    /// The MAC key (`docs/iso8583.md` §6), if the terminal was enrolled with one.
    mac_key: Option<MacKey>,
    /// Stops the exchange in progress from another thread (the operator's cancel).
    interrupter: LinkInterrupter,
    /// Whether the host answered the last exchange (`None` before the first).
    host_answered: Option<bool>,
    /// The attestation token that 0100 and 0200 requests carry in DE 106
    /// (`docs/attestation.md` § On the link), for a terminal enrolled by activation.
    attestation_token: Option<Vec<u8>>,
}

impl Acquirer {
    /// A link with the terminal's `credentials` (nothing is connected yet).
    pub fn new(
        credentials: &TerminalCredentials,
        settings: LinkSettings,
    ) -> Result<Self, AcquirerError> {
        let c = credentials;
        let config = client_config(
            &c.ca_pem,
            &c.certificate_pem,
            &c.key_pem,
            c.host_spki_sha256,
        )?;
        let server_name = ServerName::try_from(c.server_name.clone())
            .map_err(|_| AcquirerError::BadBundle("the TLS server name is not valid".into()))?;
        Ok(Self {
            config,
            host: c.host.clone(),
            server_name,
            terminal_id: c.terminal_id.clone(),
            settings,
            stream: None,
            interrupter: LinkInterrupter::default(),
            last_used: Instant::now(),
            last_handshake: Duration::ZERO,
            mac_key: c.mac_key.clone(),
            host_answered: None,
            attestation_token: None,
        })
    }

    /// Whether the host answered the last exchange (sign-on, echo, or any request): what a
    /// status bar shows as reachable. `None` before the first exchange.
    pub fn host_answered(&self) -> Option<bool> {
        self.host_answered
    }

    /// Whether requests are MACed (the credentials have a MAC key).
    pub fn macs_requests(&self) -> bool {
        self.mac_key.is_some()
    }

    /// The terminal ID (DE 41) of the credentials.
    pub fn terminal_id(&self) -> &str {
        &self.terminal_id
    }

    /// The host address, `IP:PORT`.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The link settings.
    pub fn settings(&self) -> LinkSettings {
        self.settings
    }

    /// Changes the response timeout (applies from the next exchange).
    pub fn set_response_timeout(&mut self, timeout: Duration) {
        self.settings.response_timeout = timeout;
    }

    /// A handle that stops the exchange in progress from another thread: its socket is shut
    /// down (connecting, the handshake, writing or waiting for the answer all end at once;
    /// only the TCP connect itself waits out `connect_timeout`).
    pub fn interrupter(&self) -> LinkInterrupter {
        self.interrupter.clone()
    }

    /// Whether a TLS connection is open.
    pub fn is_connected(&self) -> bool {
        self.stream.is_some()
    }

    /// Time the last exchange spent connecting (TCP + TLS handshake); zero if it reused the
    /// connection.
    pub fn last_connect_time(&self) -> Duration {
        self.last_handshake
    }

    /// Opens the TLS connection now (it is otherwise opened by the first exchange).
    pub fn connect(&mut self) -> Result<(), AcquirerError> {
        if self.stream.is_none() {
            let started = Instant::now();
            let opened = self.open();
            self.interrupter.detach();
            self.stream = Some(opened?);
            self.last_handshake = started.elapsed();
        }
        Ok(())
    }

    /// Closes the connection (the next exchange reconnects).
    pub fn disconnect(&mut self) {
        if let Some(mut stream) = self.stream.take() {
            stream.conn.send_close_notify();
            let _ = stream.flush();
        }
    }

    /// Sends `request` and waits for its response (same DE 11 and DE 41, response MTI).
    pub fn exchange(&mut self, request: &Message) -> Result<Message, AcquirerError> {
        self.last_handshake = Duration::ZERO;
        let result = self.exchange_inner(request);
        self.interrupter.detach();
        self.host_answered = Some(result.is_ok());
        if result.is_err() {
            // A connection that failed once is not trusted for the next request (a late
            // response could still arrive on it).
            self.stream = None;
        }
        result
    }

    /// The attestation token the next 0100 and 0200 requests carry (`None`: none).
    pub fn set_attestation_token(&mut self, token: Option<Vec<u8>>) {
        self.attestation_token = token;
    }

    /// Sign-on (0800, DE 70 `001`, `docs/iso8583.md` §4).
    pub fn sign_on(&mut self, stan: u32) -> Result<(), AcquirerError> {
        self.network(stan, &transmission_now(), NETWORK_SIGN_ON)
    }

    /// Sign-on with DE 7 `transmission` (the caller's clock).
    pub fn sign_on_at(&mut self, stan: u32, transmission: &str) -> Result<(), AcquirerError> {
        self.network(stan, transmission, NETWORK_SIGN_ON)
    }

    /// Echo test (0800, DE 70 `301`).
    pub fn echo(&mut self, stan: u32) -> Result<(), AcquirerError> {
        self.network(stan, &transmission_now(), NETWORK_ECHO)
    }

    /// Echo test with DE 7 `transmission` (the caller's clock).
    pub fn echo_at(&mut self, stan: u32, transmission: &str) -> Result<(), AcquirerError> {
        self.network(stan, transmission, NETWORK_ECHO)
    }

    /// The last KSN the MAC key reserved, if the link MACs requests.
    pub fn last_mac_ksn(&self) -> Option<Result<emv::crypto::dukpt::Ksn, MacKeyError>> {
        self.mac_key.as_ref().map(MacKey::last_ksn)
    }

    fn network(&mut self, stan: u32, transmission: &str, code: &str) -> Result<(), AcquirerError> {
        let request = messages::network(&self.terminal_id, stan, transmission, code);
        let response = self.exchange(&request)?;
        match response.text(39).and_then(ResponseCode::parse) {
            Some(ResponseCode::Approved) => Ok(()),
            other => Err(AcquirerError::Refused(
                other.map_or_else(|| "none".to_owned(), |c| c.code().to_owned()),
            )),
        }
    }

    fn exchange_inner(&mut self, request: &Message) -> Result<Message, AcquirerError> {
        let attested;
        let request = match &self.attestation_token {
            Some(token)
                if matches!(
                    request.mti().original(),
                    iso8583::Mti::AUTHORIZATION_REQUEST | iso8583::Mti::FINANCIAL_REQUEST
                ) =>
            {
                attested = request.clone().with(TOKEN_FIELD, token.clone());
                &attested
            }
            _ => request,
        };
        // A fresh, durably reserved KSN for every transmission (repeats included).
        let mut signed;
        let (request, mac_ksn) = match &self.mac_key {
            None => (request, None),
            Some(key) => {
                signed = request.clone();
                let ksn = key.sign(&mut signed).map_err(AcquirerError::MacKey)?;
                (&signed, Some(ksn))
            }
        };
        let frame = request.encode_frame()?;
        let expected_mti = request
            .mti()
            .original()
            .response()
            .ok_or(AcquirerError::Unsupported)?;
        // The host closes idle connections (`docs/iso8583.md` §1, 300 s): rather than find out
        // after writing a financial request, reconnect before that can happen.
        if self.stream.is_some()
            && (self.last_used.elapsed() > IDLE_RECONNECT || !self.idle_connection_alive())
        {
            self.stream = None;
        }
        self.last_used = Instant::now();
        if self.stream.is_none() {
            let started = Instant::now();
            self.stream = Some(self.open()?);
            self.last_handshake = started.elapsed();
        }
        let stream = self.stream.as_mut().ok_or(AcquirerError::Closed)?;
        self.interrupter.attach(&stream.sock.tcp);
        stream
            .sock
            .tcp
            .set_write_timeout(Some(self.settings.response_timeout))
            .map_err(AcquirerError::Io)?;
        stream.sock.reset_written();
        let result = Self::send_and_receive(stream, request, &frame, expected_mti, self.settings);
        let written = stream.sock.written();
        match result {
            Ok(answer) => self.verify_answer(answer, mac_ksn),
            // Once a byte of the request is out, no error says "nothing was sent".
            Err(e) if written > 0 => Err(AcquirerError::AfterSend(Box::new(e))),
            Err(e) => Err(e),
        }
    }

    /// Writes `frame` and reads until the answer to `request` arrives (with its raw body).
    fn send_and_receive(
        stream: &mut StreamOwned<ClientConnection, CountingSocket>,
        request: &Message,
        frame: &[u8],
        expected_mti: iso8583::Mti,
        settings: LinkSettings,
    ) -> Result<(Message, zeroize::Zeroizing<Vec<u8>>), AcquirerError> {
        stream.write_all(frame).map_err(sent_error)?;
        stream.flush().map_err(sent_error)?;
        let deadline = Instant::now() + settings.response_timeout;
        loop {
            let body = read_frame(stream, deadline)?;
            let response = Message::decode(&body)?;
            let matches = response.mti() == expected_mti
                && response.field(11) == request.field(11)
                && response.field(41) == request.field(41);
            if matches {
                return Ok((response, body));
            }
            tracing::warn!(
                mti = %response.mti(),
                "discarding a response that does not answer the current request"
            );
        }
    }

    /// `docs/iso8583.md` §6: the answer to a MACed request must carry the host's MAC for its
    /// KSN; an unMACed request gets an unMACed answer. Anything else is treated as no answer
    /// (after the request was sent).
    fn verify_answer(
        &self,
        (response, body): (Message, zeroize::Zeroizing<Vec<u8>>),
        mac_ksn: Option<emv::crypto::dukpt::Ksn>,
    ) -> Result<Message, AcquirerError> {
        let mac_check = match (&self.mac_key, mac_ksn) {
            (Some(key), Some(ksn)) => key.verify_response(ksn, &body),
            _ if response.has(64) || response.has(128) => Err(MacError::Unexpected),
            _ => Ok(()),
        };
        if let Err(e) = mac_check {
            tracing::warn!(mti = %response.mti(), error = %e, "answer with a missing or wrong MAC");
            return Err(AcquirerError::AfterSend(Box::new(AcquirerError::BadMac(e))));
        }
        Ok(response)
    }

    /// Whether the idle connection is still usable: nothing may arrive on it between
    /// exchanges, so readable data (a close_notify, an alert) or end of file means the host
    /// closed it. Checked before a request is written, so that a request is never written on
    /// a connection the host already dropped (which would look like a lost answer).
    fn idle_connection_alive(&self) -> bool {
        let Some(stream) = &self.stream else {
            return false;
        };
        let sock = &stream.sock.tcp;
        if sock.set_nonblocking(true).is_err() {
            return false;
        }
        let mut probe = [0u8; 1];
        let alive = matches!(
            sock.peek(&mut probe),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock
        );
        sock.set_nonblocking(false).is_ok() && alive
    }

    fn open(&self) -> Result<StreamOwned<ClientConnection, CountingSocket>, AcquirerError> {
        let unreachable = |source| AcquirerError::Unreachable {
            host: self.host.clone(),
            source,
        };
        let address = self
            .host
            .to_socket_addrs()
            .map_err(unreachable)?
            .next()
            .ok_or_else(|| AcquirerError::BadBundle(format!("no address for {}", self.host)))?;
        let tcp = TcpStream::connect_timeout(&address, self.settings.connect_timeout)
            .map_err(unreachable)?;
        self.interrupter.attach(&tcp);
        let _ = tcp.set_nodelay(true);
        tcp.set_read_timeout(Some(self.settings.connect_timeout))
            .map_err(AcquirerError::Io)?;
        tcp.set_write_timeout(Some(self.settings.connect_timeout))
            .map_err(AcquirerError::Io)?;
        let conn = ClientConnection::new(self.config.clone(), self.server_name.clone())
            .map_err(AcquirerError::Tls)?;
        let mut stream = StreamOwned::new(conn, CountingSocket::new(tcp));
        while stream.conn.is_handshaking() {
            stream
                .conn
                .complete_io(&mut stream.sock)
                .map_err(|e| handshake_error(&self.host, e))?;
        }
        Ok(stream)
    }
}

impl std::fmt::Debug for Acquirer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Acquirer")
            .field("host", &self.host)
            .field("terminal_id", &self.terminal_id)
            .field("connected", &self.stream.is_some())
            .finish_non_exhaustive()
    }
}

/// DE 7 for now: `MMDDhhmmss`, UTC (`docs/iso8583.md` §3), from the system clock.
pub fn transmission_now() -> String {
    iso8583::transmission_date_time(std::time::SystemTime::now())
}

/// Errors of the acquirer link.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AcquirerError {
    /// The host could not be reached (connection refused, no route, DNS).
    #[error("the acquirer host {host} cannot be reached")]
    Unreachable {
        /// The address tried.
        host: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The host refused the terminal's certificate (not enrolled, revoked, wrong CA).
    #[error(
        "the acquirer host refused this terminal's certificate; the terminal must be enrolled again"
    )]
    CertificateRefused(#[source] rustls::Error),
    /// The host's certificate is not from the pinned CA, or not for the pinned host key.
    #[error(
        "the acquirer host's certificate is not trusted (not issued by the pinned host CA, or \
         not for the pinned host key)"
    )]
    HostNotTrusted(#[source] rustls::Error),
    /// Another TLS failure.
    #[error("TLS failure on the acquirer link")]
    Tls(#[source] rustls::Error),
    /// No response in time after the request was sent.
    #[error("the acquirer host did not answer in time")]
    Timeout,
    /// The connection closed after the request was sent, without a response.
    #[error("the acquirer host closed the connection without answering")]
    Closed,
    /// The response's MAC is missing or does not verify (or an unMACed request got a MACed
    /// answer): treated as no response.
    #[error("the acquirer host's answer failed its MAC check")]
    BadMac(#[source] MacError),
    /// The exchange failed after at least one byte of the request was written to the socket:
    /// whatever the cause (kept inside: a TLS alert, a corrupt record, a timeout), the request
    /// may have reached the host.
    #[error(transparent)]
    AfterSend(Box<AcquirerError>),
    /// The request could not be written (not a byte of it was sent).
    #[error("the request could not be sent")]
    SendFailed(#[source] std::io::Error),
    /// Another I/O failure.
    #[error("I/O error on the acquirer link")]
    Io(#[source] std::io::Error),
    /// A message could not be encoded or decoded.
    #[error("bad ISO 8583 message")]
    Codec(#[from] CodecError),
    /// The host answered a network message with a refusal.
    #[error("the acquirer host refused the request (response code {0})")]
    Refused(String),
    /// The enrolment bundle is not usable.
    #[error("bad enrolment bundle: {0}")]
    BadBundle(String),
    /// The request has no response MTI.
    #[error("this message type has no response")]
    Unsupported,
    /// The MAC key could not give a KSN (counter file unwritable or damaged, key exhausted):
    /// nothing was sent.
    #[error("the terminal's MAC key is not usable; the terminal may need to be enrolled again")]
    MacKey(#[source] MacKeyError),
}

impl AcquirerError {
    /// Whether the request may have reached the host (so a financial request must be
    /// reversed): any failure after a byte of the request was written
    /// ([`AcquirerError::AfterSend`]). Connection and handshake failures, and a write that
    /// sent nothing, are before the request left: nothing reached the host.
    pub fn may_have_reached_host(&self) -> bool {
        matches!(
            self,
            Self::AfterSend(_)
                | Self::Timeout
                | Self::Closed
                | Self::Codec(_)
                | Self::Io(_)
                | Self::BadMac(_)
        )
    }

    /// Whether the host is unreachable (the terminal is offline): nothing was sent.
    pub fn is_offline(&self) -> bool {
        matches!(self, Self::Unreachable { .. } | Self::SendFailed(_))
    }

    /// The failure itself, without the [`AcquirerError::AfterSend`] wrapper.
    pub fn cause(&self) -> &AcquirerError {
        match self {
            Self::AfterSend(inner) => inner.cause(),
            other => other,
        }
    }
}

fn read_frame(
    stream: &mut StreamOwned<ClientConnection, CountingSocket>,
    deadline: Instant,
) -> Result<zeroize::Zeroizing<Vec<u8>>, AcquirerError> {
    let mut header = [0u8; 2];
    read_exact_by(stream, &mut header, deadline)?;
    let len = iso8583::frame_len(header)?;
    let mut body = zeroize::Zeroizing::new(vec![0u8; len]);
    read_exact_by(stream, &mut body, deadline)?;
    Ok(body)
}

fn read_exact_by(
    stream: &mut StreamOwned<ClientConnection, CountingSocket>,
    mut buf: &mut [u8],
    deadline: Instant,
) -> Result<(), AcquirerError> {
    while !buf.is_empty() {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(AcquirerError::Timeout);
        }
        stream
            .sock
            .tcp
            .set_read_timeout(Some(left))
            .map_err(AcquirerError::Io)?;
        match stream.read(buf) {
            Ok(0) => return Err(AcquirerError::Closed),
            Ok(n) => buf = std::mem::take(&mut buf).get_mut(n..).unwrap_or_default(),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                return Err(AcquirerError::Timeout);
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(classify_tls(e).unwrap_or(AcquirerError::Closed)),
        }
    }
    Ok(())
}

/// A write error: TLS alerts received now are the host refusing us; otherwise a failed write
/// (whether any byte left is the caller's count, [`CountingSocket::written`]).
fn sent_error(e: std::io::Error) -> AcquirerError {
    match classify_tls(e) {
        Ok(tls) => tls,
        Err(e) => AcquirerError::SendFailed(e),
    }
}

fn handshake_error(host: &str, e: std::io::Error) -> AcquirerError {
    match classify_tls(e) {
        Ok(tls) => tls,
        Err(e) => AcquirerError::Unreachable {
            host: host.to_owned(),
            source: e,
        },
    }
}

/// Maps an I/O error carrying a rustls error to the human cause; the I/O error otherwise.
fn classify_tls(e: std::io::Error) -> Result<AcquirerError, std::io::Error> {
    use rustls::AlertDescription as A;
    let Some(tls) = e
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
    else {
        return Err(e);
    };
    let tls = tls.clone();
    Ok(match &tls {
        rustls::Error::AlertReceived(
            A::BadCertificate
            | A::CertificateRequired
            | A::UnknownCA
            | A::CertificateRevoked
            | A::CertificateExpired
            | A::CertificateUnknown
            | A::AccessDenied
            // A client certificate whose signature does not verify under the host CA.
            | A::DecryptError,
        ) => AcquirerError::CertificateRefused(tls),
        rustls::Error::InvalidCertificate(_) => AcquirerError::HostNotTrusted(tls),
        _ => AcquirerError::Tls(tls),
    })
}

/// Reconnect when the connection was idle longer than this (the host's limit is 300 s).
const IDLE_RECONNECT: Duration = Duration::from_secs(120);

#[cfg(test)]
mod tests;
