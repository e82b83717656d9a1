//! The result of a transaction: the Outcome of EMV Contactless Book A §6.2 / Book B §3.5, with
//! the data the app needs for the UI, the receipt and the authorisation.

use core::fmt;

use crate::oda::OdaResult;
use crate::pan::{MaskedPan, Pan, Track2};
use crate::tlv::DecodedTlv;

use super::KernelId;

/// What the kernel hands back at the end of a tap.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The outcome (Book A §6.2.1).
    pub kind: OutcomeKind,
    /// Why, in words for the log and the operator (never account data).
    pub reason: String,
    /// The CVM the cardholder must perform (or performed on the device).
    pub cvm: Cvm,
    /// The kernel that ran, `None` when the Entry Point stopped before kernel activation.
    pub kernel: Option<KernelId>,
    /// The message to show (Book A §7.2, message identifiers).
    pub ui_message: UiMessage,
    /// Where to restart (Book A §6.2.2 "Start"), for Try Again and restarts.
    pub restart: Option<Start>,
    /// `95` terminal verification results at the end.
    pub tvr: [u8; 5],
    /// What was read from the card, safe to show and log.
    pub card: CardSummary,
    /// For Online Request: what the authorisation needs.
    pub online: Option<OnlineRequestData>,
    /// For an offline approval (a TC, [`OutcomeKind::Approved`]): the same data, DE 55
    /// carrying the TC (`9F26`, `9F27` = `40`), for the 0220 advice that uploads it later
    /// (store-and-forward, `docs/iso8583.md` §4). `None` for every other outcome.
    pub advice: Option<OnlineRequestData>,
    /// The result of offline data authentication, when it was attempted.
    pub oda: Option<OdaResult>,
}

/// The seven outcomes of EMV Contactless Book A §6.2.1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum OutcomeKind {
    /// Approved offline.
    Approved,
    /// Declined offline.
    Declined,
    /// Send the authorisation to the issuer.
    OnlineRequest,
    /// Use the contact chip or magnetic stripe instead.
    TryAnotherInterface,
    /// The transaction ends (no usable application, a card error).
    EndApplication,
    /// Try the next candidate (handled inside the Entry Point; never returned by [`super::run`]).
    SelectNext,
    /// Present the card again.
    TryAgain,
}

impl OutcomeKind {
    /// The Outcome Parameter Set status byte (Book C-2 `DF8129` byte 1).
    pub fn status_byte(self) -> u8 {
        match self {
            Self::Approved => 0x10,
            Self::Declined => 0x20,
            Self::OnlineRequest => 0x30,
            Self::EndApplication => 0x40,
            Self::SelectNext => 0x50,
            Self::TryAnotherInterface => 0x60,
            Self::TryAgain => 0x70,
        }
    }
}

/// The restart point (Book A §6.2.2.1 "Start").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start {
    /// Start A: pre-processing.
    A,
    /// Start B: protocol activation (present the card again).
    B,
    /// Start C: combination selection (next candidate).
    C,
    /// Start D: kernel activation.
    D,
}

/// The cardholder verification decided by the kernel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Cvm {
    /// No CVM.
    NoCvm,
    /// Enciphered PIN verified online: the app collects the PIN.
    OnlinePin,
    /// Signature on the receipt.
    Signature,
    /// Consumer device CVM (the phone's passcode or biometrics) already done.
    ConsumerDevice,
    /// Not applicable (no kernel reached CVM processing).
    NotApplicable,
}

/// UI message identifiers (Book A §7.2 Table 7-1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum UiMessage {
    /// `03` Approved.
    Approved,
    /// `07` Not authorised.
    NotAuthorised,
    /// `09` Please enter your PIN.
    EnterPin,
    /// `15` Present card.
    PresentCard,
    /// `17` Card read OK, remove card.
    CardReadOk,
    /// `18` Please insert or swipe card.
    InsertOrSwipeCard,
    /// `1A` Approved, please sign.
    ApprovedSign,
    /// `1B` Authorising, please wait.
    Authorising,
    /// `1C` Insert, swipe or try another card.
    TryAnotherCard,
    /// `20` See phone for instructions.
    SeePhone,
    /// `21` Present card again.
    PresentCardAgain,
}

