//! A terminal-side client for tests, the bench and third-party tooling: TLS 1.3 with the
//! enrolment bundle's certificate, framed ISO 8583 requests, one response each. The app's real
//! acquirer link lives in softpos.

use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::ServerName;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

use super::{EnrolmentBundle, HostError, pki};
use crate::iso8583::{self, Message};

/// A connected terminal.
pub struct TerminalClient {
    stream: TlsStream<TcpStream>,
    timeout: Duration,
}

impl TerminalClient {
    /// Connects to the bundle's host with the bundle's certificate.
    pub async fn connect(bundle: &EnrolmentBundle) -> Result<Self, HostError> {
        let config = pki::client_config(&bundle.ca_pem, &bundle.certificate_pem, &bundle.key_pem)?;
        Self::connect_with(&bundle.host, &bundle.server_name, config).await
    }

    /// Connects with an explicit rustls configuration (tests of refused certificates).
    pub async fn connect_with(
        host: &str,
        server_name: &str,
        config: Arc<rustls::ClientConfig>,
    ) -> Result<Self, HostError> {
        let tcp = TcpStream::connect(host)
            .await
            .map_err(|source| HostError::Io {
                path: host.into(),
                source,
            })?;
        let _ = tcp.set_nodelay(true);
        let name = ServerName::try_from(server_name.to_owned())
            .map_err(|e| HostError::Tls(e.to_string()))?;
        let stream = timeout(
            DEFAULT_TIMEOUT,
            TlsConnector::from(config).connect(name, tcp),
        )
        .await
        .map_err(|_| HostError::Timeout)?
        .map_err(|e| HostError::Tls(e.to_string()))?;
        Ok(Self {
            stream,
            timeout: DEFAULT_TIMEOUT,
        })
    }

    /// Sets how long [`TerminalClient::send`] waits for a response (default 10 s).
    pub fn set_timeout(&mut self, timeout: Duration) {
        self.timeout = timeout;
    }

    /// Sends `request` and returns the decoded response.
    pub async fn send(&mut self, request: &Message) -> Result<Message, HostError> {
        let body = self.send_raw(&request.encode_frame()?).await?;
        Ok(Message::decode(&body)?)
    }

    /// Writes `frame` as is (length header included, possibly malformed) and returns the body
    /// of the next response frame.
    pub async fn send_raw(&mut self, frame: &[u8]) -> Result<Vec<u8>, HostError> {
        self.write_raw(frame).await?;
        self.read_frame().await
    }

    /// Writes bytes as is.
    pub async fn write_raw(&mut self, bytes: &[u8]) -> Result<(), HostError> {
        let io = |source| HostError::Io {
            path: "TLS stream".into(),
            source,
        };
        self.stream.write_all(bytes).await.map_err(io)?;
        self.stream.flush().await.map_err(io)
    }

    /// Reads one response frame's body.
    pub async fn read_frame(&mut self) -> Result<Vec<u8>, HostError> {
        timeout(self.timeout, read_frame(&mut self.stream))
            .await
            .map_err(|_| HostError::Timeout)?
    }
}

async fn read_frame(stream: &mut TlsStream<TcpStream>) -> Result<Vec<u8>, HostError> {
    let mut header = [0u8; 2];
    stream
        .read_exact(&mut header)
        .await
        .map_err(|_| HostError::ConnectionClosed)?;
    let len = iso8583::frame_len(header)?;
    let mut body = vec![0u8; len];
    stream
        .read_exact(&mut body)
        .await
        .map_err(|_| HostError::ConnectionClosed)?;
    Ok(body)
}

impl std::fmt::Debug for TerminalClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TerminalClient").finish_non_exhaustive()
    }
}

const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// Request builders for tests, the bench and third-party tooling, following
/// `docs/iso8583.md` §4.
pub mod requests {
    use crate::iso8583::{Message, Mti};

    /// DE 7 for now (`MMDDhhmmss`, UTC).
    pub fn transmission_now() -> String {
        let secs = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let day_secs = secs % 86_400;
        let date = crate::host::issuer::today();
        format!(
            "{}{:02}{:02}{:02}",
            date.mmdd(),
            day_secs / 3600,
            (day_secs / 60) % 60,
            day_secs % 60
        )
    }

    /// A 0200 purchase (processing code `000000`, EUR, POS entry mode `071` contactless chip)
    /// without PIN or chip data.
    pub fn purchase(
        terminal_id: &str,
        stan: u32,
        transmission: &str,
        pan: &str,
        amount: i64,
    ) -> Message {
        financial(
            Mti::FINANCIAL_REQUEST,
            "000000",
            terminal_id,
            stan,
            transmission,
            pan,
            amount,
        )
    }

