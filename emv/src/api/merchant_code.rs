//! The merchant's code on the host's API (`docs/qr-merchant-code.md` § Payment): the terminal
//! opens a payment, waits on it (a long poll that also brings each new token), and cancels it.
//! A request to pay (`docs/request-to-pay.md`) is such a payment addressed to one wallet:
//! opened with [`CreateRequest`], waited on and cancelled the same way.

use serde::{Deserialize, Serialize};

/// `POST /v1/merchant-codes`: open a payment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreatePayment {
    /// The terminal (DE 41); its client certificate must name it.
    pub terminal_id: String,
    /// The amount in minor units.
    pub amount: u64,
    /// ISO 4217 numeric currency.
    pub currency: u16,
}

/// `POST /v1/payment-requests`: ask the customer's wallet to pay.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateRequest {
    /// The terminal (DE 41); its client certificate must name it.
    pub terminal_id: String,
    /// The amount in minor units.
    pub amount: u64,
    /// ISO 4217 numeric currency.
    pub currency: u16,
    /// The customer's wallet: a phone number (`+4915112345678`) or a wallet ID.
    pub alias: String,
    /// The merchant's name the customer's phone shows.
    pub merchant: String,
}

/// `POST /v1/merchant-codes/{reference}/cancel`: the terminal gives up the payment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CancelPayment {
    /// The terminal (DE 41).
    pub terminal_id: String,
}

/// The query of `GET /v1/merchant-codes/{reference}`: the host answers at once when the
/// payment's status or token differs from what the terminal knows, else holds the request
/// until one of them changes or `wait` seconds pass (at most [`MAX_WAIT_SECS`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WaitQuery {
    /// The terminal (DE 41).
    pub terminal_id: String,
    /// The status the terminal knows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<PaymentStatus>,
    /// The token the terminal shows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// How long the host may hold the request (seconds).
    #[serde(default)]
    pub wait: u64,
}

/// The longest a host holds a waiting request.
pub const MAX_WAIT_SECS: u64 = 25;

/// Where a payment stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum PaymentStatus {
    /// Waiting for the customer.
    Pending,
    /// The customer's wallet agreed: the terminal now sends its 0200 with DE 105.
    Confirmed,
    /// The terminal's 0200 was approved.
    Paid,
    /// The terminal cancelled.
    Cancelled,
    /// Not paid within its lifetime.
    Expired,
    /// The terminal's 0200 was declined.
    Declined,
    /// The customer refused the request to pay on their phone.
    Refused,
    /// The terminal reversed or voided its approved 0200: nothing stays charged.
    Reversed,
}

impl PaymentStatus {
    /// Whether nothing can change it any more.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            Self::Paid
                | Self::Cancelled
                | Self::Expired
                | Self::Declined
                | Self::Refused
                | Self::Reversed
        )
    }
}

/// A payment as the terminal sees it: the answer to create, wait and cancel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentView {
    /// The host's reference (DE 105 of the 0200, additional data `05` of the code).
    pub reference: String,
    /// Where it stands.
    pub status: PaymentStatus,
    /// The current token (twelve digits) while pending.
    #[serde(default, skip_serializing_if = "Option::is_none")]
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
