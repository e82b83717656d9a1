//! Admission of TCP connections (`docs/iso8583.md` §1): at most
//! [`ConnectionLimits::max_per_source`] open connections per source address (more are closed
//! at once), at most [`ConnectionLimits::max_handshakes`] TLS handshakes at a time (a
//! connection waits for a turn), and a handshake, waiting included, must end within
//! [`ConnectionLimits::handshake_timeout`]. One source holding idle sockets therefore cannot
//! starve the handshake slots that other terminals need.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The host's connection limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// Open connections per source IP address (TLS or not yet); more are closed at accept.
    pub max_per_source: usize,
    /// TLS handshakes in progress at a time, over all sources.
    pub max_handshakes: usize,
    /// How long a connection may take from accept to the end of its handshake.
    pub handshake_timeout: Duration,
}

impl Default for ConnectionLimits {
    /// 64 connections per source, 128 handshakes at a time, 5 s per handshake.
    fn default() -> Self {
        Self {
            max_per_source: 64,
            max_handshakes: 128,
            handshake_timeout: Duration::from_secs(5),
        }
    }
}

/// The running host's counts.
pub(crate) struct Admission {
    limits: ConnectionLimits,
    per_source: Mutex<HashMap<IpAddr, usize>>,
    handshakes: Arc<Semaphore>,
}

impl Admission {
    pub(crate) fn new(limits: ConnectionLimits) -> Arc<Self> {
        Arc::new(Self {
            limits,
            per_source: Mutex::new(HashMap::new()),
            handshakes: Arc::new(Semaphore::new(limits.max_handshakes.max(1))),
        })
    }

    pub(crate) fn handshake_timeout(&self) -> Duration {
        self.limits.handshake_timeout
    }

    /// A place for a new connection from `source`, or `None` when the source has its maximum.
    /// The place is given back when the [`Place`] drops.
    pub(crate) fn admit(self: &Arc<Self>, source: IpAddr) -> Option<Place> {
        let mut counts = self
            .per_source
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let count = counts.entry(source).or_default();
        if *count >= self.limits.max_per_source {
            return None;
        }
        *count += 1;
        Some(Place {
            admission: self.clone(),
            source,
        })
    }

    /// Waits for a handshake slot (bounded by the caller's timeout).
    pub(crate) async fn handshake_slot(&self) -> Option<OwnedSemaphorePermit> {
        self.handshakes.clone().acquire_owned().await.ok()
    }
}

/// One admitted connection; dropping it frees its source's place.
pub(crate) struct Place {
    admission: Arc<Admission>,
    source: IpAddr,
}

impl Drop for Place {
    fn drop(&mut self) {
        let mut counts = self
            .admission
            .per_source
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(count) = counts.get_mut(&self.source) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                counts.remove(&self.source);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn places_per_source_are_counted_and_given_back() {
        let admission = Admission::new(ConnectionLimits {
            max_per_source: 2,
            ..ConnectionLimits::default()
        });
        let a: IpAddr = [127, 0, 0, 2].into();
        let b: IpAddr = [127, 0, 0, 3].into();
        let first = admission.admit(a).unwrap();
        let _second = admission.admit(a).unwrap();
        assert!(admission.admit(a).is_none());
        assert!(admission.admit(b).is_some());
        drop(first);
        assert!(admission.admit(a).is_some());
    }
}
