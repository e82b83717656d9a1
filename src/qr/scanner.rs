//! The scanner service: a source thread puts each frame into a one-frame slot, a decoder thread
//! takes the newest frame from it, and events go to the caller.
//!
//! ```text
//! FrameSource ──(source thread)──▶ latest-frame slot ──(decoder thread)──▶ ScanEvent channel
//! ```
//!
//! A frame that arrives while the previous one is still waiting replaces it (the old one is
//! counted as dropped): the decoder never falls behind the camera, and no frame is decoded
//! twice. A payload is accepted only when the caller's check says it is valid (a CRC, a
//! signature, a cryptogram); for formats with no check, only when two frames decoded to the same
//! bytes. After an acceptance the scan ends.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread::JoinHandle;

use super::decoder::{Attempt, Pass, Pipeline};
use super::grey::GreyImage;
use crate::camera::{Frame, FrameSource, SourceError};

/// What a payment format's parser says about a payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The payload's own check passed (CRC, signature or cryptogram).
    Valid,
    /// The payload failed its check, or is not a format the caller takes.
    Invalid,
    /// The format has no check: two frames must agree.
    NoCheck,
}

/// The caller's check on a decoded payload.
pub trait PayloadCheck: Send {
    /// The verdict on one payload.
    fn check(&self, payload: &[u8]) -> Verdict;
}

impl<F: Fn(&[u8]) -> Verdict + Send> PayloadCheck for F {
    fn check(&self, payload: &[u8]) -> Verdict {
        self(payload)
    }
}

/// Something that reads a code from a grey frame ([`Pipeline`] in production).
pub trait FrameDecoder: Send {
    /// One attempt on one frame.
    fn decode(&mut self, image: &GreyImage) -> Attempt;
}

impl FrameDecoder for Pipeline {
    fn decode(&mut self, image: &GreyImage) -> Attempt {
        Pipeline::decode(self, image)
    }
}

/// What the scanner tells its caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScanEvent {
    /// A payload passed the acceptance rule; the scan is over.
    Accepted {
        /// The payload bytes.
        payload: Vec<u8>,
        /// The pass that read it (in the accepting frame).
        pass: Pass,
        /// The sequence number of the accepting frame.
        frame: u64,
    },
    /// A code was read but its check failed; the scan goes on.
    Rejected {
        /// The sequence number of the frame.
        frame: u64,
    },
    /// There is no camera; the scan is over (offer image files instead).
    NoCamera,
    /// The source stopped with an error (camera unplugged); the scan is over.
    SourceLost(String),
    /// The source has no more frames and none was accepted; the scan is over.
    SourceEnded,
}

impl ScanEvent {
    /// Whether this event ends the scan.
    pub fn is_final(&self) -> bool {
        !matches!(self, ScanEvent::Rejected { .. })
    }
}

/// Frame counts of a scan.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ScanStats {
    /// Frames the source delivered.
    pub received: u64,
    /// Frames the decoder took.
    pub decoded: u64,
    /// Frames replaced in the slot before the decoder took them.
    pub dropped: u64,
    /// Decoder passes that panicked.
    pub panics: u64,
}

#[derive(Default)]
struct Counters {
    received: AtomicU64,
    decoded: AtomicU64,
    dropped: AtomicU64,
    panics: AtomicU64,
}

/// The slot between the two threads: the newest frame, or why no more will come.
#[derive(Default)]
struct Slot {
    frame: Option<Frame>,
    end: Option<ScanEvent>,
}

struct Shared {
    slot: Mutex<Slot>,
    ready: Condvar,
    stop: AtomicBool,
    counters: Counters,
}

/// A running scan. Read events from [`Scanner::events`]; [`Scanner::stop`] ends it.
pub struct Scanner {
    events: Receiver<ScanEvent>,
    shared: Arc<Shared>,
    threads: Vec<JoinHandle<()>>,
}

impl Scanner {
    /// Starts the source and decoder threads.
    pub fn start(
        mut source: Box<dyn FrameSource>,
        mut decoder: Box<dyn FrameDecoder>,
        check: Box<dyn PayloadCheck>,
    ) -> std::io::Result<Self> {
        let shared = Arc::new(Shared {
            slot: Mutex::new(Slot::default()),
            ready: Condvar::new(),
            stop: AtomicBool::new(false),
            counters: Counters::default(),
        });
        let (sender, events) = channel();
        let producer = Arc::clone(&shared);
        let source_thread = std::thread::Builder::new()
            .name("qr-source".into())
            .spawn(move || run_source(source.as_mut(), &producer))?;
        let consumer = Arc::clone(&shared);
        let decoder_thread = std::thread::Builder::new()
            .name("qr-decoder".into())
            .spawn(move || run_decoder(decoder.as_mut(), check.as_ref(), &consumer, &sender));
        let decoder_thread = match decoder_thread {
            Ok(thread) => thread,
            Err(e) => {
                shared.stop.store(true, Ordering::SeqCst);
                return Err(e);
            }
        };
        Ok(Self {
            events,
            shared,
            threads: vec![source_thread, decoder_thread],
        })
    }

