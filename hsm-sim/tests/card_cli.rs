//! `hsm-sim card`: the profile list, the masked dump, and a `--once` run against a fake vpcd
//! reader (the process must end by itself after the power-off that follows a tap).

// Test helpers: an unwrap that fails is a test failure.
#![allow(clippy::unwrap_used)]

use std::io::{Read, Write};
use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use hex_literal::hex;
use hsm_sim::card::Profile;

fn hsm_sim() -> Command {
    Command::new(env!("CARGO_BIN_EXE_hsm-sim"))
}

#[test]
fn list_names_every_profile() {
    let output = hsm_sim().args(["card", "--list"]).output().unwrap();
    assert!(output.status.success());
    let text = String::from_utf8(output.stdout).unwrap();
    for name in Profile::names() {
        assert!(text.lines().any(|l| l.starts_with(name)), "{name} missing");
    }
}

#[test]
fn dump_masks_the_pan_and_hides_track2() {
    let output = hsm_sim().args(["card", "--dump", "visa"]).output().unwrap();
    assert!(output.status.success());
    let text = String::from_utf8(output.stdout).unwrap();
    assert!(text.contains("476173******0119"));
    assert!(!text.contains("4761739001010119"), "no full PAN");
    assert!(!text.contains("D2812"), "no track 2");
    assert!(text.contains("9F46"), "the certificate records are listed");
}

#[test]
fn unknown_profile_fails_with_the_list() {
    let output = hsm_sim().args(["card", "--dump", "amex"]).output().unwrap();
    assert!(!output.status.success());
    assert!(
        String::from_utf8(output.stderr)
            .unwrap()
            .contains("mastercard")
    );
}

#[test]
fn once_ends_after_the_power_off_that_follows_a_tap() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap().to_string();
    let mut child = hsm_sim()
        .args([
            "card",
            "--profile",
            "mastercard",
            "--once",
            "--atc",
            "41",
            "--vpcd",
            &address,
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (mut reader, _) = listener.accept().unwrap();
    reader
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut exchange = |payload: &[u8], answer: bool| -> Vec<u8> {
        reader
            .write_all(&u16::try_from(payload.len()).unwrap().to_be_bytes())
            .unwrap();
        reader.write_all(payload).unwrap();
        if !answer {
            return Vec::new();
        }
        let mut length = [0u8; 2];
        reader.read_exact(&mut length).unwrap();
        let mut data = vec![0u8; usize::from(u16::from_be_bytes(length))];
        reader.read_exact(&mut data).unwrap();
        data
    };
    exchange(&[0x01], false);
    assert_eq!(exchange(&[0x04], true)[0], 0x3B);
    exchange(&hex!("00A404000E325041592E5359532E444446303100"), true);
    exchange(&hex!("00A4040007A000000004101000"), true);
    assert_eq!(
        &exchange(&hex!("80A8000002830000"), true)[..2],
        &[0x77, 0x12]
    );
    exchange(&[0x00], false);

    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "hsm-sim card did not end"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success());
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert!(stderr.contains("1 tap(s)"), "{stderr}");
    assert!(stderr.contains("ATC 002A"), "41 + 1 = 0x2A: {stderr}");
}
