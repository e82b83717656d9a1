//! The highest offline-code counter the terminal has seen per wallet device
//! (`docs/qr-customer-code.md` §2): a small file next to the journal, replaced durably before
//! a code is sent, so that the same code is refused on its second scan even after a crash.

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};

/// The file's name in the journal's directory.
pub(super) const FILE: &str = "offline-code-counters";

/// The counters, one line per device: 16 hex digits, a space, the counter.
pub(super) struct CodeCounters {
    dir: PathBuf,
    seen: BTreeMap<String, u32>,
}

impl CodeCounters {
    /// Reads the file in `dir` (none yet: no device seen). A malformed line is an error: the
    /// terminal does not forget what it saw.
    pub(super) fn load(dir: &Path) -> io::Result<Self> {
        let text = match std::fs::read_to_string(dir.join(FILE)) {
            Ok(t) => t,
            Err(e) if e.kind() == io::ErrorKind::NotFound => String::new(),
            Err(e) => return Err(e),
        };
        let mut seen = BTreeMap::new();
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            let parsed = line
                .split_once(' ')
                .and_then(|(d, c)| Some((d.to_owned(), c.trim().parse::<u32>().ok()?)));
            let Some((device, counter)) = parsed else {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("{FILE}: malformed line"),
                ));
            };
            seen.insert(device, counter);
        }
        Ok(Self {
            dir: dir.to_owned(),
            seen,
        })
    }

    /// The highest counter seen for `device`.
    pub(super) fn highest(&self, device: &str) -> Option<u32> {
        self.seen.get(device).copied()
    }

    /// Records `counter` for `device` durably.
    pub(super) fn record(&mut self, device: &str, counter: u32) -> io::Result<()> {
        self.seen.insert(device.to_owned(), counter);
        let text: String = self
            .seen
            .iter()
            .map(|(d, c)| format!("{d} {c}\n"))
            .collect();
        crate::durable::replace(&self.dir, FILE, text.as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_survive_a_reload_and_a_bad_file_is_an_error() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let mut c = CodeCounters::load(dir.path()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.highest("0102030405060708"), None);
        c.record("0102030405060708", 7)
            .unwrap_or_else(|e| panic!("{e}"));
        let c = CodeCounters::load(dir.path()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.highest("0102030405060708"), Some(7));
        std::fs::write(dir.path().join(FILE), "garbage\n").unwrap_or_else(|e| panic!("{e}"));
        assert!(CodeCounters::load(dir.path()).is_err());
    }
}
