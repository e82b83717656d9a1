//! Velocity monitoring (`docs/attestation.md` § Velocity): the host watches each terminal's
//! money requests on the link and raises an alert when one goes past a threshold of the policy
//! (`[velocity]` in `DATA/attestation-policy.toml`):
//!
//! - PIN entries (requests with a PIN block) in the last hour;
//! - transactions in the last minute;
//! - the share of declines in the last hour, once there are enough transactions to judge;
//! - a gap in the PIN key's DUKPT counter: PINs entered on the pad that never reached the host.
//!
//! An alert is logged and appended to `DATA/alerts/TID.log`; with `suspend` the terminal is
//! also put on the revocation list, as a failed attestation would. Counts live in memory: a
//! restarted host starts them afresh.

use std::collections::{HashMap, VecDeque};
use std::fs::{self, OpenOptions};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use super::attestation::Policy;
use super::{HostError, blocklist};
use crate::iso8583::{Message, Mti};

const ALERTS_DIR: &str = "alerts";
const HOUR: Duration = Duration::from_secs(3600);
const MINUTE: Duration = Duration::from_secs(60);

/// The thresholds. A limit of 0 is off.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct VelocityLimits {
    /// PIN entries per hour (default 60).
    pub pin_entries_per_hour: u32,
    /// Transactions per minute (default 30).
    pub transactions_per_minute: u32,
    /// The largest share of declines, in percent, over the last hour (default 50).
    pub max_decline_percent: u32,
    /// How many transactions in the hour before the decline share is judged (default 20).
    pub min_transactions_for_ratio: u32,
    /// The largest jump in the PIN key's counter between two requests (default 10).
    pub max_ksn_gap: u32,
    /// Whether a breach also blocks the terminal (default: only an alert).
    pub suspend: bool,
}

impl Default for VelocityLimits {
    fn default() -> Self {
        Self {
            pin_entries_per_hour: 60,
            transactions_per_minute: 30,
            max_decline_percent: 50,
            min_transactions_for_ratio: 20,
            max_ksn_gap: 10,
            suspend: false,
        }
    }
}

/// What went past a threshold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Breach {
    /// This many PIN entries in the last hour.
    PinEntries(usize),
    /// This many transactions in the last minute.
    Transactions(usize),
    /// This share of declines (percent) over this many transactions in the last hour.
    DeclineRatio {
        /// The share, in percent.
        percent: u32,
        /// Out of this many transactions.
        of: usize,
    },
    /// The PIN key's counter jumped by this much.
    KsnGap(u32),
}

impl std::fmt::Display for Breach {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::PinEntries(n) => write!(f, "{n} PIN entries in the last hour"),
            Self::Transactions(n) => write!(f, "{n} transactions in the last minute"),
            Self::DeclineRatio { percent, of } => {
                write!(
                    f,
                    "{percent} % declined of {of} transactions in the last hour"
                )
            }
            Self::KsnGap(gap) => write!(
                f,
                "the PIN key's counter jumped by {gap}: PINs entered that never reached the host"
            ),
        }
    }
}

/// One money request as the monitor sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Observation {
    /// It carried a PIN block.
    pub pin: bool,
    /// The PIN key's DUKPT transaction counter (the last 4 bytes of DE 63), with a PIN.
    pub pin_counter: Option<u32>,
    /// The host approved it.
    pub approved: bool,
}

impl Observation {
    /// `request` if it is a money request (an authorisation, purchase or refund); whether it
    /// was approved is set from the host's answer ([`after_reply`]).
    pub(crate) fn of(request: &Message) -> Option<Self> {
        let mti = request.mti().original();
        let processing = request.text(3).and_then(|p| p.get(..2));
        let money = mti == Mti::AUTHORIZATION_REQUEST
            || (mti == Mti::FINANCIAL_REQUEST && matches!(processing, Some("00" | "20")));
        if !money {
            return None;
        }
        let pin_counter = request
            .field(63)
            .and_then(|ksn| ksn.get(8..12))
            .and_then(|c| c.try_into().ok())
            .map(u32::from_be_bytes);
        Some(Self {
            pin: request.has(62),
            pin_counter,
            approved: false,
        })
    }
}

