//! The transaction engine: one state machine for every operation, driven the same way by the
//! command line and the GUI, tested without a screen.
//!
//! An operation runs to its end inside one call ([`Engine::sale`], [`Engine::refund`], ...)
//! and reports progress through an event callback ([`Event`]: present card, card read, remove
//! card, enter PIN, authorising, approved, declined, try again). Every step is first written
//! to the [`Journal`] (`created → card-read → pin-done → sent → answered → done`, or
//! `→ reversal-pending → reversed`), so that [`Engine::recover`] can finish what a crash left:
//! anything that may have reached the host is reversed (or, for messages the journal can
//! rebuild exactly, repeated to learn the host's answer), never lost and never doubled.
//!
//! `docs/engine.md` describes the states, the recovery rules and the crash-injection hook.

use std::path::Path;
use std::time::{Duration, Instant};

use emv::config::TerminalConfig;
use emv::kernel::{Cvm, IssuerResponse, IssuerUpdate, OnlineRequestData, OutcomeKind};
use emv::oda::OfflineDataAuthenticator;
use hsm_sim::host::EnrolmentBundle;
use hsm_sim::iso8583::{Message, Mti};

use crate::acquirer::{Acquirer, AcquirerError, LinkSettings, transmission_now};
use crate::journal::{BatchTotals, Journal, JournalError, TxKind, TxRecord, TxState};
use crate::pinpad::{PinEntry, PinEntryError, PinRequest};
use crate::tap::{Sale, transaction_request};

pub mod card;
pub mod crash;
pub mod cancel;
mod messages;

pub use card::{CardError, CardReader, CardTap};
pub use crash::CrashHook;

/// What the engine tells its user interface.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// Ask for the card (amount in minor units).
    PresentCard {
        /// The amount to show.
        amount: u64,
    },
    /// The card was read.
    CardRead {
        /// Masked PAN.
        masked_pan: String,
        /// Application label, if any.
        label: Option<String>,
    },
    /// The card can leave the reader.
    RemoveCard,
    /// The PIN pad is up.
    EnterPin,
    /// The host said the PIN was wrong; it is asked again (with a new tap).
    WrongPin,
    /// The host wants a PIN (soft decline 65/1A); the card is read again with a PIN.
    PinRequired,
    /// Waiting for the host.
    Authorising,
    /// Approved.
    Approved {
        /// DE 38, if any.
        auth_code: Option<String>,
        /// Whether it was approved offline (queued for upload).
        offline: bool,
    },
    /// Declined (or reversed, or stopped).
    Declined {
        /// Why, for the cardholder and the merchant.
        reason: String,
    },
    /// Present the card again.
    TryAgain {
        /// Why.
        reason: String,
    },
    /// The host did not answer: the request is being reversed.
    Reversing,
}

/// How a transaction ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TxStatus {
    /// Approved by the host.
    Approved,
    /// Approved by the card offline; queued as an advice.
    ApprovedOffline,
    /// Declined by the host or the card.
    Declined,
    /// Sent, but not answered in time (or answered badly): reversed (or the reversal is
    /// pending).
    Reversed,
    /// Stopped before anything reached the host.
    Aborted,
}

/// Where the time of one transaction went.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Timings {
    /// Card interaction (connect and APDUs), kernel CPU included.
    pub card: Duration,
    /// The kernel's CPU share of `card`.
    pub kernel: Duration,
    /// PIN entry.
    pub pin: Duration,
    /// TCP + TLS handshake (zero when the connection was reused).
    pub tls_connect: Duration,
    /// The host exchange (request written to response read), connect excluded.
    pub host: Duration,
    /// Journal writes (each a synchronous SQLite commit).
    pub journal: Duration,
    /// From the start of the operation to its result.
    pub total: Duration,
}

/// The result of one operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxResult {
    /// The journal id.
    pub id: i64,
    /// How it ended.
    pub status: TxStatus,
    /// DE 39, if the host answered.
    pub response_code: Option<String>,
    /// DE 38, if approved.
    pub auth_code: Option<String>,
    /// The amount, tip included.
    pub amount: u64,
    /// The masked PAN, if a card was read.
    pub masked_pan: Option<String>,
    /// A human message.
    pub message: String,
    /// Where the time went.
    pub timings: Timings,
}

/// A tip on a sale.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Tip {
    /// No tip.
    #[default]
    None,
    /// A percentage of the amount (rounded half up to the minor unit).
    Percent(u8),
    /// A fixed amount in minor units.
    Amount(u64),
}

impl Tip {
    /// The tip for `amount`.
    pub fn of(self, amount: u64) -> u64 {
        match self {
            Self::None => 0,
            Self::Percent(p) => (amount.saturating_mul(u64::from(p)) + 50) / 100,
            Self::Amount(a) => a,
        }
    }
}

/// Engine settings.
#[derive(Debug, Clone)]
pub struct EngineSettings {
    /// DE 42, the merchant ID (15 characters at most).
    pub merchant_id: String,
    /// The name shown on the PIN pad.
    pub merchant_name: String,
    /// The PIN pad's language.
    pub language: String,
    /// The acquirer link's timeouts.
    pub link: LinkSettings,
    /// Taps tried when the card asks to be presented again.
    pub max_taps: u32,
    /// PIN entries tried when the host answers 55 (the host blocks after its own limit).
    pub max_pin_tries: u32,
    /// Reversal messages sent per attempt (the first is 0400, the repeats 0401).
    pub reversal_repeats: u32,
    /// Pause between reversal repeats.
    pub reversal_backoff: Duration,
    /// How long to wait for a card.
    pub card_wait: Duration,
    /// Store-and-forward caps.
    pub offline: OfflineLimits,
}

