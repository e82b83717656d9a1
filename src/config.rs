//! Where the terminal's configuration comes from: the defaults embedded from
//! `assets/terminal.toml`, overridden by a user's file (`--config FILE`, or
//! `$XDG_CONFIG_HOME/softpos/terminal.toml` when it exists). `docs/terminal-config.md` documents
//! every field.

use std::path::{Path, PathBuf};

use emv::config::TerminalConfig;

/// Loads the configuration: the embedded defaults, overridden by `explicit` when given (it must
/// exist), or else by the user's default file when it exists.
pub fn load(explicit: Option<&Path>) -> Result<TerminalConfig, ConfigLoadError> {
    let user_file = match explicit {
        Some(path) => Some(path.to_path_buf()),
        None => default_user_file().filter(|p| p.is_file()),
    };
    match user_file {
        None => TerminalConfig::default_embedded().map_err(ConfigLoadError::Embedded),
        Some(path) => {
            let text = std::fs::read_to_string(&path).map_err(|source| ConfigLoadError::Read {
                path: path.clone(),
                source,
            })?;
            TerminalConfig::from_user_toml(&text)
                .map_err(|source| ConfigLoadError::Invalid { path, source })
        }
    }
}

/// `$XDG_CONFIG_HOME/softpos/terminal.toml`, or `~/.config/softpos/terminal.toml`.
pub fn default_user_file() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))?;
    Some(base.join("softpos").join("terminal.toml"))
}

/// Why the configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigLoadError {
    /// The user's file could not be read.
    #[error("cannot read the configuration file {}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The user's file is not a valid configuration.
    #[error("the configuration file {} is not valid", path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: emv::config::ConfigError,
    },
    /// The embedded defaults are broken (a build problem).
    #[error("the embedded default configuration is not valid")]
    Embedded(#[source] emv::config::ConfigError),
}
