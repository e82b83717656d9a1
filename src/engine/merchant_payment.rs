//! A sale paid with the merchant's code (`docs/qr-merchant-code.md` § Payment) or by a request
//! to the customer's phone (`docs/request-to-pay.md`): the terminal opens the payment on the
//! host's API, shows the code with each new token (or says the request went out), and waits on
//! the host (a long poll, so it learns the customer's consent at once). Once the customer's wallet
//! has confirmed, the money moves with an ordinary 0200 naming the payment in DE 105, with
//! every guarantee of the link: journalled before it is sent, reversed when unanswered.
//!
//! Opening and waiting charge nothing: a cancel, an expiry or a dead API before the 0200 ends
//! the sale "aborted, nothing charged". A cancel also tells the host at once, so a wallet
//! cannot confirm the payment afterwards.

use std::time::{Duration, Instant};

use emv::api::merchant_code::{
    CancelPayment, CreatePayment, CreateRequest, MAX_WAIT_SECS, PaymentStatus, PaymentView,
};
use emv::config::TerminalSettings;
use emv::iso8583::Mti;
use emv::qr::merchant_payment::{Merchant, Payment, build as build_code, short_code};
use emv::qr::{MERCHANT_CODE_ENTRY_MODE, MERCHANT_CODE_FIELD};

use crate::host_api::{HostApi, HostApiError};
use crate::journal::{CardDetails, PaymentMethod, TxKind, TxState};

use super::cancel::WakeGuard;
use super::{Engine, EngineError, Event, Timings, TxResult};

/// The receipt's entry-mode line of a merchant's-code payment.
const RECEIPT_MERCHANT_CODE: &str = "MERCHANT'S QR CODE (EMV MPM)";
/// The receipt's entry-mode line of a request to pay.
const RECEIPT_REQUEST: &str = "REQUEST TO PAY, CONFIRMED ON PHONE";

impl Engine {
    /// Whether this terminal can show its own code: the enrolment names the host's API and the
    /// configuration the merchant's country.
    pub fn merchant_code_available(&self) -> bool {
        self.host_api.is_some() && merchant_of(&self.terminal.terminal).is_ok()
    }

    /// Whether this terminal can send requests to pay: the enrolment names the host's API.
    pub fn request_to_pay_available(&self) -> bool {
        self.host_api.is_some()
    }

    /// A sale of `amount` paid with the merchant's code: shown until the customer's wallet
    /// pays it, the payment expires or the operator cancels ([`Engine::cancel_handle`]).
    pub fn pay_merchant_code(
        &mut self,
        amount: u64,
        events: &mut dyn FnMut(Event),
    ) -> Result<TxResult, EngineError> {
        let merchant = merchant_of(&self.terminal.terminal).map_err(EngineError::Code)?;
        self.pay_through_host(&Door::Code(merchant), amount, events)
    }

    /// A sale of `amount` paid by a request to the customer's phone (`docs/request-to-pay.md`):
    /// `alias` is their phone number or wallet ID; the customer confirms with their PIN on
    /// their own phone, or refuses. Ends when they answered and the money moved, the request
    /// expired, or the operator cancels.
    pub fn request_to_pay(
        &mut self,
        alias: &str,
        amount: u64,
        events: &mut dyn FnMut(Event),
    ) -> Result<TxResult, EngineError> {
        self.pay_through_host(&Door::Request(alias.trim()), amount, events)
    }

