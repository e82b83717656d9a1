//! The merchant's code at the host: dynamic EMVCo codes with a rotating token
//! (`docs/qr-merchant-code.md`).
//!
//! A terminal opens a payment ([`MerchantCodes::create`]) and draws a code with the current
//! token; the token changes every [`WINDOW_SECS`] seconds ([`MerchantCodes::snapshot`] gives the
//! current one). A wallet pays with the token from the picture or typed as a short code
//! ([`MerchantCodes::pay`]): the host accepts a token only inside its window (plus a short
//! grace for the scan) and only once, only for the terminal and amount it was made for, and
//! never after the terminal cancelled or the payment expired. The customer's consent makes the
//! payment [`Status::Confirmed`]; the money moves when the terminal then sends its 0200 naming
//! the payment ([`MerchantCodes::resolve`], [`MerchantCodes::complete`]), so the charge has the
//! link's guarantees (journal, reversal, settlement). Every change is published to subscribers
//! ([`MerchantCodes::subscribe`]) so a terminal or wallet waiting on the host learns it at
//! once. Times are Unix seconds passed in by the caller.

pub(crate) mod link;
mod request;
mod token;

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use tokio::sync::watch;

pub use emv::qr::merchant_payment::{parse_short_code, short_code};
pub use request::{PaymentRequest, REQUEST_LIFETIME_SECS};
pub use token::{TOKEN_DIGITS, TokenInput, TokenKey, WINDOW_SECS, window_end, window_of};

/// How long after its window a token is still accepted, for the time between the scan and the
/// payment reaching the host.
pub const GRACE_SECS: u64 = 5;

/// How long a payment stays open by default.
pub const DEFAULT_LIFETIME_SECS: u64 = 300;

/// The open and finished merchant-code payments of a host.
pub struct MerchantCodes {
    key: TokenKey,
    lifetime: u64,
    payments: Mutex<HashMap<String, Payment>>,
}

/// Where a payment stands.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Status {
    /// Waiting for the customer.
    Pending,
    /// The customer's wallet consented; waiting for the terminal's 0200 that moves the money.
    Confirmed {
        /// The paying wallet.
        wallet: String,
        /// When (Unix seconds).
        at: u64,
    },
    /// Paid by `wallet`: the terminal's 0200 was approved.
    Paid {
        /// The paying wallet.
        wallet: String,
        /// When (Unix seconds).
        at: u64,
    },
    /// Cancelled by the terminal.
    Cancelled,
    /// Not paid within its lifetime.
    Expired,
    /// The terminal's 0200 was declined (`code` is its DE 39).
    Declined {
        /// The DE 39 of the decline.
        code: String,
    },
    /// The customer refused a request to pay on their phone.
    Refused,
    /// The terminal reversed or voided its approved 0200: the money went back, nothing stays
    /// charged.
    Reversed,
}

impl Status {
    /// Whether nothing can change it any more.
    pub fn is_final(&self) -> bool {
        matches!(
            self,
            Self::Paid { .. }
                | Self::Cancelled
                | Self::Expired
                | Self::Declined { .. }
                | Self::Refused
                | Self::Reversed
        )
    }
}

/// What a terminal shows: the payment, its current token and when the token changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    /// The payment's reference.
    pub reference: String,
    /// Where it stands.
    pub status: Status,
    /// The current token (twelve digits), while pending.
    pub token: Option<String>,
    /// When the token changes (Unix seconds).
    pub rotates_at: u64,
    /// When the payment expires (Unix seconds).
    pub expires_at: u64,
    /// The amount in minor units.
    pub amount: u64,
    /// ISO 4217 numeric currency.
    pub currency: u16,
}

/// A wallet's attempt to pay.
#[derive(Debug, Clone, Copy)]
pub struct PayAttempt<'a> {
    /// The reference from the code, or `None` for a typed short code.
    pub reference: Option<&'a str>,
    /// The terminal named in the code, or `None` for a typed short code.
    pub terminal_id: Option<&'a str>,
    /// The amount the wallet read (minor units), if any.
    pub amount: Option<u64>,
    /// The token.
    pub token: &'a str,
    /// The paying wallet.
    pub wallet: &'a str,
}

/// What the host charged: the receipt's facts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Charged {
    /// The payment's reference.
    pub reference: String,
    /// The merchant's terminal.
    pub terminal_id: String,
    /// The amount in minor units.
    pub amount: u64,
    /// ISO 4217 numeric currency.
    pub currency: u16,
}

