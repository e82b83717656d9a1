//! EMVCo QR Code Specification for Payment Systems, consumer-presented mode (QRCPS CPM v1.x):
//! the customer's phone shows base64 of BER-TLV, the terminal scans it and authorises it online
//! like a card (`docs/qr-customer-code.md` §1).
//!
//! Layout: `85` payload format indicator `CPV01`; one or more `61` application templates
//! (`4F` AID, `50` label, `57`/`5A` account, `5F20` name, ..., and a `63` application specific
//! transparent template); an optional `62` common data template (the same data objects, and a
//! `64` common data transparent template). The cryptogram data (`9F26`, `9F27`, `9F10`, `9F36`,
//! `9F37`, ...) sits in `63`/`64` and goes to the host in DE 55.
//!
//! Everything that is not in that layout is refused: a payload over [`MAX_PAYLOAD_BYTES`], bad
//! base64, malformed TLV (a length that lies), a missing mandatory data object, another format
//! indicator, an unknown (RFU) tag, control characters in a name.

use core::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use crate::pan::{Pan, PanError, Track2};
use crate::tlv::{self, Tag, Tlv, TlvError};

/// The payload format indicator (`85`) of this version.
pub const PAYLOAD_FORMAT: &[u8] = b"CPV01";

/// The largest payload accepted, in bytes of BER-TLV (the text is at most
/// [`MAX_TEXT_CHARS`] base64 characters).
pub const MAX_PAYLOAD_BYTES: usize = 512;

/// The longest payload text accepted: base64 of [`MAX_PAYLOAD_BYTES`].
pub const MAX_TEXT_CHARS: usize = MAX_PAYLOAD_BYTES.div_ceil(3) * 4;

/// Payload format indicator.
const TAG_FORMAT: u32 = 0x85;
/// Application template.
const TAG_APPLICATION: u32 = 0x61;
/// Common data template.
const TAG_COMMON: u32 = 0x62;
/// Application specific transparent template (inside `61`).
const TAG_APPLICATION_TRANSPARENT: u32 = 0x63;
/// Common data transparent template (inside `62`).
const TAG_COMMON_TRANSPARENT: u32 = 0x64;
const TAG_AID: u32 = 0x4F;
const TAG_LABEL: u32 = 0x50;
const TAG_TRACK2: u32 = 0x57;
const TAG_PAN: u32 = 0x5A;
const TAG_NAME: u32 = 0x5F20;
const TAG_EXPIRY: u32 = 0x5F24;
const TAG_PSN: u32 = 0x5F34;
const TAG_PREFERRED_NAME: u32 = 0x9F12;
const TAG_CRYPTOGRAM: u32 = 0x9F26;
const TAG_ATC: u32 = 0x9F36;

/// The data objects a `61` application template or a `62` common data template may hold
/// (QRCPS Table 4 and 5), besides its transparent template.
const TEMPLATE_TAGS: &[u32] = &[
    0x4F, 0x50, 0x57, 0x5A, 0x5F20, 0x5F24, 0x5F25, 0x5F28, 0x5F2D, 0x5F34, 0x5F50, 0x87, 0x9F08,
    0x9F12, 0x9F19, 0x9F24, 0x9F25,
];

/// Text data objects that are shown: a control character in them is refused.
const NAME_TAGS: &[u32] = &[TAG_LABEL, TAG_NAME, TAG_PREFERRED_NAME];

/// A parsed, checked consumer-presented payload.
#[derive(Clone)]
pub struct CpmPayload {
    applications: Vec<CpmApplication>,
    pan: Pan,
    expiry_yymm: Option<String>,
    pan_sequence_number: Option<u8>,
    cardholder_name: Option<String>,
    icc: Vec<Tlv>,
    atc: u16,
}

/// One `61` application template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CpmApplication {
    /// `4F` AID (5 to 16 bytes).
    pub aid: Vec<u8>,
    /// `50` application label, checked free of control characters.
    pub label: Option<String>,
}

impl CpmPayload {
    /// The applications, in payload order (the first is the one used).
    pub fn applications(&self) -> &[CpmApplication] {
        &self.applications
    }

    /// The account (`5A`, or `57` up to its separator). Secret.
    pub fn pan(&self) -> &Pan {
        &self.pan
    }