/// Store-and-forward: when the host cannot be reached, a sale at or below the AID's floor
/// limit, with offline data authentication passed and no online PIN, is approved offline and
/// queued as an 0220 advice, within these caps. Online-PIN transactions are never queued (the
/// PIN block must not be stored).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OfflineLimits {
    /// At most this many advices waiting.
    pub max_count: u64,
    /// At most this total amount waiting (minor units).
    pub max_total: u64,
    /// No new offline approval while the oldest waiting advice is older than this.
    pub max_age: Duration,
    /// Upload attempts per advice before it is left for the operator (`softpos status`).
    pub max_upload_attempts: u32,
}

impl Default for OfflineLimits {
    fn default() -> Self {
        Self {
            max_count: 20,
            max_total: 20_000,
            max_age: Duration::from_secs(24 * 3600),
            max_upload_attempts: 10,
        }
    }
}

impl Default for EngineSettings {
    fn default() -> Self {
        Self {
            merchant_id: "MERCHANT0000001".to_owned(),
            merchant_name: "softpos demo shop".to_owned(),
            language: "en".to_owned(),
            link: LinkSettings::default(),
            max_taps: 3,
            max_pin_tries: 3,
            reversal_repeats: 3,
            reversal_backoff: Duration::from_millis(200),
            card_wait: Duration::from_secs(30),
            offline: OfflineLimits::default(),
        }
    }
}

/// What [`Engine::recover`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecoveryReport {
    /// Transactions closed as aborted (nothing had been sent).
    pub aborted: Vec<i64>,
    /// Transactions reversed.
    pub reversed: Vec<i64>,
    /// Transactions whose answer was learnt by repeating the same request.
    pub confirmed: Vec<i64>,
    /// Transactions still pending (the host is unreachable): retried at the next start or
    /// before the next transaction.
    pub pending: Vec<i64>,
}

/// The result of a settlement (0500/0510).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettlementReport {
    /// The batch number (DE 60).
    pub batch: u32,
    /// The terminal's totals.
    pub totals: BatchTotals,
    /// The host's totals from the 0510 (DE 74-77, 86-89), if it sent them all.
    pub host_totals: Option<BatchTotals>,
    /// Whether the host found them in balance (DE 66 = `1`).
    pub in_balance: bool,
    /// DE 39.
    pub response_code: String,
    /// Pending reversals and advices sent to the host before the totals (journal ids).
    pub pushed: Vec<i64>,
    /// Every transaction the batch closes (journal ids, approved or not).
    pub transactions: Vec<i64>,
}

/// One transaction still waiting for the host, for [`EngineError::PendingBeforeSettlement`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingItem {
    /// The journal id.
    pub id: i64,
    /// What it is.
    pub kind: TxKind,
    /// Where it is.
    pub state: TxState,
    /// Amount in minor units.
    pub amount: u64,
    /// What is waiting, in words.
    pub waiting: String,
}

impl PendingItem {
    fn of(rec: &TxRecord, max_upload_attempts: u32) -> Self {
        let waiting = match rec.state {
            TxState::ReversalPending => format!(
                "its reversal is not acknowledged yet ({} sent)",
                rec.reversal_attempts
            ),
            TxState::AdvicePending if rec.advice_attempts >= max_upload_attempts => format!(
                "its offline approval (advice) was tried {} times and is left for the \
                 operator",
                rec.advice_attempts
            ),
            TxState::AdvicePending => format!(
                "its offline approval (advice) is not uploaded yet ({} tries)",
                rec.advice_attempts
            ),
            other => format!("it is unfinished ({})", other.as_str()),
        };
        Self {
            id: rec.id,
            kind: rec.kind,
            state: rec.state,
            amount: rec.amount,
            waiting,
        }
    }
}

/// The transactions that stop a settlement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingList(pub Vec<PendingItem>);

impl std::fmt::Display for PendingList {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, item) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(
                f,
                "transaction {} ({}, {} minor units): {}",
                item.id,
                item.kind.as_str(),
                item.amount,
                item.waiting
            )?;
        }
        Ok(())
    }
}

/// The transaction engine.
pub struct Engine {
    journal: Journal,
    acquirer: Acquirer,
    terminal: TerminalConfig,
    oda: Box<dyn OfflineDataAuthenticator>,
    settings: EngineSettings,
    crash: CrashHook,
    journal_time: Duration,
}

impl Engine {
    /// Opens the journal in `data_dir` and prepares the link to the host of `bundle`.
    /// Nothing is sent: call [`Engine::recover`] and then [`Engine::sign_on`].
    pub fn open(
        data_dir: &Path,
        bundle: &EnrolmentBundle,
        terminal: TerminalConfig,
        oda: Box<dyn OfflineDataAuthenticator>,
        settings: EngineSettings,
    ) -> Result<Self, EngineError> {
        let journal = Journal::open(data_dir)?;
        let acquirer = Acquirer::new(bundle, settings.link)?;
        Ok(Self {
            journal,
            acquirer,
            terminal,
            oda,
            settings,
            crash: CrashHook::from_env(),
            journal_time: Duration::ZERO,
        })
    }

    /// The journal (history, export, totals).
    pub fn journal(&self) -> &Journal {
        &self.journal
    }

    /// The acquirer link (tests change its timeout).
    pub fn acquirer_mut(&mut self) -> &mut Acquirer {
        &mut self.acquirer
    }

