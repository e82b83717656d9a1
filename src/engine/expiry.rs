//! Pre-authorizations that are never completed: after `EngineSettings::preauth_lifetime` the
//! hold is released with a reversal and the sealed PAN, kept only for the completion, wiped.

use super::{Engine, EngineError};

impl Engine {
    /// Expires every approved pre-authorization older than the lifetime (by the engine's
    /// clock): its sealed PAN is wiped first (the completion it was kept for can no longer
    /// happen), then it is reversed (0400; if the host is unreachable it stays
    /// `reversal-pending` and is repeated like any reversal). Run by [`Engine::flush_pending`]
    /// and [`Engine::recover`]. Returns the ids expired.
    pub fn expire_preauths(&mut self) -> Result<Vec<i64>, EngineError> {
        let now = self.clock.now();
        let lifetime = self.settings.preauth_lifetime;
        let expired = self.journal.expired_preauths(now, lifetime)?;
        let mut ids = Vec::with_capacity(expired.len());
        for rec in expired {
            self.journaled(|j| j.forget_pan(rec.id))?;
            let why = format!(
                "pre-authorization not completed within {} h: the hold is released",
                lifetime.as_secs() / 3600
            );
            if !self.reverse(rec.id, &why)? {
                tracing::warn!(id = rec.id, "expired pre-authorization: reversal pending");
            }
            ids.push(rec.id);
        }
        Ok(ids)
    }
}