/// Why a payment attempt, a cancel or a status request was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Refusal {
    /// No such payment (or, for a short code, no open payment with that code).
    #[error("unknown payment or code")]
    Unknown,
    /// The code names another terminal than the payment's.
    #[error("the code is for another merchant")]
    OtherMerchant,
    /// The amount read from the code is not the payment's.
    #[error("the amount does not match the payment")]
    AmountMismatch,
    /// The token is not this payment's token.
    #[error("invalid token")]
    BadToken,
    /// The token was this payment's, in a window that has passed.
    #[error("the code has expired: scan the code on the terminal again")]
    ExpiredToken,
    /// The token was already used.
    #[error("this code was already used: scan the code on the terminal again")]
    ReplayedToken,
    /// Already paid, or consented to by a wallet.
    #[error("already paid")]
    AlreadyPaid,
    /// The terminal names a payment that no wallet has consented to, or with another amount.
    #[error("the payment is not confirmed by the customer")]
    NotConfirmed,
    /// Cancelled by the terminal.
    #[error("the merchant cancelled this payment")]
    Cancelled,
    /// Not paid within its lifetime.
    #[error("the payment has expired")]
    Expired,
    /// The terminal reversed or voided its charge.
    #[error("the merchant's terminal reversed this payment: nothing was charged")]
    Reversed,
    /// The customer's account refused (funds, status).
    #[error("declined: {0}")]
    Declined(String),
}

struct Payment {
    terminal_id: String,
    /// For a request to pay: the one wallet it is addressed to (it has no token).
    payer: Option<String>,
    /// For a request to pay: the merchant's name the wallet shows.
    merchant: String,
    /// The terminal's 0200 that completes the payment (`DE 11/DE 7`), once one named it: only
    /// that request (or its retransmission) may complete it.
    claimed_by: Option<String>,
    amount: u64,
    currency: u16,
    created_window: u64,
    expires_at: u64,
    status: Status,
    used_windows: Vec<u64>,
    changes: watch::Sender<Status>,
}

impl MerchantCodes {
    /// A service with `key` whose payments stay open `lifetime` seconds.
    pub fn new(key: TokenKey, lifetime: u64) -> Self {
        Self {
            key,
            lifetime,
            payments: Mutex::new(HashMap::new()),
        }
    }

    /// Opens a payment of `amount` for `terminal_id` and gives its first snapshot.
    pub fn create(
        &self,
        terminal_id: &str,
        amount: u64,
        currency: u16,
        now: u64,
    ) -> Result<Snapshot, getrandom::Error> {
        self.open(terminal_id, amount, currency, None, "", now)
    }

    /// Opens a payment; `payer` and `merchant` for a request to pay.
    fn open(
        &self,
        terminal_id: &str,
        amount: u64,
        currency: u16,
        payer: Option<&str>,
        merchant: &str,
        now: u64,
    ) -> Result<Snapshot, getrandom::Error> {
        let mut bytes = [0u8; 8];
        getrandom::fill(&mut bytes)?;
        let reference = hex::encode_upper(bytes);
        let (changes, _) = watch::channel(Status::Pending);
        let lifetime = if payer.is_some() {
            REQUEST_LIFETIME_SECS.min(self.lifetime)
        } else {
            self.lifetime
        };
        let payment = Payment {
            terminal_id: terminal_id.to_owned(),
            payer: payer.map(str::to_owned),
            merchant: merchant.to_owned(),
            claimed_by: None,
            amount,
            currency,
            created_window: window_of(now),
            expires_at: now.saturating_add(lifetime),
            status: Status::Pending,
            used_windows: Vec::new(),
            changes,
        };
        let snapshot = self.snapshot_of(&reference, &payment, now);
        self.lock().insert(reference, payment);
        Ok(snapshot)
    }

    /// The payment as its terminal sees it now (a fresh token while pending). Refuses another
    /// terminal's payment as [`Refusal::Unknown`].
    pub fn snapshot(
        &self,
        terminal_id: &str,
        reference: &str,
        now: u64,
    ) -> Result<Snapshot, Refusal> {
        let mut payments = self.lock();
        let payment = terminals_payment(&mut payments, terminal_id, reference, now)?;
        Ok(self.snapshot_of(reference, payment, now))
    }

    /// A receiver that changes whenever the payment's status does.
    pub fn subscribe(
        &self,
        terminal_id: &str,
        reference: &str,
    ) -> Result<watch::Receiver<Status>, Refusal> {
        self.lock()
            .get(reference)
            .filter(|p| p.terminal_id == terminal_id)
            .map(|p| p.changes.subscribe())
            .ok_or(Refusal::Unknown)
    }

    /// A receiver of the payment's status for whoever knows its reference (the wallet that
    /// pays it waits on it for the terminal's outcome).
    pub fn watch(&self, reference: &str) -> Result<watch::Receiver<Status>, Refusal> {
        self.lock()
            .get(reference)
            .map(|p| p.changes.subscribe())
            .ok_or(Refusal::Unknown)
    }

