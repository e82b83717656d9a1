//! The scanner service: frame dropping, the acceptance rule (a check, or two agreeing frames),
//! and the states of a source that has no camera, ends, or is lost mid-scan.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use softpos::camera::{self, FolderSource, Frame, FrameSource, SourceError};
use softpos::qr::decoder::Attempt;
use softpos::qr::scanner::{FrameDecoder, ScanEvent, ScanStats, Scanner, Verdict};
use softpos::qr::synth;
use softpos::qr::{GreyImage, Pipeline};

/// The published PromptPay payload (QR_Wiki, `chokchai9900/QR_Wiki`), CRC `71E4`.
const PROMPTPAY: &str =
    "00020101021129370016A000000677010111011300669186952145802TH5303764630471E4";

/// The EMVCo CRC (CRC-16/CCITT-FALSE over everything up to and including `6304`): the kind of
/// check the payment parsers plug in.
fn emv_crc(payload: &[u8]) -> Verdict {
    let Some(body) = payload.len().checked_sub(4).map(|n| &payload[..n]) else {
        return Verdict::Invalid;
    };
    if !body.ends_with(b"6304") {
        return Verdict::Invalid;
    }
    let mut crc: u16 = 0xFFFF;
    for &byte in body {
        crc ^= u16::from(byte) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 != 0 {
                (crc << 1) ^ 0x1021
            } else {
                crc << 1
            };
        }
    }
    if format!("{crc:04X}").as_bytes() == &payload[payload.len() - 4..] {
        Verdict::Valid
    } else {
        Verdict::Invalid
    }
}

fn code(payload: &[u8], seed: u64) -> GreyImage {
    synth::picture(seed, payload, &[], 320, 240)
}

/// Frames from memory, `pace` apart, then the given end.
struct Frames {
    images: Vec<GreyImage>,
    next: usize,
    pace: Duration,
    end: Result<(), SourceError>,
}

impl Frames {
    fn new(images: Vec<GreyImage>, pace_ms: u64) -> Self {
        Self {
            images,
            next: 0,
            pace: Duration::from_millis(pace_ms),
            end: Ok(()),
        }
    }
}

impl FrameSource for Frames {
    fn describe(&self) -> String {
        "frames in memory".into()
    }

    fn next_frame(&mut self) -> Result<Option<Frame>, SourceError> {
        std::thread::sleep(self.pace);
        let Some(image) = self.images.get(self.next) else {
            return self.end.clone().map(|()| None);
        };
        let frame = Frame {
            image: image.clone(),
            sequence: self.next as u64,
            captured: std::time::Instant::now(),
        };
        self.next += 1;
        Ok(Some(frame))
    }
}

/// Runs a scan to its final event; all events and the counts.
fn scan(
    source: Box<dyn FrameSource>,
    decoder: Box<dyn FrameDecoder>,
    check: impl Fn(&[u8]) -> Verdict + Send + 'static,
) -> (Vec<ScanEvent>, ScanStats) {
    let scanner = Scanner::start(source, decoder, Box::new(check)).expect("threads");
    let mut events = Vec::new();
    loop {
        let event = scanner
            .events()
            .recv_timeout(Duration::from_secs(30))
            .expect("an event");
        let last = event.is_final();
        events.push(event);
        if last {
            break;
        }
    }
    (events, scanner.stop())
}

#[test]
fn a_payload_whose_check_passes_is_accepted_from_one_frame() {
    let source = Frames::new(vec![code(PROMPTPAY.as_bytes(), 1)], 0);
    let (events, _) = scan(Box::new(source), Box::new(Pipeline::default()), emv_crc);
    let [ScanEvent::Accepted { payload, frame, .. }] = events.as_slice() else {
        panic!("{events:?}");
    };
    assert_eq!(payload, PROMPTPAY.as_bytes());
    assert_eq!(*frame, 0);
}

#[test]
fn a_payload_whose_check_fails_is_rejected_every_time() {
    let tampered = PROMPTPAY.replace("5303764", "5303840");
    assert_eq!(emv_crc(tampered.as_bytes()), Verdict::Invalid);
    let frames = vec![code(tampered.as_bytes(), 2), code(tampered.as_bytes(), 3)];
    let (events, stats) = scan(
        Box::new(Frames::new(frames, 150)),
        Box::new(Pipeline::default()),
        emv_crc,
    );
    assert_eq!(
        events,
        vec![
            ScanEvent::Rejected { frame: 0 },
            ScanEvent::Rejected { frame: 1 },
            ScanEvent::SourceEnded
        ]
    );
    assert_eq!(stats.decoded, 2);
}

#[test]
fn without_a_check_two_frames_must_agree() {
    let (a, b) = (
        b"NO CHECK PAYLOAD A".as_slice(),
        b"NO CHECK PAYLOAD B".as_slice(),
    );
    let no_check = |_: &[u8]| Verdict::NoCheck;
    // One frame is not enough; neither are two different payloads around one.
    for frames in [vec![code(a, 4)], vec![code(a, 5), code(b, 6), code(a, 7)]] {
        let source = Frames::new(frames, 150);
        let (events, _) = scan(Box::new(source), Box::new(Pipeline::default()), no_check);
        assert_eq!(events, vec![ScanEvent::SourceEnded]);
    }
    let source = Frames::new(vec![code(a, 8), code(b, 9), code(b, 10)], 150);
    let (events, _) = scan(Box::new(source), Box::new(Pipeline::default()), no_check);
    let [ScanEvent::Accepted { payload, frame, .. }] = events.as_slice() else {
        panic!("{events:?}");
    };
    assert_eq!((payload.as_slice(), *frame), (b, 2));
}

