//! What a receipt prints, built from the journal alone: the receipt of the transaction just
//! made and the receipt of any past one ("history → receipt") are the same function.
//!
//! Never a full PAN or track data: the PAN is masked again here with the one masker
//! ([`MaskedPan`]), whatever the journal holds.

use std::fmt;

use emv::pan::MaskedPan;

use crate::journal::export::{currency_exponent, format_amount};
use crate::journal::{TxKind, TxRecord, TxState};

use super::{APPROVED, Engine, EngineError, decline_message};

/// What the terminal adds to a journal row to print a receipt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceiptHeader {
    /// The merchant's name.
    pub merchant_name: String,
    /// The merchant's name and location (`9F4E`).
    pub merchant_location: String,
    /// DE 42.
    pub merchant_id: String,
    /// DE 41.
    pub terminal_id: String,
    /// The currency's exponent (`5F36`).
    pub currency_exponent: u8,
}

/// The data of one receipt. Its `Display` is the customer copy; [`Receipt::merchant_copy`]
/// adds the TVR and TSI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    /// The terminal and merchant.
    pub header: ReceiptHeader,
    /// The journal id (the transaction number).
    pub id: i64,
    /// What it was.
    pub kind: TxKind,
    /// When it was made, RFC 3339 UTC.
    pub date_time: String,
    /// The masked PAN (first six and last four at most).
    pub masked_pan: Option<MaskedPan>,
    /// The application label (the card brand).
    pub card_label: Option<String>,
    /// The application identifier, hex.
    pub aid: Option<String>,
    /// `contactless chip` or `wallet`.
    pub entry_mode: Option<String>,
    /// `PIN verified`, `Verified on device`, `No CVM`, `Signature`.
    pub cvm: Option<String>,
    /// Amount in minor units, tip included.
    pub amount: u64,
    /// The tip part of `amount`.
    pub tip: u64,
    /// ISO 4217 numeric currency.
    pub currency: u16,
    /// DE 38.
    pub auth_code: Option<String>,
    /// DE 11.
    pub stan: Option<u32>,
    /// DE 37.
    pub rrn: Option<String>,
    /// DE 39.
    pub response_code: Option<String>,
    /// What DE 39 means.
    pub response_text: Option<String>,
    /// The result line: `APPROVED`, `DECLINED`, `REVERSED - NOTHING CHARGED`, ...
    pub outcome: &'static str,
    /// `95`, hex (merchant copy only).
    pub tvr: Option<String>,
    /// `9B`, hex (merchant copy only).
    pub tsi: Option<String>,
}

impl Receipt {
    /// The receipt of a journal row.
    pub fn from_record(rec: &TxRecord, header: ReceiptHeader) -> Self {
        let d = &rec.card_details;
        Self {
            header,
            id: rec.id,
            kind: rec.kind,
            date_time: rec.created_at.clone(),
            masked_pan: rec.pan_masked.as_deref().map(MaskedPan::from_digits),
            card_label: rec.card_label.as_deref().map(emv::display::sanitize),
            aid: d.aid.clone(),
            entry_mode: d.entry_mode.clone(),
            cvm: d.cvm.clone(),
            amount: rec.amount,
            tip: rec.tip,
            currency: rec.currency,
            auth_code: rec.auth_code.clone(),
            stan: rec.stan,
            rrn: rec.rrn.clone(),
            response_code: rec.response_code.clone(),
            response_text: rec.response_code.as_deref().map(response_text),
            outcome: outcome(rec),
            tvr: d.tvr.clone(),
            tsi: d.tsi.clone(),
        }
    }

    /// The merchant copy: the customer copy plus the TVR and TSI.
    pub fn merchant_copy(&self) -> String {
        let mut text = self.to_string();
        text.push_str(&format!(
            "TVR {}  TSI {}\nMERCHANT COPY\n",
            self.tvr.as_deref().unwrap_or("-"),
            self.tsi.as_deref().unwrap_or("-")
        ));
        text
    }

    fn money(&self, minor: u64) -> String {
        format!(
            "{} {}",
            currency_alpha(self.currency),
            format_amount(
                minor,
                currency_exponent(self.currency).unwrap_or(self.header.currency_exponent)
            )
        )
    }
}

impl fmt::Display for Receipt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let h = &self.header;
        writeln!(f, "{}", h.merchant_name)?;
        writeln!(f, "{}", h.merchant_location)?;
        writeln!(f, "MID {}  TID {}", h.merchant_id, h.terminal_id)?;
        writeln!(f, "{}", receipt_time(&self.date_time))?;
        writeln!(f, "{} #{}", kind_text(self.kind), self.id)?;
        if let Some(pan) = &self.masked_pan {
            writeln!(f, "{} {pan}", self.card_label.as_deref().unwrap_or("CARD"))?;
        }
        if let Some(aid) = &self.aid {
            writeln!(f, "AID {aid}")?;
        }
        if let Some(mode) = &self.entry_mode {
            writeln!(f, "{mode}")?;
        }
        if self.tip > 0 {
            let base = self.amount.saturating_sub(self.tip);
            writeln!(f, "AMOUNT {}", self.money(base))?;
            writeln!(f, "TIP    {}", self.money(self.tip))?;
        }
        writeln!(f, "TOTAL  {}", self.money(self.amount))?;
        writeln!(f, "{}", self.outcome)?;
        if let Some(code) = &self.auth_code {
            writeln!(f, "AUTH CODE {code}")?;
        }
        if let Some(stan) = self.stan {
            writeln!(f, "STAN {stan:06}")?;
        }
        if let Some(rrn) = &self.rrn {
            writeln!(f, "RRN {rrn}")?;
        }
        if let (Some(code), Some(text)) = (&self.response_code, &self.response_text) {
            writeln!(f, "RESPONSE {code} {text}")?;
        }
        if let Some(cvm) = &self.cvm {
            writeln!(f, "{cvm}")?;
            if cvm == CVM_SIGNATURE {
                writeln!(f, "SIGNATURE ____________________")?;
            }
        }
        Ok(())
    }
}

