//! Shared pieces of the engine tests: an embedded acquirer host (the real hsm-sim over TLS), a
//! terminal enrolled with it, a PIN entry double that builds real format-4 PIN blocks under the
//! bundle's DUKPT key, virtual cards through pcscd + vpcd, and a file lock shared with
//! `tests/pcsc_e2e.rs` because the vpcd reader holds one card at a time.

#![allow(dead_code, unreachable_pub)]

use std::collections::VecDeque;
use std::fs::File;
use std::path::{Path, PathBuf};

use hsm_sim::host::client::TerminalDukpt;
use hsm_sim::host::ledger::{LedgerEntry, LedgerView};
use hsm_sim::host::{EnrolmentBundle, Host, HostConfig, HostHandle};
use softpos::acquirer::TerminalCredentials;
use softpos::demo;
use softpos::engine::{Engine, EngineSettings, Event, Tip, TxResult};
use softpos::pinpad::{EncryptedPin, PinEntry, PinEntryError, PinRequest};
use softpos::reader::PcscReader;

/// The terminal ID the tests enrol.
pub const TERMINAL: &str = "T0000001";
/// The demo accounts' PIN (`hsm_sim::host::issuer::demo_accounts`).
pub const DEMO_PIN: &str = "1234";
/// The Visa profile's PAN and the Mastercard profile's PAN.
pub const VISA_PAN: &str = "4761739001010119";
/// The Mastercard profile's PAN.
pub const MASTERCARD_PAN: &str = "5413330089010434";

/// The engine's one queued advice (journal `id`, `amount`) is uploaded exactly once: two more
/// flushes send nothing, the host holds one approved advice of that amount, and the journal row
/// ends done and approved. Returns the host's ledger entry of the advice.
pub fn assert_advice_uploaded_once(
    engine: &mut Engine,
    world: &World,
    id: i64,
    amount: i64,
) -> LedgerEntry {
    assert_eq!(engine.flush_pending(), 0);
    assert_eq!(engine.flush_pending(), 0);
    let mut advices: Vec<_> = world
        .ledger()
        .into_iter()
        .filter(|e| e.kind == "advice")
        .collect();
    assert_eq!(advices.len(), 1, "{advices:?}");
    let advice = advices.remove(0);
    assert!(advice.approved);
    assert_eq!(advice.amount, amount);
    let rec = engine.journal().get(id).unwrap().unwrap();
    assert_eq!(rec.state, softpos::journal::TxState::Done);
    assert!(rec.approved);
    advice
}

/// A host and a terminal data directory in one temporary directory.
pub struct World {
    pub dir: tempfile::TempDir,
    pub host: Option<HostHandle>,
    pub bundle: EnrolmentBundle,
    /// The terminal's credentials, read from the written bundle as the terminal reads them.
    pub credentials: TerminalCredentials,
}

impl World {
    /// Starts a host and enrols [`TERMINAL`]; the bundle is also written to
    /// `terminal/enrolment` for the `softpos` binary.
    pub fn start() -> Self {
        Self::start_seeded(&[])
    }

    /// Like [`World::start`], with extra accounts seeded before the host starts.
    pub fn start_seeded(accounts: &[hsm_sim::host::ledger::AccountSeed]) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        if !accounts.is_empty() {
            hsm_sim::host::seed_accounts(&dir.path().join("host"), accounts).expect("seeded");
        }
        let host = Host::start(HostConfig::new(dir.path().join("host"))).expect("host starts");
        let bundle = host.enroll(TERMINAL).expect("enrolment");
        let enrolment = dir.path().join("terminal").join("enrolment");
        bundle.write(&enrolment).expect("bundle written");
        let credentials = TerminalCredentials::load(&enrolment).expect("credentials");
        Self {
            dir,
            host: Some(host),
            bundle,
            credentials,
        }
    }

    pub fn host(&self) -> &HostHandle {
        self.host.as_ref().expect("host running")
    }

    pub fn terminal_dir(&self) -> PathBuf {
        self.dir.path().join("terminal")
    }

    pub fn ledger(&self) -> Vec<LedgerEntry> {
        LedgerView::open(&self.dir.path().join("host").join("ledger.sqlite"))
            .expect("ledger")
            .entries()
            .expect("entries")
            .into_iter()
            .filter(|e| e.terminal_id == TERMINAL)
            .collect()
    }

    pub fn balance(&self, pan: &str) -> i64 {
        LedgerView::open(&self.dir.path().join("host").join("ledger.sqlite"))
            .expect("ledger")
            .balance(pan)
            .expect("balance")
            .expect("account")
    }
}

