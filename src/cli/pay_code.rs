//! `softpos pay-code`: a sale paid with the code the customer's phone shows
//! (`docs/qr-customer-code.md`): an EMVCo consumer-presented code or a signed offline code,
//! given as text (`--payload`) or as the scanned bytes in a file (`--file-text`). The camera
//! path gives the same text.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use clap::Args;

use super::pay::{DataArgs, open_engine, print_event, report};

/// Arguments of `softpos pay-code`.
#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("code").required(true).args(["payload", "file_text"])))]
pub(crate) struct PayCodeArgs {
    /// The amount, in the currency's major unit: `12.34`.
    #[arg(long)]
    amount: String,
    /// The code's text as scanned (base64 for a consumer-presented code, `SPOC1:...` for an
    /// offline code).
    #[arg(long)]
    payload: Option<String>,
    /// A file holding the scanned text.
    #[arg(long, value_name = "FILE")]
    file_text: Option<PathBuf>,
    /// The merchant nonce this terminal showed the customer (16 hex digits), if any.
    #[arg(long, value_name = "HEX")]
    nonce: Option<String>,
    /// The wallet CA's public key (hex) that offline codes' certificates are checked under.
    /// Default: `wallet-ca.pub` in the data directory, if there.
    #[arg(long, value_name = "FILE")]
    wallet_ca: Option<PathBuf>,
    /// A terminal configuration file overriding the defaults.
    #[arg(long)]
    config: Option<PathBuf>,
    #[command(flatten)]
    data: DataArgs,
}

pub(super) fn pay_code(args: PayCodeArgs) -> anyhow::Result<ExitCode> {
    let text = match (&args.payload, &args.file_text) {
        (Some(text), _) => text.clone(),
        (None, Some(file)) => {
            let bytes =
                std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
            String::from_utf8(bytes).map_err(|_| {
                anyhow::anyhow!("the customer's code is refused: the code is not text (not UTF-8)")
            })?
        }
        (None, None) => anyhow::bail!("give --payload or --file-text"),
    };
    let nonce = args
        .nonce
        .as_deref()
        .map(|n| {
            hex::decode(n)
                .ok()
                .and_then(|b| <[u8; 8]>::try_from(b).ok())
                .context("--nonce must be 16 hex digits")
        })
        .transpose()?;
    let (mut engine, config) = open_engine(&args.data, args.config.as_deref())?;
    if let Some(file) = &args.wallet_ca {
        engine.set_wallet_ca(Some(read_wallet_ca(file)?));
    }
    let exponent = config.terminal.currency_exponent;
    let amount = super::tap::parse_amount(&args.amount, exponent)?;
    let result = engine.pay_code(&text, amount, nonce, &mut print_event)?;
    Ok(report(&result, exponent))
}

/// The wallet CA's public key in the terminal's data directory (configuration, like its CA
/// keys): the engine of the data directory takes it.
pub(crate) const WALLET_CA_FILE: &str = "wallet-ca.pub";

/// Reads a wallet CA public key file (32 bytes in hex).
pub(super) fn read_wallet_ca(file: &Path) -> anyhow::Result<[u8; 32]> {
    let text =
        std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
    hex::decode(text.trim())
        .ok()
        .and_then(|b| <[u8; 32]>::try_from(b).ok())
        .with_context(|| format!("{}: not a 32-byte key in hex", file.display()))
}
