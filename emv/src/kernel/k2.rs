//! Kernel 2, Mastercard M/Chip in EMV mode (EMV Contactless Book C-2; EMV Book 3 §10 for the
//! terminal steps it shares with contact EMV).
//!
//! GPO (AIP + AFL, format `77` or `80`) → READ RECORD of the AFL → processing restrictions
//! (Book 3 §10.4) → CVM selection (CVM list `8E` or on-device CVM, [`super::cvm`]) → terminal
//! risk management (floor limit) → terminal action analysis with TAC/IAC (Book 3 §10.7) →
//! GENERATE AC with CDOL1, ARQC/TC requested with CDA (P1 `90`/`50`) → CDA (Book 2 §6.6) → the
//! outcome. Mag-stripe mode is not supported (the reader is EMV-mode only, `DF811B` b8).

use crate::apdu::{Command, Response, StatusWord};
use crate::dol::Dol;
use crate::oda::{CdaInput, OdaMethod, OdaResult};
use crate::tlv::{self, Tag, Tlv};

use super::card_data::{Account, Decision, RecordPlan, Session};
use super::cvm::{self, MastercardCvmInput};
use super::k3::{
    TVR1_CDA_FAILED, TVR1_ICC_DATA_MISSING, TVR1_ODA_NOT_PERFORMED, absorb_record, gpo_command,
};
use super::outcome::{CryptogramType, Cvm, OutcomeKind};
use super::{Context, KernelError, KernelState, Transition};

/// Kernel activation: GPO with the PDOL data, or `83 00` (Book C-2 §3.2).
pub(crate) fn start(ctx: &Context<'_>, mut session: Session) -> Result<Transition, KernelError> {
    let pdol_data = match &session.pdol {
        Some(pdol) => pdol.build(|tag| session.value(ctx, tag.number())),
        None => Vec::new(),
    };
    let command = gpo_command(&pdol_data)?;
    session.pdol_data = pdol_data;
    Ok(Transition::Send(
        command,
        KernelState::MastercardGpo(Box::new(ExpectGpo { session })),
    ))
}

/// Waiting for the GPO response.
pub(crate) struct ExpectGpo {
    session: Session,
}

impl ExpectGpo {
    pub(crate) fn session(&self) -> &Session {
        &self.session
    }

    /// Book C-2 §3.2: any GPO error → Select Next; AIP and AFL mandatory; EMV mode required.
    pub(crate) fn handle(
        self: Box<Self>,
        ctx: &Context<'_>,
        response: &Response,
    ) -> Result<Transition, KernelError> {
        let mut session = self.session;
        if response.status != StatusWord::Success {
            let reason = format!("GPO answered {}", response.status);
            return Ok(Transition::SelectNext(session.selection, reason));
        }
        let list = tlv::parse(&response.data).map_err(|source| KernelError::Tlv {
            step: "GET PROCESSING OPTIONS",
            source,
        })?;
        match list.as_slice() {
            [only] if only.tag() == Tag::new(0x77) => session.card.absorb(&list)?,
            [only] if only.tag() == Tag::new(0x80) => {
                // Format 1: AIP (2) ‖ AFL.
                let bytes = only.bytes().unwrap_or(&[]);
                let (aip, afl) = bytes.split_at_checked(2).ok_or(KernelError::CardData(
                    "the GPO format 1 response is shorter than the AIP",
                ))?;
                session.card.set(0x82, aip.to_vec());
                session.card.set(0x94, afl.to_vec());
            }
            _ => {
                return Err(KernelError::CardData(
                    "the GPO response is neither 77 nor 80",
                ));
            }
        }
        session.record_dump("GPO".to_owned(), &list);
        let aip = <[u8; 2]>::try_from(session.card.require(0x82)?)
            .map_err(|_| KernelError::CardData("the AIP is not 2 bytes"))?;
        session.summary.aip = Some(aip);
        let afl = session.card.require(0x94)?.to_vec();
        session.summary.afl = Some(afl.clone());
        if aip[1] & AIP2_EMV_MODE == 0 {
            let decision = Decision::new(
                OutcomeKind::EndApplication,
                "the card supports only mag-stripe mode, which this reader does not",
                cvm::na(),
            );
            return Ok(Transition::Finish(
                session.outcome(ctx, decision, None, None),
            ));
        }
        // Book C-2: the transaction limit depends on on-device CVM (DF8125) or not (DF8124).
        let aid = ctx.aid_config(session.candidate.config_index)?;
        let on_device = aip[0] & AIP1_ON_DEVICE_CVM != 0
            && aid
                .kernel_configuration
                .unwrap_or(DEFAULT_KERNEL_CONFIGURATION)
                & KC_ON_DEVICE_CVM
                != 0;
        let limit = if on_device {
            aid.transaction_limit_on_device_cvm
                .or(aid.transaction_limit)
        } else {
            aid.transaction_limit
        };
        if crate::entry_point::transaction_limit_reached(ctx.request.amount, limit) {
            let decision = Decision::new(
                OutcomeKind::TryAnotherInterface,
                if on_device {
                    "amount at or above the contactless limit for on-device CVM (DF8125)"
                } else {
                    "amount at or above the contactless transaction limit (DF8124)"
                },
                cvm::na(),
            );
            return Ok(Transition::Finish(
                session.outcome(ctx, decision, None, None),
            ));
        }
        let plan = RecordPlan::from_afl(&afl)?;
        read_next_or_continue(ctx, session, plan)
    }
}

