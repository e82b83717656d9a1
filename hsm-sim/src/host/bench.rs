//! The load generator of `hsm-sim bench` (TODO: being written).

use std::fmt;

/// `hsm-sim bench` options.
#[derive(Debug, Clone, clap::Args)]
pub struct BenchArgs {
    /// Concurrent TLS terminals.
    #[arg(long, default_value_t = 16)]
    pub clients: usize,
    /// Seconds to run.
    #[arg(long, default_value_t = 10)]
    pub seconds: u64,
}

/// The bench result.
#[derive(Debug, Clone)]
pub struct BenchReport {
    /// Authorizations per second.
    pub per_second: f64,
}

impl fmt::Display for BenchReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:.0} authorizations/s", self.per_second)
    }
}

/// Runs the bench.
pub fn run(args: &BenchArgs) -> anyhow::Result<BenchReport> {
    let _ = args;
    anyhow::bail!("bench not written yet")
}
