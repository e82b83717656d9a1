//! The `softpos-pinpad` process: hardening, one request, one entry, one answer.
//!
//! Order of work (security doc A and B): no core dumps and not dumpable (P9) → read the
//! request → check the display against the pad's own profile (P3, [`super::profile`]; never the
//! terminal's say) → open the key store → pick the layout (P4) → reserve and
//! persist the KSN (C2; exhausted → KEYS EXHAUSTED before any window) → show the keypad → on OK,
//! derive the PIN key, build and encrypt the format 4 block, zeroize the digits and the key,
//! answer → wait until the terminal closes the pipe. Nothing else is ever written to stdout,
//! and nothing secret to stderr.

use std::io::{self, Write};
use std::path::Path;
use std::process::ExitCode;
use std::sync::mpsc;
use std::thread;
use std::time::{SystemTime, UNIX_EPOCH};

use emv::crypto::attestation_token;
use emv::crypto::dukpt::Ksn;
use emv::crypto::key_wrap::PUBLIC_KEY_LEN;
use emv::crypto::pin_block::{self, FillSource, OsFill};

use super::EncryptedPin;
use super::buffer::PinBuffer;
use super::command_line::{PinPadCli, PinPadCommand};
use super::keypad::Layout;
use super::keystore::attestation_trust::{self, AttestationTrust};
use super::keystore::{self, Keystore, KeystoreError};
use super::pin_key::PinInitialKey;
use super::profile::{self, Profile};
use super::protocol::{
    DisplayKind, EntryRequest, PinPadMessage, ProtocolError, Refusal, TerminalMessage, read_frame,
    write_frame,
};
use super::session::{Progress, Session};

/// Where the key presses come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputMode {
    /// The Slint window: the only mode of `softpos-pinpad`.
    Screen,
    /// A key script file named by [`TEST_KEYS_ENV`] (`softpos-pinpad-test`, built only with the
    /// `pinpad-test-input` feature).
    TestFile,
}

/// The environment variable naming a test key script. `softpos-pinpad` refuses to run when it
/// is set.
pub const TEST_KEYS_ENV: &str = "SOFTPOS_PINPAD_TEST_KEYS";

/// Runs the process. The binaries' `main`.
pub fn main(mode: InputMode) -> ExitCode {
    harden();
    let name = match mode {
        InputMode::Screen => "softpos-pinpad",
        InputMode::TestFile => "softpos-pinpad-test",
    };
    if let Some(PinPadCommand::InstallKey { bundle_dir }) = PinPadCli::parse_for(name).command {
        return install_key(&bundle_dir);
    }
    let mut stdin = io::stdin();
    let mut out = io::stdout();
    let request = match read_frame(&mut stdin).and_then(|f| TerminalMessage::decode(&f)) {
        Ok(TerminalMessage::EnterPin(r)) => r,
        Ok(TerminalMessage::Cancel) => return answer(&mut out, &PinPadMessage::Cancelled),
        Ok(TerminalMessage::PublicKey) => return answer(&mut out, &public_key()),
        Ok(TerminalMessage::InstallKey(blob)) => {
            return answer(&mut out, &install_wrapped_key(&blob));
        }
        Ok(TerminalMessage::TrustAttestation {
            terminal_id,
            host_key,
        }) => {
            return answer(&mut out, &trust_attestation(terminal_id, host_key));
        }
        Err(ProtocolError::Version(_)) => {
            return answer(&mut out, &PinPadMessage::Refused(Refusal::Version));
        }
        Err(ProtocolError::Closed) => return ExitCode::from(2),
        Err(_) => return answer(&mut out, &PinPadMessage::Refused(Refusal::BadRequest)),
    };
    if let Err(r) = check_attestation(&keystore::default_dir(), &request) {
        return answer(&mut out, &PinPadMessage::Refused(r));
    }
    let display = match display_for(mode, profile::load(&keystore::default_dir())) {
        Ok(d) => d,
        Err(r) => return answer(&mut out, &PinPadMessage::Refused(r)),
    };
    let mut store = match Keystore::open(&keystore::default_dir()) {
        Ok(s) => s,
        Err(_) => return answer(&mut out, &PinPadMessage::Refused(Refusal::KeyStore)),
    };
    let layout = if request.accessible {
        Layout::phone()
    } else {
        match Layout::shuffled(store.last_layout()) {
            Ok(l) => l,
            Err(_) => return answer(&mut out, &PinPadMessage::Refused(Refusal::Encryption)),
        }
    };
    let ksn = match store.reserve(&layout) {
        Ok(k) => k,
        Err(KeystoreError::Exhausted) => return answer(&mut out, &PinPadMessage::KeysExhausted),
        Err(KeystoreError::TooManyEntries { .. }) => {
            return answer(&mut out, &PinPadMessage::Refused(Refusal::TooManyEntries));
        }
        Err(_) => return answer(&mut out, &PinPadMessage::Refused(Refusal::KeyStore)),
    };

    // The terminal may cancel at any time; a closed pipe is a cancel too.
    let (events, terminal) = mpsc::channel();
    let (closed_tx, closed) = mpsc::channel();
    thread::spawn(move || {
        let mut stdin = io::stdin();
        loop {
            match read_frame(&mut stdin).and_then(|f| TerminalMessage::decode(&f)) {
                Ok(TerminalMessage::Cancel) => {
                    let _ = events.send(TerminalEvent::Cancel);
                }
                Ok(
                    TerminalMessage::EnterPin(_)
                    | TerminalMessage::PublicKey
                    | TerminalMessage::InstallKey(_)
                    | TerminalMessage::TrustAttestation { .. },
                )
                | Err(ProtocolError::MessageType(_)) => {}
                Err(_) => {
                    let _ = events.send(TerminalEvent::Closed);
                    let _ = closed_tx.send(());
                    return;
                }
            }
        }
    });

    let finisher = Finisher {
        store,
        ksn,
        request,
        out,
    };
    let ended = match mode {
        InputMode::Screen => run_window(finisher, layout, display, terminal),
        InputMode::TestFile => run_test_input(finisher, layout, terminal),
    };
    let code = if ended {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    };
    // Stay until the terminal has read the answer and closed the pipe.
    let _ = closed.recv();
    code
}

