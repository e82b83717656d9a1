//! The transaction engine: one state machine for every operation, driven the same way by the
//! command line and the GUI, tested without a screen.
//!
//! An operation runs to its end inside one call ([`Engine::sale`], [`Engine::refund`], ...)
//! and reports progress through an event callback ([`Event`]: present card, card read, remove
//! card, enter PIN, authorising, then approved, declined, aborted or reversed; each with the
//! Book A user-interface request to show). A screen runs it on a worker thread
//! ([`EngineService`]) and stops it with a [`Cancel`]. Every step is first written
//! to the [`Journal`] (`created → card-read → pin-done → sent → answered → done`, or
//! `→ reversal-pending → reversed`), so that [`Engine::recover`] can finish what a crash left:
//! anything that may have reached the host is reversed (or, for messages the journal can
//! rebuild exactly, repeated to learn the host's answer), never lost and never doubled.
//!
//! `docs/engine.md` describes the states, the recovery rules, the crash-injection hook, the
//! service, the cancel points and the receipt.

use std::path::Path;
use std::time::{Duration, Instant};

use emv::config::TerminalConfig;
use emv::oda::OfflineDataAuthenticator;

use crate::acquirer::{Acquirer, AcquirerError, TerminalCredentials};
use crate::attestation::{AttestationError, AttestationState, Attestor};
use crate::host_api::{HostApi, HostApiError};
use crate::journal::{Journal, JournalError, TxState};

pub mod cancel;
mod card;
mod clock;
mod code_counters;
mod code_payment;
pub mod crash;
mod error;
mod expiry;
mod host;
pub mod merchant_code;
mod merchant_payment;
mod messages;
mod offline;
mod operations;
pub mod receipt;
mod recover;
mod result;
pub mod service;
mod settings;
mod settle;
mod stop;
mod ui;

pub use crate::reader::CardSource;
pub use cancel::Cancel;
pub use clock::Clock;
pub use crash::CrashHook;
pub use error::EngineError;
pub use host::decline_message;
pub use receipt::{Receipt, ReceiptHeader};
pub use recover::RecoveryReport;
pub use result::{Event, Timings, TxResult, TxStatus};
pub use service::{
    Command, EngineService, LinkStatus, Reply, ServiceEvent, ServiceHandle, ServiceStopped,
    TxActions,
};
pub use settings::{EngineSettings, MerchantRisk, OfflineLimits, Tip};
pub use settle::{PendingItem, PendingList, SettlementReport};
pub use ui::{RESULT_HOLD, RETRY_HOLD};

/// The transaction engine.
pub struct Engine {
    journal: Journal,
    acquirer: Acquirer,
    terminal: TerminalConfig,
    oda: Box<dyn OfflineDataAuthenticator + Send + Sync>,
    settings: EngineSettings,
    crash: CrashHook,
    journal_time: Duration,
    cancel: Cancel,
    clock: Clock,
    /// The host refused the terminal's DE 7 (`63`) at the last sign-on.
    clock_refused: bool,
    /// The host's HTTPS API, when the enrolment names one (the merchant's code).
    host_api: Option<HostApi>,
    /// A terminal enrolled by activation proves its state before each transaction.
    attestor: Option<Attestor>,
}

