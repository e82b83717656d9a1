#![allow(clippy::unwrap_used)] // A panic in a test is a failure.

use std::net::{IpAddr, Ipv4Addr};

use p256::ecdsa::SigningKey;
use p256::ecdsa::signature::Signer;
use p256::pkcs8::EncodePublicKey;

use emv::enrolment::ALPHABET;

use super::*;

const LINK: &str = "127.0.0.1:8583";

fn ip(last: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(192, 0, 2, last))
}

/// A terminal's request: its device key, its pad's key, the proof.
fn request(code: &str, pad: &p256::SecretKey) -> (ActivationRequest, p256::SecretKey) {
    let device = key_wrap::generate_secret_key().unwrap();
    let spki = device.public_key().to_public_key_der().unwrap();
    let pad_public = key_wrap::public_key_bytes(pad);
    let signature: Signature =
        SigningKey::from(&device).sign(&proof_message(code, spki.as_bytes(), &pad_public));
    (
        ActivationRequest {
            code: code.to_owned(),
            device_public_key: hex::encode(spki.as_bytes()),
            pin_pad_public_key: hex::encode(pad_public),
            signature: hex::encode(signature.to_der().as_bytes()),
        },
        device,
    )
}

#[test]
fn a_code_activates_one_terminal_once_with_the_pin_key_wrapped_for_its_pad() {
    let data = tempfile::tempdir().unwrap();
    let issued = add_terminal(data.path(), "M1", DEFAULT_VALIDITY).unwrap();
    let full = issued.full();
    let groups: Vec<&str> = full.split('-').collect();
    assert_eq!(groups.len(), 5, "{full}");
    assert!(
        groups
            .iter()
            .all(|g| g.len() == 4 && g.bytes().all(|b| ALPHABET.contains(&b)))
    );
    let pin = pki::host_key_pin(&pki::load_or_create_host_key(data.path()).unwrap());
    assert_eq!(issued.fingerprint, fingerprint_of(&pin));
    // The host keeps no clear code.
    for entry in fs::read_dir(data.path().join(DIR)).unwrap() {
        let text = fs::read_to_string(entry.unwrap().path()).unwrap();
        assert!(!text.contains(&normalize(&issued.code)));
    }

    let pad = key_wrap::generate_secret_key().unwrap();
    // Typed in lower case, without the fingerprint's dashes: the same code.
    let typed = issued.code.to_lowercase().replace('-', "");
    let (req, _device) = request(&typed, &pad);
    let mut limiter = WrongCodeLimiter::default();
    let answer = activate(data.path(), LINK, &req, ip(1), &mut limiter).unwrap();
    assert_eq!(answer.terminal_id, "A0000001");
    assert_eq!(answer.merchant, "M1");
    assert_eq!(answer.host_spki_sha256, hex::encode(pin));
    assert_eq!(answer.host, LINK);
    let record = enrol::TerminalRecord::load(data.path(), "A0000001")
        .unwrap()
        .unwrap();
    assert!(record.mac_required);

    // The certificate certifies the device's own key.
    let der = rustls_pemfile::certs(&mut answer.certificate_pem.as_bytes())
        .next()
        .unwrap()
        .unwrap();
    let spki = hex::decode(&req.device_public_key).unwrap();
    assert!(der.windows(spki.len()).any(|w| w == spki.as_slice()));
    assert!(pki::certificate_names_terminal(&der, "A0000001"));

    // The PIN key is wrapped for the pad: it unwraps there, under the recorded key ID.
    let blob = hex::decode(&answer.pin_key_wrapped).unwrap();
    let (_key, ksn) = key_wrap::unwrap(&pad, &blob).unwrap();
    assert!(record.is_pin_key(&ksn.to_bytes()));
    let other_pad = key_wrap::generate_secret_key().unwrap();
    assert!(key_wrap::unwrap(&other_pad, &blob).is_err());

    // Once.
    let (again, _) = request(&issued.code, &pad);
    assert!(matches!(
        activate(data.path(), LINK, &again, ip(1), &mut limiter),
        Err(ActivationError::WrongCode)
    ));
}

#[test]
fn wrong_codes_are_limited_per_source_address() {
    let data = tempfile::tempdir().unwrap();
    let issued = add_terminal(data.path(), "M1", DEFAULT_VALIDITY).unwrap();
    let pad = key_wrap::generate_secret_key().unwrap();
    let mut limiter = WrongCodeLimiter::default();
    for _ in 0..MAX_WRONG_CODES {
        let (wrong, _) = request("0000-0000", &pad);
        assert!(matches!(
            activate(data.path(), LINK, &wrong, ip(1), &mut limiter),
            Err(ActivationError::WrongCode)
        ));
    }
    // The right code from the same address is refused now, and is not consumed.
    let (right, _) = request(&issued.code, &pad);
    assert!(matches!(
        activate(data.path(), LINK, &right, ip(1), &mut limiter),
        Err(ActivationError::TooManyAttempts)
    ));
    // From another address it works; the window passing lets the first address try again.
    assert!(activate(data.path(), LINK, &right, ip(2), &mut limiter).is_ok());
    let later = Instant::now() + WRONG_CODE_WINDOW;
    assert!(limiter.allows(ip(1), later));
}

#[test]
fn an_expired_code_and_a_bad_proof_are_refused() {
    let data = tempfile::tempdir().unwrap();
    let pad = key_wrap::generate_secret_key().unwrap();
    let mut limiter = WrongCodeLimiter::default();
    let expired = add_terminal(data.path(), "M1", Duration::ZERO).unwrap();
    let (req, _) = request(&expired.code, &pad);
    assert!(matches!(
        activate(data.path(), LINK, &req, ip(1), &mut limiter),
        Err(ActivationError::WrongCode)
    ));

    // A proof by another key than the one sent: refused, and the code still works.
    let issued = add_terminal(data.path(), "M1", DEFAULT_VALIDITY).unwrap();
    let (mut forged, _) = request(&issued.code, &pad);
    let (other, _) = request(&issued.code, &pad);
    forged.signature = other.signature;
    assert!(matches!(
        activate(data.path(), LINK, &forged, ip(1), &mut limiter),
        Err(ActivationError::BadRequest(_))
    ));
    let (good, _) = request(&issued.code, &pad);
    assert!(activate(data.path(), LINK, &good, ip(1), &mut limiter).is_ok());
}

#[test]
fn base32_takes_five_bits_at_a_time() {
    // 0x00 0x44 0x32 0x14 0xC7 = 00000 00001 00010 00011 00100 00101 00110 00111.
    assert_eq!(base32(&[0x00, 0x44, 0x32, 0x14, 0xC7], 8), "01234567");
    assert_eq!(normalize("oi1l-abcd"), "0111ABCD");
}