#[derive(Default)]
struct Window {
    transactions: VecDeque<(Instant, bool)>,
    pins: VecDeque<Instant>,
    last_pin_counter: Option<u32>,
    /// The rates over their limit at the last request: alerted once, until they come back
    /// under it (a terminal at 40 transactions a minute raises one alert, not one a request).
    over: [bool; 3],
}

/// Each terminal's recent requests.
#[derive(Default)]
pub struct Monitor {
    terminals: Mutex<HashMap<String, Window>>,
}

impl Monitor {
    /// Counts `seen` for `terminal_id` at `now`; the thresholds of `limits` it goes past.
    pub fn observe(
        &self,
        terminal_id: &str,
        seen: Observation,
        limits: &VelocityLimits,
        now: Instant,
    ) -> Vec<Breach> {
        let mut terminals = self.terminals.lock().unwrap_or_else(|p| p.into_inner());
        let window = terminals.entry(terminal_id.to_owned()).or_default();
        let recent = |t: Instant, span| now.saturating_duration_since(t) < span;
        window.transactions.push_back((now, seen.approved));
        while window
            .transactions
            .front()
            .is_some_and(|(t, _)| !recent(*t, HOUR))
        {
            window.transactions.pop_front();
        }
        if seen.pin {
            window.pins.push_back(now);
        }
        while window.pins.front().is_some_and(|t| !recent(*t, HOUR)) {
            window.pins.pop_front();
        }
        let over = |count: usize, limit: u32| limit > 0 && count > limit as usize;
        let last_minute = window
            .transactions
            .iter()
            .filter(|(t, _)| recent(*t, MINUTE))
            .count();
        let of = window.transactions.len();
        let declined = window.transactions.iter().filter(|(_, ok)| !ok).count();
        let percent = u32::try_from(declined * 100 / of.max(1)).unwrap_or(100);
        let rates = [
            (
                over(window.pins.len(), limits.pin_entries_per_hour),
                Breach::PinEntries(window.pins.len()),
            ),
            (
                over(last_minute, limits.transactions_per_minute),
                Breach::Transactions(last_minute),
            ),
            (
                limits.max_decline_percent > 0
                    && of >= limits.min_transactions_for_ratio as usize
                    && percent > limits.max_decline_percent,
                Breach::DeclineRatio { percent, of },
            ),
        ];
        let mut breaches = Vec::new();
        for ((now_over, breach), was_over) in rates.into_iter().zip(window.over.iter_mut()) {
            if now_over && !*was_over {
                breaches.push(breach);
            }
            *was_over = now_over;
        }
        if let Some(counter) = seen.pin_counter {
            if let Some(last) = window.last_pin_counter {
                let gap = counter.saturating_sub(last).saturating_sub(1);
                if limits.max_ksn_gap > 0 && gap > limits.max_ksn_gap {
                    breaches.push(Breach::KsnGap(gap));
                }
            }
            window.last_pin_counter =
                Some(window.last_pin_counter.map_or(counter, |l| l.max(counter)));
        }
        breaches
    }
}

/// After the host answered a money request of `terminal_id` (`seen`, [`Observation::of`])
/// with `reply`: counts it under the policy's limits, and for each breach logs and records an
/// alert and, with `suspend`, blocks the terminal.
pub(crate) fn after_reply(
    monitor: &Monitor,
    data_dir: &Path,
    terminal_id: &str,
    seen: Observation,
    reply: &[u8],
) {
    let code = Message::decode(reply)
        .ok()
        .and_then(|m| m.text(39).map(str::to_owned));
    let seen = Observation {
        approved: matches!(code.as_deref(), Some("00" | "85")),
        ..seen
    };
    let limits = match Policy::load(data_dir) {
        Ok(policy) => policy.velocity,
        Err(e) => {
            tracing::error!(error = %e, "unreadable monitoring policy: default velocity limits");
            VelocityLimits::default()
        }
    };
    for breach in monitor.observe(terminal_id, seen, &limits, Instant::now()) {
        tracing::warn!(terminal_id, %breach, suspend = limits.suspend, "velocity alert");
        if let Err(e) = record_alert(data_dir, terminal_id, &breach.to_string()) {
            tracing::error!(error = %e, "cannot record the alert");
        }
        if limits.suspend
            && let Err(e) = blocklist::block(data_dir, terminal_id)
        {
            tracing::error!(error = %e, "cannot suspend the terminal");
        }
    }
}

