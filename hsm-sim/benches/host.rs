//! Criterion benchmarks of the acquirer host: the ISO 8583 codec on a chip 0200, and one
//! authorization round trip over TLS on loopback (0200 with ARQC, AES DUKPT PIN block and MAC;
//! one terminal, so this is latency, not throughput: `hsm-sim bench` measures throughput).
//!
//! `cargo bench -p hsm-sim --bench host`
#![allow(missing_docs)] // criterion_main! generates an undocumented `main`.

use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use hsm_sim::host::client::{TerminalClient, TerminalDukpt, TestCard, requests};
use hsm_sim::host::ledger::{AccountSeed, AccountStatus};
use hsm_sim::host::{Host, HostConfig};
use hsm_sim::iso8583::Message;

const PAN: &str = "4761739001010119";
/// Luhn-valid test PAN of the bench account.
const BENCH_PAN: &str = "4761739990000006";

fn codec(c: &mut Criterion) {
    let mut card = TestCard::visa(PAN, 1);
    let mut m = requests::purchase("T0000001", 1, &requests::transmission_now(), PAN, 12_000);
    m.set(55, card.icc_data(12_000).expect("ARQC"));
    m.set(62, vec![0x11; 16]);
    m.set(63, vec![0x22; 12]);
    m.set(64, vec![0x33; 8]);
    let bytes = m.encode().expect("encodes");
    c.bench_function("iso8583/encode chip 0200", |b| b.iter(|| m.encode()));
    c.bench_function("iso8583/decode chip 0200", |b| {
        b.iter(|| Message::decode(&bytes))
    });
}

fn round_trip(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temporary directory");
    // An account with no practical limit, so every iteration is a full approval.
    let account = AccountSeed {
        pan: BENCH_PAN.to_owned(),
        scheme: "visa".to_owned(),
        balance: i64::MAX / 4,
        status: AccountStatus::Active,
        daily_limit: i64::MAX / 4,
        expiry: "4912".to_owned(),
    };
    hsm_sim::host::seed_accounts(dir.path(), &[account]).expect("seeding");
    let host = Host::start(HostConfig::new(dir.path())).expect("host");
    let bundle = host.enroll("T0000001").expect("enrolment");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let mut client = runtime
        .block_on(TerminalClient::connect(&bundle))
        .expect("TLS connection");
    let mut dukpt = TerminalDukpt::from_bundle(&bundle).expect("DUKPT key");
    let mut card = TestCard::visa(BENCH_PAN, 0);
    let mut stan = 0u32;
    c.bench_function("host/0200 chip+PIN+MAC round trip over TLS", |b| {
        b.iter_custom(|iterations| {
            let frames: Vec<Vec<u8>> = (0..iterations)
                .map(|_| {
                    stan = stan % 999_999 + 1;
                    let transmission = requests::transmission_now();
                    let mut m =
                        requests::purchase("T0000001", stan, &transmission, BENCH_PAN, 12_000);
                    m.set(55, card.icc_data(12_000).expect("ARQC"));
                    let ksn = dukpt.next_ksn().expect("KSN");
                    let pin_block = dukpt.pin_block(ksn, "1234", BENCH_PAN).expect("PIN block");
                    m.set(62, pin_block.to_vec());
                    m.set(63, ksn.to_vec());
                    dukpt.add_mac(&mut m).expect("MAC");
                    m.encode_frame().expect("encodes").to_vec()
                })
                .collect();
            runtime.block_on(async {
                let start = Instant::now();
                for frame in &frames {
                    let _ = client.send_raw(frame).await;
                }
                start.elapsed()
            })
        });
    });
    drop(client);
    host.shutdown();
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(5)).sample_size(20);
    targets = codec, round_trip
}
criterion_main!(benches);
