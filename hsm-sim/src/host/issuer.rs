//! The simulated issuer: authorization decisions with ISO 8583 response codes, reversals,
//! advices and settlement, applied to the ledger by one writer thread.
//!
//! The writer thread takes requests from the connection tasks, applies a batch of them in one
//! SQLite transaction (a savepoint each), commits once (group commit, `synchronous=FULL`), and
//! only then answers. A response is never sent for a change that is not durable, and the
//! stored response makes a retransmission return the same bytes (`docs/iso8583.md` §7).
//!
//! Key operations (PIN, ARQC, ARPC, MAC) go through [`SecurityModule`]; PIN and ARQC are
//! checked by the connection task before the request gets here, so the writer only applies the
//! outcome. The decisions themselves are pure functions ([`rules`]); the files beside them
//! load the facts from the ledger, call the rule and store its effect.

use std::sync::Arc;
use std::thread;

use rusqlite::{Connection, OptionalExtension, params};
use tokio::sync::{mpsc, oneshot};

use super::HostError;
use super::contract::{self, Presence};
use super::security::SecurityModule;
use crate::iso8583::{Message, Mti};

mod advice;
mod authorize;
mod calendar;
mod demo;
mod reconcile;
mod reversal;
pub(crate) mod rules;
mod store;

pub use calendar::{Date, today};
pub use demo::{CONTACTLESS_CVM_LIMIT, DEMO_PIN, PIN_TRY_LIMIT, demo_accounts};

/// What a request asks for, from MTI and processing code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RequestKind {
    Authorization,
    /// Zero-amount account verification ("card check", `docs/iso8583.md` §4): a 0100 with
    /// DE 4 = 0 and DE 25 = `51`.
    AccountVerification,
    Purchase,
    Refund,
    Void {
        of_refund: bool,
    },
    Advice,
    Reversal,
    Reconciliation,
}

impl RequestKind {
    fn ledger_name(self, completion: bool) -> &'static str {
        match self {
            Self::Authorization => "authorization",
            Self::AccountVerification => "verification",
            Self::Purchase => "purchase",
            Self::Refund => "refund",
            Self::Void { .. } => "void",
            Self::Advice if completion => "completion",
            Self::Advice => "advice",
            Self::Reversal => "reversal",
            Self::Reconciliation => "settlement",
        }
    }
}

/// The outcome of the PIN check done before the writer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PinOutcome {
    Absent,
    Correct,
    Wrong,
    Replayed,
    Unavailable,
}

/// The outcome of the ARQC check done before the writer.
#[derive(Debug, Clone)]
pub(crate) enum ChipOutcome {
    Absent,
    Checked {
        valid: bool,
        atc: u16,
        arqc: [u8; 8],
        card: OwnedCardReference,
    },
    Unavailable,
}

/// An owned [`super::security::CardKeyReference`].
#[derive(Debug, Clone)]
pub(crate) struct OwnedCardReference {
    pub(crate) rid: Vec<u8>,
    pub(crate) pan_sequence_number: u8,
    pub(crate) version: emv::crypto::cryptogram::CryptogramVersion,
}

/// The idempotency key: DE 41 + DE 11 + DE 7 + MTI class.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct IdempotencyKey {
    pub(crate) terminal_id: String,
    pub(crate) stan: String,
    pub(crate) transmission: String,
    pub(crate) mti_class: Mti,
}

/// DE 90's reference to an original message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct OriginalReference {
    pub(crate) mti: String,
    pub(crate) stan: String,
    pub(crate) transmission: String,
}

/// A validated request, with the PIN and ARQC outcomes.
pub(crate) struct Request {
    pub(crate) message: Message,
    pub(crate) key: IdempotencyKey,
    pub(crate) kind: RequestKind,
    pub(crate) pan: Option<zeroize::Zeroizing<String>>,
    pub(crate) amount: i64,
    pub(crate) expiry: Option<String>,
    pub(crate) contactless: bool,
    pub(crate) consumer_device_cvm: bool,
    pub(crate) pin: PinOutcome,
    pub(crate) chip: ChipOutcome,
    /// DE 63: the KSN of the PIN block (PIN key).
    pub(crate) ksn: Option<[u8; 12]>,
    /// DE 61 when the request's MAC verified: the response is MACed with this KSN.
    pub(crate) mac_ksn: Option<[u8; 12]>,
    pub(crate) original: Option<OriginalReference>,
}

impl Request {
    /// The PAN digits, or empty (no account has an empty PAN).
    fn pan_digits(&self) -> &str {
        self.pan.as_deref().map_or("", String::as_str)
    }
}

