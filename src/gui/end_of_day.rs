//! The end-of-day screen's controller: "Settle now" sends the engine's [`Command::Settle`]
//! (0500/0510); the engine's [`SettlementReport`] then shows as totals per type (the batch's
//! own DE 74-77 / 86-89 counts), totals per card scheme (from the journal rows the batch
//! closed) with a bar each, and the host's answer. "Save report as PDF" writes the same report
//! into the terminal's data directory (`reports/`).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};

use slint::{ComponentHandle, Model, ModelRc, VecModel};

use super::{
    AppAdapter, Currency, EndOfDayAdapter, EndOfDayStage, MainWindow, SaleAdapter, Screen,
    StatusAdapter, TotalRow,
};
use crate::engine::{Command, EngineError, ServiceHandle, SettlementReport};
use crate::journal::{TxKind, TxRecord, TxState};

/// The id of the settlement command in flight, shared by the controller (which sends it) and
/// the event thread (which recognises its answer); `None` when none is.
#[derive(Debug, Clone, Default)]
pub(crate) struct SettleCommand(Arc<Mutex<Option<u64>>>);

impl SettleCommand {
    /// Sends [`Command::Settle`] and remembers its id; `false` when the engine has stopped.
    fn send(&self, handle: &ServiceHandle) -> bool {
        // Held while sending, so that the answer cannot be read before the id is stored.
        let mut id = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        match handle.send(Command::Settle) {
            Ok(sent) => {
                *id = Some(sent);
                true
            }
            Err(_) => false,
        }
    }

    /// Whether `command` is the settlement in flight (then it no longer is).
    pub(crate) fn is(&self, command: u64) -> bool {
        let mut id = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if *id == Some(command) {
            *id = None;
            true
        } else {
            false
        }
    }
}

/// What the end-of-day screen shows after a settlement, and what its PDF report prints.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Show {
    /// "Batch 3 closed".
    pub(crate) title: String,
    /// The host's answer in words.
    pub(crate) host_answer: String,
    /// The host found the totals in balance.
    pub(crate) in_balance: bool,
    /// Totals per type (sales, refunds, voided ones).
    pub(crate) by_type: Vec<Line>,
    /// Totals per card scheme (approved transactions that stand).
    pub(crate) by_scheme: Vec<Line>,
    /// The batch number.
    pub(crate) batch: u32,
}

/// One line of totals.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Line {
    pub(crate) label: String,
    pub(crate) count: u64,
    pub(crate) amount: String,
    /// The bar's length, as a share of the line with the largest amount (0 to 1).
    pub(crate) share: f32,
}

impl Show {
    /// The settlement `report`, with the schemes of the transactions it closed found in
    /// `records` (journal rows, any order; rows of other batches are ignored).
    pub(crate) fn of(report: &SettlementReport, records: &[TxRecord], currency: &Currency) -> Self {
        let t = &report.totals;
        let by_type = lines(
            [
                ("Sales", t.debits, t.debits_amount),
                ("Refunds", t.credits, t.credits_amount),
                (
                    "Voided or reversed sales",
                    t.debit_reversals,
                    t.debit_reversals_amount,
                ),
                (
                    "Voided refunds",
                    t.credit_reversals,
                    t.credit_reversals_amount,
                ),
            ]
            .into_iter()
            .map(|(label, n, sum)| (label.to_owned(), n, sum)),
            currency,
        );
        // Per scheme: how many, and the net (sales and completions less refunds).
        let mut schemes: BTreeMap<String, (u64, i128)> = BTreeMap::new();
        for rec in records
            .iter()
            .filter(|r| report.transactions.contains(&r.id) && counts(r))
        {
            let entry = schemes.entry(scheme_of(rec)).or_default();
            entry.0 += 1;
            let amount = i128::from(rec.amount);
            entry.1 += if rec.kind == TxKind::Refund {
                -amount
            } else {
                amount
            };
        }
        let by_scheme = lines(
            schemes.into_iter().map(|(label, (n, net))| (label, n, net)),
            currency,
        );
        let host_answer = match (report.in_balance, report.response_code.as_str()) {
            (true, code) => format!("In balance: the host answered {code}"),
            (false, code) => format!(
                "Out of balance: the host answered {code}; its totals differ from the \
                 terminal's. Call the acquirer."
            ),
        };
        Self {
            title: format!("Batch {} closed", report.batch),
            host_answer,
            in_balance: report.in_balance,
            by_type,
            by_scheme,
            batch: report.batch,
        }
    }

