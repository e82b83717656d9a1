//! The host exchange: timing it, an answer that ends the operation, an answer that never
//! came (reversal, or an offline approval), the issuer's DE 55, and reversals.

use std::time::Instant;

use emv::iso8583::{Message, Mti, ResponseCode};
use emv::kernel::{IssuerResponse, IssuerUpdate, OnlineRequestData};

use crate::acquirer::AcquirerError;
use crate::journal::{TxRecord, TxState};

use super::offline::Offline;
use super::{
    APPROVED, CRASH_ANSWER_RECEIVED, Engine, EngineError, Event, REVERSAL_NO_ACTION,
    REVERSAL_NO_ORIGINAL, Timings, TxResult, TxStatus, messages,
};

impl Engine {
    /// DE 55 of the answer (`91` ARPC, `71`/`72` scripts) handed to the kernel's sans-IO
    /// decision ([`IssuerResponse::update_for`]) and recorded in the journal. The contactless
    /// flows here end with the first cryptogram: when the card and terminal both support
    /// Issuer Update Processing (Kernels 3/7), a second tap would be needed; this terminal
    /// does not offer it (TTQ byte 3 b8 off in `assets/terminal.toml`), so it is only recorded.
    pub(super) fn issuer_response(
        &mut self,
        id: i64,
        response: &Message,
        online: &OnlineRequestData,
    ) -> Result<Option<IssuerUpdate>, EngineError> {
        let Some(de55) = response.field(55) else {
            return Ok(None);
        };
        let summary = match IssuerResponse::parse(de55) {
            Ok(parsed) => {
                let update = parsed.update_for(online);
                let mut parts = Vec::new();
                if let Some(data) = &parsed.authentication_data {
                    parts.push(format!("91 ({} bytes)", data.len()));
                }
                let scripts: usize = parsed.scripts.iter().map(|s| s.commands.len()).sum();
                if !parsed.scripts.is_empty() {
                    parts.push(format!(
                        "{} script(s), {scripts} command(s)",
                        parsed.scripts.len()
                    ));
                }
                let what = match update {
                    IssuerUpdate::SecondTap => {
                        // TODO(issuer-update): the second tap (EXTERNAL AUTHENTICATE and the
                        // script commands) is not implemented; the authorisation stands.
                        tracing::warn!(id, "issuer update asked for; no second tap here");
                        "issuer update needs a second tap (not done)"
                    }
                    IssuerUpdate::NothingReturned => "nothing for the card",
                    _ => "recorded, not for this card",
                };
                let summary = if parts.is_empty() {
                    what.to_owned()
                } else {
                    format!("{}; {what}", parts.join(", "))
                };
                (summary, Some(update))
            }
            Err(e) => {
                tracing::warn!(id, error = %e, "issuer data not usable");
                (format!("unusable issuer data: {e}"), None)
            }
        };
        self.journal_retrying(|j| j.issuer_data(id, &summary.0))?;
        Ok(summary.1)
    }

