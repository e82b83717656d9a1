//! The merchant's export of the journal (CSV, RFC 4180): one line per transaction, masked
//! PAN only.

use super::TxRecord;

/// Writes `records` as CSV (RFC 4180): one line per transaction, masked PAN only.
pub fn write_csv(records: &[TxRecord], out: &mut dyn std::io::Write) -> std::io::Result<()> {
    writeln!(
        out,
        "id,created_at,kind,state,amount,tip,currency,card,label,stan,response_code,auth_code,rrn,approved,voided,original_id,batch,result"
    )?;
    for r in records {
        let fields = [
            r.id.to_string(),
            r.created_at.clone(),
            r.kind.as_str().to_owned(),
            r.state.as_str().to_owned(),
            format_amount(r.amount, 2),
            format_amount(r.tip, 2),
            format!("{:03}", r.currency),
            r.pan_masked.clone().unwrap_or_default(),
            r.card_label.clone().unwrap_or_default(),
            r.stan.map(|s| format!("{s:06}")).unwrap_or_default(),
            r.response_code.clone().unwrap_or_default(),
            r.auth_code.clone().unwrap_or_default(),
            r.rrn.clone().unwrap_or_default(),
            u8::from(r.approved).to_string(),
            u8::from(r.voided).to_string(),
            r.original_id.map(|i| i.to_string()).unwrap_or_default(),
            r.batch.map(|b| b.to_string()).unwrap_or_default(),
            r.result.clone().unwrap_or_default(),
        ];
        let line: Vec<String> = fields.iter().map(|f| csv_field(f)).collect();
        writeln!(out, "{}", line.join(","))?;
    }
    Ok(())
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

fn csv_field(f: &str) -> String {
    if f.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", f.replace('"', "\"\""))
    } else {
        f.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_quoting_and_amounts() {
        assert_eq!(
            csv_field("declined (05: do not honour)"),
            "declined (05: do not honour)"
        );
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(format_amount(1234, 2), "12.34");
        assert_eq!(format_amount(5, 2), "0.05");
        assert_eq!(format_amount(500, 0), "500");
    }
}
