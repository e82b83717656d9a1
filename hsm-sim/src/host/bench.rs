//! The load generator of `hsm-sim bench`: N concurrent TLS terminals on loopback against an
//! embedded host, each sending 0200s with a contactless ARQC (DE 55), an AES format-4 PIN block
//! (DE 62/63) and a request MAC, so every authorization costs the host a TLS record each way,
//! a DUKPT PIN verification, an ARQC verification, an ARPC, two MACs and a durable ledger
//! commit (group commit, `synchronous=FULL`).
//!
//! Requests are built before the clock starts (the terminals' own crypto would otherwise take
//! CPU from the host on the same cores); the figures are for the host alone.

use std::fmt;
use std::time::{Duration, Instant};

use anyhow::Context;

use super::client::{TerminalClient, TerminalDukpt, TestCard, requests};
use super::ledger::{AccountSeed, AccountStatus};
use super::{Host, HostConfig};

/// `hsm-sim bench` options.
#[derive(Debug, Clone, clap::Args)]
pub struct BenchArgs {
    /// Concurrent TLS terminals.
    #[arg(long, default_value_t = 32)]
    pub clients: usize,
    /// Authorizations each terminal sends.
    #[arg(long, default_value_t = 1_000)]
    pub transactions: usize,
    /// Worker threads of the host.
    #[arg(long, default_value_t = 2)]
    pub host_threads: usize,
    /// Data directory for the bench's host (default: a fresh temporary directory).
    #[arg(long)]
    pub data: Option<std::path::PathBuf>,
}

impl Default for BenchArgs {
    fn default() -> Self {
        Self {
            clients: 32,
            transactions: 1_000,
            host_threads: 2,
            data: None,
        }
    }
}

/// The bench result.
#[derive(Debug, Clone)]
pub struct BenchReport {
    /// Terminals.
    pub clients: usize,
    /// Authorizations answered `00`.
    pub approved: usize,
    /// Other answers or errors.
    pub failed: usize,
    /// Wall time of the measured phase.
    pub elapsed: Duration,
    /// Median latency.
    pub p50: Duration,
    /// 99th percentile latency.
    pub p99: Duration,
    /// CPU time the host's threads (TLS workers and ledger writer) used during the measured
    /// phase, if the platform reports it (Linux `/proc`).
    pub host_cpu: Option<Duration>,
    /// The part of [`BenchReport::host_cpu`] used by the single ledger writer thread, whose
    /// cost per authorization bounds the host's throughput.
    pub writer_cpu: Option<Duration>,
}

impl BenchReport {
    /// Approved authorizations per second.
    pub fn per_second(&self) -> f64 {
        let secs = self.elapsed.as_secs_f64();
        if secs > 0.0 {
            // Precision loss only above 2^52 authorizations.
            #[allow(clippy::cast_precision_loss)]
            let n = self.approved as f64;
            n / secs
        } else {
            0.0
        }
    }
}

impl BenchReport {
    /// Host CPU time per approved authorization.
    pub fn host_cpu_per_authorization(&self) -> Option<Duration> {
        let n = u32::try_from(self.approved).ok().filter(|n| *n > 0)?;
        Some(self.host_cpu? / n)
    }

    /// Ledger writer CPU time per approved authorization.
    pub fn writer_cpu_per_authorization(&self) -> Option<Duration> {
        let n = u32::try_from(self.approved).ok().filter(|n| *n > 0)?;
        Some(self.writer_cpu? / n)
    }
}

