//! The data of one tap: what the card returned (with the duplicate check of EMV Book 3 §10.2),
//! the AFL and its records, the static data for ODA, and the session the kernel states pass on.

use std::collections::BTreeMap;

use zeroize::Zeroizing;

use crate::apdu::Command;
use crate::dol::Dol;
use crate::entry_point::Candidate;
use crate::oda::{CdaInput, OdaFailure, OdaInput, OdaMethod, OdaResult};
use crate::pan::{Pan, Track2};
use crate::tlv::{self, Tag, Tlv};

use super::outcome::{
    CardSummary, CryptogramType, Cvm, OnlineRequestData, Outcome, OutcomeKind, RecordDump,
    UiMessage,
};
use super::select::Selection;
use super::{Context, KernelError, KernelId};

/// The card's primitive data objects, each at most once.
#[derive(Default)]
pub(crate) struct CardData {
    objects: BTreeMap<Tag, Zeroizing<Vec<u8>>>,
}

impl CardData {
    /// Stores every primitive object of `list`, descending into templates. A primitive object
    /// seen twice terminates the transaction (Book 3 §10.2; security §F B3).
    pub(crate) fn absorb(&mut self, list: &[Tlv]) -> Result<(), KernelError> {
        for object in list {
            match object.bytes() {
                Some(bytes) => {
                    if self.objects.contains_key(&object.tag()) {
                        return Err(KernelError::DuplicateTag(object.tag()));
                    }
                    self.objects
                        .insert(object.tag(), Zeroizing::new(bytes.to_vec()));
                }
                None => self.absorb(object.children())?,
            }
        }
        Ok(())
    }

    /// The value of a card object.
    pub(crate) fn get(&self, tag: u32) -> Option<&[u8]> {
        self.objects.get(&Tag::new(tag)).map(|v| v.as_slice())
    }

    /// A mandatory card object.
    pub(crate) fn require(&self, tag: u32) -> Result<&[u8], KernelError> {
        self.get(tag).ok_or(KernelError::MissingData(Tag::new(tag)))
    }

    /// Sets a value the kernel derived (for example `9F26` recovered by CDA).
    pub(crate) fn set(&mut self, tag: u32, value: Vec<u8>) {
        self.objects.insert(Tag::new(tag), Zeroizing::new(value));
    }
}

/// The records to read, from the AFL (EMV Book 3 §10.2): `(sfi, record, for ODA)`.
#[derive(Debug, Default)]
pub(crate) struct RecordPlan {
    records: Vec<(u8, u8, bool)>,
    next: usize,
}

impl RecordPlan {
    /// Parses `94`: entries of 4 bytes (SFI << 3, first, last, number for ODA).
    pub(crate) fn from_afl(afl: &[u8]) -> Result<Self, KernelError> {
        if !afl.len().is_multiple_of(4) {
            return Err(KernelError::CardData(
                "the AFL is not a multiple of 4 bytes",
            ));
        }
        let mut records = Vec::new();
        for entry in afl.chunks_exact(4) {
            let &[sfi_byte, first, last, oda] = entry else {
                continue;
            };
            let sfi = sfi_byte >> 3;
            if !(1..=30).contains(&sfi) || sfi_byte & 0x07 != 0 {
                return Err(KernelError::CardData("the AFL names an invalid SFI"));
            }
            if first == 0 || last < first || usize::from(oda) > usize::from(last - first) + 1 {
                return Err(KernelError::CardData("the AFL has an invalid record range"));
            }
            for record in first..=last {
                records.push((sfi, record, record - first < oda));
            }
        }
        Ok(Self { records, next: 0 })
    }

    /// The next READ RECORD and whether the record counts for ODA.
    pub(crate) fn next_command(&mut self) -> Option<(Command, u8, u8, bool)> {
        let &(sfi, record, oda) = self.records.get(self.next)?;
        self.next += 1;
        Some((Command::read_record(sfi, record), sfi, record, oda))
    }

    /// The SFI, record and ODA flag of the last command returned.
    pub(crate) fn current(&self) -> Option<(u8, u8, bool)> {
        self.next
            .checked_sub(1)
            .and_then(|i| self.records.get(i))
            .copied()
    }
}