    /// The settings.
    pub fn settings(&self) -> &EngineSettings {
        &self.settings
    }

    /// Sign-on (0800 `001`) and echo (0800 `301`): checks that the host is there and accepts
    /// this terminal.
    pub fn sign_on(&mut self) -> Result<(), EngineError> {
        let stan = self.journal.next_stan()?;
        self.acquirer.sign_on(stan)?;
        let stan = self.journal.next_stan()?;
        self.acquirer.echo(stan)?;
        Ok(())
    }

    /// Finishes what a crash (or an unreachable host) left in the journal:
    /// - created, card read, PIN done: nothing was sent → aborted;
    /// - sent, or answered and approved but not done: reversed (a void or completion, which
    ///   the journal can rebuild exactly, is repeated instead to learn the host's answer);
    /// - answered and not approved: done, declined;
    /// - reversal pending: the reversal is repeated (0401) until acknowledged.
    pub fn recover(&mut self) -> Result<RecoveryReport, EngineError> {
        let mut report = RecoveryReport::default();
        for rec in self.journal.unfinished()? {
            match rec.state {
                TxState::Created | TxState::CardRead | TxState::PinDone => {
                    self.finish(
                        rec.id,
                        TxState::Aborted,
                        false,
                        "interrupted before it was sent",
                    )?;
                    report.aborted.push(rec.id);
                }
                TxState::Answered if rec.response_code.as_deref() != Some(APPROVED) => {
                    let why = format!(
                        "declined ({})",
                        rec.response_code.as_deref().unwrap_or("??")
                    );
                    self.finish(rec.id, TxState::Done, false, &why)?;
                    report.confirmed.push(rec.id);
                }
                TxState::Sent | TxState::Answered
                    if matches!(rec.kind, TxKind::Void | TxKind::Completion) =>
                {
                    match self.repeat_rebuildable(&rec) {
                        Ok(()) => report.confirmed.push(rec.id),
                        Err(e) => {
                            tracing::warn!(id = rec.id, error = %e, "repeat failed; left pending");
                            report.pending.push(rec.id);
                        }
                    }
                }
                TxState::Sent | TxState::Answered | TxState::ReversalPending => {
                    if self.reverse(rec.id, "interrupted after it was sent")? {
                        report.reversed.push(rec.id);
                    } else {
                        report.pending.push(rec.id);
                    }
                }
                TxState::AdvicePending => match self.upload_advice(&rec) {
                    Ok(true) => report.confirmed.push(rec.id),
                    _ => report.pending.push(rec.id),
                },
                _ => report.pending.push(rec.id),
            }
        }
        Ok(report)
    }

    /// A sale of `amount` (minor units) plus `tip`.
    pub fn sale(
        &mut self,
        reader: &mut dyn CardReader,
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
        self.card_operation(op, reader, pin, events)
    }

    /// A refund of `amount`, standalone or of the sale `original_id` (which must be an
    /// approved sale of at least that amount).
    pub fn refund(
        &mut self,
        reader: &mut dyn CardReader,
        pin: &mut dyn PinEntry,
        amount: u64,
        original_id: Option<i64>,
        events: &mut dyn FnMut(Event),
    ) -> Result<TxResult, EngineError> {
        if let Some(id) = original_id {
            let original = self
                .journal
                .get(id)?
                .ok_or(EngineError::UnknownTransaction(id))?;
            if original.kind != TxKind::Sale || !original.approved || original.voided {
                return Err(EngineError::NotRefundable(id));
            }
            if amount > original.amount {
                return Err(EngineError::NotRefundable(id));
            }
        }
        let op = CardOp {
            kind: TxKind::Refund,
            amount,
            tip: 0,
            original_id,
        };
        self.card_operation(op, reader, pin, events)
    }

    /// A pre-authorization (0100) of `amount`.
    pub fn preauth(
        &mut self,
        reader: &mut dyn CardReader,
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
        self.card_operation(op, reader, pin, events)
    }

    /// A card check: verifies the card without charging it, a zero-amount 0100 with DE 25 =
    /// `51` (account verification). The host answers `85` (no reason to decline) or `00` when
    /// the account is good; nothing is held or posted. Online PIN when the card asks for it.
    pub fn card_check(
        &mut self,
        reader: &mut dyn CardReader,
        pin: &mut dyn PinEntry,
        events: &mut dyn FnMut(Event),
    ) -> Result<TxResult, EngineError> {
        let op = CardOp {
            kind: TxKind::CardCheck,
            amount: 0,
            tip: 0,
            original_id: None,
        };
        self.card_operation(op, reader, pin, events)
    }

    /// Voids the last approved sale or refund of the open batch (0200 with DE 90).
    pub fn void_last(&mut self, events: &mut dyn FnMut(Event)) -> Result<TxResult, EngineError> {
        let started = Instant::now();
        self.journal_time = Duration::ZERO;
        self.flush_pending();
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
        let transmission = transmission_now();
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
        let started = Instant::now();
        self.journal_time = Duration::ZERO;
        self.flush_pending();
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
        let transmission = transmission_now();
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
        let request = self.completion_request(&rec, &original, stan, &transmission, false)?;
        events(Event::Authorising);
        let result = self.simple_exchange(id, &request, events, started)?;
        if result.status == TxStatus::Approved {
            self.journal.mark_completed(preauth_id)?;
            self.journal.forget_pan(preauth_id)?;
        }
        Ok(result)
    }

