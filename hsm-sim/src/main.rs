//! The `hsm-sim` binary: console commands for testers (card, HSM, host).
#![forbid(unsafe_code)]

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use hsm_sim::cli;

/// The rest of the payment world in software: HSM, issuer, acquirer host and virtual cards.
#[derive(Debug, Parser)]
#[command(name = "hsm-sim", version, about)]
struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    #[command(flatten)]
    Card(cli::card::Command),
    #[command(flatten)]
    Hsm(Box<cli::hsm::Command>),
    #[command(flatten)]
    Host(cli::host::Command),
    #[command(flatten)]
    Wallet(cli::wallet::Command),
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("HSM_SIM_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    let result = match args.command {
        Command::Card(c) => c.run(),
        Command::Hsm(c) => c.run(),
        Command::Host(c) => c.run(),
        Command::Wallet(c) => c.run(),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("hsm-sim: {e:#}");
            ExitCode::FAILURE
        }
    }
}
