//! `softpos bench`: benchmarks that print figures.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use clap::{Args, Subcommand};

use super::CardArgs;
use super::session::Session;
use crate::tap::{Sale, transaction_request};

/// The benchmarks.
#[derive(Debug, Subcommand)]
pub(crate) enum BenchCommand {
    /// Card interaction time per tap through the reader (by default a virtual card through
    /// pcscd + vpcd on loopback): p50, p99 and the kernel's CPU share.
    Tap(BenchTapArgs),
    /// Tap to approval through the whole engine: a virtual card through pcscd + vpcd, the
    /// kernel, the journal (synchronous SQLite commits) and an embedded acquirer host over TLS
    /// 1.3 on loopback; no PIN. p50, p99 and where the time goes.
    #[cfg(feature = "demo")]
    Pay(super::bench_pay::BenchPayArgs),
    /// The merchant's code (or with `--request` a request to pay) on loopback: from the
    /// customer's signed consent to the terminal's approval (the host's long poll, the 0200
    /// with DE 105, the journal), p50 and p95.
    #[cfg(feature = "demo")]
    MerchantCode(super::bench_code::BenchCodeArgs),
    /// What attestation adds to a sale on loopback: sales on a bundle terminal, on an activated
    /// terminal with its cached token, and with the token renewed inside the sale; p50, p95.
    #[cfg(feature = "demo")]
    Attestation(super::bench_attest::BenchAttestArgs),
    /// The QR decoder on generated 1280×720 camera-like frames (fixed seed): success rate,
    /// median and p95 ms per frame, overall and per degradation; wrong payloads fail the run.
    Qr(super::bench_qr::BenchQrArgs),
}

/// Arguments of `softpos bench tap`.
#[derive(Debug, Args)]
pub(crate) struct BenchTapArgs {
    /// Number of taps.
    #[arg(long, default_value_t = 200)]
    count: usize,
    /// The amount of each tap.
    #[arg(long, default_value = "12.34")]
    amount: String,
    #[command(flatten)]
    card: CardArgs,
}

pub(super) fn run(command: BenchCommand) -> anyhow::Result<ExitCode> {
    match command {
        BenchCommand::Tap(mut args) => {
            // The benchmark is about the card path; plug a virtual card in unless told otherwise.
            args.card.demo = args.card.demo || args.card.reader.is_none();
            tap(args)
        }
        #[cfg(feature = "demo")]
        BenchCommand::Pay(args) => super::bench_pay::run(args),
        #[cfg(feature = "demo")]
        BenchCommand::MerchantCode(args) => super::bench_code::run(args),
        #[cfg(feature = "demo")]
        BenchCommand::Attestation(args) => super::bench_attest::run(args),
        BenchCommand::Qr(args) => super::bench_qr::run(args),
    }
}

fn tap(args: BenchTapArgs) -> anyhow::Result<ExitCode> {
    let config = crate::config::load(args.card.config.as_deref())?;
    let amount = super::tap::parse_amount(&args.amount, config.terminal.currency_exponent)?;
    let oda = crate::tap::authenticator(&config)?;
    let mut session = Session::open(&args.card)?;
    let mut totals = Vec::with_capacity(args.count);
    let mut kernel = Vec::with_capacity(args.count);
    let mut exchanges = 0;
    for _ in 0..args.count {
        let request = transaction_request(Sale {
            amount,
            currency_code: config.terminal.currency_code,
            transaction_type: 0x00,
        })
        .context("the OS random source failed")?;
        let report = session.tap(&config, oda.as_ref(), request, None)?;
        totals.push(report.reader.total_time);
        kernel.push(report.kernel_time);
        exchanges = report.reader.exchanges;
    }
    totals.sort();
    kernel.sort();
    println!("reader: {}", session.describe());
    println!("taps: {}, APDUs per tap: {exchanges}", args.count);
    println!(
        "card interaction per tap: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        ms(percentile(&totals, 50)),
        ms(percentile(&totals, 99)),
        ms(totals.last().copied().unwrap_or_default()),
    );
    println!(
        "kernel CPU per tap: p50 {:.3} ms, p99 {:.3} ms",
        ms(percentile(&kernel, 50)),
        ms(percentile(&kernel, 99)),
    );
    Ok(ExitCode::SUCCESS)
}

pub(super) fn percentile(sorted: &[Duration], p: usize) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let index = (sorted.len() * p)
        .div_ceil(100)
        .saturating_sub(1)
        .min(sorted.len() - 1);
    sorted[index]
}

pub(super) fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}