    /// The terminal's 0200 `request` (its DE 11 and DE 7) names this payment: the wallet that
    /// consented to it, if the payment is `terminal_id`'s, of `amount`, confirmed, and not
    /// named by another request (the same request again, a retransmission, is let through:
    /// the ledger answers it from its record). Anything else is refused and nothing is
    /// charged: a payment is charged by one 0200 at most.
    pub fn resolve(
        &self,
        terminal_id: &str,
        reference: &str,
        amount: u64,
        request: &str,
        now: u64,
    ) -> Result<String, Refusal> {
        let mut payments = self.lock();
        let payment = terminals_payment(&mut payments, terminal_id, reference, now)?;
        if payment.amount != amount {
            return Err(Refusal::AmountMismatch);
        }
        let claimed_by_another = payment.claimed_by.as_deref().is_some_and(|c| c != request);
        match &payment.status {
            Status::Confirmed { .. } | Status::Paid { .. } if claimed_by_another => {
                Err(Refusal::AlreadyPaid)
            }
            Status::Confirmed { wallet, .. } => {
                let wallet = wallet.clone();
                payment.claimed_by = Some(request.to_owned());
                Ok(wallet)
            }
            Status::Paid { wallet, .. } => Ok(wallet.clone()),
            Status::Cancelled => Err(Refusal::Cancelled),
            Status::Expired => Err(Refusal::Expired),
            Status::Pending | Status::Declined { .. } | Status::Refused | Status::Reversed => {
                Err(Refusal::NotConfirmed)
            }
        }
    }

    /// The host answered the terminal's 0200 for this payment: paid when `approved`, else
    /// declined with `code`. A payment no longer confirmed is left as it is.
    pub fn complete(&self, terminal_id: &str, reference: &str, code: &str, now: u64) {
        let mut payments = self.lock();
        let Some(payment) = payments
            .get_mut(reference)
            .filter(|p| p.terminal_id == terminal_id)
        else {
            return;
        };
        let Status::Confirmed { wallet, .. } = &payment.status else {
            return;
        };
        let status = if code == "00" {
            Status::Paid {
                wallet: wallet.clone(),
                at: now,
            }
        } else {
            Status::Declined {
                code: code.to_owned(),
            }
        };
        set_status(payment, status);
    }

    /// The terminal's reversal or void of its 0200 `request` (`DE 11/DE 7`, from the DE 90 of
    /// the reversal) was accepted: the payment that request completed, or was completing, is
    /// [`Status::Reversed`]. Returns its reference; `None` when the request completed no
    /// payment of `terminal_id`.
    pub fn reverse(&self, terminal_id: &str, request: &str) -> Option<String> {
        let mut payments = self.lock();
        let (reference, payment) = payments.iter_mut().find(|(_, p)| {
            p.terminal_id == terminal_id && p.claimed_by.as_deref() == Some(request)
        })?;
        if !matches!(
            payment.status,
            Status::Paid { .. } | Status::Confirmed { .. }
        ) {
            return None;
        }
        set_status(payment, Status::Reversed);
        Some(reference.clone())
    }

    /// The terminal cancels. A payment the customer confirmed is cancelled too: its money only
    /// moves with the terminal's 0200. A payment already paid stays paid (the terminal then
    /// refunds).
    pub fn cancel(
        &self,
        terminal_id: &str,
        reference: &str,
        now: u64,
    ) -> Result<Snapshot, Refusal> {
        let mut payments = self.lock();
        let payment = terminals_payment(&mut payments, terminal_id, reference, now)?;
        if matches!(payment.status, Status::Pending | Status::Confirmed { .. }) {
            set_status(payment, Status::Cancelled);
        }
        Ok(self.snapshot_of(reference, payment, now))
    }

    /// A wallet pays: its consent makes the payment [`Status::Confirmed`]. `authorise` checks
    /// the payer (it runs under the service's lock, so a cancel cannot overtake it); the
    /// payment is confirmed only if it succeeds. The token is spent by any attempt that
    /// presents it, confirmed or refused.
    pub fn pay(
        &self,
        attempt: &PayAttempt<'_>,
        now: u64,
        authorise: impl FnOnce(&Charged) -> Result<(), Refusal>,
    ) -> Result<Charged, Refusal> {
        let mut payments = self.lock();
        let reference = match attempt.reference {
            Some(reference) => reference.to_owned(),
            None => self
                .find_by_token(&payments, attempt.token, now)
                .ok_or(Refusal::Unknown)?,
        };
        let payment = payments
            .get_mut(&reference)
            .filter(|p| p.payer.is_none())
            .ok_or(Refusal::Unknown)?;
        if attempt
            .terminal_id
            .is_some_and(|t| t != payment.terminal_id)
        {
            return Err(Refusal::OtherMerchant);
        }
        expire(payment, now);
        match &payment.status {
            Status::Pending => {}
            Status::Paid { .. } | Status::Confirmed { .. } => return Err(Refusal::AlreadyPaid),
            Status::Cancelled => return Err(Refusal::Cancelled),
            Status::Expired => return Err(Refusal::Expired),
            Status::Reversed => return Err(Refusal::Reversed),
            Status::Declined { .. } | Status::Refused => {
                return Err(Refusal::Declined("declined".to_owned()));
            }
        }
        if attempt.amount.is_some_and(|a| a != payment.amount) {
            return Err(Refusal::AmountMismatch);
        }
        let window = self.token_window(&reference, payment, attempt.token, now)?;
        if payment.used_windows.contains(&window) {
            return Err(Refusal::ReplayedToken);
        }
        payment.used_windows.push(window);
        let charged = Charged {
            reference: reference.clone(),
            terminal_id: payment.terminal_id.clone(),
            amount: payment.amount,
            currency: payment.currency,
        };
        authorise(&charged)?;
        set_status(
            payment,
            Status::Confirmed {
                wallet: attempt.wallet.to_owned(),
                at: now,
            },
        );
        Ok(charged)
    }

