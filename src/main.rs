//! The softpos terminal.
#![forbid(unsafe_code)]

fn main() {}
