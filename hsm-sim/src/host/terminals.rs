//! The operator's list of terminals (`hsm-sim terminals`, `docs/attestation.md`): every
//! enrolled terminal with how it was enrolled, whether it is blocked, its last evidence with
//! the verdict, and its velocity alerts.

use std::fs;
use std::path::Path;

use super::attestation::EvidenceRecord;
use super::enrol::TerminalRecord;
use super::{HostError, blocklist};

/// One terminal as the operator sees it.
#[derive(Debug, Clone)]
pub struct TerminalStatus {
    /// The terminal ID.
    pub terminal_id: String,
    /// Enrolled by activation (it has a device key and is attested), else from a bundle.
    pub activated: bool,
    /// On the revocation list.
    pub blocked: bool,
    /// Its last attestation, if any.
    pub last_evidence: Option<EvidenceRecord>,
    /// Its velocity alerts, oldest first (`UNIX_SECONDS text`).
    pub alerts: Vec<String>,
}

/// Every terminal the host has an enrolment record of, by terminal ID.
pub fn list(data_dir: &Path) -> Result<Vec<TerminalStatus>, HostError> {
    let dir = data_dir.join(super::enrol::RECORDS_DIR);
    let entries = match fs::read_dir(&dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(HostError::io(&dir)(e)),
    };
    let blocked = blocklist::blocked(data_dir)?;
    let mut ids: Vec<String> = entries
        .filter_map(Result::ok)
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            name.strip_suffix(".toml").map(str::to_owned)
        })
        .filter(|id| super::pki::check_terminal_id(id).is_ok())
        .collect();
    ids.sort();
    let mut terminals = Vec::with_capacity(ids.len());
    for id in ids {
        let Some(record) = TerminalRecord::load(data_dir, &id)? else {
            continue;
        };
        terminals.push(TerminalStatus {
            activated: record.device_key.is_some(),
            blocked: blocked.contains(&id),
            last_evidence: EvidenceRecord::load(data_dir, &id)?,
            alerts: super::velocity::alerts(data_dir, &id)?,
            terminal_id: id,
        });
    }
    Ok(terminals)
}
