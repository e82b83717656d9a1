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
//! outcome.

use std::sync::Arc;
use std::thread;

use rusqlite::{Connection, OptionalExtension, params};
use tokio::sync::{mpsc, oneshot};

use super::HostError;
use super::security::{CardKeyReference, SecurityModule};
use crate::iso8583::{Message, Mti, mask_pan};

/// The issuer's demo accounts, seeded on first start (`docs/hsm-sim.md`): one per virtual
/// card PAN ([`crate::card::Profile::all`]; fault profiles share the Visa card's), plus test
/// accounts for the decline codes. PIN [`DEMO_PIN`] for all.
pub fn demo_accounts() -> Vec<super::ledger::AccountSeed> {
    use super::ledger::{AccountSeed, AccountStatus};
    use crate::card::{Profile, Scheme};
    let seed = |pan: &str, scheme: &str, balance: i64, status, expiry: &str| AccountSeed {
        pan: pan.to_owned(),
        scheme: scheme.to_owned(),
        balance,
        status,
        daily_limit: 500_000,
        expiry: expiry.to_owned(),
    };
    let mut accounts: Vec<AccountSeed> = Vec::new();
    for card in Profile::all() {
        if accounts.iter().any(|a| a.pan == card.pan_digits()) {
            continue;
        }
        let scheme = match card.scheme() {
            Scheme::Visa => "visa",
            Scheme::Mastercard => "mastercard",
            _ => "unionpay",
        };
        accounts.push(seed(
            card.pan_digits(),
            scheme,
            1_000_000,
            AccountStatus::Active,
            card.expiry(),
        ));
    }
    accounts.extend([
        seed(
            "4761739001010200",
            "visa",
            1_000_000,
            AccountStatus::Blocked,
            "2812",
        ),
        seed(
            "4761739001010309",
            "visa",
            1_000_000,
            AccountStatus::Lost,
            "2812",
        ),
        seed(
            "4761739001010408",
            "visa",
            500,
            AccountStatus::Active,
            "2812",
        ),
        seed(
            "4761739001010507",
            "visa",
            1_000_000,
            AccountStatus::Active,
            "2001",
        ),
    ]);
    accounts
}

/// The demo cards' PIN (documented in `docs/hsm-sim.md`; test data only).
pub const DEMO_PIN: &str = "1234";

/// The contactless CVM limit above which the issuer wants a PIN or a consumer-device CVM
/// (minor units): 50.00.
pub const CONTACTLESS_CVM_LIMIT: i64 = 5_000;

/// Wrong PINs in a row after which the account answers `75`.
pub const PIN_TRY_LIMIT: i64 = 3;

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

/// An owned [`CardKeyReference`].
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

/// Settlement totals (DE 74-77, 86-89).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Totals {
    pub(crate) credits: i64,
    pub(crate) credit_reversals: i64,
    pub(crate) debits: i64,
    pub(crate) debit_reversals: i64,
    pub(crate) credits_amount: i64,
    pub(crate) credit_reversals_amount: i64,
    pub(crate) debits_amount: i64,
    pub(crate) debit_reversals_amount: i64,
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
                if let Ok(bytes) = response(&job.request.message, "96").encode() {
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
            if already_reversed(tx, request)? =>
        {
            late_original(tx, request)?
        }
        RequestKind::Authorization | RequestKind::AccountVerification | RequestKind::Purchase => {
            authorize(tx, security, request)?
        }
        RequestKind::Refund => refund(tx, request)?,
        RequestKind::Void { of_refund } => void(tx, request, of_refund)?,
        RequestKind::Advice => advice(tx, request)?,
        RequestKind::Reversal => reversal(tx, request)?,
        RequestKind::Reconciliation => reconcile(tx, request)?,
    };
    if let Some(id) = out.transaction_id {
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

/// A response skeleton: the response MTI, the echoed fields and DE 39.
pub(crate) fn response(request: &Message, code: &str) -> Message {
    let mti = request.mti().original().response().unwrap_or(request.mti());
    let mut m = Message::new(mti);
    for n in ECHOED {
        if let Some(v) = request.field(n) {
            m.set(n, v.to_vec());
        }
    }
    m.set(39, code);
    m
}

struct Outcome {
    message: Message,
    transaction_id: Option<i64>,
}

struct Account {
    id: i64,
    scheme: String,
    balance: i64,
    status: String,
    daily_limit: i64,
    spent_day: String,
    spent_today: i64,
    pin_tries: i64,
    expiry: String,
    last_atc: i64,
}

fn account(tx: &Connection, pan: &str) -> Result<Option<Account>, HostError> {
    Ok(tx
        .prepare_cached(
            "SELECT id, scheme, balance, status, daily_limit, spent_day, spent_today, pin_tries,
                    expiry, last_atc FROM accounts WHERE pan = ?1",
        )?
        .query_row([pan], |r| {
            Ok(Account {
                id: r.get(0)?,
                scheme: r.get(1)?,
                balance: r.get(2)?,
                status: r.get(3)?,
                daily_limit: r.get(4)?,
                spent_day: r.get(5)?,
                spent_today: r.get(6)?,
                pin_tries: r.get(7)?,
                expiry: r.get(8)?,
                last_atc: r.get(9)?,
            })
        })
        .optional()?)
}

fn save_account(tx: &Connection, a: &Account) -> Result<(), HostError> {
    tx.prepare_cached(
        "UPDATE accounts SET balance = ?2, spent_day = ?3, spent_today = ?4, pin_tries = ?5,
                             last_atc = ?6 WHERE id = ?1",
    )?
    .execute(params![
        a.id,
        a.balance,
        a.spent_day,
        a.spent_today,
        a.pin_tries,
        a.last_atc
    ])?;
    Ok(())
}

struct Row<'a> {
    request: &'a Request,
    account_id: Option<i64>,
    code: &'a str,
    approved: bool,
    original_id: Option<i64>,
    completion: bool,
}

