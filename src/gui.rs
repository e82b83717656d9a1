//! The merchant's GUI: the Slint main window (`ui/main.slint`, `MainWindow`) driven by the
//! engine service.
//!
//! Each screen has one global adapter in `ui/views/<screen>.slint` (properties and callbacks)
//! and one small controller here (`gui/<screen>.rs`). A controller owns no payment logic: its
//! callbacks send [`Command`]s to the engine's worker thread ([`EngineService`]) or cancel it,
//! and the engine's events come back on a forwarding thread, which turns each into a plain
//! update ([`route`]) and applies it on the UI thread through
//! [`slint::Weak::upgrade_in_event_loop`]. Nothing slow runs on the UI thread: card, PIN, TLS
//! and journal work all happen on the engine's thread. `docs/gui.md` describes the screens.

use std::path::PathBuf;
use std::sync::mpsc::Receiver;
use std::thread::JoinHandle;
use std::time::Duration;

use slint::ComponentHandle;

use crate::engine::{
    CardSource, Command, Engine, EngineService, Event, LinkStatus, Reply, ServiceEvent,
    ServiceHandle,
};
use crate::pinpad::PinEntry;

pub mod activation;
#[cfg(feature = "demo")]
mod card_drawer;
mod devices;
mod end_of_day;
mod history;
mod language;
mod merchant_code;
mod money;
mod pdf;
mod pin_wait;
mod preferences;
mod present_card;
mod receipt;
mod receipt_code;
mod refund;
mod request_to_pay;
mod result;
mod sale;
mod scan_code;
mod settings;
mod sound;
mod status;
mod timing;

pub use crate::pinpad::window::ui::{
    ActivateAdapter, ActivationStage, ActivationWindow, AppAdapter, AttestationShown,
    CardDrawerAdapter, EndOfDayAdapter, EndOfDayStage, HistoryAdapter, HistoryRow, MainWindow,
    MerchantCodeAdapter, PinWaitAdapter, PresentCardAdapter, ReaderRow, ReceiptAdapter,
    RefundAdapter, RefundStage, RequestToPayAdapter, ResultAdapter, ResultState, SaleAdapter,
    SaleStage, ScanCodeAdapter, ScanState, Screen, SettingsAdapter, StatusAdapter, TotalRow,
};
pub use language::{Language, current as current_language, select as select_language};
pub use money::{AmountEntry, Currency, MAX_DIGITS};
pub use preferences::{Preferences, PreferencesError};
pub use status::TerminalStatus;

/// What the GUI drives: the engine (moved to its worker thread), where cards come from, the
/// PIN entry, and what the screens show about the terminal.
pub struct GuiSetup {
    /// The engine, recovered and signed on (or not: the status bar says so).
    pub engine: Engine,
    /// Where cards come from.
    pub card: Box<dyn CardSource>,
    /// The PIN entry (the `softpos-pinpad` process).
    pub pin: Box<dyn PinEntry + Send>,
    /// The terminal's currency.
    pub currency: Currency,
    /// The status bar.
    pub status: TerminalStatus,
    /// The terminal's data directory: the GUI's settings and saved reports go there.
    pub data_dir: PathBuf,
    /// The testers' drawer of demo mode.
    #[cfg(feature = "demo")]
    pub drawer: Option<crate::demo::CardDrawer>,
}

/// The GUI attached to a window: the engine's thread and the thread that forwards its events.
pub struct Gui {
    handle: ServiceHandle,
    service: EngineService,
    forwarder: JoinHandle<()>,
    poller: devices::Poller,
}