/// An event from the terminal during an entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TerminalEvent {
    /// CANCEL message.
    Cancel,
    /// The pipe closed: the terminal is gone.
    Closed,
}

/// Turns the end of a session into the one answer, encrypting on OK.
///
/// Only a key source uses it: the window (`pinpad-window`) or the test input
/// (`pinpad-test-input`). A build with neither answers every request with REFUSED.
#[cfg_attr(
    not(any(feature = "pinpad-window", feature = "pinpad-test-input")),
    allow(dead_code)
)]
pub(crate) struct Finisher {
    store: Keystore,
    ksn: Ksn,
    request: EntryRequest,
    out: io::Stdout,
}

#[cfg_attr(
    not(any(feature = "pinpad-window", feature = "pinpad-test-input")),
    allow(dead_code)
)]
impl Finisher {
    /// The entry request (amount, language, limits...).
    pub(crate) fn request(&self) -> &EntryRequest {
        &self.request
    }

    /// Sends READY.
    pub(crate) fn ready(&mut self, display: DisplayKind) -> bool {
        write_frame(&mut self.out, &PinPadMessage::Ready(display).encode()).is_ok()
    }

    /// Answers REFUSED.
    pub(crate) fn refuse(&mut self, reason: Refusal) -> bool {
        write_frame(&mut self.out, &PinPadMessage::Refused(reason).encode()).is_ok()
    }

    /// Answers for a finished session: on [`Progress::Confirmed`] encrypts the PIN and sends
    /// the block; otherwise sends CANCELLED or TIMED OUT. Returns whether the answer was
    /// written. The digits are wiped **before** the answer goes out: once the terminal has the
    /// answer, the PIN is gone from this process's memory (a wipe after writing would race the
    /// terminal, which may read the memory or move on at once).
    pub(crate) fn finish(&mut self, end: Progress, session: &mut Session) -> bool {
        let message = match (end, session.pin_buffer()) {
            (Progress::Confirmed, Some(buffer)) => {
                match encrypt_pin(
                    &self.store,
                    self.ksn,
                    buffer,
                    &self.request.pan,
                    &mut OsFill,
                ) {
                    Ok(p) => PinPadMessage::PinBlock(p),
                    Err(_) => PinPadMessage::Refused(Refusal::Encryption),
                }
            }
            (Progress::TimedOut, _) => PinPadMessage::TimedOut,
            _ => PinPadMessage::Cancelled,
        };
        session.wipe();
        super::buffer::scrub_stack();
        write_frame(&mut self.out, &message.encode()).is_ok()
    }
}