fn insert_row(tx: &Connection, row: &Row<'_>) -> Result<i64, HostError> {
    let r = row.request;
    tx.prepare_cached(
        "INSERT INTO transactions (terminal_id, stan, transmission, mti, kind, account_id,
                                   pan_masked, amount, currency, response_code, approved,
                                   original_id)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
    )?
    .execute(params![
        r.key.terminal_id,
        r.key.stan,
        r.key.transmission,
        r.message.mti().to_string(),
        r.kind.ledger_name(row.completion),
        row.account_id,
        r.pan.as_ref().map(|p| mask_pan(p.as_bytes())),
        r.amount,
        r.message.text(49),
        row.code,
        row.approved,
        row.original_id
    ])?;
    Ok(tx.last_insert_rowid())
}

fn authorize(
    tx: &Connection,
    security: &dyn SecurityModule,
    request: &Request,
) -> Result<Outcome, HostError> {
    let pan = request.pan.as_deref().map_or("", String::as_str);
    let found = account(tx, pan)?;
    let (code, account) = decide(tx, request, found)?;
    // An account verification is "approved" with 85 (no reason to decline): nothing is held.
    let approved = code == "00" || code == APPROVED_VERIFICATION;
    if let Some(a) = &account {
        save_account(tx, a)?;
    }
    let id = insert_row(
        tx,
        &Row {
            request,
            account_id: account.as_ref().map(|a| a.id),
            code,
            approved,
            original_id: None,
            completion: false,
        },
    )?;
    let mut message = response(&request.message, code);
    if approved {
        message.set(38, format!("{:06}", id % 1_000_000));
    }
    if let ChipOutcome::Checked {
        valid: true,
        atc,
        arqc,
        card,
    } = &request.chip
    {
        let reference = CardKeyReference {
            rid: &card.rid,
            pan,
            pan_sequence_number: card.pan_sequence_number,
            version: card.version,
        };
        let arc = [
            code.as_bytes().first().copied().unwrap_or(b'0'),
            code.as_bytes().get(1).copied().unwrap_or(b'0'),
        ];
        match security.issuer_authentication_data(&reference, atc.to_be_bytes(), *arqc, arc) {
            Ok(data) => {
                let mut icc = vec![0x91, u8::try_from(data.len()).unwrap_or(0)];
                icc.extend_from_slice(&data);
                message.set(55, icc);
            }
            Err(e) => tracing::warn!(error = %e, "no ARPC"),
        }
    }
    Ok(Outcome {
        message,
        transaction_id: Some(id),
    })
}

