//! The result screen's controller: "Authorising", then Approved (card brand and last four) or
//! Not approved (the reason in plain words, the response code small), and "Nothing was
//! charged" when the transaction was aborted or reversed. It reads the engine's result; it
//! decides nothing.

use std::rc::Rc;

use slint::ComponentHandle;

use super::receipt;
use super::sale::SaleController;
use super::{AppAdapter, Currency, MainWindow, ResultAdapter, ResultState, Screen};
use crate::engine::{EngineError, Reply, TxResult, TxStatus};

/// How a command ended, as the result screen shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Approved (online or offline).
    Approved,
    /// An answer that said no.
    Declined,
    /// Aborted before anything reached the host, or reversed.
    NothingCharged,
}

/// What the result screen shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Show {
    /// How it ended.
    pub(crate) outcome: Outcome,
    /// The amount (tip included).
    pub(crate) amount: String,
    /// "VISA CREDIT ending 0119" when approved.
    pub(crate) card: String,
    /// Why it was not approved, in plain words.
    pub(crate) reason: String,
    /// The host's response code, if it answered.
    pub(crate) response_code: String,
}

/// What a finished command shows; `None` for replies that are not transactions.
pub(super) fn for_reply(
    reply: &Result<Reply, EngineError>,
    currency: &Currency,
) -> Option<(Show, Option<receipt::Show>)> {
    match reply {
        Ok(Reply::Transaction { result, receipt }) => {
            let label = receipt
                .as_ref()
                .and_then(|r| r.card_label.clone())
                .unwrap_or_else(|| "Card".to_owned());
            Some((
                of_result(result, &label, currency),
                receipt.as_deref().map(receipt::Show::of),
            ))
        }
        Ok(_) => None,
        Err(e) => Some((
            Show {
                outcome: Outcome::Declined,
                amount: String::new(),
                card: String::new(),
                reason: format!("The terminal could not finish: {e}"),
                response_code: String::new(),
            },
            None,
        )),
    }
}

/// What `result` shows, for a card labelled `label`.
pub(crate) fn of_result(result: &TxResult, label: &str, currency: &Currency) -> Show {
    let outcome = match result.status {
        TxStatus::Approved | TxStatus::ApprovedOffline => Outcome::Approved,
        TxStatus::Declined => Outcome::Declined,
        _ => Outcome::NothingCharged,
    };
    let card = match (&result.masked_pan, outcome) {
        (Some(pan), Outcome::Approved) => format!("{label} ending {}", last_four(pan)),
        _ => String::new(),
    };
    Show {
        outcome,
        amount: currency.format(result.amount),
        card,
        reason: if outcome == Outcome::Approved {
            String::new()
        } else {
            result.message.clone()
        },
        response_code: result.response_code.clone().unwrap_or_default(),
    }
}

/// The last four digits of a masked PAN.
fn last_four(masked: &str) -> String {
    let digits: Vec<char> = masked.chars().filter(char::is_ascii_digit).collect();
    digits[digits.len().saturating_sub(4)..].iter().collect()
}

pub(super) fn working(window: &MainWindow, message: &str) {
    let adapter = window.global::<ResultAdapter>();
    adapter.set_state(ResultState::Authorising);
    adapter.set_message(message.into());
    adapter.set_card_text("".into());
    adapter.set_reason("".into());
    adapter.set_response_code("".into());
}

pub(super) fn apply(window: &MainWindow, show: Show) {
    let adapter = window.global::<ResultAdapter>();
    adapter.set_state(match show.outcome {
        Outcome::Approved => ResultState::Approved,
        Outcome::Declined => ResultState::Declined,
        Outcome::NothingCharged => ResultState::NothingCharged,
    });
    if !show.amount.is_empty() {
        adapter.set_amount_text(show.amount.into());
    }
    adapter.set_card_text(show.card.into());
    adapter.set_reason(show.reason.into());
    adapter.set_response_code(show.response_code.into());
    let has_receipt = window
        .global::<super::ReceiptAdapter>()
        .get_customer_lines();
    adapter.set_has_receipt(slint::Model::row_count(&has_receipt) > 0);
}

pub(super) fn bind(window: &MainWindow, sale: Rc<SaleController>) {
    let adapter = window.global::<ResultAdapter>();
    let weak = window.as_weak();
    adapter.on_show_receipt(move || {
        let Some(window) = weak.upgrade() else { return };
        window.global::<AppAdapter>().set_screen(Screen::Receipt);
    });
    adapter.on_new_sale(move || sale.reset());
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::Timings;

    fn result(status: TxStatus, code: Option<&str>) -> TxResult {
        TxResult {
            id: 1,
            status,
            response_code: code.map(str::to_owned),
            auth_code: None,
            amount: 1234,
            masked_pan: Some("476173******0119".to_owned()),
            message: "insufficient funds".to_owned(),
            timings: Timings::default(),
        }
    }

    #[test]
    fn approved_names_the_brand_and_last_four_only() {
        let eur = Currency::from_numeric(978, 2);
        let show = of_result(&result(TxStatus::Approved, Some("00")), "VISA", &eur);
        assert_eq!(show.outcome, Outcome::Approved);
        assert_eq!(show.card, "VISA ending 0119");
        assert_eq!(show.amount, "EUR 12.34");
        assert!(show.reason.is_empty());
    }

    #[test]
    fn not_approved_gives_the_reason_and_code_and_aborts_charge_nothing() {
        let eur = Currency::from_numeric(978, 2);
        let show = of_result(&result(TxStatus::Declined, Some("51")), "VISA", &eur);
        assert_eq!(show.outcome, Outcome::Declined);
        assert_eq!(
            (show.reason.as_str(), show.response_code.as_str()),
            ("insufficient funds", "51")
        );
        assert!(show.card.is_empty());
        for status in [TxStatus::Aborted, TxStatus::Reversed] {
            let show = of_result(&result(status, None), "VISA", &eur);
            assert_eq!(show.outcome, Outcome::NothingCharged);
        }
    }
}
