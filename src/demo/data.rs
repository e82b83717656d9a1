//! The demo's persistent data directory, `$XDG_STATE_HOME/softpos-demo` (else
//! `$HOME/.local/state/softpos-demo`):
//!
//! - `host/`: the embedded acquirer host's CA, keys, accounts and ledger;
//! - `terminal/`: the demo terminal's data directory (journal, `enrolment/` bundle);
//! - `pinpad/`: the demo PIN pad's key store, separate from the production store
//!   (`softpos/pinpad`), named to the pad through `$SOFTPOS_PINPAD_DEMO_STORE`, which only demo
//!   builds read.
//!
//! The first run enrols [`DEMO_TERMINAL`] with the host and installs the bundle's DUKPT
//! initial key into the demo pad store through `softpos-pinpad install-key`, the production
//! path (the clear key file is destroyed). Later runs reuse all three, so the journal's history
//! and the host's ledger stay consistent. The host listens on a new loopback port each run; the
//! bundle's address is replaced by it when the bundle is read, and the virtual cards continue
//! their ATCs after the last ones the host saw.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::Context;
use hsm_sim::card::{Profile, continue_atc_after};
use hsm_sim::host::ledger::LedgerView;
use hsm_sim::host::{Host, HostConfig, HostHandle};

use super::{DEMO_TERMINAL, ENROLMENT};
use crate::acquirer::{MANIFEST_FILE, TerminalCredentials};
use crate::dir_lock::DirLock;
use crate::pinpad::PinPadConfig;
use crate::pinpad::keystore::{self, DEMO_STORE_ENV};
use crate::pinpad::profile::PROFILE_FILE;

/// The demo's host, terminal and PIN pad, ready for a sale.
pub struct DemoData {
    /// The embedded acquirer host (shut it down when done).
    pub host: HostHandle,
    /// The demo terminal's credentials, pointing at this run's host address.
    pub credentials: TerminalCredentials,
    /// The demo terminal's data directory.
    pub terminal_dir: PathBuf,
    /// The PIN pad `pinpad` with the demo store.
    pub pin_pad: PinPadConfig,
    /// The embedded host's wallet CA key: offline codes of its wallets verify under it.
    pub wallet_ca: [u8; 32],
    /// What this run set up: enrolment and key installation, or nothing (all reused).
    pub set_up: SetUp,
    _lock: DirLock,
}

/// What [`open`] had to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SetUp {
    /// Enrolled the terminal and installed the pad's key.
    EnrolledAndInstalled,
    /// Reused the bundle, installed the pad's key (a previous run stopped in between).
    Installed,
    /// Reused the enrolment and the installed key.
    Reused,
}

/// The demo data directory: `$XDG_STATE_HOME/softpos-demo`, else
/// `$HOME/.local/state/softpos-demo`; `None` without either variable.
pub fn default_dir() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_STATE_HOME")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/state")))?;
    Some(base.join("softpos-demo"))
}

/// Opens (first run: creates) the demo data in `dir` and starts its host. `pinpad` is the PIN
/// pad program; it installs the key on the first run and takes every PIN. One demo at a time
/// uses `dir`.
pub fn open(dir: &Path, pinpad: &Path) -> anyhow::Result<DemoData> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .with_context(|| format!("creating the demo directory {}", dir.display()))?;
    let lock = DirLock::try_acquire(dir, LOCK_FILE)
        .with_context(|| format!("another demo is using {}", dir.display()))?;
    let host_dir = dir.join("host");
    let host = Host::start(HostConfig::new(host_dir.clone()))
        .context("starting the embedded acquirer host")?;
    let wallet_ca = hsm_sim::host::wallets::ca_public_key(&host_dir)
        .context("reading the embedded host's wallet CA")?
        .to_bytes();
    continue_card_counters(&host)?;
    let terminal_dir = dir.join("terminal");
    let bundle_dir = terminal_dir.join(ENROLMENT);
    let enrolled_now = !bundle_dir.join(MANIFEST_FILE).exists();
    if enrolled_now {
        host.enroll(DEMO_TERMINAL)
            .context("enrolling the demo terminal")?
            .write(&bundle_dir)
            .with_context(|| format!("writing the enrolment bundle to {}", bundle_dir.display()))?;
    }
    let mut credentials =
        TerminalCredentials::load(&bundle_dir).context("reading the demo terminal's bundle")?;
    credentials.host = host.local_addr().to_string();
    let store = dir.join(PAD_STORE);
    let installed_now = !keystore::is_installed(&store);
    if installed_now {
        install_key(pinpad, &bundle_dir, &store)?;
    }
    // The demo pad runs on any desktop, X11 included, with the pad's "not secure" banner.
    let profile = store.join(PROFILE_FILE);
    if !profile.exists() {
        fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&profile)
            .and_then(|mut f| f.write_all(b"profile = \"development\"\n"))
            .with_context(|| format!("writing {}", profile.display()))?;
    }
    let mut pin_pad = PinPadConfig::new(pinpad);
    pin_pad
        .env
        .push((DEMO_STORE_ENV.into(), store.into_os_string()));
    let set_up = match (enrolled_now, installed_now) {
        (true, _) => SetUp::EnrolledAndInstalled,
        (false, true) => SetUp::Installed,
        (false, false) => SetUp::Reused,
    };
    Ok(DemoData {
        host,
        credentials,
        terminal_dir,
        pin_pad,
        wallet_ca,
        set_up,
        _lock: lock,
    })
}

/// The virtual cards live in this process and would start their ATCs over, while the host
/// remembers each account's last one and declines a replay: the cards continue after it.
fn continue_card_counters(host: &HostHandle) -> anyhow::Result<()> {
    let ledger = LedgerView::open(&host.ledger_path()).context("reading the demo host's ledger")?;
    for profile in Profile::all() {
        if let Some(atc) = ledger
            .last_atc(profile.pan_digits())
            .context("reading the demo host's ledger")?
        {
            continue_atc_after(&profile, u16::try_from(atc).unwrap_or(u16::MAX));
        }
    }
    Ok(())
}

/// `pinpad install-key bundle_dir` into the demo store `store`: seals the bundle's PIN key and
/// destroys its clear copy.
fn install_key(pinpad: &Path, bundle_dir: &Path, store: &Path) -> anyhow::Result<()> {
    let output = Command::new(pinpad)
        .arg("install-key")
        .arg(bundle_dir)
        .env_remove(keystore::STORE_ENV)
        .env(DEMO_STORE_ENV, store)
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("starting {}", pinpad.display()))?;
    if !output.status.success() {
        // The pad writes no secret to stderr (only the key's initial key ID and paths).
        anyhow::bail!(
            "{} install-key failed: {}; to start the demo over, remove {}",
            pinpad.display(),
            String::from_utf8_lossy(&output.stderr).trim(),
            store.parent().unwrap_or(store).display()
        );
    }
    Ok(())
}

/// The demo PIN pad's key store inside the demo directory.
const PAD_STORE: &str = "pinpad";
const LOCK_FILE: &str = "demo.lock";
