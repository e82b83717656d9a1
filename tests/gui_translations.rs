//! Every text the merchant's screens mark for translation (`@tr("…")` in `ui/`) has a
//! translation, not empty, in each bundled language (`ui/translations/<lang>/LC_MESSAGES/
//! softpos.po`), and keeps its `{}` placeholders; no translation is left for a text that no
//! longer exists.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const LANGUAGES: [&str; 4] = ["de", "fr", "it", "zh_CN"];

#[test]
fn every_marked_text_is_translated_in_every_language() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("ui");
    let mut marked = BTreeSet::new();
    for file in slint_files(&root) {
        let text = std::fs::read_to_string(&file).expect("readable");
        let mut rest = text.as_str();
        while let Some(at) = rest.find("@tr(\"") {
            rest = &rest[at + 5..];
            let end = rest.find('"').expect("a closed string");
            marked.insert(rest[..end].to_owned());
            rest = &rest[end..];
        }
    }
    assert!(marked.len() > 80, "{} marked texts", marked.len());
    for language in LANGUAGES {
        let po = root.join(format!("translations/{language}/LC_MESSAGES/softpos.po"));
        let catalog = read_po(&po);
        for id in &marked {
            let translated = catalog
                .get(id)
                .unwrap_or_else(|| panic!("{language}: no translation of {id:?}"));
            assert!(!translated.is_empty(), "{language}: {id:?} is empty");
            assert_eq!(
                translated.matches("{}").count(),
                id.matches("{}").count(),
                "{language}: {id:?} -> {translated:?} changes the placeholders"
            );
        }
        let stale: Vec<_> = catalog.keys().filter(|k| !marked.contains(*k)).collect();
        assert!(
            stale.is_empty(),
            "{language}: translations of nothing: {stale:?}"
        );
    }
}

fn slint_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).expect("ui/") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            files.extend(slint_files(&path));
        } else if path.extension().is_some_and(|e| e == "slint") {
            files.push(path);
        }
    }
    files
}

/// The `msgid`/`msgstr` pairs of a `.po` file written one string per line (the header's
/// empty `msgid` left out).
fn read_po(path: &Path) -> BTreeMap<String, String> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let unquote = |s: &str| -> String {
        s.trim()
            .trim_matches('"')
            .replace("\\\"", "\"")
            .replace("\\\\", "\\")
    };
    let mut catalog = BTreeMap::new();
    let mut id: Option<String> = None;
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("msgid ") {
            id = Some(unquote(rest));
        } else if let Some(rest) = line.strip_prefix("msgstr ")
            && let Some(id) = id.take().filter(|i| !i.is_empty())
        {
            catalog.insert(id, unquote(rest));
        }
    }
    catalog
}
