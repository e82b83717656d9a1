//! `softpos show-code`: a sale paid with the merchant's code (`docs/qr-merchant-code.md`).
//! The terminal opens the payment at the host, shows the code (in the terminal, and as a PNG
//! picture with `--png`, rewritten with each new token) and its short code, and waits until
//! the customer's wallet has paid it or it expires. Interrupted, it charges nothing: the money
//! only moves with the terminal's own 0200, and the payment expires at the host.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use clap::Args;
use qrcode::QrCode;
use qrcode::render::unicode::Dense1x2;

use super::pay::{DataArgs, open_engine, print_event, report};
use crate::engine::Event;
use crate::engine::merchant_code::render_png;

/// Arguments of `softpos show-code`.
#[derive(Debug, Args)]
pub(crate) struct ShowCodeArgs {
    /// The amount, in the currency's major unit: `12.34`.
    #[arg(long)]
    amount: String,
    /// Also write the code as a PNG picture here, replaced with each new token.
    #[arg(long, value_name = "FILE")]
    png: Option<PathBuf>,
    /// A terminal configuration file overriding the defaults.
    #[arg(long)]
    config: Option<PathBuf>,
    #[command(flatten)]
    data: DataArgs,
}

/// Pixels per module of the PNG picture.
const PNG_SCALE: usize = 8;

pub(super) fn show_code(args: ShowCodeArgs) -> anyhow::Result<ExitCode> {
    let (mut engine, config) = open_engine(&args.data, args.config.as_deref())?;
    let exponent = config.terminal.currency_exponent;
    let amount = super::tap::parse_amount(&args.amount, exponent)?;
    let mut failure: Option<anyhow::Error> = None;
    let mut events = |event: Event| {
        if let Event::ShowMerchantCode { text, .. } = &event
            && let Some(path) = &args.png
            && let Err(e) = write_png(path, text)
        {
            failure.get_or_insert(e);
        }
        print_event(event);
    };
    let result = engine.pay_merchant_code(amount, &mut events)?;
    if let Some(e) = failure {
        eprintln!("warning: {e:#}");
    }
    Ok(report(&result, exponent))
}

/// The code as text-mode blocks for the terminal (two rows of modules a line).
pub(super) fn code_blocks(text: &str) -> String {
    match QrCode::new(text.as_bytes()) {
        Ok(code) => code
            .render::<Dense1x2>()
            .dark_color(Dense1x2::Light)
            .light_color(Dense1x2::Dark)
            .quiet_zone(true)
            .build(),
        Err(e) => format!("(the code does not fit a QR code: {e})"),
    }
}

/// Writes the picture next to `path` and renames it into place, so that a reader never sees
/// half a picture.
fn write_png(path: &Path, text: &str) -> anyhow::Result<()> {
    let png = render_png(text, PNG_SCALE)?;
    let partial = path.with_extension("png.partial");
    std::fs::write(&partial, png).with_context(|| format!("writing {}", partial.display()))?;
    std::fs::rename(&partial, path).with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}
