//! `softpos bench pay`: tap to approval through the whole engine, on loopback.

use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use clap::Args;
use hsm_sim::host::ledger::{AccountSeed, AccountStatus};
use hsm_sim::host::{Host, HostConfig, HostHandle};

use super::CardArgs;
use super::bench::{ms, percentile};
use super::session::Session;
use crate::engine::{Engine, EngineSettings, Timings, Tip, TxStatus};
use crate::pinpad::{EncryptedPin, PinEntry, PinEntryError, PinRequest};

/// Arguments of `softpos bench pay`.
#[derive(Debug, Args)]
pub(crate) struct BenchPayArgs {
    /// Number of transactions.
    #[arg(long, default_value_t = 1_000)]
    count: usize,
    /// The virtual card profile (below the CVM limit: no PIN).
    #[arg(long, default_value = "visa")]
    profile: String,
    /// Run the card in this process instead of through pcscd + vpcd.
    #[arg(long)]
    in_process: bool,
}

pub(super) fn run(args: BenchPayArgs) -> anyhow::Result<ExitCode> {
    let dir = std::env::temp_dir().join(format!("softpos-bench-pay-{}", std::process::id()));
    let host_dir = dir.join("host");
    let card = crate::demo::virtual_card(&args.profile)?;
    // The card's account gets room for every transaction (balance and daily limit).
    hsm_sim::host::seed_accounts(
        &host_dir,
        &[AccountSeed {
            pan: card.profile().pan_digits().to_owned(),
            scheme: format!("{:?}", card.profile().scheme()).to_lowercase(),
            balance: 1_000_000_000_000,
            status: AccountStatus::Active,
            daily_limit: 1_000_000_000_000,
            expiry: card.profile().expiry().to_owned(),
        }],
    )
    .context("seeding the bench account")?;
    let (host, mut engine) = engine_on_embedded_host(&dir)?;
    let mut session = if args.in_process {
        None
    } else {
        Some(Session::open(&CardArgs {
            reader: None,
            demo: true,
            profile: args.profile.clone(),
            config: None,
            wait: 10,
        })?)
    };
    let mut in_process = crate::reader::VirtualCardSource::new(card);
    let mut no_pin = NoPin;
    let mut runs: Vec<Timings> = Vec::with_capacity(args.count);
    let mut declined = 0;
    for _ in 0..args.count {
        let result = match session.as_mut() {
            Some(s) => engine.sale(s, &mut no_pin, 100, Tip::None, &mut |_| {})?,
            None => engine.sale(&mut in_process, &mut no_pin, 100, Tip::None, &mut |_| {})?,
        };
        if result.status != TxStatus::Approved {
            declined += 1;
            eprintln!("not approved: {}", result.message);
        }
        runs.push(result.timings);
    }
    drop(session);
    host.shutdown();
    let _ = std::fs::remove_dir_all(&dir);
    print_figures(&runs, declined, args.in_process);
    Ok(ExitCode::SUCCESS)
}

/// An embedded host in `dir/host` and an engine enrolled with it in `dir/terminal`, signed on.
pub(super) fn engine_on_embedded_host(dir: &Path) -> anyhow::Result<(HostHandle, Engine)> {
    let host = Host::start(HostConfig::new(dir.join("host"))).context("starting the host")?;
    let bundle = crate::demo::enrol_terminal(
        &host,
        "T0000001",
        &dir.join("terminal").join(super::pay::ENROLMENT_DIR),
    )?;
    let config = crate::config::load(None)?;
    let oda = crate::tap::authenticator(&config)?;
    let mut engine = Engine::open(
        &dir.join("terminal"),
        &bundle,
        config,
        oda,
        EngineSettings::default(),
    )?;
    engine.sign_on()?;
    Ok((host, engine))
}

fn print_figures(runs: &[Timings], declined: usize, in_process: bool) {
    let pick = |f: fn(&Timings) -> Duration| {
        let mut v: Vec<Duration> = runs.iter().map(f).collect();
        v.sort();
        v
    };
    let total = pick(|t| t.total);
    println!(
        "transactions: {} ({} not approved), card {}",
        runs.len(),
        declined,
        if in_process {
            "in process"
        } else {
            "through pcscd + vpcd"
        }
    );
    println!(
        "tap to approval: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        ms(percentile(&total, 50)),
        ms(percentile(&total, 99)),
        ms(total.last().copied().unwrap_or_default())
    );
    for (name, f) in [
        (
            "card (APDUs + kernel)",
            (|t: &Timings| t.card) as fn(&Timings) -> Duration,
        ),
        ("  of which kernel CPU", |t| t.kernel),
        ("TLS connect", |t| t.tls_connect),
        ("host exchange", |t| t.host),
        ("journal commits", |t| t.journal),
    ] {
        let v = pick(f);
        let mean = v.iter().sum::<Duration>() / u32::try_from(v.len().max(1)).unwrap_or(1);
        println!(
            "  {name:<22} mean {:.2} ms, p50 {:.2} ms, p99 {:.2} ms",
            ms(mean),
            ms(percentile(&v, 50)),
            ms(percentile(&v, 99))
        );
    }
}

pub(super) struct NoPin;

impl PinEntry for NoPin {
    fn collect(&mut self, _request: &PinRequest<'_>) -> Result<EncryptedPin, PinEntryError> {
        Err(PinEntryError::Unavailable(
            "the bench runs below the CVM limit".into(),
        ))
    }
}
