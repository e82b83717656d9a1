//! The history screen's controller: today's transactions from the journal (through the engine's
//! `History` command), newest first, with the day's totals; a row opens its receipt (the
//! engine's `Receipt` command) and what the engine allows with it (`Actions`: refund, void).
//! The search field filters the rows already on screen by amount or the card's last four.

use slint::{ComponentHandle, Model, ModelRc, VecModel};

use super::{AppAdapter, Currency, HistoryAdapter, HistoryRow, MainWindow, Screen};
use crate::engine::{Command, ServiceHandle};
use crate::journal::{TxKind, TxRecord, TxState};

/// What the history screen shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Show {
    /// The rows, newest first.
    pub(crate) rows: Vec<Row>,
    /// "Today: 2 sales, EUR 23.57".
    pub(crate) totals: String,
}

/// One transaction in the list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Row {
    pub(crate) id: i64,
    pub(crate) title: String,
    pub(crate) amount: String,
    pub(crate) card: String,
    pub(crate) status: String,
    pub(crate) approved: bool,
}

impl Show {
    /// The transactions of `records` made on `today` (`YYYY-MM-DD`, UTC as the journal keeps
    /// its times), newest first, and their totals.
    pub(crate) fn of(records: &[TxRecord], currency: &Currency, today: &str) -> Self {
        let mut today_records: Vec<&TxRecord> = records
            .iter()
            .filter(|r| r.created_at.starts_with(today))
            .collect();
        today_records.sort_by_key(|r| std::cmp::Reverse(r.id));
        let total = |kind: TxKind| {
            today_records
                .iter()
                .filter(|r| r.kind == kind && r.approved && !r.voided)
                .fold((0u64, 0u64), |(n, sum), r| {
                    (n + 1, sum.saturating_add(r.amount))
                })
        };
        let (sales, sold) = total(TxKind::Sale);
        let (refunds, refunded) = total(TxKind::Refund);
        let mut totals = format!(
            "Today: {sales} {}, {}",
            if sales == 1 { "sale" } else { "sales" },
            currency.format(sold)
        );
        if refunds > 0 {
            totals.push_str(&format!(
                "; {refunds} {}, {}",
                if refunds == 1 { "refund" } else { "refunds" },
                currency.format(refunded)
            ));
        }
        let rows = today_records
            .iter()
            .map(|r| Row {
                id: r.id,
                title: format!("#{}  {}", r.id, r.created_at.get(11..16).unwrap_or("")),
                amount: currency.format(r.amount),
                card: card_text(r),
                status: status_text(r),
                approved: r.approved,
            })
            .collect();
        Self { rows, totals }
    }
}

fn card_text(r: &TxRecord) -> String {
    let label = r.card_label.as_deref().unwrap_or("Card");
    match &r.pan_masked {
        Some(pan) => {
            let digits: Vec<char> = pan.chars().filter(char::is_ascii_digit).collect();
            let last: String = digits[digits.len().saturating_sub(4)..].iter().collect();
            format!("{label} ·{last}")
        }
        None => String::new(),
    }
}

fn status_text(r: &TxRecord) -> String {
    let word = if r.approved {
        "Approved"
    } else {
        match r.state {
            TxState::Done => "Declined",
            TxState::Reversed => "Reversed, not charged",
            TxState::Aborted => "Not charged",
            _ => "Pending",
        }
    };
    match r.kind {
        TxKind::Sale => word.to_owned(),
        TxKind::Refund => format!("Refund {}", word.to_lowercase()),
        TxKind::Void => format!("Void {}", word.to_lowercase()),
        _ => format!("{} {}", r.kind.as_str(), word.to_lowercase()),
    }
}

/// Today's date as the journal writes it (UTC).
pub(crate) fn today() -> String {
    let d = time::OffsetDateTime::now_utc().date();
    format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
}

pub(super) fn apply(window: &MainWindow, show: Show) {
    let adapter = window.global::<HistoryAdapter>();
    let rows: Vec<HistoryRow> = show
        .rows
        .into_iter()
        .map(|r| HistoryRow {
            id: i32::try_from(r.id).unwrap_or(i32::MAX),
            title: r.title.into(),
            amount: r.amount.into(),
            card: r.card.into(),
            status: r.status.into(),
            approved: r.approved,
        })
        .collect();
    let query = adapter.get_query();
    adapter.set_rows(filtered(&rows, &query));
    adapter.set_all_rows(ModelRc::new(VecModel::from(rows)));
    adapter.set_totals(show.totals.into());
    adapter.set_loading(false);
}

