//! The host keeps its own contract (`docs/iso8583.md` §4): the document's presence table is
//! the code's table ([`hsm_sim::host::contract::TABLE`]) cell for cell, and every response a
//! running host sends over TLS, to every request type and on the error paths (wrong terminal
//! `58`, format error `30`, undecodable message, unknown card `14`, unsupported processing code
//! `12`, MAC failures), has its mandatory elements, none of its absent ones, and its echoed
//! elements equal to the request's.
#![allow(clippy::unwrap_used)] // A panic in a test is a failure.

use hsm_sim::host::client::requests::{self, BatchTotals};
use hsm_sim::host::client::{TerminalClient, TerminalDukpt, TestCard};
use hsm_sim::host::contract::{self, COLUMNS, Presence, TABLE};
use hsm_sim::host::{EnrolOptions, EnrolmentBundle, Host, HostConfig, HostHandle};
use hsm_sim::iso8583::{Message, Mti};

const VISA: &str = "4761739001010119";
/// Luhn-valid, not an account of the issuer.
const UNKNOWN: &str = "4111111111111111";
const DOC: &str = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/iso8583.md"));

// ---------------------------------------------------------------------------------------------
// The document's table is the code's table.

/// The rows of the markdown table under "## 4. Messages": header cells, then each row's cells.
fn doc_table() -> (Vec<String>, Vec<Vec<String>>) {
    let section = DOC
        .split("\n## 4. Messages")
        .nth(1)
        .and_then(|s| s.split("\n## ").next())
        .expect("§4 in docs/iso8583.md");
    let cells = |line: &str| -> Vec<String> {
        line.trim()
            .trim_matches('|')
            .split('|')
            .map(|c| c.trim().to_owned())
            .collect()
    };
    let mut lines = section
        .lines()
        .skip_while(|l| !l.starts_with("| DE |"))
        .take_while(|l| l.starts_with('|'));
    let header = cells(lines.next().expect("the table's header"));
    let rows = lines.skip(1).map(cells).collect();
    (header, rows)
}

/// The data elements of a row label: `7, 11, 41`, `74-77, 86-89, 97`, `64/128`.
fn elements(label: &str) -> Vec<u8> {
    let mut out = Vec::new();
    for part in label.split([',', '/']) {
        let part = part.trim();
        match part.split_once('-') {
            Some((a, b)) => out.extend(a.parse::<u8>().unwrap()..=b.parse::<u8>().unwrap()),
            None => out.push(part.parse().unwrap()),
        }
    }
    out
}

/// A cell of the document: `M`, `E`, `-`, `C` or `C (note)`.
fn presence(cell: &str) -> Presence {
    match cell {
        "M" => Presence::Mandatory,
        "E" => Presence::Echoed,
        "-" => Presence::Absent,
        "C" => Presence::Conditional(""),
        _ => {
            let note = cell
                .strip_prefix("C (")
                .and_then(|n| n.strip_suffix(')'))
                .unwrap_or_else(|| panic!("not a cell of §4: {cell:?}"));
            // Leaked so that the note compares with the code's `&'static str` (test only).
            Presence::Conditional(Box::leak(note.to_owned().into_boxed_str()))
        }
    }
}

/// The code's table as it is written in the document.
fn code_table_as_markdown() -> String {
    let mut out = String::from("| DE |");
    for c in &COLUMNS {
        out.push_str(&format!(" {} |", c.heading));
    }
    out.push_str("\n|---:|");
    out.push_str(&"---|".repeat(COLUMNS.len()));
    for row in TABLE {
        out.push_str(&format!("\n| {} |", row.label));
        for cell in &row.cells {
            out.push_str(&format!(" {cell} |"));
        }
    }
    out
}

#[test]
fn the_documented_table_is_the_code_table_cell_by_cell() {
    let (header, rows) = doc_table();
    let expected = code_table_as_markdown();
    let headings: Vec<&str> = COLUMNS.iter().map(|c| c.heading).collect();
    assert_eq!(header[0], "DE");
    assert_eq!(
        header[1..],
        headings,
        "columns; the code's table:\n{expected}"
    );
    assert_eq!(
        rows.len(),
        TABLE.len(),
        "rows; the code's table:\n{expected}"
    );
    for (doc_row, row) in rows.iter().zip(TABLE) {
        assert_eq!(doc_row[0], row.label, "the code's table:\n{expected}");
        assert_eq!(elements(&doc_row[0]), row.elements, "{}", row.label);
        assert_eq!(doc_row.len(), COLUMNS.len() + 1, "{}", row.label);
        for ((cell, code), column) in doc_row[1..].iter().zip(&row.cells).zip(&COLUMNS) {
            assert_eq!(
                presence(cell),
                *code,
                "DE {} in {}; the code's table:\n{expected}",
                row.label,
                column.heading
            );
        }
    }
}