/// What every kernel state carries after SELECT AID.
pub(crate) struct Session {
    /// The remaining candidates, for Select Next.
    pub(crate) selection: Selection,
    /// The selected candidate.
    pub(crate) candidate: Candidate,
    /// `84` DF name from the FCI (the selected AID).
    pub(crate) adf_name: Vec<u8>,
    /// The PDOL, if the card sent one.
    pub(crate) pdol: Option<Dol>,
    /// The PDOL related data sent in GPO.
    pub(crate) pdol_data: Vec<u8>,
    /// Card objects from GPO, records and GENERATE AC.
    pub(crate) card: CardData,
    /// Static data to be authenticated (Book 3 §10.3).
    pub(crate) static_data: Vec<u8>,
    /// Set when a record for ODA was not a `70` template (Book 3 §10.3: ODA fails).
    pub(crate) static_data_invalid: bool,
    /// `95` terminal verification results.
    pub(crate) tvr: [u8; 5],
    /// `9F66` TTQ sent (Kernels 3 and 7).
    pub(crate) ttq: Option<[u8; 4]>,
    /// `9F34` CVM results.
    pub(crate) cvm_results: [u8; 3],
    /// The display summary being built.
    pub(crate) summary: CardSummary,
}

impl Session {
    /// A value for a DOL or DE 55: kernel data, then terminal data, then card data.
    pub(crate) fn value(&self, ctx: &Context<'_>, tag: u32) -> Option<Vec<u8>> {
        match tag {
            0x95 => Some(self.tvr.to_vec()),
            0x9F66 => self.ttq.map(|t| t.to_vec()),
            0x9F34 => Some(self.cvm_results.to_vec()),
            0x84 | 0x4F | 0x9F06 => Some(self.adf_name.clone()),
            0x9F09 => ctx
                .aid_config(self.candidate.config_index)
                .ok()
                .map(|aid| aid.application_version.0.to_vec()),
            _ => ctx
                .terminal_value(tag)
                .or_else(|| self.card.get(tag).map(<[u8]>::to_vec)),
        }
    }

    /// Adds a decoded response to the summary.
    pub(crate) fn record_dump(&mut self, source: String, list: &[Tlv]) {
        self.summary.records.push(RecordDump {
            source,
            objects: tlv::decode(list),
        });
    }

    /// Adds a record to the static data (Book 3 §10.3): SFI 1-10 the value of the `70`
    /// template; SFI 11-30 the whole record.
    pub(crate) fn add_static_data(&mut self, sfi: u8, raw: &[u8], list: &[Tlv]) {
        let template = match list {
            [only] if only.tag() == Tag::new(0x70) => Some(only),
            _ => None,
        };
        if sfi <= 10 {
            match (template, raw.first()) {
                (Some(_), Some(0x70)) => self.static_data.extend_from_slice(template_value(raw)),
                _ => self.static_data_invalid = true,
            }
        } else {
            self.static_data.extend_from_slice(raw);
        }
    }

    /// The static data with the AIP appended when `9F4A` lists `82` (Book 3 §10.3).
    pub(crate) fn static_data_for_oda(&self) -> Vec<u8> {
        let mut data = self.static_data.clone();
        if self.card.get(0x9F4A) == Some(&[0x82])
            && let Some(aip) = self.card.get(0x82)
        {
            data.extend_from_slice(aip);
        }
        data
    }

