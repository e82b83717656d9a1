//! `softpos decode-qr` through the real binary: one JSON object per image and line, and the
//! exit status (0 all decoded, 1 an image without a readable code, 2 a file that is no image).
//! If a test here fails oddly, rebuild (`cargo build --bins`): the shared target directory may
//! hold another branch's binary.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use base64::Engine as _;
use serde_json::Value;

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/qr")
        .join(name)
}

/// Runs `softpos decode-qr --json FILES`; exit code and the JSON lines.
fn decode_json(names: &[&str]) -> (Option<i32>, Vec<Value>) {
    let output = Command::new(env!("CARGO_BIN_EXE_softpos"))
        .arg("decode-qr")
        .arg("--json")
        .args(names.iter().map(|n| data(n)))
        .stdin(Stdio::null())
        .output()
        .expect("run softpos");
    let stdout = String::from_utf8(output.stdout).expect("UTF-8 output");
    let lines = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    (output.status.code(), lines)
}

#[test]
fn text_and_binary_payloads_as_json_lines() {
    let (code, lines) = decode_json(&["emvco-promptpay.png", "binary.png"]);
    assert_eq!(code, Some(0), "{lines:?}");
    assert_eq!(lines.len(), 2);
    let text = &lines[0];
    assert_eq!(
        text["file"],
        data("emvco-promptpay.png").display().to_string()
    );
    assert_eq!(text["ok"], true);
    assert_eq!(
        text["text"],
        "00020101021129370016A000000677010111011300669186952145802TH5303764630471E4"
    );
    assert!(text.get("bytes_base64").is_none());
    assert!(text["ms"].as_f64().is_some_and(|ms| ms >= 0.0), "{text}");
    assert!(
        ["zxing-cpp", "rqrr", "rxing"].contains(&text["decoder"].as_str().unwrap_or_default()),
        "{text}"
    );
    let binary = &lines[1];
    assert_eq!(binary["ok"], true);
    assert!(binary.get("text").is_none(), "{binary}");
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(binary["bytes_base64"].as_str().expect("base64 string"))
        .expect("valid base64");
    assert_eq!(bytes[..4], [0x80, 0xFF, 0xC3, 0x28]);
    assert_eq!(bytes.len(), 24);
}

#[test]
fn an_image_without_a_code_exits_1_and_the_others_still_decode() {
    let (code, lines) = decode_json(&["no-code.png", "inverted.png"]);
    assert_eq!(code, Some(1), "{lines:?}");
    assert_eq!(lines[0]["ok"], false);
    assert_eq!(lines[0]["error"], "no QR code found");
    assert_eq!(lines[1]["ok"], true);
    assert_eq!(lines[1]["text"], "LIGHT ON DARK 0002010102115802FR");
}

#[test]
fn unreadable_files_exit_2_with_a_per_file_error() {
    let (code, lines) = decode_json(&[
        "garbage.png",
        "does-not-exist.png",
        "no-code.png",
        "emvco-dynamic-photo.jpg",
    ]);
    assert_eq!(code, Some(2), "{lines:?}");
    assert_eq!(lines.len(), 4);
    assert_eq!(lines[0]["ok"], false);
    assert!(
        lines[0]["error"]
            .as_str()
            .is_some_and(|e| e.contains("not a readable PNG or JPEG"))
    );
    assert_eq!(lines[1]["ok"], false);
    assert!(
        lines[1]["error"]
            .as_str()
            .is_some_and(|e| e.contains("cannot read"))
    );
    assert_eq!(lines[2]["ok"], false);
    assert_eq!(lines[3]["ok"], true, "a JPEG photo decodes: {}", lines[3]);
}

#[test]
fn the_plain_output_names_the_decoder_and_pass() {
    let output = Command::new(env!("CARGO_BIN_EXE_softpos"))
        .args(["decode-qr".as_ref(), data("inverted.png").as_os_str()])
        .stdin(Stdio::null())
        .output()
        .expect("run softpos");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{stdout}");
    assert!(
        stdout.contains("\"LIGHT ON DARK 0002010102115802FR\""),
        "{stdout}"
    );
    assert!(
        ["pass zxing-cpp", "pass rqrr", "pass rxing"]
            .iter()
            .any(|p| stdout.contains(p)),
        "{stdout}"
    );
    assert!(stdout.contains(" ms)"), "{stdout}");
}
