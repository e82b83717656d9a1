//! Requests to pay (`docs/request-to-pay.md`): a payment the terminal addresses to one wallet,
//! found by its alias, instead of showing a code. It has no token; the wallet sees it in its
//! inbox with the merchant and the amount, and the customer confirms (signed on the phone) or
//! refuses. From the confirmation on it is a payment like any other: the terminal's 0200 with
//! DE 105 moves the money ([`MerchantCodes::resolve`]).

use super::{Charged, MerchantCodes, Refusal, Snapshot, Status, expire, set_status};

/// How long a request to pay waits for the customer by default.
pub const REQUEST_LIFETIME_SECS: u64 = 120;

/// A request in a wallet's inbox: what the phone shows the customer (also the JSON of
/// `POST /v1/wallet/inbox`, `docs/wallet-api.md`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PaymentRequest {
    /// The payment's reference.
    pub reference: String,
    /// The merchant's terminal.
    pub terminal_id: String,
    /// The merchant's name.
    pub merchant: String,
    /// The amount in minor units.
    pub amount: u64,
    /// ISO 4217 numeric currency.
    pub currency: u16,
    /// When it expires (Unix seconds).
    pub expires_at: u64,
}

impl MerchantCodes {
    /// Opens a request of `amount` from `terminal_id` (trading as `merchant`) to the wallet
    /// `payer`.
    pub fn request(
        &self,
        terminal_id: &str,
        amount: u64,
        currency: u16,
        payer: &str,
        merchant: &str,
        now: u64,
    ) -> Result<Snapshot, getrandom::Error> {
        self.open(terminal_id, amount, currency, Some(payer), merchant, now)
    }

    /// The requests waiting for `payer`'s answer, oldest first.
    pub fn inbox(&self, payer: &str, now: u64) -> Vec<PaymentRequest> {
        let mut payments = self.lock();
        let mut waiting: Vec<PaymentRequest> = payments
            .iter_mut()
            .filter(|(_, p)| p.payer.as_deref() == Some(payer))
            .filter_map(|(reference, p)| {
                expire(p, now);
                (p.status == Status::Pending).then(|| PaymentRequest {
                    reference: reference.clone(),
                    terminal_id: p.terminal_id.clone(),
                    merchant: p.merchant.clone(),
                    amount: p.amount,
                    currency: p.currency,
                    expires_at: p.expires_at,
                })
            })
            .collect();
        waiting.sort_by_key(|r| (r.expires_at, r.reference.clone()));
        waiting
    }

    /// The customer answers request `reference` on the phone of `payer`: confirmed, or
    /// refused. Only the wallet it is addressed to can answer, once, while it is pending.
    pub fn answer(
        &self,
        reference: &str,
        payer: &str,
        confirm: bool,
        now: u64,
    ) -> Result<Charged, Refusal> {
        let mut payments = self.lock();
        let payment = payments
            .get_mut(reference)
            .filter(|p| p.payer.as_deref() == Some(payer))
            .ok_or(Refusal::Unknown)?;
        expire(payment, now);
        match &payment.status {
            Status::Pending => {}
            Status::Cancelled => return Err(Refusal::Cancelled),
            Status::Expired => return Err(Refusal::Expired),
            _ => return Err(Refusal::AlreadyPaid),
        }
        let status = if confirm {
            Status::Confirmed {
                wallet: payer.to_owned(),
                at: now,
            }
        } else {
            Status::Refused
        };
        set_status(payment, status);
        Ok(Charged {
            reference: reference.to_owned(),
            terminal_id: payment.terminal_id.clone(),
            amount: payment.amount,
            currency: payment.currency,
        })
    }
}
