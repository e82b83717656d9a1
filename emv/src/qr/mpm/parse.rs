//! From a template's data objects to a [`MerchantCode`]: the mandatory objects, the formats of
//! each value and the character sets, with an [`MpmError`] naming the object and its position.

use super::reader::{Object, objects};
use super::{
    AdditionalData, Initiation, LanguageTemplate, MerchantAccount, MerchantCode, MpmError,
    RawObject, Template, Tip,
};

pub(super) fn parse_root(list: &[Object<'_>]) -> Result<MerchantCode, MpmError> {
    let t = Template::Root;
    let mut initiation = None;
    let mut accounts = Vec::new();
    let (mut mcc, mut currency, mut amount, mut country, mut name, mut city) =
        (None, None, None, None, None, None);
    let (mut tip_kind, mut fixed, mut percentage, mut postal_code) = (None, None, None, None);
    let (mut additional, mut language) = (None, None);
    let mut unreserved = Vec::new();
    for o in list {
        match o.id {
            0 => {
                if o.value != "01" {
                    return Err(invalid(t, o, "the payload format indicator must be 01"));
                }
            }
            1 => {
                initiation = Some(match o.value {
                    "11" => Initiation::Static,
                    "12" => Initiation::Dynamic,
                    _ => return Err(invalid(t, o, "the point of initiation must be 11 or 12")),
                });
            }
            2..=25 => accounts.push(MerchantAccount::Network(RawObject::new(
                o.id,
                common(t, o, 99)?,
            ))),
            26..=51 => accounts.push(parse_account(o)?),
            52 => mcc = Some(digits(t, o, 4, "the MCC must be four digits")?),
            53 => {
                let value = digits(t, o, 3, "the currency must be three digits (ISO 4217)")?;
                currency = value.parse::<u16>().ok();
            }
            54 => {
                let value = common(t, o, 13)?;
                if !is_decimal(&value) {
                    return Err(invalid(
                        t,
                        o,
                        "the amount must be digits with at most one '.'",
                    ));
                }
                amount = Some(value);
            }
            55 => tip_kind = Some(*o),
            56 => fixed = Some((*o, decimal(t, o, 13)?)),
            57 => percentage = Some((*o, decimal(t, o, 5)?)),
            58 => {
                if o.value.len() != 2 || !o.value.bytes().all(|b| b.is_ascii_uppercase()) {
                    return Err(invalid(
                        t,
                        o,
                        "the country must be two capital letters (ISO 3166)",
                    ));
                }
                country = Some(o.value.to_owned());
            }
            59 => name = Some(common(t, o, 25)?),
            60 => city = Some(common(t, o, 15)?),
            61 => postal_code = Some(common(t, o, 10)?),
            62 => additional = Some(parse_additional(o)?),
            63 => {}
            64 => language = Some(parse_language(o)?),
            65..=79 => {
                return Err(MpmError::Reserved {
                    template: t,
                    id: o.id,
                    at: o.at,
                });
            }
            _ => unreserved.push(RawObject::new(o.id, any_text(t, o, 99)?)),
        }
    }
    let tip = match (tip_kind, fixed, percentage) {
        (None, None, None) => None,
        (Some(o), None, None) if o.value == "01" => Some(Tip::Prompt),
        (Some(o), Some((_, fee)), None) if o.value == "02" => Some(Tip::Fixed(fee)),
        (Some(o), None, Some((_, fee))) if o.value == "03" => Some(Tip::Percentage(fee)),
        (Some(o), _, _) => {
            return Err(invalid(
                t,
                &o,
                "the tip indicator must be 01 alone, 02 with 56 or 03 with 57",
            ));
        }
        (None, Some((o, _)), _) | (None, None, Some((o, _))) => {
            return Err(invalid(
                t,
                &o,
                "a convenience fee needs the tip indicator 55",
            ));
        }
    };
    if accounts.is_empty() {
        return Err(missing(t, 26, "merchant account information"));
    }
    accounts.sort_by_key(MerchantAccount::id);
    unreserved.sort_by_key(|o| o.id);
    Ok(MerchantCode {
        initiation,
        accounts,
        mcc: mcc.ok_or(missing(t, 52, "merchant category code"))?,
        currency: currency.ok_or(missing(t, 53, "transaction currency"))?,
        amount,
        tip,
        country: country.ok_or(missing(t, 58, "country code"))?,
        name: name.ok_or(missing(t, 59, "merchant name"))?,
        city: city.ok_or(missing(t, 60, "merchant city"))?,
        postal_code,
        additional,
        language,
        unreserved,
    })
}

fn parse_account(o: &Object<'_>) -> Result<MerchantAccount, MpmError> {
    let t = Template::Account(o.id);
    let mut guid = None;
    let mut fields = Vec::new();
    for inner in objects(o.value, t, o.at + 4)? {
        match inner.id {
            0 => guid = Some(common(t, &inner, 32)?),
            _ => fields.push(RawObject::new(inner.id, common(t, &inner, 99)?)),
        }
    }
    fields.sort_by_key(|f| f.id);
    Ok(MerchantAccount::Template {
        id: o.id,
        guid: guid.ok_or(missing(t, 0, "globally unique identifier"))?,
        fields,
    })
}

fn parse_additional(o: &Object<'_>) -> Result<AdditionalData, MpmError> {
    let t = Template::AdditionalData;
    let mut data = AdditionalData::default();
    for inner in objects(o.value, t, o.at + 4)? {
        let slot = match inner.id {
            1 => &mut data.bill_number,
            2 => &mut data.mobile_number,
            3 => &mut data.store_label,
            4 => &mut data.loyalty_number,
            5 => &mut data.reference_label,
            6 => &mut data.customer_label,
            7 => &mut data.terminal_label,
            8 => &mut data.purpose,
            9 => {
                let value = common(t, &inner, 3)?;
                if !value.chars().all(|c| matches!(c, 'A' | 'M' | 'E')) {
                    return Err(invalid(
                        t,
                        &inner,
                        "a consumer data request is made of A, M and E",
                    ));
                }
                data.consumer_data_request = Some(value);
                continue;
            }
            50..=99 => {
                data.specific
                    .push(RawObject::new(inner.id, any_text(t, &inner, 99)?));
                continue;
            }
            _ => {
                return Err(MpmError::Reserved {
                    template: t,
                    id: inner.id,
                    at: inner.at,
                });
            }
        };
        *slot = Some(common(t, &inner, 25)?);
    }
    data.specific.sort_by_key(|f| f.id);
    Ok(data)
}

fn parse_language(o: &Object<'_>) -> Result<LanguageTemplate, MpmError> {
    let t = Template::Language;
    let (mut language, mut name, mut city) = (None, None, None);
    for inner in objects(o.value, t, o.at + 4)? {
        match inner.id {
            0 => {
                if inner.value.len() != 2 || !inner.value.bytes().all(|b| b.is_ascii_alphabetic()) {
                    return Err(invalid(
                        t,
                        &inner,
                        "the language must be two letters (ISO 639)",
                    ));
                }
                language = Some(inner.value.to_owned());
            }
            1 => name = Some(any_text(t, &inner, 25)?),
            2 => city = Some(any_text(t, &inner, 15)?),
            _ => {
                return Err(MpmError::Reserved {
                    template: t,
                    id: inner.id,
                    at: inner.at,
                });
            }
        }
    }
    Ok(LanguageTemplate {
        language: language.ok_or(missing(t, 0, "language preference"))?,
        name: name.ok_or(missing(t, 1, "merchant name, alternate language"))?,
        city,
    })
}

/// A value of any script, without control characters, of at most `max` characters.
fn any_text(t: Template, o: &Object<'_>, max: usize) -> Result<String, MpmError> {
    if o.value.chars().any(char::is_control) {
        return Err(MpmError::ControlCharacter {
            template: t,
            id: o.id,
            at: o.at,
        });
    }
    if o.value.chars().count() > max {
        return Err(invalid(t, o, "the value is longer than its object allows"));
    }
    Ok(o.value.to_owned())
}

/// A value of the EMVCo common character set (printable ASCII) of at most `max` characters.
fn common(t: Template, o: &Object<'_>, max: usize) -> Result<String, MpmError> {
    let value = any_text(t, o, max)?;
    if !value.bytes().all(|b| (0x20..=0x7E).contains(&b)) {
        return Err(invalid(
            t,
            o,
            "only the common character set is allowed here (a local-script name goes in template 64)",
        ));
    }
    Ok(value)
}

fn digits(t: Template, o: &Object<'_>, n: usize, reason: &'static str) -> Result<String, MpmError> {
    if o.value.len() != n || !o.value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid(t, o, reason));
    }
    Ok(o.value.to_owned())
}