    /// The events, in order; the last one is final ([`ScanEvent::is_final`]).
    pub fn events(&self) -> &Receiver<ScanEvent> {
        &self.events
    }

    /// The counts so far.
    pub fn stats(&self) -> ScanStats {
        let c = &self.shared.counters;
        ScanStats {
            received: c.received.load(Ordering::SeqCst),
            decoded: c.decoded.load(Ordering::SeqCst),
            dropped: c.dropped.load(Ordering::SeqCst),
            panics: c.panics.load(Ordering::SeqCst),
        }
    }

    /// Stops both threads (the source thread after its current frame) and returns the counts.
    pub fn stop(mut self) -> ScanStats {
        self.halt();
        self.stats()
    }

    fn halt(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        self.shared.ready.notify_all();
        for thread in self.threads.drain(..) {
            // A thread that panicked has nothing left to clean up.
            let _ = thread.join();
        }
    }
}

impl Drop for Scanner {
    fn drop(&mut self) {
        self.halt();
    }
}

fn lock(shared: &Shared) -> std::sync::MutexGuard<'_, Slot> {
    shared.slot.lock().unwrap_or_else(PoisonError::into_inner)
}

fn run_source(source: &mut dyn FrameSource, shared: &Shared) {
    let end = loop {
        if shared.stop.load(Ordering::SeqCst) {
            return;
        }
        match source.next_frame() {
            Ok(Some(frame)) => {
                shared.counters.received.fetch_add(1, Ordering::SeqCst);
                let mut slot = lock(shared);
                if slot.frame.replace(frame).is_some() {
                    shared.counters.dropped.fetch_add(1, Ordering::SeqCst);
                }
                drop(slot);
                shared.ready.notify_one();
            }
            Ok(None) => break ScanEvent::SourceEnded,
            Err(SourceError::NoCamera) => break ScanEvent::NoCamera,
            Err(SourceError::Lost(reason)) => break ScanEvent::SourceLost(reason),
        }
    };
    lock(shared).end = Some(end);
    shared.ready.notify_one();
}

fn run_decoder(
    decoder: &mut dyn FrameDecoder,
    check: &dyn PayloadCheck,
    shared: &Shared,
    events: &Sender<ScanEvent>,
) {
    // The payload of the last decoded frame, for formats without a check.
    let mut unconfirmed: Option<(Vec<u8>, u64)> = None;
    loop {
        let frame = {
            let mut slot = lock(shared);
            loop {
                if shared.stop.load(Ordering::SeqCst) {
                    return;
                }
                if let Some(frame) = slot.frame.take() {
                    break frame;
                }
                if let Some(end) = slot.end.take() {
                    // The source has ended and every frame it gave has been seen.
                    let _ = events.send(end);
                    return;
                }
                slot = shared
                    .ready
                    .wait(slot)
                    .unwrap_or_else(PoisonError::into_inner);
            }
        };
        shared.counters.decoded.fetch_add(1, Ordering::SeqCst);
        let attempt = decoder.decode(&frame.image);
        shared
            .counters
            .panics
            .fetch_add(u64::from(attempt.panics), Ordering::SeqCst);
        let Some(decoded) = attempt.decoded else {
            continue;
        };
        let accepted = match super::decoder::guarded(|| check.check(&decoded.payload)) {
            Some(Verdict::Valid) => true,
            Some(Verdict::NoCheck) => match &unconfirmed {
                Some((previous, seq)) if *previous == decoded.payload && *seq != frame.sequence => {
                    true
                }
                _ => {
                    unconfirmed = Some((decoded.payload.clone(), frame.sequence));
                    false
                }
            },
            // A check that panicked is a failed check.
            Some(Verdict::Invalid) | None => {
                if events
                    .send(ScanEvent::Rejected {
                        frame: frame.sequence,
                    })
                    .is_err()
                {
                    return;
                }
                false
            }
        };
        if accepted {
            shared.stop.store(true, Ordering::SeqCst);
            let _ = events.send(ScanEvent::Accepted {
                payload: decoded.payload,
                pass: decoded.pass,
                frame: frame.sequence,
            });
            return;
        }
    }
}