/// Waiting for a record.
pub(crate) struct ExpectRecord {
    session: Session,
    plan: RecordPlan,
}

impl ExpectRecord {
    pub(crate) fn session(&self) -> &Session {
        &self.session
    }

    /// Book 3 §10.2: each record read with 9000.
    pub(crate) fn handle(
        self: Box<Self>,
        ctx: &Context<'_>,
        response: &Response,
    ) -> Result<Transition, KernelError> {
        let Self { mut session, plan } = *self;
        if response.status != StatusWord::Success {
            return Err(KernelError::Status {
                step: "READ RECORD",
                status: response.status,
            });
        }
        absorb_record(&mut session, &plan, &response.data)?;
        read_next_or_continue(ctx, session, plan)
    }
}

fn read_next_or_continue(
    ctx: &Context<'_>,
    session: Session,
    mut plan: RecordPlan,
) -> Result<Transition, KernelError> {
    match plan.next_command() {
        Some((command, ..)) => Ok(Transition::Send(
            command,
            KernelState::MastercardRecord(Box::new(ExpectRecord { session, plan })),
        )),
        None => generate_ac(ctx, session),
    }
}

/// Everything between the last record and GENERATE AC.
fn generate_ac(ctx: &Context<'_>, mut session: Session) -> Result<Transition, KernelError> {
    let account = session.account(true)?;
    let cdol1 = Dol::parse(session.card.require(0x8C)?)?;
    let aid = ctx.aid_config(session.candidate.config_index)?.clone();
    processing_restrictions(ctx, &mut session, &aid.application_version.0);

    // CVM selection (Book C-2 §3.4; Book 3 §10.5).
    let cvm_required = session.candidate.indicators.cvm_required_limit_exceeded;
    let capability = if cvm_required {
        aid.cvm_capability_cvm_required
            .unwrap_or(DEFAULT_CVM_CAPABILITY_REQUIRED)
    } else {
        aid.cvm_capability_no_cvm_required
            .unwrap_or(DEFAULT_CVM_CAPABILITY_NOT_REQUIRED)
    };
    let aip = session.summary.aip.unwrap_or([0; 2]);
    let same_currency = session
        .card
        .get(0x9F42)
        .is_none_or(|c| c == crate::config::bcd2(ctx.request.currency_code));
    let selection = cvm::mastercard(&MastercardCvmInput {
        aip,
        kernel_configuration: aid
            .kernel_configuration
            .unwrap_or(DEFAULT_KERNEL_CONFIGURATION),
        cvm_required,
        capability,
        cvm_list: session.card.get(0x8E),
        amount: ctx.request.amount,
        same_currency,
        transaction_type: ctx.request.transaction_type,
    });
    session.tvr[0] |= selection.tvr1;
    session.tvr[2] |= selection.tvr3;
    session.cvm_results = selection.results;

    // Terminal risk management: the contactless floor limit (Book B §3.1.1.5).
    if session.candidate.indicators.floor_limit_exceeded {
        session.tvr[3] |= TVR4_FLOOR_LIMIT_EXCEEDED;
    }

    // ODA method (Book 3 §10.3): CDA when the card and the terminal both support it.
    let terminal_cda = ctx.config.terminal.terminal_capabilities.0[2] & CAPABILITY3_CDA != 0;
    let mut cda = aip[0] & AIP1_CDA != 0 && terminal_cda;
    if cda && session.card.get(0x8F).is_none() {
        session.tvr[0] |= TVR1_ICC_DATA_MISSING | TVR1_CDA_FAILED;
        cda = false;
    } else if !cda {
        session.tvr[0] |= TVR1_ODA_NOT_PERFORMED;
    }

    // Terminal action analysis (Book 3 §10.7).
    let tvr = session.tvr;
    let hits = |tac: Option<[u8; 5]>, iac: Option<&[u8]>, iac_absent: u8| {
        let tac = tac.unwrap_or([0; 5]);
        (0..5).any(|i| {
            let iac_byte = iac.and_then(|v| v.get(i)).copied().unwrap_or(iac_absent);
            (tac[i] | iac_byte) & tvr[i] != 0
        })
    };
    let requested = if hits(aid.tac_denial.map(|t| t.0), session.card.get(0x9F0E), 0x00) {
        CryptogramType::Aac
    } else if hits(aid.tac_online.map(|t| t.0), session.card.get(0x9F0F), 0xFF) {
        CryptogramType::Arqc
    } else {
        CryptogramType::Tc
    };
    let mut p1 = match requested {
        CryptogramType::Aac => 0x00,
        CryptogramType::Tc => 0x40,
        CryptogramType::Arqc => 0x80,
    };
    if cda && requested != CryptogramType::Aac {
        p1 |= P1_CDA_REQUESTED;
    } else {
        cda = false;
    }
    let cdol1_data = cdol1.build(|tag| session.value(ctx, tag.number()));
    let command = Command::generate_ac(p1, cdol1_data.clone());
    command
        .try_serialize()
        .map_err(|source| KernelError::Apdu {
            step: "GENERATE AC",
            source,
        })?;
    let state = ExpectGenerateAc {
        session,
        account,
        cdol1_data,
        cda,
        cvm: selection.cvm,
        requested,
    };
    Ok(Transition::Send(
        command,
        KernelState::MastercardGenerateAc(Box::new(state)),
    ))
}

