//! What the issuer sent back in DE 55 of an 0110/0210 (`docs/iso8583.md` §4), and what the
//! contactless card flow does with it. Sans-IO: the app hands the response bytes in and gets a
//! decision out; nothing is sent to a card here.
//!
//! EMV Book 3 Annex A: `91` issuer authentication data (ARPC method 1: ARPC (8) ‖ ARC (2);
//! method 2: ARPC (4) ‖ CSU (4) ‖ optional proprietary data, Book 2 §8.2), `71`/`72` issuer
//! script templates 1/2 holding an optional `9F18` script identifier and `86` issuer script
//! commands (Book 3 §10.10).
//!
//! Contactless: Kernel 2 (C-2) and Kernels 3/7 (C-3 §5, C-7) end with the first cryptogram;
//! the issuer data only matters for Issuer Update Processing (Kernels 3/7), which needs the
//! terminal to offer it (TTQ byte 3 b8) and the card to support it (CTQ byte 2 b7), and then a
//! second tap on which the terminal sends EXTERNAL AUTHENTICATE / the script commands
//! (`/work/shared/docs/emv-qr-facts.md` §2.1). This module decides; it does not run that tap.

use crate::tlv::{self, Tag, TlvError, Value};

use super::outcome::OnlineRequestData;

/// The issuer data of one authorisation response.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct IssuerResponse {
    /// `91` issuer authentication data (8 to 16 bytes), if present.
    pub authentication_data: Option<Vec<u8>>,
    /// `71`/`72` issuer scripts, in the order received.
    pub scripts: Vec<IssuerScript>,
}

/// One issuer script template (EMV Book 3 §10.10).
#[derive(Clone, PartialEq, Eq)]
pub struct IssuerScript {
    /// Which template it came in.
    pub template: ScriptTemplate,
    /// `9F18` issuer script identifier (4 bytes), if present.
    pub identifier: Option<[u8; 4]>,
    /// The `86` issuer script commands (each a C-APDU of at least CLA INS P1 P2).
    pub commands: Vec<Vec<u8>>,
}

/// The two issuer script templates (EMV Book 3 Annex A).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScriptTemplate {
    /// `71`: run before the final GENERATE AC.
    BeforeFinalGenerateAc,
    /// `72`: run after the final GENERATE AC.
    AfterFinalGenerateAc,
}

/// What the card flow needs after the issuer's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum IssuerUpdate {
    /// The issuer sent nothing for the card.
    NothingReturned,
    /// The issuer sent data but this card flow ends with the first cryptogram (Kernel 2, or a
    /// Kernel 3/7 card or terminal without Issuer Update Processing): it is recorded, not
    /// sent to the card.
    NotForThisCard,
    /// Kernel 3/7 Issuer Update Processing: the card must be presented again so that the
    /// issuer authentication data and scripts reach it (Book C-3 §5, C-7).
    SecondTap,
}

/// Why an issuer response could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IssuerResponseError {
    /// DE 55 is not valid BER-TLV.
    #[error("malformed issuer data: {0}")]
    Tlv(#[from] TlvError),
    /// `91` is shorter than 8 or longer than 16 bytes (EMV Book 3 Annex A).
    #[error("issuer authentication data (91) has {0} bytes, 8 to 16 expected")]
    AuthenticationDataLength(usize),
    /// A `91` or `9F18` that is a template, or a `71`/`72` that is not.
    #[error("issuer data object {0} has the wrong form")]
    WrongForm(Tag),
    /// `9F18` is not 4 bytes.
    #[error("issuer script identifier (9F18) has {0} bytes, 4 expected")]
    ScriptIdentifierLength(usize),
    /// An `86` command shorter than a C-APDU header.
    #[error("issuer script command (86) has {0} bytes, at least 4 expected")]
    ScriptCommandLength(usize),
    /// A `91` appeared twice.
    #[error("issuer authentication data (91) appears twice")]
    DuplicateAuthenticationData,
}

impl IssuerResponse {
    /// Parses DE 55 of an authorisation response. Objects other than `91`, `71` and `72` are
    /// skipped (hosts may echo request tags). An empty DE 55 is an empty response.
    pub fn parse(de55: &[u8]) -> Result<Self, IssuerResponseError> {
        let mut response = Self::default();
        for object in tlv::parse(de55)? {
            match object.tag().number() {
                0x91 => {
                    let bytes = object
                        .bytes()
                        .ok_or(IssuerResponseError::WrongForm(object.tag()))?;
                    if !(8..=16).contains(&bytes.len()) {
                        return Err(IssuerResponseError::AuthenticationDataLength(bytes.len()));
                    }
                    if response.authentication_data.is_some() {
                        return Err(IssuerResponseError::DuplicateAuthenticationData);
                    }
                    response.authentication_data = Some(bytes.to_vec());
                }
                number @ (0x71 | 0x72) => {
                    let Value::Constructed(children) = object.value() else {
                        return Err(IssuerResponseError::WrongForm(object.tag()));
                    };
                    let template = if number == 0x71 {
                        ScriptTemplate::BeforeFinalGenerateAc
                    } else {
                        ScriptTemplate::AfterFinalGenerateAc
                    };
                    let mut script = IssuerScript {
                        template,
                        identifier: None,
                        commands: Vec::new(),
                    };
                    for child in children {
                        let bytes = child
                            .bytes()
                            .ok_or(IssuerResponseError::WrongForm(child.tag()))?;
                        match child.tag().number() {
                            0x9F18 => {
                                let id = <[u8; 4]>::try_from(bytes).map_err(|_| {
                                    IssuerResponseError::ScriptIdentifierLength(bytes.len())
                                })?;
                                script.identifier = Some(id);
                            }
                            0x86 if bytes.len() < 4 => {
                                return Err(IssuerResponseError::ScriptCommandLength(bytes.len()));
                            }
                            0x86 => script.commands.push(bytes.to_vec()),
                            _ => {}
                        }
                    }
                    response.scripts.push(script);
                }
                _ => {}
            }
        }
        Ok(response)
    }

    /// Whether the issuer sent anything for the card.
    pub fn is_empty(&self) -> bool {
        self.authentication_data.is_none() && self.scripts.is_empty()
    }

    /// The authorisation response cryptogram of `91`: the first 8 bytes (method 1) or 4 bytes
    /// (method 2), told apart by the length (10 bytes is method 1, EMV Book 2 §8.2).
    pub fn arpc(&self) -> Option<&[u8]> {
        let data = self.authentication_data.as_deref()?;
        let len = if data.len() == 10 { 8 } else { 4 };
        data.get(..len)
    }

    /// What the card flow of `online` (the tap that produced the request) needs next.
    pub fn update_for(&self, online: &OnlineRequestData) -> IssuerUpdate {
        if self.is_empty() {
            IssuerUpdate::NothingReturned
        } else if online.issuer_update_supported {
            IssuerUpdate::SecondTap
        } else {
            IssuerUpdate::NotForThisCard
        }
    }
}

impl core::fmt::Debug for IssuerResponse {
    /// Lengths only: the ARPC and script commands are issuer-to-card data, not for logs.
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("IssuerResponse")
            .field(
                "authentication_data_len",
                &self.authentication_data.as_ref().map(Vec::len),
            )
            .field("scripts", &self.scripts)
            .finish()
    }
}

impl core::fmt::Debug for IssuerScript {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("IssuerScript")
            .field("template", &self.template)
            .field("identifier", &self.identifier.map(hex::encode_upper))
            .field("commands", &self.commands.len())
            .finish()
    }
}
