//! Kernel processing per contactless transaction, driven from the recorded transcripts in
//! `tests/data/kernel/` (no transport: the sans-IO driver is fed the recorded responses).
//! Target: under 1 ms of CPU per Visa transaction. Run: `cargo bench -p emv --bench kernel`.
#![allow(missing_docs)] // criterion_main! generates an undocumented `main`.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use emv::apdu::Response;
use emv::config::TerminalConfig;
use emv::kernel::{OutcomeKind, Step, Transaction, TransactionRequest};
use emv::oda::NotPerformed;

const LLOYDS: &str = include_str!("../tests/data/kernel/visa_lloyds_qvsdc.txt");
const MASTERCARD: &str = include_str!("../tests/data/kernel/mastercard_mchip.txt");

fn responses(text: &str) -> Vec<Response> {
    text.lines()
        .filter_map(|line| line.trim().strip_prefix("R:"))
        .filter_map(|hex_text| hex::decode(hex_text.trim()).ok())
        .filter_map(|bytes| Response::from_bytes(&bytes).ok())
        .collect()
}

fn drive(
    config: &TerminalConfig,
    request: TransactionRequest,
    responses: &[Response],
) -> OutcomeKind {
    let mut transaction = Transaction::new(config, &NotPerformed, request);
    let mut step = transaction.start();
    let mut next = responses.iter();
    loop {
        match step {
            Step::Transmit(_) => match next.next() {
                Some(response) => step = transaction.handle(response.clone()),
                None => step = transaction.transport_failed(emv::TransportError::CardRemoved),
            },
            Step::Done(outcome) => return outcome.kind,
        }
    }
}

fn request() -> TransactionRequest {
    TransactionRequest {
        amount: 1_000,
        amount_other: 0,
        currency_code: 978,
        transaction_type: 0x00,
        date: [0x23, 0x03, 0x01],
        time: [0x11, 0x10, 0x09],
        unpredictable_number: [0x38, 0x39, 0x30, 0x31],
    }
}

fn bench(c: &mut Criterion) {
    // The recording terminal of the Lloyds trace (see tests/kernel_visa.rs).
    let visa_config = TerminalConfig::from_user_toml(
        "[terminal]\ncountry_code = 978\n[[aid]]\naid = \"A0000000031010\"\nttq = \"27000000\"\n\
         floor_limit = 100000\n",
    )
    .expect("bench configuration");
    let visa = responses(LLOYDS);
    assert_eq!(
        drive(&visa_config, request(), &visa),
        OutcomeKind::OnlineRequest
    );
    c.bench_function("visa_qvsdc_lloyds_transaction", |b| {
        b.iter(|| {
            drive(
                black_box(&visa_config),
                black_box(request()),
                black_box(&visa),
            )
        })
    });

    // Mastercard up to GENERATE AC (the recorded trace ends before it; the card is "removed").
    let mc_config = TerminalConfig::default_embedded().expect("embedded configuration");
    let mastercard = responses(MASTERCARD);
    c.bench_function("mastercard_mchip_to_generate_ac", |b| {
        b.iter(|| {
            drive(
                black_box(&mc_config),
                black_box(request()),
                black_box(&mastercard),
            )
        })
    });

    c.bench_function("terminal_config_default_embedded", |b| {
        b.iter(TerminalConfig::default_embedded)
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
