//! `softpos tap` and `softpos demo`: a contactless transaction to its outcome.

use std::process::ExitCode;

use anyhow::Context as _;
use clap::Args;
use emv::kernel::{Outcome, OutcomeKind};

use super::CardArgs;
use super::session::Session;
use crate::card_session::TapReport;
use crate::tap::{Sale, transaction_request};

/// Arguments of `softpos tap`.
#[derive(Debug, Args)]
pub(crate) struct TapArgs {
    /// The amount, in the currency's major unit with its decimals: `12.34`.
    #[arg(long)]
    amount: String,
    /// The currency, ISO 4217 alpha (`EUR`) or numeric (`978`); default: the terminal's.
    #[arg(long)]
    currency: Option<String>,
    /// Print every APDU (sensitive fields redacted).
    #[arg(long)]
    trace: bool,
    #[command(flatten)]
    card: CardArgs,
}

/// Arguments of `softpos demo`.
#[cfg(feature = "demo")]
#[derive(Debug, Args)]
pub(crate) struct DemoArgs {
    /// The virtual card profile (`hsm-sim card --list` lists them).
    #[arg(long, default_value = "visa")]
    profile: String,
    /// The amount.
    #[arg(long, default_value = "12.34")]
    amount: String,
}

#[cfg(feature = "demo")]
pub(super) fn demo(args: DemoArgs) -> anyhow::Result<ExitCode> {
    super::pay::demo(args.profile, args.amount)
}

pub(super) fn run(args: TapArgs) -> anyhow::Result<ExitCode> {
    let config = crate::config::load(args.card.config.as_deref())?;
    let currency = Currency::resolve(args.currency.as_deref(), &config)?;
    let amount = parse_amount(&args.amount, currency.exponent)?;
    let oda = crate::tap::authenticator(&config)?;
    let mut session = Session::open(&args.card)?;
    println!("Reader: {}", session.describe());
    println!("Amount: {} {}", args.amount, currency.alpha);
    let request = transaction_request(Sale {
        amount,
        currency_code: currency.numeric,
        transaction_type: 0x00,
    })
    .context("the OS random source failed")?;
    let mut print_trace = |event: emv::kernel::TraceEvent| println!("  {event}");
    let trace: Option<&mut dyn FnMut(emv::kernel::TraceEvent)> = if args.trace {
        Some(&mut print_trace)
    } else {
        None
    };
    let report = session.tap(&config, oda.as_ref(), request, trace)?;
    print_report(&report);
    Ok(exit_code(&report.outcome))
}

/// Prints the outcome, the CVM decision and the timing.
pub(super) fn print_report(report: &TapReport) {
    let o = &report.outcome;
    println!("Outcome: {}", describe_kind(o.kind));
    println!("Reason: {}", o.reason);
    if let Some(label) = &o.card.label {
        println!("Card: {}", emv::display::sanitize(label));
    }
    if let Some(pan) = &o.card.masked_pan {
        println!("PAN: {}", pan.as_str());
    }
    if let Some(kernel) = o.kernel {
        println!("Kernel: {}", kernel.byte());
    }
    println!("CVM: {:?}", o.cvm);
    match &o.oda {
        Some(result) => match &result.status {
            Ok(()) => println!("ODA: {:?} passed", result.method),
            Err(why) => println!("ODA: {:?} failed: {why:?}", result.method),
        },
        None => println!("ODA: not performed"),
    }
    println!("TVR: {}", hex::encode_upper(o.tvr));
    if let Some(online) = &o.online {
        println!(
            "Online request: {:?} cryptogram, DE 55 of {} bytes",
            online.cryptogram_type,
            online.icc_data.len()
        );
    }
    println!(
        "Card interaction: {:.1} ms ({} APDUs, connect {:.1} ms), kernel CPU {:.2} ms",
        report.reader.total_time.as_secs_f64() * 1e3,
        report.reader.exchanges,
        report.reader.connect_time.as_secs_f64() * 1e3,
        report.kernel_time.as_secs_f64() * 1e3,
    );
}