    /// The window whose token `token` is: the current one, or the previous one within the
    /// grace. An older window of this payment is [`Refusal::ExpiredToken`].
    fn token_window(
        &self,
        reference: &str,
        payment: &Payment,
        token: &str,
        now: u64,
    ) -> Result<u64, Refusal> {
        let input = input_of(reference, payment);
        let current = window_of(now);
        if self.key.check(&input, current, token) {
            return Ok(current);
        }
        if let Some(previous) = current.checked_sub(1)
            && now < window_end(previous).saturating_add(GRACE_SECS)
            && self.key.check(&input, previous, token)
        {
            return Ok(previous);
        }
        let oldest = payment
            .created_window
            .max(current.saturating_sub(MAX_WINDOWS_CHECKED));
        if (oldest..current).any(|w| self.key.check(&input, w, token)) {
            return Err(Refusal::ExpiredToken);
        }
        Err(Refusal::BadToken)
    }

    fn find_by_token(
        &self,
        payments: &HashMap<String, Payment>,
        token: &str,
        now: u64,
    ) -> Option<String> {
        payments.iter().find_map(|(reference, payment)| {
            (payment.status == Status::Pending
                && payment.payer.is_none()
                && now < payment.expires_at
                && self.token_window(reference, payment, token, now).is_ok())
            .then(|| reference.clone())
        })
    }

    fn snapshot_of(&self, reference: &str, payment: &Payment, now: u64) -> Snapshot {
        let window = window_of(now);
        Snapshot {
            reference: reference.to_owned(),
            status: payment.status.clone(),
            token: (payment.status == Status::Pending && payment.payer.is_none())
                .then(|| self.key.token(&input_of(reference, payment), window)),
            rotates_at: window_end(window),
            expires_at: payment.expires_at,
            amount: payment.amount,
            currency: payment.currency,
        }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, Payment>> {
        // A panic while holding the lock leaves the map consistent (every change is one
        // assignment), so a poisoned lock is still usable.
        self.payments.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl std::fmt::Debug for MerchantCodes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MerchantCodes")
            .field("lifetime", &self.lifetime)
            .finish_non_exhaustive()
    }
}

fn input_of<'a>(reference: &'a str, payment: &'a Payment) -> TokenInput<'a> {
    TokenInput {
        terminal_id: &payment.terminal_id,
        reference,
        amount: payment.amount,
        currency: payment.currency,
    }
}

/// `terminal_id`'s payment `reference`, expired if its time is up; another terminal's payment
/// is [`Refusal::Unknown`].
fn terminals_payment<'a>(
    payments: &'a mut HashMap<String, Payment>,
    terminal_id: &str,
    reference: &str,
    now: u64,
) -> Result<&'a mut Payment, Refusal> {
    let payment = payments
        .get_mut(reference)
        .filter(|p| p.terminal_id == terminal_id)
        .ok_or(Refusal::Unknown)?;
    expire(payment, now);
    Ok(payment)
}

fn expire(payment: &mut Payment, now: u64) {
    let expired = match payment.status {
        Status::Pending => now >= payment.expires_at,
        Status::Confirmed { .. } => now >= payment.expires_at.saturating_add(CONFIRMED_GRACE_SECS),
        _ => false,
    };
    if expired {
        set_status(payment, Status::Expired);
    }
}

/// How long past its lifetime a confirmed payment still waits for the terminal's 0200.
const CONFIRMED_GRACE_SECS: u64 = 60;

fn set_status(payment: &mut Payment, status: Status) {
    payment.status = status.clone();
    payment.changes.send_replace(status);
}

/// How far back a token is recognised as expired rather than invalid (about ten minutes).
const MAX_WINDOWS_CHECKED: u64 = 20;
