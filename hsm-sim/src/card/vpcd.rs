//! The card side of vpcd, the virtual smart card reader of vsmartcard, so `pcscd` presents a
//! [`VirtualCard`] to the terminal as a card in the reader "Virtual PCD 00 00".
//!
//! Wire protocol (vsmartcard `virtualsmartcard/src/vpcd/vpcd.c`, toolchain notes): the card
//! connects to the reader on TCP (default `127.0.0.1:35963`). Every message in both directions
//! is a 2-byte big-endian length followed by the payload. A 1-byte payload from the reader is a
//! control code: `00` power off, `01` power on, `02` reset, `04` send the ATR. A longer payload
//! is a C-APDU, answered with the R-APDU. Closing the socket removes the card.
//!
//! The socket has `TCP_NODELAY` and re-arms `TCP_QUICKACK` after every read: the reader writes
//! the length and the APDU as two segments, and a delayed ACK would cost about 44 ms per APDU
//! (toolchain notes, "vpcd latency").
//!
//! For tests in other crates, [`spawn`] runs a card on its own thread and stops it when the
//! returned [`VpcdGuard`] is dropped:
//!
//! ```no_run
//! use hsm_sim::card::{VirtualCard, vpcd};
//!
//! let card = VirtualCard::from_profile("visa").expect("a known profile");
//! let guard = vpcd::spawn(card, vpcd::Options::new("127.0.0.1:35963")).expect("thread");
//! // ... run the terminal against the reader "Virtual PCD 00 00" ...
//! drop(guard); // the card leaves the reader
//! ```

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use tracing::{debug, info, warn};
use zeroize::Zeroizing;

use super::VirtualCard;

/// Where and how the card connects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// The reader's address, `host:port` (vpcd listens on `127.0.0.1:35963` for its first
    /// reader, `35964` for the second).
    pub address: String,
    /// Stop after the first power-off (or disconnection) that follows a transaction (a GPO),
    /// instead of serving taps until stopped.
    pub once: bool,
    /// The pause before the card comes back after the reader closed the connection or the card
    /// left the field.
    pub reconnect_delay: Duration,
}

impl Options {
    /// Options for `address`, serving until stopped, reconnecting after one second.
    pub fn new(address: impl Into<String>) -> Self {
        Self {
            address: address.into(),
            once: false,
            reconnect_delay: Duration::from_secs(1),
        }
    }

    /// The same options with [`Options::once`] set.
    pub fn once(mut self) -> Self {
        self.once = true;
        self
    }
}

impl Default for Options {
    fn default() -> Self {
        Self::new(DEFAULT_ADDRESS)
    }
}

/// What a card did while it was connected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct Summary {
    /// Connections made to the reader.
    pub connections: u32,
    /// C-APDUs answered.
    pub commands: u64,
    /// GPOs answered (taps).
    pub taps: u32,
    /// The card's ATC at the end.
    pub atc: u16,
}

