//! The secure PIN process, `softpos-pinpad`, and the terminal's client for it.
//!
//! CONTRACT (the transaction engine codes against [`PinEntry`]): the terminal starts
//! `softpos-pinpad` for each PIN entry ([`PinPadProcess`]) and talks to it over its stdin and
//! stdout with the versioned frame protocol of [`protocol`] (`docs/pinpad.md`). What comes back
//! is only the KSN, the encrypted ISO 9564 format 4 PIN block and the number of digits, or why
//! there is none. The PIN never enters the terminal's process.
//!
//! The process's own parts: [`protocol`] (the pipe messages), [`buffer`] (the fixed, zeroized
//! PIN buffer), [`session`] (length, timeout and cancel rules), [`keypad`] (shuffled layouts),
//! [`keystore`] (the sealed DUKPT initial key and the fsynced KSN), [`process`] (the binary's
//! main) and [`window`] (the Slint keypad).

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread;
use std::time::{Duration, Instant};

use emv::pan::Pan;
use zeroize::Zeroizing;

pub mod buffer;
pub mod command_line;
#[doc(hidden)]
pub mod fuzz;
pub mod keypad;
pub mod keystore;
pub mod pin_key;
pub mod process;
pub mod profile;
pub mod protocol;
pub mod session;
#[cfg(feature = "pinpad-test-input")]
mod test_input;
#[cfg(feature = "pinpad-window")]
pub mod window;

pub use protocol::{DisplayKind, LengthLimits, Refusal, Timeouts};
use protocol::{EntryRequest, PinPadMessage, ProtocolError, TerminalMessage};

/// What the PIN pad needs to show and to build the format 4 block.
pub struct PinRequest<'a> {
    /// The PAN (format 4 binds the PIN block to it).
    pub pan: &'a Pan,
    /// The amount to display, in minor units.
    pub amount: u64,
    /// ISO 4217 numeric currency code of the amount.
    pub currency_code: u16,
    /// Decimal places of the currency.
    pub currency_exponent: u8,
    /// The merchant name to display.
    pub merchant_name: &'a str,
    /// ISO 639-1 language for the prompts (`en`, `de`, `zh`).
    pub language: &'a str,
    /// Accessible mode for this one entry (fixed layout, spoken prompts, no digit labels).
    pub accessible: bool,
    /// The host's attestation token: a pad that trusts an attestation key takes a PIN only
    /// with a valid one (`docs/attestation.md` § The PIN pad).
    pub attestation_token: Option<&'a [u8]>,
}

/// An encrypted PIN: all that leaves the PIN process.
#[derive(Clone)]
pub struct EncryptedPin {
    /// The AES DUKPT key serial number (X9.24-3, 12 bytes).
    pub ksn: [u8; 12],
    /// The ISO 9564 format 4 PIN block, encrypted under the DUKPT PIN key.
    pub pin_block: [u8; 16],
    /// How many digits were entered (4-12).
    pub digits: u8,
}

impl core::fmt::Debug for EncryptedPin {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("EncryptedPin")
            .field("digits", &self.digits)
            .finish_non_exhaustive()
    }
}

/// Why no PIN block came back.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PinEntryError {
    /// The cardholder pressed Cancel.
    #[error("PIN entry cancelled")]
    Cancelled,
    /// The cardholder took too long.
    #[error("PIN entry timed out")]
    TimedOut,
    /// The DUKPT counter is exhausted: the terminal needs new keys.
    #[error("the PIN keys are used up; the terminal needs new keys")]
    KeysExhausted,
    /// The hourly limit of PIN entries is reached (security doc P11). Alert the merchant:
    /// this many PINs in an hour is what a PIN-guessing attack looks like.
    #[error(
        "too many PIN entries in the last hour: PIN entry is blocked for now (possible PIN guessing)"
    )]
    TooManyEntries,
    /// The PIN pad could not run (not installed, refused the display, crashed).
    #[error("the PIN pad is not available: {0}")]
    Unavailable(String),
}

