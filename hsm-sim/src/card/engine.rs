//! The card engine: (card state, C-APDU bytes) → R-APDU bytes, for every profile.
//!
//! Commands (EMV Book 1 §11, Book 3 §6.5): SELECT (PPSE and AID), GET PROCESSING OPTIONS,
//! READ RECORD, GENERATE AC (Mastercard), INTERNAL AUTHENTICATE (`legacy-dda`), GET DATA
//! (`9F36`) and GET RESPONSE. Anything else is answered `6D00` (unknown instruction), `6E00`
//! (wrong class) or `6A86` (wrong P1-P2). No input makes the engine panic.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use emv::crypto::cryptogram::{
    CryptogramInput, DerivationOption, application_cryptogram, derive_icc_master_key,
};
use emv::crypto::key::TdesKey16;
use emv::oda::{CdaInput, transaction_data_hash_code};
use emv::tlv::{self, Tag};
use emv::{CardTransport, Command, Response, StatusWord, TransportError};
use tracing::{debug, warn};
use zeroize::Zeroizing;

use super::dol::Dol;
use super::oda;
use super::pki::{
    FORMAT_DYNAMIC, FORMAT_VISA_FDDA, combined_signed_dynamic_application_data,
    signed_dynamic_application_data,
};
use super::profile::{Fault, LegacyOda, Profile, Record, Scheme, afl_of};
use crate::hsm::test_keys;

/// A virtual contactless card: a [`Profile`] plus its state (selected application, ATC, whether
/// it is still in the field).
///
/// It implements [`CardTransport`], so a kernel test can run against it in process:
///
/// ```
/// use emv::{CardTransport, Command};
/// use hsm_sim::card::VirtualCard;
///
/// let mut card = VirtualCard::from_profile("visa").expect("a known profile");
/// let fci = card.transmit(&Command::select_by_name(b"2PAY.SYS.DDF01")).unwrap();
/// assert!(fci.is_success());
/// ```
///
/// Cards built with [`VirtualCard::new`] or [`VirtualCard::from_profile`] share one ATC per
/// PAN and PSN for the whole process, so two cards of the same profile never repeat an ATC
/// (which the host would take for a replay). [`VirtualCard::with_atc`] gives a card its own
/// counter instead.
pub struct VirtualCard {
    profile: Profile,
    icc_master_key: Option<TdesKey16>,
    atc: Arc<AtomicU16>,
    records: Arc<[Record]>,
    afl: Vec<u8>,
    session: Session,
    pdol_data: Vec<u8>,
    pending: Zeroizing<Vec<u8>>,
    removed: bool,
    taps: u32,
    /// The available offline spending amount (`9F5D`, minor units) left on this card.
    offline_available: u64,
}

/// The engine's answer to one C-APDU.
pub struct Reply {
    /// The R-APDU: data ‖ SW1 ‖ SW2.
    pub bytes: Zeroizing<Vec<u8>>,
    /// Whether the card leaves the field after this answer (fault `vanish-after-gpo`).
    pub leaves_field: bool,
}

impl Reply {
    /// The status word of the answer.
    pub fn status(&self) -> StatusWord {
        let len = self.bytes.len();
        match self.bytes.get(len.saturating_sub(2)..) {
            Some([sw1, sw2]) => StatusWord::from(u16::from_be_bytes([*sw1, *sw2])),
            _ => StatusWord::NoPreciseDiagnosis,
        }
    }
}

impl core::fmt::Debug for Reply {
    // The data may hold the PAN or track 2.
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(
            f,
            "Reply({} bytes, SW {}, leaves_field: {})",
            self.bytes.len(),
            self.status(),
            self.leaves_field
        )
    }
}

impl VirtualCard {
    /// A card personalized with `profile`, sharing the process-wide ATC of its PAN and PSN.
    ///
    /// The ICC master key is derived here, once, from the issuer's IMK-AC
    /// ([`test_keys::imk_ac_for_rid`]) with EMV Book 2 Annex A1.4 option A. If that fails, the
    /// card still answers, but a command that needs a cryptogram gets `6F00`.
    pub fn new(profile: Profile) -> Self {
        let icc_master_key = test_keys::imk_ac_for_rid(profile.rid()).and_then(|imk| {
            derive_icc_master_key(
                &imk,
                profile.pan_digits(),
                profile.pan_sequence_number(),
                DerivationOption::A,
            )
            .map_err(|e| {
                warn!(
                    profile = profile.name(),
                    "ICC master key derivation failed: {e}"
                )
            })
            .ok()
        });
        let atc = shared_atc(&profile);
        let profile_offline_limit = profile.offline_spending_limit().unwrap_or(0);
        let records = personalized_records(&profile);
        let afl = afl_of(&records);
        Self {
            profile,
            icc_master_key,
            atc,
            records,
            afl,
            session: Session::Idle,
            pdol_data: Vec::new(),
            pending: Zeroizing::new(Vec::new()),
            removed: false,
            taps: 0,
            offline_available: profile_offline_limit,
        }
    }

    /// The card of the profile called `name` (see [`Profile::names`]), or `None`.
    pub fn from_profile(name: &str) -> Option<Self> {
        Profile::by_name(name).map(Self::new)
    }

