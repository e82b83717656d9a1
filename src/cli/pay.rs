//! The engine's commands: `pay`, `refund`, `preauth`, `complete`, `void`, `settle`, and the
//! `demo` sale against an embedded acquirer host. They all drive [`crate::engine::Engine`],
//! the same engine the GUI uses.
//!
//! Exit codes (`docs/engine.md`): 0 approved; 3 declined; 7 no answer from the host, reversed
//! (nothing charged); 8 stopped before anything was sent (card, PIN or host unreachable);
//! 2 an error stopped the command.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use super::CardArgs;
use super::session::Session;
use crate::acquirer::TerminalCredentials;
use crate::engine::{
    Command, Engine, EngineService, EngineSettings, Event, Reply, ServiceEvent, Tip, TxResult,
    TxStatus,
};
use crate::pinpad::{EncryptedPin, PinEntry, PinEntryError, PinRequest};
use anyhow::Context as _;
use clap::Args;
use emv::config::TerminalConfig;

/// Where the terminal keeps its journal and enrolment.
#[derive(Debug, Clone, Args)]
pub(crate) struct DataArgs {
    /// The terminal's data directory (journal, device key, `enrolment/` bundle written by
    /// `hsm-sim enroll --out DIR/enrolment`). Default: `$SOFTPOS_DATA_DIR`, else
    /// `$XDG_DATA_HOME/softpos`, else `~/.local/share/softpos`.
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Seconds to wait for the host's answer before reversing.
    #[arg(long, default_value_t = 30)]
    host_timeout: u64,
}

#[cfg(feature = "gui")]
impl DataArgs {
    /// The default data directory and host timeout (what a command without options uses).
    pub(crate) fn defaults() -> Self {
        Self {
            data_dir: None,
            host_timeout: 30,
        }
    }
}

/// Arguments of `softpos pay`.
#[derive(Debug, Args)]
pub(crate) struct PayArgs {
    /// The amount, in the currency's major unit: `12.34`.
    #[arg(long)]
    amount: String,
    /// A tip: a percentage (`10%`) or an amount (`1.50`).
    #[arg(long)]
    tip: Option<String>,
    #[command(flatten)]
    data: DataArgs,
    #[command(flatten)]
    card: CardArgs,
}

/// Arguments of `softpos refund`.
#[derive(Debug, Args)]
pub(crate) struct RefundArgs {
    /// The amount to refund.
    #[arg(long)]
    amount: String,
    /// The journal id of the sale being refunded (standalone refund without it).
    #[arg(long)]
    of: Option<i64>,
    #[command(flatten)]
    data: DataArgs,
    #[command(flatten)]
    card: CardArgs,
}

/// Arguments of `softpos preauth`.
#[derive(Debug, Args)]
pub(crate) struct PreauthArgs {
    /// The amount to hold.
    #[arg(long)]
    amount: String,
    #[command(flatten)]
    data: DataArgs,
    #[command(flatten)]
    card: CardArgs,
}

/// Arguments of `softpos card-check`.
#[derive(Debug, Clone, Args)]
pub(crate) struct CardCheckArgs {
    #[command(flatten)]
    data: DataArgs,
    #[command(flatten)]
    card: CardArgs,
}

/// Arguments of `softpos complete`.
#[derive(Debug, Args)]
pub(crate) struct CompleteArgs {
    /// The journal id of the pre-authorization.
    #[arg(long)]
    id: i64,
    /// The final amount.
    #[arg(long)]
    amount: String,
    #[command(flatten)]
    data: DataArgs,
}

/// Arguments of `softpos void`, `settle`, `status`.
#[derive(Debug, Args)]
pub(crate) struct EngineOnlyArgs {
    #[command(flatten)]
    pub(crate) data: DataArgs,
}

pub(super) fn pay(args: PayArgs) -> anyhow::Result<ExitCode> {
    let (engine, config) = open_engine(&args.data, args.card.config.as_deref())?;
    let exponent = config.terminal.currency_exponent;
    let amount = super::tap::parse_amount(&args.amount, exponent)?;
    let tip = parse_tip(args.tip.as_deref(), exponent)?;
    let session = Session::open(&args.card)?;
    let result = through_service(engine, session, Command::Sale { amount, tip })?;
    Ok(report(&result, exponent))
}