/// The authorization decision, in the order an issuer applies its checks. Returns DE 39 and
/// the account with its updated counters (to be saved even on decline: PIN tries, ATC).
fn decide(
    tx: &Connection,
    request: &Request,
    found: Option<Account>,
) -> Result<(&'static str, Option<Account>), HostError> {
    let Some(mut a) = found else {
        return Ok(("14", None));
    };
    let verification = request.kind == RequestKind::AccountVerification;
    if (verification && request.amount != 0) || (!verification && request.amount <= 0) {
        return Ok(("13", Some(a)));
    }
    if a.status != "active" {
        return Ok(("57", Some(a)));
    }
    let expiry = request.expiry.as_deref().unwrap_or(&a.expiry);
    if expiry < today().yymm().as_str() {
        return Ok(("54", Some(a)));
    }
    match &request.chip {
        ChipOutcome::Unavailable => return Ok(("91", Some(a))),
        ChipOutcome::Checked { valid: false, .. } => return Ok(("05", Some(a))),
        ChipOutcome::Checked { atc, .. } => {
            if i64::from(*atc) <= a.last_atc {
                tracing::warn!("ATC replay");
                return Ok(("05", Some(a)));
            }
            a.last_atc = i64::from(*atc);
        }
        ChipOutcome::Absent => {}
    }
    if let Some(ksn) = request.ksn
        && !advance_ksn(tx, &ksn)?
    {
        tracing::warn!("DUKPT KSN replay");
        return Ok(("05", Some(a)));
    }
    match request.pin {
        PinOutcome::Unavailable => return Ok(("91", Some(a))),
        PinOutcome::Replayed => {
            tracing::warn!("DUKPT KSN replay (HSM)");
            return Ok(("05", Some(a)));
        }
        _ if request.pin != PinOutcome::Absent && a.pin_tries >= PIN_TRY_LIMIT => {
            return Ok(("75", Some(a)));
        }
        PinOutcome::Wrong => {
            a.pin_tries += 1;
            let code = if a.pin_tries >= PIN_TRY_LIMIT {
                "75"
            } else {
                "55"
            };
            return Ok((code, Some(a)));
        }
        PinOutcome::Correct => a.pin_tries = 0,
        PinOutcome::Absent => {}
    }
    if verification {
        // Card, status, expiry, ARQC, ATC, KSN and PIN all passed: no amount to check, hold
        // or post.
        return Ok((APPROVED_VERIFICATION, Some(a)));
    }
    if request.contactless
        && request.pin == PinOutcome::Absent
        && !request.consumer_device_cvm
        && request.amount > CONTACTLESS_CVM_LIMIT
    {
        let code = if a.scheme == "visa" { "1A" } else { "65" };
        return Ok((code, Some(a)));
    }
    let today = today().yyyymmdd();
    if a.spent_day != today {
        a.spent_day = today;
        a.spent_today = 0;
    }
    if a.spent_today.saturating_add(request.amount) > a.daily_limit {
        return Ok(("61", Some(a)));
    }
    if a.balance < request.amount {
        return Ok(("51", Some(a)));
    }
    a.balance -= request.amount;
    a.spent_today += request.amount;
    Ok(("00", Some(a)))
}

/// Records the KSN counter; `false` if it is not above the highest seen for its key.
fn advance_ksn(tx: &Connection, ksn: &[u8; 12]) -> Result<bool, HostError> {
    let (key_id, counter) = ksn.split_at(8);
    let counter = counter
        .iter()
        .fold(0i64, |acc, &b| (acc << 8) | i64::from(b));
    let seen: Option<i64> = tx
        .prepare_cached("SELECT counter FROM ksn_counters WHERE key_id = ?1")?
        .query_row([key_id], |r| r.get(0))
        .optional()?;
    if seen.is_some_and(|s| counter <= s) {
        return Ok(false);
    }
    tx.prepare_cached(
        "INSERT INTO ksn_counters (key_id, counter) VALUES (?1, ?2)
         ON CONFLICT(key_id) DO UPDATE SET counter = ?2",
    )?
    .execute(params![key_id, counter])?;
    Ok(true)
}

fn refund(tx: &Connection, request: &Request) -> Result<Outcome, HostError> {
    let pan = request.pan.as_deref().map_or("", String::as_str);
    let found = account(tx, pan)?;
    let code = match &found {
        None => "14",
        Some(_) if request.amount <= 0 => "13",
        Some(a) if a.status != "active" => "57",
        Some(_) => "00",
    };
    let approved = code == "00";
    if let (true, Some(a)) = (approved, &found) {
        tx.prepare_cached("UPDATE accounts SET balance = balance + ?2 WHERE id = ?1")?
            .execute(params![a.id, request.amount])?;
    }
    let id = insert_row(
        tx,
        &Row {
            request,
            account_id: found.as_ref().map(|a| a.id),
            code,
            approved,
            original_id: None,
            completion: false,
        },
    )?;
    let mut message = response(&request.message, code);
    if approved {
        message.set(38, format!("{:06}", id % 1_000_000));
    }
    Ok(Outcome {
        message,
        transaction_id: Some(id),
    })
}