/// Something that collects an encrypted PIN: the PIN pad process, or a test double.
pub trait PinEntry {
    /// Collects one PIN for `request`.
    fn collect(&mut self, request: &PinRequest<'_>) -> Result<EncryptedPin, PinEntryError>;

    /// Collects one PIN like [`PinEntry::collect`], giving up as soon as `stop` returns true
    /// (the operator cancelled): the pad closes its window and the answer is
    /// [`PinEntryError::Cancelled`]. `stop` is polled at least every 50 ms. An entry that
    /// cannot be interrupted ignores `stop`.
    fn collect_until(
        &mut self,
        request: &PinRequest<'_>,
        stop: &dyn Fn() -> bool,
    ) -> Result<EncryptedPin, PinEntryError> {
        if stop() {
            return Err(PinEntryError::Cancelled);
        }
        self.collect(request)
    }
}

/// How the terminal starts the PIN pad.
#[derive(Debug, Clone)]
pub struct PinPadConfig {
    /// The `softpos-pinpad` executable.
    pub program: PathBuf,
    /// The key store directory, passed to test builds only (production pads use their own,
    /// see [`keystore::default_dir`]).
    pub store_dir: Option<PathBuf>,
    /// Entry timeouts (defaults 30 s / 15 s / 60 s).
    pub timeouts: Timeouts,
    /// PIN length limits (default 4 to 12).
    pub length: LengthLimits,
    /// Extra environment for the child (tests set the test key script here).
    pub env: Vec<(OsString, OsString)>,
}

impl PinPadConfig {
    /// Defaults for `program`: production profile, default timeouts and limits.
    pub fn new(program: impl Into<PathBuf>) -> Self {
        Self {
            program: program.into(),
            store_dir: None,
            timeouts: Timeouts::default(),
            length: LengthLimits::default(),
            env: Vec::new(),
        }
    }

    /// Defaults for the `softpos-pinpad` installed next to the running executable.
    pub fn next_to_current_exe() -> Result<Self, PinEntryError> {
        let exe = std::env::current_exe().map_err(|e| PinEntryError::Unavailable(e.to_string()))?;
        Ok(Self::new(exe.with_file_name("softpos-pinpad")))
    }
}

/// The PIN pad process as a [`PinEntry`]: one fresh process per entry.
#[derive(Debug, Clone)]
pub struct PinPadProcess {
    config: PinPadConfig,
}

impl PinPadProcess {
    /// A PIN pad run with `config`.
    pub fn new(config: PinPadConfig) -> Self {
        Self { config }
    }

    /// Starts the process and sends the request; the entry then runs on its own. Use
    /// [`RunningEntry::wait_answer`] for the result and [`RunningEntry::cancel`] to stop it.
    pub fn start(&self, request: &PinRequest<'_>) -> Result<RunningEntry, PinEntryError> {
        let config = &self.config;
        let mut command = self.command();
        let started = Instant::now();
        let mut child = command
            .spawn()
            .map_err(|e| PinEntryError::Unavailable(format!("cannot start the PIN pad: {e}")))?;
        let (Some(mut stdin), Some(mut stdout)) = (child.stdin.take(), child.stdout.take()) else {
            let _ = child.kill();
            let _ = child.wait();
            return Err(PinEntryError::Unavailable("no pipe to the PIN pad".into()));
        };
        let message = TerminalMessage::EnterPin(EntryRequest {
            pan: Zeroizing::new(request.pan.expose_digits().to_owned()),
            amount: request.amount,
            currency_code: request.currency_code,
            currency_exponent: request.currency_exponent,
            merchant_name: request
                .merchant_name
                .chars()
                .take(MAX_MERCHANT_CHARS)
                .collect(),
            language: request.language.to_owned(),
            accessible: request.accessible,
            length: config.length,
            timeouts: config.timeouts,
            attestation_token: request.attestation_token.map(<[u8]>::to_vec),
        });
        let (tx, rx) = mpsc::channel();
        thread::spawn(move || {
            loop {
                let message = protocol::read_frame(&mut stdout)
                    .and_then(|frame| PinPadMessage::decode(&frame));
                let stop = message.is_err();
                if tx.send(message).is_err() || stop {
                    return;
                }
            }
        });
        if let Err(e) = protocol::write_frame(&mut stdin, &message.encode()) {
            let _ = child.kill();
            let _ = child.wait();
            return Err(PinEntryError::Unavailable(format!("PIN pad pipe: {e}")));
        }
        let t = config.timeouts;
        Ok(RunningEntry {
            child,
            stdin: Some(stdin),
            answers: rx,
            started,
            ready: None,
            deadline: started + t.total.max(t.first_key) + STARTUP_ALLOWANCE,
        })
    }

    /// The PIN pad's own P-256 public key (SEC1 uncompressed), made in its store on first use:
    /// the host wraps the PIN key for it (`docs/enrolment.md`).
    pub fn public_key(&self) -> Result<[u8; 65], PinEntryError> {
        match self.exchange(&TerminalMessage::PublicKey)? {
            PinPadMessage::PublicKey(key) => Ok(key),
            other => Err(final_error(other)),
        }
    }

