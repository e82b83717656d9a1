//! The `softpos` command line. Each command lives in its own module under `cli/`; they all drive
//! the same library code the GUI will use.
//!
//! Exit codes a script can rely on: 0 the card was read and the transaction approved or sent
//! online; 3 declined; 4 try another interface; 5 end application (card not usable); 6 try again
//! (card removed mid-tap, present it again); 2 an error stopped the command (no reader, no card
//! in time, bad arguments).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

mod bench;
mod read_card;
mod readers;
mod session;
mod tap;

/// An open software payment terminal.
#[derive(Debug, Parser)]
#[command(name = "softpos", version, about)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// List the PC/SC readers and whether a card is on them.
    Readers,
    /// Read a card and show what is on it (PAN masked); `--trace` shows every APDU, redacted.
    ReadCard(read_card::ReadCardArgs),
    /// Run a contactless transaction to its outcome.
    Tap(tap::TapArgs),
    /// A demo sale of 12.34 on a virtual card through pcscd (`tap --demo --amount 12.34`).
    Demo(tap::DemoArgs),
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
        let result = match self.command {
            Command::Readers => readers::run(),
            Command::ReadCard(args) => read_card::run(args),
            Command::Tap(args) => tap::run(args),
            Command::Demo(args) => tap::demo(args),
            Command::Bench(command) => bench::run(command),
        };
        match result {
            Ok(code) => code,
            Err(e) => {
                eprintln!("softpos: {e:#}");
                ExitCode::from(EXIT_ERROR)
            }
        }
    }
}

/// Exit code for an error that stopped the command (no reader, no service, bad arguments...).
const EXIT_ERROR: u8 = 2;
