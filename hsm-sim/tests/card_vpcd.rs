//! The vpcd client against a fake reader: a TCP listener in the test plays the `pcscd` side of
//! the vpcd wire protocol (2-byte big-endian length, then the payload; 1-byte control codes
//! `00` off, `01` on, `02` reset, `04` ATR).

// Test helpers: an unwrap that fails is a test failure.
#![allow(clippy::unwrap_used)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::Duration;

use hex_literal::hex;
use hsm_sim::card::{Profile, VirtualCard, vpcd};

const TIMEOUT: Duration = Duration::from_secs(10);

fn listener() -> (TcpListener, String) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap().to_string();
    (listener, address)
}

fn accept(listener: &TcpListener) -> TcpStream {
    let (stream, _) = listener.accept().unwrap();
    stream.set_read_timeout(Some(TIMEOUT)).unwrap();
    stream
}

/// Sends like vpcd does: the length and the payload as two writes (two segments).
fn send(stream: &mut TcpStream, payload: &[u8]) {
    let length = u16::try_from(payload.len()).unwrap().to_be_bytes();
    stream.write_all(&length).unwrap();
    stream.write_all(payload).unwrap();
}

fn receive(stream: &mut TcpStream) -> Vec<u8> {
    let mut length = [0u8; 2];
    stream.read_exact(&mut length).unwrap();
    let mut payload = vec![0u8; usize::from(u16::from_be_bytes(length))];
    stream.read_exact(&mut payload).unwrap();
    payload
}

fn exchange(stream: &mut TcpStream, apdu: &[u8]) -> Vec<u8> {
    send(stream, apdu);
    receive(stream)
}

/// Whether the card closed the connection: a read returns end of file.
fn is_closed(stream: &mut TcpStream) -> bool {
    let mut byte = [0u8; 1];
    matches!(stream.read(&mut byte), Ok(0))
}

fn select_ppse() -> Vec<u8> {
    hex!("00A404000E325041592E5359532E444446303100").to_vec()
}

fn gpo(profile: &Profile) -> Vec<u8> {
    let data_length: usize = 0x21;
    assert_eq!(profile.pdol().len(), 24, "the qVSDC PDOL asks for 33 bytes");
    let mut template = vec![0x83, 0x21];
    template.extend_from_slice(&hex!(
        "36000000 000000001000 000000000000 0978 0000000000 0978 230301 00 38393031"
    ));
    assert_eq!(template.len(), data_length + 2);
    let mut apdu = vec![
        0x80,
        0xA8,
        0x00,
        0x00,
        u8::try_from(template.len()).unwrap(),
    ];
    apdu.extend(template);
    apdu.push(0x00);
    apdu
}

fn select_aid(aid: &[u8]) -> Vec<u8> {
    let mut apdu = vec![0x00, 0xA4, 0x04, 0x00, u8::try_from(aid.len()).unwrap()];
    apdu.extend_from_slice(aid);
    apdu.push(0x00);
    apdu
}

#[test]
fn a_tap_over_vpcd() {
    let (listener, address) = listener();
    let card = VirtualCard::from_profile("visa").unwrap().with_atc(0x0100);
    let profile = card.profile().clone();
    let guard = vpcd::spawn(card, vpcd::Options::new(address).once()).unwrap();
    let mut reader = accept(&listener);

    send(&mut reader, &[0x01]); // power on: no answer
    send(&mut reader, &[0x04]);
    let atr = receive(&mut reader);
    assert_eq!(atr, vpcd::atr());
    assert_eq!(&atr[..4], &hex!("3B8A8001"));

    let ppse = exchange(&mut reader, &select_ppse());
    assert_eq!(&ppse[ppse.len() - 2..], &hex!("9000"));
    assert_eq!(
        emv::tlv::find(
            &emv::tlv::parse(&ppse[..ppse.len() - 2]).unwrap(),
            emv::tlv::Tag::new(0x4F)
        )
        .and_then(emv::tlv::Tlv::bytes),
        Some(profile.aid())
    );

    let fci = exchange(&mut reader, &select_aid(profile.aid()));
    assert_eq!(&fci[fci.len() - 2..], &hex!("9000"));

    let answer = exchange(&mut reader, &gpo(&profile));
    let sw = &answer[answer.len() - 2..];
    assert!(
        sw == hex!("9000") || sw == hex!("6F00"),
        "GPO answered (6F00 while crypto is a stub)"
    );

    let record = exchange(&mut reader, &hex!("00B2010C00"));
    assert_eq!(&record[record.len() - 2..], &hex!("9000"));
    assert_eq!(record[0], 0x70);

    // Reset keeps the ATC but forgets the selected application.
    send(&mut reader, &[0x02]);
    let refused = exchange(&mut reader, &hex!("00B2010C00"));
    assert_eq!(refused, hex!("6985"));
    let atc = exchange(&mut reader, &select_aid(profile.aid()));
    assert_eq!(&atc[atc.len() - 2..], &hex!("9000"));
    assert_eq!(
        exchange(&mut reader, &hex!("80CA9F3600")),
        hex!("9F360201019000")
    );

    // Power off after the tap: with `once`, the card leaves and its thread ends.
    send(&mut reader, &[0x00]);
    assert!(is_closed(&mut reader));
    let summary = guard.join().unwrap();
    assert_eq!(summary.taps, 1);
    assert_eq!(summary.connections, 1);
    assert_eq!(summary.atc, 0x0101);
    assert_eq!(summary.commands, 7);
}

