//! Entry Point states: pre-processing, SELECT PPSE, candidate list, SELECT AID and kernel
//! activation (EMV Contactless Book B §3.1-3.4).

use std::collections::VecDeque;

use crate::apdu::{Command, Response, StatusWord};
use crate::dol::Dol;
use crate::entry_point::{self, Candidate, Indicators};
use crate::tlv::{self, Tag};

use super::card_data::{CardData, Session};
use super::outcome::{CardSummary, Cvm, Outcome, OutcomeKind, UiMessage};
use super::{Context, KernelError, KernelId, KernelState, Transition, k2, k3};

/// The candidates not tried yet, best first.
pub(crate) struct Selection {
    candidates: VecDeque<Candidate>,
}

/// Book B §3.1 then §3.2: pre-processing, then SELECT PPSE.
pub(crate) fn start(ctx: &Context<'_>) -> Transition {
    match entry_point::pre_process_all(ctx.config, &ctx.request) {
        None => Transition::Finish(entry_outcome(
            OutcomeKind::TryAnotherInterface,
            UiMessage::InsertOrSwipeCard,
            "contactless not allowed for this amount on any application (transaction limit, or \
             zero amount not allowed)",
        )),
        Some(indicators) => Transition::Send(
            Command::select_by_name(PPSE),
            KernelState::ExpectPpse(Box::new(ExpectPpse { indicators })),
        ),
    }
}

/// Waiting for the PPSE FCI.
pub(crate) struct ExpectPpse {
    indicators: Vec<Indicators>,
}

impl ExpectPpse {
    /// Book B §3.3.2: build the candidate list; empty → End Application.
    // STYLE.md §2: every state's `handle` takes `self: Box<Self>`, boxed or not in the enum.
    #[allow(clippy::boxed_local)]
    pub(crate) fn handle(
        self: Box<Self>,
        ctx: &Context<'_>,
        response: &Response,
    ) -> Result<Transition, KernelError> {
        if response.status != StatusWord::Success {
            return Ok(Transition::Finish(entry_outcome(
                OutcomeKind::EndApplication,
                UiMessage::TryAnotherCard,
                &format!(
                    "the card has no PPSE (SELECT PPSE answered {})",
                    response.status
                ),
            )));
        }
        let entries = entry_point::parse_ppse(&response.data)?;
        let candidates = entry_point::build_candidates(&entries, ctx.config, &self.indicators);
        if candidates.is_empty() {
            return Ok(Transition::Finish(entry_outcome(
                OutcomeKind::EndApplication,
                UiMessage::TryAnotherCard,
                "no application on the card matches the terminal's AIDs and kernels",
            )));
        }
        Ok(next_candidate(
            ctx,
            Selection {
                candidates: candidates.into(),
            },
            "first candidate".to_owned(),
        ))
    }
}

/// Book B §3.3.3 / §3.5.1: SELECT the next candidate, or End Application when none is left.
pub(crate) fn next_candidate(
    _ctx: &Context<'_>,
    mut selection: Selection,
    reason: String,
) -> Transition {
    match selection.candidates.pop_front() {
        Some(candidate) => Transition::Send(
            Command::select_by_name(&candidate.select_name),
            KernelState::ExpectSelectAid(Box::new(ExpectSelectAid {
                selection,
                candidate,
            })),
        ),
        None => Transition::Finish(entry_outcome(
            OutcomeKind::EndApplication,
            UiMessage::TryAnotherCard,
            &format!("no candidate application left ({reason})"),
        )),
    }
}

/// Waiting for the application FCI.
pub(crate) struct ExpectSelectAid {
    selection: Selection,
    candidate: Candidate,
}

impl ExpectSelectAid {
    /// Book B §3.3.3.5: SW ≠ 9000 → next candidate; else activate the kernel (§3.4).
    // STYLE.md §2: every state's `handle` takes `self: Box<Self>`.
    #[allow(clippy::boxed_local)]
    pub(crate) fn handle(
        self: Box<Self>,
        ctx: &Context<'_>,
        response: &Response,
    ) -> Result<Transition, KernelError> {
        let Self {
            selection,
            candidate,
        } = *self;
        if response.status != StatusWord::Success {
            let reason = format!("SELECT AID answered {}", response.status);
            return Ok(Transition::SelectNext(selection, reason));
        }
        let fci =
            tlv::parse_one(&response.data, Tag::new(0x6F)).map_err(|source| KernelError::Tlv {
                step: "SELECT AID",
                source,
            })?;
        let adf_name = fci
            .children()
            .iter()
            .find(|t| t.tag() == Tag::new(0x84))
            .and_then(|t| t.bytes())
            .map_or_else(|| candidate.adf_name.clone(), <[u8]>::to_vec);
        let proprietary = fci.children().iter().find(|t| t.tag() == Tag::new(0xA5));
        let field = |tag: u32| {
            proprietary
                .and_then(|a5| a5.children().iter().find(|t| t.tag() == Tag::new(tag)))
                .and_then(|t| t.bytes())
        };
        let pdol = field(0x9F38).map(Dol::parse).transpose()?;
        let label = field(0x50).map(crate::display::card_text);
        let kernel = candidate.kernel;
        // Book B §3.3.3.6: a Visa AID on Kernel 3 needs a PDOL with the TTQ (no Kernel 1 here).
        // Book C-7: Kernel 7 needs a PDOL.
        let pdol_ok = match kernel {
            KernelId::Visa => pdol.as_ref().is_some_and(|p| p.contains(Tag::new(0x9F66))),
            KernelId::UnionPay => pdol.is_some(),
            _ => true,
        };
        if !pdol_ok {
            let reason = "the FCI has no PDOL with the TTQ (9F66), so Kernel 3/7 cannot run";
            return Ok(Transition::SelectNext(selection, reason.to_owned()));
        }
        let mut summary = CardSummary {
            label: label.clone(),
            ..CardSummary::default()
        };
        summary.records.push(super::RecordDump {
            source: "FCI".to_owned(),
            objects: tlv::decode(core::slice::from_ref(&fci)),
        });
        let session = Session {
            selection,
            ttq: candidate.indicators.ttq,
            candidate,
            adf_name,
            pdol,
            pdol_data: Vec::new(),
            card: CardData::default(),
            static_data: Vec::new(),
            static_data_invalid: false,
            tvr: [0; 5],
            cvm_results: [0x3F, 0x00, 0x00],
            summary,
        };
        match kernel {
            KernelId::Visa => k3::start(ctx, session, k3::Scheme::Visa),
            KernelId::UnionPay => k3::start(ctx, session, k3::Scheme::UnionPay),
            KernelId::Mastercard => k2::start(ctx, session),
            KernelId::Other(_) => Err(KernelError::Config("candidate with an unsupported kernel")),
        }
    }
}

/// An outcome decided by the Entry Point before any kernel ran.
fn entry_outcome(kind: OutcomeKind, ui_message: UiMessage, reason: &str) -> Box<Outcome> {
    Box::new(Outcome {
        kind,
        reason: reason.to_owned(),
        cvm: Cvm::NotApplicable,
        kernel: None,
        ui_message,
        restart: None,
        tvr: [0; 5],
        card: CardSummary::default(),
        online: None,
        advice: None,
        oda: None,
    })
}

/// "2PAY.SYS.DDF01" (Book B §3.3.2.2).
const PPSE: &[u8] = b"2PAY.SYS.DDF01";