    /// The expiry `YYMM` (`5F24`, or from `57`), when given.
    pub fn expiry_yymm(&self) -> Option<&str> {
        self.expiry_yymm.as_deref()
    }

    /// `5F34`, when given.
    pub fn pan_sequence_number(&self) -> Option<u8> {
        self.pan_sequence_number
    }

    /// `5F20`, checked free of control characters.
    pub fn cardholder_name(&self) -> Option<&str> {
        self.cardholder_name.as_deref()
    }

    /// `9F36`, the application transaction counter of the cryptogram.
    pub fn atc(&self) -> u16 {
        self.atc
    }

    /// DE 55 for the authorisation: the first application's `4F`, then every data object of
    /// its `63` and of `64`, as primitive BER-TLV in payload order.
    pub fn icc_data(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for object in &self.icc {
            if let Some(bytes) = object.bytes() {
                out.extend(tlv::encode_primitive(object.tag(), bytes));
            }
        }
        out
    }
}

impl fmt::Debug for CpmPayload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CpmPayload")
            .field("applications", &self.applications)
            .field("pan", &self.pan.masked())
            .field("atc", &self.atc)
            .finish_non_exhaustive()
    }
}

/// Why a payload is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CpmError {
    /// The scanned bytes are not UTF-8 text.
    #[error("the code is not text (not UTF-8)")]
    NotText,
    /// More than [`MAX_PAYLOAD_BYTES`] (or its base64).
    #[error("the code is too long ({0} bytes; at most {MAX_PAYLOAD_BYTES} accepted)")]
    TooLong(usize),
    /// Not base64.
    #[error("the code is not base64: {0}")]
    Base64(String),
    /// Malformed BER-TLV.
    #[error("the code is not valid BER-TLV: {0}")]
    Tlv(#[from] TlvError),
    /// The payload does not start with `85`.
    #[error("the code has no payload format indicator (85) first")]
    NoFormatIndicator,
    /// `85` is not `CPV01`.
    #[error("the code's format is not CPV01 (version not supported)")]
    WrongVersion,
    /// A mandatory data object is missing.
    #[error("the code lacks data object {0}")]
    Missing(Tag),
    /// A data object has the wrong length or format.
    #[error("the code's data object {0} is malformed")]
    Malformed(Tag),
    /// A tag this layout does not define (RFU or misplaced).
    #[error("the code holds a data object this format does not define ({0})")]
    UnexpectedTag(Tag),
    /// A name or label with a control character.
    #[error("the code's {0} holds a control character")]
    ControlCharacter(Tag),
    /// The account data is not a valid PAN.
    #[error("the code's account data is not valid: {0}")]
    Account(#[from] PanError),
}

/// Parses scanned bytes: they must be UTF-8 text, then [`parse`].
pub fn parse_scanned(bytes: &[u8]) -> Result<CpmPayload, CpmError> {
    let text = core::str::from_utf8(bytes).map_err(|_| CpmError::NotText)?;
    parse(text)
}

/// Parses the payload text (base64 of BER-TLV; surrounding white space ignored).
pub fn parse(text: &str) -> Result<CpmPayload, CpmError> {
    let text = text.trim();
    if text.len() > MAX_TEXT_CHARS {
        return Err(CpmError::TooLong(text.len() / 4 * 3));
    }
    let bytes = STANDARD
        .decode(text)
        .map_err(|e| CpmError::Base64(e.to_string()))?;
    parse_bytes(&bytes)
}

/// Parses and checks the BER-TLV payload.
pub fn parse_bytes(bytes: &[u8]) -> Result<CpmPayload, CpmError> {
    if bytes.len() > MAX_PAYLOAD_BYTES {
        return Err(CpmError::TooLong(bytes.len()));
    }
    let list = tlv::parse(bytes)?;
    let (first, rest) = list.split_first().ok_or(CpmError::NoFormatIndicator)?;
    if first.tag() != Tag::new(TAG_FORMAT) {
        return Err(CpmError::NoFormatIndicator);
    }
    if first.bytes() != Some(PAYLOAD_FORMAT) {
        return Err(CpmError::WrongVersion);
    }
    let mut applications = Vec::new();
    let mut templates: Vec<&Tlv> = Vec::new();
    let mut common: Option<&Tlv> = None;
    for object in rest {
        match object.tag().number() {
            TAG_APPLICATION if common.is_none() => {
                check_template(object, TAG_APPLICATION_TRANSPARENT)?;
                let aid = value(object, TAG_AID)
                    .ok_or(CpmError::Missing(Tag::new(TAG_AID)))?
                    .to_vec();
                if !(5..=16).contains(&aid.len()) {
                    return Err(CpmError::Malformed(Tag::new(TAG_AID)));
                }
                let label = value(object, TAG_LABEL).map(text_of);
                applications.push(CpmApplication { aid, label });
                templates.push(object);
            }
            TAG_COMMON if common.is_none() => {
                check_template(object, TAG_COMMON_TRANSPARENT)?;
                common = Some(object);
            }
            _ => return Err(CpmError::UnexpectedTag(object.tag())),
        }
    }
    let (Some(first_app), Some(first_aid)) = (templates.first(), applications.first()) else {
        return Err(CpmError::Missing(Tag::new(TAG_APPLICATION)));
    };
    // The account and its details: the application's, else the common data's.
    let lookup = |tag: u32| value(first_app, tag).or_else(|| common.and_then(|c| value(c, tag)));
    let track2 = lookup(TAG_TRACK2).map(Track2::from_bytes).transpose()?;
    let pan = match (lookup(TAG_PAN), &track2) {
        (Some(pan), _) => Pan::from_compressed_numeric(pan)?,
        (None, Some(track2)) => track2.pan()?,
        (None, None) => return Err(CpmError::Missing(Tag::new(TAG_PAN))),
    };
    let expiry_yymm = match lookup(TAG_EXPIRY) {
        Some(e) if e.len() == 3 => Some(hex::encode(e.get(..2).unwrap_or_default())),
        Some(_) => return Err(CpmError::Malformed(Tag::new(TAG_EXPIRY))),
        None => track2.as_ref().map(|t| t.expiry_yymm().to_owned()),
    };
    let pan_sequence_number = match lookup(TAG_PSN) {
        Some([psn]) => Some(*psn),
        Some(_) => return Err(CpmError::Malformed(Tag::new(TAG_PSN))),
        None => None,
    };
    let cardholder_name = lookup(TAG_NAME).map(text_of);
    // DE 55: the AID, then the transparent templates' data objects.
    let mut icc = vec![Tlv::primitive(Tag::new(TAG_AID), first_aid.aid.clone())?];
    let transparent = [
        (Some(*first_app), TAG_APPLICATION_TRANSPARENT),
        (common, TAG_COMMON_TRANSPARENT),
    ];
    for (template, tag) in transparent {
        if let Some(inner) = template.and_then(|t| find_child(t, tag)) {
            icc.extend(inner.children().iter().cloned());
        }
    }
    let icc_value = |tag: u32| tlv::find(&icc, Tag::new(tag)).and_then(Tlv::bytes);
    match icc_value(TAG_CRYPTOGRAM) {
        Some(c) if c.len() == 8 => {}
        Some(_) => return Err(CpmError::Malformed(Tag::new(TAG_CRYPTOGRAM))),
        None => return Err(CpmError::Missing(Tag::new(TAG_CRYPTOGRAM))),
    }
    let atc = match icc_value(TAG_ATC) {
        Some([hi, lo]) => u16::from_be_bytes([*hi, *lo]),
        Some(_) => return Err(CpmError::Malformed(Tag::new(TAG_ATC))),
        None => return Err(CpmError::Missing(Tag::new(TAG_ATC))),
    };
    Ok(CpmPayload {
        applications,
        pan,
        expiry_yymm,
        pan_sequence_number,
        cardholder_name,
        icc,
        atc,
    })
}

/// Checks a `61`/`62` template: only [`TEMPLATE_TAGS`], each at most once, and at most one
/// `transparent` template holding primitive data objects only; names without control
/// characters.
fn check_template(template: &Tlv, transparent: u32) -> Result<(), CpmError> {
    let mut seen: Vec<Tag> = Vec::new();
    for object in template.children() {
        let tag = object.tag();
        if seen.contains(&tag) {
            return Err(CpmError::UnexpectedTag(tag));
        }
        seen.push(tag);
        if tag.number() == transparent {
            for inner in object.children() {
                if inner.bytes().is_none() || inner.tag().info().is_none() {
                    return Err(CpmError::UnexpectedTag(inner.tag()));
                }
            }
            continue;
        }
        if !TEMPLATE_TAGS.contains(&tag.number()) || object.bytes().is_none() {
            return Err(CpmError::UnexpectedTag(tag));
        }
        if NAME_TAGS.contains(&tag.number()) {
            let bytes = object.bytes().unwrap_or_default();
            if bytes.iter().any(|&b| b < 0x20 || b == 0x7F) {
                return Err(CpmError::ControlCharacter(tag));
            }
            if core::str::from_utf8(bytes).is_err() {
                return Err(CpmError::Malformed(tag));
            }
        }
    }
    Ok(())
}

fn find_child(template: &Tlv, tag: u32) -> Option<&Tlv> {
    template
        .children()
        .iter()
        .find(|t| t.tag() == Tag::new(tag))
}

fn value(template: &Tlv, tag: u32) -> Option<&[u8]> {
    find_child(template, tag).and_then(Tlv::bytes)
}

/// A checked name's text (control characters were refused, UTF-8 checked).
fn text_of(bytes: &[u8]) -> String {
    crate::display::card_text(bytes)
}

/// What a wallet puts into a consumer-presented code ([`build`]).
pub struct CpmCode<'a> {
    /// `4F`.
    pub aid: &'a [u8],
    /// `50`.
    pub label: &'a str,
    /// `5A` (in `62`).
    pub pan: &'a Pan,
    /// `5F24` expiry `YYMMDD` (in `62`).
    pub expiry: Option<[u8; 3]>,
    /// `5F34` (in `62`).
    pub pan_sequence_number: Option<u8>,
    /// `5F20` (in `62`).
    pub cardholder_name: Option<&'a str>,
    /// The data objects of `64` (`9F26`, `9F27`, `9F10`, `9F36`, `9F37`, ...), in order.
    pub icc: &'a [(u32, Vec<u8>)],
}

