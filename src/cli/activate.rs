//! `softpos activate CODE --host HOST:PORT`: enrols this terminal with a one-time activation
//! code (`docs/enrolment.md`): device key made here, PIN key wrapped for the PIN pad. Without a
//! code, on a display, the "Activate this terminal" window asks for it, and the terminal's GUI
//! follows.

use std::process::ExitCode;

use clap::Args;

use super::pay::{DataArgs, ENROLMENT_DIR, data_dir};
use crate::activation::{self, ActivationCode};
use crate::pinpad::{PinPadConfig, PinPadProcess};

/// Arguments of `softpos activate`.
#[derive(Debug, Args)]
pub(crate) struct ActivateArgs {
    /// The code from your provider, like `7Q4K-P9XM-4DKC-WZ2B-HN8Q`. Without it the
    /// activation window asks for it.
    code: Option<String>,
    /// The host's enrolment API, `HOST:PORT` (required with a code).
    #[arg(long)]
    host: Option<String>,
    #[command(flatten)]
    data: DataArgs,
}

/// Runs `softpos activate`.
pub(crate) fn run(args: ActivateArgs) -> anyhow::Result<ExitCode> {
    let Some(code) = &args.code else {
        return super::start::activation_window(&args.data, args.host.as_deref());
    };
    let code = ActivationCode::parse(code)?;
    let host = args
        .host
        .as_deref()
        .ok_or_else(|| anyhow::anyhow!("the host's address is missing: --host HOST:PORT"))?;
    let dir = data_dir(&args.data)?.join(ENROLMENT_DIR);
    if dir.join(crate::acquirer::MANIFEST_FILE).exists() {
        anyhow::bail!(
            "this terminal is enrolled already ({}); re-enrolment needs a fresh data directory",
            dir.display()
        );
    }
    let pad = PinPadProcess::new(PinPadConfig::next_to_current_exe()?);
    let activated = activation::activate_with_pad(&code, host, &dir, &pad)?;
    let ksn = activated.initial_ksn;
    println!(
        "activated: terminal {} of {}; PIN key {} installed in the PIN pad; enrolment in {}",
        activated.terminal_id,
        activated.merchant,
        hex::encode_upper(ksn.get(..8).unwrap_or_default()),
        dir.display()
    );
    Ok(ExitCode::SUCCESS)
}