    /// Opens the payment at the host, waits for the customer's consent, then moves the money
    /// with the 0200 naming it.
    fn pay_through_host(
        &mut self,
        door: &Door<'_>,
        amount: u64,
        events: &mut dyn FnMut(Event),
    ) -> Result<TxResult, EngineError> {
        self.check_ready()?;
        let api = self.host_api.clone().ok_or_else(|| {
            EngineError::Code("the enrolment names no host API: enrol the terminal again".into())
        })?;
        let started = Instant::now();
        let timings = Timings::default();
        self.journal_time = Duration::ZERO;
        self.flush_pending_announced(events);
        let currency = self.terminal.terminal.currency_code;
        let terminal_id = self.acquirer.terminal_id().to_owned();
        let id = self.journaled(|j| j.create(TxKind::Sale, amount, 0, currency, None))?;
        self.journaled(|j| j.set_method(id, door.method()))?;
        let details = CardDetails {
            entry_mode: Some(door.receipt_line().to_owned()),
            ..CardDetails::default()
        };
        self.journaled(|j| j.card_details(id, &details))?;
        self.crash.at(TxState::Created.as_str());
        if self.cancelled() {
            return self.aborted(id, String::new(), events, timings, started);
        }
        let opened = match door {
            Door::Code(_) => api.post::<_, PaymentView>(
                CODES,
                &CreatePayment {
                    terminal_id: terminal_id.clone(),
                    amount,
                    currency,
                },
            ),
            Door::Request(alias) => api.post::<_, PaymentView>(
                REQUESTS,
                &CreateRequest {
                    terminal_id: terminal_id.clone(),
                    amount,
                    currency,
                    alias: (*alias).to_owned(),
                    merchant: merchant_name(&self.terminal.terminal),
                },
            ),
        };
        let mut view = match opened {
            Ok(view) => view,
            Err(HostApiError::Refused { status: 404, .. }) if matches!(door, Door::Request(_)) => {
                let why = "no wallet has this phone number or wallet ID: nothing was charged";
                return self.aborted(id, why.into(), events, timings, started);
            }
            Err(e) => {
                let why = format!("the host cannot open the payment: {e}; nothing was charged");
                return self.aborted(id, why, events, timings, started);
            }
        };
        // The reference goes into a URL path and DE 105 (ans..16): only what fits both.
        if view.reference.is_empty()
            || view.reference.len() > 16
            || !view.reference.bytes().all(|b| b.is_ascii_alphanumeric())
        {
            let why = "the host answered a malformed payment reference: nothing was charged";
            return self.aborted(id, why.into(), events, timings, started);
        }
        let path = format!("{}/{}", door.base(), view.reference);
        let _wake = self.cancel_at_host(&api, &path, &terminal_id);
        let exponent = u32::from(self.terminal.terminal.currency_exponent);
        let mut shown: Option<String> = None;
        let mut announced = false;
        loop {
            match (view.status, door) {
                (PaymentStatus::Pending, Door::Code(merchant)) => {
                    if view.token != shown
                        && let Some(token) = view.token.clone()
                    {
                        let payment = Payment {
                            terminal_id: terminal_id.clone(),
                            reference: view.reference.clone(),
                            token: token.clone(),
                            amount,
                            currency,
                            bill_number: Some(id.to_string()),
                        };
                        let text = build_code(merchant, &payment, exponent)
                            .map_err(|e| EngineError::Code(e.to_string()))?;
                        events(Event::ShowMerchantCode {
                            text,
                            short_code: short_code(&token),
                            amount,
                            rotates_at: view.rotates_at,
                            expires_at: view.expires_at,
                        });
                        shown = Some(token);
                    }
                }
                (PaymentStatus::Pending, Door::Request(alias)) => {
                    if !announced {
                        events(Event::RequestSent {
                            alias: (*alias).to_owned(),
                            amount,
                            expires_at: view.expires_at,
                        });
                        announced = true;
                    }
                }
                (PaymentStatus::Confirmed, _) => break,
                (PaymentStatus::Cancelled, _) => {
                    return self.aborted(id, CANCELLED_AT_HOST.into(), events, timings, started);
                }
                (PaymentStatus::Expired, _) => {
                    return self.aborted(id, EXPIRED.into(), events, timings, started);
                }
                (PaymentStatus::Refused, _) => {
                    return self.aborted(id, REFUSED.into(), events, timings, started);
                }
                _ => {
                    let why = format!(
                        "the host reports the payment {:?} before this terminal sent it: \
                         nothing was charged here",
                        view.status
                    );
                    return self.aborted(id, why, events, timings, started);
                }
            }
            if self.cancelled() {
                return self.aborted(id, String::new(), events, timings, started);
            }
            view = match wait(&api, &path, &terminal_id, &view) {
                Ok(next) => next,
                Err(why) => return self.aborted(id, why, events, timings, started),
            };
        }
        drop(_wake);
        // The customer confirmed: the money moves with this terminal's 0200.
        let stan = self.journal.next_stan()?;
        let transmission = self.transmission_now();
        let request = self.cardless_message(
            (Mti::FINANCIAL_REQUEST, amount, stan, &transmission),
            MERCHANT_CODE_ENTRY_MODE,
            MERCHANT_CODE_FIELD,
            view.reference.into_bytes(),
        );
        self.send_code_request(id, &request, None, events, started)
    }