/// Encodes a code as the spec example lays it out: `85`, one `61{4F, 50}`, then
/// `62{5A, 5F24, 5F34, 5F20, 64{...}}`; returns the base64 text. Fails on data this module's
/// parser would refuse (the result always parses back).
pub fn build(code: &CpmCode<'_>) -> Result<String, CpmError> {
    let mut pan = hex::decode(pad_f(code.pan.expose_digits()))
        .map_err(|_| CpmError::Malformed(Tag::new(TAG_PAN)))?;
    let app = [
        tlv::encode_primitive(Tag::new(TAG_AID), code.aid),
        tlv::encode_primitive(Tag::new(TAG_LABEL), code.label.as_bytes()),
    ]
    .concat();
    let mut common = tlv::encode_primitive(Tag::new(TAG_PAN), &pan);
    zeroize::Zeroize::zeroize(&mut pan);
    if let Some(expiry) = code.expiry {
        common.extend(tlv::encode_primitive(Tag::new(TAG_EXPIRY), &expiry));
    }
    if let Some(psn) = code.pan_sequence_number {
        common.extend(tlv::encode_primitive(Tag::new(TAG_PSN), &[psn]));
    }
    if let Some(name) = code.cardholder_name {
        common.extend(tlv::encode_primitive(Tag::new(TAG_NAME), name.as_bytes()));
    }
    let icc: Vec<u8> = code
        .icc
        .iter()
        .flat_map(|(tag, value)| tlv::encode_primitive(Tag::new(*tag), value))
        .collect();
    common.extend(tlv::encode_template(Tag::new(TAG_COMMON_TRANSPARENT), &icc));
    let payload = zeroize::Zeroizing::new(
        [
            tlv::encode_primitive(Tag::new(TAG_FORMAT), PAYLOAD_FORMAT),
            tlv::encode_template(Tag::new(TAG_APPLICATION), &app),
            tlv::encode_template(Tag::new(TAG_COMMON), &common),
        ]
        .concat(),
    );
    zeroize::Zeroize::zeroize(&mut common);
    parse_bytes(&payload)?;
    Ok(STANDARD.encode(&payload))
}

