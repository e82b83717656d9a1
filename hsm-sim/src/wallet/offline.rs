//! The wallet's signed offline code (`docs/qr-customer-code.md` §2): the device signs the
//! payer's chosen method, its next counter, the time, a short validity, an amount cap and
//! optionally the merchant's nonce, with its certificate attached. No network is needed.

use std::time::{SystemTime, UNIX_EPOCH};

use emv::qr::offline_code::{CodeFields, Nonce, OfflineCode};

use super::device::{Device, DeviceError};

/// What the customer chooses for an offline code.
#[derive(Debug, Clone, Copy)]
pub struct OfflineRequest {
    /// The payment method (1 = the first account).
    pub method: u8,
    /// The largest amount (minor units).
    pub amount_cap: u32,
    /// ISO 4217 numeric.
    pub currency: u16,
    /// Validity in seconds.
    pub validity_secs: u16,
    /// The merchant's nonce, when the terminal showed one.
    pub nonce: Option<Nonce>,
    /// The issue time (seconds since 1970); `None` for now.
    pub issued_at: Option<u32>,
}

/// Makes an offline code (its text form) with the next counter.
pub fn show_code(device: &mut Device, request: &OfflineRequest) -> Result<String, DeviceError> {
    let issued_at = match request.issued_at {
        Some(t) => t,
        None => SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .ok()
            .and_then(|d| u32::try_from(d.as_secs()).ok())
            .ok_or(DeviceError::Crypto("clock"))?,
    };
    let fields = CodeFields {
        method: request.method,
        counter: device.next_counter()?,
        issued_at,
        validity_secs: request.validity_secs,
        currency: request.currency,
        amount_cap: request.amount_cap,
        nonce: request.nonce,
    };
    let code = OfflineCode::sign(fields, device.certificate().clone(), device.signing_key())
        .map_err(|e| DeviceError::Malformed(e.to_string()))?;
    Ok(code.to_text())
}
