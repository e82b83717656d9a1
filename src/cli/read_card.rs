//! `softpos read-card`: what is on a card, for testers. The card is read with a status-check
//! style transaction of the smallest amount, so the kernel walks the whole flow; nothing is sent
//! to a host.

use std::process::ExitCode;

use anyhow::Context as _;
use clap::Args;
use emv::display::sanitize;
use emv::oda::OdaResult;
use emv::tlv::DecodedTlv;

use super::CardArgs;
use super::session::Session;
use crate::tap::{Sale, transaction_request};

/// Arguments of `softpos read-card`.
#[derive(Debug, Args)]
pub(crate) struct ReadCardArgs {
    /// Print every APDU (sensitive fields redacted; certificates and signed data as their
    /// length only).
    #[arg(long)]
    trace: bool,
    /// Like `--trace`, with the issuer and ICC certificates, key remainders and signed data
    /// (`90`, `92`, `93`, `9F46`, `9F48`, `9F4B`) in full. With the scheme's public CA key they
    /// reveal the full PAN: do not share the output.
    #[arg(long)]
    trace_certificates: bool,
    #[command(flatten)]
    card: CardArgs,
}

pub(super) fn run(args: ReadCardArgs) -> anyhow::Result<ExitCode> {
    let config = crate::config::load(args.card.config.as_deref())?;
    let oda = crate::tap::authenticator(&config)?;
    let mut session = Session::open(&args.card)?;
    println!("Reader: {}", session.describe());
    let request = transaction_request(Sale {
        amount: 1,
        currency_code: config.terminal.currency_code,
        transaction_type: 0x00,
    })
    .context("the OS random source failed")?;
    let certificates = args.trace_certificates;
    if certificates {
        eprintln!("{CERTIFICATES_WARNING}");
    }
    let mut print_trace =
        |event: emv::kernel::TraceEvent| println!("  {}", event.with_certificates(certificates));
    let trace: Option<&mut dyn FnMut(emv::kernel::TraceEvent)> = if args.trace || certificates {
        Some(&mut print_trace)
    } else {
        None
    };
    let report = session.tap(&config, oda.as_ref(), request, trace)?;
    let card = &report.outcome.card;
    println!(
        "Application label: {}",
        card.label.as_deref().map_or("-".into(), sanitize)
    );
    println!(
        "AID: {}",
        card.aid
            .as_deref()
            .map(hex::encode_upper)
            .unwrap_or_else(|| "-".into())
    );
    println!(
        "Kernel: {}",
        report
            .outcome
            .kernel
            .map(|k| k.byte().to_string())
            .unwrap_or_else(|| "-".into())
    );
    println!(
        "PAN: {}",
        card.masked_pan.as_ref().map(|p| p.as_str()).unwrap_or("-")
    );
    println!(
        "Expiry (YYMM): {}",
        card.expiry_yymm.as_deref().unwrap_or("-")
    );
    println!(
        "AIP: {}",
        card.aip
            .map(hex::encode_upper)
            .unwrap_or_else(|| "-".into())
    );
    println!(
        "AFL: {}",
        card.afl
            .as_deref()
            .map(hex::encode_upper)
            .unwrap_or_else(|| "-".into())
    );
    println!(
        "CVM list: {}",
        card.cvm_list
            .as_deref()
            .map(hex::encode_upper)
            .unwrap_or_else(|| "-".into())
    );
    for record in &card.records {
        println!("{}:", record.source);
        print_objects(&record.objects, 1, certificates);
    }
    print_oda(report.outcome.oda.as_ref());
    super::tap::print_report(&report);
    Ok(super::tap::exit_code(&report.outcome))
}

/// The ODA result for testers: the method, pass or fail, and the failed check in words (EMV
/// Book 2 step), e.g. `Failed check: issuer certificate 90 expired (Book 2 §5.3 step 9)`.
fn print_oda(oda: Option<&OdaResult>) {
    match oda {
        None => println!("Offline data authentication: not performed"),
        Some(result) => match &result.status {
            Ok(()) => println!("Offline data authentication: {} passed", result.method),
            Err(failure) => {
                println!("Offline data authentication: {} failed", result.method);
                println!("Failed check: {failure}");
            }
        },
    }
}

fn print_objects(objects: &[DecodedTlv], depth: usize, certificates: bool) {
    for o in objects {
        println!(
            "{}{} {}: {}",
            "  ".repeat(depth),
            o.tag,
            o.name,
            o.shown_with_certificates(certificates)
        );
        print_objects(&o.children, depth + 1, certificates);
    }
}

/// Printed (to stderr) before a `--trace-certificates` run.
const CERTIFICATES_WARNING: &str = "WARNING: --trace-certificates prints the issuer and ICC \
    certificates in full; with the scheme's public CA key anyone can recover the full card \
    number (PAN) from them. Do not share or store this output.";