    /// Gives the card its own ATC counter, starting at `atc` (the next GPO answers `atc + 1`).
    pub fn with_atc(mut self, atc: u16) -> Self {
        self.atc = Arc::new(AtomicU16::new(atc));
        self
    }

    /// The card's personalization.
    pub fn profile(&self) -> &Profile {
        &self.profile
    }

    /// The current application transaction counter (the value the last GPO answered).
    pub fn atc(&self) -> u16 {
        self.atc.load(Ordering::SeqCst)
    }

    /// How many GPOs this card has answered (taps).
    pub fn taps(&self) -> u32 {
        self.taps
    }

    /// Whether the card has left the field (fault `vanish-after-gpo`); [`VirtualCard::power_cycle`]
    /// brings it back.
    pub fn is_removed(&self) -> bool {
        self.removed
    }

    /// Power off and on again, or a new tap: the session (selected application, transaction in
    /// progress) is reset and the card is back in the field. The ATC is kept.
    pub fn power_cycle(&mut self) {
        self.session = Session::Idle;
        self.pdol_data.clear();
        self.pending = Zeroizing::new(Vec::new());
        self.removed = false;
    }

    /// Answers one C-APDU (ISO/IEC 7816-4 §5.1 short form). Never panics.
    pub fn process(&mut self, command: &[u8]) -> Reply {
        let (data, status, leaves_field) = match parse_command(command) {
            Ok(apdu) => {
                debug!(
                    profile = self.profile.name(),
                    "C-APDU {:02X} {:02X} {:02X} {:02X} Lc={}",
                    apdu.cla,
                    apdu.ins,
                    apdu.p1,
                    apdu.p2,
                    apdu.data.len()
                );
                let is_get_response = apdu.ins == INS_GET_RESPONSE;
                if !is_get_response {
                    self.pending = Zeroizing::new(Vec::new());
                }
                match self.dispatch(&apdu) {
                    Ok(answer) => (answer.data, StatusWord::Success, answer.leaves_field),
                    Err(status) => (Zeroizing::new(Vec::new()), status, false),
                }
            }
            Err(status) => (Zeroizing::new(Vec::new()), status, false),
        };
        let bytes = self.finish(data, status);
        if leaves_field {
            self.removed = true;
        }
        let reply = Reply {
            bytes,
            leaves_field,
        };
        debug!(
            profile = self.profile.name(),
            "R-APDU SW {} ({} bytes)",
            reply.status(),
            reply.bytes.len()
        );
        reply
    }

    fn dispatch(&mut self, apdu: &CommandApdu<'_>) -> Result<Answer, StatusWord> {
        let expected_class = match apdu.ins {
            INS_SELECT | INS_READ_RECORD | INS_GET_RESPONSE => CLA_ISO,
            INS_INTERNAL_AUTHENTICATE if self.profile.legacy_oda() == Some(LegacyOda::Dda) => {
                CLA_ISO
            }
            INS_GET_PROCESSING_OPTIONS | INS_GENERATE_AC | INS_GET_DATA => CLA_PROPRIETARY,
            _ if apdu.cla == CLA_ISO || apdu.cla == CLA_PROPRIETARY => {
                return Err(StatusWord::InstructionNotSupported);
            }
            _ => return Err(StatusWord::ClassNotSupported),
        };
        if apdu.cla != expected_class {
            return Err(StatusWord::ClassNotSupported);
        }
        match apdu.ins {
            INS_SELECT => self.select(apdu),
            INS_GET_PROCESSING_OPTIONS => self.get_processing_options(apdu),
            INS_READ_RECORD => self.read_record(apdu),
            INS_GENERATE_AC => self.generate_ac(apdu),
            INS_GET_DATA => self.get_data(apdu),
            INS_INTERNAL_AUTHENTICATE => self.internal_authenticate(apdu),
            _ => self.get_response(),
        }
    }

    /// EMV Book 1 §11.3 SELECT: the PPSE (Book B §3.3.2) or the application by (partial) name.
    fn select(&mut self, apdu: &CommandApdu<'_>) -> Result<Answer, StatusWord> {
        if apdu.p1 != 0x04 || !matches!(apdu.p2, 0x00 | 0x02) {
            return Err(StatusWord::IncorrectP1P2);
        }
        let next = apdu.p2 == 0x02;
        if apdu.data == PPSE_NAME {
            if next {
                return Err(StatusWord::FileNotFound);
            }
            self.session = Session::Ppse;
            return Ok(Answer::plain(self.ppse_fci()));
        }
        let aid = self.profile.aid();
        if apdu.data.len() < 5 || !aid.starts_with(apdu.data) || next {
            return Err(StatusWord::FileNotFound);
        }
        if self.profile.fault() == Some(Fault::SelectNotFound) {
            return Err(StatusWord::FileNotFound);
        }
        self.session = Session::Selected;
        Ok(Answer::plain(self.application_fci()))
    }

