//! Kernel 3, Visa qVSDC (EMV Contactless Book C-3), and the flow it shares with Kernel 7
//! (UnionPay qUICS, Book C-7; the scheme differences are in [`super::k7`]).
//!
//! GPO with the PDOL (TTQ `9F66` included) → the card answers format 2 (`77`) with the
//! cryptogram (`9F26`, `9F27`, `9F36`, `9F10`), track 2, the CTQ `9F6C` and, for fDDA, `9F4B`
//! → READ RECORD of the AFL → fDDA → outcome from the CID, the ODA result and the CTQ.

use crate::apdu::{Command, Response, StatusWord};
use crate::oda::{OdaMethod, OdaResult};
use crate::tlv::{self, Tag};

use super::card_data::{Decision, RecordPlan, Session};
use super::cvm;
use super::outcome::{CryptogramType, OutcomeKind, Start, UiMessage};
use super::{Context, KernelError, KernelId, KernelState, Transition, k7};

/// The two schemes of the "quick" flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scheme {
    /// Kernel 3.
    Visa,
    /// Kernel 7.
    UnionPay,
}

impl Scheme {
    fn kernel(self) -> KernelId {
        match self {
            Self::Visa => KernelId::Visa,
            Self::UnionPay => KernelId::UnionPay,
        }
    }
}

/// Kernel activation: GET PROCESSING OPTIONS with the PDOL data (Book C-3 §5.2.2).
pub(crate) fn start(
    ctx: &Context<'_>,
    mut session: Session,
    scheme: Scheme,
) -> Result<Transition, KernelError> {
    let pdol_data = match &session.pdol {
        Some(pdol) => pdol.build(|tag| session.value(ctx, tag.number())),
        None => Vec::new(),
    };
    let command = gpo_command(&pdol_data)?;
    session.pdol_data = pdol_data;
    Ok(Transition::Send(
        command,
        KernelState::QuickGpo(Box::new(ExpectGpo { scheme, session })),
    ))
}

/// Waiting for the GPO response.
pub(crate) struct ExpectGpo {
    scheme: Scheme,
    session: Session,
}

impl ExpectGpo {
    pub(crate) fn session(&self) -> &Session {
        &self.session
    }

    pub(crate) fn kernel(&self) -> KernelId {
        self.scheme.kernel()
    }

    /// Book C-3 §5.2.2.2: status words, then the format 2 response.
    pub(crate) fn handle(
        self: Box<Self>,
        ctx: &Context<'_>,
        response: &Response,
    ) -> Result<Transition, KernelError> {
        let Self {
            scheme,
            mut session,
        } = *self;
        match response.status {
            StatusWord::Success => {}
            StatusWord::ConditionsNotSatisfied => {
                let reason = "GPO answered 6985 (conditions of use not satisfied)".to_owned();
                return Ok(Transition::SelectNext(session.selection, reason));
            }
            status => {
                let (kind, reason, restart) = match status {
                    StatusWord::ReferencedDataInvalidated => (
                        OutcomeKind::TryAnotherInterface,
                        "GPO answered 6984: the card asks for another interface",
                        None,
                    ),
                    StatusWord::CommandNotAllowed => (
                        OutcomeKind::TryAgain,
                        "GPO answered 6986: see the phone for instructions, then tap again",
                        Some(Start::B),
                    ),
                    _ => (OutcomeKind::EndApplication, "GPO failed", None),
                };
                let mut decision =
                    Decision::new(kind, format!("{reason} (SW {status})"), cvm::na());
                if status == StatusWord::CommandNotAllowed {
                    decision.ui_message = UiMessage::SeePhone;
                }
                decision.restart = restart;
                return Ok(Transition::Finish(
                    session.outcome(ctx, decision, None, None),
                ));
            }
        }
        let list = tlv::parse(&response.data).map_err(|source| KernelError::Tlv {
            step: "GET PROCESSING OPTIONS",
            source,
        })?;
        match list.as_slice() {
            [only] if only.tag() == Tag::new(0x77) => {}
            _ => {
                return Err(KernelError::CardData(
                    "the GPO response is not format 2 (77)",
                ));
            }
        }
        session.card.absorb(&list)?;
        session.record_dump("GPO".to_owned(), &list);
        if let Some(aip) = session.card.get(0x82) {
            session.summary.aip = <[u8; 2]>::try_from(aip).ok();
        }
        let mut plan = RecordPlan::default();
        if let Some(afl) = session.card.get(0x94) {
            session.summary.afl = Some(afl.to_vec());
            plan = RecordPlan::from_afl(afl)?;
        }
        read_next_or_complete(ctx, scheme, session, plan)
    }
}

