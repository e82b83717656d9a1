//! The merchant's export of the journal (CSV, RFC 4180, written by the `csv` crate): one line
//! per transaction, masked PAN only.
//!
//! A spreadsheet opening the file runs any field that starts with `=`, `+`, `-` or `@` (or a
//! tab or carriage return before one) as a formula (`=HYPERLINK(...)`, DDE). Card text is the
//! card's to choose, so every field goes through [`neutralise_formula`] (OWASP's CSV injection
//! rule: such a field is prefixed with `'`), and card text through
//! [`emv::display::sanitize`] first.

use emv::display::sanitize;

use super::TxRecord;

/// Writes `records` as CSV (RFC 4180): one line per transaction, masked PAN only.
pub fn write_csv(records: &[TxRecord], out: &mut dyn std::io::Write) -> std::io::Result<()> {
    let mut writer = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(out);
    writer.write_record(HEADER)?;
    for r in records {
        let fields = [
            r.id.to_string(),
            r.created_at.clone(),
            r.kind.as_str().to_owned(),
            r.state.as_str().to_owned(),
            format_money(r.amount, r.currency),
            format_money(r.tip, r.currency),
            format!("{:03}", r.currency),
            r.pan_masked.as_deref().map(sanitize).unwrap_or_default(),
            r.card_label.as_deref().map(sanitize).unwrap_or_default(),
            r.stan.map(|s| format!("{s:06}")).unwrap_or_default(),
            r.response_code.clone().unwrap_or_default(),
            r.auth_code.clone().unwrap_or_default(),
            r.rrn.clone().unwrap_or_default(),
            u8::from(r.approved).to_string(),
            u8::from(r.voided).to_string(),
            r.original_id.map(|i| i.to_string()).unwrap_or_default(),
            r.batch.map(|b| b.to_string()).unwrap_or_default(),
            r.result.as_deref().map(sanitize).unwrap_or_default(),
        ];
        writer.write_record(fields.iter().map(|f| neutralise_formula(f)))?;
    }
    writer.flush()?;
    Ok(())
}

/// The minor-unit exponent of ISO 4217 currency `numeric`: JPY (392) 0, EUR (978) 2, KWD (414)
/// 3. `None` for an unknown code or a unit without minor units (gold, `XAU`).
pub fn currency_exponent(numeric: u16) -> Option<u8> {
    iso_currency::Currency::from_numeric(numeric)?
        .exponent()
        .and_then(|e| u8::try_from(e).ok())
}

/// `amount` minor units of currency `numeric` with the currency's decimals (JPY `1234`, EUR
/// `12.34`, KWD `1.234`); an unknown currency shows 2 decimals.
pub fn format_money(amount: u64, numeric: u16) -> String {
    format_amount(amount, currency_exponent(numeric).unwrap_or(2))
}

/// `1234` minor units with 2 decimals → `12.34`.
pub fn format_amount(amount: u64, exponent: u8) -> String {
    if exponent == 0 {
        return amount.to_string();
    }
    let scale = 10u64.pow(u32::from(exponent));
    format!(
        "{}.{:0width$}",
        amount / scale,
        amount % scale,
        width = usize::from(exponent)
    )
}

/// A field a spreadsheet would run as a formula, made text: a field starting with `=`, `+`,
/// `-`, `@`, a tab or a carriage return gets a leading `'` (OWASP, CSV injection).
pub fn neutralise_formula(field: &str) -> String {
    if field.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{field}")
    } else {
        field.to_owned()
    }
}

const HEADER: [&str; 18] = [
    "id",
    "created_at",
    "kind",
    "state",
    "amount",
    "tip",
    "currency",
    "card",
    "label",
    "stan",
    "response_code",
    "auth_code",
    "rrn",
    "approved",
    "voided",
    "original_id",
    "batch",
    "result",
];

#[cfg(test)]
mod tests {
    use super::*;

    fn csv_of(fields: &[&str]) -> String {
        let mut out = Vec::new();
        let mut writer = csv::Writer::from_writer(&mut out);
        writer
            .write_record(fields.iter().map(|f| neutralise_formula(f)))
            .unwrap();
        drop(writer);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn csv_quoting_and_amounts() {
        assert_eq!(
            csv_of(&["declined (05: do not honour)"]),
            "declined (05: do not honour)\n"
        );
        assert_eq!(csv_of(&["a,b"]), "\"a,b\"\n");
        assert_eq!(csv_of(&["say \"hi\""]), "\"say \"\"hi\"\"\"\n");
        assert_eq!(format_amount(1234, 2), "12.34");
        assert_eq!(format_amount(5, 2), "0.05");
        assert_eq!(format_amount(500, 0), "500");
    }

    #[test]
    fn amounts_use_the_currency_exponent() {
        assert_eq!(format_money(1234, 392), "1234");
        assert_eq!(format_money(1234, 978), "12.34");
        assert_eq!(format_money(1234, 414), "1.234");
        assert_eq!(format_money(5, 414), "0.005");
        assert_eq!(format_money(1234, 1), "12.34");
    }

    #[test]
    fn formulas_are_neutralised() {
        for (field, shown) in [
            ("=HYPERLINK(\"http://x\")", "'=HYPERLINK(\"http://x\")"),
            ("+1", "'+1"),
            ("-1+2", "'-1+2"),
            ("@SUM(A1)", "'@SUM(A1)"),
            ("\t=1", "'\t=1"),
            ("\r=1", "'\r=1"),
            ("VISA DEBIT", "VISA DEBIT"),
            ("12.34", "12.34"),
            ("", ""),
        ] {
            assert_eq!(neutralise_formula(field), shown);
        }
    }
}