    /// EMV Book 3 §6.5.8 GET PROCESSING OPTIONS: checks the `83` template against the PDOL,
    /// counts the tap (ATC), and answers format 2 (`77`).
    fn get_processing_options(&mut self, apdu: &CommandApdu<'_>) -> Result<Answer, StatusWord> {
        if apdu.p1 != 0x00 || apdu.p2 != 0x00 {
            return Err(StatusWord::IncorrectP1P2);
        }
        if self.session != Session::Selected {
            return Err(StatusWord::ConditionsNotSatisfied);
        }
        let pdol = Dol::parse(self.profile.pdol()).ok_or(StatusWord::NoPreciseDiagnosis)?;
        let pdol_data = command_template(apdu.data).ok_or(StatusWord::WrongLength)?;
        if pdol_data.len() != pdol.data_length() {
            return Err(StatusWord::WrongLength);
        }
        if self.profile.fault() == Some(Fault::GpoConditionsNotSatisfied) {
            return Err(StatusWord::ConditionsNotSatisfied);
        }
        let atc = self
            .atc
            .fetch_add(1, Ordering::SeqCst)
            .wrapping_add(1)
            .to_be_bytes();
        self.taps = self.taps.saturating_add(1);
        let mut body = match self.profile.scheme() {
            Scheme::Visa | Scheme::UnionPay => self.quick_gpo_response(&pdol, pdol_data, atc)?,
            Scheme::Mastercard => [
                tlv::encode_primitive(Tag::new(0x82), &self.profile.aip()),
                tlv::encode_primitive(Tag::new(0x94), &self.afl),
            ]
            .concat(),
        };
        if self.profile.fault() == Some(Fault::TruncatedTlv) {
            // A lone first byte of a two-byte tag, counted in the template's length.
            body.push(0x9F);
        }
        let data = Zeroizing::new(tlv::encode_template(Tag::new(0x77), &body));
        body.fill(0);
        self.session = Session::Processing { atc };
        self.pdol_data = pdol_data.to_vec();
        Ok(Answer {
            data,
            leaves_field: self.profile.fault() == Some(Fault::VanishAfterGpo),
        })
    }

    /// The available offline spending amount (`9F5D`, minor units) this card has left; 0 for
    /// a card that never approves offline.
    pub fn offline_available(&self) -> u64 {
        self.offline_available
    }

    /// The qVSDC / qUICS GPO response body (EMV Book C-3 §5.4, C-7): card data, IAD, the
    /// cryptogram of [`VirtualCard::card_risk_management`] (ARQC or TC), CTQ.
    fn quick_gpo_response(
        &mut self,
        pdol: &Dol,
        pdol_data: &[u8],
        atc: [u8; 2],
    ) -> Result<Vec<u8>, StatusWord> {
        let ttq = pdol.fixed::<4>(pdol_data, 0x9F66);
        let amount = pdol.fixed::<6>(pdol_data, 0x9F02);
        let ctq = self.card_transaction_qualifiers(ttq, amount);
        let cid = self.card_risk_management(ttq, amount, ctq);
        let iad = issuer_application_data(self.profile.scheme(), cid);
        let input = cryptogram_input(pdol, pdol_data, self.profile.aip(), atc, &iad);
        let cryptogram = self.cryptogram(&input)?;
        if cid == CID_TC {
            let spent = bcd_amount(amount).unwrap_or(u64::MAX);
            self.offline_available = self.offline_available.saturating_sub(spent);
        }
        let mut body = Vec::with_capacity(128);
        body.extend(tlv::encode_primitive(Tag::new(0x82), &self.profile.aip()));
        body.extend(tlv::encode_primitive(Tag::new(0x94), &self.afl));
        body.extend(tlv::encode_primitive(
            Tag::new(0x57),
            &self.profile.track2(),
        ));
        body.extend(tlv::encode_primitive(
            Tag::new(0x5F34),
            &[self.profile.pan_sequence_number()],
        ));
        body.extend(tlv::encode_primitive(Tag::new(0x9F10), &iad));
        body.extend(tlv::encode_primitive(Tag::new(0x9F26), &cryptogram));
        body.extend(tlv::encode_primitive(Tag::new(0x9F27), &[cid]));
        body.extend(tlv::encode_primitive(Tag::new(0x9F36), &atc));
        body.extend(tlv::encode_primitive(Tag::new(0x9F6C), &ctq));
        if let Some(form_factor) = self.profile.form_factor() {
            body.extend(tlv::encode_primitive(Tag::new(0x9F6E), &form_factor));
        }
        if self.profile.aip()[0] & AIP1_DDA != 0
            && self.profile.legacy_oda().is_none()
            && let Some(key) = oda::icc_key(&self.profile)
        {
            // fDDA (EMV Book C-3 Annex C, shared docs §3): card authentication related data
            // 9F69 = version 01 ‖ card unpredictable number ‖ CTQ; the card signs
            // 02 ‖ ATC over 9F37 ‖ 9F02 ‖ 5F2A ‖ 9F69.
            let card_unpredictable_number = random::<4>()?;
            let card_auth = [&[FDDA_VERSION][..], &card_unpredictable_number, &ctq].concat();
            // Fault `oda-bad-fdda-signature`: the card signs another card unpredictable number
            // than the one it returns in 9F69.
            let mut signed_card_auth = card_auth.clone();
            if self.profile.fault() == Some(Fault::BadFddaSignature)
                && let Some(byte) = signed_card_auth.get_mut(1)
            {
                *byte ^= 0xFF;
            }
            let terminal = [
                &pdol.fixed::<4>(pdol_data, 0x9F37)[..],
                &amount,
                &pdol.fixed::<2>(pdol_data, 0x5F2A),
                &signed_card_auth,
            ]
            .concat();
            let format = match self.profile.scheme() {
                Scheme::Visa => FORMAT_VISA_FDDA,
                _ => FORMAT_DYNAMIC,
            };
            let dynamic = [&[0x02][..], &atc].concat();
            let signed = signed_dynamic_application_data(key, format, &dynamic, &terminal)
                .map_err(|e| {
                    warn!(profile = self.profile.name(), "fDDA signature failed: {e}");
                    StatusWord::NoPreciseDiagnosis
                })?;
            body.extend(tlv::encode_primitive(Tag::new(0x9F69), &card_auth));
            body.extend(tlv::encode_primitive(Tag::new(0x9F4B), &signed));
        }
        Ok(body)
    }

