//! The PIN pad binaries' command line (`softpos-pinpad`, `softpos-pinpad-test`).
//!
//! Without arguments the process serves one PIN entry over its standard input and output (the
//! terminal's pipe, `docs/pinpad.md`). `install-key BUNDLE_DIR` seals the enrolment bundle's
//! PIN key into the pad's store. `--help` and `--version` answer and exit 0; anything else is a
//! usage error (exit 2) before any file or the pipe is touched.

use std::path::PathBuf;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

/// The secure PIN entry process of softpos.
///
/// Run without arguments by the terminal, it serves one PIN entry over its standard input and
/// output.
#[derive(Debug, Parser)]
#[command(version)]
pub struct PinPadCli {
    /// What to do; nothing: one PIN entry for the terminal over stdin/stdout.
    #[command(subcommand)]
    pub command: Option<PinPadCommand>,
}

/// The PIN pad's commands.
#[derive(Debug, Subcommand)]
pub enum PinPadCommand {
    /// Seals the enrolment bundle's DUKPT initial key into the pad's store, then destroys the
    /// clear key file (`docs/enrolment-bundle.md`).
    InstallKey {
        /// The enrolment bundle directory (`hsm-sim enroll --out DIR`).
        bundle_dir: PathBuf,
    },
}

impl PinPadCli {
    /// Parses the process arguments for the binary called `name`. `--help` and `--version`
    /// print and exit 0; a usage error prints and exits 2 (clap's rules).
    pub fn parse_for(name: &'static str) -> Self {
        let matches = Self::command().name(name).bin_name(name).get_matches();
        Self::from_arg_matches(&matches).unwrap_or_else(|e| e.exit())
    }

    /// Parses `args` (the first one is the program name), for tests.
    pub fn try_parse_args<I, T>(args: I) -> Result<Self, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        Self::try_parse_from(args)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_argument_is_a_pin_entry_and_install_key_takes_a_directory() {
        let cli = PinPadCli::try_parse_args(["softpos-pinpad"]).unwrap();
        assert!(cli.command.is_none());
        let cli = PinPadCli::try_parse_args(["softpos-pinpad", "install-key", "/b"]).unwrap();
        assert!(matches!(
            cli.command,
            Some(PinPadCommand::InstallKey { bundle_dir }) if bundle_dir == std::path::Path::new("/b")
        ));
    }

    #[test]
    fn help_and_version_are_not_bundles() {
        for args in [
            &["softpos-pinpad", "--help"][..],
            &["softpos-pinpad", "--version"],
            &["softpos-pinpad", "install-key", "--help"],
        ] {
            let error = PinPadCli::try_parse_args(args).unwrap_err();
            assert!(
                matches!(
                    error.kind(),
                    clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion
                ),
                "{args:?}: {error}"
            );
        }
        assert!(PinPadCli::try_parse_args(["softpos-pinpad", "--bundle"]).is_err());
        assert!(PinPadCli::try_parse_args(["softpos-pinpad", "install-key"]).is_err());
    }
}
