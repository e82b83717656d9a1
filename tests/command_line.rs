//! Every `softpos` binary answers `--help` and `--version` with exit 0, without touching a
//! bundle, a key store or its standard input. (`hsm-sim` has the same test in its own crate.)

use std::process::{Command, Stdio};

/// Runs `binary args` with no standard input; exit code, stdout and stderr.
fn run(binary: &str, args: &[&str]) -> (Option<i32>, String, String) {
    let output = Command::new(binary)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run the binary");
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

fn assert_help_and_version(binary: &str, name: &str, subcommand: &str) {
    let (code, stdout, stderr) = run(binary, &["--help"]);
    assert_eq!(code, Some(0), "{name} --help:\n{stdout}\n{stderr}");
    assert!(stdout.contains("Usage:"), "{name} --help:\n{stdout}");
    assert!(stdout.contains(subcommand), "{name} --help:\n{stdout}");

    let (code, stdout, stderr) = run(binary, &["--version"]);
    assert_eq!(code, Some(0), "{name} --version:\n{stdout}\n{stderr}");
    assert_eq!(
        stdout.trim(),
        format!("{name} {}", env!("CARGO_PKG_VERSION")),
        "{name} --version"
    );

    let (code, stdout, stderr) = run(binary, &[subcommand, "--help"]);
    assert_eq!(
        code,
        Some(0),
        "{name} {subcommand} --help:\n{stdout}\n{stderr}"
    );
    assert!(
        stdout.contains("Usage:"),
        "{name} {subcommand} --help:\n{stdout}"
    );

    let (code, _, stderr) = run(binary, &["--no-such-option"]);
    assert_eq!(code, Some(2), "{name} --no-such-option:\n{stderr}");
}

#[test]
fn softpos_answers_help_and_version() {
    assert_help_and_version(env!("CARGO_BIN_EXE_softpos"), "softpos", "read-card");
}

#[test]
fn the_pin_pad_answers_help_and_version_and_opens_no_bundle() {
    let binary = env!("CARGO_BIN_EXE_softpos-pinpad");
    assert_help_and_version(binary, "softpos-pinpad", "install-key");
    // `install-key --help` is help, not a bundle called `--help`.
    let (code, stdout, stderr) = run(binary, &["install-key", "--help"]);
    assert_eq!(code, Some(0), "{stdout}\n{stderr}");
    assert!(!stderr.contains("cannot install"), "{stderr}");
}

#[cfg(feature = "pinpad-test-input")]
#[test]
fn the_test_pin_pad_answers_help_and_version() {
    assert_help_and_version(
        env!("CARGO_BIN_EXE_softpos-pinpad-test"),
        "softpos-pinpad-test",
        "install-key",
    );
}
