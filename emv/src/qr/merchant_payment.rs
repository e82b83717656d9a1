//! What softpos puts in its merchant-presented codes and reads back (`docs/qr-merchant-code.md`):
//! the merchant account template `26` with GUID [`GUID`] holding the terminal ID (`01`) and the
//! current token (`02`), and the payment's reference in additional data `05`. The terminal
//! builds a code with [`build`]; the wallet reads what it pays with [`read`].

use super::mpm::{
    AdditionalData, Initiation, LanguageTemplate, MerchantAccount, MerchantCode, MpmError,
    RawObject, format_amount,
};

/// The globally unique identifier of softpos's merchant account template (a reverse domain
/// name in the reserved `.invalid` domain).
pub const GUID: &str = "invalid.softpos.pay";

/// The merchant's fixed details, from the terminal's configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Merchant {
    /// Merchant category code, four digits.
    pub mcc: String,
    /// ISO 3166-1 alpha-2 country.
    pub country: String,
    /// Name in the common character set.
    pub name: String,
    /// City in the common character set.
    pub city: String,
    /// Name and city in the merchant's own language and script, if any.
    pub local: Option<LanguageTemplate>,
    /// A label for the terminal (additional data `07`).
    pub terminal_label: Option<String>,
}

/// One payment as the code carries it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payment {
    /// The terminal (DE 41).
    pub terminal_id: String,
    /// The host's reference of the payment.
    pub reference: String,
    /// The current token, twelve digits.
    pub token: String,
    /// The amount in minor units.
    pub amount: u64,
    /// ISO 4217 numeric currency.
    pub currency: u16,
    /// The bill number, if any.
    pub bill_number: Option<String>,
}

/// Why a parsed code is not a softpos payment.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ReadError {
    /// The code does not parse.
    #[error(transparent)]
    Code(#[from] MpmError),
    /// A static code, or no softpos account template.
    #[error("not a softpos payment code")]
    NotSoftpos,
    /// A field is missing or malformed.
    #[error("the code has no valid {0}")]
    Missing(&'static str),
}

/// The code's text for `payment`, with amounts written with `exponent` decimals.
pub fn build(merchant: &Merchant, payment: &Payment, exponent: u32) -> Result<String, MpmError> {
    MerchantCode {
        initiation: Some(Initiation::Dynamic),
        accounts: vec![MerchantAccount::Template {
            id: 26,
            guid: GUID.to_owned(),
            fields: vec![
                RawObject::new(1, payment.terminal_id.clone()),
                RawObject::new(2, payment.token.clone()),
            ],
        }],
        mcc: merchant.mcc.clone(),
        currency: payment.currency,
        amount: Some(format_amount(payment.amount, exponent)),
        tip: None,
        country: merchant.country.clone(),
        name: merchant.name.clone(),
        city: merchant.city.clone(),
        postal_code: None,
        additional: Some(AdditionalData {
            bill_number: payment.bill_number.clone(),
            reference_label: Some(payment.reference.clone()),
            terminal_label: merchant.terminal_label.clone(),
            ..AdditionalData::default()
        }),
        language: merchant.local.clone(),
        unreserved: Vec::new(),
    }
    .to_payload()
}

/// Reads the payment out of a scanned code (the wallet's side); amounts have `exponent`
/// decimals.
pub fn read(scanned: &[u8], exponent: u32) -> Result<Payment, ReadError> {
    let code = MerchantCode::parse(scanned)?;
    if code.initiation != Some(Initiation::Dynamic) {
        return Err(ReadError::NotSoftpos);
    }
    let fields = code.account(GUID).ok_or(ReadError::NotSoftpos)?;
    let field = |id: u8| fields.iter().find(|f| f.id == id).map(|f| f.value.clone());
    let token = field(2)
        .filter(|t| t.len() == TOKEN_DIGITS && t.bytes().all(|b| b.is_ascii_digit()))
        .ok_or(ReadError::Missing("token"))?;
    let additional = code.additional.clone().unwrap_or_default();
    Ok(Payment {
        terminal_id: field(1).ok_or(ReadError::Missing("terminal ID"))?,
        reference: additional
            .reference_label
            .ok_or(ReadError::Missing("reference"))?,
        token,
        amount: code
            .amount_minor(exponent)
            .ok_or(ReadError::Missing("amount"))?,
        currency: code.currency,
        bill_number: additional.bill_number,
    })
}

/// Digits of a token (10^12 ≈ 2^39.9 values).
pub const TOKEN_DIGITS: usize = 12;

/// Formats a token as the short code shown beside the picture: `1234 5678 9012`.
pub fn short_code(token: &str) -> String {
    let digits: Vec<char> = token.chars().collect();
    digits
        .chunks(4)
        .map(|c| c.iter().collect::<String>())
        .collect::<Vec<_>>()
        .join(" ")
}

/// A typed short code back into a token: spaces and dashes dropped, twelve digits required.
pub fn parse_short_code(typed: &str) -> Option<String> {
    let digits: String = typed.chars().filter(|c| !matches!(c, ' ' | '-')).collect();
    (digits.len() == TOKEN_DIGITS && digits.bytes().all(|b| b.is_ascii_digit())).then_some(digits)
}
