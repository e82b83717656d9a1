//! Payments with a code scanned from the customer's phone (`docs/qr-customer-code.md`): the
//! EMVCo consumer-presented code (authorised online like a card: 0200 with its cryptogram in
//! DE 55, DE 22 `031`), and the signed offline code (checked here first: format, age, device
//! certificate under the wallet CA, signature, cap, merchant nonce, the device's counter; then
//! an 0200 with the code in DE 104 that the host checks again). When the host cannot be
//! reached, an offline code that verified here is accepted up to
//! [`super::EngineSettings::offline_code_cap`] and queued as an 0220 advice, uploaded once by
//! [`Engine::flush_pending`]; the host may still refuse it then, and that is recorded.

use std::time::{Instant, UNIX_EPOCH};

use ed25519_dalek::VerifyingKey;
use emv::iso8583::messages::{self as build, CardData};
use emv::iso8583::{Message, Mti};
use emv::qr::cpm::{self, CpmPayload};
use emv::qr::offline_code::{self, Check, Nonce, OfflineCode, OfflineCodeError};
use emv::qr::{OFFLINE_CODE_FIELD, POS_ENTRY_CODE};

use crate::acquirer::AcquirerError;
use crate::journal::{CardDetails, PaymentMethod, TxKind, TxRecord, TxState};

use super::code_counters::CodeCounters;
use super::{
    APPROVED, CRASH_ANSWER_RECEIVED, Engine, EngineError, Event, Timings, TxResult, TxStatus,
    decline_message, messages,
};

/// The receipt's entry-mode line of a consumer-presented code.
const RECEIPT_CPM: &str = "CUSTOMER'S QR CODE (EMV CPM)";
/// The receipt's entry-mode line of an offline code.
const RECEIPT_OFFLINE: &str = "CUSTOMER'S SIGNED OFFLINE CODE";

impl Engine {
    /// Sets the wallet CA key that offline codes are checked under
    /// ([`super::EngineSettings::wallet_ca`]).
    pub fn set_wallet_ca(&mut self, key: Option<[u8; 32]>) {
        self.settings.wallet_ca = key;
    }

    /// A sale of `amount` paid with the code the customer's phone shows, as scanned (`text`):
    /// a signed offline code (`SPOC1:...`) or else an EMVCo consumer-presented code.
    /// `nonce` is the merchant nonce this terminal showed the customer, if any. A code that
    /// does not pass the terminal's checks is [`EngineError::Code`]: nothing is journalled or
    /// sent.
    pub fn pay_code(
        &mut self,
        text: &str,
        amount: u64,
        nonce: Option<Nonce>,
        events: &mut dyn FnMut(Event),
    ) -> Result<TxResult, EngineError> {
        self.check_ready()?;
        if text.trim_start().starts_with(offline_code::TEXT_PREFIX) {
            self.pay_offline_code(text, amount, nonce, events)
        } else {
            let payload = cpm::parse(text).map_err(|e| EngineError::Code(e.to_string()))?;
            self.pay_cpm(&payload, amount, events)
        }
    }

    fn pay_cpm(
        &mut self,
        payload: &CpmPayload,
        amount: u64,
        events: &mut dyn FnMut(Event),
    ) -> Result<TxResult, EngineError> {
        let started = Instant::now();
        self.journal_time = std::time::Duration::ZERO;
        self.flush_pending_announced(events);
        let currency = self.terminal.terminal.currency_code;
        let id = self.journaled(|j| j.create(TxKind::Sale, amount, 0, currency, None))?;
        self.journaled(|j| j.set_method(id, PaymentMethod::CustomerCode))?;
        self.crash.at(TxState::Created.as_str());
        let label = payload.applications().first().and_then(|a| a.label.clone());
        self.journaled(|j| j.card_read(id, payload.pan(), label.as_deref(), false))?;
        let details = CardDetails {
            aid: payload
                .applications()
                .first()
                .map(|a| hex::encode_upper(&a.aid)),
            entry_mode: Some(RECEIPT_CPM.to_owned()),
            ..CardDetails::default()
        };
        self.journaled(|j| j.card_details(id, &details))?;
        self.crash.at(TxState::CardRead.as_str());
        events(Event::CardRead {
            masked_pan: payload.pan().masked().as_str().to_owned(),
            label,
        });
        let stan = self.journal.next_stan()?;
        let transmission = self.transmission_now();
        let icc = payload.icc_data();
        let card = CardData {
            pan: payload.pan().expose_digits(),
            entry_mode: POS_ENTRY_CODE,
            expiry_yymm: payload.expiry_yymm(),
            pan_sequence_number: payload.pan_sequence_number(),
            track2: None,
            icc_data: Some(&icc),
        };
        let request = build::financial(
            &self.terminal_fields(),
            Mti::FINANCIAL_REQUEST,
            messages::PROCESSING_PURCHASE,
            amount,
            stan,
            &transmission,
            &card,
            None,
        );
        self.send_code_request(id, &request, None, events, started)
    }

