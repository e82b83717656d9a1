//! Replays a fuzz target's committed inputs through a body: the hand-written seeds of
//! `fuzz/seeds/<target>/` and the minimised corpus of `fuzz/corpus/<target>/` that
//! `scripts/fuzz` writes. Shared by the corpus tests of every crate of the workspace.

#![allow(dead_code, unreachable_pub)]

use std::path::{Path, PathBuf};

/// Runs `body` on every file of `target`'s seeds and corpus, in name order. Each file's name is
/// printed before it runs, so the last name shown is the input that panicked. Panics if either
/// directory is missing or empty.
pub fn replay(target: &str, body: impl Fn(&[u8])) {
    let root = fuzz_dir();
    let mut seen = 0;
    for kind in ["seeds", "corpus"] {
        let dir = root.join(kind).join(target);
        let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|entry| entry.unwrap().path())
            .collect();
        files.sort();
        assert!(!files.is_empty(), "{} is empty", dir.display());
        for path in files {
            let data = std::fs::read(&path).unwrap();
            eprintln!("{}", path.display());
            body(&data);
            seen += 1;
        }
    }
    assert!(seen >= 2, "{target}: {seen} inputs");
}

/// The workspace's `fuzz/` directory: the nearest one above the crate under test.
fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .map(|dir| dir.join("fuzz"))
        .find(|dir| dir.join("seeds").is_dir())
        .expect("a fuzz/seeds directory above the crate")
}
