//! `hsm-sim` console commands for the host area: `serve`, `enroll`, `terminal`, `bench`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;

use crate::host::faults::FaultSpec;
use crate::host::{Host, HostConfig, blocklist, enrol};

/// The host commands.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Runs the acquirer host (ISO 8583 over mutual TLS 1.3) until SIGTERM or Ctrl-C. Creates
    /// the CA, keys and seeded accounts in the data directory on first start.
    Serve(Box<ServeArgs>),
    /// Writes a terminal's enrolment bundle: client certificate and key, host CA, DUKPT
    /// initial key and KSN, host address.
    Enroll(Box<EnrollArgs>),
    /// Manages the host's revocation list (`DATA/blocked-terminals`): a blocked terminal is
    /// refused (DE 39 `58`) from its next message on, even on an open connection.
    Terminal {
        /// What to do.
        #[command(subcommand)]
        action: TerminalAction,
    },
    /// Lists the enrolled terminals: how each was enrolled, whether it is blocked, its last
    /// attestation with the verdict, and its velocity alerts.
    Terminals {
        /// The host's data directory.
        #[arg(long, default_value = DEFAULT_DATA)]
        data: PathBuf,
    },
    /// Load test: N concurrent TLS terminals send 0200s with a PIN block and an ARQC to an
    /// embedded host; prints authorizations per second and p50/p99 latency.
    Bench(Box<crate::host::bench::BenchArgs>),
}

/// `hsm-sim terminal` actions.
#[derive(Debug, clap::Subcommand)]
pub enum TerminalAction {
    /// Makes a one-time activation code for a new terminal of a merchant
    /// (`softpos activate CODE --host HOST:PORT`, `docs/enrolment.md`).
    Add {
        /// The merchant the terminal will belong to.
        #[arg(long)]
        merchant: String,
        /// How long the code works, in hours.
        #[arg(long, default_value_t = 24)]
        valid_hours: u64,
        /// The host's data directory.
        #[arg(long, default_value = DEFAULT_DATA)]
        data: PathBuf,
    },
    /// Adds a terminal to the revocation list.
    Block(TerminalArgs),
    /// Removes a terminal from the revocation list.
    Unblock(TerminalArgs),
    /// Prints the blocked terminal IDs, one per line.
    Blocked {
        /// The host's data directory.
        #[arg(long, default_value = DEFAULT_DATA)]
        data: PathBuf,
    },
}

/// `hsm-sim terminal block|unblock` options.
#[derive(Debug, clap::Args)]
pub struct TerminalArgs {
    /// The terminal ID (DE 41), 8 characters A-Z0-9.
    terminal_id: String,
    /// The host's data directory.
    #[arg(long, default_value = DEFAULT_DATA)]
    data: PathBuf,
}

/// `hsm-sim serve` options.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, default_value = DEFAULT_LISTEN)]
    listen: SocketAddr,
    /// Address of the HTTPS API (`docs/host-api.md`).
    #[arg(long, default_value = DEFAULT_API_LISTEN)]
    api_listen: SocketAddr,
    /// Data directory (CA, keys, ledger).
    #[arg(long, default_value = DEFAULT_DATA)]
    data: PathBuf,
    /// Test fault switch: `delay=MS`, `drop[=N]`, `close[=N]`, `bad-mac[=N]` (repeatable).
    #[arg(long = "fault")]
    faults: Vec<FaultSpec>,
}

/// `hsm-sim enroll` options.
#[derive(Debug, clap::Args)]
pub struct EnrollArgs {
    /// The terminal ID (DE 41), 8 characters A-Z0-9.
    #[arg(long)]
    terminal_id: String,
    /// Output directory.
    #[arg(long)]
    out: PathBuf,
    /// The host's data directory.
    #[arg(long, default_value = DEFAULT_DATA)]
    data: PathBuf,
    /// The host address written into the bundle.
    #[arg(long, default_value = DEFAULT_LISTEN)]
    host: String,
    /// The address of the host's HTTPS API written into the bundle.
    #[arg(long, default_value = DEFAULT_API_LISTEN)]
    api: String,
    /// Issue no MAC key: the host then accepts this terminal's requests without MAC (for test
    /// clients that do not implement `docs/iso8583.md` §6). By default the bundle has a MAC key
    /// and the host requires a MAC on every request but 0800.
    #[arg(long)]
    no_mac: bool,
}

