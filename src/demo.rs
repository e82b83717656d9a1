//! Demo mode: virtual cards from `hsm-sim` plugged into the `vpcd` virtual reader, so the
//! terminal reads them through the real `pcscd` exactly as it reads a card on a USB reader.

use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use hsm_sim::card::{Profile, VirtualCard, vpcd};
use hsm_sim::host::HostHandle;

use crate::acquirer::TerminalCredentials;
use crate::reader::{PcscReader, ReaderError};

mod card_drawer;
mod data;

pub use card_drawer::{CardDrawer, DrawerReader};
pub use data::{DemoData, SetUp, default_dir as default_data_dir, open as open_data};

/// The terminal ID of the demo terminal.
pub const DEMO_TERMINAL: &str = "T0000001";
/// The enrolment bundle's directory in a terminal's data directory.
const ENROLMENT: &str = "enrolment";

/// The first vpcd reader, where demo cards go by default.
pub const VIRTUAL_READER: &str = "Virtual PCD 00 00";

/// A virtual card for `profile`, or an error that lists the profiles.
pub fn virtual_card(profile: &str) -> Result<VirtualCard, DemoError> {
    VirtualCard::from_profile(profile).ok_or_else(|| DemoError::UnknownProfile {
        asked: profile.to_owned(),
        known: Profile::names().join(", "),
    })
}

/// Enrols `terminal_id` with the embedded `host`, writes the bundle into `dir` as
/// `hsm-sim enroll --out` does, and reads the terminal's credentials back from it with the
/// terminal's own loader (so the demo runs the production path, PIN key separation included).
pub fn enrol_terminal(
    host: &HostHandle,
    terminal_id: &str,
    dir: &Path,
) -> anyhow::Result<TerminalCredentials> {
    let bundle = host
        .enroll(terminal_id)
        .context("enrolling the demo terminal")?;
    bundle
        .write(dir)
        .with_context(|| format!("writing the enrolment bundle to {}", dir.display()))?;
    TerminalCredentials::load(dir).context("reading the terminal's credentials")
}

/// The TCP address where vpcd's reader `name` waits for a card: `Virtual PCD 00 0N` listens on
/// 35963 + N; `None` for a reader that is not a vpcd reader.
pub fn vpcd_address(name: &str) -> Option<String> {
    let slot: u16 = name.strip_prefix("Virtual PCD 00 ")?.parse().ok()?;
    Some(format!("127.0.0.1:{}", 35_963 + slot))
}

/// Plugs a virtual card of `profile` into the vpcd reader `reader` and waits until pcscd sees
/// it. The card leaves the reader when the guard is dropped.
///
/// The vpcd driver sometimes leaves the first connection after a card vanished mid-exchange
/// unanswered; the card is then re-plugged once, as a person would present it again.
pub fn plug_virtual_card(profile: &str, reader: &PcscReader) -> Result<vpcd::VpcdGuard, DemoError> {
    let address =
        vpcd_address(&reader.name()).ok_or_else(|| DemoError::NotVirtual(reader.name()))?;
    let mut last = None;
    for wait in [Duration::from_secs(3), Duration::from_secs(10)] {
        let guard = vpcd::spawn(virtual_card(profile)?, vpcd::Options::new(address.clone()))
            .map_err(DemoError::Vpcd)?;
        match reader.wait_for_card(wait) {
            Ok(()) => return Ok(guard),
            Err(e) => last = Some(e),
        }
    }
    Err(DemoError::Reader(last.unwrap_or(ReaderError::NoCardInTime)))
}

/// Removes a virtual card and waits until pcscd has seen it go, so the next tap does not find
/// a stale "card present".
pub fn unplug_virtual_card(guard: vpcd::VpcdGuard, reader: &PcscReader) -> Result<(), DemoError> {
    drop(guard);
    reader
        .wait_for_removal(Duration::from_secs(5))
        .map_err(DemoError::Reader)
}

/// Why a demo card could not be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DemoError {
    /// No such profile.
    #[error("no virtual card profile {asked:?}; profiles: {known}")]
    UnknownProfile {
        /// The name asked for.
        asked: String,
        /// The known names.
        known: String,
    },
    /// The reader is not a vpcd reader.
    #[error("demo cards go into a vpcd reader; {0:?} is not one")]
    NotVirtual(String),
    /// The card could not connect to vpcd.
    #[error("cannot plug the virtual card into vpcd")]
    Vpcd(#[source] vpcd::VpcdError),
    /// The reader did not see the card (or its removal).
    #[error("the virtual reader did not see the card")]
    Reader(#[source] ReaderError),
}