struct Original {
    id: i64,
    kind: String,
    approved: bool,
    reversed: bool,
    account_id: Option<i64>,
    amount: i64,
}

fn find_original(tx: &Connection, request: &Request) -> Result<Option<Original>, HostError> {
    let Some(o) = &request.original else {
        return Ok(None);
    };
    // A repeat of the original (0201, 0221) is stored under its own MTI; look for both.
    let repeat = Mti::from_bcd(u16::from_str_radix(&o.mti, 16).unwrap_or(0) | 1)
        .map(|m| m.to_string())
        .unwrap_or_default();
    Ok(tx
        .prepare_cached(
            "SELECT id, kind, approved, reversed, account_id, amount FROM transactions
             WHERE terminal_id = ?1 AND stan = ?2 AND transmission = ?3 AND mti IN (?4, ?5)
               AND kind NOT IN ('reversal', 'settlement')
             ORDER BY id LIMIT 1",
        )?
        .query_row(
            params![
                request.key.terminal_id,
                o.stan,
                o.transmission,
                o.mti,
                repeat
            ],
            |r| {
                Ok(Original {
                    id: r.get(0)?,
                    kind: r.get(1)?,
                    approved: r.get(2)?,
                    reversed: r.get(3)?,
                    account_id: r.get(4)?,
                    amount: r.get(5)?,
                })
            },
        )
        .optional()?)
}

/// Undoes an approved, not yet reversed original; `false` if there was nothing to undo.
fn undo(tx: &Connection, original: &Original) -> Result<bool, HostError> {
    if !original.approved || original.reversed {
        return Ok(false);
    }
    let delta = match original.kind.as_str() {
        "authorization" | "purchase" | "advice" | "completion" => original.amount,
        "refund" => -original.amount,
        _ => return Ok(false),
    };
    if let Some(account_id) = original.account_id {
        tx.prepare_cached(
            "UPDATE accounts SET balance = balance + ?2,
                 spent_today = MAX(0, spent_today - MAX(0, ?2)) WHERE id = ?1",
        )?
        .execute(params![account_id, delta])?;
    }
    tx.prepare_cached("UPDATE transactions SET reversed = 1 WHERE id = ?1")?
        .execute([original.id])?;
    Ok(true)
}

fn void(tx: &Connection, request: &Request, of_refund: bool) -> Result<Outcome, HostError> {
    let original = find_original(tx, request)?;
    let code = match &original {
        None => "25",
        Some(o) if o.kind != if of_refund { "refund" } else { "purchase" } => "12",
        Some(o) if !o.approved => "12",
        Some(o) => {
            undo(tx, o)?;
            "00"
        }
    };
    let id = insert_row(
        tx,
        &Row {
            request,
            account_id: original.as_ref().and_then(|o| o.account_id),
            code,
            approved: code == "00",
            original_id: original.as_ref().map(|o| o.id),
            completion: false,
        },
    )?;
    Ok(Outcome {
        message: response(&request.message, code),
        transaction_id: Some(id),
    })
}

/// Whether a reversal naming this request arrived before it (the terminal timed out and
/// reversed while the request was still on its way).
fn already_reversed(tx: &Connection, request: &Request) -> Result<bool, HostError> {
    let key = &request.key;
    Ok(tx
        .prepare_cached(
            "SELECT 1 FROM early_reversals
             WHERE terminal_id = ?1 AND mti = ?2 AND stan = ?3 AND transmission = ?4",
        )?
        .exists(params![
            key.terminal_id,
            key.mti_class.to_string(),
            key.stan,
            key.transmission
        ])?)
}

/// An original that arrives after its reversal: declined `05` and recorded, never approved.
fn late_original(tx: &Connection, request: &Request) -> Result<Outcome, HostError> {
    tracing::warn!(stan = %request.key.stan, "original arrived after its reversal: declined");
    let pan = request.pan.as_deref().map_or("", String::as_str);
    let account_id = account(tx, pan)?.map(|a| a.id);
    let id = insert_row(
        tx,
        &Row {
            request,
            account_id,
            code: "05",
            approved: false,
            original_id: None,
            completion: false,
        },
    )?;
    Ok(Outcome {
        message: response(&request.message, "05"),
        transaction_id: Some(id),
    })
}

