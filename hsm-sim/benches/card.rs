//! Virtual card speed: one whole tap in process (engine only), and one APDU round trip over the
//! vpcd wire protocol with a reader that writes length and APDU as two segments, as vpcd does
//! (toolchain notes "vpcd latency": without TCP_NODELAY and TCP_QUICKACK this costs ~44 ms).
//! Run: `cargo bench -p hsm-sim --bench card`.
#![allow(missing_docs)] // criterion_main! generates an undocumented `main`.
#![allow(clippy::unwrap_used)] // a benchmark that cannot set up should stop loudly.

use std::hint::black_box;
use std::io::{Read, Write};
use std::net::TcpListener;

use criterion::{Criterion, criterion_group, criterion_main};
use emv::tlv::{self, Tag};
use emv::{CardTransport, Command};
use hsm_sim::card::{VirtualCard, vpcd};

const PPSE: &[u8] = b"2PAY.SYS.DDF01";

/// PDOL data for the qVSDC PDOL (33 bytes): TTQ, 10.00, country/currency 0978, 2023-03-01.
const VISA_PDOL_DATA: [u8; 33] = [
    0x36, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x09, 0x78, 0x00, 0x00, 0x00, 0x00, 0x00, 0x09, 0x78, 0x23, 0x03, 0x01, 0x00, 0x38, 0x39, 0x30,
    0x31,
];

fn visa_tap(card: &mut VirtualCard) {
    card.power_cycle();
    card.transmit(&Command::select_by_name(PPSE)).unwrap();
    card.transmit(&Command::select_by_name(card.profile().aid()))
        .unwrap();
    let gpo =
        Command::get_processing_options(tlv::encode_primitive(Tag::new(0x83), &VISA_PDOL_DATA));
    black_box(card.transmit(&gpo).unwrap());
    for (sfi, record) in [(1, 1), (3, 1), (3, 2), (3, 3)] {
        black_box(card.transmit(&Command::read_record(sfi, record)).unwrap());
    }
}

fn in_process(c: &mut Criterion) {
    let mut card = VirtualCard::from_profile("visa").unwrap().with_atc(0);
    c.bench_function("card/visa_tap_in_process (fDDA signature included)", |b| {
        b.iter(|| visa_tap(&mut card))
    });
    let mut card = VirtualCard::from_profile("mastercard").unwrap().with_atc(0);
    c.bench_function("card/select_ppse_in_process", |b| {
        b.iter(|| black_box(card.transmit(&Command::select_by_name(PPSE)).unwrap()))
    });
}

fn over_vpcd(c: &mut Criterion) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap().to_string();
    let card = VirtualCard::from_profile("mastercard").unwrap();
    let guard = vpcd::spawn(card, vpcd::Options::new(address)).unwrap();
    let (mut reader, _) = listener.accept().unwrap();
    reader.set_nodelay(true).unwrap();
    let apdu = Command::select_by_name(PPSE).serialize();
    let length = u16::try_from(apdu.len()).unwrap().to_be_bytes();
    let mut answer = vec![0u8; 512];
    c.bench_function("card/select_ppse_over_vpcd_two_segments", |b| {
        b.iter(|| {
            reader.write_all(&length).unwrap();
            reader.write_all(&apdu).unwrap();
            let mut header = [0u8; 2];
            reader.read_exact(&mut header).unwrap();
            let n = usize::from(u16::from_be_bytes(header));
            reader.read_exact(&mut answer[..n]).unwrap();
            black_box(&answer[..n]);
        })
    });
    drop(guard);
}

criterion_group!(benches, in_process, over_vpcd);
criterion_main!(benches);