/// Builds the ISO 9564-1 format 4 block of `buffer` for `pan` and encrypts it under the DUKPT
/// PIN key of `ksn` (X9.24-3 §6.3.4, usage `1000`). The key is derived here, used once and
/// zeroized on return. `fill` is [`OsFill`] in the process; tests may pass
/// [`emv::crypto::pin_block::danger::FixedFill`] to reproduce published vectors.
pub fn encrypt_pin(
    store: &Keystore,
    ksn: Ksn,
    buffer: &PinBuffer,
    pan: &str,
    fill: &mut impl FillSource,
) -> Result<EncryptedPin, KeystoreError> {
    let key = store.pin_key(ksn)?;
    let pin_block = pin_block::encrypt_format4(&key, buffer.pin(), pan, fill)
        .map_err(|_| KeystoreError::InvalidKey)?;
    drop(key);
    Ok(EncryptedPin {
        ksn: ksn.to_bytes(),
        pin_block,
        digits: buffer.len(),
    })
}

/// No core dumps (RLIMIT_CORE 0) and not dumpable (`prctl(PR_SET_DUMPABLE, 0)`): other
/// processes of the same user cannot ptrace it or read `/proc/PID/mem` (security doc P9).
/// Root keeps that power; see `docs/pinpad.md`.
pub fn harden() {
    let _ = rustix::process::setrlimit(
        rustix::process::Resource::Core,
        rustix::process::Rlimit {
            current: Some(0),
            maximum: Some(0),
        },
    );
    let _ = rustix::process::set_dumpable_behavior(rustix::process::DumpableBehavior::NotDumpable);
}

/// The display to use. X11 only in the pad's own development profile ([`profile`]), whatever
/// the terminal asks.
fn display_for(mode: InputMode, profile: Profile) -> Result<DisplayKind, Refusal> {
    let set = |name: &str| std::env::var_os(name).is_some_and(|v| !v.is_empty());
    if mode == InputMode::TestFile {
        return Ok(DisplayKind::HeadlessTest);
    }
    if set(TEST_KEYS_ENV) {
        return Err(Refusal::TestInputRefused);
    }
    match (
        set("WAYLAND_DISPLAY"),
        set("DISPLAY"),
        profile == Profile::Development,
    ) {
        // With DISPLAY set, winit could fall back to X11 (XWayland): production needs it unset.
        (true, false, _) => Ok(DisplayKind::Wayland),
        (_, true, true) => Ok(DisplayKind::X11Development),
        (_, true, false) => Err(Refusal::InsecureDisplay),
        (false, false, _) => Err(Refusal::NoDisplay),
    }
}

fn answer(out: &mut io::Stdout, message: &PinPadMessage) -> ExitCode {
    match write_frame(out, &message.encode()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(_) => ExitCode::FAILURE,
    }
}

/// The answer to PUBLIC KEY: the pad's own public key, made on first use.
fn public_key() -> PinPadMessage {
    match keystore::pad_key::public_key(&keystore::default_dir()) {
        Ok(key) => PinPadMessage::PublicKey(key),
        Err(_) => PinPadMessage::Refused(Refusal::KeyStore),
    }
}

/// The answer to INSTALL KEY: the wrapped PIN key unwrapped with the pad's private key and
/// sealed into the store; refused if it is for another pad or the store has a key.
fn install_wrapped_key(blob: &[u8]) -> PinPadMessage {
    match keystore::pad_key::install_wrapped(&keystore::default_dir(), blob) {
        Ok(ksn) => PinPadMessage::KeyInstalled(ksn.to_bytes()),
        Err(KeystoreError::WrappedKey(_)) => PinPadMessage::Refused(Refusal::WrappedKey),
        Err(KeystoreError::AlreadyInstalled(_)) => {
            PinPadMessage::Refused(Refusal::AlreadyInstalled)
        }
        Err(_) => PinPadMessage::Refused(Refusal::KeyStore),
    }
}

/// The answer to TRUST ATTESTATION: the host's token key and the terminal ID sealed into the
/// store, once.
fn trust_attestation(terminal_id: String, host_key: [u8; PUBLIC_KEY_LEN]) -> PinPadMessage {
    let trust = AttestationTrust {
        terminal_id,
        host_key,
    };
    match attestation_trust::install(&keystore::default_dir(), &trust) {
        Ok(()) => PinPadMessage::Trusted,
        Err(KeystoreError::AlreadyInstalled(_)) => {
            PinPadMessage::Refused(Refusal::AlreadyInstalled)
        }
        Err(KeystoreError::InvalidKey) => PinPadMessage::Refused(Refusal::BadRequest),
        Err(_) => PinPadMessage::Refused(Refusal::KeyStore),
    }
}