    /// A financial message of type `mti` with processing code `processing`.
    pub fn financial(
        mti: Mti,
        processing: &str,
        terminal_id: &str,
        stan: u32,
        transmission: &str,
        pan: &str,
        amount: i64,
    ) -> Message {
        Message::new(mti)
            .with(2, pan)
            .with(3, processing)
            .with(4, format!("{amount:012}"))
            .with(7, transmission)
            .with(11, format!("{stan:06}"))
            .with(12, transmission.get(4..).unwrap_or("000000"))
            .with(13, transmission.get(..4).unwrap_or("0101"))
            .with(22, "071")
            .with(41, terminal_id)
            .with(42, "MERCHANT0000001")
            .with(49, "978")
    }

    /// DE 90 naming `original` (`docs/iso8583.md` §3).
    pub fn original_data(original: &Message) -> String {
        format!(
            "{}{}{}{}",
            original.mti().original(),
            original.text(11).unwrap_or("000000"),
            original.text(7).unwrap_or("0000000000"),
            "0".repeat(22)
        )
    }

    /// A reversal (`mti` 0400 or 0420) of `original`.
    pub fn reversal(mti: Mti, original: &Message, stan: u32, transmission: &str) -> Message {
        let mut m = Message::new(mti)
            .with(7, transmission)
            .with(11, format!("{stan:06}"))
            .with(90, original_data(original));
        for n in [3, 4, 41, 42, 49] {
            if let Some(v) = original.field(n) {
                m.set(n, v.to_vec());
            }
        }
        m
    }

    /// A void (0200, processing code `020000`, or `220000` for a refund) of `original`.
    pub fn void(original: &Message, stan: u32, transmission: &str) -> Message {
        let processing = if original.text(3).is_some_and(|p| p.starts_with("20")) {
            "220000"
        } else {
            "020000"
        };
        let mut m = Message::new(Mti::FINANCIAL_REQUEST)
            .with(3, processing)
            .with(7, transmission)
            .with(11, format!("{stan:06}"))
            .with(90, original_data(original));
        for n in [4, 41, 42, 49] {
            if let Some(v) = original.field(n) {
                m.set(n, v.to_vec());
            }
        }
        m
    }

    /// A network management request: `code` `001` sign-on, `002` sign-off, `301` echo.
    pub fn network(terminal_id: &str, stan: u32, transmission: &str, code: &str) -> Message {
        Message::new(Mti::NETWORK_REQUEST)
            .with(7, transmission)
            .with(11, format!("{stan:06}"))
            .with(41, terminal_id)
            .with(70, code)
    }

    /// Batch totals for a 0500 (`docs/iso8583.md` §4).
    #[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
    pub struct BatchTotals {
        /// DE 74.
        pub credits: u64,
        /// DE 75.
        pub credit_reversals: u64,
        /// DE 76.
        pub debits: u64,
        /// DE 77.
        pub debit_reversals: u64,
        /// DE 86.
        pub credits_amount: u64,
        /// DE 87.
        pub credit_reversals_amount: u64,
        /// DE 88.
        pub debits_amount: u64,
        /// DE 89.
        pub debit_reversals_amount: u64,
    }

    /// A 0500 reconciliation request for batch `batch` with `totals`.
    pub fn reconciliation(
        terminal_id: &str,
        stan: u32,
        transmission: &str,
        batch: u32,
        totals: &BatchTotals,
    ) -> Message {
        let net = i128::from(totals.debits_amount) - i128::from(totals.credits_amount);
        let net = if net >= 0 {
            format!("D{net:016}")
        } else {
            format!("C{:016}", -net)
        };
        Message::new(Mti::RECONCILIATION_REQUEST)
            .with(7, transmission)
            .with(11, format!("{stan:06}"))
            .with(41, terminal_id)
            .with(60, format!("{batch:06}"))
            .with(74, format!("{:010}", totals.credits))
            .with(75, format!("{:010}", totals.credit_reversals))
            .with(76, format!("{:010}", totals.debits))
            .with(77, format!("{:010}", totals.debit_reversals))
            .with(86, format!("{:016}", totals.credits_amount))
            .with(87, format!("{:016}", totals.credit_reversals_amount))
            .with(88, format!("{:016}", totals.debits_amount))
            .with(89, format!("{:016}", totals.debit_reversals_amount))
            .with(97, net)
    }
}