/// Book 3 §10.4: application versions, dates, application usage control.
fn processing_restrictions(ctx: &Context<'_>, session: &mut Session, terminal_version: &[u8]) {
    if session
        .card
        .get(0x9F08)
        .is_some_and(|card| card != terminal_version)
    {
        session.tvr[1] |= TVR2_DIFFERENT_VERSIONS;
    }
    let today = ctx.request.date;
    if session
        .card
        .get(0x5F24)
        .is_some_and(|expiry| expiry < today.as_slice())
    {
        session.tvr[1] |= TVR2_EXPIRED;
    }
    if session
        .card
        .get(0x5F25)
        .is_some_and(|effective| effective > today.as_slice())
    {
        session.tvr[1] |= TVR2_NOT_YET_EFFECTIVE;
    }
    if let Some(&[auc1, auc2]) = session.card.get(0x9F07) {
        let domestic = session.card.get(0x5F28)
            == Some(crate::config::bcd2(ctx.config.terminal.country_code).as_slice());
        let allowed = match ctx.request.transaction_type {
            0x01 => auc1 & if domestic { 0x80 } else { 0x40 } != 0,
            0x09 => auc2 & if domestic { 0x80 } else { 0x40 } != 0,
            _ => auc1 & if domestic { 0x28 } else { 0x14 } != 0,
        };
        if !allowed || auc1 & AUC1_VALID_AT_NON_ATM == 0 {
            session.tvr[1] |= TVR2_SERVICE_NOT_ALLOWED;
        }
    }
}