impl Gui {
    /// Starts the engine's worker thread and binds every screen's controller to `window`.
    /// Call it on the UI thread.
    pub fn attach(window: &MainWindow, setup: GuiSetup) -> std::io::Result<Self> {
        let mut engine = setup.engine;
        let card_wait = engine.settings().card_wait;
        let host = engine.acquirer_mut().host().to_owned();
        let doors = sale::Doors {
            merchant_code: engine.merchant_code_available(),
            request_to_pay: engine.request_to_pay_available(),
        };
        let (handle, events, service) = EngineService::spawn(engine, setup.card, setup.pin)?;
        status::show(window, &setup.status);
        let scans = scan_code::bind(window, handle.clone());
        let sale = sale::bind(
            window,
            handle.clone(),
            setup.currency.clone(),
            doors,
            sale::PaymentScreens {
                scans: std::rc::Rc::clone(&scans),
                requests: request_to_pay::bind(window, handle.clone()),
            },
        );
        let amounts = std::rc::Rc::clone(&sale);
        present_card::bind(window, handle.clone());
        merchant_code::bind(window, handle.clone());
        pin_wait::bind(window, handle.clone());
        result::bind(window, sale);
        receipt::bind(window, &setup.data_dir);
        let receipt_key = receipt_code::ReceiptKey::of_data_dir(&setup.data_dir);
        history::bind(window, handle.clone());
        let settle = end_of_day::SettleCommand::default();
        end_of_day::bind(
            window,
            end_of_day::Context {
                handle: handle.clone(),
                settle: settle.clone(),
                reports: setup.data_dir.join("reports"),
            },
        );
        let prefs = settings::bind(
            window,
            settings::Context {
                data_dir: setup.data_dir.clone(),
                host,
                terminal_id: setup.status.terminal_id.clone(),
                development: setup.status.development,
                reformat: Box::new(move || amounts.refresh()),
            },
        );
        scans.follow(std::rc::Rc::clone(&prefs));
        let camera = prefs.borrow().camera.clone();
        let sounds = sound::Sounds::start(prefs.borrow().sounds);
        let sounds_on = std::sync::Arc::clone(&sounds.enabled);
        settings::on_sounds(window, move |on| {
            sounds_on.store(on, std::sync::atomic::Ordering::Relaxed);
        });
        let weak = window.as_weak();
        let poller = devices::Poller::spawn(handle.clone(), move |found| {
            let chosen = camera.clone();
            weak.upgrade_in_event_loop(move |w| {
                settings::show_devices(&w, found, chosen.as_deref());
            })
            .is_ok()
        })?;
        refund::bind(window, handle.clone(), setup.currency.clone());
        #[cfg(feature = "demo")]
        card_drawer::bind(window, setup.drawer);
        window.global::<AppAdapter>().set_screen(Screen::Sale);
        let weak = window.as_weak();
        let currency = setup.currency;
        let status_handle = handle.clone();
        let forwarder = std::thread::Builder::new()
            .name("gui-events".into())
            .spawn(move || {
                let mut forwarder = Forwarder {
                    window: weak,
                    currency,
                    card_wait,
                    handle: status_handle,
                    settle,
                    settled: None,
                    receipt_key,
                    sounds,
                };
                forwarder.run(&events);
            })?;
        Ok(Self {
            handle,
            service,
            forwarder,
            poller,
        })
    }

    /// The engine service's handle (what the controllers send commands to).
    pub fn handle(&self) -> &ServiceHandle {
        &self.handle
    }

    /// Stops the engine after the command it runs (if any) and waits for its threads.
    pub fn shutdown(self) {
        self.poller.stop();
        self.handle.cancel();
        self.handle.shutdown();
        self.service.join();
        if self.forwarder.join().is_err() {
            tracing::error!("the GUI's event thread panicked");
        }
    }
}

/// Opens the main window on `setup`, runs it until it is closed, then stops the engine.
///
/// With `SOFTPOS_GUI_TIMING` set it prints figures on stderr: the first frame's time after
/// the process started, the idle memory, frame times, and card read to result.
pub fn run(setup: GuiSetup) -> Result<(), GuiError> {
    let window = MainWindow::new().map_err(GuiError::Window)?;
    if timing::wanted() {
        timing::start(&window, timing::process_start());
    }
    let gui = Gui::attach(&window, setup).map_err(GuiError::Thread)?;
    let shown = window.run().map_err(GuiError::Window);
    gui.shutdown();
    timing::report();
    shown
}

