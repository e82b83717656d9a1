//! The bodies of the fuzz targets that exercise this crate (`fuzz/fuzz_targets/`, run with
//! `scripts/fuzz`, `docs/security.md` § Fuzzing). Each function takes the fuzzer's bytes, runs
//! them through a parser or state machine of the crate, and panics only on a bug: a panic in
//! the code under test or a broken invariant checked here. The same functions replay the
//! committed corpora as ordinary tests (`tests/fuzz_corpora.rs`), so CI runs exactly the code the
//! fuzzer ran, without libFuzzer.

use std::sync::OnceLock;

use crate::apdu::{Command, Response};
use crate::config::TerminalConfig;
use crate::iso8583::{self, Message, ResponseCode};
use crate::kernel::{self, IssuerResponse, Outcome, OutcomeKind, TraceEvent, TransactionRequest};
use crate::oda::{
    CaKeyStore, CaPublicKey, NotPerformed, OdaFailure, OdaInput, OdaResult,
    OfflineDataAuthenticator,
};
use crate::transport::{CardTransport, TransportError};
use crate::{dol, entry_point, tlv};

/// BER-TLV: parses `data` as TLV, a DOL and a PPSE FCI, and decodes, dumps and re-encodes what
/// parses, checking that each re-encoded object parses back to itself.
pub fn tlv(data: &[u8]) {
    if let Ok(list) = tlv::parse(data) {
        let _ = tlv::dump(&list);
        for object in &list {
            if let Ok(bytes) = object.to_bytes() {
                let again = tlv::parse(&bytes);
                assert_eq!(
                    again.as_deref(),
                    Ok(core::slice::from_ref(object)),
                    "re-encoding"
                );
            }
        }
    }
    let _ = dol::Dol::parse(data).map(|dol| dol.build(|_| Some(data.to_vec())));
    let _ = entry_point::parse_ppse(data);
}

/// The customer's consumer-presented code: the bytes as scanned (UTF-8 text, base64) and as
/// decoded BER-TLV. What parses gives DE 55 that parses back as primitive TLV, led by `4F`.
pub fn qr_cpm(data: &[u8]) {
    for parsed in [
        crate::qr::cpm::parse_scanned(data),
        crate::qr::cpm::parse_bytes(data),
    ]
    .into_iter()
    .flatten()
    {
        let de55 = parsed.icc_data();
        let list = tlv::parse(&de55).unwrap_or_else(|e| panic!("DE 55 does not parse: {e}"));
        assert!(
            list.iter().all(|t| t.bytes().is_some()),
            "DE 55 holds a template"
        );
        assert_eq!(list.first().map(tlv::Tlv::tag), Some(tlv::Tag::new(0x4F)));
        let _ = format!("{parsed:?}");
    }
}

/// The customer's signed offline code: the bytes as text and as binary. What parses keeps its
/// bytes, re-encodes to the same text, and is checked against a fixed CA without panicking.
pub fn qr_offline_code(data: &[u8]) {
    use crate::qr::offline_code::{Check, OfflineCode};
    let text = core::str::from_utf8(data).ok().map(OfflineCode::parse_text);
    for parsed in [text, Some(OfflineCode::parse(data))]
        .into_iter()
        .flatten()
        .flatten()
    {
        let again = OfflineCode::parse_text(&parsed.to_text());
        assert_eq!(again.as_ref(), Ok(&parsed), "text round trip");
        let ca = ed25519_dalek::SigningKey::from_bytes(&[7; 32]).verifying_key();
        let check = Check {
            ca: &ca,
            now: u64::from(parsed.fields().issued_at),
            amount: 1,
            currency: parsed.fields().currency,
            nonce: parsed.fields().nonce,
        };
        let _ = parsed.verify(&check);
        let _ = parsed.counter_is_new(Some(parsed.fields().counter));
    }
}

