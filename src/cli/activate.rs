//! `softpos activate CODE --host HOST:PORT`: enrols this terminal with a one-time activation
//! code (`docs/enrolment.md`): device key made here, PIN key wrapped for the PIN pad.

use std::process::ExitCode;

use anyhow::Context as _;
use clap::Args;

use super::pay::{DataArgs, ENROLMENT_DIR, data_dir};
use crate::activation::{self, ActivationCode, DeviceKey};
use crate::pinpad::{PinPadConfig, PinPadProcess};

/// Arguments of `softpos activate`.
#[derive(Debug, Args)]
pub(crate) struct ActivateArgs {
    /// The code from your provider, like `7Q4K-P9XM-4DKC-WZ2B-HN8Q`.
    code: String,
    /// The host's enrolment API, `HOST:PORT`.
    #[arg(long)]
    host: String,
    #[command(flatten)]
    data: DataArgs,
}

/// Runs `softpos activate`.
pub(crate) fn run(args: ActivateArgs) -> anyhow::Result<ExitCode> {
    let code = ActivationCode::parse(&args.code)?;
    let dir = data_dir(&args.data)?.join(ENROLMENT_DIR);
    if dir.join(crate::acquirer::MANIFEST_FILE).exists() {
        anyhow::bail!(
            "this terminal is enrolled already ({}); re-enrolment needs a fresh data directory",
            dir.display()
        );
    }
    let pad = PinPadProcess::new(PinPadConfig::next_to_current_exe()?);
    let pad_key = pad.public_key().context("asking the PIN pad for its key")?;
    let device = DeviceKey::generate()?;
    let request = activation::signed_request(&code, &device, &pad_key)?;
    let answer = activation::client::post(&args.host, &code, &request)?;
    let activated = activation::install(&code, &device, &answer, &dir)?;
    let ksn = pad
        .install_wrapped_key(&activated.pin_key_wrapped)
        .context("installing the PIN key in the PIN pad")?;
    if let Some(key) = &activated.attestation_key {
        pad.trust_attestation(&activated.terminal_id, key)
            .context("giving the PIN pad the host's attestation key")?;
    }
    println!(
        "activated: terminal {} of {}; PIN key {} installed in the PIN pad; enrolment in {}",
        activated.terminal_id,
        activated.merchant,
        hex::encode_upper(ksn.get(..8).unwrap_or_default()),
        dir.display()
    );
    Ok(ExitCode::SUCCESS)
}
