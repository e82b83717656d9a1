//! The merchant-presented code (EMV QRCPS Merchant-Presented Mode v1.1): build, parse and check.
//!
//! A code is a string of data objects `ID(2 digits) LEN(2 digits) VALUE`; LEN counts
//! characters, not bytes. Object `00` comes first, the CRC object `63` last
//! ([`super::crc`]); templates (merchant account information `26`–`51`, additional data `62`,
//! the language template `64`, unreserved `80`–`99`) hold objects of the same form. The
//! format and the checks are described in `docs/qr-merchant-code.md`.
//!
//! [`MerchantCode::parse`] refuses, with a [`MpmError`] naming the object and its character
//! position: a payload over [`MAX_CHARS`] characters, non-UTF-8 bytes, a wrong or missing CRC,
//! an ID or length that is not two digits, a length that runs past its template, an empty
//! value, a repeated ID, IDs reserved for future use, control characters in any value,
//! characters outside the EMVCo common character set where only those are allowed (a
//! local-script name goes in the language template `64`), and malformed mandatory objects.
//! [`MerchantCode::to_payload`] writes the objects in ascending ID order and checks its own
//! output by parsing it back.

mod parse;
mod reader;

use std::fmt;

use super::crc::{append_crc, stated_and_computed};
use parse::{parse_amount, parse_root};
use reader::objects;

/// The longest code accepted, in characters (EMV QRCPS MPM §4.6: at most 512).
pub const MAX_CHARS: usize = 512;

/// A parsed or to-be-built merchant-presented code. Lists are kept in ascending ID order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MerchantCode {
    /// `01`: static (`11`, reusable) or dynamic (`12`, one payment).
    pub initiation: Option<Initiation>,
    /// `02`–`51`: at least one merchant account.
    pub accounts: Vec<MerchantAccount>,
    /// `52`: merchant category code, four digits.
    pub mcc: String,
    /// `53`: ISO 4217 numeric currency code.
    pub currency: u16,
    /// `54`: the amount as written in the code ("23.72"); see [`MerchantCode::amount_minor`].
    pub amount: Option<String>,
    /// `55`–`57`: tip or convenience fee.
    pub tip: Option<Tip>,
    /// `58`: ISO 3166-1 alpha-2 country code.
    pub country: String,
    /// `59`: merchant name (common character set, at most 25 characters).
    pub name: String,
    /// `60`: merchant city (common character set, at most 15 characters).
    pub city: String,
    /// `61`: postal code.
    pub postal_code: Option<String>,
    /// `62`: additional data.
    pub additional: Option<AdditionalData>,
    /// `64`: merchant name and city in another language, any script.
    pub language: Option<LanguageTemplate>,
    /// `80`–`99`: unreserved templates, kept as they are.
    pub unreserved: Vec<RawObject>,
}

/// Data object `01`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Initiation {
    /// `11`: the same code for many payments.
    Static,
    /// `12`: a code for one payment.
    Dynamic,
}

/// Merchant account information: a payment network's primitive object (`02`–`25`) or a
/// template (`26`–`51`) whose object `00` is a globally unique identifier (an AID or a reverse
/// domain name).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MerchantAccount {
    /// `02`–`25`, defined by the payment network.
    Network(RawObject),
    /// `26`–`51`.
    Template {
        /// The ID, `26`–`51`.
        id: u8,
        /// Sub-object `00`, at most 32 characters.
        guid: String,
        /// Sub-objects `01`–`99`.
        fields: Vec<RawObject>,
    },
}

/// An object kept as ID and value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawObject {
    /// Its ID.
    pub id: u8,
    /// Its value.
    pub value: String,
}

/// Data objects `55`–`57`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tip {
    /// `55` = `01`: the wallet asks the customer for a tip.
    Prompt,
    /// `55` = `02` with `56`: a fixed convenience fee.
    Fixed(String),
    /// `55` = `03` with `57`: a percentage convenience fee.
    Percentage(String),
}