/// Waiting for a record.
pub(crate) struct ExpectRecord {
    scheme: Scheme,
    session: Session,
    plan: RecordPlan,
}

impl ExpectRecord {
    pub(crate) fn session(&self) -> &Session {
        &self.session
    }

    pub(crate) fn kernel(&self) -> KernelId {
        self.scheme.kernel()
    }

    /// Book C-3 §5.3: each record must be read with 9000 and be a `70` template.
    pub(crate) fn handle(
        self: Box<Self>,
        ctx: &Context<'_>,
        response: &Response,
    ) -> Result<Transition, KernelError> {
        let Self {
            scheme,
            mut session,
            plan,
        } = *self;
        if response.status != StatusWord::Success {
            return Err(KernelError::Status {
                step: "READ RECORD",
                status: response.status,
            });
        }
        absorb_record(&mut session, &plan, &response.data)?;
        read_next_or_complete(ctx, scheme, session, plan)
    }
}

/// Shared with Kernel 2: stores a record, its dump and its static data.
pub(crate) fn absorb_record(
    session: &mut Session,
    plan: &RecordPlan,
    data: &[u8],
) -> Result<(), KernelError> {
    let (sfi, record, for_oda) = plan.current().unwrap_or((0, 0, false));
    let list = tlv::parse(data).map_err(|source| KernelError::Tlv {
        step: "READ RECORD",
        source,
    })?;
    match list.as_slice() {
        [only] if only.tag() == Tag::new(0x70) => {}
        _ if sfi > 10 => {}
        _ => return Err(KernelError::CardData("a record is not a 70 template")),
    }
    session.card.absorb(&list)?;
    if for_oda {
        session.add_static_data(sfi, data, &list);
    }
    if let Some(cvm_list) = session.card.get(0x8E) {
        session.summary.cvm_list = Some(cvm_list.to_vec());
    }
    session.record_dump(format!("SFI {sfi} record {record}"), &list);
    Ok(())
}

fn read_next_or_complete(
    ctx: &Context<'_>,
    scheme: Scheme,
    session: Session,
    mut plan: RecordPlan,
) -> Result<Transition, KernelError> {
    match plan.next_command() {
        Some((command, ..)) => Ok(Transition::Send(
            command,
            KernelState::QuickRecord(Box::new(ExpectRecord {
                scheme,
                session,
                plan,
            })),
        )),
        None => complete(ctx, scheme, session),
    }
}

