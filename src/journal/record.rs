//! A journal row: what a transaction is ([`TxKind`]), where it is ([`TxState`]) and what the
//! journal holds of it ([`TxRecord`]).

use rusqlite::Row;

use super::{CardDetails, PaymentMethod, to_u64};

/// What a transaction is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TxKind {
    /// A purchase (0200, processing code `000000`).
    Sale,
    /// A refund (0200, `200000`).
    Refund,
    /// A void of an earlier sale or refund (0200, `020000`/`220000`, DE 90).
    Void,
    /// A pre-authorization (0100).
    Preauth,
    /// The completion of a pre-authorization (0220 with DE 90).
    Completion,
    /// A card check: a zero-amount 0100 that verifies the card without charging it.
    CardCheck,
}

impl TxKind {
    /// The journal's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sale => "sale",
            Self::Refund => "refund",
            Self::Void => "void",
            Self::Preauth => "preauth",
            Self::Completion => "completion",
            Self::CardCheck => "card-check",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "sale" => Self::Sale,
            "refund" => Self::Refund,
            "void" => Self::Void,
            "preauth" => Self::Preauth,
            "completion" => Self::Completion,
            "card-check" => Self::CardCheck,
            _ => return None,
        })
    }
}

/// The persisted states of a transaction ("created → card read → PIN done → sent →
/// answered → done, or → reversal pending → reversed", plus the offline queue).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
#[non_exhaustive]
pub enum TxState {
    /// Started; nothing read yet.
    Created,
    /// The card was read (masked PAN and hash stored).
    CardRead,
    /// The encrypted PIN was collected (the block itself is never stored).
    PinDone,
    /// The request is about to go, or went, to the host: from here on it may have reached it.
    Sent,
    /// The host's answer is stored; the outcome is not yet shown.
    Answered,
    /// Finished: the result in the row is final and was shown.
    Done,
    /// The request must be reversed (no answer, bad answer, crash before the end).
    ReversalPending,
    /// The host acknowledged the reversal.
    Reversed,
    /// Approved offline, waiting to go to the host as an 0220 advice.
    AdvicePending,
    /// Ended before anything reached the host (card pulled, cancelled, host unreachable).
    Aborted,
}

impl TxState {
    /// The journal's name (also the crash-hook name, `docs/engine.md`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Created => "created",
            Self::CardRead => "card-read",
            Self::PinDone => "pin-done",
            Self::Sent => "sent",
            Self::Answered => "answered",
            Self::Done => "done",
            Self::ReversalPending => "reversal-pending",
            Self::Reversed => "reversed",
            Self::AdvicePending => "advice-pending",
            Self::Aborted => "aborted",
        }
    }

    /// Parses [`TxState::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "created" => Self::Created,
            "card-read" => Self::CardRead,
            "pin-done" => Self::PinDone,
            "sent" => Self::Sent,
            "answered" => Self::Answered,
            "done" => Self::Done,
            "reversal-pending" => Self::ReversalPending,
            "reversed" => Self::Reversed,
            "advice-pending" => Self::AdvicePending,
            "aborted" => Self::Aborted,
            _ => return None,
        })
    }

    /// Whether the transaction is over (nothing left to do for it).
    pub fn is_final(self) -> bool {
        matches!(self, Self::Done | Self::Reversed | Self::Aborted)
    }
}

