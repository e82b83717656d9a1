//! The settings screen's controller: the readers and cameras the poller finds
//! ([`super::devices`]), the host and enrolment, importing an enrolment bundle, the tip
//! presets and the sounds, kept in the data directory's preferences file
//! ([`Preferences`]).

use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use slint::{ComponentHandle, ModelRc, SharedString, VecModel};

use super::devices::Devices;
use super::language::{self, Language};
use super::preferences::{Preferences, parse_tips};
use super::{AppAdapter, MainWindow, ReaderRow, SaleAdapter, Screen, SettingsAdapter};
use crate::acquirer::{MANIFEST_FILE, TerminalCredentials};

/// What the settings screen shows of the terminal, besides the preferences.
pub(super) struct Context {
    /// The terminal's data directory.
    pub(super) data_dir: PathBuf,
    /// The host's address.
    pub(super) host: String,
    pub(super) terminal_id: String,
    /// A development or demo terminal.
    pub(super) development: bool,
    /// Shows the amounts on screen again (after a change of language).
    pub(super) reformat: Box<dyn Fn()>,
}

/// The preferences in force, shared by the screen's callbacks.
pub(crate) type Shared = Rc<RefCell<Preferences>>;

pub(super) fn bind(window: &MainWindow, context: Context) -> Shared {
    let adapter = window.global::<SettingsAdapter>();
    let path = Preferences::file(&context.data_dir);
    let prefs = match Preferences::load(&path) {
        Ok(prefs) => prefs,
        Err(e) => {
            adapter.set_file_note(format!("Settings not read, defaults used: {e}").into());
            Preferences::default()
        }
    };
    adapter.set_terminal_id(context.terminal_id.as_str().into());
    adapter.set_host(context.host.as_str().into());
    adapter.set_development(context.development);
    adapter.set_enrolment(enrolment_text(&context.data_dir).into());
    adapter.set_readers(ModelRc::default());
    adapter.set_readers_note("Looking for readers…".into());
    adapter.set_cameras(ModelRc::default());
    let language = prefs
        .language
        .as_deref()
        .and_then(Language::from_locale_name)
        .unwrap_or_else(Language::from_system);
    show_language(window, language);
    show_preferences(window, &prefs);
    let shared: Shared = Rc::new(RefCell::new(prefs));

    let weak = window.as_weak();
    window.global::<SaleAdapter>().on_open_settings(move || {
        let Some(window) = weak.upgrade() else { return };
        let adapter = window.global::<SettingsAdapter>();
        adapter.set_import_result("".into());
        adapter.set_tips_result("".into());
        window.global::<AppAdapter>().set_screen(Screen::Settings);
    });
    let (weak, p, file) = (window.as_weak(), Rc::clone(&shared), path.clone());
    adapter.on_save_tips(move |text| {
        let Some(window) = weak.upgrade() else { return };
        let adapter = window.global::<SettingsAdapter>();
        let Some(tips) = parse_tips(&text) else {
            adapter.set_tips_result(
                "Three whole percentages from 1 to 99, such as 10, 15, 20.".into(),
            );
            return;
        };
        p.borrow_mut().tip_presets = tips;
        let note = keep(&window, &p.borrow(), &file).unwrap_or_else(|| "Tips saved.".into());
        window
            .global::<SettingsAdapter>()
            .set_tips_result(note.into());
    });
    let (weak, p, file) = (window.as_weak(), Rc::clone(&shared), path.clone());
    adapter.on_toggle_sounds(move || {
        let Some(window) = weak.upgrade() else { return };
        let sounds = !p.borrow().sounds;
        p.borrow_mut().sounds = sounds;
        keep(&window, &p.borrow(), &file);
        window
            .global::<SettingsAdapter>()
            .invoke_sounds_changed(sounds);
    });
    let (weak, p, file) = (window.as_weak(), Rc::clone(&shared), path);
    adapter.on_choose_camera(move |index| {
        let Some(window) = weak.upgrade() else { return };
        let adapter = window.global::<SettingsAdapter>();
        let Some(path) = usize::try_from(index)
            .ok()
            .and_then(|i| CAMERAS.with(|c| c.borrow().get(i).cloned()))
        else {
            return;
        };
        p.borrow_mut().camera = Some(path);
        adapter.set_camera(index);
        keep(&window, &p.borrow(), &file);
    });
    let (weak, p, file, reformat) = (
        window.as_weak(),
        Rc::clone(&shared),
        Preferences::file(&context.data_dir),
        context.reformat,
    );
    adapter.on_choose_language(move |index| {
        let Some(window) = weak.upgrade() else { return };
        let Some(language) = usize::try_from(index)
            .ok()
            .and_then(|i| Language::ALL.get(i).copied())
        else {
            return;
        };
        show_language(&window, language);
        p.borrow_mut().language = Some(language.tag().to_owned());
        keep(&window, &p.borrow(), &file);
        reformat();
    });
    let (weak, data_dir) = (window.as_weak(), context.data_dir);
    adapter.on_import_bundle(move |source| {
        let Some(window) = weak.upgrade() else { return };
        let adapter = window.global::<SettingsAdapter>();
        let text = match import_bundle(Path::new(source.trim()), &data_dir) {
            Ok(text) | Err(text) => text,
        };
        adapter.set_import_result(text.into());
        adapter.set_enrolment(enrolment_text(&data_dir).into());
    });
    let weak = window.as_weak();
    adapter.on_back(move || {
        let Some(window) = weak.upgrade() else { return };
        window.global::<AppAdapter>().set_screen(Screen::Sale);
    });
    shared
}

