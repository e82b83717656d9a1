//! Replays every seed of `fuzz/corpus/tlv/` and `fuzz/corpus/kernel_response/` through the same
//! functions the fuzz targets call (`emv::tlv::fuzz_one`, `emv::fuzz::kernel_responses`), so CI
//! checks the seeds without libFuzzer. The seeds are the real Visa/Mastercard traces of
//! `tests/data/kernel/` and the malformed vectors of security requirements §F B1; the expected
//! outcomes of the named kernel seeds are asserted too.

#![allow(clippy::unwrap_used)] // A panic in a test is a failure.

use std::fs;
use std::path::PathBuf;

use emv::kernel::OutcomeKind;

fn corpus(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/seeds")
        .join(target);
    let mut files: Vec<(String, Vec<u8>)> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            (name, fs::read(&path).unwrap())
        })
        .collect();
    files.sort();
    files
}

#[test]
fn tlv_seeds_do_not_panic() {
    let seeds = corpus("tlv");
    assert!(seeds.len() >= 10, "seed corpus present");
    for (name, data) in &seeds {
        emv::fuzz::tlv(data);
        let parsed = emv::tlv::parse(data);
        if name.starts_with("dol_") {
            assert!(emv::dol::Dol::parse(data).is_ok(), "{name} is a DOL");
        } else if name.starts_with("b1_") {
            assert!(parsed.is_err(), "{name} must be refused");
        } else {
            assert!(parsed.is_ok(), "{name} must parse: {parsed:?}");
        }
    }
}

#[test]
fn kernel_seeds_do_not_panic_and_give_their_outcomes() {
    let seeds = corpus("kernel_response");
    assert!(seeds.len() >= 8, "seed corpus present");
    for (name, data) in &seeds {
        let outcome = emv::fuzz::kernel_responses(data).expect("an outcome");
        let expected = match name.as_str() {
            "visa_lloyds.bin" | "visa_lloyds_oda_pass.bin" | "mastercard_cda.bin" => {
                Some(OutcomeKind::OnlineRequest)
            }
            "mastercard_plain_arqc_cvm.bin" => Some(OutcomeKind::OnlineRequest),
            "mastercard_cda_not_performed.bin" => Some(OutcomeKind::Declined),
            "visa_torn_after_gpo.bin" | "visa_gpo_6986.bin" => Some(OutcomeKind::TryAgain),
            "visa_bad_record_b1.bin" => Some(OutcomeKind::EndApplication),
            _ => None,
        };
        if let Some(kind) = expected {
            assert_eq!(outcome.kind, kind, "{name}: {}", outcome.reason);
        }
    }
}

#[test]
fn truncated_and_mutated_seeds_do_not_panic() {
    for (_, data) in corpus("kernel_response") {
        for cut in (0..data.len()).step_by(7) {
            let _ = emv::fuzz::kernel_responses(&data[..cut]);
        }
        for i in (1..data.len()).step_by(5) {
            let mut mutated = data.clone();
            mutated[i] ^= 0xA5;
            let _ = emv::fuzz::kernel_responses(&mutated);
        }
    }
}