    /// Card risk management of a qVSDC card (EMV Book C-3 §5.4, Visa VCPS; shared docs §2.1):
    /// the cryptogram type (`9F27`) the GPO answers.
    ///
    /// A TC (`40`) only if the card approves offline at all (an available offline spending
    /// amount `9F5D`), the reader does not ask for an online cryptogram (TTQ byte 2 bit 8
    /// clear: the reader is offline capable and the amount is within its floor limit), the
    /// card does not ask for online PIN (CTQ byte 1 bit 8), and the amount is within the
    /// available offline spending amount. Otherwise an ARQC (`80`). Fault
    /// `tc-despite-online` skips the TTQ check.
    fn card_risk_management(&self, ttq: [u8; 4], amount: [u8; 6], ctq: [u8; 2]) -> u8 {
        if self.profile.scheme() != Scheme::Visa || self.profile.offline_spending_limit().is_none()
        {
            return CID_ARQC;
        }
        let online_requested = ttq[1] & TTQ2_ONLINE_CRYPTOGRAM_REQUIRED != 0
            && self.profile.fault() != Some(Fault::TcDespiteOnlineRequest);
        let online_pin = ctq[0] & CTQ1_ONLINE_PIN_REQUIRED != 0;
        let within_limit = bcd_amount(amount).is_some_and(|a| a <= self.offline_available);
        if online_requested || online_pin || !within_limit {
            CID_ARQC
        } else {
            CID_TC
        }
    }

    /// Card transaction qualifiers (`9F6C`, shared docs §2.1), decided from the TTQ (`9F66`) and
    /// the amount:
    /// - no CVM needed (TTQ byte 2 bit 7 clear and the amount below the card's own limit):
    ///   `00 00`;
    /// - a phone wallet whose reader supports CDCVM (TTQ byte 3 bit 7): byte 2 `80`, CDCVM
    ///   performed;
    /// - otherwise online PIN if the reader supports it (TTQ byte 1 `04`): byte 1 `80`;
    /// - otherwise signature if supported (TTQ byte 1 `02`): byte 1 `40`.
    fn card_transaction_qualifiers(&self, ttq: [u8; 4], amount: [u8; 6]) -> [u8; 2] {
        let [ttq1, ttq2, ttq3, _] = ttq;
        let over_card_limit = self
            .profile
            .card_cvm_limit()
            .is_some_and(|limit| amount >= limit);
        let mut ctq = [0x00, 0x00];
        if ttq2 & 0x40 == 0 && !over_card_limit {
            return ctq;
        }
        if self.profile.is_consumer_device() && ttq3 & 0x40 != 0 {
            ctq[1] |= 0x80;
        } else if ttq1 & 0x04 != 0 {
            ctq[0] |= 0x80;
        } else if ttq1 & 0x02 != 0 {
            ctq[0] |= 0x40;
        }
        ctq
    }

    /// EMV Book 3 §6.5.11 READ RECORD.
    fn read_record(&mut self, apdu: &CommandApdu<'_>) -> Result<Answer, StatusWord> {
        let sfi = apdu.p2 >> 3;
        if apdu.p2 & 0x07 != 0x04 || apdu.p1 == 0 || sfi == 0 || sfi > 30 {
            return Err(StatusWord::IncorrectP1P2);
        }
        if matches!(self.session, Session::Idle | Session::Ppse) {
            return Err(StatusWord::ConditionsNotSatisfied);
        }
        if !self.records.iter().any(|r| r.sfi == sfi) {
            return Err(StatusWord::FileNotFound);
        }
        self.records
            .iter()
            .find(|r| r.sfi == sfi && r.number == apdu.p1)
            .map(|r| Answer::plain(r.bytes.clone()))
            .ok_or(StatusWord::RecordNotFound)
    }

