//! The engine on a worker thread, driven by commands: what a screen (or the command line) uses
//! so that its own thread never blocks on a card, a PIN or the host.
//!
//! [`EngineService::spawn`] moves the [`Engine`], the card source and the PIN entry onto a
//! thread and returns a [`ServiceHandle`] (cloneable, `Send`) and a receiver of
//! [`ServiceEvent`]s. Every command gets an id; its progress arrives as
//! [`ServiceEvent::Progress`] (each with the Book A user-interface request to show), then
//! exactly one [`ServiceEvent::Finished`]. Commands run one after the other, in the order
//! sent. [`ServiceHandle::cancel`] does not queue behind the running command: it acts at once,
//! through the operations' [`Cancel`] handles, on the running command and on every command
//! still queued (a queued card operation then ends aborted as soon as it starts; settlement,
//! recovery and receipts are not cancellable).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;

use emv::kernel::UiRequest;

use crate::attestation::AttestationState;
use crate::journal::TxRecord;
use crate::pinpad::PinEntry;

use super::receipt::Receipt;
use super::{
    Cancel, CardSource, Engine, EngineError, Event, RecoveryReport, SettlementReport, Tip, TxResult,
};

/// What the service is asked to do.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Command {
    /// A sale of `amount` minor units plus `tip`.
    Sale {
        /// Minor units.
        amount: u64,
        /// The tip.
        tip: Tip,
    },
    /// A refund, standalone or of an approved sale.
    Refund {
        /// Minor units.
        amount: u64,
        /// The sale refunded, if any.
        original_id: Option<i64>,
    },
    /// A sale paid with the merchant's code: shown until the customer's wallet pays it
    /// ([`Event::ShowMerchantCode`]), it expires or the operator cancels.
    MerchantCode {
        /// Minor units.
        amount: u64,
    },
    /// A sale paid by a request to the customer's phone ([`Event::RequestSent`]), confirmed
    /// there or refused, until it expires or the operator cancels.
    RequestToPay {
        /// The customer's phone number or wallet ID.
        alias: String,
        /// Minor units.
        amount: u64,
    },
    /// A sale paid with the code the customer's phone shows, as the camera scanned it.
    CustomerCode {
        /// The scanned text.
        text: String,
        /// Minor units.
        amount: u64,
    },
    /// A void of the last voidable transaction.
    VoidLast,
    /// A void of transaction `id`, which must be the last voidable one (the one
    /// [`Command::VoidLast`] would void); otherwise [`EngineError::NothingToVoid`], nothing sent.
    Void {
        /// Its journal id.
        id: i64,
    },
    /// What can be done with the past transaction `id` ([`Reply::Actions`]): how much of it can
    /// still be refunded, and whether it can be voided. Nothing is sent to the host.
    Actions {
        /// Its journal id.
        id: i64,
    },
    /// A pre-authorisation.
    Preauth {
        /// Minor units.
        amount: u64,
    },
    /// The completion of a pre-authorisation.
    Complete {
        /// The pre-authorisation's journal id.
        preauth_id: i64,
        /// The final amount.
        amount: u64,
    },
    /// A zero-amount card check.
    CardCheck,
    /// Settlement (closes the batch).
    Settle,
    /// Recovery of what a crash left (run once at start, before anything else).
    Recover,
    /// The receipt of a past transaction.
    Receipt {
        /// Its journal id.
        id: i64,
    },
    /// The journal's most recent transactions, newest first (masked PANs only).
    History {
        /// At most this many.
        limit: usize,
    },
    /// What a status bar shows: whether the host answered the last exchange, and the offline
    /// queue. Nothing is sent to the host.
    Status,
}

/// What a command ended with.
#[derive(Debug)]
#[non_exhaustive]
pub enum Reply {
    /// A card operation, void or completion ended (approved, declined, reversed or aborted:
    /// see [`TxResult::status`]); the receipt is built from the journal.
    Transaction {
        /// The result.
        result: TxResult,
        /// What the receipt prints.
        receipt: Option<Box<Receipt>>,
    },
    /// The batch was settled.
    Settled(SettlementReport),
    /// Recovery ran.
    Recovered(RecoveryReport),
    /// The receipt of a past transaction (`None`: no such transaction).
    Receipt(Option<Box<Receipt>>),
    /// The most recent transactions, newest first.
    History(Vec<TxRecord>),
    /// The link and queue status ([`Command::Status`]).
    Status(LinkStatus),
    /// What can be done with a past transaction ([`Command::Actions`]).
    Actions(TxActions),
}