/// Runs one card operation on the engine's worker thread (the path the GUI takes), printing
/// its progress.
fn through_service(engine: Engine, session: Session, command: Command) -> anyhow::Result<TxResult> {
    let (handle, events, service) = EngineService::spawn(engine, Box::new(session), pin_entry())
        .context("starting the engine thread")?;
    let id = handle.send(command)?;
    let reply = loop {
        match events.recv().context("the engine thread stopped")? {
            ServiceEvent::Progress { event, .. } => print_event(event),
            ServiceEvent::Finished { command, reply } if command == id => break reply,
            _ => {}
        }
    };
    handle.shutdown();
    service.join();
    match reply? {
        Reply::Transaction { result, .. } => Ok(result),
        other => anyhow::bail!("unexpected reply from the engine: {other:?}"),
    }
}

pub(super) fn refund(args: RefundArgs) -> anyhow::Result<ExitCode> {
    let (mut engine, config) = open_engine(&args.data, args.card.config.as_deref())?;
    let exponent = config.terminal.currency_exponent;
    let amount = super::tap::parse_amount(&args.amount, exponent)?;
    let mut session = Session::open(&args.card)?;
    let mut pin = pin_entry();
    let result = engine.refund(
        &mut session,
        pin.as_mut(),
        amount,
        args.of,
        &mut print_event,
    )?;
    Ok(report(&result, exponent))
}

pub(super) fn preauth(args: PreauthArgs) -> anyhow::Result<ExitCode> {
    let (mut engine, config) = open_engine(&args.data, args.card.config.as_deref())?;
    let exponent = config.terminal.currency_exponent;
    let amount = super::tap::parse_amount(&args.amount, exponent)?;
    let mut session = Session::open(&args.card)?;
    let mut pin = pin_entry();
    let result = engine.preauth(&mut session, pin.as_mut(), amount, &mut print_event)?;
    Ok(report(&result, exponent))
}

pub(super) fn card_check(args: CardCheckArgs) -> anyhow::Result<ExitCode> {
    let (mut engine, config) = open_engine(&args.data, args.card.config.as_deref())?;
    let mut session = Session::open(&args.card)?;
    let mut pin = pin_entry();
    let result = engine.card_check(&mut session, pin.as_mut(), &mut print_event)?;
    Ok(report(&result, config.terminal.currency_exponent))
}

pub(super) fn complete(args: CompleteArgs) -> anyhow::Result<ExitCode> {
    let (mut engine, config) = open_engine(&args.data, None)?;
    let exponent = config.terminal.currency_exponent;
    let amount = super::tap::parse_amount(&args.amount, exponent)?;
    let result = engine.complete(args.id, amount, &mut print_event)?;
    Ok(report(&result, exponent))
}

pub(super) fn void(args: EngineOnlyArgs) -> anyhow::Result<ExitCode> {
    let (mut engine, config) = open_engine(&args.data, None)?;
    let result = engine.void_last(&mut print_event)?;
    Ok(report(&result, config.terminal.currency_exponent))
}