/// The kernels' card responses: a whole tap (Entry Point, Kernels 2, 3 and 7: SELECT, GPO,
/// READ RECORD, GENERATE AC) run by [`kernel::run`], the driver the terminal uses (with its
/// `61xx`/`6Cxx` handling and a trace hook that formats every event), over a card that answers
/// with the responses in `data`; the outcome is then checked. `None` when `data` is empty.
///
/// Input layout: one flag byte, then responses, each `length (2 bytes, big-endian) ‖ data ‖
/// SW1 SW2`; when they run out the card is "removed". Flags: b1 ODA passes and recovers a
/// cryptogram (with b3 clear); b3 ODA fails; b2 amount 60.00 (above the CVM limit) instead of
/// 10.00; b4 amount 2,000.00 (above the contactless limits); b5 a refund; b6 a purchase with
/// 5.00 cashback.
pub fn kernel_responses(data: &[u8]) -> Option<Outcome> {
    // Parsed once: the configuration is not what this target fuzzes.
    static CONFIG: OnceLock<Option<TerminalConfig>> = OnceLock::new();
    let config = CONFIG
        .get_or_init(|| TerminalConfig::default_embedded().ok())
        .as_ref()?;
    let (&flags, rest) = data.split_first()?;
    let oda: &dyn OfflineDataAuthenticator = match (flags & 0x01 != 0, flags & 0x04 != 0) {
        (_, true) => &FixedOda(false),
        (true, false) => &FixedOda(true),
        (false, false) => &NotPerformed,
    };
    let amount = match (flags & 0x02 != 0, flags & 0x08 != 0) {
        (_, true) => 200_000,
        (true, false) => 6_000,
        (false, false) => 1_000,
    };
    let (transaction_type, amount_other) = match (flags & 0x10 != 0, flags & 0x20 != 0) {
        (true, _) => (0x20, 0),
        (false, true) => (0x09, 500),
        (false, false) => (0x00, 0),
    };
    let request = TransactionRequest {
        amount,
        amount_other,
        currency_code: 978,
        transaction_type,
        date: [0x23, 0x03, 0x01],
        time: [0x11, 0x10, 0x09],
        unpredictable_number: [0x38, 0x39, 0x30, 0x31],
    };
    let mut card = ScriptedCard { rest };
    let mut trace = |event: TraceEvent| {
        let _ = event.to_string();
    };
    let outcome = kernel::run(&mut card, config, oda, request, Some(&mut trace)).ok()?;
    check_outcome(&outcome);
    Some(outcome)
}

/// The terminal's side of the acquirer link: a frame or message body from the host is decoded
/// as the terminal decodes answers (`Message::decode`, `decode_frame`), re-encoded and decoded
/// again to itself, and its parts are read as the terminal reads them: DE 39 (response code),
/// DE 55 (issuer authentication data and scripts), DE 38, and the MAC layout (DE 61, DE 64 or
/// DE 128 last).
pub fn iso8583_response(data: &[u8]) {
    if let Ok(message) = Message::decode(data) {
        let encoded = message.encode().expect("a decoded message encodes");
        assert_eq!(encoded, data, "decoding then encoding gives the same bytes");
        assert_eq!(
            Message::decode(&encoded).expect("re-decodes"),
            message,
            "round trip"
        );
        read_answer(&message);
        let _ = format!("{message:?}");
        let _ = iso8583::mac::MacParts::of(data);
    }
    if let Ok(message) = iso8583::decode_frame(data) {
        read_answer(&message);
    }
}

/// CA public key files (`docs/capk.md`): the text is parsed as the terminal parses a tester's
/// key file; every key accepted has a checksum that matches it, and a usable RSA key.
pub fn ca_key_file(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(store) = CaKeyStore::from_str(text) else {
        return;
    };
    let mut merged = CaKeyStore::new();
    for key in store.iter() {
        check_key(key);
        let _ = (key.is_valid_on([0x26, 0x12, 0x03]), key.label());
        merged.insert(key.clone());
    }
    assert_eq!(merged.len(), store.len(), "one key per RID and index");
}

/// Checks on a finished transaction that hold whatever the card said.
fn check_outcome(outcome: &Outcome) {
    assert_ne!(
        outcome.kind,
        OutcomeKind::SelectNext,
        "Select Next stays inside"
    );
    if outcome.online.is_some() {
        assert_eq!(outcome.kind, OutcomeKind::OnlineRequest, "online data");
    }
    if outcome.advice.is_some() {
        assert_eq!(outcome.kind, OutcomeKind::Approved, "advice data");
    }
    for data in outcome.online.iter().chain(&outcome.advice) {
        assert!(tlv::parse(&data.icc_data).is_ok(), "DE 55 is BER-TLV");
        let masked = data.masked_pan.to_string();
        let digits = masked.chars().filter(char::is_ascii_digit).count();
        assert!(digits <= 10, "a masked PAN shows at most 6 + 4 digits");
    }
    let _ = format!("{outcome:?}");
}

/// Reads a host answer's fields the way the engine does.
fn read_answer(message: &Message) {
    if let Some(code) = message.text(39) {
        let _ = ResponseCode::parse(code).map(|c| (c.meaning(), c.is_approval()));
    }
    if let Some(de55) = message.field(55) {
        let _ = IssuerResponse::parse(de55);
    }
    let _ = message.text(38);
}

/// A CA key from a file is one an EMV CA can have (exponent 3 or 65537, an odd modulus of at
/// least 512 bits), and rebuilding it from its parts gives the same key.
fn check_key(key: &CaPublicKey) {
    let modulus = key.modulus();
    assert!(
        matches!(key.exponent(), [0x03] | [0x01, 0x00, 0x01]),
        "exponent"
    );
    assert!(modulus.len() >= 64, "modulus length");
    assert!(modulus.first() != Some(&0) && modulus.last().is_some_and(|b| b & 1 == 1));
    let checksum = CaPublicKey::checksum_of(key.rid(), key.index(), modulus, key.exponent());
    let again = CaPublicKey::new(
        key.rid(),
        key.index(),
        modulus,
        key.exponent(),
        key.expiry(),
        &checksum,
    );
    assert!(again.is_ok(), "a loaded key rebuilds");
}

