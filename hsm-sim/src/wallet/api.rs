//! The wallet's side of the host's HTTPS API (`docs/wallet-api.md`): the request bodies the
//! host reads, and a blocking client over TLS 1.3 that trusts only the host CA the wallet was
//! given at enrolment. A wallet has no client certificate: each request that spends money
//! carries the customer's signed consent ([`super::consent`]).

use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use emv::api::merchant_code::PaymentStatus;
use emv::qr::merchant_payment::Payment;
use serde::{Deserialize, Serialize};

use super::consent::{self, ANSWER_REQUEST, Consent, INBOX, PAY_MERCHANT_CODE};
use super::device::Device;

/// `POST /v1/wallet/merchant-payments`: the customer pays a merchant's code, scanned (every
/// field from the code) or typed as a short code (the token alone).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PayMerchantCode {
    /// The customer's consent, signed over [`PayMerchantCode::signed_fields`].
    #[serde(flatten)]
    pub consent: Consent,
    /// The token (twelve digits).
    pub token: String,
    /// The payment's reference, from the code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    /// The merchant's terminal, from the code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub terminal_id: Option<String>,
    /// The amount read from the code (minor units).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amount: Option<u64>,
}

impl PayMerchantCode {
    /// The fields the consent signs, in order: reference, terminal, amount (decimal), token;
    /// an absent field is the empty string.
    pub fn signed_fields(&self) -> [String; 4] {
        [
            self.reference.clone().unwrap_or_default(),
            self.terminal_id.clone().unwrap_or_default(),
            self.amount.map(|a| a.to_string()).unwrap_or_default(),
            self.token.clone(),
        ]
    }

    /// A request for `payment` (as scanned), signed by `device` now.
    pub fn scanned(device: &Device, payment: &Payment) -> Self {
        Self::signed(
            device,
            payment.token.clone(),
            Some(payment.reference.clone()),
            Some(payment.terminal_id.clone()),
            Some(payment.amount),
        )
    }

    /// A request for a typed short code, signed by `device` now.
    pub fn typed(device: &Device, token: String) -> Self {
        Self::signed(device, token, None, None, None)
    }

    fn signed(
        device: &Device,
        token: String,
        reference: Option<String>,
        terminal_id: Option<String>,
        amount: Option<u64>,
    ) -> Self {
        let mut request = Self {
            consent: Consent {
                device_id: String::new(),
                signed_at: 0,
                signature: String::new(),
            },
            token,
            reference,
            terminal_id,
            amount,
        };
        let fields = request.signed_fields();
        let fields: Vec<&str> = fields.iter().map(String::as_str).collect();
        request.consent = consent::sign(device, PAY_MERCHANT_CODE, &fields, unix_now());
        request
    }
}

/// `POST /v1/wallet/inbox`: the requests to pay waiting for this wallet (a signed look, so
/// nobody else reads them).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Inbox {
    /// The consent, over no fields.
    #[serde(flatten)]
    pub consent: Consent,
}

/// A request to pay in the inbox: what the phone shows before the customer answers.
pub use crate::host::merchant_code::PaymentRequest as InboxItem;

/// `POST /v1/wallet/payment-requests/{reference}`: the customer's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AnswerRequest {
    /// The consent, over the reference and the answer.
    #[serde(flatten)]
    pub consent: Consent,
    /// `confirm` or `refuse`.
    pub answer: String,
}

/// The answer to [`PayMerchantCode`] and [`AnswerRequest`]: where the payment ended (or stood when the host stopped
/// waiting for the terminal).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WalletPayment {
    /// Where it stands: `paid`, `declined`, `cancelled`, `expired`, or still `confirmed`
    /// when the merchant's terminal did not complete it in time.
    pub status: PaymentStatus,
    /// The payment's reference.
    pub reference: String,
    /// The merchant's terminal.
    pub terminal_id: String,
    /// The amount in minor units.
    pub amount: u64,
    /// ISO 4217 numeric currency.
    pub currency: u16,
}

