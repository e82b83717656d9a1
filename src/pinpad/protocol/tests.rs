//! The pipe protocol's encodings, round trips and refusals.

use super::*;

fn request() -> EntryRequest {
    EntryRequest {
        pan: Zeroizing::new("4111111111111111".to_owned()),
        amount: 1234,
        currency_code: 0x03D2,
        currency_exponent: 2,
        merchant_name: "Café Zürich".to_owned(),
        language: "de".to_owned(),
        accessible: true,
        length: LengthLimits::new(4, 6).unwrap_or_default(),
        timeouts: Timeouts {
            first_key: Duration::from_millis(1500),
            between_keys: Duration::from_millis(700),
            total: Duration::from_millis(9000),
        },
        attestation_token: Some(vec![0x5A; 93]),
    }
}

#[test]
fn enter_pin_round_trips() {
    let encoded = TerminalMessage::EnterPin(request()).encode();
    let Ok(TerminalMessage::EnterPin(r)) = TerminalMessage::decode(&encoded) else {
        panic!("decode failed");
    };
    assert_eq!(r.pan.as_str(), "4111111111111111");
    assert_eq!(r.amount, 1234);
    assert_eq!(r.currency_code, 978);
    assert_eq!(r.merchant_name, "Café Zürich");
    assert_eq!(r.language, "de");
    assert!(r.accessible);
    assert_eq!((r.length.min(), r.length.max()), (4, 6));
    assert_eq!(r.timeouts.between_keys, Duration::from_millis(700));
    assert_eq!(r.attestation_token, Some(vec![0x5A; 93]));
    let mut without = request();
    without.attestation_token = None;
    let encoded = TerminalMessage::EnterPin(without).encode();
    let Ok(TerminalMessage::EnterPin(r)) = TerminalMessage::decode(&encoded) else {
        panic!("decode failed");
    };
    assert_eq!(r.attestation_token, None);
    // An empty token, or one longer than a token can be, is a bad field.
    for len in [0, 129] {
        let mut odd = request();
        odd.attestation_token = Some(vec![1; len]);
        let encoded = TerminalMessage::EnterPin(odd).encode();
        assert!(
            matches!(
                TerminalMessage::decode(&encoded),
                Err(ProtocolError::Field(0x0A))
            ),
            "{len}"
        );
    }
}

#[test]
fn trust_attestation_round_trips_and_rejects_bad_bodies() {
    let message = TerminalMessage::TrustAttestation {
        terminal_id: "A0000001".to_owned(),
        host_key: [4; PUBLIC_KEY_LEN],
    };
    let encoded = message.encode();
    assert_eq!(&encoded[..2], &[PROTOCOL_VERSION, 0x05]);
    let Ok(TerminalMessage::TrustAttestation {
        terminal_id,
        host_key,
    }) = TerminalMessage::decode(&encoded)
    else {
        panic!("decode failed");
    };
    assert_eq!(terminal_id, "A0000001");
    assert_eq!(host_key, [4; PUBLIC_KEY_LEN]);
    let short = &encoded[..encoded.len() - 1];
    assert!(TerminalMessage::decode(short).is_err());
    let mut lower = encoded.to_vec();
    lower[2] = b'a';
    assert!(TerminalMessage::decode(&lower).is_err());
    let trusted = PinPadMessage::Trusted.encode();
    assert!(matches!(
        PinPadMessage::decode(&trusted),
        Ok(PinPadMessage::Trusted)
    ));
    assert!(PinPadMessage::decode(&[PROTOCOL_VERSION, 0x89, 0]).is_err());
    assert_eq!(Refusal::from(0x0C), Refusal::NotAttested);
    assert_eq!(Refusal::NotAttested.code(), 0x0C);
}

/// The pad caps every timeout at a minute, whatever the terminal asks.
#[test]
fn timeouts_over_a_minute_are_refused() {
    let mut r = request();
    r.timeouts.total = Duration::from_secs(60);
    let encoded = TerminalMessage::EnterPin(r).encode();
    assert!(TerminalMessage::decode(&encoded).is_ok());
    for long in [Duration::from_millis(60_001), Duration::from_secs(600)] {
        let mut r = request();
        r.timeouts.first_key = long;
        let encoded = TerminalMessage::EnterPin(r).encode();
        assert!(
            TerminalMessage::decode(&encoded).is_err(),
            "{long:?} accepted"
        );
    }
}

#[test]
fn pin_block_round_trips_and_rejects_bad_digit_counts() {
    let message = PinPadMessage::PinBlock(EncryptedPin {
        ksn: [0x11; 12],
        pin_block: [0x22; 16],
        digits: 6,
    });
    let encoded = message.encode();
    assert_eq!(encoded.len(), 2 + 12 + 16 + 1);
    let Ok(PinPadMessage::PinBlock(p)) = PinPadMessage::decode(&encoded) else {
        panic!("decode failed");
    };
    assert_eq!((p.ksn, p.pin_block, p.digits), ([0x11; 12], [0x22; 16], 6));
    let mut bad = encoded.clone();
    if let Some(last) = bad.last_mut() {
        *last = 13;
    }
    assert!(matches!(
        PinPadMessage::decode(&bad),
        Err(ProtocolError::Malformed(30))
    ));
}

