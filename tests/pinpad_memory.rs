//! Memory check (security doc P2, P9): after an entry of a known PIN, the PIN pad process's
//! memory holds the PIN neither as ASCII, nor packed BCD, nor as the clear format 4 PIN field,
//! nor as the unpacked digit values of the PIN buffer.
//!
//! How: the process stays alive after answering until the terminal closes the pipe, so the test
//! reads every writable mapping (heap, stacks, data, anonymous memory) of `/proc/PID/mem`.
//! Read-only file mappings (the program's code and constants from disk) are skipped.
//!
//! What it proves, and what not: this test runs as root. `softpos-pinpad` makes itself
//! non-dumpable (`prctl(PR_SET_DUMPABLE, 0)`), which stops other processes of the same non-root
//! user from attaching or reading `/proc/PID/mem` at all; root (CAP_SYS_PTRACE) still can, which
//! is what lets this test look. So the test proves that the digits are gone from the process's
//! memory at the end of an entry (success, cancel and timeout), which is what protects against
//! a later memory dump or a root-level reader after the fact; it does not prove anything about
//! an attacker who can read the memory while the PIN is being typed. A positive control reads
//! the same memory mid-entry and must find the digits, so the scanner is known to work.
#![cfg(feature = "pinpad-test-input")]
#![allow(clippy::unwrap_used)] // A panic in a test is a failure.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::thread;
use std::time::Duration;

use softpos::pinpad::{PinEntryError, PinPadProcess, Timeouts};

#[path = "pinpad_support/harness.rs"]
mod harness;
use harness::{Terminal, random_pan, random_pin, request, script_of};

/// The encodings of a 12-digit PIN to look for.
fn needles(pin: &[u8]) -> Vec<(&'static str, Vec<u8>)> {
    let ascii: Vec<u8> = pin.iter().map(|d| b'0' + d).collect();
    let bcd: Vec<u8> = pin.chunks(2).map(|p| (p[0] << 4) | p[1]).collect();
    // ISO 9564-1 format 4 clear PIN field: control 4, length C, the digits, then fill A.
    let mut field = vec![0x4C];
    field.extend_from_slice(&bcd);
    field.push(0xAA);
    vec![
        ("ASCII", ascii),
        ("BCD", bcd),
        ("clear PIN field", field),
        ("digit values", pin.to_vec()),
    ]
}