/// Waiting for the GENERATE AC response.
pub(crate) struct ExpectGenerateAc {
    session: Session,
    account: Account,
    cdol1_data: Vec<u8>,
    cda: bool,
    cvm: Cvm,
    requested: CryptogramType,
}

impl ExpectGenerateAc {
    pub(crate) fn session(&self) -> &Session {
        &self.session
    }

    /// Book C-2 §3.8 / Book 3 §6.5.5: the cryptogram, CDA, the outcome.
    pub(crate) fn handle(
        self: Box<Self>,
        ctx: &Context<'_>,
        response: &Response,
    ) -> Result<Transition, KernelError> {
        let Self {
            mut session,
            account,
            cdol1_data,
            cda,
            cvm,
            requested,
        } = *self;
        if response.status != StatusWord::Success {
            return Err(KernelError::Status {
                step: "GENERATE AC",
                status: response.status,
            });
        }
        let list = tlv::parse(&response.data).map_err(|source| KernelError::Tlv {
            step: "GENERATE AC",
            source,
        })?;
        let mut without_sdad = Vec::new();
        match list.as_slice() {
            [only] if only.tag() == Tag::new(0x77) => {
                for child in only
                    .children()
                    .iter()
                    .filter(|c| c.tag() != Tag::new(0x9F4B))
                {
                    without_sdad.extend_from_slice(&child.to_bytes().map_err(|source| {
                        KernelError::Tlv {
                            step: "GENERATE AC",
                            source,
                        }
                    })?);
                }
                session.card.absorb(&list)?;
            }
            [only] if only.tag() == Tag::new(0x80) => absorb_format1(&mut session, only)?,
            _ => {
                return Err(KernelError::CardData(
                    "the GENERATE AC response is neither 77 nor 80",
                ));
            }
        }
        session.record_dump("GENERATE AC".to_owned(), &list);
        let cid = session.card.require(0x9F27)?.first().copied().unwrap_or(0);
        session.card.require(0x9F36)?;
        let returned = match cid & 0xC0 {
            0x80 => CryptogramType::Arqc,
            0x40 => CryptogramType::Tc,
            _ => CryptogramType::Aac,
        };

        let mut oda = None;
        let mut cda_ok = false;
        if cda && returned != CryptogramType::Aac {
            if session.card.get(0x9F4B).is_some() {
                oda = perform_cda(ctx, &session, &cdol1_data, &without_sdad, cid);
            }
            match &oda {
                None if session.card.get(0x9F4B).is_some() => {
                    session.tvr[0] |= TVR1_ODA_NOT_PERFORMED;
                }
                Some(result) if result.passed() => {
                    cda_ok = true;
                    if let Some(ac) = result.recovered_cryptogram {
                        session.card.set(0x9F26, ac.to_vec());
                    }
                }
                _ => session.tvr[0] |= TVR1_CDA_FAILED,
            }
        }
        let has_cryptogram = session.card.get(0x9F26).is_some();
        // The failed check (`OdaFailure`'s Display names the EMV Book 2 step), for the reason.
        let cda_failure = match oda.as_ref().map(|r| &r.status) {
            Some(Err(failure)) => format!(": {failure}"),
            _ => String::new(),
        };
        let asked = match requested {
            CryptogramType::Arqc => "ARQC",
            CryptogramType::Tc => "TC",
            CryptogramType::Aac => "AAC",
        };
        let mut decision = match returned {
            CryptogramType::Aac => Decision::new(
                OutcomeKind::Declined,
                format!("the card returned an AAC (terminal asked for {asked})"),
                cvm,
            ),
            CryptogramType::Tc if cda && !cda_ok => Decision::new(
                OutcomeKind::Declined,
                format!("offline approval (TC) without a verified CDA signature{cda_failure}"),
                cvm,
            ),
            CryptogramType::Tc => {
                Decision::new(OutcomeKind::Approved, "offline approval (TC)", cvm)
            }
            CryptogramType::Arqc if !has_cryptogram => Decision::new(
                OutcomeKind::Declined,
                if oda.is_none() {
                    "CDA was not performed (no CA key?), so the ARQC in the signature cannot be \
                     recovered"
                        .to_owned()
                } else {
                    format!(
                        "CDA failed{cda_failure}; the ARQC cannot be recovered from the signature"
                    )
                },
                cvm,
            ),
            CryptogramType::Arqc => Decision::new(
                OutcomeKind::OnlineRequest,
                if cda && !cda_ok {
                    format!("online authorisation (ARQC); CDA failed{cda_failure}, noted in TVR")
                } else {
                    "online authorisation (ARQC)".to_owned()
                },
                cvm,
            ),
        };
        decision.cryptogram = Some(returned);
        Ok(Transition::Finish(session.outcome(
            ctx,
            decision,
            Some(account),
            oda,
        )))
    }
}