impl fmt::Display for BenchReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let (Some(host), Some(writer)) = (
            self.host_cpu_per_authorization(),
            self.writer_cpu_per_authorization(),
        ) {
            let host = host.as_secs_f64() * 1e6;
            let writer = writer.as_secs_f64() * 1e6;
            writeln!(
                f,
                "host CPU {host:.0} us per authorization (TLS workers + ledger writer), of \
                 which the single ledger writer {writer:.0} us: capacity about {:.0} \
                 authorizations/s on 2 free cores (bounded by the writer at {:.0}/s)",
                (2e6 / host.max(1.0)).min(1e6 / writer.max(1.0)),
                1e6 / writer.max(1.0)
            )?;
        }
        write!(
            f,
            "{} TLS terminals, {} authorizations approved ({} failed) in {:.2} s: \
             {:.0} authorizations/s, latency p50 {:.2} ms, p99 {:.2} ms \
             (0200 with ARQC + AES DUKPT PIN block + MAC)",
            self.clients,
            self.approved,
            self.failed,
            self.elapsed.as_secs_f64(),
            self.per_second(),
            self.p50.as_secs_f64() * 1e3,
            self.p99.as_secs_f64() * 1e3,
        )
    }
}

/// Runs the bench.
pub fn run(args: &BenchArgs) -> anyhow::Result<BenchReport> {
    let temp;
    let data = match &args.data {
        Some(d) => d.clone(),
        None => {
            temp = TempDir::new()?;
            temp.path.clone()
        }
    };
    let clients = args.clients.max(1);
    let pans: Vec<String> = (0..clients).map(bench_pan).collect();
    let seeds: Vec<AccountSeed> = pans
        .iter()
        .map(|pan| AccountSeed {
            pan: pan.clone(),
            scheme: "visa".to_owned(),
            balance: i64::MAX / 4,
            status: AccountStatus::Active,
            daily_limit: i64::MAX / 4,
            expiry: "4912".to_owned(),
        })
        .collect();
    super::seed_accounts(&data, &seeds).context("seeding the bench accounts")?;
    let mut config = HostConfig::new(&data);
    config.worker_threads = args.host_threads;
    // Every bench terminal connects from loopback.
    config.limits.max_per_source = config.limits.max_per_source.max(clients + 1);
    config.limits.max_handshakes = config.limits.max_handshakes.max(clients + 1);
    let host = Host::start(config).context("starting the host")?;

    eprintln!("bench: preparing {} requests", clients * args.transactions);
    let mut work = Vec::with_capacity(clients);
    for (i, pan) in pans.iter().enumerate() {
        let terminal_id = format!("B{i:07}");
        let bundle = host.enroll(&terminal_id)?;
        let mut dukpt = TerminalDukpt::from_bundle(&bundle)?;
        let mut card = TestCard::visa(pan, 0);
        let transmission = requests::transmission_now();
        let mut frames = Vec::with_capacity(args.transactions);
        for n in 0..args.transactions {
            let stan = u32::try_from(n % 999_999 + 1).unwrap_or(1);
            let amount = 12_000;
            let mut m = requests::purchase(&terminal_id, stan, &transmission, pan, amount);
            m.set(55, card.icc_data(amount)?);
            let ksn = dukpt.next_ksn()?;
            m.set(
                62,
                dukpt.pin_block(ksn, super::issuer::DEMO_PIN, pan)?.to_vec(),
            );
            m.set(63, ksn.to_vec());
            dukpt.add_mac(&mut m)?;
            frames.push(m.encode_frame()?);
        }
        work.push((bundle, frames));
    }

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let report = runtime.block_on(async move {
        let mut connected = Vec::with_capacity(work.len());
        for (bundle, frames) in work {
            connected.push((TerminalClient::connect(&bundle).await?, frames));
        }
        let cpu_before = host_threads_cpu();
        let start = Instant::now();
        let mut tasks = tokio::task::JoinSet::new();
        for (mut client, frames) in connected {
            tasks.spawn(async move {
                let mut latencies = Vec::with_capacity(frames.len());
                let mut failed = 0usize;
                for frame in frames {
                    let t = Instant::now();
                    match client.send_raw(&frame).await {
                        Ok(body) if approved(&body) => latencies.push(t.elapsed()),
                        _ => failed += 1,
                    }
                }
                (latencies, failed)
            });
        }
        let mut latencies = Vec::new();
        let mut failed = 0;
        while let Some(joined) = tasks.join_next().await {
            let (l, f) = joined?;
            latencies.extend(l);
            failed += f;
        }
        let elapsed = start.elapsed();
        let cpu_after = host_threads_cpu();
        let (host_cpu, writer_cpu) = match (cpu_before, cpu_after) {
            (Some((a, wa)), Some((b, wb))) => (b.checked_sub(a), wb.checked_sub(wa)),
            _ => (None, None),
        };
        latencies.sort_unstable();
        let percentile = |p: usize| {
            latencies
                .get((latencies.len() * p / 100).min(latencies.len().saturating_sub(1)))
                .copied()
                .unwrap_or_default()
        };
        anyhow::Ok(BenchReport {
            clients,
            approved: latencies.len(),
            failed,
            elapsed,
            p50: percentile(50),
            p99: percentile(99),
            host_cpu,
            writer_cpu,
        })
    })?;
    host.shutdown();
    Ok(report)
}

