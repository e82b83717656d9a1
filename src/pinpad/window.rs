//! The PIN pad window (Slint, `ui/views/pinpad.slint`), bound through `PinPadAdapter`.
//!
//! The window only reports slot numbers and the fixed keys; the digits stay in the
//! [`Session`]. Every digit key gives the same feedback (one pressed colour; no sound of its own;
//! the screen reader hears "N digits entered" from a live region), and in accessible mode the
//! layout is the fixed phone one, announced through an assertive live region and the keypad's
//! accessible description, while the keys keep the generic accessible label "PIN key"
//! (security doc P5, P10). READY goes out once the first frame is on screen (`frame-drawn`).

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::mpsc::{self, TryRecvError};
use std::time::{Duration, Instant};

use slint::{ComponentHandle, ModelRc, SharedString, Timer, TimerMode, VecModel};

use super::keypad::Layout;
use super::process::{Finisher, TerminalEvent};
use super::protocol::{DisplayKind, EntryRequest, Refusal};
use super::session::{Key, Progress, Session};

// The code Slint generates from `ui/main.slint` (`build.rs`): this window and, with the `gui`
// feature, the merchant's main window that `crate::gui` uses from here. Its item-tree and property
// plumbing (pinned fields, vtables) carries `#[allow(unsafe_code)]`, which the crate's
// `#![deny(unsafe_code)]` admits and `forbid` would not (E0453). This is the one place in
// `src/` that allows unsafe code, and only for generated code: nothing hand-written here uses
// it (`tests/pinpad_lints.rs` checks both). The other allows are for lints the generator does
// not follow (docs, visibility, casts).
#[allow(unsafe_code)]
#[allow(
    missing_docs,
    unreachable_pub,
    unused_qualifications,
    clippy::all,
    clippy::undocumented_unsafe_blocks,
    clippy::unwrap_used,
    clippy::cast_possible_truncation
)]
pub(crate) mod ui {
    slint::include_modules!();
}

pub use ui::{PinPadAdapter, PinPadWindow};

/// Shows the window and runs the entry to its end. Returns whether an answer was written.
pub(crate) fn run(
    finisher: Finisher,
    layout: Layout,
    display: DisplayKind,
    terminal: mpsc::Receiver<TerminalEvent>,
) -> bool {
    let Ok(window) = PinPadWindow::new() else {
        return refuse_window(finisher);
    };
    let adapter = window.global::<PinPadAdapter>();
    configure(&adapter, finisher.request(), &layout, display);
    let request = finisher.request();
    let session = Session::new(layout, request.length, request.timeouts, Instant::now());
    let state = Rc::new(RefCell::new(State {
        session,
        finisher,
        written: None,
    }));

    let weak = window.as_weak();
    let press = {
        let state = Rc::clone(&state);
        move |key: Key| {
            let progress = state.borrow_mut().press(key);
            if let Some(w) = weak.upgrade() {
                show_progress(&w.global::<PinPadAdapter>(), progress);
            }
        }
    };
    let p = press.clone();
    adapter.on_key_pressed(move |slot| p(Key::Slot(u8::try_from(slot).unwrap_or(u8::MAX))));
    let p = press.clone();
    adapter.on_clear_pressed(move || p(Key::Clear));
    let p = press.clone();
    adapter.on_ok_pressed(move || p(Key::Ok));
    let p = press.clone();
    adapter.on_cancel_pressed(move || p(Key::Cancel));

    // Timeouts and the terminal's CANCEL, checked every 50 ms on the UI thread.
    let ticker = Timer::default();
    {
        let state = Rc::clone(&state);
        ticker.start(TimerMode::Repeated, TICK, move || {
            let event = match terminal.try_recv() {
                Ok(_) | Err(TryRecvError::Disconnected) => Some(()),
                Err(TryRecvError::Empty) => None,
            };
            let mut s = state.borrow_mut();
            let progress = match event {
                Some(()) => s.session.cancel(),
                None => s.session.tick(Instant::now()),
            };
            s.settle(progress);
        });
    }
    // READY once the first frame is on screen: the renderer reads the view's background through
    // `frame-drawn` while it draws that frame, and the zero timer runs after the frame has been
    // presented, on the next turn of the event loop. The timeouts start then.
    {
        let state = Rc::clone(&state);
        let announced = Rc::new(std::cell::Cell::new(false));
        adapter.on_frame_drawn(move |colour| {
            if !announced.replace(true) {
                let state = Rc::clone(&state);
                Timer::single_shot(Duration::ZERO, move || {
                    let mut s = state.borrow_mut();
                    s.session.restart(Instant::now());
                    if !s.finisher.ready(display) {
                        let progress = s.session.cancel();
                        s.settle(progress);
                    }
                });
            }
            colour
        });
    }
    if window.show().is_err() {
        return false;
    }
    let _ = slint::run_event_loop();
    let _ = window.hide();
    state.borrow().written.unwrap_or(false)
}