    /// EMV Book 3 §6.5.5 GENERATE AC (M/Chip): reads CDOL1, answers format 2
    /// `77{9F27, 9F36, 9F26, 9F10}`.
    ///
    /// With P1 bit `10` (CDA requested) and an ARQC or TC, the answer carries the signed
    /// dynamic data `9F4B` instead of `9F26` (EMV Book 2 §6.6): `77{9F27, 9F36, 9F4B, 9F10}`.
    fn generate_ac(&mut self, apdu: &CommandApdu<'_>) -> Result<Answer, StatusWord> {
        if self.profile.cdol1().is_empty() {
            return Err(StatusWord::InstructionNotSupported);
        }
        if apdu.p2 != 0x00 || apdu.p1 & 0x2F != 0 || apdu.p1 & 0xC0 == 0xC0 {
            return Err(StatusWord::IncorrectP1P2);
        }
        let Session::Processing { atc } = self.session else {
            return Err(StatusWord::ConditionsNotSatisfied);
        };
        let cdol1 = Dol::parse(self.profile.cdol1()).ok_or(StatusWord::NoPreciseDiagnosis)?;
        if apdu.data.len() != cdol1.data_length() {
            return Err(StatusWord::WrongLength);
        }
        // The card never approves offline: a TC request is answered with an ARQC.
        let cid = if apdu.p1 & 0xC0 == CID_AAC {
            CID_AAC
        } else {
            CID_ARQC
        };
        let iad = issuer_application_data(self.profile.scheme(), cid);
        let input = cryptogram_input(&cdol1, apdu.data, self.profile.aip(), atc, &iad);
        let cryptogram = self.cryptogram(&input)?;
        let cda_key = if apdu.p1 & P1_CDA != 0 && cid != CID_AAC {
            oda::icc_key(&self.profile)
        } else {
            None
        };
        let body = match cda_key {
            None => vec![
                tlv::encode_primitive(Tag::new(0x9F27), &[cid]),
                tlv::encode_primitive(Tag::new(0x9F36), &atc),
                tlv::encode_primitive(Tag::new(0x9F26), &cryptogram),
                tlv::encode_primitive(Tag::new(0x9F10), &iad),
            ],
            Some(key) => {
                // CDA (EMV Book 2 §6.6): the AC travels inside the signature, over the
                // transaction data hash code of PDOL data ‖ CDOL1 data ‖ the response's other
                // objects in their order.
                let cid_object = tlv::encode_primitive(Tag::new(0x9F27), &[cid]);
                let atc_object = tlv::encode_primitive(Tag::new(0x9F36), &atc);
                let iad_object = tlv::encode_primitive(Tag::new(0x9F10), &iad);
                let without_signature = [cid_object.as_slice(), &atc_object, &iad_object].concat();
                // Fault `oda-cda-wrong-amount`: the hash covers another amount than the one
                // the terminal sent (and the cryptogram was computed over).
                let signed_cdol1_data = match self.profile.fault() {
                    Some(Fault::CdaWrongAmount) => {
                        let amount = cdol1.fixed::<6>(apdu.data, 0x9F02);
                        cdol1.with_value(apdu.data, 0x9F02, &other_amount(amount))
                    }
                    _ => apdu.data.to_vec(),
                };
                let hash = transaction_data_hash_code(&CdaInput {
                    pdol_data: &self.pdol_data,
                    cdol1_data: &signed_cdol1_data,
                    generate_ac_response_without_sdad: &without_signature,
                    cryptogram_information_data: cid,
                });
                let icc_dynamic_number = random::<8>()?;
                let unpredictable_number = cdol1.fixed::<4>(apdu.data, 0x9F37);
                let signed = combined_signed_dynamic_application_data(
                    key,
                    &icc_dynamic_number,
                    cid,
                    cryptogram,
                    hash,
                    &unpredictable_number,
                )
                .map_err(|e| {
                    warn!(profile = self.profile.name(), "CDA signature failed: {e}");
                    StatusWord::NoPreciseDiagnosis
                })?;
                vec![
                    cid_object,
                    atc_object,
                    tlv::encode_primitive(Tag::new(0x9F4B), &signed),
                    iad_object,
                ]
            }
        };
        self.session = Session::Completed;
        Ok(Answer::plain(tlv::encode_template(
            Tag::new(0x77),
            &body.concat(),
        )))
    }

    /// EMV Book 3 §6.5.9 INTERNAL AUTHENTICATE (`legacy-dda` only): the card signs an ICC
    /// dynamic number over the DDOL related data (Book 2 §6.5.1) and answers format 1,
    /// `80` ‖ signed dynamic application data.
    fn internal_authenticate(&mut self, apdu: &CommandApdu<'_>) -> Result<Answer, StatusWord> {
        if apdu.p1 != 0x00 || apdu.p2 != 0x00 {
            return Err(StatusWord::IncorrectP1P2);
        }
        if !matches!(self.session, Session::Processing { .. }) {
            return Err(StatusWord::ConditionsNotSatisfied);
        }
        let ddol = Dol::parse(&oda::DDOL).ok_or(StatusWord::NoPreciseDiagnosis)?;
        if apdu.data.len() != ddol.data_length() {
            return Err(StatusWord::WrongLength);
        }
        let key = oda::icc_key(&self.profile).ok_or(StatusWord::NoPreciseDiagnosis)?;
        let icc_dynamic_number = random::<8>()?;
        let dynamic = [&[0x08][..], &icc_dynamic_number].concat();
        let signed = signed_dynamic_application_data(key, FORMAT_DYNAMIC, &dynamic, apdu.data)
            .map_err(|e| {
                warn!(profile = self.profile.name(), "DDA signature failed: {e}");
                StatusWord::NoPreciseDiagnosis
            })?;
        Ok(Answer::plain(tlv::encode_primitive(
            Tag::new(0x80),
            &signed,
        )))
    }

