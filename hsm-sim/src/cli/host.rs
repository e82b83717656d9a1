//! `hsm-sim` console commands for the host area.

use std::process::ExitCode;

/// The host commands.
#[derive(Debug, clap::Subcommand)]
pub enum Command {}

impl Command {
    /// Runs the command.
    pub fn run(self) -> anyhow::Result<ExitCode> {
        match self {}
    }
}