    /// The report's body as text lines, for the PDF (after [`report_header`]).
    pub(crate) fn report_lines(&self) -> Vec<String> {
        let mut out = vec![
            format!("Batch {}", self.batch),
            self.host_answer.clone(),
            String::new(),
            "By type".to_owned(),
        ];
        let line = |l: &Line| format!("  {:<28} {:>5}  {:>16}", l.label, l.count, l.amount);
        out.extend(self.by_type.iter().map(line));
        out.push(String::new());
        out.push("By scheme (approved, standing)".to_owned());
        if self.by_scheme.is_empty() {
            out.push("  none".to_owned());
        }
        out.extend(self.by_scheme.iter().map(line));
        out
    }
}

/// The report's first lines: what it is, the terminal, when it was printed.
pub(crate) fn report_header(terminal_id: &str, printed_at: &str) -> Vec<String> {
    vec![
        "End of day".to_owned(),
        format!("Terminal {terminal_id}"),
        format!("Printed {printed_at}"),
        String::new(),
    ]
}

/// Whether a closed transaction counts as money that stands: an approved, finished, unvoided
/// sale, completion or refund.
fn counts(r: &TxRecord) -> bool {
    r.approved
        && !r.voided
        && r.state == TxState::Done
        && matches!(r.kind, TxKind::Sale | TxKind::Completion | TxKind::Refund)
}

/// The card scheme of a transaction, from its application's registered provider (the AID's
/// first five bytes, ISO 7816-5), else the card's label; a payment by code names its method.
pub(crate) fn scheme_of(r: &TxRecord) -> String {
    use crate::journal::PaymentMethod;
    if r.method != PaymentMethod::Card {
        return format!("Code ({})", r.method.as_str());
    }
    let rid = r
        .card_details
        .aid
        .as_deref()
        .and_then(|aid| aid.get(..10))
        .map(str::to_ascii_uppercase);
    let named = match rid.as_deref() {
        Some("A000000003") => Some("Visa"),
        Some("A000000004") => Some("Mastercard"),
        Some("A000000025") => Some("American Express"),
        Some("A000000065") => Some("JCB"),
        Some("A000000152") => Some("Discover"),
        Some("A000000333") => Some("UnionPay"),
        Some("A000000277") => Some("Interac"),
        _ => None,
    };
    match (named, &r.card_label) {
        (Some(name), _) => name.to_owned(),
        (None, Some(label)) => label.clone(),
        (None, None) => "Other".to_owned(),
    }
}

/// Lines from `(label, count, minor units)`, with bars relative to the largest amount; a
/// negative amount (more refunded than sold) shows with a minus sign.
fn lines<A: Into<i128>>(
    items: impl Iterator<Item = (String, u64, A)>,
    currency: &Currency,
) -> Vec<Line> {
    let items: Vec<(String, u64, i128)> = items.map(|(l, n, a)| (l, n, a.into())).collect();
    let largest = items
        .iter()
        .map(|i| i.2.unsigned_abs())
        .max()
        .unwrap_or(0)
        .max(1);
    items
        .into_iter()
        .map(|(label, count, sum)| {
            let magnitude = u64::try_from(sum.unsigned_abs()).unwrap_or(u64::MAX);
            let amount = currency.format(magnitude);
            Line {
                label,
                count,
                amount: if sum < 0 {
                    format!("-{amount}")
                } else {
                    amount
                },
                // Display only: f64 precision is plenty for a bar.
                #[allow(clippy::cast_precision_loss, clippy::cast_possible_truncation)]
                share: (sum.unsigned_abs() as f64 / largest as f64) as f32,
            }
        })
        .collect()
}