    /// EMV Book 3 §6.5.7 GET DATA: the ATC (`9F36`) only.
    fn get_data(&mut self, apdu: &CommandApdu<'_>) -> Result<Answer, StatusWord> {
        if matches!(self.session, Session::Idle | Session::Ppse) {
            return Err(StatusWord::ConditionsNotSatisfied);
        }
        match u16::from_be_bytes([apdu.p1, apdu.p2]) {
            0x9F36 => Ok(Answer::plain(tlv::encode_primitive(
                Tag::new(0x9F36),
                &self.atc().to_be_bytes(),
            ))),
            _ => Err(StatusWord::ReferencedDataNotFound),
        }
    }

    /// ISO/IEC 7816-4 §7.6.1 GET RESPONSE, after a `61xx`.
    fn get_response(&mut self) -> Result<Answer, StatusWord> {
        if self.pending.is_empty() {
            return Err(StatusWord::ConditionsNotSatisfied);
        }
        let rest = core::mem::replace(&mut self.pending, Zeroizing::new(Vec::new()));
        Ok(Answer {
            data: rest,
            leaves_field: false,
        })
    }

    /// Appends the status word, splitting data longer than 256 bytes with `61xx`.
    fn finish(&mut self, mut data: Zeroizing<Vec<u8>>, status: StatusWord) -> Zeroizing<Vec<u8>> {
        let mut status = status;
        if data.len() > MAX_RESPONSE_DATA {
            let rest = data.split_off(MAX_RESPONSE_DATA);
            let remaining = u8::try_from(rest.len()).unwrap_or(0x00);
            self.pending = Zeroizing::new(rest);
            status = StatusWord::BytesRemaining(remaining);
        }
        data.extend_from_slice(&status.code().to_be_bytes());
        data
    }

    fn cryptogram(&self, input: &CryptogramInput<'_>) -> Result<[u8; 8], StatusWord> {
        let key = self
            .icc_master_key
            .as_ref()
            .ok_or(StatusWord::NoPreciseDiagnosis)?;
        application_cryptogram(self.profile.cryptogram_version(), key, input).map_err(|e| {
            warn!(profile = self.profile.name(), "cryptogram failed: {e}");
            StatusWord::NoPreciseDiagnosis
        })
    }

    /// The PPSE FCI (EMV Book B §3.3.2): `6F{84, A5{BF0C{61{4F, 50, 87, 9F2A}}}}`.
    fn ppse_fci(&self) -> Vec<u8> {
        let entry = tlv::encode_template(
            Tag::new(0x61),
            &[
                tlv::encode_primitive(Tag::new(0x4F), self.profile.aid()),
                tlv::encode_primitive(Tag::new(0x50), self.profile.label().as_bytes()),
                tlv::encode_primitive(Tag::new(0x87), &[APPLICATION_PRIORITY]),
                tlv::encode_primitive(Tag::new(0x9F2A), &[self.profile.kernel_id()]),
            ]
            .concat(),
        );
        let proprietary = tlv::encode_template(
            Tag::new(0xA5),
            &tlv::encode_template(Tag::new(0xBF0C), &entry),
        );
        tlv::encode_template(
            Tag::new(0x6F),
            &[
                tlv::encode_primitive(Tag::new(0x84), PPSE_NAME),
                proprietary,
            ]
            .concat(),
        )
    }

    /// The application FCI (EMV Book 1 §11.3.4): `6F{84, A5{50, 87, 9F38, 5F2D}}`.
    fn application_fci(&self) -> Vec<u8> {
        let mut proprietary =
            tlv::encode_primitive(Tag::new(0x50), self.profile.label().as_bytes());
        proprietary.extend(tlv::encode_primitive(
            Tag::new(0x87),
            &[APPLICATION_PRIORITY],
        ));
        if !self.profile.pdol().is_empty() {
            proprietary.extend(tlv::encode_primitive(Tag::new(0x9F38), self.profile.pdol()));
        }
        proprietary.extend(tlv::encode_primitive(Tag::new(0x5F2D), LANGUAGE_PREFERENCE));
        if self.profile.fault() == Some(Fault::HostileText) {
            proprietary.extend(tlv::encode_primitive(
                Tag::new(0x9F12),
                self.profile.label().as_bytes(),
            ));
        }
        tlv::encode_template(
            Tag::new(0x6F),
            &[
                tlv::encode_primitive(Tag::new(0x84), self.profile.aid()),
                tlv::encode_template(Tag::new(0xA5), &proprietary),
            ]
            .concat(),
        )
    }
}