/// Template `62`. Every value is at most 25 characters of the common character set; `***` asks
/// the wallet to prompt the customer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AdditionalData {
    /// `01`: bill number.
    pub bill_number: Option<String>,
    /// `02`: mobile number.
    pub mobile_number: Option<String>,
    /// `03`: store label.
    pub store_label: Option<String>,
    /// `04`: loyalty number.
    pub loyalty_number: Option<String>,
    /// `05`: reference label.
    pub reference_label: Option<String>,
    /// `06`: customer label.
    pub customer_label: Option<String>,
    /// `07`: terminal label.
    pub terminal_label: Option<String>,
    /// `08`: purpose of transaction.
    pub purpose: Option<String>,
    /// `09`: consumer data request, some of `A` (address), `M` (mobile), `E` (email).
    pub consumer_data_request: Option<String>,
    /// `50`–`99`: payment system specific templates.
    pub specific: Vec<RawObject>,
}

/// Template `64`: the merchant's name and city in another language.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LanguageTemplate {
    /// `00`: ISO 639 two-letter language code.
    pub language: String,
    /// `01`: the name, any script, at most 25 characters.
    pub name: String,
    /// `02`: the city, any script, at most 15 characters.
    pub city: Option<String>,
}

/// Where in a code an object sits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Template {
    /// The top level.
    Root,
    /// A merchant account information template (`26`–`51`).
    Account(u8),
    /// Additional data (`62`).
    AdditionalData,
    /// The language template (`64`).
    Language,
    /// An unreserved template (`80`–`99`).
    Unreserved(u8),
}

/// Why a code was refused. Positions count characters from the start of the code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MpmError {
    /// Longer than [`MAX_CHARS`].
    #[error("the code is {length} long; a merchant code has at most {MAX_CHARS} characters")]
    TooLong {
        /// The length, "N bytes" or "N characters".
        length: String,
    },
    /// Not UTF-8.
    #[error("the code is not UTF-8 text (invalid byte at offset {at})")]
    NotUtf8 {
        /// The offset of the first invalid byte.
        at: usize,
    },
    /// The code does not end with `6304` and four hex digits.
    #[error("the code does not end with its CRC object (6304 and four hex digits)")]
    MissingCrc,
    /// The CRC does not match.
    #[error("wrong CRC: the code states {stated:04X}, its contents give {computed:04X}")]
    CrcMismatch {
        /// The CRC written in the code.
        stated: u16,
        /// The CRC of its contents.
        computed: u16,
    },
    /// An ID that is not two digits.
    #[error("{template}: the object ID at character {at} is not two digits")]
    BadId {
        /// Where.
        template: Template,
        /// Position.
        at: usize,
    },
    /// A length that is not two digits.
    #[error("{template}: the length of object {id:02} at character {at} is not two digits")]
    BadLength {
        /// Where.
        template: Template,
        /// The object's ID.
        id: u8,
        /// Position.
        at: usize,
    },
    /// A length that runs past the end of its template.
    #[error(
        "{template}: object {id:02} at character {at} claims {length} characters but only {left} follow"
    )]
    LengthOverrun {
        /// Where.
        template: Template,
        /// The object's ID.
        id: u8,
        /// Position.
        at: usize,
        /// The stated length.
        length: u8,
        /// The characters left in its template.
        left: usize,
    },
    /// A zero length.
    #[error("{template}: object {id:02} at character {at} is empty")]
    Empty {
        /// Where.
        template: Template,
        /// The object's ID.
        id: u8,
        /// Position.
        at: usize,
    },
    /// An ID that appears twice in one template.
    #[error("{template}: object {id:02} at character {at} appears twice")]
    Duplicate {
        /// Where.
        template: Template,
        /// The object's ID.
        id: u8,
        /// Position.
        at: usize,
    },
    /// An ID reserved for future use.
    #[error("{template}: object {id:02} at character {at} is reserved for future use")]
    Reserved {
        /// Where.
        template: Template,
        /// The object's ID.
        id: u8,
        /// Position.
        at: usize,
    },
    /// A control character in a value.
    #[error("{template}: object {id:02} at character {at} contains a control character")]
    ControlCharacter {
        /// Where.
        template: Template,
        /// The object's ID.
        id: u8,
        /// Position.
        at: usize,
    },
    /// A mandatory object is missing.
    #[error("{template}: the mandatory object {id:02} ({what}) is missing")]
    Missing {
        /// Where.
        template: Template,
        /// The object's ID.
        id: u8,
        /// What it is.
        what: &'static str,
    },
    /// `00` is not first or `63` not last.
    #[error("object {id:02} is out of place: {rule}")]
    Misplaced {
        /// The object's ID.
        id: u8,
        /// The rule broken.
        rule: &'static str,
    },
    /// A value of the wrong form.
    #[error("{template}: object {id:02} at character {at} is invalid: {reason}")]
    Invalid {
        /// Where.
        template: Template,
        /// The object's ID.
        id: u8,
        /// Position (0 when building).
        at: usize,
        /// What is wrong.
        reason: &'static str,
    },
}