/// Why the settlement could not close the batch, in words.
pub(crate) fn failure(error: &EngineError) -> String {
    match error {
        EngineError::PendingBeforeSettlement(list) => format!(
            "Not settled: some transactions still wait for the host ({list}). Settle again \
             when the host is reachable."
        ),
        other => format!("Not settled: {other}. Nothing was closed; settle again later."),
    }
}

/// Now, as the receipts write times: `2026-12-03 14:16:34 UTC`.
fn utc_now() -> String {
    let now = time::OffsetDateTime::now_utc();
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02} UTC",
        now.year(),
        u8::from(now.month()),
        now.day(),
        now.hour(),
        now.minute(),
        now.second()
    )
}

/// The screen's updates (UI thread).
pub(super) fn apply(window: &MainWindow, show: Show) {
    let adapter = window.global::<EndOfDayAdapter>();
    let rows = |lines: &[Line]| {
        let rows: Vec<TotalRow> = lines
            .iter()
            .map(|l| TotalRow {
                label: l.label.as_str().into(),
                count: l.count.to_string().into(),
                amount: l.amount.as_str().into(),
                share: l.share,
            })
            .collect();
        ModelRc::new(VecModel::from(rows))
    };
    adapter.set_title(show.title.as_str().into());
    adapter.set_host_answer(show.host_answer.as_str().into());
    adapter.set_in_balance(show.in_balance);
    adapter.set_by_type(rows(&show.by_type));
    adapter.set_by_scheme(rows(&show.by_scheme));
    let lines: Vec<slint::SharedString> = show.report_lines().into_iter().map(Into::into).collect();
    adapter.set_report_lines(ModelRc::new(VecModel::from(lines)));
    adapter.set_batch(i32::try_from(show.batch).unwrap_or(i32::MAX));
    adapter.set_stage(EndOfDayStage::Settled);
    adapter.set_saved("".into());
}

/// The settlement failed (UI thread).
pub(super) fn failed(window: &MainWindow, reason: &str) {
    let adapter = window.global::<EndOfDayAdapter>();
    adapter.set_title("Not settled".into());
    adapter.set_host_answer(reason.into());
    adapter.set_in_balance(false);
    adapter.set_stage(EndOfDayStage::Failed);
}

/// What the controller needs besides the window.
pub(super) struct Context {
    pub(super) handle: ServiceHandle,
    pub(super) settle: SettleCommand,
    /// Where PDF reports go (`<data dir>/reports`).
    pub(super) reports: PathBuf,
}

pub(super) fn bind(window: &MainWindow, context: Context) {
    let adapter = window.global::<EndOfDayAdapter>();
    adapter.set_stage(EndOfDayStage::Ready);
    adapter.set_saved("".into());
    let Context {
        handle,
        settle,
        reports,
    } = context;
    let weak = window.as_weak();
    window.global::<SaleAdapter>().on_open_end_of_day(move || {
        let Some(window) = weak.upgrade() else { return };
        window.global::<AppAdapter>().set_screen(Screen::EndOfDay);
    });
    let weak = window.as_weak();
    adapter.on_settle(move || {
        let Some(window) = weak.upgrade() else { return };
        let adapter = window.global::<EndOfDayAdapter>();
        adapter.set_saved("".into());
        if settle.send(&handle) {
            adapter.set_stage(EndOfDayStage::Settling);
        } else {
            failed(&window, "Not settled: the engine has stopped.");
        }
    });
    let weak = window.as_weak();
    adapter.on_save_pdf(move || {
        let Some(window) = weak.upgrade() else { return };
        let adapter = window.global::<EndOfDayAdapter>();
        let terminal_id = window.global::<StatusAdapter>().get_terminal_id();
        let mut lines = report_header(&terminal_id, &utc_now());
        lines.extend(adapter.get_report_lines().iter().map(|l| l.to_string()));
        let file = reports.join(format!("settlement-batch-{}.pdf", adapter.get_batch()));
        let saved = std::fs::create_dir_all(&reports)
            .and_then(|()| std::fs::write(&file, super::pdf::text_document(&lines)));
        let text = match saved {
            Ok(()) => format!("Report saved: {}", file.display()),
            Err(e) => format!("The report could not be saved: {e}"),
        };
        adapter.set_saved(text.into());
    });
    let weak = window.as_weak();
    adapter.on_back(move || {
        let Some(window) = weak.upgrade() else { return };
        let adapter = window.global::<EndOfDayAdapter>();
        if adapter.get_stage() != EndOfDayStage::Settling {
            adapter.set_stage(EndOfDayStage::Ready);
            adapter.set_saved("".into());
        }
        window.global::<AppAdapter>().set_screen(Screen::Sale);
    });
}