pub(super) fn settle(args: EngineOnlyArgs) -> anyhow::Result<ExitCode> {
    let (mut engine, config) = open_engine(&args.data, None)?;
    let e = config.terminal.currency_exponent;
    let report = engine.settle()?;
    let t = report.totals;
    println!("Batch {:06}", report.batch);
    if !report.pushed.is_empty() {
        let ids: Vec<String> = report.pushed.iter().map(i64::to_string).collect();
        println!(
            "Sent to the host first (pending reversals and advices): {}",
            ids.join(", ")
        );
    }
    println!("Transactions in the batch: {}", report.transactions.len());
    println!(
        "Debits:  {} for {}",
        t.debits,
        super::history::format_amount(t.debits_amount, e)
    );
    println!(
        "Debit reversals:  {} for {}",
        t.debit_reversals,
        super::history::format_amount(t.debit_reversals_amount, e)
    );
    println!(
        "Credits: {} for {}",
        t.credits,
        super::history::format_amount(t.credits_amount, e)
    );
    println!(
        "Credit reversals: {} for {}",
        t.credit_reversals,
        super::history::format_amount(t.credit_reversals_amount, e)
    );
    if report.in_balance {
        println!("Host: in balance; batch closed");
        Ok(ExitCode::SUCCESS)
    } else {
        println!(
            "Host: OUT OF BALANCE (response {}); batch closed, check the host's report",
            report.response_code
        );
        if let Some(h) = report.host_totals {
            println!(
                "Host totals: debits {} for {}, debit reversals {} for {}, credits {} for {}, \
                 credit reversals {} for {}",
                h.debits,
                super::history::format_amount(h.debits_amount, e),
                h.debit_reversals,
                super::history::format_amount(h.debit_reversals_amount, e),
                h.credits,
                super::history::format_amount(h.credits_amount, e),
                h.credit_reversals,
                super::history::format_amount(h.credit_reversals_amount, e),
            );
        }
        Ok(ExitCode::from(EXIT_DECLINED))
    }
}

/// `softpos demo`: the embedded acquirer host on loopback, the demo terminal enrolled with it
/// and its PIN pad keyed (once, then reused: [`crate::demo::DemoData`]), and a sale on a
/// virtual card (through vpcd when pcscd runs, in process otherwise).
#[cfg(feature = "demo")]
pub(super) fn demo(profile: String, amount: String) -> anyhow::Result<ExitCode> {
    let (demo, mut engine, config) = open_demo()?;
    println!(
        "Acquirer host (embedded hsm-sim): {}",
        demo.host.local_addr()
    );
    let exponent = config.terminal.currency_exponent;
    let value = super::tap::parse_amount(&amount, exponent)?;
    engine.sign_on().context("sign-on with the demo host")?;
    println!("Terminal {} signed on", crate::demo::DEMO_TERMINAL);
    let card = CardArgs {
        reader: None,
        demo: true,
        profile,
        config: None,
        wait: 10,
    };
    let mut session = Session::open(&card)?;
    println!("Card: {}", session.describe());
    let mut pin = crate::pinpad::PinPadProcess::new(demo.pin_pad.clone());
    let result = engine.sale(&mut session, &mut pin, value, Tip::None, &mut print_event)?;
    drop(session);
    let code = report(&result, exponent);
    drop(engine);
    demo.host.shutdown();
    Ok(code)
}

/// Opens the demo data ([`crate::demo::open_data`], in [`crate::demo::default_data_dir`]) with
/// the PIN pad next to this executable, says what it set up, and opens the demo terminal's
/// engine (finishing what an interruption left).
#[cfg(feature = "demo")]
pub(crate) fn open_demo() -> anyhow::Result<(crate::demo::DemoData, Engine, TerminalConfig)> {
    use crate::demo::SetUp;
    let dir = crate::demo::default_data_dir()
        .context("no demo data directory: set XDG_STATE_HOME or HOME")?;
    let demo = crate::demo::open_data(&dir, &demo_pin_pad_program()?)?;
    match demo.set_up {
        SetUp::EnrolledAndInstalled => println!(
            "Demo data created in {}: terminal {} enrolled, PIN pad key installed in the demo pad store",
            dir.display(),
            crate::demo::DEMO_TERMINAL
        ),
        SetUp::Installed => println!(
            "Demo data in {}: PIN pad key installed in the demo pad store",
            dir.display()
        ),
        _ => println!(
            "Demo data in {}: reusing the enrolment and the PIN pad key",
            dir.display()
        ),
    }
    let config = crate::config::load(None)?;
    let oda = crate::tap::authenticator(&config)?;
    let mut engine = Engine::open(
        &demo.terminal_dir,
        &demo.credentials,
        config.clone(),
        oda,
        EngineSettings::default(),
    )?;
    engine
        .recover()
        .context("finishing what an interrupted demo left")?;
    engine.set_wallet_ca(Some(demo.wallet_ca));
    Ok((demo, engine, config))
}