/// Book C-3 §5.4-5.8 (C-7 likewise): card data checks, fDDA, CVM, outcome.
fn complete(
    ctx: &Context<'_>,
    scheme: Scheme,
    mut session: Session,
) -> Result<Transition, KernelError> {
    for tag in [0x9F27, 0x9F36, 0x9F26, 0x9F10] {
        session.card.require(tag)?;
    }
    let cid = session.card.require(0x9F27)?.first().copied().unwrap_or(0);
    let records_read = session.summary.afl.is_some();
    let account = session.account(records_read)?;
    // Book C-3 §5.4 (card expiry, offline only): 5F24 before the transaction date.
    let expired = session
        .card
        .get(0x5F24)
        .is_some_and(|expiry| expiry < ctx.request.date.as_slice());
    if expired {
        session.tvr[1] |= TVR2_EXPIRED;
    }
    let ttq = session.ttq.unwrap_or([0; 4]);
    let ctq = session
        .card
        .get(0x9F6C)
        .and_then(|c| <[u8; 2]>::try_from(c).ok());
    let cryptogram = match cid & 0xC0 {
        0x80 => CryptogramType::Arqc,
        0x40 => CryptogramType::Tc,
        _ => CryptogramType::Aac,
    };

    // fDDA (Book C-3 §5.5): for an offline approval, or online when the TTQ asks for ODA.
    let aip_dda = session
        .card
        .get(0x82)
        .and_then(|a| a.first())
        .is_some_and(|b| b & 0x20 != 0);
    let mut wants_oda = cryptogram == CryptogramType::Tc || ttq[0] & TTQ1_ODA_FOR_ONLINE != 0;
    if scheme == Scheme::UnionPay && ttq[3] & k7::TTQ4_FDDA_01 == 0 {
        // qPBOC TTQ byte 4 b8: this reader does not do fDDA 01.
        wants_oda = false;
    }
    let oda = if wants_oda && aip_dda && session.card.get(0x9F4B).is_some() {
        fdda(ctx, scheme, &session)
    } else {
        None
    };
    let oda_failed = match &oda {
        None => {
            session.tvr[0] |= TVR1_ODA_NOT_PERFORMED;
            true
        }
        Some(result) if !result.passed() => {
            session.tvr[0] |= TVR1_DDA_FAILED;
            true
        }
        Some(_) => false,
    };

    let cvm = cvm::from_ctq(scheme, ttq, ctq);
    session.cvm_results = cvm::results_for(cvm);
    let cvm = match cvm {
        Some(cvm) => cvm,
        None => {
            let decision = Decision::new(
                OutcomeKind::Declined,
                "a CVM is required but the card and the terminal share none",
                cvm::na(),
            );
            return Ok(Transition::Finish(session.outcome(
                ctx,
                decision,
                Some(account),
                oda,
            )));
        }
    };

    let online_capable = matches!(ctx.config.terminal.terminal_type & 0x0F, 1 | 2 | 4 | 5);
    let ctq1 = ctq.map_or(0, |c| c[0]);
    // The failed check (`OdaFailure`'s Display names the EMV Book 2 step), for the reason.
    let fdda_failed = match oda.as_ref().map(|r| &r.status) {
        Some(Err(failure)) => format!("fDDA failed: {failure}"),
        _ => "fDDA failed".to_owned(),
    };
    let mut decision = match cryptogram {
        CryptogramType::Aac => Decision::new(
            OutcomeKind::Declined,
            "the card declined offline (AAC)",
            cvm,
        ),
        CryptogramType::Arqc => {
            let note = if oda.is_some() && oda_failed {
                format!(" ({fdda_failed}, noted in TVR)")
            } else {
                String::new()
            };
            Decision::new(
                OutcomeKind::OnlineRequest,
                format!("the card asks for online authorisation (ARQC){note}"),
                cvm,
            )
        }
        CryptogramType::Tc if expired => {
            if ctq1 & CTQ1_ONLINE_IF_EXPIRED != 0 && online_capable {
                Decision::new(
                    OutcomeKind::OnlineRequest,
                    "card expired; CTQ: go online",
                    cvm,
                )
            } else {
                Decision::new(
                    OutcomeKind::Declined,
                    "card expired (offline TC refused)",
                    cvm,
                )
            }
        }
        CryptogramType::Tc if !oda_failed => Decision::new(
            OutcomeKind::Approved,
            "offline approval (TC) with fDDA passed",
            cvm,
        ),
        CryptogramType::Tc => {
            let why = if oda.is_none() {
                "ODA not performed"
            } else {
                fdda_failed.as_str()
            };
            if ctq1 & CTQ1_ONLINE_IF_ODA_FAILS != 0 && online_capable {
                Decision::new(
                    OutcomeKind::OnlineRequest,
                    format!("{why}; CTQ: go online"),
                    cvm,
                )
            } else if ctq1 & CTQ1_SWITCH_INTERFACE_IF_ODA_FAILS != 0 {
                Decision::new(
                    OutcomeKind::TryAnotherInterface,
                    format!("{why}; CTQ: switch interface"),
                    cvm,
                )
            } else {
                Decision::new(
                    OutcomeKind::Declined,
                    format!("{why} on an offline TC"),
                    cvm,
                )
            }
        }
    };
    decision.cryptogram = Some(cryptogram);
    Ok(Transition::Finish(session.outcome(
        ctx,
        decision,
        Some(account),
        oda,
    )))
}