impl UiMessage {
    /// The Book A message identifier.
    pub fn id(self) -> u8 {
        match self {
            Self::Approved => 0x03,
            Self::NotAuthorised => 0x07,
            Self::EnterPin => 0x09,
            Self::PresentCard => 0x15,
            Self::CardReadOk => 0x17,
            Self::InsertOrSwipeCard => 0x18,
            Self::ApprovedSign => 0x1A,
            Self::Authorising => 0x1B,
            Self::TryAnotherCard => 0x1C,
            Self::SeePhone => 0x20,
            Self::PresentCardAgain => 0x21,
        }
    }
}

/// What was read from the card, without secrets: safe to show, log and journal.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CardSummary {
    /// Application label (`50`) or the configured label.
    pub label: Option<String>,
    /// The selected AID (`84`/`4F`).
    pub aid: Option<Vec<u8>>,
    /// The masked PAN.
    pub masked_pan: Option<MaskedPan>,
    /// Expiry YYMM (from `5F24`, else from track 2).
    pub expiry_yymm: Option<String>,
    /// `82` application interchange profile.
    pub aip: Option<[u8; 2]>,
    /// `94` application file locator.
    pub afl: Option<Vec<u8>>,
    /// `8E` CVM list.
    pub cvm_list: Option<Vec<u8>>,
    /// The FCI, the GPO response and every record, decoded with sensitive values masked.
    pub records: Vec<RecordDump>,
}

/// One decoded card response for [`CardSummary::records`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordDump {
    /// What it is: `"FCI"`, `"GPO"`, `"SFI 2 record 3"`, `"GENERATE AC"`.
    pub source: String,
    /// The decoded objects.
    pub objects: Vec<DecodedTlv>,
}

/// The type of the application cryptogram (`9F27` b8-b7, EMV Book 3 §6.5.5.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CryptogramType {
    /// `00` AAC.
    Aac,
    /// `40` TC.
    Tc,
    /// `80` ARQC.
    Arqc,
}

/// What an Online Request hands to the authorisation (ISO 8583 DE 2, 14, 23, 35, 55).
///
/// Holds the full PAN and track 2 in secret types: `Debug` shows only masked data.
#[derive(Clone)]
pub struct OnlineRequestData {
    /// DE 55: the BER-TLV ICC data (no PAN, no track 2).
    pub icc_data: Vec<u8>,
    /// The full PAN (secret).
    pub pan: Pan,
    /// The masked PAN, for display.
    pub masked_pan: MaskedPan,
    /// Track 2 equivalent data (secret).
    pub track2: Option<Track2>,
    /// Expiry YYMM (DE 14).
    pub expiry_yymm: String,
    /// `5F34` PAN sequence number (DE 23).
    pub pan_sequence_number: Option<u8>,
    /// `9F34` CVM results.
    pub cvm_results: [u8; 3],
    /// The cryptogram sent online.
    pub cryptogram_type: CryptogramType,
    /// The selected AID.
    pub aid: Vec<u8>,
    /// Whether Issuer Update Processing is possible on a second tap: Kernels 3/7 with the
    /// terminal offering it (TTQ `9F66` byte 3 b8) and the card supporting it (CTQ `9F6C`
    /// byte 2 b7), EMV Book C-3 §5 / C-7; never for Kernel 2. See
    /// [`super::IssuerResponse::update_for`].
    pub issuer_update_supported: bool,
}

impl OnlineRequestData {
    /// DE 55 with `9F41` transaction sequence counter appended (n 8, four BCD bytes; EMV Book 3
    /// Annex A1). The request carries no counter, so the app adds the one it keeps.
    pub fn icc_data_with_sequence_counter(&self, counter: u32) -> Vec<u8> {
        let mut digits = [0u8; 4];
        let mut value = counter % 100_000_000;
        for byte in digits.iter_mut().rev() {
            let low = value % 10;
            let high = (value / 10) % 10;
            value /= 100;
            *byte = u8::try_from((high << 4) | low).unwrap_or(0);
        }
        let mut out = self.icc_data.clone();
        out.extend_from_slice(&crate::tlv::encode_primitive(
            crate::tlv::Tag::new(0x9F41),
            &digits,
        ));
        out
    }
}

impl fmt::Debug for OnlineRequestData {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OnlineRequestData")
            .field("icc_data", &hex::encode_upper(&self.icc_data))
            .field("masked_pan", &self.masked_pan)
            .field("expiry_yymm", &self.expiry_yymm)
            .field("pan_sequence_number", &self.pan_sequence_number)
            .field("cvm_results", &hex::encode_upper(self.cvm_results))
            .field("cryptogram_type", &self.cryptogram_type)
            .field("issuer_update_supported", &self.issuer_update_supported)
            .finish_non_exhaustive()
    }
}