    fn pay_offline_code(
        &mut self,
        text: &str,
        amount: u64,
        nonce: Option<Nonce>,
        events: &mut dyn FnMut(Event),
    ) -> Result<TxResult, EngineError> {
        let code_error = |e: OfflineCodeError| EngineError::Code(e.to_string());
        let code = OfflineCode::parse_text(text).map_err(code_error)?;
        let ca = self
            .settings
            .wallet_ca
            .and_then(|k| VerifyingKey::from_bytes(&k).ok())
            .ok_or_else(|| {
                EngineError::Code(
                    "offline codes are not accepted: no wallet CA key is configured".to_owned(),
                )
            })?;
        let now = self
            .clock
            .now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        code.verify(&Check {
            ca: &ca,
            now,
            amount,
            currency: self.terminal.terminal.currency_code,
            nonce,
        })
        .map_err(code_error)?;
        let device = hex::encode_upper(code.certificate().device_id);
        let dir = self
            .journal
            .path()
            .parent()
            .map(std::path::Path::to_path_buf)
            .unwrap_or_default();
        let counter_failed = |e: std::io::Error| {
            EngineError::Code(format!("the offline-code counters cannot be kept: {e}"))
        };
        let mut counters = CodeCounters::load(&dir).map_err(counter_failed)?;
        if !code.counter_is_new(counters.highest(&device)) {
            return Err(code_error(OfflineCodeError::Replayed));
        }
        // Recorded before anything is sent: a second scan of this code is refused, whatever
        // happens to the first.
        counters
            .record(&device, code.fields().counter)
            .map_err(counter_failed)?;
        let started = Instant::now();
        self.journal_time = std::time::Duration::ZERO;
        self.flush_pending_announced(events);
        let currency = self.terminal.terminal.currency_code;
        let id = self.journaled(|j| j.create(TxKind::Sale, amount, 0, currency, None))?;
        self.journaled(|j| j.set_method(id, PaymentMethod::OfflineCode))?;
        let details = CardDetails {
            entry_mode: Some(RECEIPT_OFFLINE.to_owned()),
            ..CardDetails::default()
        };
        self.journaled(|j| j.card_details(id, &details))?;
        self.crash.at(TxState::Created.as_str());
        events(Event::CardRead {
            masked_pan: format!("wallet device {device}"),
            label: Some("offline code".to_owned()),
        });
        let stan = self.journal.next_stan()?;
        let transmission = self.transmission_now();
        let request = self.code_message(
            Mti::FINANCIAL_REQUEST,
            amount,
            stan,
            &transmission,
            code.as_bytes(),
        );
        self.send_code_request(id, &request, Some(&code), events, started)
    }

    /// A 0200/0220/0221 paying with an offline code: no DE 2, 35 or 55; the code in DE 104.
    fn code_message(
        &self,
        mti: Mti,
        amount: u64,
        stan: u32,
        transmission: &str,
        code: &[u8],
    ) -> Message {
        let request = (mti, amount, stan, transmission);
        self.cardless_message(request, POS_ENTRY_CODE, OFFLINE_CODE_FIELD, code.to_vec())
    }

    /// A purchase message `(mti, amount, stan, transmission)` without card data (no DE 2, 35
    /// or 55), entry mode `entry_mode`, the payment named by `value` in private field `field`.
    pub(super) fn cardless_message(
        &self,
        (mti, amount, stan, transmission): (Mti, u64, u32, &str),
        entry_mode: &str,
        field: u8,
        value: Vec<u8>,
    ) -> Message {
        let card = CardData {
            pan: "",
            entry_mode,
            expiry_yymm: None,
            pan_sequence_number: None,
            track2: None,
            icc_data: None,
        };
        let mut m = build::financial(
            &self.terminal_fields(),
            mti,
            messages::PROCESSING_PURCHASE,
            amount,
            stan,
            transmission,
            &card,
            None,
        );
        m.remove(2);
        m.set(field, value);
        m
    }

    /// Sends a code's 0200 and ends the operation on the answer, or without one: reversed
    /// when it may have reached the host, accepted offline (an offline code within the cap)
    /// or aborted when it cannot have.
    pub(super) fn send_code_request(
        &mut self,
        id: i64,
        request: &Message,
        offline: Option<&OfflineCode>,
        events: &mut dyn FnMut(Event),
        started: Instant,
    ) -> Result<TxResult, EngineError> {
        let mut timings = Timings::default();
        let stan = request.text(11).and_then(|s| s.parse().ok()).unwrap_or(0);
        let transmission = request.text(7).unwrap_or_default().to_owned();
        if self.cancelled() {
            return self.aborted(id, String::new(), events, timings, started);
        }
        self.journaled(|j| {
            j.sent_reversible(
                id,
                "0200",
                Some(messages::PROCESSING_PURCHASE),
                stan,
                &transmission,
            )
        })?;
        self.crash.at(TxState::Sent.as_str());
        events(Event::Authorising);
        let response = match self.timed_exchange(request, &mut timings) {
            Ok(r) => r,
            Err(e) => return self.code_unanswered(id, e, offline, events, timings, started),
        };
        self.crash.at(CRASH_ANSWER_RECEIVED);
        let code = response.text(39).unwrap_or("??").to_owned();
        let auth = response.text(38).map(str::to_owned);
        let approved = code == APPROVED;
        let recorded = self
            .journal_retrying(|j| j.answered(id, &code, auth.as_deref(), response.text(37)))
            .and_then(|()| {
                self.crash.at(TxState::Answered.as_str());
                if approved {
                    self.journal_retrying(|j| j.finish(id, TxState::Done, true, "approved"))
                } else {
                    Ok(())
                }
            });
        match recorded {
            Err(e) if approved => {
                return self.approval_not_journalled(id, &e, events, timings, started);
            }
            Err(e) => return Err(e),
            Ok(()) => {}
        }
        if approved {
            return Ok(self.approved_online(id, code, auth, events, timings, started));
        }
        let why = decline_message(&code);
        self.finish(id, TxState::Done, false, &why)?;
        events(Event::Declined {
            reason: why.clone(),
        });
        Ok(self.result(id, TxStatus::Declined, Some(code), why, timings, started))
    }

