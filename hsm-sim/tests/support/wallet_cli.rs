//! Running `hsm-sim wallet …` as a customer does: the PIN typed on standard input.

use std::io::Write as _;
use std::process::{Child, Command, Stdio};

/// Starts `hsm-sim wallet ARGS` with `pin` on its standard input.
pub(crate) fn start_wallet(args: &[&str], pin: &str) -> Child {
    let mut child = Command::new(env!("CARGO_BIN_EXE_hsm-sim"))
        .arg("wallet")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("hsm-sim runs");
    child
        .stdin
        .take()
        .expect("standard input")
        .write_all(format!("{pin}\n").as_bytes())
        .expect("PIN written");
    child
}
