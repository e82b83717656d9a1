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

use emv::crypto::cryptogram::{self, CryptogramInput};
use emv::crypto::dukpt::{self, KeyType, KeyUsage, Ksn};
use emv::crypto::key::AesKey;
use emv::crypto::pin_block::{self, OsFill, Pin};

use super::mac::MacKey;
use super::{EnrolmentBundle, HostError, pki};
use crate::iso8583::{self, Message};

/// A connected terminal.
pub struct TerminalClient {
    stream: TlsStream<TcpStream>,
    timeout: Duration,
    mac_key: Option<MacKey>,
}

impl TerminalClient {
    /// Connects to the bundle's host with the bundle's certificate. If the bundle has a MAC
    /// key, [`TerminalClient::send`] MACs requests and checks the answers' MACs.
    pub async fn connect(bundle: &EnrolmentBundle) -> Result<Self, HostError> {
        let config = pki::client_config(&bundle.ca_pem, &bundle.certificate_pem, &bundle.key_pem)?;
        let mut client = Self::connect_with(&bundle.host, &bundle.server_name, config).await?;
        client.mac_key = bundle.mac_key.clone();
        Ok(client)
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
            mac_key: None,
        })
    }

    /// Sets how long [`TerminalClient::send`] waits for a response (default 10 s).
    pub fn set_timeout(&mut self, timeout: Duration) {
        self.timeout = timeout;
    }

    /// Sends `request` and returns the decoded response. With a MAC key (see
    /// [`TerminalClient::connect`]), a request that carries no MAC yet is MACed with the next
    /// KSN, and the response must carry the host's MAC for it ([`HostError::BadMac`] if not;
    /// a request that already carries a MAC is sent as it is and its answer is not checked).
    pub async fn send(&mut self, request: &Message) -> Result<Message, HostError> {
        let unsigned = !request.has(64) && !request.has(128);
        match self.mac_key.clone().filter(|_| unsigned) {
            None => {
                let body = self.send_raw(&request.encode_frame()?).await?;
                Ok(Message::decode(&body)?)
            }
            Some(key) => {
                let mut signed = request.clone();
                let ksn = key.sign(&mut signed)?;
                let body = self.send_raw(&signed.encode_frame()?).await?;
                if !key.verify_response(ksn, &body) {
                    return Err(HostError::BadMac);
                }
                Ok(Message::decode(&body)?)
            }
        }
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

/// Terminal-side AES DUKPT (X9.24-3-2017) from an enrolment bundle: PIN-key KSNs and format-4
/// PIN blocks (`docs/iso8583.md` §3), and request MACs with the bundle's separate MAC key (§6).
/// For tests, the bench and third-party test clients; the app's PIN pad and acquirer link have
/// their own.
pub struct TerminalDukpt {
    initial_key: AesKey,
    ksn: Ksn,
    mac_key: Option<MacKey>,
}

impl TerminalDukpt {
    /// The bundle's PIN initial key and KSN, and its MAC key if any.
    pub fn from_bundle(bundle: &EnrolmentBundle) -> Result<Self, HostError> {
        let dukpt = bundle
            .dukpt
            .as_ref()
            .ok_or_else(|| HostError::BadBundle("no DUKPT key".into()))?;
        let initial_key = AesKey::from_slice(&dukpt.initial_key)
            .ok_or_else(|| HostError::BadBundle("DUKPT initial key length".into()))?;
        Ok(Self {
            initial_key,
            ksn: Ksn::from_bytes(dukpt.initial_ksn),
            mac_key: bundle.mac_key.clone(),
        })
    }

    /// Advances to the next KSN (one per transaction) and returns it.
    pub fn next_ksn(&mut self) -> Result<[u8; 12], HostError> {
        self.ksn = dukpt::next_ksn(self.ksn).map_err(|e| HostError::Hsm(e.to_string()))?;
        Ok(self.ksn.to_bytes())
    }

    /// The format-4 PIN block of `pin` (ASCII digits) for `pan` under the PIN key of `ksn`.
    pub fn pin_block(&self, ksn: [u8; 12], pin: &str, pan: &str) -> Result<[u8; 16], HostError> {
        let key = self.key(ksn, KeyUsage::PinEncryption)?;
        let pin = Pin::from_ascii(pin.as_bytes()).map_err(|e| HostError::Hsm(e.to_string()))?;
        pin_block::encrypt_format4(&key, &pin, pan, &mut OsFill)
            .map_err(|e| HostError::Hsm(e.to_string()))
    }

    /// MACs `message` with the next KSN of the bundle's MAC key (DE 61 and DE 64/128,
    /// [`super::mac::sign_request`]) and returns that KSN. Call it last: the MAC covers every
    /// field set before. A message with a PIN block also carries its PIN KSN in DE 63.
    pub fn add_mac(&self, message: &mut Message) -> Result<[u8; 12], HostError> {
        let key = self
            .mac_key
            .as_ref()
            .ok_or_else(|| HostError::BadBundle("no MAC key (enrolled without MAC)".into()))?;
        Ok(key.sign(message)?.to_bytes())
    }

    /// Whether a response body carries the host's MAC for the request MAC KSN `ksn`.
    pub fn response_mac_ok(&self, ksn: [u8; 12], body: &[u8]) -> bool {
        self.mac_key
            .as_ref()
            .is_some_and(|k| k.verify_response(Ksn::from_bytes(ksn), body))
    }

    fn key(&self, ksn: [u8; 12], usage: KeyUsage) -> Result<AesKey, HostError> {
        dukpt::derive_working_key(
            &self.initial_key,
            Ksn::from_bytes(ksn),
            usage,
            KeyType::Aes128,
        )
        .map_err(|e| HostError::Hsm(e.to_string()))
    }
}

/// A chip card for tests and the bench: makes DE 55 with a valid ARQC from the simulated
/// issuers' test master keys ([`crate::hsm::test_keys`]), like the virtual cards do.
#[derive(Debug, Clone)]
pub struct TestCard {
    /// The PAN digits.
    pub pan: String,
    /// The AID (its first five bytes are the RID).
    pub aid: Vec<u8>,
    /// PAN sequence number (`5F34`, BCD).
    pub pan_sequence_number: u8,
    /// The last ATC used.
    pub atc: u16,
    /// Issuer application data (`9F10`); it names the cryptogram version.
    pub issuer_application_data: Vec<u8>,
}

impl TestCard {
    /// A Visa card with CVN 18 (IAD format 0: length 06, DKI 01, CVN 12, CVR).
    pub fn visa(pan: &str, atc: u16) -> Self {
        Self {
            pan: pan.to_owned(),
            aid: vec![0xA0, 0x00, 0x00, 0x00, 0x03, 0x10, 0x10],
            pan_sequence_number: 0x01,
            atc,
            issuer_application_data: vec![0x06, 0x01, 0x12, 0x03, 0xA0, 0x00, 0x00],
        }
    }

    /// A Mastercard with CVN 16 (18-byte M/Chip IAD: DKI 01, CVN 10, CVR, DAC, counters).
    pub fn mastercard(pan: &str, atc: u16) -> Self {
        let mut iad = vec![0x01, 0x10, 0xA0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00];
        iad.extend_from_slice(&[0u8; 8]);
        Self {
            pan: pan.to_owned(),
            aid: vec![0xA0, 0x00, 0x00, 0x00, 0x04, 0x10, 0x10],
            pan_sequence_number: 0x01,
            atc,
            issuer_application_data: iad,
        }
    }

    /// Advances the ATC and returns DE 55 (BER-TLV) with an ARQC over `amount` (minor units,
    /// EUR) and today's date.
    pub fn icc_data(&mut self, amount: i64) -> Result<Vec<u8>, HostError> {
        self.atc = self.atc.wrapping_add(1);
        let rid = self.aid.get(..5).unwrap_or_default();
        let version = super::server::cryptogram_version(rid, &self.issuer_application_data)
            .ok_or_else(|| HostError::Hsm("unknown scheme".into()))?;
        let imk = crate::hsm::test_keys::imk_ac_for_rid(rid)
            .ok_or_else(|| HostError::Hsm("unknown scheme".into()))?;
        let icc_key = cryptogram::derive_icc_master_key(
            &imk,
            &self.pan,
            self.pan_sequence_number,
            version.master_key_derivation(),
        )
        .map_err(|e| HostError::Hsm(e.to_string()))?;
        let date = super::issuer::today();
        let bcd = |n: i64| u8::try_from((n / 10 % 10) * 16 + n % 10).unwrap_or(0);
        let mut un = [0u8; 4];
        getrandom::fill(&mut un).map_err(|e| HostError::Hsm(e.to_string()))?;
        let mut amount_bcd = [0u8; 6];
        let mut rest = amount.max(0);
        for b in amount_bcd.iter_mut().rev() {
            *b = bcd(rest % 100);
            rest /= 100;
        }
        let input = CryptogramInput {
            amount: amount_bcd,
            amount_other: [0; 6],
            terminal_country: [0x02, 0x50],
            tvr: [0; 5],
            currency: [0x09, 0x78],
            date: [bcd(date.year % 100), bcd(date.month), bcd(date.day)],
            transaction_type: 0x00,
            unpredictable_number: un,
            aip: [0x20, 0x00],
            atc: self.atc.to_be_bytes(),
            issuer_application_data: &self.issuer_application_data,
        };
        let arqc = cryptogram::application_cryptogram(version, &icc_key, &input)
            .map_err(|e| HostError::Hsm(e.to_string()))?;
        let mut out = Vec::with_capacity(128);
        let mut put = |tag: &[u8], value: &[u8]| {
            out.extend_from_slice(tag);
            out.push(u8::try_from(value.len()).unwrap_or(0));
            out.extend_from_slice(value);
        };
        put(&[0x9F, 0x26], &arqc);
        put(&[0x9F, 0x27], &[0x80]);
        put(&[0x9F, 0x10], &self.issuer_application_data);
        put(&[0x9F, 0x37], &input.unpredictable_number);
        put(&[0x9F, 0x36], &input.atc);
        put(&[0x95], &input.tvr);
        put(&[0x9A], &input.date);
        put(&[0x9C], &[input.transaction_type]);
        put(&[0x9F, 0x02], &input.amount);
        put(&[0x9F, 0x03], &input.amount_other);
        put(&[0x5F, 0x2A], &input.currency);
        put(&[0x82], &input.aip);
        put(&[0x9F, 0x1A], &input.terminal_country);
        put(&[0x84], &self.aid);
        put(&[0x5F, 0x34], &[self.pan_sequence_number]);
        Ok(out)
    }
}

/// Requests for tests, the bench and third-party tooling, built by the one builder of each
/// message type (`emv::iso8583::messages`, `docs/iso8583.md` §4) with the demo terminal's
/// defaults: merchant `MERCHANT0000001`, EUR, POS entry mode `071` (contactless chip).
pub mod requests {
    use emv::iso8583::messages::{self, CardData, Original, Terminal};

    use crate::iso8583::{Message, Mti};

    pub use crate::iso8583::BatchTotals;

    /// DE 7 for now (`MMDDhhmmss`, UTC).
    pub fn transmission_now() -> String {
        crate::iso8583::transmission_date_time(std::time::SystemTime::now())
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
            messages::PROCESSING_PURCHASE,
            terminal_id,
            stan,
            transmission,
            pan,
            amount,
        )
    }

    /// A financial message of type `mti` with processing code `processing`; a negative
    /// `amount` counts as zero.
    pub fn financial(
        mti: Mti,
        processing: &str,
        terminal_id: &str,
        stan: u32,
        transmission: &str,
        pan: &str,
        amount: i64,
    ) -> Message {
        messages::financial(
            &terminal(terminal_id),
            mti,
            processing,
            u64::try_from(amount).unwrap_or(0),
            stan,
            transmission,
            &card(pan),
            None,
        )
    }

    /// DE 90 naming `original` (`docs/iso8583.md` §3).
    pub fn original_data(original: &Message) -> String {
        original_of(original).data_elements()
    }

    /// A reversal (`mti` 0400 or 0420) of `original`.
    pub fn reversal(mti: Mti, original: &Message, stan: u32, transmission: &str) -> Message {
        messages::reversal(
            &terminal_of(original),
            mti,
            stan,
            transmission,
            &original_of(original),
        )
    }

    /// A void (0200, processing code `020000`, or `220000` for a refund) of `original`.
    pub fn void(original: &Message, stan: u32, transmission: &str) -> Message {
        messages::void(
            &terminal_of(original),
            stan,
            transmission,
            &original_of(original),
        )
    }

    /// A network management request: `code` `001` sign-on, `002` sign-off, `301` echo.
    pub fn network(terminal_id: &str, stan: u32, transmission: &str, code: &str) -> Message {
        messages::network(terminal_id, stan, transmission, code)
    }

    /// A 0500 reconciliation request for batch `batch` with `totals`.
    pub fn reconciliation(
        terminal_id: &str,
        stan: u32,
        transmission: &str,
        batch: u32,
        totals: &BatchTotals,
    ) -> Message {
        messages::reconciliation(terminal_id, stan, transmission, batch, totals)
    }

    /// A zero-amount account verification (card check) for `pan`, contactless chip, EUR.
    pub fn account_verification(
        terminal_id: &str,
        stan: u32,
        transmission: &str,
        pan: &str,
    ) -> Message {
        messages::account_verification(&terminal(terminal_id), stan, transmission, &card(pan), None)
    }

    fn terminal(terminal_id: &str) -> Terminal<'_> {
        Terminal {
            terminal_id,
            merchant_id: MERCHANT,
            currency: CURRENCY_EUR,
        }
    }

    /// The terminal fields a message carries (the demo defaults for those it lacks).
    fn terminal_of(message: &Message) -> Terminal<'_> {
        Terminal {
            terminal_id: message.text(41).unwrap_or_default(),
            merchant_id: message.text(42).unwrap_or(MERCHANT),
            currency: message
                .text(49)
                .and_then(|c| c.parse().ok())
                .unwrap_or(CURRENCY_EUR),
        }
    }

    /// The original `message` names, with zeros for what it lacks (a test may build any).
    fn original_of(message: &Message) -> Original<'_> {
        Original::of(message).unwrap_or(Original {
            mti: message.mti(),
            stan: message.text(11).and_then(|s| s.parse().ok()).unwrap_or(0),
            transmission: message.text(7).unwrap_or("0000000000"),
            processing: message.text(3).unwrap_or(messages::PROCESSING_PURCHASE),
            amount: message.text(4).and_then(|s| s.parse().ok()).unwrap_or(0),
        })
    }

    fn card(pan: &str) -> CardData<'_> {
        CardData {
            pan,
            entry_mode: messages::POS_ENTRY_CONTACTLESS_CHIP,
            ..CardData::default()
        }
    }

    const MERCHANT: &str = "MERCHANT0000001";
    const CURRENCY_EUR: u16 = 978;
}