/// Sets the texts, labels and banner for an entry. Public for the headless UI test.
pub fn configure(
    adapter: &PinPadAdapter<'_>,
    request: &EntryRequest,
    layout: &Layout,
    display: DisplayKind,
) {
    let texts = Texts::for_language(&request.language);
    adapter.set_merchant_name(request.merchant_name.as_str().into());
    adapter.set_amount_text(
        format_amount(
            request.amount,
            request.currency_code,
            request.currency_exponent,
        )
        .into(),
    );
    adapter.set_prompt_text(texts.prompt.into());
    adapter.set_cancel_text(texts.cancel.into());
    adapter.set_clear_text(texts.clear.into());
    adapter.set_ok_text(texts.ok.into());
    adapter.set_accessible(request.accessible);
    adapter.set_accessible_announcement(texts.announcement.into());
    adapter.set_keypad_label(texts.keypad.into());
    adapter.set_keypad_description(
        if request.accessible {
            texts.announcement
        } else {
            texts.shuffled
        }
        .into(),
    );
    adapter.set_digits_entered_text(texts.digits_entered.into());
    adapter.set_insecure_banner(display == DisplayKind::X11Development);
    adapter.set_insecure_banner_text(texts.banner.into());
    let labels: Vec<SharedString> = layout
        .to_bytes()
        .iter()
        .map(|d| SharedString::from(DIGIT_LABELS.get(usize::from(*d)).copied().unwrap_or("")))
        .collect();
    adapter.set_key_labels(ModelRc::new(VecModel::from(labels)));
    show_progress(
        adapter,
        Progress::Collecting {
            dots: 0,
            ok_enabled: false,
        },
    );
}

/// The amount as shown: `EUR 12.34`.
pub fn format_amount(amount: u64, currency_code: u16, exponent: u8) -> String {
    let code = match currency_code {
        978 => "EUR".to_owned(),
        840 => "USD".to_owned(),
        826 => "GBP".to_owned(),
        756 => "CHF".to_owned(),
        156 => "CNY".to_owned(),
        other => format!("{other:03}"),
    };
    let scale = 10u64.pow(u32::from(exponent.min(4)));
    if scale == 1 {
        return format!("{code} {amount}");
    }
    let width = usize::from(exponent.min(4));
    format!("{code} {}.{:0width$}", amount / scale, amount % scale)
}

struct State {
    session: Session,
    finisher: Finisher,
    written: Option<bool>,
}

impl State {
    fn press(&mut self, key: Key) -> Progress {
        let progress = self.session.press(key, Instant::now());
        self.settle(progress);
        progress
    }

    /// Answers and leaves the event loop once the session has ended.
    fn settle(&mut self, progress: Progress) {
        if matches!(progress, Progress::Collecting { .. }) || self.written.is_some() {
            return;
        }
        let written = self.finisher.finish(progress, &mut self.session);
        self.session.wipe();
        self.written = Some(written);
        let _ = slint::quit_event_loop();
    }
}

fn show_progress(adapter: &PinPadAdapter<'_>, progress: Progress) {
    if let Progress::Collecting { dots, ok_enabled } = progress {
        adapter.set_dots(i32::from(dots));
        adapter.set_ok_enabled(ok_enabled);
    }
}

fn refuse_window(mut finisher: Finisher) -> bool {
    finisher.refuse(Refusal::Window)
}

struct Texts {
    prompt: &'static str,
    cancel: &'static str,
    clear: &'static str,
    ok: &'static str,
    banner: &'static str,
    announcement: &'static str,
    keypad: &'static str,
    shuffled: &'static str,
    digits_entered: &'static str,
}

impl Texts {
    fn for_language(language: &str) -> Self {
        match language {
            "de" => Self {
                prompt: "Bitte PIN eingeben",
                cancel: "Abbruch",
                clear: "Korrektur",
                ok: "OK",
                banner: "NICHT SICHER: Entwicklungsmodus",
                announcement: "PIN-Eingabe. Tasten wie am Telefon: 1 2 3 oben, 0 allein unten. \
                               Korrektur links unten, OK rechts unten, Abbruch ganz unten.",
                keypad: "PIN-Tastatur",
                shuffled: "Die Tasten sind zufällig angeordnet.",
                digits_entered: " Ziffern eingegeben",
            },
            "fr" => Self {
                prompt: "Saisissez votre code",
                cancel: "Annuler",
                clear: "Corriger",
                ok: "Valider",
                banner: "NON SÉCURISÉ : mode développement",
                announcement: "Saisie du code. Clavier de téléphone : 1 2 3 en haut, 0 seul en \
                               bas. Corriger en bas à gauche, Valider en bas à droite, Annuler \
                               tout en bas.",
                keypad: "Clavier du code",
                shuffled: "Les touches sont dans un ordre aléatoire.",
                digits_entered: " chiffres saisis",
            },
            "zh" => Self {
                prompt: "请输入密码",
                cancel: "取消",
                clear: "更正",
                ok: "确认",
                banner: "不安全：开发模式",
                announcement: "密码输入。电话键盘布局：上排 1 2 3，0 在最下方。左下更正，右下确认，最下方取消。",
                keypad: "密码键盘",
                shuffled: "按键顺序随机。",
                digits_entered: " 位已输入",
            },
            _ => Self {
                prompt: "Enter your PIN",
                cancel: "Cancel",
                clear: "Clear",
                ok: "OK",
                banner: "NOT SECURE: development mode",
                announcement: "PIN entry. Phone layout: 1 2 3 on top, 0 alone at the bottom. \
                               Clear bottom left, OK bottom right, Cancel at the very bottom.",
                keypad: "PIN keypad",
                shuffled: "The keys are in a random order.",
                digits_entered: " digits entered",
            },
        }
    }
}

const TICK: Duration = Duration::from_millis(50);
const DIGIT_LABELS: [&str; 10] = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_are_formatted_with_the_exponent() {
        assert_eq!(format_amount(1234, 978, 2), "EUR 12.34");
        assert_eq!(format_amount(5, 840, 2), "USD 0.05");
        assert_eq!(format_amount(1500, 392, 0), "392 1500");
        assert_eq!(format_amount(1_000_001, 48, 3), "048 1000.001");
    }
}
