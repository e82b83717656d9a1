//! `hsm-sim --help` and `--version` answer with exit 0, like every binary of the workspace.

use std::process::{Command, Stdio};

#[test]
fn hsm_sim_answers_help_and_version() {
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_hsm-sim"))
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("run hsm-sim")
    };
    let help = run(&["--help"]);
    let stdout = String::from_utf8_lossy(&help.stdout);
    assert_eq!(help.status.code(), Some(0), "{stdout}");
    assert!(
        stdout.contains("Usage:") && stdout.contains("enroll"),
        "{stdout}"
    );

    let version = run(&["--version"]);
    assert_eq!(version.status.code(), Some(0));
    assert_eq!(
        String::from_utf8_lossy(&version.stdout).trim(),
        format!("hsm-sim {}", env!("CARGO_PKG_VERSION"))
    );

    let enroll_help = run(&["enroll", "--help"]);
    assert_eq!(enroll_help.status.code(), Some(0));

    assert_eq!(run(&["--no-such-option"]).status.code(), Some(2));
}
