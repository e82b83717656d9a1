//! `softpos request-pay`: a sale paid by a request to the customer's phone
//! (`docs/request-to-pay.md`). The request goes through the host to the wallet with this phone
//! number or wallet ID; the command waits until the customer confirmed with their PIN on their
//! phone (and the money moved), refused, or the request expired.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use super::pay::{DataArgs, open_engine, print_event, report};

/// Arguments of `softpos request-pay`.
#[derive(Debug, Args)]
pub(crate) struct RequestPayArgs {
    /// The amount, in the currency's major unit: `12.34`.
    #[arg(long)]
    amount: String,
    /// The customer's phone number (`+4915112345678`) or wallet ID.
    #[arg(long, value_name = "ALIAS")]
    to: String,
    /// A terminal configuration file overriding the defaults.
    #[arg(long)]
    config: Option<PathBuf>,
    #[command(flatten)]
    data: DataArgs,
}

pub(super) fn request_pay(args: RequestPayArgs) -> anyhow::Result<ExitCode> {
    let (mut engine, config) = open_engine(&args.data, args.config.as_deref())?;
    let exponent = config.terminal.currency_exponent;
    let amount = super::tap::parse_amount(&args.amount, exponent)?;
    let result = engine.request_to_pay(&args.to, amount, &mut print_event)?;
    Ok(report(&result, exponent))
}
