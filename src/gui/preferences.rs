//! The merchant's preferences, kept in `gui.toml` in the terminal's data directory: language,
//! tip presets, sounds, camera. A missing or unreadable file gives the defaults (the screen
//! says so); a write goes through a temporary file and a rename, so a crash leaves the old
//! file or the new one, never half of one.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// What the merchant chose in the settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Preferences {
    /// The language's tag (`en`, `de`, `fr`, `it`, `zh-CN`); `None`: the system's.
    pub language: Option<String>,
    /// The three tip percentages the sale screen offers.
    pub tip_presets: [u8; 3],
    /// Tones on approval and on a card read.
    pub sounds: bool,
    /// The camera chosen for QR codes (its device path); `None`: the first.
    pub camera: Option<String>,
}

impl Default for Preferences {
    fn default() -> Self {
        Self {
            language: None,
            tip_presets: [10, 15, 20],
            sounds: true,
            camera: None,
        }
    }
}

/// Why the preferences could not be read or kept.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PreferencesError {
    /// The file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The file is not valid.
    #[error("{path}: {source}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: toml::de::Error,
    },
    /// A tip preset out of range.
    #[error("tip presets must be between 1 and 99 %, got {0}")]
    Tip(u8),
}

impl Preferences {
    /// The preferences file of the data directory `data_dir`.
    pub fn file(data_dir: &Path) -> PathBuf {
        data_dir.join(FILE_NAME)
    }

    /// Reads `path`; a missing file is the defaults.
    pub fn load(path: &Path) -> Result<Self, PreferencesError> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Self::default()),
            Err(source) => {
                return Err(PreferencesError::Io {
                    path: path.to_owned(),
                    source,
                });
            }
        };
        let prefs: Self = toml::from_str(&text).map_err(|source| PreferencesError::Parse {
            path: path.to_owned(),
            source,
        })?;
        prefs.check()?;
        Ok(prefs)
    }

    /// Writes the preferences to `path` (through a temporary file and a rename).
    pub fn save(&self, path: &Path) -> Result<(), PreferencesError> {
        self.check()?;
        let io = |source| PreferencesError::Io {
            path: path.to_owned(),
            source,
        };
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        let text = toml::to_string(self).unwrap_or_default();
        let temporary = path.with_extension("toml.new");
        std::fs::write(&temporary, text).map_err(io)?;
        std::fs::rename(&temporary, path).map_err(io)
    }

    fn check(&self) -> Result<(), PreferencesError> {
        match self.tip_presets.iter().find(|p| !(1..=99).contains(*p)) {
            Some(bad) => Err(PreferencesError::Tip(*bad)),
            None => Ok(()),
        }
    }
}

/// Parses tip presets typed as `10, 15, 20` (three whole percentages from 1 to 99).
pub(crate) fn parse_tips(text: &str) -> Option<[u8; 3]> {
    let values: Vec<u8> = text
        .split([',', ' ', ';', '%'])
        .filter(|s| !s.is_empty())
        .map(|s| s.parse().ok())
        .collect::<Option<_>>()?;
    let presets: [u8; 3] = values.try_into().ok()?;
    presets
        .iter()
        .all(|p| (1..=99).contains(p))
        .then_some(presets)
}

const FILE_NAME: &str = "gui.toml";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kept_and_read_back_and_missing_is_the_defaults() {
        let dir = tempfile::tempdir().expect("temporary directory");
        let path = Preferences::file(dir.path());
        assert_eq!(Preferences::load(&path).ok(), Some(Preferences::default()));
        let prefs = Preferences {
            language: Some("de".into()),
            tip_presets: [5, 10, 12],
            sounds: false,
            camera: Some("/dev/video0".into()),
        };
        prefs.save(&path).expect("saved");
        assert_eq!(Preferences::load(&path).ok(), Some(prefs));
    }

    #[test]
    fn bad_files_and_bad_tips_are_refused_with_a_reason() {
        let dir = tempfile::tempdir().expect("temporary directory");
        let path = Preferences::file(dir.path());
        std::fs::write(&path, "tip_presets = [0, 10, 20]\n").expect("written");
        assert!(matches!(
            Preferences::load(&path),
            Err(PreferencesError::Tip(0))
        ));
        std::fs::write(&path, "colour = \"red\"\n").expect("written");
        assert!(matches!(
            Preferences::load(&path),
            Err(PreferencesError::Parse { .. })
        ));
        assert_eq!(parse_tips("10, 15, 20"), Some([10, 15, 20]));
        assert_eq!(parse_tips("5 8 12%"), Some([5, 8, 12]));
        for bad in [
            "",
            "10, 15",
            "10, 15, 20, 25",
            "0, 10, 20",
            "10, x, 20",
            "10, 15, 100",
        ] {
            assert_eq!(parse_tips(bad), None, "{bad:?}");
        }
    }
}