/// The journal and the ledger agree: nothing is pending; every sale and refund stands in both
/// (approved, neither reversed nor voided) or in neither; the balance of `pan` moved by exactly
/// the journal's standing sales less its standing refunds.
pub fn assert_consistent(world: &World, pan: &str, initial_balance: i64) {
    let journal = softpos::journal::Journal::open(&world.terminal_dir()).expect("journal");
    assert_journal_consistent(&journal, world, pan, initial_balance);
}

/// [`assert_consistent`] with the journal of an engine still open (one process holds the data
/// directory at a time, so the test cannot open it a second time).
pub fn assert_journal_consistent(
    journal: &softpos::journal::Journal,
    world: &World,
    pan: &str,
    initial_balance: i64,
) {
    use softpos::journal::TxKind;
    let ledger = world.ledger();
    let records = journal.all().expect("records");
    // What the account moved by, from the journal: sales that stand take, refunds that stand
    // give back. A voided or reversed transaction stands nowhere.
    let mut moved = 0i64;
    let mut standing_stans = Vec::new();
    for rec in &records {
        assert!(
            rec.state.is_final(),
            "transaction {} left in {:?}",
            rec.id,
            rec.state
        );
        let kinds: &[&str] = match rec.kind {
            TxKind::Sale => &["purchase", "advice"],
            TxKind::Refund => &["refund"],
            _ => continue,
        };
        let at_host = rec.stan.and_then(|stan| {
            ledger.iter().find(|e| {
                kinds.contains(&e.kind.as_str())
                    && e.stan == format!("{stan:06}")
                    && Some(&e.transmission) == rec.transmission.as_ref()
            })
        });
        let host_stands = at_host.is_some_and(|e| e.approved && !e.reversed);
        let stands = rec.approved && !rec.voided;
        assert_eq!(
            stands, host_stands,
            "transaction {} ({:?} {:?}, {:?}): it stands in the journal: {}, at the host: {}",
            rec.id, rec.kind, rec.state, rec.result, stands, host_stands
        );
        if stands {
            let amount = i64::try_from(rec.amount).expect("amount");
            moved += if rec.kind == TxKind::Refund {
                amount
            } else {
                -amount
            };
            standing_stans.push(rec.stan);
        }
    }
    // Every purchase or refund that stands at the host stands in the journal too.
    for e in ledger
        .iter()
        .filter(|e| matches!(e.kind.as_str(), "purchase" | "refund") && e.approved && !e.reversed)
    {
        let stan: u32 = e.stan.parse().expect("stan");
        assert!(
            standing_stans.contains(&Some(stan)),
            "the host holds {} STAN {} that the journal does not show as standing",
            e.kind,
            e.stan
        );
    }
    assert_eq!(world.balance(pan), initial_balance + moved);
}

/// The terminal's ODA with the simulator's CA public keys (`assets/capk/simulator.toml`).
pub fn simulator_oda() -> Box<dyn emv::oda::OfflineDataAuthenticator + Send + Sync> {
    let keys = emv::oda::CaKeyStore::from_str(include_str!("../../assets/capk/simulator.toml"))
        .expect("simulator CA keys");
    Box::new(emv::oda::Authenticator::new(keys))
}

/// A PIN entry double: "types" the queued PINs, building the format-4 PIN block under the
/// bundle's AES DUKPT key exactly as the PIN pad does.
pub struct TestPin {
    dukpt: TerminalDukpt,
    pins: VecDeque<&'static str>,
    pub asked: usize,
}