/// How long the host waits for the merchant's terminal to complete a confirmed payment before
/// it answers the wallet.
pub const COMPLETION_WAIT: Duration = Duration::from_secs(20);

/// Why a request to the host failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WalletApiError {
    /// The address is not `HOST:PORT`.
    #[error("the host API address {0:?} is not HOST:PORT")]
    BadAddress(String),
    /// The host CA does not make a TLS configuration.
    #[error("the host CA: {0}")]
    Ca(String),
    /// The host refused, with its reason.
    #[error("{message}")]
    Refused {
        /// The HTTP status.
        status: u16,
        /// The host's reason.
        message: String,
    },
    /// No answer.
    #[error("the host cannot be reached: {0}")]
    Unreachable(String),
    /// An answer that is not the JSON expected.
    #[error("the host's answer is not understood: {0}")]
    BadAnswer(String),
}

/// A wallet's client of the host's API.
#[derive(Debug, Clone)]
pub struct WalletApi {
    agent: ureq::Agent,
    base: String,
}

impl WalletApi {
    /// The API at `address` (`HOST:PORT`), trusting only `ca_pem`; the host's certificate must
    /// name `localhost` (the simulated host's name).
    pub fn new(address: &str, ca_pem: &str) -> Result<Self, WalletApiError> {
        let bad = || WalletApiError::BadAddress(address.to_owned());
        let addrs: Vec<SocketAddr> = address.to_socket_addrs().map_err(|_| bad())?.collect();
        let port = addrs.first().ok_or_else(bad)?.port();
        let config = crate::host::pki::client_config_without_certificate(ca_pem)
            .map_err(|e| WalletApiError::Ca(e.to_string()))?;
        let mut config = Arc::unwrap_or_clone(config);
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        let agent = ureq::AgentBuilder::new()
            .tls_config(Arc::new(config))
            .resolver(move |_: &str| Ok(addrs.clone()))
            .timeout(COMPLETION_WAIT + Duration::from_secs(10))
            .redirects(0)
            .build();
        Ok(Self {
            agent,
            base: format!("https://localhost:{port}"),
        })
    }

    /// Pays a merchant's code; the answer comes once the merchant's terminal has completed
    /// the payment (or [`COMPLETION_WAIT`] has passed).
    pub fn pay_merchant_code(
        &self,
        request: &PayMerchantCode,
    ) -> Result<WalletPayment, WalletApiError> {
        self.post("/v1/wallet/merchant-payments", request)
    }

    /// The requests to pay waiting for `device`'s answer.
    pub fn inbox(&self, device: &Device) -> Result<Vec<InboxItem>, WalletApiError> {
        let consent = consent::sign(device, INBOX, &[], unix_now());
        self.post("/v1/wallet/inbox", &Inbox { consent })
    }

    /// The customer's answer to request `reference`: confirmed (the answer comes once the
    /// merchant's terminal has completed the payment) or refused.
    pub fn answer(
        &self,
        device: &Device,
        reference: &str,
        confirm: bool,
    ) -> Result<WalletPayment, WalletApiError> {
        let answer = if confirm { "confirm" } else { "refuse" };
        let consent = consent::sign(device, ANSWER_REQUEST, &[reference, answer], unix_now());
        let body = AnswerRequest {
            consent,
            answer: answer.to_owned(),
        };
        self.post(&format!("/v1/wallet/payment-requests/{reference}"), &body)
    }

    fn post<B: Serialize, T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<T, WalletApiError> {
        let url = format!("{}{path}", self.base);
        match self.agent.post(&url).send_json(body) {
            Ok(response) => response
                .into_json()
                .map_err(|e| WalletApiError::BadAnswer(e.to_string())),
            Err(ureq::Error::Status(status, response)) => {
                let message = response
                    .into_json::<serde_json::Value>()
                    .ok()
                    .and_then(|v| v.get("error")?.as_str().map(str::to_owned))
                    .unwrap_or_else(|| format!("refused ({status})"));
                Err(WalletApiError::Refused { status, message })
            }
            Err(ureq::Error::Transport(t)) => Err(WalletApiError::Unreachable(t.to_string())),
        }
    }
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