/// The alerts recorded for `terminal_id`, oldest first: `UNIX_SECONDS text` lines.
pub fn alerts(data_dir: &Path, terminal_id: &str) -> Result<Vec<String>, HostError> {
    let path = alerts_path(data_dir, terminal_id);
    match fs::read_to_string(&path) {
        Ok(text) => Ok(text.lines().map(str::to_owned).collect()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(HostError::io(&path)(e)),
    }
}

fn record_alert(data_dir: &Path, terminal_id: &str, text: &str) -> Result<(), HostError> {
    let dir = data_dir.join(ALERTS_DIR);
    fs::create_dir_all(&dir).map_err(HostError::io(&dir))?;
    let path = alerts_path(data_dir, terminal_id);
    let at = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let mut file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .map_err(HostError::io(&path))?;
    writeln!(file, "{at} {text}").map_err(HostError::io(&path))
}

fn alerts_path(data_dir: &Path, terminal_id: &str) -> PathBuf {
    data_dir.join(ALERTS_DIR).join(format!("{terminal_id}.log"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seen(pin_counter: Option<u32>, approved: bool) -> Observation {
        Observation {
            pin: pin_counter.is_some(),
            pin_counter,
            approved,
        }
    }

    #[test]
    fn each_threshold_raises_its_alert_and_old_requests_stop_counting() {
        let monitor = Monitor::default();
        let limits = VelocityLimits {
            pin_entries_per_hour: 3,
            transactions_per_minute: 4,
            max_decline_percent: 50,
            min_transactions_for_ratio: 4,
            max_ksn_gap: 2,
            suspend: false,
        };
        let t0 = Instant::now();
        let at = |s: u64| t0 + Duration::from_secs(s);
        // PIN entries: the fourth in an hour is one too many.
        for (n, s) in [(1, 0), (2, 10), (3, 20)] {
            assert_eq!(
                monitor.observe("A", seen(Some(n), true), &limits, at(s)),
                []
            );
        }
        assert_eq!(
            monitor.observe("A", seen(Some(4), true), &limits, at(100)),
            [Breach::PinEntries(4)]
        );
        // An hour later the old ones have left the window; a counter jump of 3 is a gap.
        assert_eq!(
            monitor.observe("A", seen(Some(8), true), &limits, at(3_700)),
            [Breach::KsnGap(3)]
        );
        // Transactions: five within a minute (another terminal's do not count).
        for s in 0..4 {
            assert_eq!(monitor.observe("B", seen(None, true), &limits, at(s)), []);
            assert_eq!(monitor.observe("C", seen(None, true), &limits, at(s)), []);
        }
        assert_eq!(
            monitor.observe("B", seen(None, true), &limits, at(5)),
            [Breach::Transactions(5)]
        );
        // Still over: alerted once, not at every request.
        assert_eq!(monitor.observe("B", seen(None, true), &limits, at(6)), []);
        // Back under the limit, then over again: a new alert.
        assert_eq!(monitor.observe("B", seen(None, true), &limits, at(200)), []);
        for s in 201..204 {
            assert_eq!(monitor.observe("B", seen(None, true), &limits, at(s)), []);
        }
        assert_eq!(
            monitor.observe("B", seen(None, true), &limits, at(204)),
            [Breach::Transactions(5)]
        );
        // Declines: judged from the fourth transaction, alerted on a decline above 50 %.
        assert_eq!(monitor.observe("D", seen(None, false), &limits, at(0)), []);
        assert_eq!(monitor.observe("D", seen(None, false), &limits, at(70)), []);
        assert_eq!(monitor.observe("D", seen(None, true), &limits, at(140)), []);
        assert_eq!(
            monitor.observe("D", seen(None, false), &limits, at(210)),
            [Breach::DeclineRatio { percent: 75, of: 4 }]
        );
    }

    #[test]
    fn a_limit_of_zero_is_off() {
        let monitor = Monitor::default();
        let off = VelocityLimits {
            pin_entries_per_hour: 0,
            transactions_per_minute: 0,
            max_decline_percent: 0,
            min_transactions_for_ratio: 0,
            max_ksn_gap: 0,
            suspend: false,
        };
        let now = Instant::now();
        for n in 0..100 {
            assert_eq!(
                monitor.observe("A", seen(Some(n * 50), false), &off, now),
                []
            );
        }
    }
}
