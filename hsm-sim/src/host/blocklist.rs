//! The host's revocation list: terminals refused whatever certificate they present
//! (`DATA/blocked-terminals`, one terminal ID per line), managed with
//! `hsm-sim terminal block|unblock|blocked` (`docs/hsm-sim.md`).
//!
//! The host reads the file on every request, so a terminal blocked while connected is refused
//! at its next message (`58`, `docs/iso8583.md` §1). A file that cannot be read refuses
//! everyone (`91`): the list fails closed.

use std::collections::BTreeSet;
use std::fs;
use std::io::Write;
use std::path::Path;

use super::{HostError, pki};

/// The revocation list's file name inside the data directory.
pub const BLOCKLIST_FILE: &str = "blocked-terminals";

/// The blocked terminal IDs of `data_dir` (empty when the file does not exist).
pub fn blocked(data_dir: &Path) -> Result<BTreeSet<String>, HostError> {
    let path = data_dir.join(BLOCKLIST_FILE);
    match fs::read_to_string(&path) {
        Ok(text) => Ok(text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .map(str::to_owned)
            .collect()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(BTreeSet::new()),
        Err(e) => Err(HostError::io(&path)(e)),
    }
}

/// Whether `terminal_id` is on the list.
pub fn is_blocked(data_dir: &Path, terminal_id: &str) -> Result<bool, HostError> {
    Ok(blocked(data_dir)?.contains(terminal_id))
}

/// Adds `terminal_id` to the list; `false` if it was already there.
pub fn block(data_dir: &Path, terminal_id: &str) -> Result<bool, HostError> {
    pki::check_terminal_id(terminal_id)?;
    let mut list = blocked(data_dir)?;
    let added = list.insert(terminal_id.to_owned());
    if added {
        save(data_dir, &list)?;
    }
    Ok(added)
}

/// Removes `terminal_id` from the list; `false` if it was not there.
pub fn unblock(data_dir: &Path, terminal_id: &str) -> Result<bool, HostError> {
    pki::check_terminal_id(terminal_id)?;
    let mut list = blocked(data_dir)?;
    let removed = list.remove(terminal_id);
    if removed {
        save(data_dir, &list)?;
    }
    Ok(removed)
}

/// Replaces the file atomically (temporary file, fsync, rename), so a running host never reads
/// half a list.
fn save(data_dir: &Path, list: &BTreeSet<String>) -> Result<(), HostError> {
    fs::create_dir_all(data_dir).map_err(HostError::io(data_dir))?;
    let path = data_dir.join(BLOCKLIST_FILE);
    let temp = path.with_extension("tmp");
    let mut text = String::from("# Terminals the host refuses (hsm-sim terminal block|unblock)\n");
    for id in list {
        text.push_str(id);
        text.push('\n');
    }
    let mut file = fs::File::create(&temp).map_err(HostError::io(&temp))?;
    file.write_all(text.as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(HostError::io(&temp))?;
    fs::rename(&temp, &path).map_err(HostError::io(&path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn block_and_unblock() {
        let dir = tempfile::tempdir().unwrap();
        assert!(!is_blocked(dir.path(), "T0000001").unwrap());
        assert!(block(dir.path(), "T0000001").unwrap());
        assert!(!block(dir.path(), "T0000001").unwrap());
        assert!(is_blocked(dir.path(), "T0000001").unwrap());
        assert!(!is_blocked(dir.path(), "T0000002").unwrap());
        assert!(unblock(dir.path(), "T0000001").unwrap());
        assert!(!unblock(dir.path(), "T0000001").unwrap());
        assert!(!is_blocked(dir.path(), "T0000001").unwrap());
        assert!(block(dir.path(), "bad id").is_err());
    }
}