#[cfg(test)]
mod tests {
    use emv::iso8583::BatchTotals;

    use super::*;

    fn record(id: i64, kind: TxKind, amount: u64, aid: &str) -> TxRecord {
        let mut r = crate::gui::history::tests::record(id, kind, TxState::Done, amount, true);
        r.card_details.aid = Some(aid.to_owned());
        r
    }

    #[test]
    fn totals_per_type_and_per_scheme_of_the_closed_batch() {
        let eur = Currency::from_numeric(978, 2);
        let report = SettlementReport {
            batch: 4,
            totals: BatchTotals {
                debits: 2,
                debits_amount: 9357,
                credits: 1,
                credits_amount: 500,
                debit_reversals: 1,
                debit_reversals_amount: 300,
                ..BatchTotals::default()
            },
            host_totals: None,
            in_balance: true,
            response_code: "00".into(),
            pushed: Vec::new(),
            transactions: vec![1, 2, 3, 4],
        };
        let mut voided = record(3, TxKind::Sale, 300, "A0000000031010");
        voided.voided = true;
        let records = [
            record(1, TxKind::Sale, 1357, "A0000000031010"),
            record(2, TxKind::Sale, 8000, "a0000000041010"),
            voided,
            record(4, TxKind::Refund, 500, "A0000000031010"),
            // Another batch's.
            record(9, TxKind::Sale, 100_000, "A0000000041010"),
        ];
        let show = Show::of(&report, &records, &eur);
        assert_eq!(show.title, "Batch 4 closed");
        assert!(show.in_balance);
        assert_eq!(show.host_answer, "In balance: the host answered 00");
        assert_eq!(show.by_type[0].label, "Sales");
        assert_eq!(show.by_type[0].amount, "EUR 93.57");
        assert!((show.by_type[0].share - 1.0).abs() < f32::EPSILON);
        assert_eq!(show.by_type[3].count, 0);
        assert!(show.by_type[3].share.abs() < f32::EPSILON);
        let schemes: Vec<_> = show
            .by_scheme
            .iter()
            .map(|l| (l.label.as_str(), l.count, l.amount.as_str()))
            .collect();
        assert_eq!(
            schemes,
            [("Mastercard", 1, "EUR 80.00"), ("Visa", 2, "EUR 8.57")]
        );
        let text = show.report_lines();
        assert!(
            text.iter()
                .any(|l| l.contains("Mastercard") && l.contains("EUR 80.00"))
        );
    }

    #[test]
    fn out_of_balance_and_refusals_say_what_to_do() {
        let eur = Currency::from_numeric(978, 2);
        let report = SettlementReport {
            batch: 1,
            totals: BatchTotals::default(),
            host_totals: None,
            in_balance: false,
            response_code: "95".into(),
            pushed: Vec::new(),
            transactions: Vec::new(),
        };
        let show = Show::of(&report, &[], &eur);
        assert!(!show.in_balance);
        assert!(show.host_answer.contains("Out of balance") && show.host_answer.contains("95"));
        assert!(show.by_scheme.is_empty());
        let pending = EngineError::PendingBeforeSettlement(crate::engine::PendingList(Vec::new()));
        assert!(failure(&pending).starts_with("Not settled: some transactions still wait"));
    }

    #[test]
    fn a_code_payment_names_its_method_and_an_unknown_aid_its_label() {
        let mut r = record(1, TxKind::Sale, 1, "A0000009999999");
        r.card_label = Some("LOCAL DEBIT".into());
        assert_eq!(scheme_of(&r), "LOCAL DEBIT");
        r.method = crate::journal::PaymentMethod::CustomerCode;
        assert_eq!(scheme_of(&r), "Code (customer-code)");
    }
}