/// What can be done with a past transaction, as the engine would allow it now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct TxActions {
    /// Its journal id.
    pub id: i64,
    /// What can still be refunded against it (minor units); `None`: it is not a refundable
    /// sale (not an approved, finished, unvoided sale).
    pub refundable: Option<u64>,
    /// Whether it is the last voidable transaction (approved, not voided, in the open batch).
    pub voidable: bool,
}

/// What the terminal knows of its host, its offline queue and its attestation, without asking
/// the host.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct LinkStatus {
    /// Whether the host answered the last exchange (sign-on, echo or request); `None` before
    /// the first.
    pub host_answered: Option<bool>,
    /// Offline approvals queued for upload (advices).
    pub offline_queue: u64,
    /// Where a terminal enrolled by activation stands with its host's monitoring service;
    /// `None` for one its host does not attest.
    pub attestation: Option<AttestationState>,
}

/// What the service tells its user interface.
#[derive(Debug)]
#[non_exhaustive]
// A handful per command, moved through a channel: boxing the reply would buy nothing.
#[allow(clippy::large_enum_variant)]
pub enum ServiceEvent {
    /// Progress of command `command`.
    Progress {
        /// The command's id ([`ServiceHandle::send`]).
        command: u64,
        /// What happened.
        event: Event,
        /// What the screen shows for it (Book A user-interface request).
        ui: Option<UiRequest>,
    },
    /// Command `command` ended: sent exactly once per command.
    Finished {
        /// The command's id.
        command: u64,
        /// Its result.
        reply: Result<Reply, EngineError>,
    },
}

/// The service has stopped (shut down, or its thread ended).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the engine service has stopped")]
pub struct ServiceStopped;

enum Request {
    Run {
        id: u64,
        command: Command,
        cancel: Cancel,
    },
    Shutdown,
}

/// The cancel handles of the commands sent and not finished yet.
type Unfinished = Arc<Mutex<Vec<(u64, Cancel)>>>;

/// Sends commands to the service; cloneable and `Send`, for the screen and any other thread.
#[derive(Clone)]
pub struct ServiceHandle {
    requests: Sender<Request>,
    next_id: Arc<AtomicU64>,
    unfinished: Unfinished,
}

impl ServiceHandle {
    /// Queues `command`; returns its id (the id of its events).
    pub fn send(&self, command: Command) -> Result<u64, ServiceStopped> {
        let id = self.next_id.fetch_add(1, Ordering::SeqCst);
        let cancel = Cancel::new();
        let mut unfinished = self
            .unfinished
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        self.requests
            .send(Request::Run {
                id,
                command,
                cancel: cancel.clone(),
            })
            .map_err(|_| ServiceStopped)?;
        unfinished.push((id, cancel));
        Ok(id)
    }

    /// Cancels, at once, the running command and every command still queued (see
    /// `docs/engine.md`, "Cancel": before the request is written an operation ends aborted,
    /// nothing charged; after, the engine stops waiting and reverses).
    pub fn cancel(&self) {
        let unfinished = self
            .unfinished
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        for (_, cancel) in unfinished.iter() {
            cancel.cancel();
        }
    }

    /// Cancels command `id` only (if it has not finished).
    pub fn cancel_command(&self, id: u64) {
        let unfinished = self
            .unfinished
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        for (_, cancel) in unfinished.iter().filter(|(c, _)| *c == id) {
            cancel.cancel();
        }
    }

    /// Asks the service to stop after the commands already queued.
    pub fn shutdown(&self) {
        let _ = self.requests.send(Request::Shutdown);
    }
}

impl std::fmt::Debug for ServiceHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceHandle").finish_non_exhaustive()
    }
}

/// The engine's worker thread.
pub struct EngineService {
    thread: JoinHandle<()>,
}

