//! The contactless kernels and the sans-IO driver that runs a whole tap.
//!
//! [`Transaction`] is a state machine in the style of rustls (STYLE.md §2): [`Transaction::start`]
//! returns the first command, [`Transaction::handle`] takes each response and returns the next
//! command or the [`Outcome`]. It performs no I/O; [`run`] is the convenience loop over a
//! [`CardTransport`] using [`exchange`] (which handles `61xx`/`6Cxx`).
//!
//! The flow: Entry Point pre-processing (Book B §3.1) → SELECT PPSE → candidate list (§3.3) →
//! SELECT AID → the kernel of the combination:
//! - Kernel 3 (Visa qVSDC, Book C-3) and Kernel 7 (UnionPay qUICS, Book C-7): GPO with the
//!   PDOL, the cryptogram in the GPO response, READ RECORD of the AFL, fDDA, CVM from CTQ.
//! - Kernel 2 (Mastercard M/Chip, Book C-2): GPO, READ RECORD, processing restrictions, CVM list,
//!   terminal action analysis, GENERATE AC (ARQC with CDA, P1 `90`), CDA.
//!
//! Every state is a struct with `handle(self: Box<Self>, ...)`, wrapped in [`KernelState`]. Errors
//! become outcomes in one place ([`ErrorOutcome`]).

use crate::apdu::{Command, Response};
use crate::config::{self, AidConfig, TerminalConfig};
use crate::oda::OfflineDataAuthenticator;
use crate::transport::{CardTransport, exchange};

mod card_data;
mod cvm;
mod error;
mod issuer;
mod k2;
mod k3;
mod k7;
mod outcome;
mod select;
mod trace;

pub use error::{ErrorOutcome, KernelError};
pub use issuer::{IssuerResponse, IssuerResponseError, IssuerScript, IssuerUpdate, ScriptTemplate};
pub use outcome::{
    CardSummary, CryptogramType, Cvm, OnlineRequestData, Outcome, OutcomeKind, RecordDump, Start,
    UiMessage, UiRequest, UiStatus, UiValue,
};
pub use trace::TraceEvent;

/// What the app asks for; the caller supplies the clock and the unpredictable number (from the
/// OS random source), so the kernel stays deterministic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TransactionRequest {
    /// `9F02` amount, authorised, in minor units.
    pub amount: u64,
    /// `9F03` amount, other (cashback), in minor units.
    pub amount_other: u64,
    /// `5F2A` transaction currency, ISO 4217 numeric.
    pub currency_code: u16,
    /// `9C` transaction type (`00` purchase, `09` cashback, `20` refund).
    pub transaction_type: u8,
    /// `9A` transaction date, YYMMDD in BCD.
    pub date: [u8; 3],
    /// `9F21` transaction time, HHMMSS in BCD.
    pub time: [u8; 3],
    /// `9F37` unpredictable number.
    pub unpredictable_number: [u8; 4],
}

/// A kernel identifier (Book B §3.3.2.5 Table 3-6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum KernelId {
    /// Kernel 2, Mastercard.
    Mastercard,
    /// Kernel 3, Visa.
    Visa,
    /// Kernel 7, UnionPay.
    UnionPay,
    /// Any other kernel (not supported by this terminal).
    Other(u8),
}

impl KernelId {
    /// From the kernel ID byte.
    pub fn from_byte(id: u8) -> Self {
        match id {
            2 => Self::Mastercard,
            3 => Self::Visa,
            7 => Self::UnionPay,
            other => Self::Other(other),
        }
    }

    /// The kernel ID byte.
    pub fn byte(self) -> u8 {
        match self {
            Self::Mastercard => 2,
            Self::Visa => 3,
            Self::UnionPay => 7,
            Self::Other(id) => id,
        }
    }

    /// Whether this terminal has the kernel.
    pub fn is_supported(self) -> bool {
        !matches!(self, Self::Other(_))
    }
}