impl Engine {
    /// What the receipt of transaction `id` prints, from the journal (for the transaction just
    /// made and for any past one). `None` if there is no such transaction.
    pub fn receipt(&self, id: i64) -> Result<Option<Receipt>, EngineError> {
        let header = ReceiptHeader {
            merchant_name: self.settings.merchant_name.clone(),
            merchant_location: self.terminal.terminal.merchant_name_location.clone(),
            merchant_id: self.settings.merchant_id.clone(),
            terminal_id: self.acquirer.terminal_id().to_owned(),
            currency_exponent: self.terminal.terminal.currency_exponent,
        };
        Ok(self
            .journal
            .get(id)?
            .map(|rec| Receipt::from_record(&rec, header)))
    }
}

/// The CVM as a receipt names it.
pub fn cvm_text(cvm: emv::kernel::Cvm, pin_collected: bool) -> &'static str {
    use emv::kernel::Cvm;
    match cvm {
        _ if pin_collected => "PIN verified",
        Cvm::ConsumerDevice => "Verified on device",
        Cvm::Signature => CVM_SIGNATURE,
        _ => "No CVM",
    }
}

/// The entry mode as a receipt names it: a phone or watch that verified its holder itself is
/// a wallet; anything else read over the air is a contactless chip.
pub fn entry_mode_text(cvm: emv::kernel::Cvm) -> &'static str {
    match cvm {
        emv::kernel::Cvm::ConsumerDevice => "wallet",
        _ => "contactless chip",
    }
}

const CVM_SIGNATURE: &str = "Signature";

fn outcome(rec: &TxRecord) -> &'static str {
    match rec.state {
        TxState::Reversed | TxState::ReversalPending => "REVERSED - NOTHING CHARGED",
        TxState::Aborted => "CANCELLED - NOTHING CHARGED",
        TxState::AdvicePending => "APPROVED (OFFLINE)",
        _ if rec.voided => "VOIDED",
        _ if rec.approved => "APPROVED",
        TxState::Done if rec.response_code.is_some() => "DECLINED",
        TxState::Done => "DECLINED BY THE CARD",
        _ => "IN PROGRESS",
    }
}

fn response_text(code: &str) -> String {
    if code == APPROVED {
        "Approved".to_owned()
    } else {
        decline_message(code)
    }
}

fn kind_text(kind: TxKind) -> &'static str {
    match kind {
        TxKind::Sale => "SALE",
        TxKind::Refund => "REFUND",
        TxKind::Void => "VOID",
        TxKind::Preauth => "PRE-AUTHORISATION",
        TxKind::Completion => "COMPLETION",
        TxKind::CardCheck => "CARD CHECK",
    }
}

fn currency_alpha(code: u16) -> String {
    iso_currency::Currency::from_numeric(code)
        .map_or_else(|| format!("{code:03}"), |c| c.code().to_owned())
}

/// The journal's time (RFC 3339 in UTC, `2026-12-03T14:16:34.011552123Z`) as a receipt prints
/// it: to the second, zone stated (`2026-12-03 14:16:34 UTC`). Anything else is printed as it
/// is, with a space for the `T`.
fn receipt_time(stamp: &str) -> String {
    let shape = stamp.char_indices().take(19).all(|(i, c)| match i {
        4 | 7 => c == '-',
        10 => c == 'T',
        13 | 16 => c == ':',
        _ => c.is_ascii_digit(),
    });
    match (stamp.get(..10), stamp.get(11..19)) {
        (Some(date), Some(time)) if shape && stamp.ends_with('Z') => format!("{date} {time} UTC"),
        _ => stamp.replace('T', " "),
    }
}

#[cfg(test)]
mod tests {
    use super::receipt_time;

    #[test]
    fn the_receipt_prints_the_time_to_the_second_in_utc() {
        assert_eq!(
            receipt_time("2026-12-03T14:16:34.011552123Z"),
            "2026-12-03 14:16:34 UTC"
        );
        assert_eq!(
            receipt_time("2026-12-03T14:16:34Z"),
            "2026-12-03 14:16:34 UTC"
        );
        // Not the journal's shape: shown as it is.
        assert_eq!(
            receipt_time("2026-12-03T14:16:34+01:00"),
            "2026-12-03 14:16:34+01:00"
        );
        assert_eq!(receipt_time("yesterday"), "yesterday");
        assert_eq!(receipt_time("2026-12-03T14:16é"), "2026-12-03 14:16é");
    }
}