    /// End-of-day settlement: the open batch's totals in a 0500; the batch is closed whatever
    /// the host says (it closes its own batch either way, `docs/iso8583.md` §4).
    ///
    /// Pending reversals and queued advices go to the host first (a reversal or advice the
    /// host has not seen would put the two sides' totals apart); if any is still pending
    /// after that, settlement is refused with [`EngineError::PendingBeforeSettlement`], which
    /// names each one. The report lists what was pushed, the transactions the totals cover,
    /// and the host's own totals.
    pub fn settle(&mut self) -> Result<SettlementReport, EngineError> {
        let before: Vec<i64> = self.journal.unfinished()?.iter().map(|r| r.id).collect();
        self.flush_pending();
        let still = self.journal.unfinished()?;
        if !still.is_empty() {
            let pending = still
                .iter()
                .map(|rec| PendingItem::of(rec, self.settings.offline.max_upload_attempts))
                .collect();
            return Err(EngineError::PendingBeforeSettlement(PendingList(pending)));
        }
        let pushed = before;
        let batch = self.journal.batch_number()?;
        let totals = self.journal.open_batch_totals()?;
        let transactions = self.journal.open_batch_ids()?;
        let stan = self.journal.next_stan()?;
        let request = hsm_sim::iso8583::messages::reconciliation_request(
            self.acquirer.terminal_id(),
            stan,
            &transmission_now(),
            batch,
            &totals,
        );
        let response = self.acquirer.exchange(&request)?;
        let code = response.text(39).unwrap_or("??").to_owned();
        let in_balance = response.text(66) == Some("1");
        let host_totals = host_totals(&response);
        self.journal.close_batch(batch)?;
        Ok(SettlementReport {
            batch,
            totals,
            host_totals,
            in_balance,
            response_code: code,
            pushed,
            transactions,
        })
    }

    /// Retries pending reversals and uploads queued advices, once each (best effort; errors
    /// are logged and left for later). Returns how many are still pending.
    pub fn flush_pending(&mut self) -> usize {
        let Ok(pending) = self.journal.unfinished() else {
            return usize::MAX;
        };
        let mut left = 0;
        for rec in pending {
            let done = match rec.state {
                TxState::ReversalPending => self.reverse(rec.id, "pending reversal"),
                TxState::AdvicePending => self.upload_advice(&rec),
                _ => Ok(false),
            };
            match done {
                Ok(true) => {}
                Ok(false) => left += 1,
                Err(e) => {
                    tracing::warn!(id = rec.id, error = %e, "pending message not sent");
                    left += 1;
                }
            }
        }
        left
    }

    /// Uploads one queued advice (0220, repeats 0221 with the same DE 11 and DE 7, so the
    /// host posts it exactly once). Returns whether the host acknowledged it.
    fn upload_advice(&mut self, rec: &TxRecord) -> Result<bool, EngineError> {
        if rec.advice_attempts >= self.settings.offline.max_upload_attempts {
            return Ok(false);
        }
        let (Some(stan), Some(transmission)) = (rec.stan, rec.transmission.clone()) else {
            return Ok(false);
        };
        let pan = self
            .journal
            .sealed_pan(rec.id)?
            .ok_or(EngineError::UnknownTransaction(rec.id))?;
        let advice = self
            .journal
            .advice_data(rec.id)?
            .ok_or(EngineError::UnknownTransaction(rec.id))?;
        let request = messages::advice(
            &self.terminal_fields(),
            rec.advice_attempts > 0,
            rec.amount,
            stan,
            &transmission,
            &pan,
            &advice.icc_data,
            advice.expiry.as_deref(),
            advice.pan_sequence_number,
        );
        drop(pan);
        self.journaled(|j| j.advice_attempted(rec.id))?;
        let response = match self.acquirer.exchange(&request) {
            Ok(r) => r,
            Err(e) => {
                tracing::info!(id = rec.id, error = %e, "advice not uploaded yet");
                return Ok(false);
            }
        };
        let code = response.text(39).unwrap_or("??").to_owned();
        if code != APPROVED {
            tracing::warn!(id = rec.id, %code, "advice refused");
            return Ok(false);
        }
        self.journaled(|j| j.answered(rec.id, &code, None, response.text(37)))?;
        self.journaled(|j| j.finish(rec.id, TxState::Done, true, "approved offline; uploaded"))?;
        self.journal.forget_pan(rec.id)?;
        Ok(true)
    }

    /// Whether a sale that could not reach the host may be approved offline and queued.
    fn offline_allowed(
        &self,
        online: &OnlineRequestData,
        amount: u64,
        oda_passed: bool,
    ) -> Result<bool, EngineError> {
        let floor = self
            .terminal
            .aid_for(&online.aid)
            .and_then(|a| a.floor_limit)
            .unwrap_or(0);
        let limits = self.settings.offline;
        let (count, total, oldest) = self.journal.advice_queue()?;
        let too_old = oldest.is_some_and(|age| age > limits.max_age.as_secs_f64());
        Ok(oda_passed
            && amount <= floor
            && count < limits.max_count
            && total.saturating_add(amount) <= limits.max_total
            && !too_old)
    }