pub(super) fn bind(window: &MainWindow, handle: ServiceHandle) {
    let adapter = window.global::<HistoryAdapter>();
    adapter.set_rows(ModelRc::default());
    let (weak, h) = (window.as_weak(), handle.clone());
    adapter.on_open_history(move || {
        let Some(window) = weak.upgrade() else { return };
        let adapter = window.global::<HistoryAdapter>();
        adapter.set_query("".into());
        adapter.set_loading(true);
        window.global::<AppAdapter>().set_screen(Screen::History);
        super::send(
            &h,
            Command::History {
                limit: HISTORY_ROWS,
            },
        );
    });
    adapter.on_open(move |id| {
        super::send(&handle, Command::Receipt { id: i64::from(id) });
        super::send(&handle, Command::Actions { id: i64::from(id) });
    });
    let weak = window.as_weak();
    adapter.on_search(move |query| {
        let Some(window) = weak.upgrade() else { return };
        let adapter = window.global::<HistoryAdapter>();
        let all: Vec<HistoryRow> = adapter.get_all_rows().iter().collect();
        adapter.set_rows(filtered(&all, &query));
    });
    let weak = window.as_weak();
    adapter.on_back(move || {
        let Some(window) = weak.upgrade() else { return };
        window.global::<AppAdapter>().set_screen(Screen::Sale);
    });
}

/// The rows of `rows` that match `query`.
fn filtered(rows: &[HistoryRow], query: &str) -> ModelRc<HistoryRow> {
    let kept: Vec<HistoryRow> = rows
        .iter()
        .filter(|r| matches(&r.amount, &r.card, query))
        .cloned()
        .collect();
    ModelRc::new(VecModel::from(kept))
}

/// Whether a row of `amount` ("EUR 13.57") and `card` ("VISA ·0119") matches the search
/// `query`: its digits (separators ignored) are in the amount's digits ("13.57", "1357",
/// "13"), or are the card's last four ("0119"). An empty query matches every row.
pub(crate) fn matches(amount: &str, card: &str, query: &str) -> bool {
    let digits = |s: &str| s.chars().filter(char::is_ascii_digit).collect::<String>();
    let wanted = digits(query);
    if wanted.is_empty() {
        return query.trim().is_empty();
    }
    let last_four = digits(card);
    digits(amount).contains(&wanted) || (wanted.len() == 4 && last_four == wanted)
}

/// The most rows the history asks the journal for.
const HISTORY_ROWS: usize = 200;

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A journal row of today for the screens' tests.
    pub(crate) fn record(
        id: i64,
        kind: TxKind,
        state: TxState,
        amount: u64,
        approved: bool,
    ) -> TxRecord {
        TxRecord {
            id,
            kind,
            state,
            amount,
            tip: 0,
            currency: 978,
            created_at: format!("2026-12-03T13:{id:02}:00Z"),
            pan_masked: Some("476173******0119".into()),
            pan_hash: None,
            card_label: Some("VISA".into()),
            mti: None,
            processing: None,
            stan: None,
            transmission: None,
            response_code: None,
            auth_code: None,
            rrn: None,
            approved,
            result: None,
            original_id: None,
            voided: false,
            completed: false,
            reversal_stan: None,
            reversal_transmission: None,
            reversal_attempts: 0,
            advice_attempts: 0,
            batch: None,
            issuer_data: None,
            card_details: crate::journal::CardDetails::default(),
            method: crate::journal::PaymentMethod::Card,
        }
    }

    #[test]
    fn search_by_amount_or_last_four() {
        let (amount, card) = ("EUR 13.57", "VISA ·0119");
        for query in ["", " ", "13.57", "1357", "13", "3.5", "0119"] {
            assert!(matches(amount, card, query), "{query:?}");
        }
        for query in ["80", "0120", "119x9", "abc", "9999"] {
            assert!(!matches(amount, card, query), "{query:?}");
        }
        // A row without a card matches by amount only.
        assert!(matches("EUR 5.00", "", "500"));
        assert!(!matches("EUR 5.00", "", "0119"));
    }

    fn voided(mut r: TxRecord) -> TxRecord {
        r.voided = true;
        r
    }

    /// A voided sale is listed but no longer counts in the totals.
    #[test]
    fn today_newest_first_with_the_approved_totals() {
        let eur = Currency::from_numeric(978, 2);
        let mut old = record(1, TxKind::Sale, TxState::Done, 999, true);
        old.created_at = "2026-12-02T09:00:00Z".into();
        let records = [
            old,
            record(2, TxKind::Sale, TxState::Done, 1357, true),
            record(3, TxKind::Sale, TxState::Done, 1000, false),
            record(4, TxKind::Sale, TxState::Aborted, 500, false),
            record(5, TxKind::Refund, TxState::Done, 200, true),
            voided(record(6, TxKind::Sale, TxState::Done, 300, true)),
            record(7, TxKind::Void, TxState::Done, 300, true),
        ];
        let show = Show::of(&records, &eur, "2026-12-03");
        let ids: Vec<i64> = show.rows.iter().map(|r| r.id).collect();
        assert_eq!(ids, [7, 6, 5, 4, 3, 2]);
        assert_eq!(show.totals, "Today: 1 sale, EUR 13.57; 1 refund, EUR 2.00");
        assert_eq!(show.rows[5].card, "VISA ·0119");
        assert_eq!(show.rows[5].title, "#2  13:02");
        let statuses: Vec<&str> = show.rows.iter().map(|r| r.status.as_str()).collect();
        assert_eq!(
            statuses,
            [
                "Void approved",
                "Approved",
                "Refund approved",
                "Not charged",
                "Declined",
                "Approved"
            ]
        );
    }
}
