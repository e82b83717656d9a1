//! A small file of the store sealed under its KEK: `magic (4)` ‖ version (1) ‖ nonce (12) ‖
//! ChaCha20-Poly1305 of the content, with the magic and version as associated data. The pad's
//! own key and the attestation trust are kept so.

use std::path::Path;

use zeroize::Zeroizing;

use super::{KeystoreError, read_small, seal, unseal, write_durably};

/// The file's header: its magic and version.
#[derive(Debug, Clone, Copy)]
pub(super) struct Kind {
    pub(super) magic: &'static [u8; 4],
    pub(super) version: u8,
}

impl Kind {
    fn header(self) -> [u8; 5] {
        let mut header = [0u8; 5];
        header[..4].copy_from_slice(self.magic);
        header[4] = self.version;
        header
    }
}

/// Seals `content` into `dir/name` under `kek`, replacing the file durably.
pub(super) fn write(
    dir: &Path,
    name: &str,
    kind: Kind,
    kek: &[u8; 32],
    content: &[u8],
) -> Result<(), KeystoreError> {
    let header = kind.header();
    let sealed = seal(kek, &header, content)?;
    let mut file = Vec::with_capacity(header.len() + sealed.len());
    file.extend_from_slice(&header);
    file.extend_from_slice(&sealed);
    write_durably(dir, name, &file)
}

/// The content of `dir/name`, `None` when there is no such file; a file of another kind, or
/// one that does not open under `kek`, is [`KeystoreError::Damaged`].
pub(super) fn read(
    dir: &Path,
    name: &str,
    kind: Kind,
    kek: &[u8; 32],
) -> Result<Option<Zeroizing<Vec<u8>>>, KeystoreError> {
    let path = dir.join(name);
    if !path.exists() {
        return Ok(None);
    }
    let bytes = read_small(&path)?;
    let damaged = || KeystoreError::Damaged(path.clone());
    let (file_header, sealed) = bytes.split_first_chunk::<5>().ok_or_else(damaged)?;
    if *file_header != kind.header() {
        return Err(damaged());
    }
    unseal(kek, file_header, sealed)
        .map(Some)
        .ok_or_else(damaged)
}