impl Engine {
    /// Opens the journal in `data_dir` and prepares the link to the host with the terminal's
    /// `bundle` credentials.
    /// Nothing is sent: call [`Engine::recover`] and then [`Engine::sign_on`].
    pub fn open(
        data_dir: &Path,
        bundle: &TerminalCredentials,
        terminal: TerminalConfig,
        oda: Box<dyn OfflineDataAuthenticator + Send + Sync>,
        settings: EngineSettings,
    ) -> Result<Self, EngineError> {
        let journal = Journal::open(data_dir)?;
        let acquirer = Acquirer::new(bundle, settings.link)?;
        let host_api = match HostApi::new(bundle, settings.link.response_timeout) {
            Ok(api) => Some(api),
            Err(HostApiError::NoApi) => None,
            Err(e) => {
                tracing::warn!(error = %e, "the host's API cannot be used");
                None
            }
        };
        let attestor = host_api.as_ref().and_then(|api| {
            let pinpad = std::env::current_exe()
                .map(|exe| exe.with_file_name("softpos-pinpad"))
                .unwrap_or_default();
            Attestor::new(bundle, api.clone(), settings.attestation_profile, pinpad)
        });
        if bundle.attestation_key.is_some() && attestor.is_none() {
            tracing::warn!(
                "the enrolment attests but names no usable host API: online requests will be refused"
            );
        }
        Ok(Self {
            journal,
            acquirer,
            terminal,
            oda,
            settings,
            crash: CrashHook::from_env(),
            journal_time: Duration::ZERO,
            cancel: Cancel::new(),
            clock: Clock::system(),
            clock_refused: false,
            host_api,
            attestor,
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

    /// The cancel handle of the operations that follow: triggering it (from any thread) stops
    /// the running operation (`docs/engine.md`, "Cancel"). Replace it before each operation;
    /// a triggered handle stops every operation until replaced.
    pub fn set_cancel(&mut self, cancel: Cancel) {
        self.cancel = cancel;
    }

    /// Replaces the wall clock (tests: a clock set forward or back).
    pub fn set_clock(&mut self, clock: Clock) {
        self.clock = clock;
    }

    /// The current cancel handle.
    pub fn cancel_handle(&self) -> Cancel {
        self.cancel.clone()
    }

    /// The settings.
    pub fn settings(&self) -> &EngineSettings {
        &self.settings
    }

    /// Sign-on (0800 `001`) and echo (0800 `301`): checks that the host is there and accepts
    /// this terminal. A host that refuses the terminal's DE 7 (`63`: more than 15 minutes from
    /// its clock, `docs/iso8583.md` §7) gives [`EngineError::ClockSkew`], and every operation
    /// is refused until a sign-on succeeds (rule R6).
    pub fn sign_on(&mut self) -> Result<(), EngineError> {
        let result = self.sign_on_and_echo();
        match &result {
            Err(EngineError::Acquirer(AcquirerError::Refused(code))) if code == CLOCK_REFUSED => {
                self.clock_refused = true;
                return Err(EngineError::ClockSkew);
            }
            Ok(()) => {
                self.clock_refused = false;
                self.attest_at_sign_on();
            }
            Err(_) => {}
        }
        result
    }

    /// A terminal enrolled by activation attests at sign-on too: the executables are hashed
    /// then (once per process) rather than in the first sale, and the status bar knows where
    /// the terminal stands. A failure here is only recorded; each transaction asks again.
    fn attest_at_sign_on(&mut self) {
        if let Err(e) = self.refresh_attestation() {
            tracing::warn!(error = %e, "attestation at sign-on");
        }
    }

    /// The attestor's token (the cached one while it is valid long enough), handed to the link
    /// for its 0100 and 0200, or no token for the link when there is none; `Ok(None)` for a
    /// terminal its host does not attest.
    fn refresh_attestation(&mut self) -> Result<Option<Vec<u8>>, AttestationError> {
        let Some(attestor) = self.attestor.as_mut() else {
            return Ok(None);
        };
        let token = attestor.token();
        self.acquirer
            .set_attestation_token(token.as_ref().ok().cloned());
        token.map(Some)
    }

    fn sign_on_and_echo(&mut self) -> Result<(), EngineError> {
        let stan = self.journal.next_stan()?;
        let transmission = self.transmission_now();
        self.acquirer.sign_on_at(stan, &transmission)?;
        let stan = self.journal.next_stan()?;
        let transmission = self.transmission_now();
        self.acquirer.echo_at(stan, &transmission)?;
        Ok(())
    }

    /// Before a transaction, before the card: the clock the host accepts, and for a terminal
    /// enrolled by activation a valid attestation token (cached for its lifetime) for the
    /// link to carry. A blocked terminal stops here; a monitoring service that cannot be
    /// reached leaves the link without a token (the host then refuses online requests, and
    /// offline approvals remain).
    pub(super) fn check_ready(&mut self) -> Result<(), EngineError> {
        if self.clock_refused {
            return Err(EngineError::ClockSkew);
        }
        match self.refresh_attestation() {
            Ok(_) => Ok(()),
            Err(AttestationError::Blocked) => Err(EngineError::Blocked),
            Err(e) => {
                tracing::warn!(error = %e, "no attestation token");
                Ok(())
            }
        }
    }

    /// Before PIN entry: the token again (the cached one while it is valid long enough), for
    /// the PIN pad, which checks it itself. `Err` is why the transaction stops: the terminal
    /// was blocked. Without a token the pad refuses, if it trusts an attestation key.
    pub(super) fn attest_before_pin(&mut self) -> Result<Option<Vec<u8>>, String> {
        match self.refresh_attestation() {
            Ok(token) => Ok(token),
            Err(AttestationError::Blocked) => Err(AttestationError::Blocked.to_string()),
            Err(e) => {
                tracing::warn!(error = %e, "no attestation token for the PIN pad");
                Ok(None)
            }
        }
    }

    /// The next transaction attests afresh instead of using the cached token (after the host
    /// changed its policy, or to measure the exchange).
    pub fn forget_attestation_token(&mut self) {
        if let Some(attestor) = self.attestor.as_mut() {
            attestor.forget_token();
        }
    }

    /// Test builds: the attestor fakes the findings `list` names
    /// ([`Attestor::simulate`]); nothing for a terminal its host does not attest.
    #[cfg(feature = "attestation-hooks")]
    pub fn simulate_attestation(&mut self, list: &str) {
        if let Some(attestor) = self.attestor.as_mut() {
            attestor.simulate(list);
        }
    }

    /// Where the terminal stands with its host's monitoring service; `None` for a terminal its
    /// host does not attest (enrolled from a bundle).
    pub fn attestation_state(&self) -> Option<&AttestationState> {
        self.attestor.as_ref().map(Attestor::state)
    }

    /// DE 7 now, by the engine's clock (`MMDDhhmmss`, UTC).
    pub(super) fn transmission_now(&self) -> String {
        emv::iso8583::transmission_date_time(self.clock.now())
    }

    pub(super) fn terminal_fields(&self) -> messages::Terminal<'_> {
        messages::Terminal {
            terminal_id: self.acquirer.terminal_id(),
            merchant_id: &self.settings.merchant_id,
            currency: self.terminal.terminal.currency_code,
        }
    }

    pub(super) fn journaled<T>(
        &mut self,
        f: impl FnOnce(&Journal) -> Result<T, JournalError>,
    ) -> Result<T, EngineError> {
        let started = Instant::now();
        let out = f(&self.journal);
        self.journal_time += started.elapsed();
        Ok(out?)
    }

    /// [`Engine::journaled`], tried up to `journal_write_attempts` times with a short pause:
    /// for the writes that record what the host answered.
    pub(super) fn journal_retrying(
        &mut self,
        mut f: impl FnMut(&Journal) -> Result<(), JournalError>,
    ) -> Result<(), EngineError> {
        let attempts = self.settings.journal_write_attempts.max(1);
        let mut attempt = 1;
        loop {
            match self.journaled(&mut f) {
                Ok(()) => return Ok(()),
                Err(e) if attempt >= attempts => return Err(e),
                Err(e) => {
                    tracing::warn!(attempt, error = %e, "journal write failed; trying again");
                    attempt += 1;
                    std::thread::sleep(JOURNAL_RETRY_PAUSE);
                }
            }
        }
    }

    pub(super) fn finish(
        &mut self,
        id: i64,
        state: TxState,
        approved: bool,
        why: &str,
    ) -> Result<(), EngineError> {
        self.journaled(|j| j.finish(id, state, approved, why))
    }

    /// The end of an online approval that the journal holds: the crash hook's `done`, the
    /// `Approved` event, and the result with the host's authorisation code.
    pub(super) fn approved_online(
        &self,
        id: i64,
        code: String,
        auth_code: Option<String>,
        events: &mut dyn FnMut(Event),
        timings: Timings,
        started: Instant,
    ) -> TxResult {
        self.crash.at(TxState::Done.as_str());
        events(Event::Approved {
            auth_code: auth_code.clone(),
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
        result.auth_code = auth_code;
        result
    }

    pub(super) fn result(
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

const APPROVED: &str = "00";
/// DE 39 of an 0410 whose original the host never received (ISO 8583:1987 `25`, unable to
/// locate record).
const REVERSAL_NO_ORIGINAL: &str = "25";
/// DE 39 of an 0410 whose original the host declined (`21`, no action taken).
const REVERSAL_NO_ACTION: &str = "21";
const WRONG_PIN: &str = "55";
/// DE 39 of a request whose DE 7 is too far from the host's clock (`63`, security violation).
const CLOCK_REFUSED: &str = "63";
/// DE 39 of an approved account verification (ISO 8583:1987 `85`).
const NO_REASON_TO_DECLINE: &str = "85";
const SOFT_DECLINE_PIN: &str = "65";
const SOFT_DECLINE_SCA: &str = "1A";
/// Pause between attempts at a journal write that records the host's answer.
const JOURNAL_RETRY_PAUSE: Duration = Duration::from_millis(200);
/// Crash point between the host's answer and its journal write.
const CRASH_ANSWER_RECEIVED: &str = "answer-received";

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send<T: Send>() {}

    /// The engine can be moved to a worker thread with everything it holds.
    #[test]
    fn the_engine_and_its_card_sources_are_send() {
        assert_send::<Engine>();
        assert_send::<Box<dyn CardSource>>();
        assert_send::<crate::reader::PcscReader>();
        #[cfg(feature = "demo")]
        assert_send::<crate::reader::VirtualCardSource>();
        assert_send::<Box<dyn OfflineDataAuthenticator + Send + Sync>>();
    }
}