/// One journal row. Holds no secret: the PAN is masked, the sealed PAN is not exposed here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxRecord {
    /// Row id (the transaction number shown to the merchant).
    pub id: i64,
    /// What it is.
    pub kind: TxKind,
    /// Where it is.
    pub state: TxState,
    /// Amount in minor units, tip included.
    pub amount: u64,
    /// The tip part of `amount`.
    pub tip: u64,
    /// ISO 4217 numeric currency.
    pub currency: u16,
    /// Creation time, RFC 3339 UTC.
    pub created_at: String,
    /// Masked PAN (first 6, last 4).
    pub pan_masked: Option<String>,
    /// Keyed hash of the PAN (hex AES-CMAC under the device key).
    pub pan_hash: Option<String>,
    /// Application label.
    pub card_label: Option<String>,
    /// The request MTI, once built.
    pub mti: Option<String>,
    /// DE 3.
    pub processing: Option<String>,
    /// DE 11.
    pub stan: Option<u32>,
    /// DE 7.
    pub transmission: Option<String>,
    /// DE 39 answered.
    pub response_code: Option<String>,
    /// DE 38.
    pub auth_code: Option<String>,
    /// DE 37.
    pub rrn: Option<String>,
    /// Whether money moved (approved and not undone by this row's own reversal).
    pub approved: bool,
    /// A human summary of the result.
    pub result: Option<String>,
    /// The transaction this one refers to (void, completion, refund of a sale).
    pub original_id: Option<i64>,
    /// Whether a later void undid it.
    pub voided: bool,
    /// Whether a completion used this pre-authorization.
    pub completed: bool,
    /// DE 11 of this transaction's reversal.
    pub reversal_stan: Option<u32>,
    /// DE 7 of this transaction's reversal.
    pub reversal_transmission: Option<String>,
    /// Reversal messages sent so far.
    pub reversal_attempts: u32,
    /// Advice uploads tried so far.
    pub advice_attempts: u32,
    /// The settlement batch that closed it.
    pub batch: Option<u32>,
    /// What the issuer sent back in DE 55 for the card (`91` ARPC, `71`/`72` scripts) and what
    /// became of it, e.g. `91 (10 bytes); recorded, not for this card`. `None` if nothing.
    pub issuer_data: Option<String>,
    /// What the receipt shows of the card read (AID, entry mode, CVM, TVR, TSI).
    pub card_details: CardDetails,
    /// Which door the payment came through.
    pub method: PaymentMethod,
}

pub(super) fn record(r: &Row<'_>) -> rusqlite::Result<TxRecord> {
    let kind: String = r.get(1)?;
    let state: String = r.get(2)?;
    let bad = |i, what: &str| {
        rusqlite::Error::FromSqlConversionFailure(
            i,
            rusqlite::types::Type::Text,
            format!("unknown {what}").into(),
        )
    };
    Ok(TxRecord {
        id: r.get(0)?,
        kind: TxKind::parse(&kind).ok_or_else(|| bad(1, "kind"))?,
        state: TxState::parse(&state).ok_or_else(|| bad(2, "state"))?,
        amount: to_u64(r.get(3)?),
        tip: to_u64(r.get(4)?),
        currency: r.get(5)?,
        created_at: r.get(6)?,
        pan_masked: r.get(7)?,
        pan_hash: r.get(8)?,
        card_label: r.get(9)?,
        mti: r.get(10)?,
        processing: r.get(11)?,
        stan: r.get(12)?,
        transmission: r.get(13)?,
        response_code: r.get(14)?,
        auth_code: r.get(15)?,
        rrn: r.get(16)?,
        approved: r.get(17)?,
        result: r.get(18)?,
        original_id: r.get(19)?,
        voided: r.get(20)?,
        completed: r.get(21)?,
        reversal_stan: r.get(22)?,
        reversal_transmission: r.get(23)?,
        reversal_attempts: r.get(24)?,
        advice_attempts: r.get(25)?,
        batch: r.get(26)?,
        issuer_data: r.get(27)?,
        card_details: CardDetails {
            aid: r.get(28)?,
            entry_mode: r.get(29)?,
            cvm: r.get(30)?,
            tvr: r.get(31)?,
            tsi: r.get(32)?,
        },
        method: PaymentMethod::parse(&r.get::<_, String>(33)?).ok_or_else(|| bad(33, "method"))?,
    })
}

pub(super) const COLUMNS: &str =
    "id, kind, state, amount, tip, currency, created_at, pan_masked, pan_hash,
    card_label, mti, processing, stan, transmission, response_code, auth_code, rrn, approved,
    result, original_id, voided, completed, reversal_stan, reversal_transmission,
    reversal_attempts, advice_attempts, batch, issuer_data, aid, entry_mode, cvm, tvr, tsi, method";
