//! The hsm test-key commands print the published vectors: ANSI X9.24-3-2017 supplement (AES
//! DUKPT, format 4 PIN block), X9.24-1:2009 A.4 (TDES DUKPT, format 0), pyemv
//! `tests/test_cvn_hsm.py` (Visa CVN 18 ARQC, CVN 10 ARPC).
#![allow(clippy::unwrap_used)] // A panic in a test is a failure.

use std::process::Command;

fn run(args: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_hsm-sim"))
        .args(args)
        .output()
        .unwrap();
    (out.status.success(), String::from_utf8(out.stdout).unwrap())
}

#[test]
fn dukpt_aes_prints_supplement_keys() {
    let (ok, out) = run(&[
        "dukpt",
        "--bdk",
        "FEDCBA9876543210F1F1F1F1F1F1F1F1",
        "--ksn",
        "123456789012345600000001",
    ]);
    assert!(ok);
    assert!(
        out.contains("initial key       1273671EA26AC29AFA4D1084127652A1"),
        "{out}"
    );
    assert!(
        out.contains("PIN encryption    AF8CB133A78F8DC2D1359F18527593FB"),
        "{out}"
    );
    assert!(
        out.contains("next KSN          123456789012345600000002"),
        "{out}"
    );
}

#[test]
fn dukpt_tdes_prints_annex_a_keys() {
    let (ok, out) = run(&[
        "dukpt",
        "--bdk",
        "0123456789ABCDEFFEDCBA9876543210",
        "--ksn",
        "FFFF9876543210E00001",
    ]);
    assert!(ok);
    assert!(
        out.contains("IPEK              6AC292FAA1315B4D858AB3A3D7D5933A"),
        "{out}"
    );
    assert!(
        out.contains("PIN               042666B49184CF5C68DE9628D0397B36"),
        "{out}"
    );
}

#[test]
fn pinblock_format4_round_trip() {
    let key = "AF8CB133A78F8DC2D1359F18527593FB";
    let pan = "4111111111111111";
    let (ok, out) = run(&[
        "pinblock",
        "encode",
        "--format",
        "4",
        "--key",
        key,
        "--pin",
        "1234",
        "--pan",
        pan,
        "--fill",
        "2F69ADDE2E9E7ACE",
    ]);
    assert!(ok);
    assert_eq!(out.trim(), "PIN block A912150391AB65A67E52883D81CE2D15");
    let (ok, out) = run(&[
        "pinblock",
        "decode",
        "--format",
        "4",
        "--key",
        key,
        "--block",
        "A912150391AB65A67E52883D81CE2D15",
        "--pan",
        pan,
    ]);
    assert!(ok);
    assert_eq!(out.trim(), "PIN 1234");
}

#[test]
fn arqc_verify_and_arpc() {
    let common = [
        "--imk",
        "0123456789ABCDEFFEDCBA9876543210",
        "--pan",
        "1234567890123456",
    ];
    let data = [
        "--amount",
        "000000004000",
        "--country",
        "0124",
        "--tvr",
        "8000048000",
        "--currency",
        "0124",
        "--date",
        "191105",
        "--type",
        "01",
        "--un",
        "52BF4585",
        "--aip",
        "1800",
        "--atc",
        "001C",
        "--iad",
        "06011203A0B800",
    ];
    let mut args = vec!["arqc", "verify", "--cvn", "18"];
    args.extend(common);
    args.extend(data);
    let mut good = args.clone();
    good.extend(["--arqc", "7A788EA6B8A3E733"]);
    let (ok, out) = run(&good);
    assert!(ok, "{out}");
    assert!(out.contains("ARQC verifies"));
    let mut bad = args;
    bad.extend(["--arqc", "7A788EA6B8A3E734"]);
    let (ok, out) = run(&bad);
    assert!(!ok);
    assert!(out.contains("does NOT verify"));
    let mut arpc = vec![
        "arpc",
        "--cvn",
        "10",
        "--atc",
        "001C",
        "--arqc",
        "29CCA15AE665FA2E",
    ];
    arpc.extend(common);
    arpc.extend(["--arc", "3030"]);
    let (ok, out) = run(&arpc);
    assert!(ok);
    assert_eq!(out.trim(), "ARPC 28993816AFAE4AEB");
}