    /// Hands the pad a PIN key the host wrapped for it; the pad unwraps and seals it. Returns
    /// the initial KSN. This process never sees the key: it cannot unwrap the blob.
    pub fn install_wrapped_key(&self, blob: &[u8]) -> Result<[u8; 12], PinEntryError> {
        match self.exchange(&TerminalMessage::InstallKey(blob.to_vec()))? {
            PinPadMessage::KeyInstalled(ksn) => Ok(ksn),
            other => Err(final_error(other)),
        }
    }

    /// Seals the host's attestation key and this terminal's ID into the pad's store, once (at
    /// activation): from then on the pad takes a PIN only with a valid token.
    pub fn trust_attestation(
        &self,
        terminal_id: &str,
        host_key: &[u8],
    ) -> Result<(), PinEntryError> {
        let host_key = host_key
            .try_into()
            .map_err(|_| PinEntryError::Unavailable("attestation key: not 65 bytes".into()))?;
        let message = TerminalMessage::TrustAttestation {
            terminal_id: terminal_id.to_owned(),
            host_key,
        };
        match self.exchange(&message)? {
            PinPadMessage::Trusted => Ok(()),
            other => Err(final_error(other)),
        }
    }

    /// One request and its one answer, without a window.
    fn exchange(&self, message: &TerminalMessage) -> Result<PinPadMessage, PinEntryError> {
        let unavailable = |e: &dyn std::fmt::Display| PinEntryError::Unavailable(e.to_string());
        let mut child = self
            .command()
            .spawn()
            .map_err(|e| unavailable(&format!("cannot start the PIN pad: {e}")))?;
        let (Some(mut stdin), Some(mut stdout)) = (child.stdin.take(), child.stdout.take()) else {
            let _ = child.kill();
            let _ = child.wait();
            return Err(unavailable(&"no pipe to the PIN pad"));
        };
        let answer = protocol::write_frame(&mut stdin, &message.encode())
            .and_then(|()| protocol::read_frame(&mut stdout))
            .and_then(|frame| PinPadMessage::decode(&frame));
        drop(stdin);
        let _ = child.wait();
        answer.map_err(|e| unavailable(&format!("PIN pad protocol: {e}")))
    }

    fn command(&self) -> Command {
        let config = &self.config;
        let mut command = Command::new(&config.program);
        command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        if std::env::var_os("WAYLAND_DISPLAY").is_some() {
            // Under Wayland, keep winit from falling back to X11 (XWayland).
            command.env_remove("DISPLAY");
        }
        // The pad takes taps only, no typed text: in the C locale Xlib and xkbcommon skip
        // loading the 5 700-line UTF-8 Compose table for an input method it never uses, which
        // took about a quarter of the window's start-up time (`docs/pinpad.md`, Figures). Its
        // texts come from the request's language, not from the locale.
        command.env("LC_ALL", "C");
        if let Some(dir) = &config.store_dir {
            command.env(keystore::STORE_ENV, dir);
        }
        command.envs(config.env.iter().map(|(k, v)| (k, v)));
        command
    }
}

impl PinEntry for PinPadProcess {
    fn collect(&mut self, request: &PinRequest<'_>) -> Result<EncryptedPin, PinEntryError> {
        let mut entry = self.start(request)?;
        let answer = entry.wait_answer();
        entry.close();
        answer
    }

    fn collect_until(
        &mut self,
        request: &PinRequest<'_>,
        stop: &dyn Fn() -> bool,
    ) -> Result<EncryptedPin, PinEntryError> {
        if stop() {
            return Err(PinEntryError::Cancelled);
        }
        let mut entry = self.start(request)?;
        let answer = entry.wait_answer_until(stop);
        entry.close();
        answer
    }
}

/// A PIN pad process running one entry.
pub struct RunningEntry {
    child: Child,
    stdin: Option<ChildStdin>,
    answers: mpsc::Receiver<Result<PinPadMessage, ProtocolError>>,
    started: Instant,
    ready: Option<(Duration, DisplayKind)>,
    deadline: Instant,
}

impl RunningEntry {
    /// The process ID (tests read the process's memory through it).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits for READY: the window is up. Returns the display kind and the time from the start
    /// of the process.
    pub fn wait_ready(&mut self) -> Result<(Duration, DisplayKind), PinEntryError> {
        loop {
            if let Some(ready) = self.ready {
                return Ok(ready);
            }
            match self.next_message()? {
                PinPadMessage::Ready(kind) => self.ready = Some((self.started.elapsed(), kind)),
                other => return Err(final_error(other)),
            }
        }
    }

    /// Asks the PIN pad to stop (card removed, operator abort). The answer is then CANCELLED.
    pub fn cancel(&mut self) {
        if let Some(stdin) = self.stdin.as_mut() {
            let _ = protocol::write_frame(stdin, &TerminalMessage::Cancel.encode());
        }
    }