    /// Runs offline data authentication of `method` on this tap's card data (the `OdaInput`
    /// contract): the card's certificates and signed data, the static data, and the terminal
    /// data the signature covers. A record flagged for ODA that is not a `70` template fails
    /// before any RSA.
    pub(crate) fn authenticate(
        &self,
        ctx: &Context<'_>,
        method: OdaMethod,
        terminal_dynamic_data: &[u8],
        cda: Option<CdaInput<'_>>,
    ) -> Option<OdaResult> {
        if self.static_data_invalid {
            return Some(OdaResult {
                method,
                status: Err(OdaFailure::MissingData(
                    "a record for ODA is not a 70 template",
                )),
                recovered_cryptogram: None,
                recovered_dynamic_number: None,
            });
        }
        let card = &self.card;
        let static_data = self.static_data_for_oda();
        let mut rid = [0u8; 5];
        if let Some(prefix) = self.adf_name.get(..5) {
            rid.copy_from_slice(prefix);
        }
        let input = OdaInput {
            method,
            rid,
            ca_public_key_index: card.get(0x8F).and_then(|v| v.first()).copied(),
            issuer_public_key_certificate: card.get(0x90),
            issuer_public_key_remainder: card.get(0x92),
            issuer_public_key_exponent: card.get(0x9F32),
            icc_public_key_certificate: card.get(0x9F46),
            icc_public_key_exponent: card.get(0x9F47),
            icc_public_key_remainder: card.get(0x9F48),
            pan: card.get(0x5A),
            static_data: &static_data,
            signed_static_application_data: card.get(0x93),
            signed_dynamic_application_data: card.get(0x9F4B),
            terminal_dynamic_data,
            cda,
            transaction_date: ctx.request.date,
        };
        ctx.oda.authenticate(&input)
    }

    /// Checks and extracts the account data (security §F B3): `57` mandatory, `5A` (if
    /// present) equal to the track 2 PAN, `5F24` mandatory when `require_expiry`.
    pub(crate) fn account(&mut self, require_expiry: bool) -> Result<Account, KernelError> {
        let track2 = Track2::from_bytes(self.card.require(0x57)?)?;
        let track_pan = track2.pan()?;
        let pan = match self.card.get(0x5A) {
            Some(bytes) => {
                let pan = Pan::from_compressed_numeric(bytes)?;
                if pan != track_pan {
                    return Err(KernelError::PanMismatch);
                }
                pan
            }
            None => track_pan,
        };
        let expiry_yymm = match self.card.get(0x5F24) {
            Some(&[yy, mm, _]) => hex::encode([yy, mm]),
            Some(_) => return Err(KernelError::CardData("5F24 is not 3 bytes")),
            None if require_expiry => return Err(KernelError::MissingData(Tag::new(0x5F24))),
            None => track2.expiry_yymm().to_owned(),
        };
        let pan_sequence_number = self
            .card
            .get(0x5F34)
            .and_then(|v| v.first())
            .map(|&b| (b >> 4) * 10 + (b & 0x0F));
        self.summary.masked_pan = Some(pan.masked());
        self.summary.expiry_yymm = Some(expiry_yymm.clone());
        Ok(Account {
            pan,
            track2,
            expiry_yymm,
            pan_sequence_number,
        })
    }

    /// DE 55 (shared docs §2.4): the listed tags that have a value, in order.
    pub(crate) fn icc_data(&self, ctx: &Context<'_>, tags: &[u32]) -> Vec<u8> {
        let mut out = Vec::new();
        for &tag in tags {
            if let Some(value) = self.value(ctx, tag) {
                out.extend_from_slice(&tlv::encode_primitive(Tag::new(tag), &value));
            }
        }
        out
    }

    /// The final outcome with the summary, TVR and, for Online Request, the online data.
    pub(crate) fn outcome(
        mut self,
        ctx: &Context<'_>,
        decision: Decision,
        account: Option<Account>,
        oda: Option<OdaResult>,
    ) -> Box<Outcome> {
        let kernel = Some(self.candidate.kernel);
        self.summary
            .label
            .get_or_insert_with(|| self.candidate.label.clone());
        self.summary.aid = Some(self.adf_name.clone());
        let issuer_update_supported = self.candidate.kernel != KernelId::Mastercard
            && self.ttq.is_some_and(|t| t[2] & TTQ3_ISSUER_UPDATE != 0)
            && self
                .card
                .get(0x9F6C)
                .and_then(|c| c.get(1))
                .is_some_and(|b| b & CTQ2_ISSUER_UPDATE != 0);
        // Online Request: the authorisation. Approved with a TC: the advice that uploads it.
        let cryptogram = match decision.kind {
            OutcomeKind::OnlineRequest => Some(decision.cryptogram.unwrap_or(CryptogramType::Arqc)),
            OutcomeKind::Approved if decision.cryptogram == Some(CryptogramType::Tc) => {
                Some(CryptogramType::Tc)
            }
            _ => None,
        };
        let data = match (cryptogram, account) {
            (Some(cryptogram_type), Some(account)) => {
                let mut tags = DE55_TAGS.to_vec();
                if self.candidate.kernel != KernelId::Mastercard {
                    tags.push(0x9F66);
                }
                Some(OnlineRequestData {
                    icc_data: self.icc_data(ctx, &tags),
                    masked_pan: account.pan.masked(),
                    pan: account.pan,
                    track2: Some(account.track2),
                    expiry_yymm: account.expiry_yymm,
                    pan_sequence_number: account.pan_sequence_number,
                    cvm_results: self.cvm_results,
                    cryptogram_type,
                    aid: self.adf_name.clone(),
                    issuer_update_supported,
                })
            }
            _ => None,
        };
        let (online, advice) = if decision.kind == OutcomeKind::OnlineRequest {
            (data, None)
        } else {
            (None, data)
        };
        Box::new(Outcome {
            kind: decision.kind,
            reason: decision.reason,
            cvm: decision.cvm,
            kernel,
            ui_message: decision.ui_message,
            restart: decision.restart,
            tvr: self.tvr,
            card: self.summary,
            online,
            advice,
            oda,
        })
    }
}