impl MerchantCode {
    /// Parses and checks a scanned code.
    pub fn parse(bytes: &[u8]) -> Result<Self, MpmError> {
        // Four bytes per character at most: anything longer is refused before decoding.
        if bytes.len() > 4 * MAX_CHARS {
            return Err(MpmError::TooLong {
                length: format!("{} bytes", bytes.len()),
            });
        }
        let text = std::str::from_utf8(bytes).map_err(|e| MpmError::NotUtf8 {
            at: e.valid_up_to(),
        })?;
        let chars = text.chars().count();
        if chars > MAX_CHARS {
            return Err(MpmError::TooLong {
                length: format!("{chars} characters"),
            });
        }
        let (stated, computed) = stated_and_computed(text).ok_or(MpmError::MissingCrc)?;
        if stated != computed {
            return Err(MpmError::CrcMismatch { stated, computed });
        }
        let list = objects(text, Template::Root, 0)?;
        if list.first().map(|o| o.id) != Some(0) {
            return Err(MpmError::Misplaced {
                id: 0,
                rule: "the payload format indicator (00) must come first",
            });
        }
        if list.last().map(|o| o.id) != Some(63) {
            return Err(MpmError::Misplaced {
                id: 63,
                rule: "the CRC (63) must come last",
            });
        }
        parse_root(&list)
    }

    /// The code's text: every object in ascending ID order, then the CRC. Refuses a code that
    /// [`MerchantCode::parse`] would refuse.
    pub fn to_payload(&self) -> Result<String, MpmError> {
        let mut code = self.clone();
        code.normalise();
        let mut out = String::new();
        push(&mut out, Template::Root, 0, "01")?;
        if let Some(initiation) = code.initiation {
            let value = match initiation {
                Initiation::Static => "11",
                Initiation::Dynamic => "12",
            };
            push(&mut out, Template::Root, 1, value)?;
        }
        for account in &code.accounts {
            match account {
                MerchantAccount::Network(object) => {
                    push(&mut out, Template::Root, object.id, &object.value)?;
                }
                MerchantAccount::Template { id, guid, fields } => {
                    let template = Template::Account(*id);
                    let mut inner = String::new();
                    push(&mut inner, template, 0, guid)?;
                    for field in fields {
                        push(&mut inner, template, field.id, &field.value)?;
                    }
                    push(&mut out, Template::Root, *id, &inner)?;
                }
            }
        }
        push(&mut out, Template::Root, 52, &code.mcc)?;
        push(
            &mut out,
            Template::Root,
            53,
            &format!("{:03}", code.currency),
        )?;
        if let Some(amount) = &code.amount {
            push(&mut out, Template::Root, 54, amount)?;
        }
        match &code.tip {
            None => {}
            Some(Tip::Prompt) => push(&mut out, Template::Root, 55, "01")?,
            Some(Tip::Fixed(fee)) => {
                push(&mut out, Template::Root, 55, "02")?;
                push(&mut out, Template::Root, 56, fee)?;
            }
            Some(Tip::Percentage(fee)) => {
                push(&mut out, Template::Root, 55, "03")?;
                push(&mut out, Template::Root, 57, fee)?;
            }
        }
        push(&mut out, Template::Root, 58, &code.country)?;
        push(&mut out, Template::Root, 59, &code.name)?;
        push(&mut out, Template::Root, 60, &code.city)?;
        if let Some(postal) = &code.postal_code {
            push(&mut out, Template::Root, 61, postal)?;
        }
        if let Some(additional) = &code.additional {
            push(&mut out, Template::Root, 62, &additional.to_text()?)?;
        }
        if let Some(language) = &code.language {
            let t = Template::Language;
            let mut inner = String::new();
            push(&mut inner, t, 0, &language.language)?;
            push(&mut inner, t, 1, &language.name)?;
            if let Some(city) = &language.city {
                push(&mut inner, t, 2, city)?;
            }
            push(&mut out, Template::Root, 64, &inner)?;
        }
        for object in &code.unreserved {
            push(&mut out, Template::Root, object.id, &object.value)?;
        }
        append_crc(&mut out);
        // The output must be a code this module accepts, and mean the same.
        let back = Self::parse(out.as_bytes())?;
        if back != code {
            return Err(MpmError::Invalid {
                template: Template::Root,
                id: 0,
                at: 0,
                reason: "the code does not read back as built",
            });
        }
        Ok(out)
    }