/// Why the GUI could not run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GuiError {
    /// The window could not be opened or run.
    #[error("the window could not be opened")]
    Window(#[source] slint::PlatformError),
    /// A thread could not be started.
    #[error("the engine's thread could not be started")]
    Thread(#[source] std::io::Error),
}

/// What one engine event changes on screen (built on the forwarding thread, applied on the UI
/// thread).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Update {
    /// The present-card screen, or a change on it.
    PresentCard(present_card::Show),
    /// The merchant's code, or its next token.
    MerchantCode(merchant_code::Show),
    /// The request to pay went out; waiting for the customer.
    RequestSent(request_to_pay::Show),
    /// The customer is entering the PIN.
    Pin,
    /// Authorising (or another step without a card: sending pending messages, reversing).
    Working(String),
    /// The command ended: its result, and the receipt when there is one.
    Finished(result::Show, Option<receipt::Show>),
    /// Today's transactions.
    History(history::Show),
    /// The receipt of a past transaction, opened from the history.
    PastReceipt(receipt::Show),
    /// What the receipt opened from the history offers: refund, void.
    Actions(refund::Offer),
    /// The host's reachability and the offline queue, for the status bar.
    Status(LinkStatus),
    /// The batch was settled: its totals and the host's answer.
    Settled(end_of_day::Show),
    /// The settlement failed, and why.
    SettleFailed(String),
}

/// What `event` changes on screen, for a terminal in `currency` that waits `card_wait` for a
/// card. `None`: nothing.
pub(crate) fn route(
    event: ServiceEvent,
    currency: &Currency,
    card_wait: Duration,
) -> Option<Update> {
    match event {
        ServiceEvent::Progress { event, ui, .. } => {
            if let Some(show) = present_card::for_event(&event, ui.as_ref(), currency, card_wait) {
                return Some(Update::PresentCard(show));
            }
            if let Some(show) = merchant_code::for_event(&event, currency) {
                return Some(Update::MerchantCode(show));
            }
            if let Some(show) = request_to_pay::for_event(&event) {
                return Some(Update::RequestSent(show));
            }
            match event {
                Event::EnterPin => Some(Update::Pin),
                Event::Authorising | Event::SendingPending { .. } | Event::Reversing => {
                    let message = ui.map_or("Processing", |u| u.message.text());
                    Some(Update::Working(message.to_owned()))
                }
                _ => None,
            }
        }
        ServiceEvent::Finished { reply, .. } => match reply {
            Ok(Reply::History(records)) => Some(Update::History(history::Show::of(
                &records,
                currency,
                &history::today(),
            ))),
            Ok(Reply::Receipt(Some(receipt))) => {
                Some(Update::PastReceipt(receipt::Show::of(&receipt)))
            }
            Ok(Reply::Status(link)) => Some(Update::Status(link)),
            Ok(Reply::Actions(actions)) => {
                Some(Update::Actions(refund::Offer::of(actions, currency)))
            }
            reply => {
                let (show, receipt) = result::for_reply(&reply, currency)?;
                Some(Update::Finished(show, receipt))
            }
        },
    }
}

impl Update {
    /// Signs the QR code of the receipt the update shows, if any (off the UI thread).
    fn sign_receipts(&mut self, key: &receipt_code::ReceiptKey) {
        match self {
            Self::Finished(_, Some(receipt)) | Self::PastReceipt(receipt) => receipt.sign(key),
            _ => {}
        }
    }

    /// The tone the update sounds: the card read (all four indicators lit), an approval.
    fn tone(&self) -> Option<sound::Tone> {
        match self {
            Self::PresentCard(show) if show.lit == 4 && !show.error => Some(sound::Tone::CardRead),
            Self::Finished(show, _) if show.outcome == result::Outcome::Approved => {
                Some(sound::Tone::Approved)
            }
            _ => None,
        }
    }

