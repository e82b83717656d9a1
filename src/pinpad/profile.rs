//! The PIN pad's profile, from its own configuration: `pinpad.toml` in its key store directory
//! (`profile = "development"`). Never from the terminal: the terminal process faces the
//! network, and the profile decides whether the pad accepts an X11 display, where any client
//! can read the keys. Anything but a readable file saying `development` is the production
//! profile.

use std::path::Path;

use serde::Deserialize;

/// Which display servers the pad accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Profile {
    /// Wayland only.
    Production,
    /// X11 too, with the permanent "not secure" banner. For developers and CI.
    Development,
}

/// The profile configured in the store directory `dir`.
pub fn load(dir: &Path) -> Profile {
    let Ok(text) = std::fs::read_to_string(dir.join(PROFILE_FILE)) else {
        return Profile::Production;
    };
    match toml::from_str::<Config>(&text) {
        Ok(Config {
            profile: Some(name),
        }) if name == "development" => Profile::Development,
        _ => Profile::Production,
    }
}

/// The pad's configuration file in its store directory.
pub const PROFILE_FILE: &str = "pinpad.toml";

#[derive(Deserialize)]
struct Config {
    #[serde(default)]
    profile: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_an_explicit_development_line_leaves_production() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(load(dir.path()), Profile::Production);
        for (text, expected) in [
            ("profile = \"development\"\n", Profile::Development),
            ("profile = \"production\"\n", Profile::Production),
            ("profile = development\n", Profile::Production),
            ("", Profile::Production),
        ] {
            std::fs::write(dir.path().join(PROFILE_FILE), text).unwrap();
            assert_eq!(load(dir.path()), expected, "{text:?}");
        }
    }
}