struct Job {
    request: Request,
    reply: oneshot::Sender<Vec<u8>>,
}

/// The handle of the writer thread.
#[derive(Clone)]
pub(crate) struct IssuerWorker {
    jobs: mpsc::Sender<Job>,
}

impl IssuerWorker {
    /// Starts the writer thread on `conn`.
    pub(crate) fn start(
        conn: Connection,
        security: Arc<dyn SecurityModule>,
    ) -> Result<(Self, thread::JoinHandle<()>), HostError> {
        let (tx, rx) = mpsc::channel(JOB_QUEUE);
        let handle = thread::Builder::new()
            .name("hsm-sim-ledger".to_owned())
            .spawn(move || run(conn, security, rx))
            .map_err(|source| HostError::Io {
                path: "ledger thread".into(),
                source,
            })?;
        Ok((Self { jobs: tx }, handle))
    }

    /// Applies `request` and returns the encoded response body, or `None` if the ledger failed
    /// (the connection is then closed without an answer).
    pub(crate) async fn submit(&self, request: Request) -> Option<Vec<u8>> {
        let (reply, rx) = oneshot::channel();
        self.jobs.send(Job { request, reply }).await.ok()?;
        rx.await.ok()
    }
}

/// Fills in the response MAC (`docs/iso8583.md` §6) of an encoded response whose MAC field
/// was zeroed by the writer.
pub(crate) fn sign_response(
    security: &dyn SecurityModule,
    ksn: &[u8; 12],
    mut bytes: Vec<u8>,
) -> Result<Vec<u8>, HostError> {
    let has_mac = Message::decode(&bytes).is_ok_and(|m| m.has(mac_field(&m)));
    if !has_mac {
        return Ok(bytes);
    }
    let body_len = bytes.len().saturating_sub(8);
    let mac = security
        .mac(ksn, bytes.get(..body_len).unwrap_or_default(), false)
        .map_err(|e| HostError::Hsm(e.to_string()))?;
    if let Some(tail) = bytes.get_mut(body_len..) {
        tail.copy_from_slice(&mac);
    }
    Ok(bytes)
}

/// The MAC field of a message: DE 128 if any field above 64 is present, else DE 64.
pub(crate) fn mac_field(message: &Message) -> u8 {
    super::mac::mac_field(message)
}

/// A response skeleton (`docs/iso8583.md` §4): the response MTI, the elements its type echoes
/// ([`contract::echoed`]), DE 37 [`NOT_RECORDED`] where the type requires one (the ledger
/// replaces it with the transaction's reference) and DE 39.
pub(crate) fn response(request: &Message, code: &str) -> Message {
    let mti = request.mti().original().response().unwrap_or(request.mti());
    let mut m = Message::new(mti);
    for n in contract::echoed(mti) {
        if let Some(v) = request.field(n) {
            m.set(n, v.to_vec());
        }
    }
    if contract::presence(mti, 37) == Some(Presence::Mandatory) {
        m.set(37, NOT_RECORDED);
    }
    m.set(39, code);
    m
}

/// What a request did: the response (without DE 37 and MAC) and the ledger row it recorded.
struct Outcome {
    message: Message,
    transaction_id: Option<i64>,
}

fn run(mut conn: Connection, security: Arc<dyn SecurityModule>, mut rx: mpsc::Receiver<Job>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while let Some(first) = rx.blocking_recv() {
        batch.push(first);
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let replies = apply_batch(&mut conn, security.as_ref(), &mut batch);
        batch.clear();
        for (reply, bytes) in replies {
            let _ = reply.send(bytes);
        }
    }
    tracing::debug!("ledger writer stopped");
}

fn apply_batch(
    conn: &mut Connection,
    security: &dyn SecurityModule,
    batch: &mut Vec<Job>,
) -> Vec<(oneshot::Sender<Vec<u8>>, Vec<u8>)> {
    let mut replies = Vec::with_capacity(batch.len());
    let Ok(mut tx) = conn.transaction() else {
        tracing::error!("ledger: cannot begin a transaction");
        return replies;
    };
    for job in batch.drain(..) {
        let result = match tx.savepoint() {
            Ok(mut sp) => match process(&sp, security, &job.request) {
                Ok(bytes) => sp.commit().map(|()| bytes).map_err(HostError::from),
                Err(e) => {
                    let _ = sp.rollback();
                    Err(e)
                }
            },
            Err(e) => Err(e.into()),
        };
        match result {
            Ok(bytes) => replies.push((job.reply, bytes)),
            Err(e) => {
                tracing::error!(error = %e, "ledger: request failed, answering 96");
                // System malfunction, not stored: a retransmission is tried again.
                let mut answer = response(&job.request.message, "96");
                if let Ok(bytes) = finish(&mut answer, &job.request) {
                    replies.push((job.reply, bytes));
                }
            }
        }
    }
    if let Err(e) = tx.commit() {
        tracing::error!(error = %e, "ledger: commit failed, dropping answers");
        replies.clear();
    }
    replies
}

