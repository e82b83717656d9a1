//! The sale screen's controller: the amount typed on the keypad, the tip step, and the payment
//! choice. "Tap card" sends the sale to the engine; everything after that is the engine's.

use std::cell::RefCell;
use std::rc::Rc;

use slint::ComponentHandle;

use super::{
    AmountEntry, AppAdapter, Currency, MainWindow, PinWaitAdapter, PresentCardAdapter,
    ResultAdapter, SaleAdapter, SaleStage, Screen,
};
use crate::engine::{Command, ServiceHandle, Tip};

/// The sale being prepared, before the engine gets it.
pub(crate) struct SaleController {
    window: slint::Weak<MainWindow>,
    handle: ServiceHandle,
    currency: Currency,
    state: RefCell<Draft>,
    screens: PaymentScreens,
}

#[derive(Debug, Default)]
struct Draft {
    stage: Stage,
    amount: AmountEntry,
    custom_tip: AmountEntry,
    tip: TipChoice,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum Stage {
    #[default]
    Amount,
    Tip,
    CustomTip,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum TipChoice {
    #[default]
    None,
    Percent(u8),
    Custom,
}

impl TipChoice {
    /// The choice as the adapter names it: 0 no tip, 10/15/20 percent, 100 custom.
    fn code(self) -> i32 {
        match self {
            Self::None => 0,
            Self::Percent(p) => i32::from(p),
            Self::Custom => CUSTOM,
        }
    }
}

impl Draft {
    fn tip(&self) -> Tip {
        match self.tip {
            TipChoice::None => Tip::None,
            TipChoice::Percent(p) => Tip::Percent(p),
            TipChoice::Custom => Tip::Amount(self.custom_tip.minor_units()),
        }
    }

    fn total(&self) -> u64 {
        let amount = self.amount.minor_units();
        amount.saturating_add(self.tip().of(amount))
    }
}

/// Which of the doors besides the card this terminal offers.
#[derive(Debug, Clone, Copy)]
pub(super) struct Doors {
    /// The merchant's code (the host's API and the merchant's country configured).
    pub(super) merchant_code: bool,
    /// Requests to pay (the host's API configured).
    pub(super) request_to_pay: bool,
}

/// The payment screens the sale opens with its total.
pub(super) struct PaymentScreens {
    /// The customer's code, scanned.
    pub(super) scans: Rc<super::scan_code::ScanController>,
    /// The request to the customer's phone.
    pub(super) requests: Rc<super::request_to_pay::RequestController>,
}

pub(super) fn bind(
    window: &MainWindow,
    handle: ServiceHandle,
    currency: Currency,
    doors: Doors,
    screens: PaymentScreens,
) -> Rc<SaleController> {
    let controller = Rc::new(SaleController {
        window: window.as_weak(),
        handle,
        currency,
        state: RefCell::new(Draft::default()),
        screens,
    });
    let adapter = window.global::<SaleAdapter>();
    adapter.set_has_decimals(controller.currency.exponent > 0);
    let c = Rc::clone(&controller);
    adapter.on_key(move |key| {
        c.edit(|d| match d.stage {
            Stage::CustomTip => d.custom_tip.press(&key),
            _ => d.amount.press(&key),
        });
    });
    let c = Rc::clone(&controller);
    adapter.on_delete(move || {
        c.edit(|d| match d.stage {
            Stage::CustomTip => d.custom_tip.delete(),
            _ => d.amount.delete(),
        });
    });
    let c = Rc::clone(&controller);
    adapter.on_next(move || {
        c.edit(|d| match d.stage {
            Stage::Amount if d.amount.minor_units() > 0 => d.stage = Stage::Tip,
            Stage::CustomTip => {
                d.tip = TipChoice::Custom;
                d.stage = Stage::Tip;
            }
            _ => {}
        });
    });
    let c = Rc::clone(&controller);
    adapter.on_back(move || {
        c.edit(|d| {
            d.stage = match d.stage {
                Stage::CustomTip => Stage::Tip,
                _ => Stage::Amount,
            }
        });
    });
    let c = Rc::clone(&controller);
    adapter.on_choose_tip(move |code| {
        c.edit(|d| match code {
            CUSTOM => {
                d.custom_tip.clear();
                d.stage = Stage::CustomTip;
            }
            // A preset of the settings (1 to 99 %).
            1..=99 => d.tip = TipChoice::Percent(u8::try_from(code).unwrap_or(0)),
            _ => d.tip = TipChoice::None,
        });
    });
    let c = Rc::clone(&controller);
    adapter.on_pay_by_card(move || c.pay_by_card());
    let c = Rc::clone(&controller);
    adapter.on_pay_by_customer_code(move || c.pay_by_customer_code());
    let c = Rc::clone(&controller);
    adapter.on_pay_by_merchant_code(move || c.pay_by_merchant_code());
    adapter.set_merchant_code_available(doors.merchant_code);
    let c = Rc::clone(&controller);
    adapter.on_pay_by_request(move || c.pay_by_request());
    adapter.set_request_to_pay_available(doors.request_to_pay);
    controller.refresh();
    controller
}

impl SaleController {
    /// A new, empty sale on screen.
    pub(crate) fn reset(&self) {
        *self.state.borrow_mut() = Draft::default();
        self.refresh();
        if let Some(window) = self.window.upgrade() {
            window.global::<AppAdapter>().set_screen(Screen::Sale);
        }
    }

    fn edit(&self, f: impl FnOnce(&mut Draft)) {
        f(&mut self.state.borrow_mut());
        self.refresh();
    }

    /// Sends the sale to the engine and shows the present-card screen at once; the engine's
    /// events take it from there.
    fn pay_by_card(&self) {
        let (amount, tip, total) = {
            let d = self.state.borrow();
            (d.amount.minor_units(), d.tip(), d.total())
        };
        let Some(window) = self.window.upgrade() else {
            return;
        };
        if amount == 0 {
            return;
        }
        let total = self.currency.format(total);
        start_card_operation(&window, &self.handle, &total, Command::Sale { amount, tip });
    }

    /// Sends the sale to the engine to be paid with the merchant's code; the code shows when
    /// the host has opened the payment.
    fn pay_by_merchant_code(&self) {
        let total = self.state.borrow().total();
        let Some(window) = self.window.upgrade() else {
            return;
        };
        if total == 0 {
            return;
        }
        super::merchant_code::start(&window, &self.handle, &self.currency.format(total), total);
    }

    /// Opens the scan screen for the sale's total.
    fn pay_by_customer_code(&self) {
        let total = self.state.borrow().total();
        if total > 0 {
            self.screens.scans.open(&self.currency.format(total), total);
        }
    }

    /// Opens the request-to-pay screen for the sale's total.
    fn pay_by_request(&self) {
        let total = self.state.borrow().total();
        if total > 0 {
            self.screens
                .requests
                .open(&self.currency.format(total), total);
        }
    }

    /// Shows the draft sale (amounts in the language in force).
    pub(crate) fn refresh(&self) {
        let Some(window) = self.window.upgrade() else {
            return;
        };
        let d = self.state.borrow();
        let adapter = window.global::<SaleAdapter>();
        let amount = d.amount.minor_units();
        adapter.set_stage(match d.stage {
            Stage::Amount => SaleStage::Amount,
            Stage::Tip => SaleStage::Tip,
            Stage::CustomTip => SaleStage::CustomTip,
        });
        adapter.set_amount_text(self.currency.format(amount).into());
        adapter.set_custom_tip_text(self.currency.format(d.custom_tip.minor_units()).into());
        adapter.set_tip_text(self.currency.format(d.tip().of(amount)).into());
        adapter.set_total_text(self.currency.format(d.total()).into());
        adapter.set_tip_choice(d.tip.code());
        adapter.set_can_continue(amount > 0);
    }
}

/// Sends `command`, a card operation of `total` (formatted), to the engine and shows the
/// present-card screen at once; the engine's events take it from there. When the engine has
/// stopped, the result screen says so (nothing was charged).
pub(super) fn start_card_operation(
    window: &MainWindow,
    handle: &ServiceHandle,
    total: &str,
    command: Command,
) {
    let present = window.global::<PresentCardAdapter>();
    present.set_amount_text(total.into());
    present.set_message("Present card".into());
    present.set_lit(1);
    present.set_error(false);
    window
        .global::<PinWaitAdapter>()
        .set_amount_text(total.into());
    let result = window.global::<ResultAdapter>();
    result.set_amount_text(total.into());
    if super::send(handle, command) {
        window
            .global::<AppAdapter>()
            .set_screen(Screen::PresentCard);
    } else {
        engine_stopped(window);
    }
}

/// The result screen says the engine has stopped (nothing was charged).
pub(super) fn engine_stopped(window: &MainWindow) {
    let result = window.global::<ResultAdapter>();
    result.set_state(super::ResultState::NothingCharged);
    result.set_reason("The payment engine has stopped: restart the terminal.".into());
    result.set_card_text("".into());
    result.set_response_code("".into());
    result.set_has_receipt(false);
    window.global::<AppAdapter>().set_screen(Screen::Result);
}

/// The adapter's code of the custom tip.
const CUSTOM: i32 = 100;
