//! `softpos history`, `softpos export --csv` and `softpos status`: the journal for the
//! merchant and the accountant (masked PANs only).

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::Args;

use super::pay::{DataArgs, EngineOnlyArgs, data_dir, open_engine};
pub(crate) use crate::journal::export::{format_amount, format_money};
use crate::journal::{Journal, TxRecord, TxState};

/// Arguments of `softpos history`.
#[derive(Debug, Args)]
pub(crate) struct HistoryArgs {
    /// How many transactions, newest first.
    #[arg(long, default_value_t = 20)]
    limit: usize,
    #[command(flatten)]
    data: DataArgs,
}

/// Arguments of `softpos export`.
#[derive(Debug, Args)]
pub(crate) struct ExportArgs {
    /// Comma-separated values (the only format for now).
    #[arg(long)]
    csv: bool,
    /// The output file (default: standard output).
    #[arg(long)]
    out: Option<PathBuf>,
    #[command(flatten)]
    data: DataArgs,
}

pub(super) fn history(args: HistoryArgs) -> anyhow::Result<ExitCode> {
    let journal = Journal::open(&data_dir(&args.data)?)?;
    println!(
        "{:>5}  {:<20}  {:<11}  {:<16}  {:>12}  {:<16}  result",
        "id", "time (UTC)", "kind", "state", "amount", "card"
    );
    for r in journal.recent(args.limit)? {
        println!(
            "{:>5}  {:<20}  {:<11}  {:<16}  {:>12}  {:<16}  {}",
            r.id,
            r.created_at.get(..19).unwrap_or(&r.created_at),
            r.kind.as_str(),
            r.state.as_str(),
            format_money(r.amount, r.currency),
            r.pan_masked.as_deref().unwrap_or("-"),
            describe(&r)
        );
    }
    Ok(ExitCode::SUCCESS)
}

pub(super) fn export(args: ExportArgs) -> anyhow::Result<ExitCode> {
    if !args.csv {
        anyhow::bail!("say which format: --csv");
    }
    let journal = Journal::open(&data_dir(&args.data)?)?;
    let mut out: Box<dyn std::io::Write> = match &args.out {
        Some(path) => Box::new(
            std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?,
        ),
        None => Box::new(std::io::stdout().lock()),
    };
    crate::journal::export::write_csv(&journal.all()?, &mut out)?;
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

pub(super) fn status(args: EngineOnlyArgs) -> anyhow::Result<ExitCode> {
    let (mut engine, config) = open_engine(&args.data, None)?;
    let exponent = config.terminal.currency_exponent;
    let journal = engine.journal();
    let pending = journal.unfinished()?;
    let batch = journal.batch_number()?;
    let totals = journal.open_batch_totals()?;
    println!("Journal: {}", journal.path().display());
    println!(
        "Open batch {batch:06}: {} debits ({}), {} credits ({})",
        totals.debits,
        format_amount(totals.debits_amount, exponent),
        totals.credits,
        format_amount(totals.credits_amount, exponent)
    );
    println!("Pending with the host: {}", pending.len());
    for r in &pending {
        println!("  {} {} {}", r.id, r.kind.as_str(), r.state.as_str());
    }
    match engine.sign_on() {
        Ok(()) => {
            println!("Host: reachable, sign-on and echo OK");
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            println!("Host: {e}");
            Ok(ExitCode::from(super::EXIT_ERROR))
        }
    }
}

fn describe(r: &TxRecord) -> String {
    let mut s = r.result.clone().unwrap_or_else(|| match r.state {
        TxState::Done => "done".into(),
        other => other.as_str().into(),
    });
    if r.voided {
        s.push_str(" (voided)");
    }
    s
}
