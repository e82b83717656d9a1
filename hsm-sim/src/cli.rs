//! The console commands of the `hsm-sim` binary, one module per area. Each module exports a
//! clap `Command` enum (flattened into the top level) with a `run` method.

pub mod card;
pub mod host;
pub mod hsm;
pub mod wallet;
