//! The refund screen's controller: the refund or void of a past transaction, from its receipt
//! opened in the history. The engine's `Actions` query says what it allows (what remains
//! refundable of a sale, whether it is the last voidable transaction); this controller only
//! offers that: the refund amount is typed on the keypad, prefilled with what remains, and more
//! than that is refused on screen before anything is sent. The engine runs the refund (against
//! the sale, DE 90) or the void as any other operation.

use std::cell::RefCell;

use slint::ComponentHandle;

use super::{
    AmountEntry, AppAdapter, Currency, MainWindow, ReceiptAdapter, RefundAdapter, RefundStage,
    ResultAdapter, Screen,
};
use crate::engine::{Command, ServiceHandle, TxActions};

/// What the receipt of a past transaction offers, from the engine's [`TxActions`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Offer {
    pub(crate) actions: TxActions,
    /// Why the refund or the void is not offered (empty: both are).
    pub(crate) note: String,
}

impl Offer {
    /// The offer of `actions`, amounts in `currency`.
    pub(crate) fn of(actions: TxActions, currency: &Currency) -> Self {
        let mut notes = Vec::new();
        match actions.refundable {
            Some(0) => notes.push("Already refunded in full.".to_owned()),
            Some(left) => notes.push(format!("Refundable: {}.", currency.format(left))),
            None => notes.push("Only an approved sale can be refunded.".to_owned()),
        }
        if !actions.voidable {
            notes.push(
                "Void: only the last approved transaction of the open batch can be voided."
                    .to_owned(),
            );
        }
        Self {
            actions,
            note: notes.join(" "),
        }
    }

    fn can_refund(&self) -> bool {
        self.actions.refundable.is_some_and(|left| left > 0)
    }
}

/// The refund being prepared (UI thread only).
struct Draft {
    currency: Currency,
    offer: Option<Offer>,
    amount: AmountEntry,
}

thread_local! {
    static DRAFT: RefCell<Option<Draft>> = const { RefCell::new(None) };
}

fn edit<R>(f: impl FnOnce(&mut Draft) -> R) -> Option<R> {
    DRAFT.with(|d| d.borrow_mut().as_mut().map(f))
}

/// Shows `offer` on the receipt opened from the history (UI thread).
pub(super) fn offer(window: &MainWindow, offer: Offer) {
    let receipt = window.global::<ReceiptAdapter>();
    receipt.set_actions(true);
    receipt.set_can_refund(offer.can_refund());
    receipt.set_can_void(offer.actions.voidable);
    receipt.set_actions_note(offer.note.as_str().into());
    edit(|d| d.offer = Some(offer));
}

pub(super) fn bind(window: &MainWindow, handle: ServiceHandle, currency: Currency) {
    let adapter = window.global::<RefundAdapter>();
    adapter.set_has_decimals(currency.exponent > 0);
    DRAFT.with(|d| {
        *d.borrow_mut() = Some(Draft {
            currency,
            offer: None,
            amount: AmountEntry::new(),
        });
    });
    let receipt = window.global::<ReceiptAdapter>();
    let weak = window.as_weak();
    receipt.on_refund(move || {
        let Some(window) = weak.upgrade() else { return };
        let ready = edit(|d| {
            let left = d.offer.as_ref()?.actions.refundable?;
            d.amount.clear();
            d.amount.press(&left.to_string());
            Some(())
        });
        if ready.flatten().is_none() {
            return;
        }
        let adapter = window.global::<RefundAdapter>();
        adapter.set_stage(RefundStage::Amount);
        adapter.set_error("".into());
        refresh(&window);
        window.global::<AppAdapter>().set_screen(Screen::Refund);
    });
    let weak = window.as_weak();
    receipt.on_void(move || {
        let Some(window) = weak.upgrade() else { return };
        let adapter = window.global::<RefundAdapter>();
        adapter.set_stage(RefundStage::ConfirmVoid);
        refresh(&window);
        window.global::<AppAdapter>().set_screen(Screen::Refund);
    });
    let weak = window.as_weak();
    adapter.on_key(move |key| {
        edit(|d| d.amount.press(&key));
        if let Some(window) = weak.upgrade() {
            window.global::<RefundAdapter>().set_error("".into());
            refresh(&window);
        }
    });
    let weak = window.as_weak();
    adapter.on_delete(move || {
        edit(|d| d.amount.delete());
        if let Some(window) = weak.upgrade() {
            window.global::<RefundAdapter>().set_error("".into());
            refresh(&window);
        }
    });
    let weak = window.as_weak();
    adapter.on_back(move || {
        let Some(window) = weak.upgrade() else { return };
        window.global::<AppAdapter>().set_screen(Screen::Receipt);
    });
    let (weak, h) = (window.as_weak(), handle.clone());
    adapter.on_refund(move || {
        let Some(window) = weak.upgrade() else { return };
        let Some(checked) = edit(|d| check_refund(d)) else {
            return;
        };
        match checked {
            Ok((command, total)) => {
                super::sale::start_card_operation(&window, &h, &total, command);
            }
            Err(error) => window.global::<RefundAdapter>().set_error(error.into()),
        }
    });
    let weak = window.as_weak();
    adapter.on_void(move || {
        let Some(window) = weak.upgrade() else { return };
        let Some(Some(id)) = edit(|d| d.offer.as_ref().map(|o| o.actions.id)) else {
            return;
        };
        super::result::working(&window, "Voiding");
        window.global::<ResultAdapter>().set_amount_text("".into());
        if super::send(&handle, Command::Void { id }) {
            window.global::<AppAdapter>().set_screen(Screen::Result);
        }
    });
}