#[test]
fn a_check_that_panics_is_a_rejection() {
    let source = Frames::new(vec![code(PROMPTPAY.as_bytes(), 11)], 0);
    let (events, _) = scan(
        Box::new(source),
        Box::new(Pipeline::default()),
        |_: &[u8]| panic!("parser bug"),
    );
    assert_eq!(
        events,
        vec![ScanEvent::Rejected { frame: 0 }, ScanEvent::SourceEnded]
    );
}

/// A decoder that takes 40 ms per frame and records which frames it saw.
struct Slow(Arc<Mutex<Vec<u64>>>);

impl FrameDecoder for Slow {
    fn decode(&mut self, image: &GreyImage) -> Attempt {
        std::thread::sleep(Duration::from_millis(40));
        self.0
            .lock()
            .expect("lock")
            .push(u64::from(image.get(0, 0)));
        Attempt {
            decoded: None,
            panics: 0,
            passes_tried: 1,
        }
    }
}

#[test]
fn a_busy_decoder_drops_frames_and_never_decodes_one_twice() {
    // 30 frames, 5 ms apart; each carries its number in its first pixel.
    let frames = (0..30u8)
        .map(|i| GreyImage::new(8, 8, vec![i; 64]).expect("size"))
        .collect();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let (events, stats) = scan(
        Box::new(Frames::new(frames, 5)),
        Box::new(Slow(Arc::clone(&seen))),
        |_: &[u8]| Verdict::NoCheck,
    );
    assert_eq!(events, vec![ScanEvent::SourceEnded]);
    let seen = seen.lock().expect("lock").clone();
    assert!(
        seen.windows(2).all(|w| w[0] < w[1]),
        "each frame once, in order: {seen:?}"
    );
    assert_eq!(
        seen.last(),
        Some(&29),
        "the newest frame is decoded at the end"
    );
    assert_eq!(stats.received, 30);
    assert_eq!(stats.decoded, seen.len() as u64);
    assert_eq!(stats.decoded + stats.dropped, stats.received, "{stats:?}");
    assert!(stats.dropped > 0, "{stats:?}");
}

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/qr")
        .join(name)
}

#[test]
fn a_file_source_that_ends_or_breaks_is_a_clear_state() {
    let ended = FolderSource::from_files(vec![data("no-code.png")]);
    let (events, _) = scan(Box::new(ended), Box::new(Pipeline::default()), emv_crc);
    assert_eq!(events, vec![ScanEvent::SourceEnded]);

    // A camera unplugged mid-scan looks like this: frames, then an error.
    let broken = FolderSource::from_files(vec![data("no-code.png"), data("garbage.png")]);
    let (events, _) = scan(Box::new(broken), Box::new(Pipeline::default()), emv_crc);
    let [ScanEvent::SourceLost(reason)] = events.as_slice() else {
        panic!("{events:?}")
    };
    assert!(reason.contains("garbage.png"), "{reason}");

    let mut lost = Frames::new(vec![code(b"x", 12)], 0);
    lost.end = Err(SourceError::Lost("device unplugged".into()));
    let (events, _) = scan(Box::new(lost), Box::new(Pipeline::default()), emv_crc);
    assert_eq!(
        events.last(),
        Some(&ScanEvent::SourceLost("device unplugged".into()))
    );
}

#[test]
fn a_folder_of_frames_is_read_in_name_order() {
    let folder = tempfile::tempdir().expect("temp dir");
    for (name, fixture) in [("b.png", "emvco-promptpay.png"), ("a.png", "no-code.png")] {
        std::fs::copy(data(fixture), folder.path().join(name)).expect("copy");
    }
    std::fs::write(folder.path().join("notes.txt"), "not a frame").expect("write");
    let source = FolderSource::from_folder(folder.path()).expect("folder");
    assert_eq!(source.describe(), "2 image files");
    let (events, stats) = scan(
        Box::new(source.paced(Duration::from_millis(100))),
        Box::new(Pipeline::default()),
        emv_crc,
    );
    assert!(
        matches!(&events[..], [ScanEvent::Accepted { frame: 1, .. }]),
        "{events:?}"
    );
    assert_eq!(stats.received, 2);
}

#[test]
fn no_camera_is_a_state_not_a_failure() {
    let mut none = Frames::new(Vec::new(), 0);
    none.end = Err(SourceError::NoCamera);
    let (events, stats) = scan(Box::new(none), Box::new(Pipeline::default()), emv_crc);
    assert_eq!(events, vec![ScanEvent::NoCamera]);
    assert_eq!(stats.received, 0);
    // This machine has no camera (or the build has no camera support): the same state.
    if !Path::new("/dev/video0").exists() {
        assert_eq!(camera::open_camera(0).err(), Some(SourceError::NoCamera));
    }
}