/// Which needles occur in the writable memory of `pid`. All mappings are copied first (a
/// snapshot within milliseconds), then searched.
fn scan(pid: u32, needles: &[(&'static str, Vec<u8>)]) -> Vec<&'static str> {
    let maps = std::fs::read_to_string(format!("/proc/{pid}/maps")).unwrap();
    let mut mem = File::open(format!("/proc/{pid}/mem")).unwrap();
    let mut snapshot = Vec::new();
    for line in maps.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let (Some(range), Some(perms)) = (fields.first(), fields.get(1)) else {
            continue;
        };
        let name = fields.get(5).copied().unwrap_or("");
        if !perms.starts_with("rw") || name.starts_with("[v") {
            continue;
        }
        let (start, end) = range.split_once('-').unwrap();
        let start = u64::from_str_radix(start, 16).unwrap();
        let end = u64::from_str_radix(end, 16).unwrap();
        let mut bytes = vec![0u8; usize::try_from(end - start).unwrap()];
        mem.seek(SeekFrom::Start(start)).unwrap();
        mem.read_exact(&mut bytes).unwrap();
        snapshot.push(bytes);
    }
    let scanned: usize = snapshot.iter().map(Vec::len).sum();
    assert!(
        scanned > 100_000,
        "read only {scanned} bytes of process memory"
    );
    needles
        .iter()
        .filter(|(_, needle)| snapshot.iter().any(|region| contains(region, needle)))
        .map(|(what, _)| *what)
        .collect()
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    let Some((&first, rest)) = needle.split_first() else {
        return true;
    };
    let mut offset = 0;
    while let Some(found) = haystack[offset..].iter().position(|&b| b == first) {
        let at = offset + found;
        if haystack.get(at + 1..at + needle.len()) == Some(rest) {
            return true;
        }
        offset = at + 1;
    }
    false
}

#[test]
fn no_trace_of_the_pin_after_success_cancel_or_timeout() {
    let terminal = Terminal::enrolled();
    let pan = random_pan();
    let timeouts = Timeouts {
        between_keys: Duration::from_millis(2500),
        ..Timeouts::default()
    };
    for ending in ["K", "X", ""] {
        let pin = random_pin(12);
        let needles = needles(&pin);
        // Type the PIN, pause 2 s (the positive control looks then), then OK / Cancel /
        // nothing (the 2.5 s between-keys timeout ends it).
        let mut config = terminal.config(&format!("{}w2000;{ending}", script_of(&pin)));
        config.timeouts = timeouts;
        let pad = PinPadProcess::new(config);
        let mut entry = pad.start(&request(&pan)).unwrap();
        let pid = entry.pid();
        entry.wait_ready().unwrap();
        thread::sleep(Duration::from_millis(300));
        let during = scan(pid, &needles);
        assert!(
            during.contains(&"digit values"),
            "positive control: the PIN buffer must be visible mid-entry ({during:?})"
        );
        let result = entry.wait_answer();
        match ending {
            "K" => assert!(result.is_ok(), "{result:?}"),
            "X" => assert!(
                matches!(result, Err(PinEntryError::Cancelled)),
                "{result:?}"
            ),
            _ => assert!(matches!(result, Err(PinEntryError::TimedOut)), "{result:?}"),
        }
        // The process is still alive, waiting for the pipe to close.
        let after = scan(pid, &needles);
        assert!(
            after.is_empty(),
            "ending {ending:?}: found {after:?} after the entry"
        );
        entry.close();
    }
}

#[test]
fn core_dumps_are_off() {
    let terminal = Terminal::enrolled();
    let pad = PinPadProcess::new(terminal.config(""));
    let mut entry = pad.start(&request(&random_pan())).unwrap();
    entry.wait_ready().unwrap();
    let limits = std::fs::read_to_string(format!("/proc/{}/limits", entry.pid())).unwrap();
    let core = limits
        .lines()
        .find(|l| l.starts_with("Max core file size"))
        .unwrap();
    let fields: Vec<&str> = core.split_whitespace().collect();
    assert_eq!(fields.get(4..6), Some(&["0", "0"][..]), "{core}");
    entry.cancel();
    let _ = entry.wait_answer();
    entry.close();
}

/// The terminal's side: a separate process (this test binary run again as
/// `terminal_side_helper`) collects the PIN through `PinPadProcess`, exactly as the engine would,
/// and stays alive while this test reads its memory. Only the key script's path reaches it, never
/// the PIN.
#[test]
fn the_terminal_process_never_holds_the_pin() {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};

    let terminal = Terminal::enrolled();
    let pin = random_pin(12);
    let needles = needles(&pin);
    let config = terminal.config(&format!("{}K", script_of(&pin)));
    let script = config.env.first().map(|(_, v)| v.clone()).unwrap();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "terminal_side_helper",
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(HELPER_SCRIPT_ENV, script)
        .env(HELPER_STORE_ENV, terminal.store.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    // libtest may have written "test terminal_side_helper ... " on the same line.
    let done = lines
        .find_map(|l| {
            l.ok()
                .and_then(|l| l.split_once("PINPAD-DONE ").map(|(_, d)| d.to_owned()))
        })
        .unwrap();
    assert_eq!(done, "digits=12");
    let found = scan(child.id(), &needles);
    drop(child.stdin.take());
    assert!(child.wait().unwrap().success());
    assert!(found.is_empty(), "the terminal process holds {found:?}");
}

#[test]
#[ignore = "helper process of the_terminal_process_never_holds_the_pin"]
fn terminal_side_helper() {
    let (Some(script), Some(store)) = (
        std::env::var_os(HELPER_SCRIPT_ENV),
        std::env::var_os(HELPER_STORE_ENV),
    ) else {
        return;
    };
    let mut config = softpos::pinpad::PinPadConfig::new(env!("CARGO_BIN_EXE_softpos-pinpad-test"));
    config.store_dir = Some(store.into());
    config
        .env
        .push((softpos::pinpad::process::TEST_KEYS_ENV.into(), script));
    let pan = random_pan();
    let encrypted =
        softpos::pinpad::PinEntry::collect(&mut PinPadProcess::new(config), &request(&pan))
            .unwrap();
    // Straight to the pipe: `println!` would go to libtest's capture.
    let mut out = std::io::stdout().lock();
    writeln!(out, "PINPAD-DONE digits={}", encrypted.digits).unwrap();
    out.flush().unwrap();
    drop(out);
    // Stay alive until the test has read this process's memory and closes stdin.
    let mut rest = Vec::new();
    let _ = std::io::stdin().read_to_end(&mut rest);
}

const HELPER_SCRIPT_ENV: &str = "PINPAD_TEST_HELPER_SCRIPT";
const HELPER_STORE_ENV: &str = "PINPAD_TEST_HELPER_STORE";
