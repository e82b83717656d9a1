//! The `softpos` command line. Each command lives in its own module under `cli/`; they all drive
//! the same library code the GUI will use.
//!
//! Exit codes a script can rely on: 0 the card was read and the transaction approved or sent
//! online; 3 declined; 4 try another interface; 5 end application (card not usable); 6 try again
//! (card removed mid-tap, present it again); 2 an error stopped the command (no reader, no card
//! in time, bad arguments). The engine's commands (`pay`, `pay-code`, `refund`, `void`, `preauth`,
//! `card-check`, `complete`, `settle`, `demo`) add 7 (sent, no answer from the host, reversed:
//! nothing charged) and 8 (stopped before anything was sent). `decode-qr` says 1 when an image
//! held no readable code (and 2 when a file was not a readable image).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

mod activate;
mod bench;
#[cfg(feature = "demo")]
mod bench_attest;
#[cfg(feature = "demo")]
mod bench_code;
#[cfg(feature = "demo")]
mod bench_pay;
mod bench_qr;
mod decode_qr;
mod history;
mod pay;
mod pay_code;
mod read_card;
mod readers;
mod request_pay;
mod session;
mod show_code;
mod start;
mod tap;

/// An open software payment terminal.
#[derive(Debug, Parser)]
#[command(name = "softpos", version, about)]
pub struct Cli {
    /// Without a command: the merchant's GUI (in demo mode when the terminal is not enrolled).
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// List the PC/SC readers and whether a card is on them.
    Readers,
    /// Read a card and show what is on it (PAN masked); `--trace` shows every APDU, redacted
    /// (certificates too: `--trace-certificates` shows them, with a warning).
    ReadCard(read_card::ReadCardArgs),
    /// Run a contactless transaction to its outcome.
    Tap(tap::TapArgs),
    /// A demo sale: an embedded acquirer host (hsm-sim) on loopback, a virtual card through
    /// pcscd (or in process), and the full engine (journal, TLS, ISO 8583).
    #[cfg(feature = "demo")]
    Demo(tap::DemoArgs),
    /// A sale: `pay --amount 12.34 [--tip 10%] [--reader NAME]`.
    Pay(pay::PayArgs),
    /// A sale paid with the customer's code (EMVCo consumer-presented, or the signed offline
    /// code): `pay-code --amount 12.50 --payload <text>`.
    PayCode(pay_code::PayCodeArgs),
    /// A sale paid with the merchant's code: shows the code (and `--png FILE`) until the
    /// customer's wallet pays it: `show-code --amount 12.50`.
    ShowCode(show_code::ShowCodeArgs),
    /// A sale paid by a request to the customer's phone, confirmed there with their PIN:
    /// `request-pay --amount 12.50 --to +4915112345678`.
    RequestPay(request_pay::RequestPayArgs),
    /// A refund, standalone or of a sale (`--of ID`).
    Refund(pay::RefundArgs),
    /// Voids the last approved sale or refund of the open batch.
    Void(pay::EngineOnlyArgs),
    /// A pre-authorization (a hold on the account).
    Preauth(pay::PreauthArgs),
    /// A card check: verifies the card with the issuer without charging it (zero-amount 0100).
    CardCheck(pay::CardCheckArgs),
    /// Completes a pre-authorization for the final amount.
    Complete(pay::CompleteArgs),
    /// End-of-day settlement: batch totals to the host (0500), with a report.
    Settle(pay::EngineOnlyArgs),
    /// The journal, newest first (masked PANs).
    History(history::HistoryArgs),
    /// Pending transactions, open batch totals and whether the host answers.
    Status(pay::EngineOnlyArgs),
    /// The journal as a file for the accountant (`--csv`).
    Export(history::ExportArgs),
    /// Reads the QR code in each image file (PNG, JPEG) and prints its payload and the time the
    /// decoder took; `--json` prints one JSON object per image and line. Exit status: 0 every
    /// image gave a payload, 1 some image held no readable code, 2 some file was not a readable
    /// image (or bad arguments).
    DecodeQr(decode_qr::DecodeQrArgs),
    /// Enrols this terminal with a one-time activation code: `activate CODE --host HOST:PORT`.
    Activate(activate::ActivateArgs),
    /// Benchmarks that print figures.
    #[command(subcommand)]
    Bench(bench::BenchCommand),
}

/// Options shared by the commands that use a card.
#[derive(Debug, Clone, Args)]
pub(crate) struct CardArgs {
    /// The reader to use (as `softpos readers` lists it); default: the first one with a card.
    #[arg(long)]
    reader: Option<String>,
    /// When no reader has a card, plug a virtual card into the vpcd reader (or run it in
    /// process when pcscd is not running).
    #[arg(long)]
    demo: bool,
    /// The virtual card profile for `--demo` (`hsm-sim card --list` lists them).
    #[arg(long, default_value = "visa")]
    profile: String,
    /// A terminal configuration file overriding the defaults (see docs/terminal-config.md).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Seconds to wait for a card.
    #[arg(long, default_value_t = 30)]
    wait: u64,
}

impl Cli {
    /// Runs the chosen command and returns the process exit code.
    pub fn run(self) -> ExitCode {
        let Some(command) = self.command else {
            return finish(start::run());
        };
        let result = match command {
            Command::Readers => readers::run(),
            Command::ReadCard(args) => read_card::run(args),
            Command::Tap(args) => tap::run(args),
            #[cfg(feature = "demo")]
            Command::Demo(args) => tap::demo(args),
            Command::Bench(command) => bench::run(command),
            Command::DecodeQr(args) => decode_qr::run(args),
            Command::Activate(args) => activate::run(args),
            Command::Pay(args) => pay::pay(args),
            Command::PayCode(args) => pay_code::pay_code(args),
            Command::ShowCode(args) => show_code::show_code(args),
            Command::RequestPay(args) => request_pay::request_pay(args),
            Command::Refund(args) => pay::refund(args),
            Command::Void(args) => pay::void(args),
            Command::Preauth(args) => pay::preauth(args),
            Command::CardCheck(args) => pay::card_check(args),
            Command::Complete(args) => pay::complete(args),
            Command::Settle(args) => pay::settle(args),
            Command::History(args) => history::history(args),
            Command::Status(args) => history::status(args),
            Command::Export(args) => history::export(args),
        };
        finish(result)
    }
}

/// The exit code of a command's result; an error is printed.
fn finish(result: anyhow::Result<ExitCode>) -> ExitCode {
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("softpos: {e:#}");
            ExitCode::from(EXIT_ERROR)
        }
    }
}

/// Exit code for an error that stopped the command (no reader, no service, bad arguments...).
const EXIT_ERROR: u8 = 2;
