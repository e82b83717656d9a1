//! The unsafe policy around the PIN pad window (STYLE.md section 5): the `softpos` package
//! lints at `unsafe_code = "deny"` instead of the workspace's `forbid` only so that Slint's
//! generated code (which carries `#[allow(unsafe_code)]`) compiles. These tests keep that
//! exception from spreading: the package's lint table equals the workspace's in every other
//! line, `emv` and `hsm-sim` still forbid unsafe code, every binary forbids it, and in `src/`
//! only the one module that includes the generated code allows it.
#![allow(clippy::unwrap_used)] // A panic in a test is a failure.

use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(path: impl AsRef<Path>) -> String {
    std::fs::read_to_string(root().join(path)).unwrap()
}

/// The `key = value` lines of a `[table]` in a Cargo.toml, comments and blank lines left out.
fn table(manifest: &str, name: &str) -> Vec<String> {
    let header = format!("[{name}]");
    let mut lines = manifest.lines().skip_while(|l| l.trim() != header);
    assert!(lines.next().is_some(), "no {header} table");
    lines
        .take_while(|l| !l.trim_start().starts_with('['))
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_owned)
        .collect()
}

fn without_unsafe_code(lines: &[String]) -> Vec<String> {
    lines
        .iter()
        .filter(|l| !l.starts_with("unsafe_code"))
        .cloned()
        .collect()
}

#[test]
fn softpos_lints_are_the_workspace_lints_with_unsafe_code_denied() {
    let manifest = read("Cargo.toml");
    let workspace_rust = table(&manifest, "workspace.lints.rust");
    let package_rust = table(&manifest, "lints.rust");
    assert!(workspace_rust.contains(&r#"unsafe_code = "forbid""#.to_owned()));
    assert!(package_rust.contains(&r#"unsafe_code = "deny""#.to_owned()));
    assert_eq!(
        without_unsafe_code(&workspace_rust),
        without_unsafe_code(&package_rust),
        "[lints.rust] of softpos drifted from [workspace.lints.rust]"
    );
    assert_eq!(
        table(&manifest, "workspace.lints.clippy"),
        table(&manifest, "lints.clippy"),
        "[lints.clippy] of softpos drifted from [workspace.lints.clippy]"
    );
}

#[test]
fn the_other_crates_and_every_binary_forbid_unsafe_code() {
    for member in ["emv/Cargo.toml", "hsm-sim/Cargo.toml"] {
        assert_eq!(
            table(&read(member), "lints"),
            ["workspace = true"],
            "{member}"
        );
    }
    for root_file in [
        "emv/src/lib.rs",
        "hsm-sim/src/lib.rs",
        "hsm-sim/src/main.rs",
        "src/main.rs",
        "src/pinpad/main.rs",
        "src/pinpad/test_main.rs",
    ] {
        assert!(
            read(root_file)
                .lines()
                .any(|l| l.trim() == "#![forbid(unsafe_code)]"),
            "{root_file} does not forbid unsafe code"
        );
    }
    assert!(
        read("src/lib.rs")
            .lines()
            .any(|l| l.trim() == "#![deny(unsafe_code)]")
    );
}

#[test]
fn only_the_slint_module_allows_unsafe_code_in_the_app() {
    let mut allowed = Vec::new();
    let mut files = vec![root().join("src")];
    while let Some(path) = files.pop() {
        if path.is_dir() {
            files.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
            continue;
        }
        if path.extension().is_none_or(|e| e != "rs") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let code = text.lines().filter(|l| !l.trim_start().starts_with("//"));
        for line in code {
            assert!(
                !line.contains("unsafe {")
                    && !line.contains("unsafe fn")
                    && !line.contains("unsafe impl"),
                "unsafe code in {}: {line}",
                path.display()
            );
            if line.contains("unsafe_code") && !line.contains("forbid(") && !line.contains("deny(")
            {
                allowed.push(path.strip_prefix(root()).unwrap().to_path_buf());
            }
        }
    }
    assert_eq!(allowed, [PathBuf::from("src/pinpad/window.rs")]);
}
