//! Replays the fuzz seed corpus of the ISO 8583 decoder (`fuzz/corpus/iso8583_decode/`) as an
//! ordinary test, so CI checks every seed without libFuzzer. Files named `valid-*` must decode
//! and round-trip; `invalid-*` must be rejected with the error kind named in the file name.

use std::path::PathBuf;

use emv::iso8583::messages::{self, CardData, Original, Terminal};
use emv::iso8583::{BatchTotals, CodecErrorKind, Message, Mti};

fn corpus_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fuzz/seeds/iso8583_decode")
}

#[test]
fn replay_corpus() {
    let mut seen = 0;
    for entry in std::fs::read_dir(corpus_dir()).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let bytes = std::fs::read(&path).unwrap();
        let decoded = Message::decode(&bytes);
        if name.starts_with("valid-") {
            let m = decoded.unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(Message::decode(&m.encode().unwrap()).unwrap(), m, "{name}");
        } else if let Some(rest) = name.strip_prefix("invalid-") {
            let err = decoded.expect_err(&name);
            let expected = rest.split('-').next().unwrap();
            assert_eq!(kind_name(err.kind), expected, "{name}");
        }
        seen += 1;
    }
    assert!(seen >= 10, "corpus has {seen} files");
}

fn kind_name(kind: CodecErrorKind) -> &'static str {
    match kind {
        CodecErrorKind::Truncated => "truncated",
        CodecErrorKind::BadMti => "badmti",
        CodecErrorKind::UnknownField(_) => "unknownfield",
        CodecErrorKind::BadLengthPrefix(_) => "badprefix",
        CodecErrorKind::FieldLength(_) => "fieldlength",
        CodecErrorKind::BadCharacter(_) => "badcharacter",
        CodecErrorKind::TrailingBytes => "trailing",
        CodecErrorKind::EmptySecondaryBitmap => "emptysecondarybitmap",
        _ => "other",
    }
}

/// Regenerates the seeds: `cargo test -p emv --test iso8583_corpus -- --ignored`.
#[test]
#[ignore = "writes the seed corpus"]
fn write_seed_corpus() {
    let dir = corpus_dir();
    std::fs::create_dir_all(&dir).unwrap();
    let t = "1121203000";
    let terminal = Terminal {
        terminal_id: "T0000001",
        merchant_id: "MERCHANT0000001",
        currency: 978,
    };
    let purchase = |stan: u32, pan: &str, amount: u64| {
        let card = CardData {
            pan,
            entry_mode: messages::POS_ENTRY_CONTACTLESS_CHIP,
            ..CardData::default()
        };
        messages::financial(
            &terminal,
            Mti::FINANCIAL_REQUEST,
            messages::PROCESSING_PURCHASE,
            amount,
            stan,
            t,
            &card,
            None,
        )
    };
    let mut chip = purchase(1, "4761739001010119", 12_000);
    chip.set(
        55,
        hex_literal::hex!("9F2608 0102030405060708 9F3602 0011 950500 00000000").to_vec(),
    );
    chip.set(62, [0x11; 16].to_vec());
    chip.set(63, [0x22; 12].to_vec());
    chip.set(64, [0x33; 8].to_vec());
    let purchase = purchase(2, "5413330089010434", 100);
    let original = Original::of(&purchase).unwrap();
    let valid: Vec<(&str, Message)> = vec![
        (
            "valid-0800-echo",
            messages::network("T0000001", 3, t, messages::NETWORK_ECHO),
        ),
        ("valid-0200-purchase", purchase.clone()),
        ("valid-0200-chip-pin-mac", chip),
        (
            "valid-0400-reversal",
            messages::reversal(&terminal, Mti::REVERSAL_REQUEST, 4, t, &original),
        ),
        (
            "valid-0200-void",
            messages::void(&terminal, 5, t, &original),
        ),
        (
            "valid-0500-reconciliation",
            messages::reconciliation(
                "T0000001",
                6,
                t,
                1,
                &BatchTotals {
                    debits: 1,
                    debits_amount: 100,
                    ..Default::default()
                },
            ),
        ),
        (
            "valid-0210-response",
            Message::new(Mti::FINANCIAL_RESPONSE)
                .with(11, "000002")
                .with(37, "000000000001")
                .with(38, "000001")
                .with(39, "00")
                .with(41, "T0000001")
                .with(55, hex_literal::hex!("910A 0102030405060708 3030").to_vec()),
        ),
    ];
    for (name, m) in &valid {
        std::fs::write(dir.join(name), m.encode().unwrap()).unwrap();
    }
    let good = purchase.encode().unwrap();
    let mut bad_mti = good.clone();
    bad_mti[0] = b'X';
    let mut unknown = good.clone();
    unknown[4] |= 0x80; // secondary bitmap bit, then DE 65 in the "secondary bitmap" bytes
    unknown.splice(12..12, [0x80, 0, 0, 0, 0, 0, 0, 0]);
    let mut bad_prefix = good.clone();
    bad_prefix[12] = b'X'; // DE 2's LL
    let mut too_long = b"0200".to_vec();
    too_long.extend_from_slice(&[0x40, 0, 0, 0, 0, 0, 0, 0]);
    too_long.extend_from_slice(b"2047617390010101190000");
    let mut bad_char = good.clone();
    bad_char[14] = b'A'; // inside DE 2
    let mut trailing = good.clone();
    trailing.extend_from_slice(b"00");
    let invalid: Vec<(&str, Vec<u8>)> = vec![
        ("invalid-truncated-empty", Vec::new()),
        ("invalid-truncated-bitmap", b"0200\x40\x00".to_vec()),
        ("invalid-truncated-field", good[..good.len() - 5].to_vec()),
        ("invalid-badmti", bad_mti),
        ("invalid-unknownfield-65", unknown),
        ("invalid-badprefix-de2", bad_prefix),
        ("invalid-fieldlength-de2", too_long),
        ("invalid-badcharacter-de2", bad_char),
        ("invalid-trailing", trailing),
    ];
    for (name, bytes) in &invalid {
        std::fs::write(dir.join(name), bytes).unwrap();
    }
}