/// The account data of the card (secret parts in secret types).
pub(crate) struct Account {
    pub(crate) pan: Pan,
    pub(crate) track2: Track2,
    pub(crate) expiry_yymm: String,
    pub(crate) pan_sequence_number: Option<u8>,
}

/// A kernel's decision, before it becomes an [`Outcome`].
pub(crate) struct Decision {
    pub(crate) kind: OutcomeKind,
    pub(crate) reason: String,
    pub(crate) cvm: Cvm,
    pub(crate) ui_message: UiMessage,
    pub(crate) restart: Option<super::Start>,
    pub(crate) cryptogram: Option<CryptogramType>,
}

impl Decision {
    /// A decision without restart.
    pub(crate) fn new(kind: OutcomeKind, reason: impl Into<String>, cvm: Cvm) -> Self {
        let ui_message = match (kind, cvm) {
            (OutcomeKind::Approved, Cvm::Signature) => UiMessage::ApprovedSign,
            (OutcomeKind::Approved, _) => UiMessage::Approved,
            (OutcomeKind::OnlineRequest, Cvm::OnlinePin) => UiMessage::EnterPin,
            (OutcomeKind::OnlineRequest, _) => UiMessage::Authorising,
            (OutcomeKind::Declined, _) => UiMessage::NotAuthorised,
            (OutcomeKind::TryAnotherInterface, _) => UiMessage::InsertOrSwipeCard,
            (OutcomeKind::TryAgain, _) => UiMessage::PresentCardAgain,
            _ => UiMessage::TryAnotherCard,
        };
        Self {
            kind,
            reason: reason.into(),
            cvm,
            ui_message,
            restart: None,
            cryptogram: None,
        }
    }
}

/// The value bytes of a `70 L V` record (the input was checked to be one `70` object).
fn template_value(raw: &[u8]) -> &[u8] {
    let skip = match raw.get(1) {
        Some(0x81) => 3,
        Some(0x82) => 4,
        _ => 2,
    };
    raw.get(skip..).unwrap_or(&[])
}

/// The DE 55 tag list (shared docs §2.4): core, then "send", then conditional. `9F41` needs a
/// terminal sequence counter the request does not carry: see
/// [`super::OnlineRequestData::icc_data_with_sequence_counter`].
/// TTQ byte 3 b8: the reader supports Issuer Update Processing (Book C-3 Table 5-3; shared docs
/// §2.1).
const TTQ3_ISSUER_UPDATE: u8 = 0x80;
/// CTQ byte 2 b7: the card supports Issuer Update Processing (shared docs §2.1).
const CTQ2_ISSUER_UPDATE: u8 = 0x40;

pub(crate) const DE55_TAGS: &[u32] = &[
    0x9F26, 0x9F27, 0x9F10, 0x9F37, 0x9F36, 0x95, 0x9A, 0x9C, 0x9F02, 0x5F2A, 0x82, 0x9F1A, 0x9F03,
    0x9F33, 0x9F34, 0x9F35, 0x84, 0x9F09, 0x9F1E, 0x9F6E, 0x5F34,
];