impl CardTransport for VirtualCard {
    fn transmit(&mut self, command: &Command) -> Result<Response, TransportError> {
        if self.removed {
            return Err(TransportError::CardRemoved);
        }
        let bytes = command
            .try_serialize()
            .map_err(|_| TransportError::Protocol("command data does not fit a short APDU"))?;
        let reply = self.process(&bytes);
        Ok(Response::from_bytes(&reply.bytes)?)
    }
}

/// Where the card is in a transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Session {
    /// Powered, nothing selected.
    Idle,
    /// The PPSE is selected.
    Ppse,
    /// The payment application is selected; GPO expected.
    Selected,
    /// GPO answered with this ATC; records and (Mastercard) GENERATE AC expected.
    Processing { atc: [u8; 2] },
    /// GENERATE AC answered.
    Completed,
}

/// A successful answer before the status word is appended.
struct Answer {
    data: Zeroizing<Vec<u8>>,
    leaves_field: bool,
}

impl Answer {
    fn plain(data: Vec<u8>) -> Self {
        Self {
            data: Zeroizing::new(data),
            leaves_field: false,
        }
    }
}

/// A parsed short C-APDU.
struct CommandApdu<'a> {
    cla: u8,
    ins: u8,
    p1: u8,
    p2: u8,
    data: &'a [u8],
}

/// Parses a short C-APDU (ISO/IEC 7816-4 §5.1, cases 1-4). Extended lengths are not
/// supported (`6700`).
fn parse_command(bytes: &[u8]) -> Result<CommandApdu<'_>, StatusWord> {
    let Some((&[cla, ins, p1, p2], body)) = bytes.split_first_chunk::<4>() else {
        return Err(StatusWord::WrongLength);
    };
    let data = match body {
        [] | [_] => &[][..],
        [0x00, ..] => return Err(StatusWord::WrongLength),
        [lc, rest @ ..] => {
            let lc = usize::from(*lc);
            if rest.len() != lc && rest.len() != lc + 1 {
                return Err(StatusWord::WrongLength);
            }
            rest.get(..lc).ok_or(StatusWord::WrongLength)?
        }
    };
    Ok(CommandApdu {
        cla,
        ins,
        p1,
        p2,
        data,
    })
}

/// The value of the GPO command template `83` (EMV Book 3 §6.5.8.3), which must be the whole
/// data field.
fn command_template(data: &[u8]) -> Option<&[u8]> {
    match tlv::raw_object(data).ok()? {
        (tag, value) if tag == Tag::new(0x83) => Some(value),
        _ => None,
    }
}

/// The Book 2 minimum cryptogram data, read from the DOL related data by the card's own DOL.
fn cryptogram_input<'a>(
    dol: &Dol,
    data: &[u8],
    aip: [u8; 2],
    atc: [u8; 2],
    iad: &'a [u8],
) -> CryptogramInput<'a> {
    let [transaction_type] = dol.fixed::<1>(data, 0x9C);
    CryptogramInput {
        amount: dol.fixed(data, 0x9F02),
        amount_other: dol.fixed(data, 0x9F03),
        terminal_country: dol.fixed(data, 0x9F1A),
        tvr: dol.fixed(data, 0x95),
        currency: dol.fixed(data, 0x5F2A),
        date: dol.fixed(data, 0x9A),
        transaction_type,
        unpredictable_number: dol.fixed(data, 0x9F37),
        aip,
        atc,
        issuer_application_data: iad,
    }
}

/// Issuer application data (`9F10`) for a cryptogram of type `cid`.
///
/// - Visa, CVN 18, IAD format 0 (shared docs §2.1): `06` DKI `01` CVN `12` CVR `03 xx 00 00`;
///   CVR byte 2 bits 8-7 `10` (second GENERATE AC not requested) and bits 6-5 the cryptogram
///   of the GPO: `A0` ARQC, `90` TC (approved offline), `80` AAC.
/// - Mastercard, CVN 16, M/Chip 4 layout, 18 bytes: DKI `01`, CVN `10`, CVR (6 bytes; byte 1
///   `A0` ARQC / `80` AAC, second GENERATE AC not requested), DAC/IDN (2), counters (8) **[M]**.
/// - UnionPay: `07` DKI `01` CVN `01` CVR `03 A0 00 00` algorithm `01` (TDES) **[M]**.
fn issuer_application_data(scheme: Scheme, cid: u8) -> Vec<u8> {
    match scheme {
        Scheme::Visa => {
            let cvr_byte2 = match cid {
                CID_TC => 0x90,
                CID_AAC => 0x80,
                _ => 0xA0,
            };
            vec![0x06, 0x01, 0x12, 0x03, cvr_byte2, 0x00, 0x00]
        }
        Scheme::Mastercard => {
            let cvr_byte1 = if cid == CID_AAC { 0x80 } else { 0xA0 };
            let mut iad = vec![0x01, 0x10, cvr_byte1, 0x00, 0x00, 0x00, 0x00, 0x00];
            iad.extend_from_slice(&[0x00; 10]);
            iad
        }
        Scheme::UnionPay => vec![0x07, 0x01, 0x01, 0x03, 0xA0, 0x00, 0x00, 0x01],
    }
}