/// Digits padded with `F` to whole bytes (compressed numeric, `cn`).
fn pad_f(digits: &str) -> zeroize::Zeroizing<String> {
    let mut s = zeroize::Zeroizing::new(digits.to_owned());
    if s.len() % 2 == 1 {
        s.push('F');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The consumer-presented example of the EMVCo QR Code Specification for Payment Systems
    /// (CPM), as carried by the `mvallim/emv-qrcode` decoder tests and the `dongri/emv-qrcode`
    /// README.
    const EMVCO_CPM_EXAMPLE: &str = "hQVDUFYwMWETTwegAAAAVVVVUAhQcm9kdWN0MWETTwegAAAAZmZmUAhQcm9kdWN0MmJJWggSNFZ4kBI0WF8gDkNBUkRIT0xERVIvRU1WXy0IcnVlc2RlZW5kIZ8QBwYBCgMAAACfJghYT9OF+iNLzJ82AgABnzcEbVjvEw==";

    fn ok<T, E: fmt::Debug>(r: Result<T, E>) -> T {
        r.unwrap_or_else(|e| panic!("{e:?}"))
    }

    /// The example's bytes with its account `1234567890123458` (which fails the Luhn check)
    /// replaced by `1234567890123452`, the same digits with a valid check digit.
    fn example_with_valid_account() -> Vec<u8> {
        let mut bytes = ok(STANDARD.decode(EMVCO_CPM_EXAMPLE));
        let at = bytes
            .windows(10)
            .position(|w| w == hex::decode("5A081234567890123458").unwrap_or_default())
            .unwrap_or_else(|| panic!("5A not found"));
        bytes[at + 9] = 0x52;
        bytes
    }

    #[test]
    fn the_emvco_example_parses() {
        // As published, every data object is accepted and only the account's check digit is
        // refused.
        assert_eq!(
            parse(EMVCO_CPM_EXAMPLE).err(),
            Some(CpmError::Account(PanError::Luhn))
        );
        let p = ok(parse_bytes(&example_with_valid_account()));
        assert_eq!(p.applications().len(), 2);
        assert_eq!(
            p.applications()[0].aid,
            hex::decode("A0000000555555").unwrap_or_default()
        );
        assert_eq!(p.applications()[0].label.as_deref(), Some("Product1"));
        assert_eq!(
            p.applications()[1].aid,
            hex::decode("A0000000666666").unwrap_or_default()
        );
        assert_eq!(p.applications()[1].label.as_deref(), Some("Product2"));
        assert_eq!(p.pan().expose_digits(), "1234567890123452");
        assert_eq!(p.cardholder_name(), Some("CARDHOLDER/EMV"));
        assert_eq!(p.atc(), 1);
        assert_eq!(
            hex::encode_upper(p.icc_data()),
            "4F07A00000005555559F10070601 0A030000009F2608584FD385FA234BCC9F360200019F37046D58EF13"
                .replace(' ', "")
        );
    }

    #[test]
    fn a_built_code_parses_back() {
        let pan = ok(Pan::from_digits("4761739001010010"));
        let icc = vec![
            (0x9F26, vec![1, 2, 3, 4, 5, 6, 7, 8]),
            (0x9F36, vec![0x00, 0x2A]),
        ];
        let text = ok(build(&CpmCode {
            aid: &[0xA0, 0, 0, 0, 3, 0x10, 0x10],
            label: "VISA",
            pan: &pan,
            expiry: Some([0x28, 0x12, 0x31]),
            pan_sequence_number: Some(1),
            cardholder_name: Some("WALLET/TEST"),
            icc: &icc,
        }));
        let p = ok(parse(&text));
        assert_eq!(p.pan(), &pan);
        assert_eq!(
            (p.expiry_yymm(), p.pan_sequence_number(), p.atc()),
            (Some("2812"), Some(1), 42)
        );
    }

    fn encoded(parts: &[Vec<u8>]) -> Vec<u8> {
        parts.concat()
    }

    fn obj(tag: u32, value: &[u8]) -> Vec<u8> {
        tlv::encode_primitive(Tag::new(tag), value)
    }

    fn tpl(tag: u32, parts: &[Vec<u8>]) -> Vec<u8> {
        tlv::encode_template(Tag::new(tag), &parts.concat())
    }

    fn good_parts() -> (Vec<u8>, Vec<u8>, Vec<u8>) {
        let format = obj(0x85, b"CPV01");
        let app = tpl(
            0x61,
            &[
                obj(0x4F, &[0xA0, 0, 0, 0, 3, 0x10, 0x10]),
                obj(0x50, b"VISA"),
            ],
        );
        let common = tpl(
            0x62,
            &[
                obj(0x5A, &[0x47, 0x61, 0x73, 0x90, 0x01, 0x01, 0x00, 0x10]),
                tpl(0x64, &[obj(0x9F26, &[0; 8]), obj(0x9F36, &[0, 1])]),
            ],
        );
        (format, app, common)
    }

    #[test]
    fn bad_payloads_are_refused_with_their_reason() {
        let (format, app, common) = good_parts();
        assert!(parse_bytes(&encoded(&[format.clone(), app.clone(), common.clone()])).is_ok());
        // A length that lies.
        let mut lying = encoded(&[format.clone(), app.clone(), common.clone()]);
        lying[8] = 0x7F;
        assert!(matches!(parse_bytes(&lying), Err(CpmError::Tlv(_))));
        // An RFU tag at the top level, and inside a template.
        let rfu = encoded(&[format.clone(), app.clone(), common.clone(), obj(0x86, &[1])]);
        assert_eq!(
            parse_bytes(&rfu).err(),
            Some(CpmError::UnexpectedTag(Tag::new(0x86)))
        );
        let app_rfu = tpl(0x61, &[obj(0x4F, &[0xA0, 0, 0, 0, 3]), obj(0xDF7F, &[1])]);
        assert_eq!(
            parse_bytes(&encoded(&[format.clone(), app_rfu, common.clone()])).err(),
            Some(CpmError::UnexpectedTag(Tag::new(0xDF7F)))
        );
        // Too long.
        assert_eq!(
            parse_bytes(&[0u8; 10_240]).err(),
            Some(CpmError::TooLong(10_240))
        );
        assert!(matches!(
            parse(&"A".repeat(10_240)),
            Err(CpmError::TooLong(_))
        ));
        // Not UTF-8, not base64.
        assert_eq!(
            parse_scanned(&[0x68, 0xFF, 0xFE]).err(),
            Some(CpmError::NotText)
        );
        assert!(matches!(parse("hQ*VDUFYw"), Err(CpmError::Base64(_))));
        // Control characters in a name.
        let app_ctl = tpl(
            0x61,
            &[obj(0x4F, &[0xA0, 0, 0, 0, 3]), obj(0x50, b"VI\x1B[2JSA")],
        );
        assert_eq!(
            parse_bytes(&encoded(&[format.clone(), app_ctl, common.clone()])).err(),
            Some(CpmError::ControlCharacter(Tag::new(0x50)))
        );
        // Wrong version, missing format indicator, missing data objects.
        let v2 = encoded(&[obj(0x85, b"CPV02"), app.clone(), common.clone()]);
        assert_eq!(parse_bytes(&v2).err(), Some(CpmError::WrongVersion));
        assert_eq!(
            parse_bytes(&encoded(&[app.clone(), common.clone()])).err(),
            Some(CpmError::NoFormatIndicator)
        );
        assert_eq!(
            parse_bytes(&encoded(&[format.clone(), common.clone()])).err(),
            Some(CpmError::Missing(Tag::new(0x61)))
        );
        let no_cryptogram = tpl(
            0x62,
            &[
                obj(0x5A, &[0x47, 0x61, 0x73, 0x90, 0x01, 0x01, 0x00, 0x10]),
                tpl(0x64, &[obj(0x9F36, &[0, 1])]),
            ],
        );
        assert_eq!(
            parse_bytes(&encoded(&[format.clone(), app.clone(), no_cryptogram])).err(),
            Some(CpmError::Missing(Tag::new(0x9F26)))
        );
        let no_pan = tpl(
            0x62,
            &[tpl(0x64, &[obj(0x9F26, &[0; 8]), obj(0x9F36, &[0, 1])])],
        );
        assert_eq!(
            parse_bytes(&encoded(&[format, app, no_pan])).err(),
            Some(CpmError::Missing(Tag::new(0x5A)))
        );
    }

    #[test]
    fn debug_masks_the_account() {
        let p = ok(parse_bytes(&example_with_valid_account()));
        let shown = format!("{p:?}");
        assert!(!shown.contains("1234567890123452"), "{shown}");
    }
}
