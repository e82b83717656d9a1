//! PIN pad timings (issue 5 performance):
//! - `ok_to_block_on_pipe`: from OK pressed to the encrypted block written on a pipe: the
//!   session's OK, DUKPT PIN key derivation, format 4 encryption, stack scrub, frame write
//!   (target < 5 ms). The KSN was reserved and fsynced when the entry started, as in the process.
//! - `window_up_fresh_process`: from spawning `softpos-pinpad` to its READY (window shown),
//!   a fresh process each time (target < 300 ms). Needs a display: under Xvfb,
//!   `DISPLAY=:99 SLINT_BACKEND=winit-software`, development profile. Skipped without `DISPLAY`.
//! - `ready_headless_fresh_process` (feature `pinpad-test-input`): the same without a window,
//!   to show the process, key store and protocol share of it.
#![allow(missing_docs, clippy::unwrap_used)]

use std::io::Read;
use std::path::Path;
use std::time::{Duration, Instant};

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use emv::crypto::dukpt::{InitialKeyId, Ksn};
use emv::crypto::key::AesKey;
use emv::crypto::pin_block::OsFill;
use emv::pan::Pan;
use softpos::pinpad::buffer::scrub_stack;
use softpos::pinpad::keypad::Layout;
use softpos::pinpad::keystore::Keystore;
use softpos::pinpad::process::encrypt_pin;
use softpos::pinpad::protocol::{PinPadMessage, write_frame};
use softpos::pinpad::session::{Key, Progress, Session};
use softpos::pinpad::{LengthLimits, PinPadConfig, PinPadProcess, PinRequest, Timeouts};

fn store(dir: &Path) -> Keystore {
    // X9.24-3-2017 supplement initial key (IKID 1234567890123456).
    let key = AesKey::from_bytes_128([
        0x12, 0x73, 0x67, 0x1E, 0xA2, 0x6A, 0xC2, 0x9A, 0xFA, 0x4D, 0x10, 0x84, 0x12, 0x76, 0x52,
        0xA1,
    ]);
    let id = InitialKeyId([0x12, 0x34, 0x56, 0x78, 0x90, 0x12, 0x34, 0x56]);
    Keystore::install(dir, &key, Ksn::new(id, 0)).unwrap();
    Keystore::open(dir).unwrap()
}

fn ok_to_block(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let mut store = store(dir.path());
    let layout = Layout::shuffled(None).unwrap();
    let ksn = store.reserve(&layout).unwrap();
    let (mut reader, mut writer) = std::io::pipe().unwrap();
    std::thread::spawn(move || {
        let mut sink = [0u8; 4096];
        while reader.read(&mut sink).is_ok_and(|n| n > 0) {}
    });
    let pan = "4111111111111111";
    c.bench_function("ok_to_block_on_pipe", |b| {
        b.iter_batched(
            || {
                let now = Instant::now();
                let mut s = Session::new(
                    layout.clone(),
                    LengthLimits::default(),
                    Timeouts::default(),
                    now,
                );
                for slot in [3u8, 1, 4, 1, 5, 9] {
                    s.press(Key::Slot(slot), now);
                }
                s
            },
            |mut session| {
                assert_eq!(session.press(Key::Ok, Instant::now()), Progress::Confirmed);
                let buffer = session.pin_buffer().unwrap();
                let encrypted = encrypt_pin(&store, ksn, buffer, pan, &mut OsFill).unwrap();
                scrub_stack();
                write_frame(&mut writer, &PinPadMessage::PinBlock(encrypted).encode()).unwrap();
                session.wipe();
            },
            BatchSize::SmallInput,
        );
    });
}

fn fresh_process(c: &mut Criterion, name: &str, program: &str) {
    let dir = tempfile::tempdir().unwrap();
    drop(store(dir.path()));
    let pan = Pan::from_digits("4111111111111111").unwrap();
    let request = PinRequest {
        pan: &pan,
        amount: 4250,
        currency_code: 978,
        currency_exponent: 2,
        merchant_name: "Bench",
        language: "en",
        accessible: false,
        attestation_token: None,
    };
    let mut config = PinPadConfig::new(program);
    config.store_dir = Some(dir.path().to_path_buf());
    // The pad's own development profile (X11).
    std::fs::write(
        dir.path().join(softpos::pinpad::profile::PROFILE_FILE),
        "profile = \"development\"\n",
    )
    .unwrap();
    let pad = PinPadProcess::new(config);
    let mut group = c.benchmark_group("pinpad_process");
    group.sample_size(10);
    group.bench_function(name, |b| {
        b.iter_custom(|iterations| {
            let mut total = Duration::ZERO;
            for _ in 0..iterations {
                // More entries than the hourly limit (security doc P11) allows: start each
                // from a fresh count, outside the measured time.
                let _ = Keystore::open(dir.path()).and_then(|mut s| s.reset_rate_limit());
                let mut entry = pad.start(&request).unwrap();
                let (up, _) = entry.wait_ready().unwrap();
                total += up;
                entry.cancel();
                let _ = entry.wait_answer();
                entry.close();
            }
            total
        });
    });
    group.finish();
}

fn processes(c: &mut Criterion) {
    #[cfg(feature = "pinpad-window")]
    if std::env::var_os("DISPLAY").is_some() || std::env::var_os("WAYLAND_DISPLAY").is_some() {
        fresh_process(
            c,
            "window_up_fresh_process",
            env!("CARGO_BIN_EXE_softpos-pinpad"),
        );
    } else {
        eprintln!("window_up_fresh_process: skipped, no DISPLAY (run under Xvfb)");
    }
    #[cfg(feature = "pinpad-test-input")]
    fresh_process(
        c,
        "ready_headless_fresh_process",
        env!("CARGO_BIN_EXE_softpos-pinpad-test"),
    );
}

criterion_group!(benches, ok_to_block, processes);
criterion_main!(benches);