#[test]
fn rejects_other_versions_unknown_tags_duplicates_and_bad_limits() {
    assert!(matches!(
        TerminalMessage::decode(&[0x02, MSG_CANCEL]),
        Err(ProtocolError::Version(0x02))
    ));
    let unknown = [PROTOCOL_VERSION, MSG_ENTER_PIN, 0x0E, 0x01, 0x00];
    assert!(matches!(
        TerminalMessage::decode(&unknown),
        Err(ProtocolError::Field(0x0E))
    ));
    let twice = [
        PROTOCOL_VERSION,
        MSG_ENTER_PIN,
        TAG_EXPONENT,
        1,
        2,
        TAG_EXPONENT,
        1,
        2,
    ];
    assert!(matches!(
        TerminalMessage::decode(&twice),
        Err(ProtocolError::Field(0x04))
    ));
    let mut r = request();
    r.length = LengthLimits { min: 3, max: 12 };
    let encoded = TerminalMessage::EnterPin(r).encode();
    assert!(matches!(
        TerminalMessage::decode(&encoded),
        Err(ProtocolError::Field(TAG_LENGTH))
    ));
    assert!(LengthLimits::new(4, 13).is_none());
    assert!(LengthLimits::new(7, 6).is_none());
}

#[test]
fn truncated_fields_are_malformed_not_panics() {
    let encoded = TerminalMessage::EnterPin(request()).encode();
    for cut in 0..encoded.len() {
        let _ = TerminalMessage::decode(encoded.get(..cut).unwrap_or(&[]));
    }
    let short = [PROTOCOL_VERSION, MSG_ENTER_PIN, TAG_PAN, 0x10, b'4'];
    assert!(matches!(
        TerminalMessage::decode(&short),
        Err(ProtocolError::Malformed(0))
    ));
}

#[test]
fn key_messages_round_trip_and_reject_bad_lengths() {
    let blob = vec![0x5A; 100];
    let Ok(TerminalMessage::InstallKey(decoded)) =
        TerminalMessage::decode(&TerminalMessage::InstallKey(blob.clone()).encode())
    else {
        panic!("install key");
    };
    assert_eq!(decoded, blob);
    assert!(matches!(
        TerminalMessage::decode(&TerminalMessage::PublicKey.encode()),
        Ok(TerminalMessage::PublicKey)
    ));
    assert!(TerminalMessage::decode(&[PROTOCOL_VERSION, MSG_INSTALL_KEY]).is_err());
    let mut long = vec![PROTOCOL_VERSION, MSG_INSTALL_KEY];
    long.resize(3 + key_wrap::MAX_BLOB_LEN, 1);
    assert!(TerminalMessage::decode(&long).is_err());
    assert!(TerminalMessage::decode(&[PROTOCOL_VERSION, MSG_PUBLIC_KEY_REQUEST, 0]).is_err());

    let key = [4u8; PUBLIC_KEY_LEN];
    assert!(matches!(
        PinPadMessage::decode(&PinPadMessage::PublicKey(key).encode()),
        Ok(PinPadMessage::PublicKey(k)) if k == key
    ));
    assert!(matches!(
        PinPadMessage::decode(&PinPadMessage::KeyInstalled([7; 12]).encode()),
        Ok(PinPadMessage::KeyInstalled(k)) if k == [7; 12]
    ));
    assert!(PinPadMessage::decode(&[PROTOCOL_VERSION, MSG_PUBLIC_KEY, 4]).is_err());
    assert!(PinPadMessage::decode(&[PROTOCOL_VERSION, MSG_KEY_INSTALLED, 1, 2]).is_err());
    for refusal in [Refusal::WrappedKey, Refusal::AlreadyInstalled] {
        assert_eq!(Refusal::from(refusal.code()), refusal);
    }
}

#[test]
fn frames_round_trip_and_reject_oversize() {
    let mut pipe = Vec::new();
    let payload = PinPadMessage::Refused(Refusal::InsecureDisplay).encode();
    assert!(write_frame(&mut pipe, &payload).is_ok());
    assert_eq!(pipe, [0x00, 0x03, 0x01, 0x86, 0x01]);
    let mut reader = pipe.as_slice();
    let Ok(frame) = read_frame(&mut reader) else {
        panic!("read failed");
    };
    assert!(matches!(
        PinPadMessage::decode(&frame),
        Ok(PinPadMessage::Refused(Refusal::InsecureDisplay))
    ));
    assert!(matches!(
        read_frame(&mut reader),
        Err(ProtocolError::Closed)
    ));
    let mut big = [0x02u8, 0x01].as_slice();
    assert!(matches!(
        read_frame(&mut big),
        Err(ProtocolError::FrameLength(513))
    ));
}