impl Command {
    /// Runs the command.
    pub fn run(self) -> anyhow::Result<ExitCode> {
        match self {
            Self::Serve(args) => serve(&args),
            Self::Enroll(args) => {
                let EnrollArgs {
                    terminal_id,
                    out,
                    data,
                    host,
                    api,
                    no_mac,
                } = *args;
                let options = enrol::EnrolOptions { mac: !no_mac };
                let mut bundle = enrol::enroll_with(&data, &terminal_id, &host, options)
                    .with_context(|| format!("enrolling {terminal_id}"))?;
                bundle.api = Some(api);
                bundle
                    .write(&out)
                    .with_context(|| format!("writing {}", out.display()))?;
                println!(
                    "enrolment bundle of {terminal_id} written to {}",
                    out.display()
                );
                if bundle.mac_key.is_none() {
                    println!("no MAC key: the host accepts this terminal's requests without MAC");
                }
                if bundle.dukpt.is_none() {
                    println!("warning: the HSM issued no DUKPT key; online PIN is not available");
                }
                Ok(ExitCode::SUCCESS)
            }
            Self::Terminal { action } => terminal(action),
            Self::Terminals { data } => {
                let terminals = crate::host::terminals::list(&data)
                    .with_context(|| format!("reading the terminals of {}", data.display()))?;
                if terminals.is_empty() {
                    println!("no terminals enrolled in {}", data.display());
                }
                for t in &terminals {
                    println!("{}", terminal_line(t));
                }
                Ok(ExitCode::SUCCESS)
            }
            Self::Bench(args) => {
                let report = crate::host::bench::run(&args)?;
                println!("{report}");
                Ok(ExitCode::SUCCESS)
            }
        }
    }
}

/// `A0000001  activated  blocked  attested 2026-12-04T18:20:01Z: a debugger is attached
/// (0.1.0, production, wayland, Debian GNU/Linux 13)`.
fn terminal_line(t: &crate::host::terminals::TerminalStatus) -> String {
    let enrolment = if t.activated { "activated" } else { "bundle" };
    let state = if t.blocked { "blocked" } else { "active" };
    let evidence = match &t.last_evidence {
        None if t.activated => "never attested".to_owned(),
        None => "not attested".to_owned(),
        Some(record) => {
            let at =
                time::OffsetDateTime::from_unix_timestamp(i64::try_from(record.at).unwrap_or(0))
                    .ok()
                    .and_then(|t| {
                        t.format(&time::format_description::well_known::Rfc3339)
                            .ok()
                    })
                    .unwrap_or_else(|| record.at.to_string());
            let verdict = if record.failures.is_empty() {
                "passed".to_owned()
            } else {
                record.failures.join("; ")
            };
            let e = &record.evidence;
            format!(
                "attested {at}: {verdict} ({}, {}, {}, {})",
                e.version, e.profile, e.display, e.os
            )
        }
    };
    format!(
        "{:<8}  {enrolment:<9}  {state:<7}  {evidence}",
        t.terminal_id
    )
}

fn terminal(action: TerminalAction) -> anyhow::Result<ExitCode> {
    match action {
        TerminalAction::Add {
            merchant,
            valid_hours,
            data,
        } => {
            let validity = std::time::Duration::from_secs(valid_hours.saturating_mul(3600));
            let issued = crate::host::activation::add_terminal(&data, &merchant, validity)
                .context("making an activation code")?;
            // The code on a line of its own first: scripts and tests read it.
            println!("{}", issued.full());
            println!(
                "one-time activation code for a terminal of {merchant}, valid {valid_hours} h; \
                 the last 12 characters are the host's fingerprint"
            );
        }
        TerminalAction::Block(TerminalArgs { terminal_id, data }) => {
            let added = blocklist::block(&data, &terminal_id)
                .with_context(|| format!("blocking {terminal_id}"))?;
            let state = if added { "blocked" } else { "already blocked" };
            println!("{terminal_id} {state}");
        }
        TerminalAction::Unblock(TerminalArgs { terminal_id, data }) => {
            let removed = blocklist::unblock(&data, &terminal_id)
                .with_context(|| format!("unblocking {terminal_id}"))?;
            let state = if removed {
                "unblocked"
            } else {
                "was not blocked"
            };
            println!("{terminal_id} {state}");
        }
        TerminalAction::Blocked { data } => {
            for id in blocklist::blocked(&data).context("reading the revocation list")? {
                println!("{id}");
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn serve(args: &ServeArgs) -> anyhow::Result<ExitCode> {
    let data = &args.data;
    let config = HostConfig::new(data)
        .listen(args.listen)
        .api_listen(args.api_listen);
    let host =
        Host::start(config).with_context(|| format!("starting the host in {}", data.display()))?;
    // The first line names the address (scripts and tests read it).
    println!("hsm-sim acquirer host listening on {}", host.local_addr());
    println!("  HTTPS API:      {}", host.api_addr());
    for fault in &args.faults {
        fault.apply(host.faults());
        println!("  fault switch armed: {fault:?}");
    }
    println!("  data directory: {}", data.display());
    println!("  host CA:        {}", data.join("ca.pem").display());
    println!("  ledger:         {}", host.ledger_path().display());
    println!(
        "  enrol a terminal: hsm-sim enroll --terminal-id T0000001 --out DIR --data {}",
        data.display()
    );
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let mut term = signal(SignalKind::terminate())?;
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
        }
        #[cfg(not(unix))]
        tokio::signal::ctrl_c().await?;
        anyhow::Ok(())
    })?;
    println!("shutting down");
    host.shutdown();
    Ok(ExitCode::SUCCESS)
}

const DEFAULT_LISTEN: &str = "127.0.0.1:8583";
const DEFAULT_API_LISTEN: &str = "127.0.0.1:8443";
const DEFAULT_DATA: &str = "hsm-sim-data";