impl EngineService {
    /// Starts the worker thread that owns `engine`, `card` and `pin` (fails only if the OS
    /// refuses a thread).
    pub fn spawn(
        engine: Engine,
        card: Box<dyn CardSource>,
        pin: Box<dyn PinEntry + Send>,
    ) -> std::io::Result<(ServiceHandle, Receiver<ServiceEvent>, Self)> {
        let (requests, inbox) = mpsc::channel();
        let (events, outbox) = mpsc::channel();
        let unfinished = Unfinished::default();
        let thread = std::thread::Builder::new()
            .name("softpos-engine".into())
            .spawn({
                let unfinished = unfinished.clone();
                move || {
                    Worker {
                        engine,
                        card,
                        pin,
                        events,
                        unfinished,
                    }
                    .run(&inbox);
                }
            })?;
        let handle = ServiceHandle {
            requests,
            next_id: Arc::new(AtomicU64::new(1)),
            unfinished,
        };
        Ok((handle, outbox, Self { thread }))
    }

    /// Waits for the worker thread to end (after [`ServiceHandle::shutdown`], or once every
    /// handle is dropped).
    pub fn join(self) {
        if self.thread.join().is_err() {
            tracing::error!("the engine thread panicked");
        }
    }
}

struct Worker {
    engine: Engine,
    card: Box<dyn CardSource>,
    pin: Box<dyn PinEntry + Send>,
    events: Sender<ServiceEvent>,
    unfinished: Unfinished,
}

impl Worker {
    fn run(mut self, inbox: &Receiver<Request>) {
        while let Ok(Request::Run {
            id,
            command,
            cancel,
        }) = inbox.recv()
        {
            self.engine.set_cancel(cancel);
            let reply = self.execute(id, command);
            self.engine.set_cancel(Cancel::new());
            self.unfinished
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .retain(|(c, _)| *c != id);
            if self
                .events
                .send(ServiceEvent::Finished { command: id, reply })
                .is_err()
            {
                // Nobody listens any more: stop.
                return;
            }
        }
    }

    fn execute(&mut self, id: u64, command: Command) -> Result<Reply, EngineError> {
        let events = self.events.clone();
        let currency = self.engine.terminal.terminal.currency_code;
        let mut progress = move |event: Event| {
            let ui = event.ui_request(currency);
            let _ = events.send(ServiceEvent::Progress {
                command: id,
                event,
                ui,
            });
        };
        let engine = &mut self.engine;
        let card = self.card.as_mut();
        let pin = self.pin.as_mut();
        let result = match command {
            Command::Sale { amount, tip } => engine.sale(card, pin, amount, tip, &mut progress),
            Command::Refund {
                amount,
                original_id,
            } => engine.refund(card, pin, amount, original_id, &mut progress),
            Command::MerchantCode { amount } => engine.pay_merchant_code(amount, &mut progress),
            Command::RequestToPay { alias, amount } => {
                engine.request_to_pay(&alias, amount, &mut progress)
            }
            Command::CustomerCode { text, amount } => {
                engine.pay_code(&text, amount, None, &mut progress)
            }
            Command::VoidLast => engine.void_last(&mut progress),
            Command::Void { id: tx } => {
                if engine.journal().last_voidable()?.map(|r| r.id) != Some(tx) {
                    return Err(EngineError::NothingToVoid);
                }
                engine.void_last(&mut progress)
            }
            Command::Preauth { amount } => engine.preauth(card, pin, amount, &mut progress),
            Command::Complete { preauth_id, amount } => {
                engine.complete(preauth_id, amount, &mut progress)
            }
            Command::CardCheck => engine.card_check(card, pin, &mut progress),
            Command::Settle => return engine.settle().map(Reply::Settled),
            Command::Recover => return engine.recover().map(Reply::Recovered),
            Command::Receipt { id } => {
                return Ok(Reply::Receipt(engine.receipt(id)?.map(Box::new)));
            }
            Command::History { limit } => {
                return Ok(Reply::History(engine.journal().recent(limit)?));
            }
            Command::Actions { id: tx } => {
                return Ok(Reply::Actions(TxActions {
                    id: tx,
                    refundable: engine.refundable(tx)?,
                    voidable: engine.journal().last_voidable()?.map(|r| r.id) == Some(tx),
                }));
            }
            Command::Status => {
                return Ok(Reply::Status(LinkStatus {
                    host_answered: engine.acquirer_mut().host_answered(),
                    offline_queue: engine.journal().advice_queue()?.0,
                    attestation: engine.attestation_state().cloned(),
                }));
            }
        }?;
        let receipt = engine.receipt(result.id)?.map(Box::new);
        Ok(Reply::Transaction { result, receipt })
    }
}