/// What the driver wants next.
#[derive(Debug)]
pub enum Step {
    /// Send this command and pass the response to [`Transaction::handle`].
    Transmit(Command),
    /// The transaction is over.
    Done(Box<Outcome>),
}

/// One contactless transaction (one tap), sans-IO.
pub struct Transaction<'a> {
    ctx: Context<'a>,
    state: Option<KernelState>,
    kernel: Option<KernelId>,
    /// What was read before the last command, so an error outcome can still show it.
    last_summary: Option<(CardSummary, [u8; 5])>,
    commands: usize,
    trace: Option<&'a mut dyn FnMut(TraceEvent)>,
}

impl<'a> Transaction<'a> {
    /// A transaction for `request`, with the terminal's configuration and its ODA engine.
    pub fn new(
        config: &'a TerminalConfig,
        oda: &'a dyn OfflineDataAuthenticator,
        request: TransactionRequest,
    ) -> Self {
        Self {
            ctx: Context {
                config,
                oda,
                request,
            },
            state: None,
            kernel: None,
            last_summary: None,
            commands: 0,
            trace: None,
        }
    }

    /// Sends every C-APDU and R-APDU (redacted, TLV decoded) to `hook`.
    pub fn with_trace(mut self, hook: &'a mut dyn FnMut(TraceEvent)) -> Self {
        self.trace = Some(hook);
        self
    }

    /// Pre-processing (Book B §3.1) and the first command, SELECT PPSE; or an outcome at once
    /// (Try Another Interface when no combination is allowed).
    pub fn start(&mut self) -> Step {
        let transition = select::start(&self.ctx);
        self.apply(Ok(transition))
    }

    /// Handles the card's response to the last command.
    pub fn handle(&mut self, response: Response) -> Step {
        self.emit(TraceEvent::response(&response));
        let Some(state) = self.state.take() else {
            return self.apply(Err(KernelError::Finished));
        };
        if response.data.len() > MAX_RESPONSE_DATA {
            let step = state.step_name();
            return self.apply(Err(KernelError::ResponseTooLong {
                step,
                length: response.data.len(),
            }));
        }
        let result = state.handle(&self.ctx, &response);
        self.apply(result)
    }

    /// The transport failed while exchanging the last command (card removed, timeout): ends
    /// the transaction with an outcome, never a panic.
    pub fn transport_failed(&mut self, error: crate::transport::TransportError) -> Step {
        let step = self.state.take().map_or("the exchange", |s| s.step_name());
        self.apply(Err(KernelError::Transport {
            step,
            source: error,
        }))
    }

    fn apply(&mut self, mut result: Result<Transition, KernelError>) -> Step {
        loop {
            match result {
                Ok(Transition::Send(command, next)) => {
                    self.commands += 1;
                    if self.commands > MAX_COMMANDS {
                        result = Err(KernelError::CardData("too many commands in one tap"));
                        continue;
                    }
                    if let Some(kernel) = next.kernel() {
                        self.kernel = Some(kernel);
                    }
                    if let Some(session) = next.session() {
                        self.last_summary = Some((session.summary.clone(), session.tvr));
                    }
                    tracing::debug!(state = next.step_name(), "kernel state");
                    self.emit(TraceEvent::command(next.step_name(), &command));
                    self.state = Some(next);
                    return Step::Transmit(command);
                }
                Ok(Transition::SelectNext(selection, reason)) => {
                    tracing::debug!(%reason, "select next");
                    self.emit(TraceEvent::Note(format!("select next: {reason}")));
                    result = Ok(select::next_candidate(&self.ctx, selection, reason));
                }
                Ok(Transition::Finish(outcome)) => {
                    self.state = None;
                    tracing::debug!(kind = ?outcome.kind, reason = %outcome.reason, "outcome");
                    self.emit(TraceEvent::Note(format!(
                        "outcome {:?}: {}",
                        outcome.kind, outcome.reason
                    )));
                    return Step::Done(outcome);
                }
                Err(error) => {
                    self.state = None;
                    let mut outcome = error_outcome(&error, self.kernel);
                    if let Some((card, tvr)) = self.last_summary.take() {
                        outcome.card = card;
                        outcome.tvr = tvr;
                    }
                    result = Ok(Transition::Finish(Box::new(outcome)));
                }
            }
        }
    }

