//! The engine's wall clock: the system's, or one a test sets. It dates what the engine
//! decides by the calendar (a pre-authorization's lifetime, the age of queued advices) and
//! DE 7 of its requests. Timeouts use the monotonic clock (`Instant`), never this one.

use std::sync::Arc;
use std::time::SystemTime;

/// A wall clock.
#[derive(Clone)]
pub struct Clock(Arc<dyn Fn() -> SystemTime + Send + Sync>);

impl Clock {
    /// The system clock.
    pub fn system() -> Self {
        Self(Arc::new(SystemTime::now))
    }

    /// A clock that reads `now` (tests: a clock set forward or back).
    pub fn from_fn(now: impl Fn() -> SystemTime + Send + Sync + 'static) -> Self {
        Self(Arc::new(now))
    }

    /// The time now.
    pub fn now(&self) -> SystemTime {
        (self.0)()
    }
}

impl Default for Clock {
    fn default() -> Self {
        Self::system()
    }
}

impl std::fmt::Debug for Clock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Clock")
    }
}