/// A pad that trusts an attestation key takes a PIN only with a token it checks itself: the
/// host's signature, this terminal, not expired by the pad's own clock. A pad without one (a
/// bundle enrolment) checks nothing.
fn check_attestation(store: &Path, request: &EntryRequest) -> Result<(), Refusal> {
    let trust = attestation_trust::load(store).map_err(|_| Refusal::KeyStore)?;
    let Some(trust) = trust else {
        return Ok(());
    };
    let token = request
        .attestation_token
        .as_deref()
        .ok_or(Refusal::NotAttested)?;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    attestation_token::verify(token, &trust.host_key, &trust.terminal_id, now)
        .map(drop)
        .map_err(|_| Refusal::NotAttested)
}

/// `softpos-pinpad install-key BUNDLE_DIR`: seals the DUKPT initial key of an `hsm-sim enroll`
/// bundle into the key store, then destroys the bundle's clear copy (overwritten, fsynced,
/// unlinked, directory fsynced): after installation no file next to the terminal holds the PIN
/// key. A bundle whose key was installed already, or a store that has a key, is refused.
/// Prints only the KSN's initial key ID.
fn install_key(bundle_dir: &Path) -> ExitCode {
    // Only the PIN key: the bundle's TLS key and MAC key belong to the acquirer link and never
    // enter this process (key separation, `docs/enrolment-bundle.md`).
    let pin_key = match super::pin_key::load(bundle_dir) {
        Ok(k) => k,
        Err(e) => {
            eprintln!("cannot install: {e}");
            return ExitCode::FAILURE;
        }
    };
    let Some(PinInitialKey {
        initial_key: key,
        initial_ksn: ksn,
        file,
    }) = pin_key
    else {
        eprintln!("the bundle has no DUKPT initial key");
        return ExitCode::FAILURE;
    };
    let dir = keystore::default_dir();
    if let Err(e) = Keystore::install(&dir, &key, ksn) {
        eprintln!("cannot install the key: {e}");
        return ExitCode::FAILURE;
    }
    drop(key);
    let destroyed = match (file.parent(), file.file_name().and_then(|n| n.to_str())) {
        (Some(parent), Some(name)) => crate::durable::destroy(parent, name),
        _ => Err(io::Error::from(io::ErrorKind::InvalidInput)),
    };
    if let Err(e) = destroyed {
        eprintln!(
            "installed, but the clear PIN key {} could not be destroyed ({e}): remove it now",
            file.display()
        );
        return ExitCode::FAILURE;
    }
    let _ = writeln!(
        io::stderr(),
        "installed the PIN key of initial key ID {} in {} and destroyed {}",
        hex::encode_upper(ksn.initial_key_id().0),
        dir.display(),
        file.display()
    );
    ExitCode::SUCCESS
}

#[cfg(feature = "pinpad-window")]
fn run_window(
    finisher: Finisher,
    layout: Layout,
    display: DisplayKind,
    terminal: mpsc::Receiver<TerminalEvent>,
) -> bool {
    super::window::run(finisher, layout, display, terminal)
}

#[cfg(not(feature = "pinpad-window"))]
fn run_window(
    mut finisher: Finisher,
    _layout: Layout,
    _display: DisplayKind,
    _terminal: mpsc::Receiver<TerminalEvent>,
) -> bool {
    // Built without the window: nothing to type on.
    finisher.refuse(Refusal::Window)
}

#[cfg(feature = "pinpad-test-input")]
fn run_test_input(
    finisher: Finisher,
    layout: Layout,
    terminal: mpsc::Receiver<TerminalEvent>,
) -> bool {
    super::test_input::run(finisher, layout, terminal)
}

#[cfg(not(feature = "pinpad-test-input"))]
fn run_test_input(
    mut finisher: Finisher,
    _layout: Layout,
    _terminal: mpsc::Receiver<TerminalEvent>,
) -> bool {
    // Not compiled in: the test input code does not exist in this build.
    finisher.refuse(Refusal::TestInputRefused)
}