/// Errors of the vpcd client.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VpcdError {
    /// A socket operation failed (other than the reader closing the connection).
    #[error("vpcd socket error")]
    Io(#[from] io::Error),
    /// The reader sent a malformed message.
    #[error("vpcd protocol error: {0}")]
    Protocol(&'static str),
    /// The card thread panicked.
    #[error("the vpcd card thread panicked")]
    ThreadPanicked,
}

/// A card running on its own thread ([`spawn`]). Dropping the guard stops the card (it leaves
/// the reader) and waits for the thread.
pub struct VpcdGuard {
    stop: Arc<Stop>,
    thread: Option<JoinHandle<Result<Summary, VpcdError>>>,
}

impl VpcdGuard {
    /// Stops the card and returns what it did.
    pub fn stop(mut self) -> Result<Summary, VpcdError> {
        self.stop.signal();
        self.join_thread()
    }

    /// Waits until the card stops by itself (with [`Options::once`]) and returns what it did.
    pub fn join(mut self) -> Result<Summary, VpcdError> {
        self.join_thread()
    }

    /// Whether the card's thread has ended.
    pub fn is_finished(&self) -> bool {
        self.thread.as_ref().is_none_or(JoinHandle::is_finished)
    }

    fn join_thread(&mut self) -> Result<Summary, VpcdError> {
        match self.thread.take() {
            Some(thread) => thread.join().map_err(|_| VpcdError::ThreadPanicked)?,
            None => Ok(Summary::default()),
        }
    }
}

impl Drop for VpcdGuard {
    fn drop(&mut self) {
        self.stop.signal();
        if let Err(e) = self.join_thread() {
            warn!("vpcd card ended with an error: {e}");
        }
    }
}

/// Runs `card` on a new thread, connected to the reader of `options`, until the guard is
/// dropped or stopped (or, with [`Options::once`], until the first power-off after a tap).
pub fn spawn(card: VirtualCard, options: Options) -> Result<VpcdGuard, VpcdError> {
    let stop = Arc::new(Stop::default());
    let thread_stop = Arc::clone(&stop);
    let thread = thread::Builder::new()
        .name(format!("vpcd-{}", card.profile().name()))
        .spawn(move || {
            let mut card = card;
            serve(&mut card, &options, &thread_stop)
        })?;
    Ok(VpcdGuard {
        stop,
        thread: Some(thread),
    })
}

/// Serves `card` on the calling thread until killed (or, with [`Options::once`], until the
/// first power-off after a tap). Used by `hsm-sim card`.
pub fn run(card: &mut VirtualCard, options: &Options) -> Result<Summary, VpcdError> {
    serve(card, options, &Stop::default())
}

/// The vpcd answer-to-reset: a contactless card as PC/SC Part 3 §3.1.3.2.3 presents it,
/// `3B 8A 80 01` (TD1 `80`: T=0 then TD2 `01`: T=1) with ten historical bytes (category `80`,
/// pre-issuing data `65 A2 01 01 01 00`, status `82 90 00`) and the check byte TCK, the XOR of
/// T0 to the last historical byte (ISO/IEC 7816-3 §8.2.5).
pub fn atr() -> Vec<u8> {
    let tck = ATR_WITHOUT_TCK.iter().skip(1).fold(0u8, |acc, b| acc ^ b);
    let mut atr = ATR_WITHOUT_TCK.to_vec();
    atr.push(tck);
    atr
}

fn serve(card: &mut VirtualCard, options: &Options, stop: &Stop) -> Result<Summary, VpcdError> {
    let mut summary = Summary::default();
    let mut warned = false;
    while !stop.is_signalled() {
        let stream = match TcpStream::connect(options.address.as_str()) {
            Ok(stream) => stream,
            Err(e) => {
                if !warned {
                    info!("waiting for vpcd at {}: {e}", options.address);
                    warned = true;
                }
                thread::sleep(CONNECT_RETRY);
                continue;
            }
        };
        warned = false;
        summary.connections = summary.connections.saturating_add(1);
        info!(
            profile = card.profile().name(),
            "card inserted in vpcd at {}", options.address
        );
        stop.register(&stream)?;
        card.power_cycle();
        let end = serve_connection(card, stream, options.once, stop, &mut summary);
        stop.unregister();
        summary.taps = card.taps();
        summary.atc = card.atc();
        let end = match end {
            Ok(end) => end,
            Err(_) if stop.is_signalled() => break,
            Err(e) => return Err(e),
        };
        debug!(profile = card.profile().name(), "connection ended: {end:?}");
        if options.once && (end == ConnectionEnd::TransactionDone || card.taps() > 0) {
            break;
        }
        sleep_unless_stopped(options.reconnect_delay, stop);
    }
    summary.taps = card.taps();
    summary.atc = card.atc();
    Ok(summary)
}

/// How one connection ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ConnectionEnd {
    /// The reader closed the connection.
    ReaderClosed,
    /// The card left the field (fault profile).
    CardLeft,
    /// Power-off after a tap, with `once`.
    TransactionDone,
}

fn serve_connection(
    card: &mut VirtualCard,
    mut stream: TcpStream,
    once: bool,
    stop: &Stop,
    summary: &mut Summary,
) -> Result<ConnectionEnd, VpcdError> {
    stream.set_nodelay(true)?;
    let taps_before = card.taps();
    loop {
        let Some(message) = read_message(&mut stream)? else {
            return Ok(ConnectionEnd::ReaderClosed);
        };
        if stop.is_signalled() {
            return Ok(ConnectionEnd::ReaderClosed);
        }
        match message.as_slice() {
            [] => debug!("vpcd: empty message ignored"),
            [CTRL_OFF] => {
                debug!("vpcd: power off");
                card.power_cycle();
                if once && card.taps() > taps_before {
                    return Ok(ConnectionEnd::TransactionDone);
                }
            }
            [CTRL_ON] | [CTRL_RESET] => {
                debug!("vpcd: power on / reset");
                card.power_cycle();
            }
            [CTRL_ATR] => write_message(&mut stream, &atr())?,
            [other] => debug!("vpcd: unknown control code {other:02X} ignored"),
            command => {
                summary.commands = summary.commands.saturating_add(1);
                let reply = card.process(command);
                write_message(&mut stream, &reply.bytes)?;
                if reply.leaves_field {
                    info!(profile = card.profile().name(), "card leaves the field");
                    // Best effort: the connection is being dropped either way.
                    let _ = stream.shutdown(Shutdown::Both);
                    return Ok(ConnectionEnd::CardLeft);
                }
            }
        }
    }
}