/// The demo's PIN pad program: `softpos-pinpad` next to this executable. A test build
/// (`pinpad-test-input`) runs `softpos-pinpad-test` instead when a test key script is named
/// (`SOFTPOS_PINPAD_TEST_KEYS`), so tests drive the demo headless.
#[cfg(feature = "demo")]
fn demo_pin_pad_program() -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe().context("locating this executable")?;
    #[cfg(feature = "pinpad-test-input")]
    if std::env::var_os(crate::pinpad::process::TEST_KEYS_ENV).is_some() {
        return Ok(exe.with_file_name("softpos-pinpad-test"));
    }
    Ok(exe.with_file_name("softpos-pinpad"))
}

/// Opens the engine of the data directory, finishes what a crash left and signs on.
pub(crate) fn open_engine(
    data: &DataArgs,
    config: Option<&Path>,
) -> anyhow::Result<(Engine, TerminalConfig)> {
    let dir = data_dir(data)?;
    let bundle = TerminalCredentials::load(&dir.join(ENROLMENT_DIR)).with_context(|| {
        format!(
            "this terminal is not enrolled: no bundle in {}; run `hsm-sim enroll --out {}`",
            dir.join(ENROLMENT_DIR).display(),
            dir.join(ENROLMENT_DIR).display()
        )
    })?;
    let config = crate::config::load(config)?;
    let oda = crate::tap::authenticator(&config)?;
    let mut settings = EngineSettings::default();
    settings.link.response_timeout = Duration::from_secs(data.host_timeout.max(1));
    let mut engine = Engine::open(&dir, &bundle, config.clone(), oda, settings)?;
    let wallet_ca = dir.join(super::pay_code::WALLET_CA_FILE);
    if wallet_ca.exists() {
        // A broken key file stops the offline codes, not the cards.
        match super::pay_code::read_wallet_ca(&wallet_ca) {
            Ok(key) => engine.set_wallet_ca(Some(key)),
            Err(e) => eprintln!("Offline codes are not accepted: {e:#}"),
        }
    }
    let recovery = engine.recover()?;
    for (what, ids) in [
        ("aborted (nothing sent)", &recovery.aborted),
        ("reversed", &recovery.reversed),
        ("confirmed with the host", &recovery.confirmed),
        ("still pending (host unreachable)", &recovery.pending),
    ] {
        if !ids.is_empty() {
            eprintln!("Recovered from an interruption: {what}: {ids:?}");
        }
    }
    if let Some(settled) = &recovery.settlement {
        eprintln!(
            "Recovered from an interruption: the settlement of batch {:06} was repeated and the \
             batch closed (host {})",
            settled.batch,
            if settled.in_balance {
                "in balance"
            } else {
                "out of balance"
            }
        );
    }
    if let Some(batch) = recovery.settlement_pending {
        eprintln!(
            "The settlement of batch {batch:06} is still unanswered (host unreachable); it is \
             repeated before the next transaction"
        );
    }
    Ok((engine, config))
}

/// The data directory `data` names.
pub(crate) fn data_dir(data: &DataArgs) -> anyhow::Result<PathBuf> {
    if let Some(d) = &data.data_dir {
        return Ok(d.clone());
    }
    if let Some(d) = std::env::var_os("SOFTPOS_DATA_DIR") {
        return Ok(PathBuf::from(d));
    }
    if let Some(d) = std::env::var_os("XDG_DATA_HOME") {
        return Ok(PathBuf::from(d).join("softpos"));
    }
    let home = std::env::var_os("HOME").context("no data directory: set --data-dir")?;
    Ok(PathBuf::from(home).join(".local/share/softpos"))
}

fn parse_tip(tip: Option<&str>, exponent: u8) -> anyhow::Result<Tip> {
    Ok(match tip {
        None => Tip::None,
        Some(t) => match t.strip_suffix('%') {
            Some(p) => Tip::Percent(
                p.parse()
                    .ok()
                    .filter(|p| *p <= 100)
                    .with_context(|| format!("tip {t:?} is not a percentage 0-100"))?,
            ),
            None => Tip::Amount(super::tap::parse_amount(t, exponent)?),
        },
    })
}