    fn code_unanswered(
        &mut self,
        id: i64,
        error: AcquirerError,
        offline: Option<&OfflineCode>,
        events: &mut dyn FnMut(Event),
        timings: Timings,
        started: Instant,
    ) -> Result<TxResult, EngineError> {
        if error.is_offline()
            && !self.cancelled()
            && let Some(code) = offline
        {
            let amount = self.journal.get(id)?.map_or(u64::MAX, |r| r.amount);
            if self.offline_code_allowed(amount)? {
                let stan = self.journal.next_stan()?;
                let transmission = self.transmission_now();
                self.journaled(|j| j.queue_code_advice(id, code.as_bytes(), stan, &transmission))?;
                self.crash.at(TxState::AdvicePending.as_str());
                events(Event::Approved {
                    auth_code: None,
                    offline: true,
                });
                let why = format!(
                    "{error}; the offline code verified on this terminal and is accepted \
                     offline; queued for the host, which may still refuse it"
                );
                return Ok(self.result(id, TxStatus::ApprovedOffline, None, why, timings, started));
            }
        }
        if error.may_have_reached_host() {
            let why = format!("no answer from the host: {error}");
            return self.reversed(id, &why, events, timings, started);
        }
        let why = if offline.is_some() && error.is_offline() {
            format!(
                "{error}; the amount is above what this terminal accepts offline: nothing was \
                 charged"
            )
        } else {
            format!("{error}; nothing was charged")
        };
        self.aborted(id, why, events, timings, started)
    }

    /// Whether an offline code of `amount` may be accepted while the host cannot be reached:
    /// within the per-code cap and the advice queue's count and total.
    fn offline_code_allowed(&self, amount: u64) -> Result<bool, EngineError> {
        let limits = self.settings.offline;
        let queue = self.journal.advice_queue_at(self.clock.now())?;
        Ok(amount <= self.settings.offline_code_cap
            && queue.count < limits.max_count
            && queue.total.saturating_add(amount) <= limits.max_total)
    }

    /// Uploads a queued offline-code advice (0220, repeats 0221 with the same DE 11 and DE 7).
    /// An answer ends it: approved, or refused by the host (replayed code, revoked device...),
    /// recorded as not approved. Returns whether the host answered.
    pub(super) fn upload_code_advice(&mut self, rec: &TxRecord) -> Result<bool, EngineError> {
        if rec.advice_attempts >= self.settings.offline.max_upload_attempts {
            return Ok(false);
        }
        let (Some(stan), Some(transmission)) = (rec.stan, rec.transmission.clone()) else {
            return Ok(false);
        };
        let advice = self
            .journal
            .advice_data(rec.id)?
            .ok_or(EngineError::UnknownTransaction(rec.id))?;
        let mti = if rec.advice_attempts > 0 {
            Mti::FINANCIAL_ADVICE_REPEAT
        } else {
            Mti::FINANCIAL_ADVICE
        };
        let request = self.code_message(mti, rec.amount, stan, &transmission, &advice.icc_data);
        self.journaled(|j| j.advice_attempted(rec.id))?;
        let response = match self.acquirer.exchange(&request) {
            Ok(r) => r,
            Err(e) => {
                tracing::info!(id = rec.id, error = %e, "offline-code advice not uploaded yet");
                return Ok(false);
            }
        };
        let code = response.text(39).unwrap_or("??").to_owned();
        self.journaled(|j| j.answered(rec.id, &code, None, response.text(37)))?;
        if code == APPROVED {
            self.journaled(|j| {
                j.finish(
                    rec.id,
                    TxState::Done,
                    true,
                    "offline code accepted offline; uploaded",
                )
            })?;
        } else {
            tracing::warn!(id = rec.id, %code, "offline-code advice refused by the host");
            let why = format!(
                "offline code accepted offline, then refused by the host at upload: {}",
                decline_message(&code)
            );
            self.journaled(|j| j.finish(rec.id, TxState::Done, false, &why))?;
        }
        Ok(true)
    }
}