impl TestPin {
    pub fn new(bundle: &EnrolmentBundle, pins: &[&'static str]) -> Self {
        Self {
            dukpt: TerminalDukpt::from_bundle(bundle).expect("bundle has DUKPT"),
            pins: pins.iter().copied().collect(),
            asked: 0,
        }
    }
}

impl TestPin {
    /// Queues one more PIN to "type".
    pub fn queue(&mut self, pin: &'static str) {
        self.pins.push_back(pin);
    }
}

impl PinEntry for TestPin {
    fn collect(&mut self, request: &PinRequest<'_>) -> Result<EncryptedPin, PinEntryError> {
        self.asked += 1;
        let pin = self.pins.pop_front().ok_or(PinEntryError::Cancelled)?;
        let ksn = self
            .dukpt
            .next_ksn()
            .map_err(|e| PinEntryError::Unavailable(e.to_string()))?;
        let pin_block = self
            .dukpt
            .pin_block(ksn, pin, request.pan.expose_digits())
            .map_err(|e| PinEntryError::Unavailable(e.to_string()))?;
        Ok(EncryptedPin {
            ksn,
            pin_block,
            digits: u8::try_from(pin.len()).unwrap_or(4),
        })
    }
}

/// The vpcd reader, taken for the life of the guard (a file lock shared with
/// `tests/pcsc_e2e.rs`, so test binaries run side by side too).
pub struct VpcdTurn {
    _lock: File,
}

pub fn take_vpcd() -> VpcdTurn {
    let file = File::create(VPCD_LOCK).expect("lock file");
    // `File::lock` is stable since Rust 1.89; the tests run on the pinned toolchain (1.95).
    #[allow(clippy::incompatible_msrv)]
    file.lock().expect("vpcd lock");
    VpcdTurn { _lock: file }
}

/// The vpcd reader with a virtual card of `profile` plugged in.
pub fn plug(profile: &str) -> (PcscReader, hsm_sim::card::vpcd::VpcdGuard) {
    let reader = PcscReader::open(Some(demo::VIRTUAL_READER)).unwrap_or_else(|e| {
        panic!("{e}: is pcscd with vsmartcard-vpcd running? `scripts/test` starts it")
    });
    // A card a killed process left behind must be gone first.
    let _ = reader.wait_for_removal(std::time::Duration::from_secs(5));
    let card = demo::plug_virtual_card(profile, &reader)
        .unwrap_or_else(|e| panic!("the virtual card {profile} does not appear: {e:?}"));
    (reader, card)
}

/// A virtual card of `profile` in this process (no pcscd, no shared reader).
pub fn in_process(profile: &str) -> softpos::reader::VirtualCardSource {
    softpos::reader::VirtualCardSource::new(
        demo::virtual_card(profile).unwrap_or_else(|e| panic!("profile {profile}: {e:?}")),
    )
}

/// Unplugs and waits until pcscd saw the card go.
pub fn unplug(reader: &PcscReader, card: hsm_sim::card::vpcd::VpcdGuard) {
    demo::unplug_virtual_card(card, reader).expect("the virtual card leaves");
}

/// Polls `done` every 20 ms until it holds; panics naming `what` after `timeout`.
pub fn wait_until(timeout: std::time::Duration, what: &str, mut done: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + timeout;
    while !done() {
        assert!(
            std::time::Instant::now() < deadline,
            "still not {what} after {timeout:?}"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// The seed of a randomised test: `var` if set (to replay a failure), else one derived from
/// the process id and the clock. Printed either way, so a failing run can be replayed.
pub fn seed(var: &str) -> u64 {
    let seed = std::env::var(var)
        .ok()
        .and_then(|s| {
            let s = s.trim_start_matches("0x");
            u64::from_str_radix(s, 16).ok()
        })
        .unwrap_or_else(|| {
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| u64::from(d.subsec_nanos()));
            (u64::from(std::process::id()) << 32) ^ nanos
        });
    eprintln!("seed: {var}={seed:#x}");
    seed
}

/// The tests' engine settings: `response_timeout` for the host's answer and 50 ms between
/// reversal attempts, the rest default.
pub fn engine_settings(response_timeout: std::time::Duration) -> EngineSettings {
    let mut settings = EngineSettings::default();
    settings.link.response_timeout = response_timeout;
    settings.reversal_backoff = std::time::Duration::from_millis(50);
    settings
}

/// An engine on the world's terminal directory reaching the host with `credentials`, the
/// terminal configuration with `overrides` and the simulator's CA keys; not yet signed on.
pub fn open_engine(
    world: &World,
    credentials: &TerminalCredentials,
    overrides: &str,
    settings: EngineSettings,
) -> Engine {
    Engine::open(
        &world.terminal_dir(),
        credentials,
        terminal_config(overrides),
        simulator_oda(),
        settings,
    )
    .expect("engine opens")
}

/// [`open_engine`] with the world's own credentials, signed on.
pub fn signed_on_engine(world: &World, overrides: &str, settings: EngineSettings) -> Engine {
    let mut engine = open_engine(world, &world.credentials, overrides, settings);
    engine.sign_on().expect("sign-on");
    engine
}

/// A sale of `amount` on an in-process virtual card of `profile`.
pub fn sale_on(
    engine: &mut Engine,
    world: &World,
    profile: &str,
    amount: u64,
) -> (TxResult, Vec<Event>) {
    let mut reader = in_process(profile);
    let mut pin = TestPin::new(&world.bundle, &[]);
    let mut events = Vec::new();
    let result = engine
        .sale(&mut reader, &mut pin, amount, Tip::None, &mut |e| {
            events.push(e)
        })
        .expect("sale runs");
    (result, events)
}

/// The terminal configuration with `overrides` (TOML) on the embedded defaults.
pub fn terminal_config(overrides: &str) -> emv::config::TerminalConfig {
    let base = emv::config::TerminalConfig::default_embedded().expect("defaults");
    if overrides.is_empty() {
        base
    } else {
        base.with_overrides(overrides).expect("overrides")
    }
}

pub fn exists(p: &Path) -> bool {
    p.exists()
}

/// The lock file shared with `tests/pcsc_e2e.rs`.
pub const VPCD_LOCK: &str = "/tmp/softpos-vpcd.lock";