pub(super) fn print_event(event: Event) {
    match event {
        Event::PresentCard { .. } => println!("Present card"),
        Event::CardRead { masked_pan, label } => println!(
            "Card read: {} {masked_pan}",
            label
                .as_deref()
                .map_or("card".into(), emv::display::sanitize)
        ),
        Event::RemoveCard => println!("Remove card"),
        Event::EnterPin => println!("Enter PIN on the PIN pad"),
        Event::WrongPin => println!("Incorrect PIN: present the card again"),
        Event::PinRequired => println!("The issuer asks for the PIN: present the card again"),
        Event::Authorising => println!("Authorising..."),
        Event::OfflineAtMerchantRisk { .. } => println!(
            "Host unreachable: accepted offline AT THE MERCHANT'S RISK (not approved by the issuer)"
        ),
        Event::Approved { .. } | Event::Declined { .. } => {}
        Event::ShowMerchantCode {
            text, short_code, ..
        } => println!(
            "{}\nThe customer scans this code, or types {short_code}; waiting...",
            super::show_code::code_blocks(&text)
        ),
        Event::RequestSent { alias, .. } => {
            println!("Request sent to {alias}: waiting for the customer to confirm on their phone");
        }
        Event::TryAgain { reason } => println!("Try again: {reason}"),
        Event::Reversing => println!("No answer from the host: reversing"),
        Event::SendingPending { count } => println!("Sending {count} pending message(s)"),
        Event::Aborted { .. } | Event::Reversed { .. } => {}
    }
}

pub(super) fn report(result: &TxResult, exponent: u8) -> ExitCode {
    let amount = super::history::format_amount(result.amount, exponent);
    let (word, code) = match result.status {
        TxStatus::Approved => ("APPROVED", 0),
        TxStatus::ApprovedOffline => ("APPROVED (offline, queued)", 0),
        TxStatus::ApprovedAtMerchantRisk => ("ACCEPTED OFFLINE AT MERCHANT'S RISK (queued)", 0),
        TxStatus::Declined => ("DECLINED", EXIT_DECLINED),
        TxStatus::Reversed => ("NOT APPROVED (reversed)", EXIT_REVERSED),
        _ => ("NOT DONE", EXIT_ABORTED),
    };
    println!("{word}: {amount} (transaction {})", result.id);
    if let Some(auth) = &result.auth_code {
        println!("Authorization code: {auth}");
    }
    if result.status != TxStatus::Approved {
        println!("Reason: {}", result.message);
    }
    let t = result.timings;
    tracing::info!(
        card_ms = t.card.as_secs_f64() * 1e3,
        tls_ms = t.tls_connect.as_secs_f64() * 1e3,
        host_ms = t.host.as_secs_f64() * 1e3,
        journal_ms = t.journal.as_secs_f64() * 1e3,
        "timings"
    );
    ExitCode::from(code)
}

/// The PIN entry of the command line: the `softpos-pinpad` process installed next to this
/// executable (its DUKPT key store must have been installed from the enrolment bundle, see
/// `docs/pinpad.md`), or, if it cannot be located, a stub that answers "not available" so a
/// transaction that needs an online PIN stops cleanly.
pub(crate) fn pin_entry() -> Box<dyn PinEntry + Send> {
    match crate::pinpad::PinPadConfig::next_to_current_exe() {
        Ok(config) => Box::new(crate::pinpad::PinPadProcess::new(config)),
        Err(_) => Box::new(NoPinPad),
    }
}

struct NoPinPad;

impl PinEntry for NoPinPad {
    fn collect(&mut self, _request: &PinRequest<'_>) -> Result<EncryptedPin, PinEntryError> {
        Err(PinEntryError::Unavailable(
            "softpos-pinpad cannot be located next to this executable".into(),
        ))
    }
}

/// The enrolment bundle's directory inside the data directory.
pub(crate) const ENROLMENT_DIR: &str = "enrolment";
/// Exit code: declined.
pub(crate) const EXIT_DECLINED: u8 = 3;
/// Exit code: sent, unanswered, reversed.
const EXIT_REVERSED: u8 = 7;
/// Exit code: stopped before anything was sent.
const EXIT_ABORTED: u8 = 8;