/// The refund command for the amount typed, or why it cannot be sent.
fn check_refund(d: &Draft) -> Result<(Command, String), String> {
    let offer = d.offer.as_ref().ok_or_else(String::new)?;
    let left = offer.actions.refundable.unwrap_or(0);
    let amount = d.amount.minor_units();
    if amount == 0 {
        return Err("Enter the amount to refund.".to_owned());
    }
    if amount > left {
        return Err(format!(
            "At most {} can be refunded.",
            d.currency.format(left)
        ));
    }
    Ok((
        Command::Refund {
            amount,
            original_id: Some(offer.actions.id),
        },
        d.currency.format(amount),
    ))
}

fn refresh(window: &MainWindow) {
    let adapter = window.global::<RefundAdapter>();
    edit(|d| {
        adapter.set_amount_text(d.currency.format(d.amount.minor_units()).into());
        if let Some(offer) = &d.offer {
            adapter.set_sale_text(format!("#{}", offer.actions.id).into());
            adapter.set_remaining_text(
                d.currency
                    .format(offer.actions.refundable.unwrap_or(0))
                    .into(),
            );
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn actions(refundable: Option<u64>, voidable: bool) -> TxActions {
        TxActions {
            id: 7,
            refundable,
            voidable,
        }
    }

    fn draft(refundable: Option<u64>, keys: &str) -> Draft {
        let currency = Currency::from_numeric(978, 2);
        let mut amount = AmountEntry::new();
        amount.press(keys);
        Draft {
            offer: Some(Offer::of(actions(refundable, false), &currency)),
            currency,
            amount,
        }
    }

    #[test]
    fn the_offer_says_what_the_engine_allows_and_why_not() {
        let eur = Currency::from_numeric(978, 2);
        let open = Offer::of(actions(Some(857), true), &eur);
        assert!(open.can_refund());
        assert_eq!(open.note, "Refundable: EUR 8.57.");
        let spent = Offer::of(actions(Some(0), false), &eur);
        assert!(!spent.can_refund());
        assert!(
            spent
                .note
                .starts_with("Already refunded in full. Void: only the last")
        );
        let declined = Offer::of(actions(None, false), &eur);
        assert!(!declined.can_refund());
        assert!(
            declined
                .note
                .starts_with("Only an approved sale can be refunded.")
        );
    }

    #[test]
    fn a_refund_up_to_what_remains_names_its_sale_and_more_is_refused() {
        assert_eq!(
            check_refund(&draft(Some(857), "857")),
            Ok((
                Command::Refund {
                    amount: 857,
                    original_id: Some(7)
                },
                "EUR 8.57".to_owned()
            ))
        );
        assert!(check_refund(&draft(Some(857), "500")).is_ok());
        assert_eq!(
            check_refund(&draft(Some(857), "858")),
            Err("At most EUR 8.57 can be refunded.".to_owned())
        );
        assert!(check_refund(&draft(Some(857), "")).is_err());
        assert!(check_refund(&draft(None, "100")).is_err());
    }
}