    fn emit(&mut self, event: TraceEvent) {
        if let Some(hook) = self.trace.as_mut() {
            hook(event);
        }
    }
}

/// Runs a whole tap over `transport`: loops [`Transaction::start`]/[`Transaction::handle`]
/// with [`exchange`]. A transport failure mid-flow becomes an outcome (Try Again or End
/// Application with its reason). Errors are reserved for misuse and are not returned today.
pub fn run(
    transport: &mut dyn CardTransport,
    config: &TerminalConfig,
    oda: &dyn OfflineDataAuthenticator,
    request: TransactionRequest,
    trace: Option<&mut dyn FnMut(TraceEvent)>,
) -> Result<Outcome, KernelError> {
    let mut transaction = Transaction::new(config, oda, request);
    if let Some(hook) = trace {
        transaction = transaction.with_trace(hook);
    }
    let mut step = transaction.start();
    loop {
        match step {
            Step::Transmit(command) => {
                step = match exchange(transport, &command) {
                    Ok(response) => transaction.handle(response),
                    Err(error) => transaction.transport_failed(error),
                };
            }
            Step::Done(outcome) => return Ok(*outcome),
        }
    }
}

/// The outcome for an error: kind, message and restart from [`ErrorOutcome`], the reason from
/// the error's text.
fn error_outcome(error: &KernelError, kernel: Option<KernelId>) -> Outcome {
    let mapped = ErrorOutcome::from(error);
    tracing::debug!(%error, "kernel error");
    Outcome {
        kind: mapped.kind,
        reason: error.to_string(),
        cvm: Cvm::NotApplicable,
        kernel,
        ui_message: mapped.ui_message,
        restart: mapped.restart,
        tvr: [0; 5],
        card: CardSummary::default(),
        online: None,
        advice: None,
        oda: None,
    }
}

/// What every state may read: the configuration, the ODA engine and the request.
pub(crate) struct Context<'a> {
    pub(crate) config: &'a TerminalConfig,
    pub(crate) oda: &'a dyn OfflineDataAuthenticator,
    pub(crate) request: TransactionRequest,
}

impl Context<'_> {
    /// The configured combination of a candidate.
    pub(crate) fn aid_config(&self, index: usize) -> Result<&AidConfig, KernelError> {
        self.config
            .aids
            .get(index)
            .ok_or(KernelError::Config("candidate without configuration"))
    }

    /// Terminal-side data objects for DOLs and DE 55 (EMV Book 3 Annex A1). Card-side and
    /// per-transaction kernel data (`95`, `9F66`, `9F34`) come from the session.
    pub(crate) fn terminal_value(&self, tag: u32) -> Option<Vec<u8>> {
        let t = &self.config.terminal;
        let r = &self.request;
        Some(match tag {
            0x9F02 => config::amount_bcd(r.amount).to_vec(),
            0x9F03 => config::amount_bcd(r.amount_other).to_vec(),
            0x9F1A => config::bcd2(t.country_code).to_vec(),
            0x5F2A => config::bcd2(r.currency_code).to_vec(),
            0x5F36 => vec![t.currency_exponent],
            0x9A => r.date.to_vec(),
            0x9F21 => r.time.to_vec(),
            0x9C => vec![r.transaction_type],
            0x9F37 => r.unpredictable_number.to_vec(),
            0x9F35 => vec![t.terminal_type],
            0x9F33 => t.terminal_capabilities.0.to_vec(),
            0x9F40 => t.additional_terminal_capabilities.0.to_vec(),
            0x9F1E => t.ifd_serial_number.as_bytes().to_vec(),
            0x9F1C => t.terminal_id.as_bytes().to_vec(),
            0x9F15 => config::bcd2(t.merchant_category_code).to_vec(),
            0x9F4E => t.merchant_name_location.as_bytes().to_vec(),
            _ => return None,
        })
    }
}

