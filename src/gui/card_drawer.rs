//! The testers' drawer's controller (demo mode): tapping a profile puts a virtual card of it
//! on the demo reader.

use slint::{ComponentHandle, ModelRc, SharedString, VecModel};

use super::{CardDrawerAdapter, MainWindow};
use crate::demo::CardDrawer;

pub(super) fn bind(window: &MainWindow, drawer: Option<CardDrawer>) {
    let adapter = window.global::<CardDrawerAdapter>();
    let Some(drawer) = drawer else {
        adapter.set_available(false);
        return;
    };
    let profiles: Vec<SharedString> = hsm_sim::card::Profile::names()
        .iter()
        .map(|n| SharedString::from(*n))
        .collect();
    adapter.set_profiles(ModelRc::new(VecModel::from(profiles)));
    adapter.set_available(true);
    adapter.on_tap(move |profile| {
        if let Err(e) = drawer.tap(&profile) {
            tracing::warn!("the testers' drawer: {e}");
        }
    });
}
