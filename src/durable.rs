//! Durable replacement of a small file: the one writer the terminal and the PIN pad use for
//! state that must survive a crash or a power cut (the PIN pad's key store and counters, the
//! acquirer link's MAC key counter); and durable destruction of a small secret file (the PIN
//! key of an enrolment bundle once the PIN pad has sealed it).

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::Path;

/// Replaces `name` in `dir` atomically and durably: writes a temporary file (`name.tmp`, mode
/// 0600), fsyncs it, renames it over the old file, then fsyncs the directory so the rename
/// itself survives a power cut. A crash at any point leaves either the old or the new file.
pub fn replace(dir: &Path, name: &str, bytes: &[u8]) -> io::Result<()> {
    let tmp = dir.join(format!("{name}.tmp"));
    let mut options = OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(&tmp)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    drop(file);
    fs::rename(&tmp, dir.join(name))?;
    File::open(dir)?.sync_all()
}

/// Destroys the file `name` in `dir`: overwrites its bytes with zeros, fsyncs, unlinks it and
/// fsyncs the directory, so neither the name nor (on a file system that rewrites in place)
/// the content survives a power cut. Copy-on-write and journaling file systems and flash
/// translation layers may keep old blocks: `docs/security.md` says what that leaves.
pub fn destroy(dir: &Path, name: &str) -> io::Result<()> {
    let path = dir.join(name);
    let mut file = OpenOptions::new().write(true).open(&path)?;
    let len = file.metadata()?.len();
    let zeros = [0u8; 4096];
    let mut left = len;
    while left > 0 {
        let n = usize::try_from(left.min(4096)).unwrap_or(4096);
        file.write_all(&zeros[..n])?;
        left -= n as u64;
    }
    file.sync_all()?;
    drop(file);
    fs::remove_file(&path)?;
    File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_the_file_owner_only_and_leaves_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        replace(dir.path(), "state", b"one").unwrap();
        replace(dir.path(), "state", b"two").unwrap();
        assert_eq!(fs::read(dir.path().join("state")).unwrap(), b"two");
        assert!(!dir.path().join("state.tmp").exists());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(dir.path().join("state"))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o077, 0, "readable by others: {mode:o}");
        }
    }

    #[test]
    fn destroy_removes_the_file() {
        let dir = tempfile::tempdir().unwrap();
        replace(dir.path(), "secret", b"00112233").unwrap();
        destroy(dir.path(), "secret").unwrap();
        assert!(!dir.path().join("secret").exists());
        assert!(destroy(dir.path(), "secret").is_err());
    }
}
