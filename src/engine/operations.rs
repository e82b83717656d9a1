//! The card operations (sale, refund, pre-authorization, card check) and the operations on an
//! earlier transaction (void, completion): create, card, PIN, host, result.

use std::time::{Duration, Instant};

use emv::iso8583::Mti;
use emv::kernel::{Cvm, OutcomeKind};

use crate::journal::{CardDetails, TxKind, TxState};
use crate::pinpad::{PinEntry, PinEntryError, PinRequest};
use crate::reader::CardSource;

use super::offline::Offline;
use super::receipt::{cvm_text, entry_mode_text};
use super::{
    APPROVED, CRASH_ANSWER_RECEIVED, Engine, EngineError, Event, NO_REASON_TO_DECLINE,
    SOFT_DECLINE_PIN, SOFT_DECLINE_SCA, Timings, Tip, TxResult, TxStatus, WRONG_PIN,
    decline_message, messages,
};

impl Engine {
    /// A sale of `amount` (minor units) plus `tip`.
    pub fn sale(
        &mut self,
        card: &mut dyn CardSource,
        pin: &mut dyn PinEntry,
        amount: u64,
        tip: Tip,
        events: &mut dyn FnMut(Event),
    ) -> Result<TxResult, EngineError> {
        let tip = tip.of(amount);
        let op = CardOp {
            kind: TxKind::Sale,
            amount: amount.saturating_add(tip),
            tip,
            original_id: None,
        };
        self.card_operation(op, card, pin, events)
    }

    /// A refund of `amount`, standalone or of the sale `original_id`: an approved, finished,
    /// unvoided sale whose refunds so far (the journal's, [`crate::journal::Journal::refunded_of`])
    /// plus this one do not exceed it; otherwise [`EngineError::NotRefundable`] before anything
    /// is read or sent. The refund names its sale in DE 90, so the host applies the same cap
    /// (`docs/iso8583.md` §4).
    pub fn refund(
        &mut self,
        card: &mut dyn CardSource,
        pin: &mut dyn PinEntry,
        amount: u64,
        original_id: Option<i64>,
        events: &mut dyn FnMut(Event),
    ) -> Result<TxResult, EngineError> {
        if let Some(id) = original_id {
            let remaining = self.refundable(id)?.ok_or(EngineError::NotRefundable(id))?;
            if amount > remaining {
                return Err(EngineError::NotRefundable(id));
            }
        }
        let op = CardOp {
            kind: TxKind::Refund,
            amount,
            tip: 0,
            original_id,
        };
        self.card_operation(op, card, pin, events)
    }

    /// What can still be refunded of the sale `sale_id`: its amount less its refunds so far
    /// ([`crate::journal::Journal::refunded_of`]); `None` when it is not an approved, finished,
    /// unvoided sale. [`Engine::refund`] refuses more than this.
    pub fn refundable(&self, sale_id: i64) -> Result<Option<u64>, EngineError> {
        let original = self
            .journal
            .get(sale_id)?
            .ok_or(EngineError::UnknownTransaction(sale_id))?;
        if original.kind != TxKind::Sale
            || original.state != TxState::Done
            || !original.approved
            || original.voided
        {
            return Ok(None);
        }
        let refunded = self.journal.refunded_of(sale_id)?;
        Ok(Some(original.amount.saturating_sub(refunded)))
    }

    /// A pre-authorization (0100) of `amount`.
    pub fn preauth(
        &mut self,
        card: &mut dyn CardSource,
        pin: &mut dyn PinEntry,
        amount: u64,
        events: &mut dyn FnMut(Event),
    ) -> Result<TxResult, EngineError> {
        let op = CardOp {
            kind: TxKind::Preauth,
            amount,
            tip: 0,
            original_id: None,
        };
        self.card_operation(op, card, pin, events)
    }

