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
    /// `0F` Processing error.
    ProcessingError,
    /// `10` Remove card.
    RemoveCard,
    /// `14` Welcome.
    Welcome,
    /// `16` Processing.
    Processing,
    /// `19` Please present one card only.
    PresentOneCardOnly,
    /// `1D` Please insert card.
    InsertCard,
    /// `1E` Clear display.
    ClearDisplay,
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
            Self::ProcessingError => 0x0F,
            Self::RemoveCard => 0x10,
            Self::Welcome => 0x14,
            Self::Processing => 0x16,
            Self::PresentOneCardOnly => 0x19,
            Self::InsertCard => 0x1D,
            Self::ClearDisplay => 0x1E,
        }
    }

    /// The English text of the message (Book A Table 7-1).
    pub fn text(self) -> &'static str {
        match self {
            Self::Approved => "Approved",
            Self::NotAuthorised => "Not authorised",
            Self::EnterPin => "Please enter your PIN",
            Self::PresentCard => "Present card",
            Self::CardReadOk => "Card read OK, please remove card",
            Self::InsertOrSwipeCard => "Please insert or swipe card",
            Self::ApprovedSign => "Approved, please sign",
            Self::Authorising => "Authorising, please wait",
            Self::TryAnotherCard => "Insert, swipe or try another card",
            Self::SeePhone => "See phone for instructions",
            Self::PresentCardAgain => "Present card again",
            Self::ProcessingError => "Processing error",
            Self::RemoveCard => "Remove card",
            Self::Welcome => "Welcome",
            Self::Processing => "Processing",
            Self::PresentOneCardOnly => "Please present one card only",
            Self::InsertCard => "Please insert card",
            Self::ClearDisplay => "",
        }
    }
}

/// The reader status of a User Interface Request (Book A §7.1, `DF8116` byte 2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum UiStatus {
    /// `00` Not ready.
    NotReady,
    /// `01` Idle.
    Idle,
    /// `02` Ready to read.
    ReadyToRead,
    /// `03` Processing.
    Processing,
    /// `04` Card read successfully.
    CardReadSuccessfully,
    /// `05` Processing error.
    ProcessingError,
}

impl UiStatus {
    /// The Book A status code.
    pub fn code(self) -> u8 {
        match self {
            Self::NotReady => 0x00,
            Self::Idle => 0x01,
            Self::ReadyToRead => 0x02,
            Self::Processing => 0x03,
            Self::CardReadSuccessfully => 0x04,
            Self::ProcessingError => 0x05,
        }
    }
}

/// What the value of a User Interface Request is (Book A §7.1, `DF8116` byte 14).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UiValue {
    /// `00` No value.
    None,
    /// `10` An amount, in minor units of `currency` (ISO 4217 numeric).
    Amount {
        /// Minor units.
        value: u64,
        /// ISO 4217 numeric.
        currency: u16,
    },
    /// `20` A balance, in minor units of `currency`.
    Balance {
        /// Minor units.
        value: u64,
        /// ISO 4217 numeric.
        currency: u16,
    },
}

impl UiValue {
    /// The Book A value qualifier.
    pub fn qualifier(self) -> u8 {
        match self {
            Self::None => 0x00,
            Self::Amount { .. } => 0x10,
            Self::Balance { .. } => 0x20,
        }
    }
}

/// A User Interface Request (Book A §7.1 "User Interface Request Data", `DF8116`): what the
/// reader asks the display to show, and for how long.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UiRequest {
    /// The message identifier.
    pub message: UiMessage,
    /// The reader status.
    pub status: UiStatus,
    /// How long the message stays up (Book A encodes it in units of 100 ms).
    pub hold_time: std::time::Duration,
    /// Language preference (`5F2D`, up to four ISO 639-1 codes), when the card gave one.
    pub language: Option<String>,
    /// The value shown with the message.
    pub value: UiValue,
}

impl UiRequest {
    /// A request with no hold time, no language preference and no value.
    pub fn new(message: UiMessage, status: UiStatus) -> Self {
        Self {
            message,
            status,
            hold_time: std::time::Duration::ZERO,
            language: None,
            value: UiValue::None,
        }
    }

    /// The same request showing `value`.
    pub fn with_value(mut self, value: UiValue) -> Self {
        self.value = value;
        self
    }

    /// The same request held for `hold_time`.
    pub fn held(mut self, hold_time: std::time::Duration) -> Self {
        self.hold_time = hold_time;
        self
    }

    /// The hold time as Book A encodes it (units of 100 ms, at most `999999`).
    pub fn hold_time_units(&self) -> u32 {
        u32::try_from(self.hold_time.as_millis() / 100)
            .unwrap_or(u32::MAX)
            .min(999_999)
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