fn reversal(tx: &Connection, request: &Request) -> Result<Outcome, HostError> {
    let original = find_original(tx, request)?;
    let changed = match &original {
        Some(o) => undo(tx, o)?,
        None => false,
    };
    if let (None, Some(reference)) = (&original, &request.original) {
        tracing::info!(stan = %request.key.stan, "reversal of an unknown transaction: acknowledged");
        // Remembered, so that an original arriving after its reversal is not approved.
        tx.prepare_cached(
            "INSERT OR IGNORE INTO early_reversals (terminal_id, mti, stan, transmission)
             VALUES (?1, ?2, ?3, ?4)",
        )?
        .execute(params![
            request.key.terminal_id,
            reference.mti,
            reference.stan,
            reference.transmission
        ])?;
    }
    // Every 0410 acknowledges the reversal; its code says what there was to undo, so that the
    // terminal counts at settlement exactly what the host counts (`docs/iso8583.md` §4).
    let code = match &original {
        None => "25",
        Some(o) if !o.approved => "21",
        Some(_) => "00",
    };
    let id = insert_row(
        tx,
        &Row {
            request,
            account_id: original.as_ref().and_then(|o| o.account_id),
            code,
            approved: changed,
            original_id: original.as_ref().map(|o| o.id),
            completion: false,
        },
    )?;
    Ok(Outcome {
        message: response(&request.message, code),
        transaction_id: Some(id),
    })
}

fn advice(tx: &Connection, request: &Request) -> Result<Outcome, HostError> {
    let pan = request.pan.as_deref().map_or("", String::as_str);
    let original = find_original(tx, request)?;
    let completion = original.as_ref().is_some_and(|o| o.kind == "authorization");
    if let Some(o) = original.as_ref().filter(|_| completion) {
        // The hold of the 0100 is released and replaced by the advice's amount.
        undo(tx, o)?;
    }
    // Read the account after the release, or saving it would put the hold back.
    let found = account(tx, pan)?;
    // A cryptogram that does not verify is not the card's offline approval (a forged or
    // altered advice): acknowledged, so the terminal stops repeating it, recorded, and not
    // posted. It then shows as a difference at reconciliation, as it would for the acquirer.
    let forged = matches!(request.chip, ChipOutcome::Checked { valid: false, .. });
    if forged {
        tracing::warn!("advice with a cryptogram that does not verify: recorded, not posted");
    }
    let posted = if let Some(mut a) = found
        .as_ref()
        .filter(|_| !forged)
        .map(|a| Account { ..clone_account(a) })
    {
        a.balance -= request.amount;
        a.spent_today += request.amount;
        if let ChipOutcome::Checked { atc, .. } = &request.chip {
            a.last_atc = a.last_atc.max(i64::from(*atc));
        }
        save_account(tx, &a)?;
        true
    } else {
        false
    };
    let id = insert_row(
        tx,
        &Row {
            request,
            account_id: found.as_ref().map(|a| a.id),
            code: "00",
            approved: posted,
            original_id: original.as_ref().map(|o| o.id),
            completion,
        },
    )?;
    Ok(Outcome {
        message: response(&request.message, "00"),
        transaction_id: Some(id),
    })
}

fn clone_account(a: &Account) -> Account {
    Account {
        id: a.id,
        scheme: a.scheme.clone(),
        balance: a.balance,
        status: a.status.clone(),
        daily_limit: a.daily_limit,
        spent_day: a.spent_day.clone(),
        spent_today: a.spent_today,
        pin_tries: a.pin_tries,
        expiry: a.expiry.clone(),
        last_atc: a.last_atc,
    }
}

/// The host's totals for a terminal's open batch.
pub(crate) fn open_totals(tx: &Connection, terminal_id: &str) -> Result<Totals, HostError> {
    let mut stmt = tx.prepare_cached(
        "SELECT kind, reversed, COUNT(*), COALESCE(SUM(amount), 0) FROM transactions
         WHERE terminal_id = ?1 AND batch_id IS NULL AND approved = 1
           AND kind IN ('purchase', 'advice', 'completion', 'refund')
         GROUP BY kind, reversed",
    )?;
    let mut totals = Totals::default();
    let rows = stmt.query_map([terminal_id], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, bool>(1)?,
            r.get::<_, i64>(2)?,
            r.get::<_, i64>(3)?,
        ))
    })?;
    for row in rows {
        let (kind, reversed, count, amount) = row?;
        let (n, sum) = match (kind == "refund", reversed) {
            (true, false) => (&mut totals.credits, &mut totals.credits_amount),
            (true, true) => (
                &mut totals.credit_reversals,
                &mut totals.credit_reversals_amount,
            ),
            (false, false) => (&mut totals.debits, &mut totals.debits_amount),
            (false, true) => (
                &mut totals.debit_reversals,
                &mut totals.debit_reversals_amount,
            ),
        };
        *n += count;
        *sum += amount;
    }
    Ok(totals)
}

