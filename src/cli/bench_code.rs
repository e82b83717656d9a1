//! `softpos bench merchant-code [--request]`: how soon the terminal knows the customer paid,
//! on loopback. Each round the engine opens a payment at an embedded host and shows the code
//! (or, with `--request`, sends a request to pay to the wallet's phone number); a simulated
//! wallet reads the code and pays (or finds the request in its inbox and confirms it) with its
//! signed consent over the host's HTTPS API. The figure is the time from the wallet sending its
//! consent to the terminal's approval (the long poll's answer, the 0200 with DE 105 and its
//! journal commits included).

use std::process::ExitCode;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use clap::Args;
use emv::qr::merchant_payment::read;
use hsm_sim::host::{pki, wallets};
use hsm_sim::wallet::api::{PayMerchantCode, WalletApi};
use hsm_sim::wallet::device::Device;

use super::bench::{ms, percentile};
use crate::engine::{Event, TxStatus};

/// Arguments of `softpos bench merchant-code`.
#[derive(Debug, Args)]
pub(crate) struct BenchCodeArgs {
    /// Number of payments.
    #[arg(long, default_value_t = 50)]
    count: usize,
    /// Requests to pay confirmed on the phone instead of codes scanned.
    #[arg(long)]
    request: bool,
}

/// The simulated customer's phone number.
const WALLET_PHONE: &str = "+4915100000000";

/// The simulated customer's PIN (it unlocks the device key on the phone).
const WALLET_PIN: &str = "2468";

pub(super) fn run(args: BenchCodeArgs) -> anyhow::Result<ExitCode> {
    let dir = std::env::temp_dir().join(format!("softpos-bench-code-{}", std::process::id()));
    let host_dir = dir.join("host");
    let (host, mut engine) = super::bench_pay::engine_on_embedded_host(&dir)?;
    let exponent = u32::from(crate::config::load(None)?.terminal.currency_exponent);
    let device = Device::create(&dir.join("wallet"), WALLET_PIN, |id, key| {
        wallets::register(&host_dir, id, key)
            .map(|e| (e.payer_token, e.certificate))
            .map_err(|e| e.to_string())
    })?;
    wallets::set_alias(&host_dir, device.id_hex(), WALLET_PHONE)?;
    let ca = pki::HostCa::load_or_create(&host_dir)?;
    let wallet = WalletApi::new(&host.api_addr().to_string(), ca.cert_pem())?;
    let mut consent_to_result = Vec::with_capacity(args.count);
    let mut open_to_code = Vec::with_capacity(args.count);
    let mut failed = 0;
    for _ in 0..args.count {
        let (codes, shown) = mpsc::channel();
        let started = Instant::now();
        let (result, approved_at, sent_at) = std::thread::scope(|scope| {
            let terminal = scope.spawn(|| {
                let mut approved_at = None;
                let mut events = |event| match event {
                    Event::ShowMerchantCode { text, .. } => {
                        let _ = codes.send((Some(text), Instant::now()));
                    }
                    Event::RequestSent { .. } => {
                        let _ = codes.send((None, Instant::now()));
                    }
                    Event::Approved { .. } => approved_at = Some(Instant::now()),
                    _ => {}
                };
                let result = if args.request {
                    engine.request_to_pay(WALLET_PHONE, 100, &mut events)
                } else {
                    engine.pay_merchant_code(100, &mut events)
                };
                (result, approved_at)
            });
            let paid = shown
                .recv_timeout(Duration::from_secs(30))
                .context("the terminal showed no code and sent no request")
                .and_then(|(text, at)| {
                    open_to_code.push(at - started);
                    if let Some(text) = text {
                        let payment = read(text.as_bytes(), exponent)?;
                        let request = PayMerchantCode::scanned(&device, &payment);
                        let sent_at = Instant::now();
                        wallet.pay_merchant_code(&request)?;
                        return Ok(sent_at);
                    }
                    let item = wallet
                        .inbox(&device)?
                        .into_iter()
                        .next()
                        .context("the request is not in the wallet's inbox")?;
                    let sent_at = Instant::now();
                    wallet.answer(&device, &item.reference, true)?;
                    Ok(sent_at)
                });
            let (result, approved_at) = terminal
                .join()
                .map_err(|_| anyhow::anyhow!("the terminal's thread panicked"))?;
            anyhow::Ok((result, approved_at, paid))
        })?;
        match (result?, approved_at, sent_at) {
            (r, Some(approved), Ok(sent)) if r.status == TxStatus::Approved => {
                consent_to_result.push(approved.saturating_duration_since(sent));
            }
            (r, _, sent) => {
                failed += 1;
                eprintln!("not paid: {} ({:?})", r.message, sent.err());
            }
        }
    }
    host.shutdown();
    let _ = std::fs::remove_dir_all(&dir);
    consent_to_result.sort();
    open_to_code.sort();
    let (what, opened) = if args.request {
        ("requests to pay", "sale started to request delivered")
    } else {
        ("merchant's-code payments", "sale started to code shown")
    };
    println!(
        "{what}: {} ({failed} not paid), embedded host on loopback",
        args.count
    );
    for (name, figures) in [
        ("customer's consent to approval", &consent_to_result),
        (opened, &open_to_code),
    ] {
        println!(
            "{name}: p50 {:.2} ms, p95 {:.2} ms, max {:.2} ms",
            ms(percentile(figures, 50)),
            ms(percentile(figures, 95)),
            ms(figures.last().copied().unwrap_or_default())
        );
    }
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