/// Builds the fDDA input (Book C-3 Annex C; shared docs §3) and calls the authenticator.
fn fdda(ctx: &Context<'_>, scheme: Scheme, session: &Session) -> Option<OdaResult> {
    let card = &session.card;
    let card_auth_data = card.get(0x9F69).unwrap_or(&[]);
    if scheme == Scheme::UnionPay && !k7::fdda_version_supported(card_auth_data) {
        return Some(OdaResult {
            method: OdaMethod::Fdda,
            status: Err(crate::oda::OdaFailure::Signature(
                "fDDA version in 9F69 is not 01",
            )),
            recovered_cryptogram: None,
            recovered_dynamic_number: None,
        });
    }
    let mut terminal_dynamic_data = ctx.request.unpredictable_number.to_vec();
    terminal_dynamic_data.extend_from_slice(&crate::config::amount_bcd(ctx.request.amount));
    terminal_dynamic_data.extend_from_slice(&crate::config::bcd2(ctx.request.currency_code));
    terminal_dynamic_data.extend_from_slice(card_auth_data);
    session.authenticate(ctx, OdaMethod::Fdda, &terminal_dynamic_data, None)
}

/// GPO with the command template `83` (EMV Book 3 §6.5.8).
pub(crate) fn gpo_command(pdol_data: &[u8]) -> Result<Command, KernelError> {
    let mut template = vec![0x83];
    tlv::encode_length(pdol_data.len(), &mut template);
    template.extend_from_slice(pdol_data);
    let command = Command::get_processing_options(template);
    command
        .try_serialize()
        .map_err(|source| KernelError::Apdu {
            step: "GET PROCESSING OPTIONS",
            source,
        })?;
    Ok(command)
}

/// TVR byte 1 b8: offline data authentication was not performed (EMV Book 3 Annex C5).
pub(crate) const TVR1_ODA_NOT_PERFORMED: u8 = 0x80;
/// TVR byte 1 b6: ICC data missing.
pub(crate) const TVR1_ICC_DATA_MISSING: u8 = 0x20;
/// TVR byte 1 b4: DDA failed.
pub(crate) const TVR1_DDA_FAILED: u8 = 0x08;
/// TVR byte 1 b3: CDA failed.
pub(crate) const TVR1_CDA_FAILED: u8 = 0x04;
/// TTQ byte 1 b1: ODA for online authorisations supported (Book C-3 Table 5-3).
const TTQ1_ODA_FOR_ONLINE: u8 = 0x01;
/// TVR byte 2 b7: expired application.
const TVR2_EXPIRED: u8 = 0x40;
/// CTQ byte 1 b4: go online if the application has expired.
const CTQ1_ONLINE_IF_EXPIRED: u8 = 0x08;
/// CTQ byte 1 b6: go online if ODA fails and the reader is online capable.
const CTQ1_ONLINE_IF_ODA_FAILS: u8 = 0x20;
/// CTQ byte 1 b5: switch interface if ODA fails.
const CTQ1_SWITCH_INTERFACE_IF_ODA_FAILS: u8 = 0x10;