/// A card that answers with the responses of the fuzz input, in order, then leaves the field.
/// Like a reader, it refuses a command that cannot be serialised.
struct ScriptedCard<'a> {
    rest: &'a [u8],
}

impl CardTransport for ScriptedCard<'_> {
    fn transmit(&mut self, command: &Command) -> Result<Response, TransportError> {
        command.try_serialize()?;
        let (response, tail) = self
            .rest
            .split_first_chunk::<2>()
            .map(|(len, tail)| (usize::from(u16::from_be_bytes(*len)), tail))
            .and_then(|(len, tail)| tail.split_at_checked(len.checked_add(2)?))
            .ok_or(TransportError::CardRemoved)?;
        self.rest = tail;
        Ok(Response::from_bytes(response)?)
    }
}

/// An ODA engine with a fixed answer: passes and recovers a cryptogram, or fails.
struct FixedOda(bool);

impl OfflineDataAuthenticator for FixedOda {
    fn authenticate(&self, input: &OdaInput<'_>) -> Option<OdaResult> {
        Some(OdaResult {
            method: input.method,
            status: if self.0 {
                Ok(())
            } else {
                Err(OdaFailure::Signature("fuzz"))
            },
            recovered_cryptogram: self.0.then_some([0x11; 8]),
            recovered_dynamic_number: None,
        })
    }
}

/// The merchant-presented code (`qr::mpm`): parses `data` as a scanned code; what parses must
/// rebuild (`to_payload`) into a code that parses to the same value and rebuilds to the same
/// text, within the length limit.
pub fn qr_mpm(data: &[u8]) {
    use crate::qr::mpm::{MAX_CHARS, MerchantCode};
    let _ = crate::qr::crc::crc16(data);
    if let Ok(code) = MerchantCode::parse(data) {
        let text = match code.to_payload() {
            Ok(text) => text,
            // Sorting the objects cannot lengthen a code, and every value was checked.
            Err(e) => panic!("a parsed code does not rebuild: {e}"),
        };
        assert!(text.chars().count() <= MAX_CHARS, "rebuilt code too long");
        let again = MerchantCode::parse(text.as_bytes());
        assert_eq!(again.as_ref(), Ok(&code), "rebuilt code reads differently");
        assert_eq!(
            code.to_payload().as_deref(),
            Ok(text.as_str()),
            "rebuild not stable"
        );
    }
}

/// The PIN pad's own key in [`key_wrap`]'s runs (a fixed scalar, so committed inputs that
/// unwrap keep unwrapping).
pub fn key_wrap_pad_key() -> p256::SecretKey {
    static KEY: OnceLock<p256::SecretKey> = OnceLock::new();
    KEY.get_or_init(|| p256::SecretKey::from_slice(&[0x42; 32]).expect("a valid scalar"))
        .clone()
}

/// A wrapped PIN key as the pad receives it (`crypto::key_wrap`): unwrapped with a fixed pad
/// key. What unwraps names the KSN its header says, and holds an AES key of a valid length.
pub fn key_wrap(data: &[u8]) {
    use crate::crypto::key_wrap;
    let header_ksn = key_wrap::blob_ksn(data);
    if let Ok((key, ksn)) = key_wrap::unwrap(&key_wrap_pad_key(), data) {
        assert_eq!(Some(ksn), header_ksn, "the header's KSN");
        assert!(matches!(key.len(), 16 | 24 | 32), "an AES key length");
    }
}

/// The host's attestation key in [`attestation_token`]'s runs.
pub fn attestation_host_key() -> p256::ecdsa::SigningKey {
    p256::ecdsa::SigningKey::from(key_wrap_pad_key())
}

/// An attestation token as the link and the PIN pad receive it (`crypto::attestation_token`):
/// parsed, then verified against a fixed host key at its own issue time. What verifies says
/// what it parses to, for the terminal it names.
pub fn attestation_token(data: &[u8]) {
    use crate::crypto::attestation_token as token;
    let Ok(claims) = token::parse(data) else {
        assert!(token::verify(data, &[4; 65], "A0000001", 0).is_err());
        return;
    };
    let public = p256::PublicKey::from(attestation_host_key().verifying_key());
    let host = public.to_sec1_bytes();
    if let Ok(verified) = token::verify(data, &host, &claims.terminal_id, claims.issued_at) {
        assert_eq!(verified, claims);
        assert!(verified.issued_at < verified.expires_at);
    }
}