    /// The request went out and no valid answer came back.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn unanswered(
        &mut self,
        id: i64,
        error: AcquirerError,
        online: &OnlineRequestData,
        offline: Offline,
        events: &mut dyn FnMut(Event),
        timings: Timings,
        started: Instant,
    ) -> Result<TxResult, EngineError> {
        if self.cancelled() {
            if error.may_have_reached_host() {
                let why = format!("cancelled while waiting for the host ({error})");
                return self.reversed(id, &why, events, timings, started);
            }
            return self.aborted(id, String::new(), events, timings, started);
        }
        // Store-and-forward is for what the card approved (TC); an ARQC the host never saw is
        // accepted offline only at the merchant's risk, when explicitly enabled.
        if error.is_offline()
            && offline.possible
            && self.merchant_risk_allowed(online, offline.amount, offline.oda_passed)?
        {
            let stan = self.journal.next_stan()?;
            let transmission = self.transmission_now();
            self.journaled(|j| {
                j.queue_advice(
                    id,
                    &online.pan,
                    &online.icc_data,
                    &online.expiry_yymm,
                    online.pan_sequence_number,
                    stan,
                    &transmission,
                    true,
                )
            })?;
            self.crash.at(TxState::AdvicePending.as_str());
            events(Event::OfflineAtMerchantRisk {
                amount: offline.amount,
            });
            events(Event::Approved {
                auth_code: None,
                offline: true,
            });
            let why = format!(
                "{error}; accepted offline at the merchant's risk (the card asked for its \
                 issuer, who may still decline it); queued for the host"
            );
            return Ok(self.result(
                id,
                TxStatus::ApprovedAtMerchantRisk,
                None,
                why,
                timings,
                started,
            ));
        }
        if error.is_offline() && offline.need_pin {
            let why = format!(
                "{error}; this card needs an online PIN, which is never stored for later: \
                 nothing was charged, try again when the host is back or use another payment"
            );
            return self.aborted(id, why, events, timings, started);
        }
        if error.may_have_reached_host() {
            let why = format!("no answer from the host: {error}");
            return self.reversed(id, &why, events, timings, started);
        }
        // Nothing was written to the host.
        let why = format!("{error}; nothing was charged");
        self.aborted(id, why, events, timings, started)
    }

    /// The request may have reached the host: reverse it (announced with
    /// [`Event::Reversing`], then [`Event::Reversed`], never as a decline).
    pub(super) fn reversed(
        &mut self,
        id: i64,
        why: &str,
        events: &mut dyn FnMut(Event),
        timings: Timings,
        started: Instant,
    ) -> Result<TxResult, EngineError> {
        events(Event::Reversing);
        let acknowledged = self.reverse(id, why)?;
        let why = reversal_outcome(why, acknowledged);
        Ok(self.reversal_result(id, why, acknowledged, events, timings, started))
    }

    /// Announces the end of `id`'s reversal ([`Event::Reversed`] with `why`) and its result.
    fn reversal_result(
        &self,
        id: i64,
        why: String,
        acknowledged: bool,
        events: &mut dyn FnMut(Event),
        timings: Timings,
        started: Instant,
    ) -> TxResult {
        events(Event::Reversed {
            reason: why.clone(),
            acknowledged,
        });
        self.result(id, TxStatus::Reversed, None, why, timings, started)
    }

    /// Reverses `id` (0400, then 0401 repeats with the same DE 11 and DE 7). Returns whether
    /// the host acknowledged it; if not, the transaction stays `reversal-pending`.
    pub(super) fn reverse(&mut self, id: i64, why: &str) -> Result<bool, EngineError> {
        let mut rec = self
            .journal
            .get(id)?
            .ok_or(EngineError::UnknownTransaction(id))?;
        if rec.state != TxState::ReversalPending {
            // The reversal's DE 11 and DE 7 were reserved with `sent` (card operations), or
            // are taken now; a repeat keeps them.
            let (stan, transmission) = match (rec.reversal_stan, &rec.reversal_transmission) {
                (Some(stan), Some(transmission)) => (stan, transmission.clone()),
                _ => (self.journal.next_stan()?, self.transmission_now()),
            };
            self.journaled(|j| j.reversal_pending(id, stan, &transmission, why))?;
            self.crash.at(TxState::ReversalPending.as_str());
            rec = self
                .journal
                .get(id)?
                .ok_or(EngineError::UnknownTransaction(id))?;
        }
        let (Some(stan), Some(transmission)) =
            (rec.reversal_stan, rec.reversal_transmission.clone())
        else {
            return Ok(false);
        };
        let Some(code) = self.send_reversal(&rec, stan, &transmission, true) else {
            return Ok(false);
        };
        let text = reversed_text(&code, why);
        self.journaled(|j| j.reversed(id, &code, &text))?;
        self.crash.at(TxState::Reversed.as_str());
        Ok(true)
    }

    /// Sends the reversal of `rec` with its DE 11 and DE 7 (0400, then 0401 repeats) until the
    /// host acknowledges it; returns the 0410's DE 39 (`00`, or `25`/`21` when the host had no
    /// approval to undo), or `None`. Needs no journal write: the attempt count (`count`) is
    /// best effort.
    fn send_reversal(
        &mut self,
        rec: &TxRecord,
        stan: u32,
        transmission: &str,
        count: bool,
    ) -> Option<String> {
        for attempt in 0..self.settings.reversal_repeats.max(1) {
            if attempt > 0 {
                std::thread::sleep(self.settings.reversal_backoff * attempt);
            }
            let repeat = attempt > 0 || rec.reversal_attempts > 0;
            let request =
                messages::reversal(&self.terminal_fields(), repeat, stan, transmission, rec);
            if count && let Err(e) = self.journaled(|j| j.reversal_attempted(rec.id)) {
                tracing::warn!(id = rec.id, error = %e, "reversal attempt not counted");
            }
            match self.acquirer.exchange(&request) {
                Ok(response)
                    if matches!(
                        response.text(39),
                        Some(APPROVED | REVERSAL_NO_ORIGINAL | REVERSAL_NO_ACTION)
                    ) =>
                {
                    return response.text(39).map(str::to_owned);
                }
                Ok(response) => {
                    tracing::warn!(id = rec.id, code = ?response.text(39), "reversal refused");
                }
                Err(e) => tracing::warn!(id = rec.id, error = %e, "reversal not acknowledged"),
            }
        }
        None
    }

    /// The host answered `id` with an approval that the journal could not record (after
    /// retries): it is reversed before anything is shown, never reported approved. The
    /// reversal is journalled as pending where the journal allows it; its DE 11 and DE 7 were
    /// reserved with `sent`, so it goes out even if the journal takes no write at all. If its
    /// outcome cannot be journalled either, the row stays unfinished and
    /// [`Engine::flush_pending`] (before the next operation) or recovery sends it again.
    pub(super) fn approval_not_journalled(
        &mut self,
        id: i64,
        error: &EngineError,
        events: &mut dyn FnMut(Event),
        timings: Timings,
        started: Instant,
    ) -> Result<TxResult, EngineError> {
        tracing::error!(id, error = %error, "the host's approval could not be journalled");
        events(Event::Reversing);
        let why = "the host approved, but the answer could not be recorded in the journal";
        let rec = self
            .journal
            .get(id)?
            .ok_or(EngineError::UnknownTransaction(id))?;
        let (Some(stan), Some(transmission)) =
            (rec.reversal_stan, rec.reversal_transmission.clone())
        else {
            return Err(EngineError::UnknownTransaction(id));
        };
        // Where the journal takes no write, the reversal goes out without waiting for it.
        let journal_works = match self
            .journaled(|j| j.reversal_pending(id, stan, &transmission, why))
        {
            Ok(()) => true,
            Err(e) => {
                tracing::warn!(id, error = %e, "reversal not journalled as pending; sending it anyway");
                false
            }
        };
        let code = self.send_reversal(&rec, stan, &transmission, journal_works);
        let recorded = code.as_ref().is_some_and(|code| {
            let text = reversed_text(code, why);
            self.journal_retrying(|j| j.reversed(id, code, &text))
                .is_ok()
        });
        let acknowledged = code.is_some();
        let why = if acknowledged && !recorded {
            format!(
                "{why}; the host acknowledged the reversal, nothing was charged (the journal \
                 will record it when it can be written)"
            )
        } else {
            reversal_outcome(why, acknowledged)
        };
        Ok(self.reversal_result(id, why, acknowledged, events, timings, started))
    }

    pub(super) fn completion_request(
        &self,
        rec: &TxRecord,
        original: &TxRecord,
        stan: u32,
        transmission: &str,
        repeat: bool,
    ) -> Result<Message, EngineError> {
        let pan = self
            .journal
            .sealed_pan(original.id)?
            .ok_or(EngineError::NotCompletable(original.id))?;
        let mti = if repeat {
            Mti::FINANCIAL_ADVICE_REPEAT
        } else {
            Mti::FINANCIAL_ADVICE
        };
        Ok(messages::completion(
            &self.terminal_fields(),
            mti,
            rec.amount,
            stan,
            transmission,
            &pan,
            original,
        ))
    }

    /// An exchange whose outcome is final on an answer (void, completion).
    pub(super) fn simple_exchange(
        &mut self,
        id: i64,
        request: &Message,
        events: &mut dyn FnMut(Event),
        started: Instant,
    ) -> Result<TxResult, EngineError> {
        let mut timings = Timings::default();
        match self.timed_exchange(request, &mut timings) {
            Ok(response) => {
                self.crash.at(CRASH_ANSWER_RECEIVED);
                let code = response.text(39).unwrap_or("??").to_owned();
                // Should these fail, the row stays `sent`: the same request is repeated
                // before the next operation to learn the answer again.
                self.journal_retrying(|j| {
                    j.answered(id, &code, response.text(38), response.text(37))
                })?;
                self.crash.at(TxState::Answered.as_str());
                let approved = code == APPROVED;
                let why = if approved {
                    "approved".to_owned()
                } else {
                    decline_message(&code)
                };
                self.journal_retrying(|j| j.finish(id, TxState::Done, approved, &why))?;
                events(if approved {
                    Event::Approved {
                        auth_code: response.text(38).map(str::to_owned),
                        offline: false,
                    }
                } else {
                    Event::Declined {
                        reason: why.clone(),
                    }
                });
                let status = if approved {
                    TxStatus::Approved
                } else {
                    TxStatus::Declined
                };
                Ok(self.result(id, status, Some(code), why, timings, started))
            }
            Err(e) if e.may_have_reached_host() => {
                // Leave it `sent`: recovery repeats the same request to learn the answer.
                let why = format!("{e}; the answer will be fetched when the host is back");
                events(Event::Reversed {
                    reason: why.clone(),
                    acknowledged: false,
                });
                Ok(self.result(id, TxStatus::Reversed, None, why, timings, started))
            }
            Err(e) => {
                let why = format!("{e}; nothing was sent");
                self.aborted(id, why, events, timings, started)
            }
        }
    }

    pub(super) fn timed_exchange(
        &mut self,
        request: &Message,
        timings: &mut Timings,
    ) -> Result<Message, AcquirerError> {
        let started = Instant::now();
        let result = self.interruptible_exchange(request);
        let connect = self.acquirer.last_connect_time();
        timings.tls_connect += connect;
        timings.host += started.elapsed().saturating_sub(connect);
        result
    }
}

/// The journal's text of a reversal the host acknowledged with `code`.
fn reversed_text(code: &str, why: &str) -> String {
    if code == APPROVED {
        format!("reversed: {why}")
    } else {
        // Acknowledged, but there was no approval to undo: the original never reached the
        // host, or it declined it. Nothing to count at settlement.
        format!("reversed (the host had no approval to undo): {why}")
    }
}

/// A human message for a DE 39 decline (`docs/iso8583.md` §5, [`ResponseCode::meaning`]).
pub fn decline_message(code: &str) -> String {
    let text = ResponseCode::parse(code).map_or("declined", |c| c.meaning());
    format!("declined ({code}: {text})")
}

/// What the merchant is told of a reversal for `why`: done and nothing charged once the host
/// `acknowledged` it, else to be sent when the host is back.
fn reversal_outcome(why: &str, acknowledged: bool) -> String {
    if acknowledged {
        format!("{why}; the transaction was reversed, nothing was charged")
    } else {
        format!("{why}; the reversal will be sent when the host is back")
    }
}
