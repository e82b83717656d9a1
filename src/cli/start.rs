//! `softpos` with no command: the merchant's GUI. An enrolled terminal (a bundle in its data
//! directory) runs for real on the first PC/SC reader; otherwise demo mode: an embedded
//! acquirer host on loopback and the testers' drawer of virtual cards (through `pcscd` +
//! `vpcd` when they run, in process otherwise). Without a display it says so in one line and
//! runs the command-line demo sale instead.

use std::process::ExitCode;

#[cfg(feature = "gui")]
use anyhow::Context as _;

pub(super) fn run() -> anyhow::Result<ExitCode> {
    if std::env::var_os("DISPLAY").is_none() && std::env::var_os("WAYLAND_DISPLAY").is_none() {
        return without_display();
    }
    #[cfg(feature = "gui")]
    {
        let data = super::pay::DataArgs::defaults();
        let enrolled = super::pay::data_dir(&data)?
            .join(super::pay::ENROLMENT_DIR)
            .is_dir();
        if enrolled {
            return terminal(&data);
        }
        #[cfg(feature = "demo")]
        return demo();
        // A terminal build without the demo: activation first.
        #[cfg(not(feature = "demo"))]
        return activation_window(&data, None);
    }
    #[cfg(not(feature = "gui"))]
    anyhow::bail!(
        "this build has no GUI (built without the `gui` feature); `softpos --help` lists the commands"
    )
}

fn without_display() -> anyhow::Result<ExitCode> {
    #[cfg(feature = "demo")]
    {
        println!(
            "No display (neither DISPLAY nor WAYLAND_DISPLAY is set): running the command-line demo sale instead."
        );
        super::pay::demo("visa".to_owned(), "12.34".to_owned())
    }
    #[cfg(not(feature = "demo"))]
    anyhow::bail!(
        "no display (neither DISPLAY nor WAYLAND_DISPLAY is set); `softpos --help` lists the commands"
    )
}

/// The "Activate this terminal" window; once activated and the merchant chose to start
/// selling, the terminal's GUI.
pub(super) fn activation_window(
    data: &super::pay::DataArgs,
    host: Option<&str>,
) -> anyhow::Result<ExitCode> {
    #[cfg(feature = "gui")]
    {
        if std::env::var_os("DISPLAY").is_none() && std::env::var_os("WAYLAND_DISPLAY").is_none() {
            anyhow::bail!(
                "no display for the activation window: softpos activate CODE --host HOST:PORT"
            );
        }
        let setup = crate::gui::activation::ActivationSetup {
            enrolment_dir: super::pay::data_dir(data)?.join(super::pay::ENROLMENT_DIR),
            pin_pad: crate::pinpad::PinPadConfig::next_to_current_exe()?,
            host: host.unwrap_or_default().to_owned(),
        };
        if crate::gui::activation::run(setup)? {
            return terminal(data);
        }
        Ok(ExitCode::SUCCESS)
    }
    #[cfg(not(feature = "gui"))]
    {
        let _ = (data, host);
        anyhow::bail!("this build has no GUI: softpos activate CODE --host HOST:PORT")
    }
}

/// The enrolled terminal on the first PC/SC reader.
#[cfg(feature = "gui")]
fn terminal(data: &super::pay::DataArgs) -> anyhow::Result<ExitCode> {
    use crate::gui::{Currency, GuiSetup, TerminalStatus};
    let data_dir = super::pay::data_dir(data)?;
    let (mut engine, config) = super::pay::open_engine(data, None)?;
    let host_online = engine.sign_on().is_ok();
    let offline_queue = engine.journal().advice_queue().map_or(0, |q| q.0);
    let reader = crate::reader::PcscReader::open(None).context("opening the card reader")?;
    let status = TerminalStatus {
        host_online,
        offline_queue,
        reader: reader.name(),
        terminal_id: engine.acquirer_mut().terminal_id().to_owned(),
        development: false,
    };
    crate::gui::run(GuiSetup {
        engine,
        card: Box::new(reader),
        pin: super::pay::pin_entry(),
        currency: Currency::from_numeric(
            config.terminal.currency_code,
            config.terminal.currency_exponent,
        ),
        status,
        data_dir,
        #[cfg(feature = "demo")]
        drawer: None,
    })?;
    Ok(ExitCode::SUCCESS)
}

/// Demo mode: the embedded host, the demo terminal enrolled with it and its PIN pad keyed
/// (kept in the demo data directory and reused, [`crate::demo::DemoData`]), and the testers'
/// drawer.
#[cfg(all(feature = "gui", feature = "demo"))]
fn demo() -> anyhow::Result<ExitCode> {
    use crate::demo::{CardDrawer, DEMO_TERMINAL, VIRTUAL_READER};
    use crate::gui::{Currency, GuiSetup, TerminalStatus};
    use crate::reader::PcscReader;

    let (demo, mut engine, config) = super::pay::open_demo()?;
    let currency = Currency::from_numeric(
        config.terminal.currency_code,
        config.terminal.currency_exponent,
    );
    let host_online = engine.sign_on().is_ok();
    let offline_queue = engine.journal().advice_queue().map_or(0, |q| q.0);
    // Through pcscd + vpcd when they run, in process otherwise.
    let (drawer, reader) = CardDrawer::new(PcscReader::open(Some(VIRTUAL_READER)).ok());
    let status = TerminalStatus {
        host_online,
        offline_queue,
        reader: reader.describe(),
        terminal_id: DEMO_TERMINAL.to_owned(),
        development: true,
    };
    let shown = crate::gui::run(GuiSetup {
        engine,
        card: Box::new(reader),
        pin: Box::new(crate::pinpad::PinPadProcess::new(demo.pin_pad.clone())),
        currency,
        status,
        data_dir: demo.terminal_dir.clone(),
        drawer: Some(drawer),
    });
    demo.host.shutdown();
    shown?;
    Ok(ExitCode::SUCCESS)
}