#[test]
fn every_field_of_the_field_table_has_a_row() {
    // §3 lists the dialect's data elements; §4 says where each one goes.
    let section3 = DOC
        .split("\n## 3. Field table")
        .nth(1)
        .and_then(|s| s.split("\n## ").next())
        .unwrap();
    let listed: Vec<u8> = section3
        .lines()
        .filter_map(|l| l.strip_prefix("| "))
        .filter_map(|l| l.split(" |").next()?.trim().parse().ok())
        .collect();
    assert!(listed.len() > 40, "{listed:?}");
    for de in listed {
        assert!(
            TABLE.iter().any(|r| r.elements.contains(&de)),
            "DE {de} of §3 has no row in §4"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// A running host keeps it.

struct Fixture {
    _dir: tempfile::TempDir,
    _host: HostHandle,
    /// A terminal enrolled without MAC (`T0000001`).
    plain: EnrolmentBundle,
    /// A terminal enrolled with a MAC key (`T0000002`).
    maced: EnrolmentBundle,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let host = Host::start(HostConfig::new(dir.path())).unwrap();
    let plain = host
        .enroll_with("T0000001", EnrolOptions { mac: false })
        .unwrap();
    let maced = host.enroll("T0000002").unwrap();
    Fixture {
        _dir: dir,
        _host: host,
        plain,
        maced,
    }
}

/// Sends `request` as it is and checks the answer against the contract: no violation, the
/// MAC field exactly when `maced` (the request's MAC verified), DE 37 twelve digits where the
/// type has it, and DE 39 `code`. Returns the answer.
async fn exchange(
    client: &mut TerminalClient,
    request: &Message,
    maced: bool,
    code: &str,
) -> Message {
    let body = client
        .send_raw(&request.encode_frame().unwrap())
        .await
        .unwrap();
    let response = Message::decode(&body).unwrap();
    let what = format!("{} answered {:?}", request.mti(), response.text(39));
    let violations: Vec<String> = contract::check_response(request, &response)
        .iter()
        .map(ToString::to_string)
        .collect();
    assert!(violations.is_empty(), "{what}: {violations:?}");
    assert_eq!(response.text(39), Some(code), "{what}");
    assert_eq!(response.has(64) || response.has(128), maced, "{what}: MAC");
    if contract::presence(response.mti(), 37) == Some(Presence::Mandatory) {
        let rrn = response.text(37).unwrap();
        assert!(
            rrn.len() == 12 && rrn.bytes().all(|b| b.is_ascii_digit()),
            "{what}"
        );
    }
    response
}

fn purchase(terminal: &str, stan: u32, pan: &str, amount: i64) -> Message {
    let mut m = requests::purchase(terminal, stan, &requests::transmission_now(), pan, amount);
    m.set(22, "012");
    m
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_request_type_is_answered_by_the_contract() {
    let f = fixture();
    let mut c = TerminalClient::connect(&f.plain).await.unwrap();
    let now = requests::transmission_now();
    let t = "T0000001";

    let r = exchange(&mut c, &requests::network(t, 1, &now, "301"), false, "00").await;
    assert_eq!(r.text(70), Some("301"));

    // 0100 authorization with chip data: DE 38 and the ARPC in DE 55.
    let mut card = TestCard::visa(VISA, 0x0100);
    let mut auth = requests::financial(
        Mti::AUTHORIZATION_REQUEST,
        "000000",
        t,
        2,
        &now,
        VISA,
        1_000,
    );
    auth.set(55, card.icc_data(1_000).unwrap());
    let r = exchange(&mut c, &auth, false, "00").await;
    assert!(r.has(38));
    assert_eq!(r.field(55).and_then(|v| v.first()), Some(&0x91));
    assert_ne!(
        r.text(37),
        Some("000000000000"),
        "recorded: a real reference"
    );

    // 0100 account verification: `85`, DE 25 echoed.
    let mut check = requests::account_verification(t, 3, &now, VISA);
    check.set(55, card.icc_data(0).unwrap());
    let r = exchange(&mut c, &check, false, "85").await;
    assert_eq!(r.text(25), Some("51"));

    // 0200 purchase with the optional elements: DE 18 and 54 echoed, DE 60 not.
    let mut sale = purchase(t, 4, VISA, 2_000);
    sale.set(18, "5999");
    sale.set(54, "0057978D000000000200");
    sale.set(60, "000001");
    sale.set(43, format!("{:<40}", "SOFTPOS TEST SHOP PARIS FR"));
    let r = exchange(&mut c, &sale, false, "00").await;
    assert_eq!(r.text(54), Some("0057978D000000000200"));
    assert!(!r.has(60) && !r.has(43));

    // 0200 refund and void.
    let refund = requests::financial(Mti::FINANCIAL_REQUEST, "200000", t, 5, &now, VISA, 300);
    exchange(&mut c, &refund, false, "00").await;
    let void = requests::void(&sale, 6, &now);
    exchange(&mut c, &void, false, "00").await;

    // 0220 advice and its repeat (0221, same key: the stored answer).
    let advice = requests::financial(Mti::FINANCIAL_ADVICE, "000000", t, 7, &now, VISA, 400);
    let first = exchange(&mut c, &advice, false, "00").await;
    let mut repeat = advice.clone();
    repeat.set_mti(Mti::FINANCIAL_ADVICE_REPEAT);
    assert_eq!(exchange(&mut c, &repeat, false, "00").await, first);

    // 0400/0401/0420/0421 with DE 22, 12 and 13: the 0410/0430 echoes 12 and 13, not 22.
    let target = purchase(t, 8, VISA, 500);
    exchange(&mut c, &target, false, "00").await;
    let mut reversal = requests::reversal(Mti::REVERSAL_REQUEST, &target, 9, &now);
    for n in [12, 13, 22] {
        reversal.set(n, target.field(n).unwrap().to_vec());
    }
    let r = exchange(&mut c, &reversal, false, "00").await;
    assert_eq!(
        (r.mti(), r.text(12).is_some()),
        (Mti::REVERSAL_RESPONSE, true)
    );
    assert!(!r.has(22));
    let mut repeat = reversal.clone();
    repeat.set_mti(Mti::REVERSAL_REQUEST_REPEAT);
    exchange(&mut c, &repeat, false, "00").await;
    let advice_reversal = requests::reversal(Mti::REVERSAL_ADVICE, &target, 10, &now);
    exchange(&mut c, &advice_reversal, false, "00").await;
    let mut repeat = advice_reversal.clone();
    repeat.set_mti(Mti::REVERSAL_ADVICE_REPEAT);
    exchange(&mut c, &repeat, false, "00").await;
    // Reversals of an unknown original (`25`) and of a decline (`21`) keep it too.
    let ghost = purchase(t, 90, VISA, 1);
    let r = requests::reversal(Mti::REVERSAL_REQUEST, &ghost, 11, &now);
    exchange(&mut c, &r, false, "25").await;
    let declined = purchase(t, 12, UNKNOWN, 100);
    exchange(&mut c, &declined, false, "14").await;
    let r = requests::reversal(Mti::REVERSAL_REQUEST, &declined, 13, &now);
    exchange(&mut c, &r, false, "21").await;

    // 0500 → 0510 with the host's totals (out of balance here: the terminal sends zeros).
    let settle = requests::reconciliation(t, 14, &now, 1, &BatchTotals::default());
    let r = exchange(&mut c, &settle, false, "95").await;
    for n in [15, 66, 74, 75, 76, 77, 86, 87, 88, 89, 97] {
        assert!(r.has(n), "DE {n} of a reconciled 0510");
    }
    assert_eq!(r.text(60), Some("000001"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_keep_the_contract_too() {
    let f = fixture();
    let mut c = TerminalClient::connect(&f.plain).await.unwrap();
    let now = requests::transmission_now();
    let t = "T0000001";

    // DE 41 of another terminal: `58` for every request type, DE 37 included where mandatory.
    let other = "T0000002";
    let original = purchase(other, 1, VISA, 100);
    let mut reversal = requests::reversal(Mti::REVERSAL_REQUEST, &original, 2, &now);
    reversal.set(41, other);
    for request in [
        original.clone(),
        requests::financial(
            Mti::AUTHORIZATION_REQUEST,
            "000000",
            other,
            3,
            &now,
            VISA,
            1,
        ),
        requests::financial(Mti::FINANCIAL_ADVICE, "000000", other, 4, &now, VISA, 1),
        reversal,
        requests::reconciliation(other, 5, &now, 1, &BatchTotals::default()),
        requests::network(other, 6, &now, "301"),
    ] {
        let r = exchange(&mut c, &request, false, "58").await;
        assert_eq!(r.text(41), Some(other), "DE 41 is echoed as sent");
    }

    // Format errors found after decoding: `30` with the echoes and DE 37.
    let mut no_amount = purchase(t, 10, VISA, 100);
    no_amount.remove(4);
    let r = exchange(&mut c, &no_amount, false, "30").await;
    assert_eq!(r.text(37), Some("000000000000"));
    let mut de52 = purchase(t, 11, VISA, 100);
    de52.set(52, vec![0u8; 8]);
    exchange(&mut c, &de52, false, "30").await;
    let mut no_totals = requests::reconciliation(t, 12, &now, 1, &BatchTotals::default());
    no_totals.remove(74);
    let r = exchange(&mut c, &no_totals, false, "30").await;
    assert!(!r.has(66) && !r.has(97), "a refused 0500 has no totals");
    let mut no_original = requests::reversal(Mti::REVERSAL_REQUEST, &de52, 13, &now);
    no_original.remove(90);
    exchange(&mut c, &no_original, false, "30").await;
    exchange(&mut c, &requests::network(t, 14, &now, "999"), false, "30").await;

    // Declines of the issuer: unknown card `14`, unsupported processing code `12`.
    exchange(&mut c, &purchase(t, 15, UNKNOWN, 100), false, "14").await;
    let mut cash = purchase(t, 16, VISA, 100);
    cash.set(3, "010000");
    exchange(&mut c, &cash, false, "12").await;

    // A body that does not decode: nothing can be echoed; the response MTI, DE 37 and DE 39.
    let valid = purchase(t, 17, VISA, 100).encode().unwrap();
    let truncated = &valid[..valid.len() - 3];
    let mut frame = u16::try_from(truncated.len())
        .unwrap()
        .to_be_bytes()
        .to_vec();
    frame.extend_from_slice(truncated);
    let r = Message::decode(&c.send_raw(&frame).await.unwrap()).unwrap();
    assert_eq!(r.mti(), Mti::FINANCIAL_RESPONSE);
    assert_eq!(r.field_numbers().collect::<Vec<_>>(), [37, 39]);
    assert_eq!((r.text(37), r.text(39)), (Some("000000000000"), Some("30")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn maced_answers_and_mac_failures_keep_the_contract() {
    let f = fixture();
    let dukpt = TerminalDukpt::from_bundle(&f.maced).unwrap();
    let mut c = TerminalClient::connect(&f.maced).await.unwrap();
    let now = requests::transmission_now();
    let t = "T0000002";
    let signed = |mut m: Message| {
        dukpt.add_mac(&mut m).unwrap();
        m
    };

    // MACed requests of every type: MACed answers (DE 128 for the 0510).
    let sale = purchase(t, 1, VISA, 100);
    exchange(&mut c, &signed(sale.clone()), true, "00").await;
    exchange(
        &mut c,
        &signed(requests::network(t, 2, &now, "001")),
        true,
        "00",
    )
    .await;
    let advice = requests::financial(Mti::FINANCIAL_ADVICE, "000000", t, 3, &now, VISA, 50);
    exchange(&mut c, &signed(advice), true, "00").await;
    let reversal = requests::reversal(Mti::REVERSAL_REQUEST, &sale, 4, &now);
    exchange(&mut c, &signed(reversal), true, "00").await;
    let settle = requests::reconciliation(t, 5, &now, 1, &BatchTotals::default());
    let r = exchange(&mut c, &signed(settle), true, "95").await;
    assert!(r.has(128) && !r.has(64));
    // A format error found after the MAC verified is MACed.
    let mut no_amount = purchase(t, 6, VISA, 100);
    no_amount.remove(4);
    exchange(&mut c, &signed(no_amount), true, "30").await;
    exchange(&mut c, &signed(purchase(t, 7, UNKNOWN, 100)), true, "14").await;

    // MAC failures: `30` without MAC, the echoes and DE 37 still there.
    exchange(&mut c, &purchase(t, 8, VISA, 100), false, "30").await;
    let mut tampered = signed(purchase(t, 9, VISA, 100));
    tampered.set(4, "000000000900");
    exchange(&mut c, &tampered, false, "30").await;
    let mut tampered = signed(requests::reversal(Mti::REVERSAL_ADVICE, &sale, 10, &now));
    tampered.set(11, "000011");
    exchange(&mut c, &tampered, false, "30").await;
}