/// Applies one request inside the current savepoint; returns the response body.
fn process(
    tx: &Connection,
    security: &dyn SecurityModule,
    request: &Request,
) -> Result<Vec<u8>, HostError> {
    let key = &request.key;
    let mti_class = key.mti_class.to_string();
    if let Some(stored) = tx
        .prepare_cached(
            "SELECT response FROM messages
             WHERE terminal_id = ?1 AND stan = ?2 AND transmission = ?3 AND mti_class = ?4",
        )?
        .query_row(
            params![key.terminal_id, key.stan, key.transmission, mti_class],
            |r| r.get::<_, Vec<u8>>(0),
        )
        .optional()?
    {
        tracing::debug!(stan = %key.stan, "retransmission: original response");
        return Ok(stored);
    }
    let mut out = match request.kind {
        RequestKind::Authorization
        | RequestKind::AccountVerification
        | RequestKind::Purchase
        | RequestKind::Refund
            if store::already_reversed(tx, request)? =>
        {
            authorize::late_original(tx, request)?
        }
        RequestKind::Authorization | RequestKind::AccountVerification | RequestKind::Purchase => {
            authorize::authorize(tx, security, request)?
        }
        RequestKind::Refund => authorize::refund(tx, request)?,
        RequestKind::Void { of_refund } => reversal::void(tx, request, of_refund)?,
        RequestKind::Advice => advice::advice(tx, request)?,
        RequestKind::Reversal => reversal::reversal(tx, request)?,
        RequestKind::Reconciliation => reconcile::reconcile(tx, request)?,
    };
    if let Some(id) = out.transaction_id
        && contract::presence(out.message.mti(), 37) == Some(Presence::Mandatory)
    {
        out.message.set(37, format!("{id:012}"));
    }
    let mut bytes = finish(&mut out.message, request)?;
    tx.prepare_cached(
        "INSERT INTO messages (terminal_id, stan, transmission, mti_class, response)
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![
        key.terminal_id,
        key.stan,
        key.transmission,
        mti_class,
        bytes
    ])?;
    Ok(std::mem::take(&mut bytes))
}

/// Encodes a response. When the request had a MAC, the response gets a zeroed MAC field
/// here; the connection task fills it in ([`sign_response`]) so the HSM's DUKPT derivation
/// runs outside the single writer thread. The stored bytes keep the zeroed MAC, and the MAC is
/// deterministic, so a retransmission is answered with identical bytes.
fn finish(message: &mut Message, request: &Request) -> Result<Vec<u8>, HostError> {
    if request.mac_ksn.is_some() {
        let mac_field = mac_field(message);
        message.set(mac_field, vec![0u8; 8]);
    }
    Ok(message.encode()?)
}

/// DE 37 of a response that recorded nothing (refused before the ledger, or failed in it).
pub(crate) const NOT_RECORDED: &str = "000000000000";
/// Requests queued for the writer at most.
const JOB_QUEUE: usize = 4096;
/// Requests applied in one SQLite transaction at most.
const MAX_BATCH: usize = 512;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn response_mti_and_echo() {
        let req = Message::new(Mti::FINANCIAL_ADVICE_REPEAT)
            .with(2, "4761739001010119")
            .with(11, "000001")
            .with(41, "T0000001")
            .with(60, "000001");
        let r = response(&req, "00");
        assert_eq!(r.mti(), Mti::FINANCIAL_ADVICE_RESPONSE);
        assert_eq!(r.text(11), Some("000001"));
        assert_eq!(r.text(37), Some(NOT_RECORDED));
        assert!(!r.has(2), "the PAN is not echoed");
        assert!(!r.has(60), "a 0230 does not echo the batch number");
        assert_eq!(contract::check_response(&req, &r), vec![]);
    }

    #[test]
    fn a_network_response_has_no_reference_number() {
        let req = Message::new(Mti::NETWORK_REQUEST)
            .with(7, "1203101010")
            .with(11, "000001")
            .with(41, "T0000001")
            .with(70, "301");
        let r = response(&req, "00");
        assert!(!r.has(37));
        assert_eq!(contract::check_response(&req, &r), vec![]);
    }
}