/// GENERATE AC format 1 (Book 3 §6.5.5.4): CID (1) ‖ ATC (2) ‖ AC (8) ‖ IAD (optional).
fn absorb_format1(session: &mut Session, object: &Tlv) -> Result<(), KernelError> {
    let bytes = object.bytes().unwrap_or(&[]);
    if bytes.len() < 11 {
        return Err(KernelError::CardData(
            "the GENERATE AC format 1 response is too short",
        ));
    }
    let (cid, rest) = bytes.split_at(1);
    let (atc, rest) = rest.split_at(2);
    let (ac, iad) = rest.split_at(8);
    for (tag, value) in [(0x9F27, cid), (0x9F36, atc), (0x9F26, ac)] {
        if session.card.get(tag).is_some() {
            return Err(KernelError::DuplicateTag(Tag::new(tag)));
        }
        session.card.set(tag, value.to_vec());
    }
    if !iad.is_empty() {
        session.card.set(0x9F10, iad.to_vec());
    }
    Ok(())
}

/// Builds the CDA input (Book 2 §6.6.2; `OdaInput` contract) and calls the authenticator.
fn perform_cda(
    ctx: &Context<'_>,
    session: &Session,
    cdol1_data: &[u8],
    without_sdad: &[u8],
    cid: u8,
) -> Option<OdaResult> {
    let unpredictable_number = ctx.request.unpredictable_number;
    let cda = CdaInput {
        pdol_data: &session.pdol_data,
        cdol1_data,
        generate_ac_response_without_sdad: without_sdad,
        cryptogram_information_data: cid,
    };
    session.authenticate(ctx, OdaMethod::Cda, &unpredictable_number, Some(cda))
}

/// AIP byte 2 b8: EMV mode supported (Book C-2; shared docs §0.3).
const AIP2_EMV_MODE: u8 = 0x80;
/// AIP byte 1 b2: on-device cardholder verification supported (Book C-2).
const AIP1_ON_DEVICE_CVM: u8 = 0x02;
/// `DF811B` b6: on-device cardholder verification supported.
const KC_ON_DEVICE_CVM: u8 = 0x20;
/// AIP byte 1 b1: CDA supported (EMV Book 3 Annex C1).
const AIP1_CDA: u8 = 0x01;
/// `9F33` byte 3 b4: CDA (Book 4 Annex A2).
const CAPABILITY3_CDA: u8 = 0x08;
/// GENERATE AC P1 b5: CDA signature requested (Book 3 Table 12).
const P1_CDA_REQUESTED: u8 = 0x10;
/// AUC byte 1 b1: valid at terminals other than ATMs.
const AUC1_VALID_AT_NON_ATM: u8 = 0x01;
const TVR2_DIFFERENT_VERSIONS: u8 = 0x80;
const TVR2_EXPIRED: u8 = 0x40;
const TVR2_NOT_YET_EFFECTIVE: u8 = 0x20;
const TVR2_SERVICE_NOT_ALLOWED: u8 = 0x10;
const TVR4_FLOOR_LIMIT_EXCEEDED: u8 = 0x80;
/// `DF811B` when the configuration has none: EMV mode only.
const DEFAULT_KERNEL_CONFIGURATION: u8 = 0x80;
/// `DF8118` when the configuration has none: online PIN and signature.
const DEFAULT_CVM_CAPABILITY_REQUIRED: u8 = 0x60;
/// `DF8119` when the configuration has none: no CVM.
const DEFAULT_CVM_CAPABILITY_NOT_REQUIRED: u8 = 0x08;