/// Reads one message; `None` when the reader closed the connection between messages.
fn read_message(stream: &mut TcpStream) -> Result<Option<Zeroizing<Vec<u8>>>, VpcdError> {
    let mut length = [0u8; 2];
    match stream.read_exact(&mut length) {
        Ok(()) => {}
        Err(e) if is_disconnect(&e) => return Ok(None),
        Err(e) => return Err(e.into()),
    }
    quick_ack(stream);
    let mut payload = Zeroizing::new(vec![0u8; usize::from(u16::from_be_bytes(length))]);
    if !payload.is_empty() {
        match stream.read_exact(&mut payload) {
            Ok(()) => {}
            Err(e) if is_disconnect(&e) => return Ok(None),
            Err(e) => return Err(e.into()),
        }
        quick_ack(stream);
    }
    Ok(Some(payload))
}

/// Writes one message (length and payload in one segment).
fn write_message(stream: &mut TcpStream, payload: &[u8]) -> Result<(), VpcdError> {
    let length = u16::try_from(payload.len())
        .map_err(|_| VpcdError::Protocol("message longer than 65535 bytes"))?;
    let mut frame = Zeroizing::new(Vec::with_capacity(payload.len() + 2));
    frame.extend_from_slice(&length.to_be_bytes());
    frame.extend_from_slice(payload);
    stream.write_all(&frame)?;
    Ok(())
}

fn is_disconnect(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::UnexpectedEof
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::BrokenPipe
    )
}

/// Re-arms `TCP_QUICKACK` (Linux clears it after a while), so the reader's next segment is
/// acknowledged at once.
#[cfg(target_os = "linux")]
fn quick_ack(stream: &TcpStream) {
    if let Err(e) = socket2::SockRef::from(stream).set_tcp_quickack(true) {
        debug!("TCP_QUICKACK not set: {e}");
    }
}

#[cfg(not(target_os = "linux"))]
fn quick_ack(_stream: &TcpStream) {}

fn sleep_unless_stopped(delay: Duration, stop: &Stop) {
    let mut left = delay;
    while !left.is_zero() && !stop.is_signalled() {
        let step = left.min(CONNECT_RETRY);
        thread::sleep(step);
        left = left.saturating_sub(step);
    }
}

/// The stop signal of a running card: a flag, and the live connection to shut down so a
/// blocked read returns.
#[derive(Default)]
struct Stop {
    flag: AtomicBool,
    stream: Mutex<Option<TcpStream>>,
}

impl Stop {
    fn signal(&self) {
        self.flag.store(true, Ordering::SeqCst);
        let stream = self.stream.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(stream) = stream.as_ref() {
            // Best effort: the socket may already be closed.
            let _ = stream.shutdown(Shutdown::Both);
        }
    }

    fn is_signalled(&self) -> bool {
        self.flag.load(Ordering::SeqCst)
    }

    fn register(&self, stream: &TcpStream) -> io::Result<()> {
        let clone = stream.try_clone()?;
        *self.stream.lock().unwrap_or_else(PoisonError::into_inner) = Some(clone);
        if self.is_signalled() {
            let _ = stream.shutdown(Shutdown::Both);
        }
        Ok(())
    }

    fn unregister(&self) {
        *self.stream.lock().unwrap_or_else(PoisonError::into_inner) = None;
    }
}

/// The reader vpcd creates first listens here.
pub const DEFAULT_ADDRESS: &str = "127.0.0.1:35963";

const CTRL_OFF: u8 = 0x00;
const CTRL_ON: u8 = 0x01;
const CTRL_RESET: u8 = 0x02;
const CTRL_ATR: u8 = 0x04;

const ATR_WITHOUT_TCK: [u8; 14] = [
    0x3B, 0x8A, 0x80, 0x01, 0x80, 0x65, 0xA2, 0x01, 0x01, 0x01, 0x00, 0x82, 0x90, 0x00,
];

const CONNECT_RETRY: Duration = Duration::from_millis(100);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atr_check_byte_makes_the_xor_zero() {
        let atr = atr();
        assert_eq!(atr.len(), 15);
        assert_eq!(atr.iter().skip(1).fold(0, |acc, b| acc ^ b), 0);
        // T0 = 8A: TD1 present, 10 historical bytes.
        assert_eq!(atr.len(), 4 + 10 + 1);
    }
}