    /// Shows the update in `window` (UI thread).
    pub(crate) fn apply(self, window: &MainWindow) {
        let app = window.global::<AppAdapter>();
        match self {
            Self::PresentCard(show) => {
                if show.lit == 4 {
                    timing::card_read();
                }
                present_card::apply(window, show);
                app.set_screen(Screen::PresentCard);
            }
            Self::MerchantCode(show) => merchant_code::apply(window, show),
            Self::RequestSent(show) => request_to_pay::apply(window, show),
            Self::Pin => app.set_screen(Screen::Pin),
            Self::Working(message) => {
                result::working(window, &message);
                app.set_screen(Screen::Result);
            }
            Self::Finished(show, receipt) => {
                receipt::apply(window, receipt);
                result::apply(window, show);
                timing::result_shown();
                app.set_receipt_return(Screen::Result);
                app.set_screen(Screen::Result);
            }
            Self::History(show) => history::apply(window, show),
            Self::PastReceipt(receipt) => {
                receipt::apply(window, Some(receipt));
                app.set_receipt_return(Screen::History);
                app.set_screen(Screen::Receipt);
            }
            Self::Actions(offer) => refund::offer(window, offer),
            Self::Status(link) => status::refresh(window, link),
            Self::Settled(show) => end_of_day::apply(window, show),
            Self::SettleFailed(reason) => end_of_day::failed(window, &reason),
        }
    }
}

/// The forwarding thread: every engine event becomes an [`Update`] applied on the UI thread,
/// and after every command that may have talked to the host or changed the offline queue it
/// asks the engine for the status bar's [`Command::Status`]. A settlement's report is
/// completed with the journal rows it closed (a [`Command::History`] sent on its answer) before
/// it shows. Ends when the engine's thread ends.
struct Forwarder {
    window: slint::Weak<MainWindow>,
    currency: Currency,
    card_wait: Duration,
    handle: ServiceHandle,
    settle: end_of_day::SettleCommand,
    /// A settlement answered, waiting for its journal rows.
    settled: Option<crate::engine::SettlementReport>,
    /// Signs the receipts' QR codes (none: receipts have no QR code).
    receipt_key: Option<receipt_code::ReceiptKey>,
    /// The card-read and approval tones.
    sounds: sound::Sounds,
}

impl Forwarder {
    fn run(&mut self, events: &Receiver<ServiceEvent>) {
        while let Ok(event) = events.recv() {
            if changes_status(&event) {
                // Queued behind nothing slow: the engine answers it from memory and the journal.
                let _ = self.handle.send(Command::Status);
            }
            let Some(mut update) = self.update(event) else {
                continue;
            };
            if let Some(key) = &self.receipt_key {
                update.sign_receipts(key);
            }
            if let Some(tone) = update.tone() {
                self.sounds.play(tone);
            }
            // The window is gone (closed) or the event loop has stopped: nothing left to show.
            if self
                .window
                .upgrade_in_event_loop(move |w| update.apply(&w))
                .is_err()
            {
                return;
            }
        }
    }

    fn update(&mut self, event: ServiceEvent) -> Option<Update> {
        match event {
            ServiceEvent::Finished { command, reply } if self.settle.is(command) => match reply {
                Ok(Reply::Settled(report)) => {
                    // The batch's rows are the newest: nothing ran since.
                    let limit = report.transactions.len().saturating_mul(2) + SETTLED_SLACK;
                    self.settled = Some(report);
                    if self.handle.send(Command::History { limit }).is_err() {
                        return self.settled.take().map(|r| {
                            Update::Settled(end_of_day::Show::of(&r, &[], &self.currency))
                        });
                    }
                    None
                }
                Ok(_) => None,
                Err(e) => Some(Update::SettleFailed(end_of_day::failure(&e))),
            },
            ServiceEvent::Finished {
                reply: Ok(Reply::History(records)),
                ..
            } if self.settled.is_some() => {
                let report = self.settled.take()?;
                Some(Update::Settled(end_of_day::Show::of(
                    &report,
                    &records,
                    &self.currency,
                )))
            }
            event => route(event, &self.currency, self.card_wait),
        }
    }
}

/// Rows asked for beyond a settled batch's own, in case a few were journalled meanwhile.
const SETTLED_SLACK: usize = 64;

/// Whether `event` ends a command after which the host's reachability or the offline queue may
/// differ (everything but the read-only history, receipt and status).
fn changes_status(event: &ServiceEvent) -> bool {
    match event {
        ServiceEvent::Finished { reply, .. } => !matches!(
            reply,
            Ok(Reply::History(_) | Reply::Receipt(_) | Reply::Status(_) | Reply::Actions(_))
        ),
        _ => false,
    }
}

/// Sends `command` to the engine; `false` when the engine has stopped.
fn send(handle: &ServiceHandle, command: Command) -> bool {
    handle.send(command).is_ok()
}
