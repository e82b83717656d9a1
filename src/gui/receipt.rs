//! The receipt screen's controller: the engine's receipt data (masked PAN only) as the customer
//! copy, or the merchant copy.

use slint::{ComponentHandle, ModelRc, SharedString, VecModel};

use super::{AppAdapter, MainWindow, ReceiptAdapter};
use crate::engine::Receipt;

/// The receipt's two copies, line by line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Show {
    /// The customer copy.
    pub(crate) customer: Vec<String>,
    /// The merchant copy (with TVR and TSI).
    pub(crate) merchant: Vec<String>,
}

impl Show {
    /// The copies of `receipt`.
    pub(crate) fn of(receipt: &Receipt) -> Self {
        let lines = |text: String| text.lines().map(str::to_owned).collect();
        Self {
            customer: lines(receipt.to_string()),
            merchant: lines(receipt.merchant_copy()),
        }
    }
}

pub(super) fn apply(window: &MainWindow, show: Option<Show>) {
    let adapter = window.global::<ReceiptAdapter>();
    let model = |lines: Vec<String>| {
        let lines: Vec<SharedString> = lines.into_iter().map(SharedString::from).collect();
        ModelRc::new(VecModel::from(lines))
    };
    let show = show.unwrap_or(Show {
        customer: Vec::new(),
        merchant: Vec::new(),
    });
    adapter.set_customer_lines(model(show.customer));
    adapter.set_merchant_lines(model(show.merchant));
    adapter.set_merchant_copy(false);
    // The refund and void are offered only once the engine says what it allows.
    adapter.set_actions(false);
}

pub(super) fn bind(window: &MainWindow) {
    let adapter = window.global::<ReceiptAdapter>();
    let weak = window.as_weak();
    adapter.on_toggle_merchant_copy(move || {
        let Some(window) = weak.upgrade() else { return };
        let adapter = window.global::<ReceiptAdapter>();
        adapter.set_merchant_copy(!adapter.get_merchant_copy());
    });
    let weak = window.as_weak();
    adapter.on_done(move || {
        let Some(window) = weak.upgrade() else { return };
        let app = window.global::<AppAdapter>();
        app.set_screen(app.get_receipt_return());
    });
}