fn decimal(t: Template, o: &Object<'_>, max: usize) -> Result<String, MpmError> {
    let value = common(t, o, max)?;
    if !is_decimal(&value) {
        return Err(invalid(
            t,
            o,
            "the value must be digits with at most one '.'",
        ));
    }
    Ok(value)
}

/// Digits with at most one '.', at least one digit before it.
fn is_decimal(text: &str) -> bool {
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    !whole.is_empty()
        && whole.bytes().all(|b| b.is_ascii_digit())
        && fraction.bytes().all(|b| b.is_ascii_digit())
}

pub(super) fn parse_amount(text: &str, exponent: u32) -> Option<u64> {
    if !is_decimal(text) {
        return None;
    }
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    let decimals = u32::try_from(fraction.len()).ok()?;
    if decimals > exponent {
        return None;
    }
    let whole: u64 = whole.parse().ok()?;
    let fraction: u64 = if fraction.is_empty() {
        0
    } else {
        fraction.parse().ok()?
    };
    let scale = 10u64.checked_pow(exponent)?;
    whole
        .checked_mul(scale)?
        .checked_add(fraction.checked_mul(10u64.checked_pow(exponent - decimals)?)?)
}

fn invalid(template: Template, o: &Object<'_>, reason: &'static str) -> MpmError {
    MpmError::Invalid {
        template,
        id: o.id,
        at: o.at,
        reason,
    }
}

fn missing(template: Template, id: u8, what: &'static str) -> MpmError {
    MpmError::Missing { template, id, what }
}