/// CPU time (user + system) of this process's host threads (`hsm-sim-host`,
/// `hsm-sim-ledger`) and of the ledger writer alone, from `/proc/self/task/*/stat` (fields 14
/// and 15, in clock ticks of 1/100 s on Linux).
fn host_threads_cpu() -> Option<(Duration, Duration)> {
    let mut ticks = 0u64;
    let mut writer_ticks = 0u64;
    for task in std::fs::read_dir("/proc/self/task").ok()? {
        let path = task.ok()?.path();
        let comm = std::fs::read_to_string(path.join("comm")).unwrap_or_default();
        if !comm.starts_with("hsm-sim-host") && !comm.starts_with("hsm-sim-ledger") {
            continue;
        }
        let stat = std::fs::read_to_string(path.join("stat")).ok()?;
        // The command name (field 2) may hold spaces: count fields after its closing ')'.
        let after = stat.rsplit_once(')')?.1;
        let fields: Vec<&str> = after.split_whitespace().collect();
        let utime: u64 = fields.get(11)?.parse().ok()?;
        let stime: u64 = fields.get(12)?.parse().ok()?;
        ticks += utime + stime;
        if comm.starts_with("hsm-sim-ledger") {
            writer_ticks += utime + stime;
        }
    }
    Some((
        Duration::from_millis(ticks * 10),
        Duration::from_millis(writer_ticks * 10),
    ))
}

fn approved(body: &[u8]) -> bool {
    crate::iso8583::Message::decode(body).is_ok_and(|m| m.text(39) == Some("00"))
}

/// A Luhn-valid 16-digit Visa test PAN for bench account `i`.
fn bench_pan(i: usize) -> String {
    let body = format!("476173999{:06}", i % 1_000_000);
    let sum: u32 = body
        .bytes()
        .rev()
        .enumerate()
        .map(|(k, b)| {
            let d = u32::from(b - b'0');
            if k % 2 == 0 {
                let dd = d * 2;
                if dd > 9 { dd - 9 } else { dd }
            } else {
                d
            }
        })
        .sum();
    format!("{body}{}", (10 - sum % 10) % 10)
}

/// A temporary directory removed on drop (the bench's default data directory).
struct TempDir {
    path: std::path::PathBuf,
}

impl TempDir {
    fn new() -> anyhow::Result<Self> {
        let mut suffix = [0u8; 8];
        getrandom::fill(&mut suffix).map_err(|e| anyhow::anyhow!("random: {e}"))?;
        let path = std::env::temp_dir().join(format!("hsm-sim-bench-{}", hex::encode(suffix)));
        std::fs::create_dir_all(&path)?;
        Ok(Self { path })
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bench_pans_are_luhn_valid() {
        // Luhn over 476173999000000: weighted sum 54, so the check digit is 6.
        assert_eq!(bench_pan(0), "4761739990000006");
        assert_ne!(bench_pan(1), bench_pan(2));
    }
}