fn describe_kind(kind: OutcomeKind) -> &'static str {
    match kind {
        OutcomeKind::Approved => "Approved (offline)",
        OutcomeKind::Declined => "Declined",
        OutcomeKind::OnlineRequest => "Online Request (authorisation goes to the issuer)",
        OutcomeKind::TryAnotherInterface => "Try Another Interface (insert or swipe)",
        OutcomeKind::EndApplication => "End Application (try another card)",
        OutcomeKind::SelectNext => "Select Next",
        OutcomeKind::TryAgain => "Try Again (present the card again)",
        _ => "Other",
    }
}

pub(super) fn exit_code(outcome: &Outcome) -> ExitCode {
    ExitCode::from(match outcome.kind {
        OutcomeKind::Approved | OutcomeKind::OnlineRequest => 0,
        OutcomeKind::Declined => 3,
        OutcomeKind::TryAnotherInterface => 4,
        OutcomeKind::TryAgain => 6,
        _ => 5,
    })
}

/// A currency: ISO 4217 alpha code, numeric code and minor-unit exponent.
pub(super) struct Currency {
    alpha: String,
    numeric: u16,
    exponent: u8,
}

impl Currency {
    /// The currency the user asked for, or the terminal's. Limits in the configuration are in
    /// the terminal's currency, so another currency is refused rather than compared against
    /// limits meant for a different unit.
    pub(super) fn resolve(
        asked: Option<&str>,
        config: &emv::config::TerminalConfig,
    ) -> anyhow::Result<Self> {
        let terminal = config.terminal.currency_code;
        let found = match asked {
            None => iso_currency::Currency::from_numeric(terminal),
            Some(code) => match code.parse::<u16>() {
                Ok(numeric) => iso_currency::Currency::from_numeric(numeric),
                Err(_) => iso_currency::Currency::from_code(&code.to_ascii_uppercase()),
            },
        };
        let currency = found.with_context(|| {
            format!(
                "unknown currency {:?}",
                asked.map_or(terminal.to_string(), str::to_owned)
            )
        })?;
        if currency.numeric() != terminal {
            anyhow::bail!(
                "the terminal is configured for currency {terminal} and its limits are in that \
                 currency; set currency_code and currency_exponent in your configuration to take \
                 {}",
                currency.code()
            );
        }
        Ok(Self {
            alpha: currency.code().to_owned(),
            numeric: currency.numeric(),
            exponent: config.terminal.currency_exponent,
        })
    }
}

/// Parses `12.34` into minor units with `exponent` decimals, exactly (no floating point).
pub(super) fn parse_amount(text: &str, exponent: u8) -> anyhow::Result<u64> {
    let bad =
        || anyhow::anyhow!("amount {text:?} is not a number with at most {exponent} decimals");
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    if whole.is_empty() || !whole.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    if fraction.len() > usize::from(exponent) || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let digits = format!("{whole}{fraction:0<width$}", width = usize::from(exponent));
    let amount: u64 = digits.parse().map_err(|_| bad())?;
    // 9F02 holds 12 BCD digits.
    if amount > 999_999_999_999 {
        anyhow::bail!("amount {text:?} is too large for a card transaction");
    }
    Ok(amount)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_parse_exactly() {
        assert_eq!(parse_amount("12.34", 2).unwrap(), 1234);
        assert_eq!(parse_amount("12.3", 2).unwrap(), 1230);
        assert_eq!(parse_amount("12", 2).unwrap(), 1200);
        assert_eq!(parse_amount("0.01", 2).unwrap(), 1);
        assert_eq!(parse_amount("500", 0).unwrap(), 500);
        for bad in [
            "",
            ".5",
            "12.345",
            "1,00",
            "-1",
            "1e3",
            "9999999999999",
            "1.5",
        ] {
            let exponent = if bad == "1.5" { 0 } else { 2 };
            assert!(parse_amount(bad, exponent).is_err(), "{bad}");
        }
        assert_eq!(parse_amount("12.", 2).unwrap(), 1200);
    }
}