    /// A card check: verifies the card without charging it, a zero-amount 0100 with DE 25 =
    /// `51` (account verification). The host answers `85` (no reason to decline) or `00` when
    /// the account is good; nothing is held or posted. Online PIN when the card asks for it.
    pub fn card_check(
        &mut self,
        card: &mut dyn CardSource,
        pin: &mut dyn PinEntry,
        events: &mut dyn FnMut(Event),
    ) -> Result<TxResult, EngineError> {
        let op = CardOp {
            kind: TxKind::CardCheck,
            amount: 0,
            tip: 0,
            original_id: None,
        };
        self.card_operation(op, card, pin, events)
    }

    /// Voids the last approved sale or refund of the open batch (0200 with DE 90).
    pub fn void_last(&mut self, events: &mut dyn FnMut(Event)) -> Result<TxResult, EngineError> {
        self.check_ready()?;
        let started = Instant::now();
        self.journal_time = Duration::ZERO;
        self.flush_pending_announced(events);
        let original = self
            .journal
            .last_voidable()?
            .ok_or(EngineError::NothingToVoid)?;
        let id = self.journaled(|j| {
            j.create(
                TxKind::Void,
                original.amount,
                0,
                original.currency,
                Some(original.id),
            )
        })?;
        self.journal.copy_card(id, original.id)?;
        self.crash.at(TxState::Created.as_str());
        let stan = self.journal.next_stan()?;
        let transmission = self.transmission_now();
        let request = messages::void(&self.terminal_fields(), stan, &transmission, &original);
        self.journaled(|j| j.sent(id, "0200", request.text(3), stan, &transmission))?;
        self.crash.at(TxState::Sent.as_str());
        events(Event::Authorising);
        let result = self.simple_exchange(id, &request, events, started)?;
        if result.status == TxStatus::Approved {
            self.journal.mark_voided(original.id)?;
        }
        Ok(result)
    }

    /// Completes the pre-authorization `preauth_id` for `amount` (0220 with DE 90).
    pub fn complete(
        &mut self,
        preauth_id: i64,
        amount: u64,
        events: &mut dyn FnMut(Event),
    ) -> Result<TxResult, EngineError> {
        self.check_ready()?;
        let started = Instant::now();
        self.journal_time = Duration::ZERO;
        self.flush_pending_announced(events);
        let original = self
            .journal
            .get(preauth_id)?
            .ok_or(EngineError::UnknownTransaction(preauth_id))?;
        if original.kind != TxKind::Preauth || !original.approved || original.completed {
            return Err(EngineError::NotCompletable(preauth_id));
        }
        let id = self.journaled(|j| {
            j.create(
                TxKind::Completion,
                amount,
                0,
                original.currency,
                Some(preauth_id),
            )
        })?;
        self.journal.copy_card(id, preauth_id)?;
        self.crash.at(TxState::Created.as_str());
        let rec = self
            .journal
            .get(id)?
            .ok_or(EngineError::UnknownTransaction(id))?;
        let stan = self.journal.next_stan()?;
        let transmission = self.transmission_now();
        // Built before `sent` is journalled: a request that cannot be built never leaves a row
        // that looks as if it may have reached the host.
        let request = match self.completion_request(&rec, &original, stan, &transmission, false) {
            Ok(request) => request,
            Err(e) => {
                let why = format!("not sent: {e}");
                self.finish(id, TxState::Aborted, false, &why)?;
                events(Event::Declined { reason: why });
                return Err(e);
            }
        };
        self.journaled(|j| {
            j.sent(
                id,
                "0220",
                Some(messages::PROCESSING_PURCHASE),
                stan,
                &transmission,
            )
        })?;
        self.crash.at(TxState::Sent.as_str());
        events(Event::Authorising);
        let result = self.simple_exchange(id, &request, events, started)?;
        if result.status == TxStatus::Approved {
            self.journal.mark_completed(preauth_id)?;
            self.journal.forget_pan(preauth_id)?;
        }
        Ok(result)
    }