    fn card_operation(
        &mut self,
        op: CardOp,
        reader: &mut dyn CardReader,
        pin: &mut dyn PinEntry,
        events: &mut dyn FnMut(Event),
    ) -> Result<TxResult, EngineError> {
        let started = Instant::now();
        self.journal_time = Duration::ZERO;
        self.flush_pending();
        let mut force_pin = false;
        let mut pin_tries = 0;
        loop {
            let mut timings = Timings::default();
            let currency = self.terminal.terminal.currency_code;
            let id =
                self.journaled(|j| j.create(op.kind, op.amount, op.tip, currency, op.original_id))?;
            self.crash.at(TxState::Created.as_str());
            // The card.
            let tap = match self.tap(reader, &op, events, &mut timings) {
                Ok(tap) => tap,
                Err(why) => {
                    self.finish(id, TxState::Aborted, false, &why)?;
                    events(Event::Declined {
                        reason: why.clone(),
                    });
                    return Ok(self.result(id, TxStatus::Aborted, None, why, timings, started));
                }
            };
            let outcome = tap.outcome;
            if outcome.kind == OutcomeKind::Approved {
                return self.card_approved_offline(id, &op, outcome, events, timings, started);
            }
            let Some(online) = outcome
                .online
                .filter(|_| outcome.kind == OutcomeKind::OnlineRequest)
            else {
                let (state, status, why) = match outcome.kind {
                    OutcomeKind::Declined => (
                        TxState::Done,
                        TxStatus::Declined,
                        "declined by the card".to_owned(),
                    ),
                    _ => (
                        TxState::Aborted,
                        TxStatus::Aborted,
                        format!("card not usable: {}", outcome.reason),
                    ),
                };
                self.finish(id, state, false, &why)?;
                events(Event::Declined {
                    reason: why.clone(),
                });
                return Ok(self.result(id, status, None, why, timings, started));
            };
            let keep_sealed = op.kind == TxKind::Preauth;
            self.journaled(|j| {
                j.card_read(id, &online.pan, outcome.card.label.as_deref(), keep_sealed)
            })?;
            self.crash.at(TxState::CardRead.as_str());
            events(Event::CardRead {
                masked_pan: online.masked_pan.as_str().to_owned(),
                label: outcome.card.label.clone(),
            });
            events(Event::RemoveCard);
            // Cardholder verification.
            let need_pin = outcome.cvm == Cvm::OnlinePin || force_pin;
            let encrypted = if need_pin {
                events(Event::EnterPin);
                let pin_started = Instant::now();
                let exponent = self.terminal.terminal.currency_exponent;
                let request = PinRequest {
                    pan: &online.pan,
                    amount: op.amount,
                    currency_code: currency,
                    currency_exponent: exponent,
                    merchant_name: &self.settings.merchant_name,
                    language: &self.settings.language,
                    accessible: false,
                };
                let collected = pin.collect(&request);
                timings.pin = pin_started.elapsed();
                match collected {
                    Ok(p) => {
                        self.journaled(|j| j.set_state(id, TxState::PinDone))?;
                        self.crash.at(TxState::PinDone.as_str());
                        Some(p)
                    }
                    Err(e) => {
                        let why = pin_message(&e);
                        self.finish(id, TxState::Aborted, false, &why)?;
                        events(Event::Declined {
                            reason: why.clone(),
                        });
                        return Ok(self.result(id, TxStatus::Aborted, None, why, timings, started));
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
            let transmission = transmission_now();
            let mut request = messages::chip_request(
                &self.terminal_fields(),
                mti,
                processing,
                op.amount,
                stan,
                &transmission,
                &online,
                encrypted.as_ref(),
            );
            if op.kind == TxKind::CardCheck {
                request.set(25, messages::POS_CONDITION_ACCOUNT_VERIFICATION);
            }
            let mti_text = mti.to_string();
            self.journaled(|j| j.sent(id, &mti_text, Some(processing), stan, &transmission))?;
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
            self.journaled(|j| j.answered(id, &code, auth.as_deref(), response.text(37)))?;
            self.crash.at(TxState::Answered.as_str());
            self.issuer_response(id, &response, &online)?;
            let approved =
                code == APPROVED || (op.kind == TxKind::CardCheck && code == NO_REASON_TO_DECLINE);
            match code.as_str() {
                _ if approved => {
                    self.journaled(|j| j.finish(id, TxState::Done, true, "approved"))?;
                    self.crash.at(TxState::Done.as_str());
                    events(Event::Approved {
                        auth_code: auth.clone(),
                        offline: false,
                    });
                    let mut result = self.result(
                        id,
                        TxStatus::Approved,
                        Some(code),
                        "approved".into(),
                        timings,
                        started,
                    );
                    result.auth_code = auth;
                    return Ok(result);
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

    /// The card approved offline (a TC with ODA passed, Book C-3 §5 / C-2): the approval is
    /// journalled and queued as an 0220 advice carrying the TC (store-and-forward, uploaded by
    /// [`Engine::flush_pending`] before the next transaction), within the offline caps. A sale
    /// only; outside the caps it is declined, nothing is charged.
    fn card_approved_offline(
        &mut self,
        id: i64,
        op: &CardOp,
        outcome: emv::kernel::Outcome,
        events: &mut dyn FnMut(Event),
        timings: Timings,
        started: Instant,
    ) -> Result<TxResult, EngineError> {
        let oda_passed = outcome.oda.as_ref().is_some_and(|r| r.passed());
        let refused: Option<&str> = match (&outcome.advice, op.kind) {
            (None, _) => Some("the card approved offline without the data an advice needs"),
            (Some(_), kind) if kind != TxKind::Sale => {
                Some("the card approved offline, but only a sale can be approved offline")
            }
            (Some(advice), _) if !self.offline_allowed(advice, op.amount, oda_passed)? => Some(
                "the card approved offline, but the terminal's offline limits (floor limit, \
                 ODA, queued advices' count, value or age) do not allow it: nothing was charged",
            ),
            _ => None,
        };
        let Some(advice) = outcome.advice.filter(|_| refused.is_none()) else {
            let why = refused.unwrap_or_default().to_owned();
            self.finish(id, TxState::Done, false, &why)?;
            events(Event::Declined {
                reason: why.clone(),
            });
            return Ok(self.result(id, TxStatus::Declined, None, why, timings, started));
        };
        self.journaled(|j| j.card_read(id, &advice.pan, outcome.card.label.as_deref(), false))?;
        self.crash.at(TxState::CardRead.as_str());
        events(Event::CardRead {
            masked_pan: advice.masked_pan.as_str().to_owned(),
            label: outcome.card.label.clone(),
        });
        events(Event::RemoveCard);
        let stan = self.journal.next_stan()?;
        let transmission = transmission_now();
        self.journaled(|j| {
            j.queue_advice(
                id,
                &advice.pan,
                &advice.icc_data,
                &advice.expiry_yymm,
                advice.pan_sequence_number,
                stan,
                &transmission,
            )
        })?;
        drop(advice);
        self.crash.at(TxState::AdvicePending.as_str());
        events(Event::Approved {
            auth_code: None,
            offline: true,
        });
        let why = "approved offline by the card (TC); queued for the host".to_owned();
        Ok(self.result(id, TxStatus::ApprovedOffline, None, why, timings, started))
    }

    /// DE 55 of the answer (`91` ARPC, `71`/`72` scripts) handed to the kernel's sans-IO
    /// decision ([`IssuerResponse::update_for`]) and recorded in the journal. The contactless
    /// flows here end with the first cryptogram: when the card and terminal both support
    /// Issuer Update Processing (Kernels 3/7), a second tap would be needed; this terminal
    /// does not offer it (TTQ byte 3 b8 off in `assets/terminal.toml`), so it is only recorded.
    fn issuer_response(
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
        self.journaled(|j| j.issuer_data(id, &summary.0))?;
        Ok(summary.1)
    }

    /// Runs the kernel, presenting the card again on Try Again, up to `max_taps`.
    fn tap(
        &mut self,
        reader: &mut dyn CardReader,
        op: &CardOp,
        events: &mut dyn FnMut(Event),
        timings: &mut Timings,
    ) -> Result<CardTap, String> {
        let transaction_type = if op.kind == TxKind::Refund {
            0x20
        } else {
            0x00
        };
        let mut last = String::from("no card");
        for _ in 0..self.settings.max_taps.max(1) {
            events(Event::PresentCard { amount: op.amount });
            if let Err(e) = reader.wait_for_card(self.settings.card_wait) {
                return Err(format!("no card: {e}"));
            }
            let request = transaction_request(Sale {
                amount: op.amount,
                currency_code: self.terminal.terminal.currency_code,
                transaction_type,
            })
            .map_err(|_| "the OS random source failed".to_owned())?;
            match reader.tap(&self.terminal, self.oda.as_ref(), request) {
                Ok(tap) => {
                    timings.card += tap.card_time;
                    timings.kernel += tap.kernel_time;
                    if tap.outcome.kind == OutcomeKind::TryAgain {
                        last = tap.outcome.reason.clone();
                        events(Event::TryAgain {
                            reason: last.clone(),
                        });
                        continue;
                    }
                    return Ok(tap);
                }
                Err(e) => {
                    last = e.to_string();
                    events(Event::TryAgain {
                        reason: last.clone(),
                    });
                }
            }
        }
        Err(format!("the card could not be read: {last}"))
    }

    /// The request went out and no valid answer came back.
    #[allow(clippy::too_many_arguments)]
    fn unanswered(
        &mut self,
        id: i64,
        error: AcquirerError,
        online: &OnlineRequestData,
        offline: Offline,
        events: &mut dyn FnMut(Event),
        timings: Timings,
        started: Instant,
    ) -> Result<TxResult, EngineError> {
        if error.is_offline()
            && offline.possible
            && self.offline_allowed(online, offline.amount, offline.oda_passed)?
        {
            let stan = self.journal.next_stan()?;
            let transmission = transmission_now();
            self.journaled(|j| {
                j.queue_advice(
                    id,
                    &online.pan,
                    &online.icc_data,
                    &online.expiry_yymm,
                    online.pan_sequence_number,
                    stan,
                    &transmission,
                )
            })?;
            self.crash.at(TxState::AdvicePending.as_str());
            events(Event::Approved {
                auth_code: None,
                offline: true,
            });
            let why = format!("{error}; approved offline, queued for the host");
            return Ok(self.result(id, TxStatus::ApprovedOffline, None, why, timings, started));
        }
        if error.is_offline() && offline.need_pin {
            let why = format!(
                "{error}; this card needs an online PIN, which is never stored for later: \
                 nothing was charged, try again when the host is back or use another payment"
            );
            self.finish(id, TxState::Aborted, false, &why)?;
            events(Event::Declined {
                reason: why.clone(),
            });
            return Ok(self.result(id, TxStatus::Aborted, None, why, timings, started));
        }
        if error.may_have_reached_host() {
            events(Event::Reversing);
            let done = self.reverse(id, &format!("no answer from the host: {error}"))?;
            let why = if done {
                format!("{error}; the transaction was reversed, nothing was charged")
            } else {
                format!("{error}; the reversal will be sent when the host is back")
            };
            events(Event::Declined {
                reason: why.clone(),
            });
            return Ok(self.result(id, TxStatus::Reversed, None, why, timings, started));
        }
        // Nothing was written to the host.
        let why = format!("{error}; nothing was charged");
        self.finish(id, TxState::Aborted, false, &why)?;
        events(Event::Declined {
            reason: why.clone(),
        });
        Ok(self.result(id, TxStatus::Aborted, None, why, timings, started))
    }

    /// Reverses `id` (0400, then 0401 repeats with the same DE 11 and DE 7). Returns whether
    /// the host acknowledged it; if not, the transaction stays `reversal-pending`.
    fn reverse(&mut self, id: i64, why: &str) -> Result<bool, EngineError> {
        let mut rec = self
            .journal
            .get(id)?
            .ok_or(EngineError::UnknownTransaction(id))?;
        if rec.reversal_stan.is_none() {
            let stan = self.journal.next_stan()?;
            let transmission = transmission_now();
            self.journaled(|j| j.reversal_pending(id, stan, &transmission, why))?;
            self.crash.at(TxState::ReversalPending.as_str());
            rec = self
                .journal
                .get(id)?
                .ok_or(EngineError::UnknownTransaction(id))?;
        } else if rec.state != TxState::ReversalPending {
            self.journaled(|j| j.set_state(id, TxState::ReversalPending))?;
        }
        let (Some(stan), Some(transmission)) =
            (rec.reversal_stan, rec.reversal_transmission.clone())
        else {
            return Ok(false);
        };
        for attempt in 0..self.settings.reversal_repeats.max(1) {
            if attempt > 0 {
                std::thread::sleep(self.settings.reversal_backoff * attempt);
            }
            let repeat = attempt > 0 || rec.reversal_attempts > 0;
            let request =
                messages::reversal(&self.terminal_fields(), repeat, stan, &transmission, &rec);
            self.journaled(|j| j.reversal_attempted(id))?;
            match self.acquirer.exchange(&request) {
                Ok(response) if response.text(39) == Some(APPROVED) => {
                    self.journaled(|j| j.reversed(id, APPROVED, "reversed"))?;
                    self.crash.at(TxState::Reversed.as_str());
                    return Ok(true);
                }
                // Acknowledged, but there was no approval to undo: the original never reached
                // the host, or it declined it. Nothing to count at settlement.
                Ok(response)
                    if matches!(
                        response.text(39),
                        Some(REVERSAL_NO_ORIGINAL | REVERSAL_NO_ACTION)
                    ) =>
                {
                    let code = response.text(39).unwrap_or(REVERSAL_NO_ORIGINAL).to_owned();
                    self.journaled(|j| {
                        j.reversed(id, &code, "reversed (the host had no approval to undo)")
                    })?;
                    self.crash.at(TxState::Reversed.as_str());
                    return Ok(true);
                }
                Ok(response) => {
                    tracing::warn!(id, code = ?response.text(39), "reversal refused");
                }
                Err(e) => tracing::warn!(id, error = %e, "reversal not acknowledged"),
            }
        }
        Ok(false)
    }

    /// Recovery of a void or completion: the same request (same DE 11 and DE 7; a
    /// completion as 0221) gets the host's original answer (`docs/iso8583.md` §7).
    fn repeat_rebuildable(&mut self, rec: &TxRecord) -> Result<(), EngineError> {
        let original_id = rec
            .original_id
            .ok_or(EngineError::UnknownTransaction(rec.id))?;
        let original = self
            .journal
            .get(original_id)?
            .ok_or(EngineError::UnknownTransaction(original_id))?;
        let (Some(stan), Some(transmission)) = (rec.stan, rec.transmission.clone()) else {
            // Never stamped: it was never sent.
            self.finish(
                rec.id,
                TxState::Aborted,
                false,
                "interrupted before it was sent",
            )?;
            return Ok(());
        };
        let request = match rec.kind {
            TxKind::Void => messages::void(&self.terminal_fields(), stan, &transmission, &original),
            _ => self.completion_request(rec, &original, stan, &transmission, true)?,
        };
        let response = self.acquirer.exchange(&request)?;
        let code = response.text(39).unwrap_or("??").to_owned();
        self.journal
            .answered(rec.id, &code, response.text(38), response.text(37))?;
        let approved = code == APPROVED;
        let why = if approved {
            "approved".to_owned()
        } else {
            decline_message(&code)
        };
        self.finish(rec.id, TxState::Done, approved, &why)?;
        if approved && rec.kind == TxKind::Void {
            self.journal.mark_voided(original_id)?;
        } else if approved {
            self.journal.mark_completed(original_id)?;
            self.journal.forget_pan(original_id)?;
        }
        Ok(())
    }

    fn completion_request(
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
    fn simple_exchange(
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
                self.journaled(|j| j.answered(id, &code, response.text(38), response.text(37)))?;
                self.crash.at(TxState::Answered.as_str());
                let approved = code == APPROVED;
                let why = if approved {
                    "approved".to_owned()
                } else {
                    decline_message(&code)
                };
                self.finish(id, TxState::Done, approved, &why)?;
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
                events(Event::Declined {
                    reason: why.clone(),
                });
                Ok(self.result(id, TxStatus::Reversed, None, why, timings, started))
            }
            Err(e) => {
                let why = format!("{e}; nothing was sent");
                self.finish(id, TxState::Aborted, false, &why)?;
                events(Event::Declined {
                    reason: why.clone(),
                });
                Ok(self.result(id, TxStatus::Aborted, None, why, timings, started))
            }
        }
    }

    fn timed_exchange(
        &mut self,
        request: &Message,
        timings: &mut Timings,
    ) -> Result<Message, AcquirerError> {
        let started = Instant::now();
        let result = self.acquirer.exchange(request);
        let connect = self.acquirer.last_connect_time();
        timings.tls_connect += connect;
        timings.host += started.elapsed().saturating_sub(connect);
        result
    }

    fn terminal_fields(&self) -> messages::Terminal<'_> {
        messages::Terminal {
            terminal_id: self.acquirer.terminal_id(),
            merchant_id: &self.settings.merchant_id,
            currency: self.terminal.terminal.currency_code,
        }
    }

    fn journaled<T>(
        &mut self,
        f: impl FnOnce(&Journal) -> Result<T, JournalError>,
    ) -> Result<T, EngineError> {
        let started = Instant::now();
        let out = f(&self.journal);
        self.journal_time += started.elapsed();
        Ok(out?)
    }

    fn finish(
        &mut self,
        id: i64,
        state: TxState,
        approved: bool,
        why: &str,
    ) -> Result<(), EngineError> {
        self.journaled(|j| j.finish(id, state, approved, why))
    }

    fn result(
        &self,
        id: i64,
        status: TxStatus,
        code: Option<String>,
        message: String,
        mut timings: Timings,
        started: Instant,
    ) -> TxResult {
        let rec = self.journal.get(id).ok().flatten();
        timings.journal = self.journal_time;
        timings.total = started.elapsed();
        TxResult {
            id,
            status,
            response_code: code,
            auth_code: rec.as_ref().and_then(|r| r.auth_code.clone()),
            amount: rec.as_ref().map_or(0, |r| r.amount),
            masked_pan: rec.and_then(|r| r.pan_masked),
            message,
            timings,
        }
    }
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("journal", &self.journal)
            .field("acquirer", &self.acquirer)
            .finish_non_exhaustive()
    }
}

/// Errors that stop an operation (a declined or reversed transaction is a [`TxResult`], not
/// an error).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EngineError {
    /// The journal failed: the engine stops rather than lose track of money.
    #[error("the journal failed")]
    Journal(#[from] JournalError),
    /// The acquirer link failed outside a transaction (sign-on, settlement).
    #[error(transparent)]
    Acquirer(#[from] AcquirerError),
    /// No such transaction.
    #[error("no transaction {0} in the journal")]
    UnknownTransaction(i64),
    /// Nothing in the open batch can be voided.
    #[error("there is no approved transaction to void in the open batch")]
    NothingToVoid,
    /// The transaction is not an approved, open pre-authorization.
    #[error("transaction {0} is not an approved pre-authorization that can be completed")]
    NotCompletable(i64),
    /// The transaction cannot be refunded (not an approved sale, or amount too large).
    #[error("transaction {0} cannot be refunded for that amount")]
    NotRefundable(i64),
    /// Settlement waits until no transaction is pending with the host (the pending messages
    /// were tried once more first).
    #[error(
        "settlement refused: the host has not acknowledged everything yet, and the totals \
         would not match: {0}. Settle again when the host is reachable"
    )]
    PendingBeforeSettlement(PendingList),
}

struct Offline {
    possible: bool,
    need_pin: bool,
    oda_passed: bool,
    amount: u64,
}

struct CardOp {
    kind: TxKind,
    amount: u64,
    tip: u64,
    original_id: Option<i64>,
}

/// The host's totals in a 0510 (DE 74-77, 86-89), if every one is present and numeric.
fn host_totals(response: &Message) -> Option<BatchTotals> {
    let n = |field: u8| response.text(field)?.parse::<u64>().ok();
    Some(BatchTotals {
        credits: n(74)?,
        credit_reversals: n(75)?,
        debits: n(76)?,
        debit_reversals: n(77)?,
        credits_amount: n(86)?,
        credit_reversals_amount: n(87)?,
        debits_amount: n(88)?,
        debit_reversals_amount: n(89)?,
    })
}

/// A human message for a DE 39 decline (`docs/iso8583.md` §5).
pub fn decline_message(code: &str) -> String {
    let text = match code {
        "05" => "do not honour",
        "12" => "invalid transaction",
        "13" => "invalid amount",
        "14" => "invalid card number",
        "25" => "original transaction not found",
        "30" => "format error",
        "51" => "insufficient funds",
        "54" => "expired card",
        "55" => "incorrect PIN",
        "57" => "not permitted for this card",
        "58" => "not permitted for this terminal",
        "61" => "daily limit exceeded",
        "65" | "1A" => "PIN required",
        "75" => "PIN tries exceeded",
        "85" => "no reason to decline",
        "91" => "issuer unavailable",
        "96" => "system malfunction",
        _ => "declined",
    };
    format!("declined ({code}: {text})")
}

fn pin_message(e: &PinEntryError) -> String {
    format!("no PIN: {e}")
}

const APPROVED: &str = "00";
/// DE 39 of an 0410 whose original the host never received (ISO 8583:1987 `25`, unable to
/// locate record).
const REVERSAL_NO_ORIGINAL: &str = "25";
/// DE 39 of an 0410 whose original the host declined (`21`, no action taken).
const REVERSAL_NO_ACTION: &str = "21";
const WRONG_PIN: &str = "55";
/// DE 39 of an approved account verification (ISO 8583:1987 `85`).
const NO_REASON_TO_DECLINE: &str = "85";
const SOFT_DECLINE_PIN: &str = "65";
const SOFT_DECLINE_SCA: &str = "1A";
/// Crash point between the host's answer and its journal write.
const CRASH_ANSWER_RECEIVED: &str = "answer-received";