/// What a state's `handle` leads to.
pub(crate) enum Transition {
    /// Send a command and wait in the next state.
    Send(Command, KernelState),
    /// Book B §3.5.1: drop this candidate and select the next one (Start C).
    SelectNext(select::Selection, String),
    /// The transaction is over.
    Finish(Box<Outcome>),
}

/// Every state of a tap. A state that was never reached cannot be used by accident.
pub(crate) enum KernelState {
    /// Waiting for the PPSE FCI.
    ExpectPpse(Box<select::ExpectPpse>),
    /// Waiting for the application FCI.
    ExpectSelectAid(Box<select::ExpectSelectAid>),
    /// Kernels 3/7: waiting for the GPO response.
    QuickGpo(Box<k3::ExpectGpo>),
    /// Kernels 3/7: waiting for a record.
    QuickRecord(Box<k3::ExpectRecord>),
    /// Kernel 2: waiting for the GPO response.
    MastercardGpo(Box<k2::ExpectGpo>),
    /// Kernel 2: waiting for a record.
    MastercardRecord(Box<k2::ExpectRecord>),
    /// Kernel 2: waiting for the GENERATE AC response.
    MastercardGenerateAc(Box<k2::ExpectGenerateAc>),
}

impl KernelState {
    fn handle(self, ctx: &Context<'_>, response: &Response) -> Result<Transition, KernelError> {
        match self {
            Self::ExpectPpse(s) => s.handle(ctx, response),
            Self::ExpectSelectAid(s) => s.handle(ctx, response),
            Self::QuickGpo(s) => s.handle(ctx, response),
            Self::QuickRecord(s) => s.handle(ctx, response),
            Self::MastercardGpo(s) => s.handle(ctx, response),
            Self::MastercardRecord(s) => s.handle(ctx, response),
            Self::MastercardGenerateAc(s) => s.handle(ctx, response),
        }
    }

    /// The command this state waits on, for traces and error reasons.
    fn step_name(&self) -> &'static str {
        match self {
            Self::ExpectPpse(_) => "SELECT PPSE",
            Self::ExpectSelectAid(_) => "SELECT AID",
            Self::QuickGpo(_) | Self::MastercardGpo(_) => "GET PROCESSING OPTIONS",
            Self::QuickRecord(_) | Self::MastercardRecord(_) => "READ RECORD",
            Self::MastercardGenerateAc(_) => "GENERATE AC",
        }
    }

    fn session(&self) -> Option<&card_data::Session> {
        match self {
            Self::ExpectPpse(_) | Self::ExpectSelectAid(_) => None,
            Self::QuickGpo(s) => Some(s.session()),
            Self::QuickRecord(s) => Some(s.session()),
            Self::MastercardGpo(s) => Some(s.session()),
            Self::MastercardRecord(s) => Some(s.session()),
            Self::MastercardGenerateAc(s) => Some(s.session()),
        }
    }

    fn kernel(&self) -> Option<KernelId> {
        match self {
            Self::ExpectPpse(_) | Self::ExpectSelectAid(_) => None,
            Self::QuickGpo(s) => Some(s.kernel()),
            Self::QuickRecord(s) => Some(s.kernel()),
            Self::MastercardGpo(_) | Self::MastercardRecord(_) | Self::MastercardGenerateAc(_) => {
                Some(KernelId::Mastercard)
            }
        }
    }
}

/// Short APDUs carry at most 256 data bytes (security requirements §F B2).
const MAX_RESPONSE_DATA: usize = 256;
/// A tap needs about a dozen commands; a card that keeps the terminal busy is cut off.
const MAX_COMMANDS: usize = 64;