/// Fault `oda-cda-wrong-amount`: an amount (`9F02`, n12 BCD) other than `amount`: 0.01, or
/// 0.02 if `amount` is 0.01.
fn other_amount(amount: [u8; 6]) -> [u8; 6] {
    let one_cent = [0x00, 0x00, 0x00, 0x00, 0x00, 0x01];
    if amount == one_cent {
        [0x00, 0x00, 0x00, 0x00, 0x00, 0x02]
    } else {
        one_cent
    }
}

/// A `9F02` amount (n12, BCD) in minor units; `None` if a nibble is not a digit.
fn bcd_amount(amount: [u8; 6]) -> Option<u64> {
    amount.iter().try_fold(0u64, |acc, byte| {
        let (high, low) = (u64::from(byte >> 4), u64::from(byte & 0x0F));
        (high < 10 && low < 10).then_some(acc * 100 + high * 10 + low)
    })
}

/// `N` random bytes (unpredictable numbers of the card); `6F00` if the system has none.
fn random<const N: usize>() -> Result<[u8; N], StatusWord> {
    let mut out = [0u8; N];
    getrandom::fill(&mut out).map_err(|_| StatusWord::NoPreciseDiagnosis)?;
    Ok(out)
}

/// The records of a profile, signed once per process (the certificates cost RSA signatures).
pub(crate) fn personalized_records(profile: &Profile) -> Arc<[Record]> {
    static RECORDS: OnceLock<PersonalizedRecords> = OnceLock::new();
    let mut records = RECORDS
        .get_or_init(PersonalizedRecords::default)
        .0
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    records
        .entry(profile.name())
        .or_insert_with(|| profile.build_records().into())
        .clone()
}

/// Records by profile name, for the lifetime of the process.
#[derive(Default)]
struct PersonalizedRecords(Mutex<HashMap<&'static str, Arc<[Record]>>>);

/// The process-wide ATC counter of a card (PAN and PSN).
fn shared_atc(profile: &Profile) -> Arc<AtomicU16> {
    static COUNTERS: OnceLock<AtcCounters> = OnceLock::new();
    let mut counters = COUNTERS
        .get_or_init(AtcCounters::default)
        .0
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    counters
        .entry((profile.pan_digits(), profile.pan_sequence_number()))
        .or_insert_with(|| Arc::new(AtomicU16::new(profile.initial_atc())))
        .clone()
}

/// Moves the process-wide ATC counter of `profile`'s cards up to `atc` if it is below it, so
/// the next card of that profile answers `atc + 1` or more: a host that kept its ledger from an
/// earlier process (the demo's persistent host) then sees no replayed ATC.
pub fn continue_atc_after(profile: &Profile, atc: u16) {
    shared_atc(profile).fetch_max(atc, Ordering::SeqCst);
}

/// ATC counters by (PAN, PSN), for the lifetime of the process.
#[derive(Default)]
struct AtcCounters(Mutex<HashMap<(&'static str, u8), Arc<AtomicU16>>>);

/// "2PAY.SYS.DDF01", the proximity payment system environment (EMV Book B §3.3.2).
const PPSE_NAME: &[u8] = b"2PAY.SYS.DDF01";
const LANGUAGE_PREFERENCE: &[u8] = b"en";
const APPLICATION_PRIORITY: u8 = 0x01;

const CLA_ISO: u8 = 0x00;
const CLA_PROPRIETARY: u8 = 0x80;
const INS_SELECT: u8 = 0xA4;
const INS_GET_PROCESSING_OPTIONS: u8 = 0xA8;
const INS_READ_RECORD: u8 = 0xB2;
const INS_GENERATE_AC: u8 = 0xAE;
const INS_GET_DATA: u8 = 0xCA;
const INS_GET_RESPONSE: u8 = 0xC0;
const INS_INTERNAL_AUTHENTICATE: u8 = 0x88;

/// Cryptogram information data (`9F27`) values, EMV Book 3 Table 14.
const CID_AAC: u8 = 0x00;
const CID_ARQC: u8 = 0x80;
const CID_TC: u8 = 0x40;

/// TTQ byte 2 bit 8: online cryptogram required (EMV Book C-3 Table 5-3; shared docs §2.1).
const TTQ2_ONLINE_CRYPTOGRAM_REQUIRED: u8 = 0x80;
/// CTQ byte 1 bit 8: online PIN required (shared docs §2.1).
const CTQ1_ONLINE_PIN_REQUIRED: u8 = 0x80;

/// AIP byte 1 bit 6: DDA supported (fDDA for Kernels 3 and 7).
const AIP1_DDA: u8 = 0x20;
/// GENERATE AC P1 bit 5: CDA signature requested (EMV Book 3 §6.5.5.2).
const P1_CDA: u8 = 0x10;
/// fDDA version `01` in `9F69` (EMV Book C-3 Annex C).
const FDDA_VERSION: u8 = 0x01;

/// Short-form responses carry at most 256 data bytes.
const MAX_RESPONSE_DATA: usize = 256;
