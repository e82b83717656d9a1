//! `softpos-pinpad`: the secure PIN entry process. See `docs/pinpad.md`.
#![forbid(unsafe_code)]

fn main() -> std::process::ExitCode {
    softpos::pinpad::process::main(softpos::pinpad::process::InputMode::Screen)
}
