//! `softpos bench attestation`: what attestation adds to a sale, on loopback. An embedded host
//! serves two terminals: one enrolled from a bundle (not attested) and one activated with a
//! code (attested before each transaction). Each round makes three sales on the in-process
//! Visa card, no PIN: on the bundle terminal, on the activated terminal with its cached token,
//! and on the activated terminal after forgetting the token (the exchange runs inside the
//! sale: a nonce, the evidence gathered and signed, the token checked). The first activated
//! sale of the run also hashes the executables, once per process; it is shown on its own.
//! The host runs its development policy, so a tester's machine is judged but not blocked.

use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use clap::Args;
use hsm_sim::host::HostHandle;
use hsm_sim::host::activation as host_activation;
use hsm_sim::host::ledger::{AccountSeed, AccountStatus};

use super::bench::{ms, percentile};
use super::bench_pay::{NoPin, engine_on_embedded_host};
use crate::acquirer::TerminalCredentials;
use crate::activation::{self, ActivationCode, DeviceKey};
use crate::engine::{Engine, EngineSettings, Tip, TxStatus};
use crate::reader::VirtualCardSource;

/// Arguments of `softpos bench attestation`.
#[derive(Debug, Args)]
pub(crate) struct BenchAttestArgs {
    /// Rounds of three sales.
    #[arg(long, default_value_t = 100)]
    count: usize,
}

pub(super) fn run(args: BenchAttestArgs) -> anyhow::Result<ExitCode> {
    let dir = std::env::temp_dir().join(format!("softpos-bench-attest-{}", std::process::id()));
    let card = crate::demo::virtual_card("visa")?;
    hsm_sim::host::seed_accounts(
        &dir.join("host"),
        &[AccountSeed {
            pan: card.profile().pan_digits().to_owned(),
            scheme: "visa".to_owned(),
            balance: 1_000_000_000_000,
            status: AccountStatus::Active,
            daily_limit: 1_000_000_000_000,
            expiry: card.profile().expiry().to_owned(),
        }],
    )
    .context("seeding the bench account")?;
    // The development policy: the exchange runs in full (evidence judged, recorded), but a
    // tester's machine (root, a VM, X11) gets warnings rather than a block.
    hsm_sim::host::attestation::Policy {
        profile: hsm_sim::host::attestation::Profile::Development,
        ..Default::default()
    }
    .save(&dir.join("host"))?;
    let (host, mut bundle) = engine_on_embedded_host(&dir)?;
    let (mut activated, sign_on) = activated_engine(&host, &dir.join("activated"))?;
    let mut card = VirtualCardSource::new(card);
    let mut sale = |engine: &mut Engine| -> anyhow::Result<Duration> {
        let started = Instant::now();
        let result = engine.sale(&mut card, &mut NoPin, 100, Tip::None, &mut |_| {})?;
        let took = started.elapsed();
        anyhow::ensure!(
            result.status == TxStatus::Approved,
            "not approved: {}",
            result.message
        );
        Ok(took)
    };
    let mut plain = Vec::with_capacity(args.count);
    let mut cached = Vec::with_capacity(args.count);
    let mut renewed = Vec::with_capacity(args.count);
    for _ in 0..args.count {
        plain.push(sale(&mut bundle)?);
        cached.push(sale(&mut activated)?);
        activated.forget_attestation_token();
        renewed.push(sale(&mut activated)?);
    }
    host.shutdown();
    let _ = std::fs::remove_dir_all(&dir);
    for v in [&mut plain, &mut cached, &mut renewed] {
        v.sort();
    }
    println!(
        "sales: {} per kind, in-process Visa card, embedded host on loopback",
        args.count
    );
    for (name, figures) in [
        ("bundle terminal (not attested)", &plain),
        ("activated, token cached", &cached),
        ("activated, token renewed in the sale", &renewed),
    ] {
        println!(
            "{name}: p50 {:.2} ms, p95 {:.2} ms, max {:.2} ms",
            ms(percentile(figures, 50)),
            ms(percentile(figures, 95)),
            ms(figures.last().copied().unwrap_or_default())
        );
    }
    let added = |v: &[Duration]| ms(percentile(v, 50)) - ms(percentile(&plain, 50));
    println!(
        "added at p50: {:.2} ms with the cached token, {:.2} ms when the sale renews it",
        added(&cached),
        added(&renewed)
    );
    println!(
        "sign-on of the activated terminal (attests, hashes the executables): {:.2} ms",
        ms(sign_on)
    );
    Ok(ExitCode::SUCCESS)
}

/// A terminal activated at `host` with a fresh code into `data`, as `softpos activate` does
/// (a throwaway key stands in for the PIN pad's: the bench takes no PIN), signed on; with the
/// time the sign-on took.
fn activated_engine(host: &HostHandle, data: &Path) -> anyhow::Result<(Engine, Duration)> {
    let issued =
        host_activation::add_terminal(host.data_dir(), "BENCH", host_activation::DEFAULT_VALIDITY)?;
    let code = ActivationCode::parse(&issued.full())?;
    let device = DeviceKey::generate()?;
    let pad = emv::crypto::key_wrap::generate_secret_key()
        .map_err(|_| anyhow::anyhow!("the OS random source failed"))?;
    let pad_key = emv::crypto::key_wrap::public_key_bytes(&pad);
    let request = activation::signed_request(&code, &device, &pad_key)?;
    let answer = activation::client::post(&host.api_addr().to_string(), &code, &request)?;
    let enrolment = data.join(super::pay::ENROLMENT_DIR);
    activation::install(&code, &device, &answer, &enrolment)?;
    let credentials = TerminalCredentials::load(&enrolment)?;
    let config = crate::config::load(None)?;
    let oda = crate::tap::authenticator(&config)?;
    let settings = EngineSettings {
        attestation_profile: crate::attestation::Profile::Production,
        ..EngineSettings::default()
    };
    let mut engine = Engine::open(data, &credentials, config, oda, settings)?;
    let started = Instant::now();
    engine.sign_on()?;
    Ok((engine, started.elapsed()))
}
