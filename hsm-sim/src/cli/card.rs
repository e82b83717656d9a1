//! `hsm-sim` console commands for the card area.

use std::process::ExitCode;

use anyhow::Context as _;

use crate::card::{Profile, VirtualCard, vpcd};

/// The card commands.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Run a virtual contactless card behind vpcd (the card is then read through pcscd), or list
    /// or dump the card profiles.
    #[command(group(clap::ArgGroup::new("action").required(true).args(["profile", "list", "dump"])))]
    Card {
        /// Run the card with this profile (see --list).
        #[arg(long, value_name = "NAME")]
        profile: Option<String>,
        /// The vpcd reader to connect to.
        #[arg(long, value_name = "HOST:PORT", default_value = vpcd::DEFAULT_ADDRESS)]
        vpcd: String,
        /// Exit after the first power-off that follows a transaction.
        #[arg(long)]
        once: bool,
        /// Start the ATC at this value (the first tap answers ATC + 1), instead of the
        /// profile's initial value.
        #[arg(long, value_name = "N")]
        atc: Option<u16>,
        /// List the profiles.
        #[arg(long)]
        list: bool,
        /// Print a profile's personalization, PAN and track 2 masked.
        #[arg(long, value_name = "NAME")]
        dump: Option<String>,
    },
}

impl Command {
    /// Runs the command.
    pub fn run(self) -> anyhow::Result<ExitCode> {
        match self {
            Self::Card { list: true, .. } => {
                for profile in Profile::all() {
                    println!("{:<18} {}", profile.name(), profile.description());
                }
                Ok(ExitCode::SUCCESS)
            }
            Self::Card {
                dump: Some(name), ..
            } => {
                let profile = known_profile(&name)?;
                print!("{}", dump(&profile));
                Ok(ExitCode::SUCCESS)
            }
            Self::Card {
                profile: Some(name),
                vpcd: address,
                once,
                atc,
                ..
            } => {
                let profile = known_profile(&name)?;
                let mut card = VirtualCard::new(profile);
                if let Some(atc) = atc {
                    card = card.with_atc(atc);
                }
                let options = vpcd::Options {
                    once,
                    ..vpcd::Options::new(address)
                };
                let summary = vpcd::run(&mut card, &options)
                    .with_context(|| format!("running card {name} on vpcd {}", options.address))?;
                eprintln!(
                    "card {name}: {} tap(s), {} command(s), ATC {:04X}",
                    summary.taps, summary.commands, summary.atc
                );
                Ok(ExitCode::SUCCESS)
            }
            Self::Card { .. } => anyhow::bail!("give --profile NAME, --list or --dump NAME"),
        }
    }
}

fn known_profile(name: &str) -> anyhow::Result<Profile> {
    Profile::by_name(name).with_context(|| {
        format!(
            "unknown card profile {name:?}; known: {}",
            Profile::names().join(", ")
        )
    })
}

/// The personalization as text: header fields, then every record as a TLV tree, with the PAN
/// (`5A`) masked and track 2 (`57`) shown by length only.
fn dump(profile: &Profile) -> String {
    let mut out = String::new();
    out += &format!("profile      {} ({:?})\n", profile.name(), profile.scheme());
    out += &format!("description  {}\n", profile.description());
    out += &format!("AID          {}\n", hex::encode_upper(profile.aid()));
    out += &format!("label        {}\n", profile.label().escape_debug());
    out += &format!("PAN          {}\n", profile.masked_pan());
    out += &format!("expiry       {} (YYMM)\n", profile.expiry());
    out += &format!("PSN          {:02X}\n", profile.pan_sequence_number());
    out += &format!("initial ATC  {:04X}\n", profile.initial_atc());
    out += &format!("cryptogram   {:?}\n", profile.cryptogram_version());
    out += &format!("AIP          {}\n", hex::encode_upper(profile.aip()));
    out += &format!("AFL          {}\n", hex::encode_upper(profile.afl()));
    out += &format!("PDOL         {}\n", hex::encode_upper(profile.pdol()));
    out += &format!("CDOL1        {}\n", hex::encode_upper(profile.cdol1()));
    if let Some(fault) = profile.fault() {
        out += &format!("fault        {fault:?}\n");
    }
    for record in profile.records() {
        out += &format!("record SFI {} #{}\n", record.sfi, record.number);
        dump_objects(&mut out, &record.bytes);
    }
    out
}

/// The objects of a record, one per line, through the EMV dictionary of `emv::tlv`: the PAN
/// masked, track 2, the cardholder name and other sensitive values redacted.
fn dump_objects(out: &mut String, bytes: &[u8]) {
    match emv::tlv::parse(bytes) {
        Ok(objects) => {
            for line in emv::tlv::dump(&objects).lines() {
                *out += &format!("  {line}\n");
            }
        }
        Err(e) => *out += &format!("  (malformed: {e})\n"),
    }
}
