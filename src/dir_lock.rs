//! Exclusive locks on a directory: one process at a time may use the terminal's data directory
//! (its journal), and one reservation at a time may advance a counter (the MAC key's KSN, the
//! PIN pad's KSN).
//!
//! A lock is `flock(LOCK_EX)` on a lock file in the directory (mode 0600). The kernel drops it
//! when the process ends, however it ends, so a crash never leaves a stale lock. Two opens of
//! the same lock file conflict even inside one process (flock locks belong to the open file
//! description).

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use rustix::fs::{FlockOperation, flock};

/// A held lock; released when dropped (or when the process ends).
#[derive(Debug)]
pub struct DirLock {
    _file: File,
}

impl DirLock {
    /// Takes the lock `name` in `dir` without waiting, and writes this process's id into the
    /// lock file. [`LockError::Busy`] names the holder's pid when another process has it.
    pub fn try_acquire(dir: &Path, name: &str) -> Result<Self, LockError> {
        let path = dir.join(name);
        let mut file = open(&path)?;
        if let Err(e) = flock(&file, FlockOperation::NonBlockingLockExclusive) {
            if e == rustix::io::Errno::WOULDBLOCK {
                let mut text = String::new();
                let _ = file.read_to_string(&mut text);
                return Err(LockError::Busy {
                    dir: dir.to_path_buf(),
                    pid: text.trim().parse().ok(),
                });
            }
            return Err(LockError::Io {
                path,
                source: e.into(),
            });
        }
        let io = |source| LockError::Io {
            path: path.clone(),
            source,
        };
        file.set_len(0).map_err(io)?;
        file.seek(SeekFrom::Start(0)).map_err(io)?;
        writeln!(file, "{}", std::process::id()).map_err(io)?;
        Ok(Self { _file: file })
    }

    /// Takes the lock `name` in `dir`, waiting while another process holds it. For short
    /// critical sections (a counter's read, advance and durable write).
    pub fn acquire(dir: &Path, name: &str) -> Result<Self, LockError> {
        let path = dir.join(name);
        let file = open(&path)?;
        flock(&file, FlockOperation::LockExclusive).map_err(|e| LockError::Io {
            path,
            source: e.into(),
        })?;
        Ok(Self { _file: file })
    }
}

/// Why a lock could not be taken.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LockError {
    /// Another process holds it.
    #[error("another softpos is using {} (pid {})", dir.display(), pid.map_or_else(|| "unknown".to_owned(), |p| p.to_string()))]
    Busy {
        /// The locked directory.
        dir: PathBuf,
        /// The holder's process id, when the lock file names it.
        pid: Option<u32>,
    },
    /// The lock file cannot be opened or locked.
    #[error("cannot lock {path}")]
    Io {
        /// The lock file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },
}

fn open(path: &Path) -> Result<File, LockError> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(path)
        .map_err(|source| LockError::Io {
            path: path.to_path_buf(),
            source,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_holder_is_refused_with_the_first_ones_pid_until_it_lets_go() {
        let dir = tempfile::tempdir().unwrap();
        let first = DirLock::try_acquire(dir.path(), "lock").unwrap();
        match DirLock::try_acquire(dir.path(), "lock") {
            Err(LockError::Busy { pid, .. }) => assert_eq!(pid, Some(std::process::id())),
            other => panic!("second lock: {other:?}"),
        }
        drop(first);
        assert!(DirLock::try_acquire(dir.path(), "lock").is_ok());
    }
}