    /// A cancel tells the host at once (from its own thread), which also ends the wait.
    fn cancel_at_host(&self, api: &HostApi, path: &str, terminal_id: &str) -> WakeGuard {
        let api = api.clone();
        let cancel_path = format!("{path}/cancel");
        let body = CancelPayment {
            terminal_id: terminal_id.to_owned(),
        };
        self.cancel.on_cancel(move || {
            let (api, path, body) = (api.clone(), cancel_path.clone(), body.clone());
            std::thread::spawn(move || {
                if let Err(e) = api.post::<_, PaymentView>(&path, &body) {
                    tracing::warn!(error = %e, "the host was not told of the cancel");
                }
            });
        })
    }
}

/// How the customer is asked: the code on screen, or a request to their phone.
enum Door<'a> {
    Code(Merchant),
    Request(&'a str),
}

impl Door<'_> {
    fn method(&self) -> PaymentMethod {
        match self {
            Self::Code(_) => PaymentMethod::MerchantCode,
            Self::Request(_) => PaymentMethod::RequestToPay,
        }
    }

    fn receipt_line(&self) -> &'static str {
        match self {
            Self::Code(_) => RECEIPT_MERCHANT_CODE,
            Self::Request(_) => RECEIPT_REQUEST,
        }
    }

    fn base(&self) -> &'static str {
        match self {
            Self::Code(_) => CODES,
            Self::Request(_) => REQUESTS,
        }
    }
}

/// The host's routes of each door (`docs/host-api.md`).
const CODES: &str = "/v1/merchant-codes";
const REQUESTS: &str = "/v1/payment-requests";

/// The wait on the host: the payment once its status or token changes (or the wait ends).
fn wait(
    api: &HostApi,
    path: &str,
    terminal_id: &str,
    known: &PaymentView,
) -> Result<PaymentView, String> {
    let status = serde_json::to_value(known.status)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default();
    let mut query =
        format!("{path}?terminal_id={terminal_id}&status={status}&wait={MAX_WAIT_SECS}");
    if let Some(token) = &known.token {
        query.push_str("&token=");
        query.push_str(token);
    }
    api.get_waiting(&query, Duration::from_secs(MAX_WAIT_SECS))
        .map_err(|e| format!("the host's API stopped answering: {e}; nothing was charged"))
}

/// The merchant's name a request to pay shows on the customer's phone: the name part of
/// `merchant_name_location`.
fn merchant_name(settings: &TerminalSettings) -> String {
    let whole = settings.merchant_name_location.as_str();
    let name = whole
        .rsplit_once(',')
        .map_or(whole, |(name, _)| name)
        .trim();
    if name.is_empty() {
        settings.terminal_id.clone()
    } else {
        name.to_owned()
    }
}

/// The merchant's details for the code, from the terminal's configuration: the name before the
/// last comma of `merchant_name_location` and the city after it.
pub(super) fn merchant_of(settings: &TerminalSettings) -> Result<Merchant, String> {
    if settings.country_alpha2.len() != 2 {
        return Err(
            "the merchant's code needs the merchant's country: set country_alpha2 in the \
             terminal configuration"
                .to_owned(),
        );
    }
    let (name, city) = settings
        .merchant_name_location
        .rsplit_once(',')
        .map_or((settings.merchant_name_location.as_str(), ""), |(n, c)| {
            (n, c)
        });
    let common = |text: &str, max: usize| -> String {
        text.trim()
            .chars()
            .filter(|c| c.is_ascii_graphic() || *c == ' ')
            .take(max)
            .collect::<String>()
            .trim()
            .to_owned()
    };
    let name = common(name, 25);
    let city = common(city, 15);
    Ok(Merchant {
        mcc: format!("{:04}", settings.merchant_category_code),
        country: settings.country_alpha2.to_ascii_uppercase(),
        name: if name.is_empty() {
            "softpos".into()
        } else {
            name
        },
        city: if city.is_empty() { "-".into() } else { city },
        local: None,
        terminal_label: Some(settings.terminal_id.clone()),
    })
}

const CANCELLED_AT_HOST: &str = "the payment was cancelled at the host: nothing was charged";
const EXPIRED: &str = "the customer did not pay in time: nothing was charged";
const REFUSED: &str = "the customer refused on their phone: nothing was charged";
