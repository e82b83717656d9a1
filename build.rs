//! Compiles the one Slint entry file, `ui/main.slint`: the PIN pad window and the merchant's
//! main window (`gui` feature).
//!
//! Debug builds keep element debug info, which `i-slint-backend-testing` needs to find elements
//! in the headless UI tests; release builds leave it out.

fn main() {
    // Without this line cargo reruns the script, and rebuilds the crate, whenever any file of
    // the package changes, the fuzz corpora under `fuzz/` included.
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=ui");
    // The build's time, from which its expiry is counted (`src/attestation.rs`), unless the
    // packaging sets `SOFTPOS_BUILD_EXPIRES_AT`.
    println!("cargo:rerun-if-env-changed=SOFTPOS_BUILD_EXPIRES_AT");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    println!("cargo:rustc-env=SOFTPOS_BUILD_UNIX={now}");
    #[cfg(feature = "pinpad-window")]
    compile_ui();
}

#[cfg(feature = "pinpad-window")]
fn compile_ui() {
    let debug_info = std::env::var("PROFILE").is_ok_and(|p| p == "debug");
    // The merchant's languages (`ui/translations/<lang>/LC_MESSAGES/softpos.po`), bundled into
    // the binary; a string is looked up by its English text alone (no context).
    let config = slint_build::CompilerConfiguration::new()
        .with_debug_info(debug_info)
        .with_bundled_translations("ui/translations")
        .with_default_translation_context(slint_build::DefaultTranslationContext::None);
    if let Err(e) = slint_build::compile_with_config("ui/main.slint", config) {
        eprintln!("Slint compile error: {e}");
        std::process::exit(1);
    }
}