    pub(super) fn card_operation(
        &mut self,
        op: CardOp,
        card: &mut dyn CardSource,
        pin: &mut dyn PinEntry,
        events: &mut dyn FnMut(Event),
    ) -> Result<TxResult, EngineError> {
        self.check_ready()?;
        let started = Instant::now();
        self.journal_time = Duration::ZERO;
        self.flush_pending_announced(events);
        let mut force_pin = false;
        let mut pin_tries = 0;
        loop {
            let mut timings = Timings::default();
            let currency = self.terminal.terminal.currency_code;
            let id =
                self.journaled(|j| j.create(op.kind, op.amount, op.tip, currency, op.original_id))?;
            self.crash.at(TxState::Created.as_str());
            // The card.
            let tap = match self.tap(card, &op, events, &mut timings) {
                Ok(_) if self.cancelled() => {
                    return self.aborted(id, String::new(), events, timings, started);
                }
                Ok(tap) => tap,
                Err(why) => return self.aborted(id, why, events, timings, started),
            };
            let outcome = tap.outcome;
            if outcome.kind == OutcomeKind::Approved {
                return self.card_approved_offline(id, &op, outcome, events, timings, started);
            }
            let Some(online) = outcome
                .online
                .filter(|_| outcome.kind == OutcomeKind::OnlineRequest)
            else {
                if outcome.kind != OutcomeKind::Declined {
                    let why = format!("card not usable: {}", outcome.reason);
                    return self.aborted(id, why, events, timings, started);
                }
                let why = "declined by the card".to_owned();
                self.finish(id, TxState::Done, false, &why)?;
                events(Event::Declined {
                    reason: why.clone(),
                });
                return Ok(self.result(id, TxStatus::Declined, None, why, timings, started));
            };
            let keep_sealed = op.kind == TxKind::Preauth;
            self.journaled(|j| {
                j.card_read(id, &online.pan, outcome.card.label.as_deref(), keep_sealed)
            })?;
            // Cardholder verification.
            let need_pin = outcome.cvm == Cvm::OnlinePin || force_pin;
            let details = card_details(&outcome.card, outcome.cvm, outcome.tvr, need_pin);
            self.journaled(|j| j.card_details(id, &details))?;
            self.crash.at(TxState::CardRead.as_str());
            events(Event::CardRead {
                masked_pan: online.masked_pan.as_str().to_owned(),
                label: outcome.card.label.clone(),
            });
            events(Event::RemoveCard);
            let encrypted = if need_pin {
                events(Event::EnterPin);
                let pin_started = Instant::now();
                let exponent = self.terminal.terminal.currency_exponent;
                let token = match self.attest_before_pin() {
                    Ok(token) => token,
                    Err(why) => return self.aborted(id, why, events, timings, started),
                };
                let request = PinRequest {
                    pan: &online.pan,
                    amount: op.amount,
                    currency_code: currency,
                    currency_exponent: exponent,
                    merchant_name: &self.settings.merchant_name,
                    language: &self.settings.language,
                    accessible: false,
                    attestation_token: token.as_deref(),
                };
                let cancel = self.cancel.clone();
                let collected = pin.collect_until(&request, &|| cancel.is_cancelled());
                timings.pin = pin_started.elapsed();
                match collected {
                    Ok(p) => {
                        self.journaled(|j| j.set_state(id, TxState::PinDone))?;
                        self.crash.at(TxState::PinDone.as_str());
                        Some(p)
                    }
                    Err(e) => {
                        return self.aborted(id, pin_message(&e), events, timings, started);
                    }
                }
            } else {
                None
            };
            // The host.
            let (mti, processing) = match op.kind {
                TxKind::Refund => (Mti::FINANCIAL_REQUEST, messages::PROCESSING_REFUND),
                TxKind::Preauth | TxKind::CardCheck => {
                    (Mti::AUTHORIZATION_REQUEST, messages::PROCESSING_PURCHASE)
                }
                _ => (Mti::FINANCIAL_REQUEST, messages::PROCESSING_PURCHASE),
            };
            let stan = self.journal.next_stan()?;
            let transmission = self.transmission_now();
            let request = if op.kind == TxKind::CardCheck {
                messages::account_verification(
                    &self.terminal_fields(),
                    stan,
                    &transmission,
                    &online,
                    encrypted.as_ref(),
                )
            } else {
                messages::chip_request(
                    &self.terminal_fields(),
                    mti,
                    processing,
                    op.amount,
                    stan,
                    &transmission,
                    &online,
                    encrypted.as_ref(),
                )
            };
            let request = match op.original_id.filter(|_| op.kind == TxKind::Refund) {
                Some(sale) => {
                    let sale = self
                        .journal
                        .get(sale)?
                        .ok_or(EngineError::UnknownTransaction(sale))?;
                    messages::naming_original(request, &sale)
                }
                None => request,
            };
            if self.cancelled() {
                return self.aborted(id, String::new(), events, timings, started);
            }
            let mti_text = mti.to_string();
            self.journaled(|j| {
                j.sent_reversible(id, &mti_text, Some(processing), stan, &transmission)
            })?;
            self.crash.at(TxState::Sent.as_str());
            events(Event::Authorising);
            let exchanged = self.timed_exchange(&request, &mut timings);
            let response = match exchanged {
                Ok(r) => r,
                Err(e) => {
                    let offline = Offline {
                        possible: op.kind == TxKind::Sale && !need_pin,
                        need_pin,
                        oda_passed: outcome.oda.as_ref().is_some_and(|r| r.passed()),
                        amount: op.amount,
                    };
                    return self.unanswered(id, e, &online, offline, events, timings, started);
                }
            };
            self.crash.at(CRASH_ANSWER_RECEIVED);
            let code = response.text(39).unwrap_or("??").to_owned();
            let auth = response.text(38).map(str::to_owned);
            let approved =
                code == APPROVED || (op.kind == TxKind::CardCheck && code == NO_REASON_TO_DECLINE);
            // An approval is shown only once the journal says approved; if it cannot, the
            // approval is reversed.
            let recorded = self
                .journal_retrying(|j| j.answered(id, &code, auth.as_deref(), response.text(37)))
                .and_then(|()| {
                    self.crash.at(TxState::Answered.as_str());
                    self.issuer_response(id, &response, &online)
                })
                .and_then(|_| {
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
            match code.as_str() {
                _ if approved => {
                    return Ok(self.approved_online(id, code, auth, events, timings, started));
                }
                WRONG_PIN if pin_tries + 1 < self.settings.max_pin_tries => {
                    pin_tries += 1;
                    self.finish(id, TxState::Done, false, "incorrect PIN")?;
                    events(Event::WrongPin);
                    force_pin = true;
                }
                SOFT_DECLINE_PIN | SOFT_DECLINE_SCA if !need_pin => {
                    self.finish(id, TxState::Done, false, "the issuer asks for the PIN")?;
                    events(Event::PinRequired);
                    force_pin = true;
                }
                _ => {
                    let why = decline_message(&code);
                    self.finish(id, TxState::Done, false, &why)?;
                    events(Event::Declined {
                        reason: why.clone(),
                    });
                    return Ok(self.result(
                        id,
                        TxStatus::Declined,
                        Some(code),
                        why,
                        timings,
                        started,
                    ));
                }
            }
        }
    }
}

pub(super) struct CardOp {
    pub(super) kind: TxKind,
    pub(super) amount: u64,
    pub(super) tip: u64,
    pub(super) original_id: Option<i64>,
}

fn pin_message(e: &PinEntryError) -> String {
    format!("no PIN: {e}")
}

/// What the receipt shows of the card read.
pub(super) fn card_details(
    card: &emv::kernel::CardSummary,
    cvm: Cvm,
    tvr: [u8; 5],
    pin: bool,
) -> CardDetails {
    CardDetails {
        aid: card.aid.as_deref().map(hex::encode_upper),
        entry_mode: Some(entry_mode_text(cvm).to_owned()),
        cvm: Some(cvm_text(cvm, pin).to_owned()),
        tvr: Some(hex::encode_upper(tvr)),
        tsi: None,
    }
}