fn reconcile(tx: &Connection, request: &Request) -> Result<Outcome, HostError> {
    let terminal_id = &request.key.terminal_id;
    let host = open_totals(tx, terminal_id)?;
    let m = &request.message;
    let number = |n: u8| m.text(n).and_then(|s| s.parse::<i64>().ok()).unwrap_or(-1);
    let terminal = Totals {
        credits: number(74),
        credit_reversals: number(75),
        debits: number(76),
        debit_reversals: number(77),
        credits_amount: number(86),
        credit_reversals_amount: number(87),
        debits_amount: number(88),
        debit_reversals_amount: number(89),
    };
    let net = host.debits_amount - host.credits_amount;
    let net_field = if net >= 0 {
        format!("D{net:016}")
    } else {
        format!("C{:016}", -net)
    };
    let in_balance = terminal == host && m.text(97) == Some(net_field.as_str());
    let batch_number = m.text(60).unwrap_or("").to_owned();
    tx.prepare_cached(
        "INSERT INTO batches (terminal_id, batch_number, in_balance) VALUES (?1, ?2, ?3)",
    )?
    .execute(params![terminal_id, batch_number, in_balance])?;
    let batch_id = tx.last_insert_rowid();
    tx.prepare_cached(
        "UPDATE transactions SET batch_id = ?2 WHERE terminal_id = ?1 AND batch_id IS NULL",
    )?
    .execute(params![terminal_id, batch_id])?;
    let code = if in_balance { "00" } else { "95" };
    let id = insert_row(
        tx,
        &Row {
            request,
            account_id: None,
            code,
            approved: in_balance,
            original_id: None,
            completion: false,
        },
    )?;
    tx.prepare_cached("UPDATE transactions SET batch_id = ?2 WHERE id = ?1")?
        .execute(params![id, batch_id])?;
    let mut message = response(m, code);
    message.set(15, today().mmdd());
    message.set(66, if in_balance { "1" } else { "2" });
    for (n, v) in [
        (74, host.credits),
        (75, host.credit_reversals),
        (76, host.debits),
        (77, host.debit_reversals),
    ] {
        message.set(n, format!("{v:010}"));
    }
    for (n, v) in [
        (86, host.credits_amount),
        (87, host.credit_reversals_amount),
        (88, host.debits_amount),
        (89, host.debit_reversals_amount),
    ] {
        message.set(n, format!("{v:016}"));
    }
    message.set(97, net_field);
    Ok(Outcome {
        message,
        transaction_id: Some(id),
    })
}

/// A UTC calendar date.
pub(crate) struct Date {
    pub(crate) year: i64,
    pub(crate) month: i64,
    pub(crate) day: i64,
}

impl Date {
    pub(crate) fn yymm(&self) -> String {
        format!("{:02}{:02}", self.year % 100, self.month)
    }
    pub(crate) fn yyyymmdd(&self) -> String {
        format!("{:04}{:02}{:02}", self.year, self.month, self.day)
    }
    pub(crate) fn mmdd(&self) -> String {
        format!("{:02}{:02}", self.month, self.day)
    }
}

/// Today's UTC date (civil-from-days, H. Hinnant's algorithm).
pub(crate) fn today() -> Date {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(0));
    let z = secs.div_euclid(86_400) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    Date { year, month, day }
}

/// Fields echoed from request to response.
const ECHOED: [u8; 14] = [3, 4, 7, 11, 12, 13, 18, 22, 25, 41, 42, 49, 60, 70];
/// DE 39 of an approved account verification: `85`, no reason to decline (ISO 8583:1987).
pub(crate) const APPROVED_VERIFICATION: &str = "85";
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
            .with(41, "T0000001");
        let r = response(&req, "00");
        assert_eq!(r.mti(), Mti::FINANCIAL_ADVICE_RESPONSE);
        assert_eq!(r.text(11), Some("000001"));
        assert!(!r.has(2), "the PAN is not echoed");
    }

    #[test]
    fn date_is_plausible() {
        let d = today();
        assert!(d.year >= 2024 && (1..=12).contains(&d.month) && (1..=31).contains(&d.day));
        assert_eq!(d.yymm().len(), 4);
    }
}
