//! Replays the fuzz corpora of this crate's targets through the targets' own bodies (`emv::fuzz`),
//! so CI runs every committed input without libFuzzer: the hand-written seeds of
//! `fuzz/seeds/<target>/` and the minimised corpus of `fuzz/corpus/<target>/` that `scripts/fuzz`
//! writes. A panic (in the code under test or in an invariant the body checks) fails the test; the
//! last file name printed is the input.

#![allow(clippy::unwrap_used)] // A panic in a test is a failure.

use std::path::PathBuf;

fn replay(target: &str, body: impl Fn(&[u8])) {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fuzz");
    let mut seen = 0;
    for kind in ["seeds", "corpus"] {
        let dir = root.join(kind).join(target);
        let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|entry| entry.unwrap().path())
            .collect();
        files.sort();
        assert!(!files.is_empty(), "{} is empty", dir.display());
        for path in files {
            let data = std::fs::read(&path).unwrap();
            eprintln!("{}", path.display()); // the last name shown is the input that panicked
            body(&data);
            seen += 1;
        }
    }
    assert!(seen >= 2, "{target}: {seen} inputs");
}

#[test]
fn tlv_corpus() {
    replay("tlv", emv::fuzz::tlv);
}

#[test]
fn kernel_response_corpus() {
    replay("kernel_response", |data| {
        let _ = emv::fuzz::kernel_responses(data);
    });
}

#[test]
fn iso8583_decode_corpus() {
    replay("iso8583_decode", emv::fuzz::iso8583_response);
}

#[test]
fn ca_keys_corpus() {
    replay("ca_keys", emv::fuzz::ca_key_file);
}