/// Calls `changed` with the sounds' new state whenever the merchant toggles them (after the
/// preferences have taken it).
pub(super) fn on_sounds(window: &MainWindow, changed: impl Fn(bool) + 'static) {
    window
        .global::<SettingsAdapter>()
        .on_sounds_changed(changed);
}

/// Shows the devices found by the poller (UI thread).
pub(super) fn show_devices(window: &MainWindow, devices: Devices, chosen: Option<&str>) {
    let adapter = window.global::<SettingsAdapter>();
    match devices.readers {
        Ok(readers) => {
            adapter.set_readers_note(if readers.is_empty() {
                "No card reader connected.".into()
            } else {
                SharedString::new()
            });
            let rows: Vec<ReaderRow> = readers
                .into_iter()
                .map(|r| ReaderRow {
                    name: r.name.into(),
                    card_present: r.card_present,
                })
                .collect();
            adapter.set_readers(ModelRc::new(VecModel::from(rows)));
        }
        Err(why) => {
            adapter.set_readers_note(format!("No card reader: {why}").into());
            adapter.set_readers(ModelRc::default());
        }
    }
    let names: Vec<SharedString> = devices
        .cameras
        .iter()
        .map(|c| format!("{} ({})", c.name, c.path).into())
        .collect();
    // The camera on screen stays chosen; else the one of the preferences.
    let current = usize::try_from(adapter.get_camera())
        .ok()
        .and_then(|i| CAMERAS.with(|c| c.borrow().get(i).cloned()));
    let index = current
        .as_deref()
        .or(chosen)
        .and_then(|path| devices.cameras.iter().position(|c| c.path == path))
        .unwrap_or(0);
    adapter.set_camera(i32::try_from(index).unwrap_or(0));
    CAMERAS.with(|c| *c.borrow_mut() = devices.cameras.into_iter().map(|c| c.path).collect());
    adapter.set_cameras(ModelRc::new(VecModel::from(names)));
}

thread_local! {
    /// The cameras on screen, by device path, in the order shown (UI thread).
    static CAMERAS: RefCell<Vec<String>> = const { RefCell::new(Vec::new()) };
}

/// Puts `language` in force and shows it chosen.
fn show_language(window: &MainWindow, language: Language) {
    language::select(language);
    let adapter = window.global::<SettingsAdapter>();
    let names: Vec<SharedString> = Language::ALL
        .iter()
        .map(|l| l.native_name().into())
        .collect();
    adapter.set_languages(ModelRc::new(VecModel::from(names)));
    let index = Language::ALL
        .iter()
        .position(|l| *l == language)
        .unwrap_or(0);
    adapter.set_language(i32::try_from(index).unwrap_or(0));
}

