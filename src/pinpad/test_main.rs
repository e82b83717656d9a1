//! `softpos-pinpad-test`: the PIN entry process with the test input mode (key presses read from
//! the file named by `SOFTPOS_PINPAD_TEST_KEYS` instead of the screen). Built only with the
//! `pinpad-test-input` feature, which release builds never enable.
#![forbid(unsafe_code)]

fn main() -> std::process::ExitCode {
    softpos::pinpad::process::main(softpos::pinpad::process::InputMode::TestFile)
}