    /// Waits for the answer. The process stays alive until [`RunningEntry::close`] (or drop).
    pub fn wait_answer(&mut self) -> Result<EncryptedPin, PinEntryError> {
        loop {
            match self.next_message()? {
                PinPadMessage::Ready(kind) => self.ready = Some((self.started.elapsed(), kind)),
                PinPadMessage::PinBlock(p) => return Ok(p),
                other => return Err(final_error(other)),
            }
        }
    }

    /// Waits for the answer like [`RunningEntry::wait_answer`], but sends CANCEL as soon as
    /// `stop` returns true (polled every [`STOP_POLL`]); the answer is then
    /// [`PinEntryError::Cancelled`], even if a PIN block crossed the CANCEL.
    pub fn wait_answer_until(
        &mut self,
        stop: &dyn Fn() -> bool,
    ) -> Result<EncryptedPin, PinEntryError> {
        let mut cancelled = false;
        loop {
            if !cancelled && stop() {
                self.cancel();
                cancelled = true;
            }
            let slice = (!cancelled).then_some(STOP_POLL);
            match self.next_message_within(slice)? {
                None => {}
                Some(PinPadMessage::Ready(kind)) => {
                    self.ready = Some((self.started.elapsed(), kind));
                }
                Some(PinPadMessage::PinBlock(_)) if cancelled => {
                    return Err(PinEntryError::Cancelled);
                }
                Some(PinPadMessage::PinBlock(p)) => return Ok(p),
                Some(other) => return Err(final_error(other)),
            }
        }
    }

    /// Closes the pipe and reaps the process (killed if it does not exit within a second).
    pub fn close(mut self) {
        self.shutdown();
    }

    fn next_message(&mut self) -> Result<PinPadMessage, PinEntryError> {
        loop {
            if let Some(message) = self.next_message_within(None)? {
                return Ok(message);
            }
        }
    }

    /// The next message, or `None` when `slice` passed first (the entry's deadline still ends
    /// the wait with an error).
    fn next_message_within(
        &mut self,
        slice: Option<Duration>,
    ) -> Result<Option<PinPadMessage>, PinEntryError> {
        let left = self.deadline.saturating_duration_since(Instant::now());
        let wait = slice.map_or(left, |s| s.min(left));
        match self.answers.recv_timeout(wait) {
            Ok(Ok(message)) => Ok(Some(message)),
            Err(RecvTimeoutError::Timeout) if Instant::now() < self.deadline => Ok(None),
            Ok(Err(ProtocolError::Closed)) | Err(RecvTimeoutError::Disconnected) => Err(
                PinEntryError::Unavailable("the PIN pad exited without an answer".into()),
            ),
            Ok(Err(e)) => {
                self.shutdown();
                Err(PinEntryError::Unavailable(format!("PIN pad protocol: {e}")))
            }
            Err(RecvTimeoutError::Timeout) => {
                self.shutdown();
                Err(PinEntryError::Unavailable(
                    "the PIN pad did not answer".into(),
                ))
            }
        }
    }

    fn shutdown(&mut self) {
        drop(self.stdin.take());
        let until = Instant::now() + Duration::from_secs(1);
        while Instant::now() < until {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            thread::sleep(Duration::from_millis(5));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for RunningEntry {
    fn drop(&mut self) {
        if self.stdin.is_some() {
            self.shutdown();
        }
    }
}

fn final_error(message: PinPadMessage) -> PinEntryError {
    match message {
        PinPadMessage::Cancelled => PinEntryError::Cancelled,
        PinPadMessage::TimedOut => PinEntryError::TimedOut,
        PinPadMessage::KeysExhausted => PinEntryError::KeysExhausted,
        PinPadMessage::Refused(Refusal::TooManyEntries) => PinEntryError::TooManyEntries,
        PinPadMessage::Refused(r) => PinEntryError::Unavailable(format!("PIN pad refused: {r}")),
        PinPadMessage::Ready(_)
        | PinPadMessage::PinBlock(_)
        | PinPadMessage::PublicKey(_)
        | PinPadMessage::KeyInstalled(_)
        | PinPadMessage::Trusted => PinEntryError::Unavailable("unexpected PIN pad message".into()),
    }
}

/// How often a cancellable entry checks whether it was cancelled.
pub const STOP_POLL: Duration = Duration::from_millis(50);
/// Time allowed on top of the entry timeouts for the process to start and answer.
const STARTUP_ALLOWANCE: Duration = Duration::from_secs(10);
const MAX_MERCHANT_CHARS: usize = 24;
