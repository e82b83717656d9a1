//! Fault switches, so a terminal's timeout and reversal logic can be tested against the real
//! server. Faults act after the ledger commit: the host did decide, and the answer goes wrong
//! on the way back. Test switches: never set them on a host that serves anything real.

use std::str::FromStr;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::Duration;

/// One kind of fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Fault {
    /// Wait before answering (the delay is set with [`Faults::set_delay`]).
    Delay,
    /// Do not send the response; keep the connection open.
    DropResponse,
    /// Close the connection instead of answering.
    CloseConnection,
    /// Answer with a wrong MAC (a MAC field is added if the response has none).
    BadMac,
}

/// The host's fault switches. Each fault has a count of responses it applies to (`u32::MAX`
/// = every response from now on, `0` = off).
#[derive(Debug, Default)]
pub struct Faults {
    delay_ms: AtomicU64,
    delay: AtomicU32,
    drop_response: AtomicU32,
    close_connection: AtomicU32,
    bad_mac: AtomicU32,
}

/// What to do with one response.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Action {
    pub(crate) delay: Option<Duration>,
    pub(crate) drop_response: bool,
    pub(crate) close_connection: bool,
    pub(crate) bad_mac: bool,
}

impl Faults {
    /// Applies `fault` to the next `count` financial responses (`u32::MAX`: always).
    pub fn set(&self, fault: Fault, count: u32) {
        self.counter(fault).store(count, Ordering::SeqCst);
    }

    /// Sets the delay used by [`Fault::Delay`].
    pub fn set_delay(&self, delay: Duration) {
        let ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX);
        self.delay_ms.store(ms, Ordering::SeqCst);
    }

    /// Switches every fault off.
    pub fn clear(&self) {
        for f in [
            Fault::Delay,
            Fault::DropResponse,
            Fault::CloseConnection,
            Fault::BadMac,
        ] {
            self.set(f, 0);
        }
    }

    /// Takes the action for one response, counting down the one-shot faults.
    pub(crate) fn next_action(&self) -> Action {
        let delay =
            take(&self.delay).then(|| Duration::from_millis(self.delay_ms.load(Ordering::SeqCst)));
        Action {
            delay,
            drop_response: take(&self.drop_response),
            close_connection: take(&self.close_connection),
            bad_mac: take(&self.bad_mac),
        }
    }

    fn counter(&self, fault: Fault) -> &AtomicU32 {
        match fault {
            Fault::Delay => &self.delay,
            Fault::DropResponse => &self.drop_response,
            Fault::CloseConnection => &self.close_connection,
            Fault::BadMac => &self.bad_mac,
        }
    }
}

/// A fault switch as written on the command line: `delay=MS`, `drop`, `drop=N`, `close`,
/// `close=N`, `bad-mac`, `bad-mac=N` (N responses; without N: every response).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FaultSpec {
    /// The fault.
    pub fault: Fault,
    /// How many responses (`u32::MAX` for all).
    pub count: u32,
    /// For [`Fault::Delay`], the delay.
    pub delay: Option<Duration>,
}

impl FaultSpec {
    /// Arms this switch on `faults`.
    pub fn apply(&self, faults: &Faults) {
        if let Some(d) = self.delay {
            faults.set_delay(d);
        }
        faults.set(self.fault, self.count);
    }
}

impl FromStr for FaultSpec {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (name, value) = match s.split_once('=') {
            Some((n, v)) => (n, Some(v)),
            None => (s, None),
        };
        let number = |v: Option<&str>| -> Result<Option<u64>, String> {
            v.map(|v| {
                v.parse::<u64>()
                    .map_err(|_| format!("bad number in fault {s:?}"))
            })
            .transpose()
        };
        let count = |v| -> Result<u32, String> {
            Ok(number(v)?.map_or(u32::MAX, |n| u32::try_from(n).unwrap_or(u32::MAX)))
        };
        match name {
            "delay" => {
                let ms = number(value)?.ok_or("delay needs milliseconds: delay=MS")?;
                Ok(Self {
                    fault: Fault::Delay,
                    count: u32::MAX,
                    delay: Some(Duration::from_millis(ms)),
                })
            }
            "drop" => Ok(Self {
                fault: Fault::DropResponse,
                count: count(value)?,
                delay: None,
            }),
            "close" => Ok(Self {
                fault: Fault::CloseConnection,
                count: count(value)?,
                delay: None,
            }),
            "bad-mac" => Ok(Self {
                fault: Fault::BadMac,
                count: count(value)?,
                delay: None,
            }),
            _ => Err(format!(
                "unknown fault {name:?} (delay=MS, drop[=N], close[=N], bad-mac[=N])"
            )),
        }
    }
}

fn take(counter: &AtomicU32) -> bool {
    counter
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| match n {
            0 => None,
            u32::MAX => Some(u32::MAX),
            n => Some(n - 1),
        })
        .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_shot_and_permanent() {
        let f = Faults::default();
        f.set(Fault::DropResponse, 1);
        assert!(f.next_action().drop_response);
        assert!(!f.next_action().drop_response);
        f.set(Fault::BadMac, u32::MAX);
        assert!(f.next_action().bad_mac);
        assert!(f.next_action().bad_mac);
        f.clear();
        assert_eq!(f.next_action(), Action::default());
    }

    #[test]
    fn parse() {
        let d: FaultSpec = "delay=250".parse().unwrap();
        assert_eq!(d.delay, Some(Duration::from_millis(250)));
        let c: FaultSpec = "close=2".parse().unwrap();
        assert_eq!((c.fault, c.count), (Fault::CloseConnection, 2));
        assert!("explode".parse::<FaultSpec>().is_err());
        assert!("delay".parse::<FaultSpec>().is_err());
    }
}