#[test]
fn malformed_apdus_get_a_status_word() {
    let (listener, address) = listener();
    let card = VirtualCard::from_profile("mastercard").unwrap();
    let _guard = vpcd::spawn(card, vpcd::Options::new(address)).unwrap();
    let mut reader = accept(&listener);
    assert_eq!(exchange(&mut reader, &hex!("00A4")), hex!("6700"));
    assert_eq!(exchange(&mut reader, &hex!("00A40400FF01")), hex!("6700"));
    assert_eq!(exchange(&mut reader, &hex!("0012000000")), hex!("6D00"));
    assert_eq!(exchange(&mut reader, &hex!("FFA4040000")), hex!("6E00"));
    send(&mut reader, &[0x07]); // unknown control code: ignored
    send(&mut reader, &[]); // empty message: ignored
    assert_eq!(receive_after(&mut reader, &select_ppse())[..1], [0x6F]);
}

fn receive_after(stream: &mut TcpStream, apdu: &[u8]) -> Vec<u8> {
    exchange(stream, apdu)
}

#[test]
fn the_vanishing_card_closes_the_connection_after_gpo_and_comes_back() {
    let (listener, address) = listener();
    let card = VirtualCard::from_profile("vanish-after-gpo")
        .unwrap()
        .with_atc(0);
    let profile = card.profile().clone();
    let options = vpcd::Options {
        reconnect_delay: Duration::from_millis(20),
        ..vpcd::Options::new(address)
    };
    let guard = vpcd::spawn(card, options).unwrap();

    let mut reader = accept(&listener);
    send(&mut reader, &[0x01]);
    exchange(&mut reader, &select_ppse());
    exchange(&mut reader, &select_aid(profile.aid()));
    let answer = exchange(&mut reader, &gpo(&profile));
    assert!(answer.len() >= 2, "GPO is answered before the card leaves");
    assert!(is_closed(&mut reader), "then the card is gone");

    // A new tap: the card connects again.
    let mut reader = accept(&listener);
    send(&mut reader, &[0x04]);
    assert_eq!(receive(&mut reader), vpcd::atr());
    drop(guard);
    assert!(
        is_closed(&mut reader),
        "dropping the guard removes the card"
    );
}

#[test]
fn the_card_waits_for_the_reader() {
    // Reserve a port, close it, start the card, then open the reader: the card retries.
    let (listener, address) = listener();
    drop(listener);
    let guard = vpcd::spawn(
        VirtualCard::from_profile("unionpay").unwrap(),
        vpcd::Options::new(address.clone()),
    )
    .unwrap();
    std::thread::sleep(Duration::from_millis(250));
    assert!(!guard.is_finished());
    let listener = TcpListener::bind(&address).unwrap();
    let mut reader = accept(&listener);
    send(&mut reader, &[0x04]);
    assert_eq!(receive(&mut reader), vpcd::atr());
    let summary = guard.stop().unwrap();
    assert_eq!(summary.connections, 1);
    assert_eq!(summary.taps, 0);
}