    /// The amount in minor units of a currency with `exponent` decimals ("23.72" with 2 is
    /// 2372), or `None` without an amount or when it has more decimals than the currency.
    pub fn amount_minor(&self, exponent: u32) -> Option<u64> {
        parse_amount(self.amount.as_deref()?, exponent)
    }

    /// The merchant account template with this GUID, if any: its fields.
    pub fn account(&self, guid: &str) -> Option<&[RawObject]> {
        self.accounts.iter().find_map(|account| match account {
            MerchantAccount::Template {
                guid: g, fields, ..
            } if g == guid => Some(fields.as_slice()),
            _ => None,
        })
    }

    fn normalise(&mut self) {
        self.accounts.sort_by_key(MerchantAccount::id);
        for account in &mut self.accounts {
            if let MerchantAccount::Template { fields, .. } = account {
                fields.sort_by_key(|f| f.id);
            }
        }
        if let Some(additional) = &mut self.additional {
            additional.specific.sort_by_key(|f| f.id);
        }
        self.unreserved.sort_by_key(|f| f.id);
    }
}

impl MerchantAccount {
    /// Its ID.
    pub fn id(&self) -> u8 {
        match self {
            Self::Network(object) => object.id,
            Self::Template { id, .. } => *id,
        }
    }
}

impl RawObject {
    /// An object.
    pub fn new(id: u8, value: impl Into<String>) -> Self {
        Self {
            id,
            value: value.into(),
        }
    }
}

impl AdditionalData {
    fn to_text(&self) -> Result<String, MpmError> {
        let t = Template::AdditionalData;
        let mut out = String::new();
        let fields = [
            (1, &self.bill_number),
            (2, &self.mobile_number),
            (3, &self.store_label),
            (4, &self.loyalty_number),
            (5, &self.reference_label),
            (6, &self.customer_label),
            (7, &self.terminal_label),
            (8, &self.purpose),
            (9, &self.consumer_data_request),
        ];
        for (id, value) in fields {
            if let Some(value) = value {
                push(&mut out, t, id, value)?;
            }
        }
        for object in &self.specific {
            push(&mut out, t, object.id, &object.value)?;
        }
        Ok(out)
    }
}

/// Formats an amount of `minor` units with `exponent` decimals as a code writes it
/// (2372, 2 → "23.72"; 500, 0 → "500").
pub fn format_amount(minor: u64, exponent: u32) -> String {
    if exponent == 0 {
        return minor.to_string();
    }
    let scale = 10u64.saturating_pow(exponent);
    format!(
        "{}.{:0width$}",
        minor / scale,
        minor % scale,
        width = exponent as usize
    )
}

impl fmt::Display for Template {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Root => f.write_str("the code"),
            Self::Account(id) => write!(f, "merchant account template {id:02}"),
            Self::AdditionalData => f.write_str("additional data (62)"),
            Self::Language => f.write_str("language template (64)"),
            Self::Unreserved(id) => write!(f, "unreserved template {id:02}"),
        }
    }
}

/// Appends one object; its value must be 1 to 99 characters.
fn push(out: &mut String, t: Template, id: u8, value: &str) -> Result<(), MpmError> {
    let length = value.chars().count();
    if length == 0 {
        return Err(MpmError::Empty {
            template: t,
            id,
            at: 0,
        });
    }
    if length > 99 {
        return Err(MpmError::Invalid {
            template: t,
            id,
            at: 0,
            reason: "a value has at most 99 characters",
        });
    }
    out.push_str(&format!("{id:02}{length:02}{value}"));
    Ok(())
}