/// Shows the preferences on the settings and sale screens.
fn show_preferences(window: &MainWindow, prefs: &Preferences) {
    let adapter = window.global::<SettingsAdapter>();
    let [a, b, c] = prefs.tip_presets;
    adapter.set_tips_text(format!("{a}, {b}, {c}").into());
    adapter.set_sounds(prefs.sounds);
    let presets: Vec<i32> = prefs.tip_presets.iter().map(|p| i32::from(*p)).collect();
    window
        .global::<SaleAdapter>()
        .set_tip_presets(ModelRc::new(VecModel::from(presets)));
}

/// Writes the preferences and shows them; the reason when they could not be written.
fn keep(window: &MainWindow, prefs: &Preferences, file: &Path) -> Option<String> {
    show_preferences(window, prefs);
    let note = prefs
        .save(file)
        .err()
        .map(|e| format!("Not saved, kept until the terminal stops: {e}"));
    window
        .global::<SettingsAdapter>()
        .set_file_note(note.clone().unwrap_or_default().into());
    note
}

/// Where the terminal is enrolled, in words.
fn enrolment_text(data_dir: &Path) -> String {
    let dir = data_dir.join(ENROLMENT_DIR);
    if dir.join(MANIFEST_FILE).is_file() {
        format!("Enrolment bundle in {}", dir.display())
    } else {
        format!("Not enrolled: no bundle in {}", dir.display())
    }
}

/// Copies the enrolment bundle in `source` into `<data_dir>/enrolment` once it reads as one
/// (its manifest, certificates and keys: [`TerminalCredentials::load`]); never over an existing
/// enrolment, and never the PIN pad's key, which only `softpos-pinpad install-key` takes.
/// The text says what happened.
pub(crate) fn import_bundle(source: &Path, data_dir: &Path) -> Result<String, String> {
    let credentials = TerminalCredentials::load(source).map_err(|e| {
        format!(
            "Not imported: {} is not an enrolment bundle: {e}",
            source.display()
        )
    })?;
    let target = data_dir.join(ENROLMENT_DIR);
    if target.exists() {
        return Err(format!(
            "Not imported: this terminal is already enrolled ({}). Remove that directory first \
             to enrol it again.",
            target.display()
        ));
    }
    let copy = || -> std::io::Result<()> {
        let staging = data_dir.join(".enrolment.import");
        if staging.exists() {
            std::fs::remove_dir_all(&staging)?;
        }
        std::fs::create_dir_all(&staging)?;
        for entry in std::fs::read_dir(source)? {
            let entry = entry?;
            if entry.file_type()?.is_file() && entry.file_name() != PIN_KEY_FILE {
                std::fs::copy(entry.path(), staging.join(entry.file_name()))?;
            }
        }
        std::fs::rename(&staging, &target)
    };
    copy().map_err(|e| format!("Not imported: {e}"))?;
    Ok(format!(
        "Imported terminal {} (host {}). Restart softpos to use it, and install the PIN pad's \
         key with `softpos-pinpad install-key {}`.",
        credentials.terminal_id,
        credentials.host,
        source.display()
    ))
}

/// The enrolment bundle's directory in the data directory.
const ENROLMENT_DIR: &str = "enrolment";
/// The PIN pad's key in a bundle: never copied by the GUI.
const PIN_KEY_FILE: &str = "dukpt-ik.hex";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_import_refuses_what_is_not_a_bundle_and_names_where_it_looked() {
        let data = tempfile::tempdir().expect("temporary directory");
        let source = tempfile::tempdir().expect("temporary directory");
        let refused = import_bundle(source.path(), data.path()).unwrap_err();
        assert!(refused.starts_with("Not imported: "), "{refused}");
        assert!(refused.contains("is not an enrolment bundle"), "{refused}");
        assert!(!data.path().join(ENROLMENT_DIR).exists());
        assert!(enrolment_text(data.path()).starts_with("Not enrolled"));
    }
}
