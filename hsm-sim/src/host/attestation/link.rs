//! The attestation token on the ISO 8583 link (`docs/attestation.md` § On the link): a
//! terminal enrolled by activation (it has a device key on record) must carry a valid token in
//! DE 106 of every request that asks for money or checks a card. Reversals, voids, advices,
//! settlement and network messages need none: they undo, report or close what was authorised.

use std::time::{SystemTime, UNIX_EPOCH};

use emv::crypto::attestation_token::{self, TOKEN_FIELD};

use super::AttestationService;
use crate::host::enrol::TerminalRecord;
use crate::iso8583::{Message, Mti};

/// Whether `message` from `record`'s terminal may go on: `Err` is the DE 39 to answer, `58`
/// (transaction not permitted to terminal) for a request without a valid token.
pub(crate) fn check(
    service: &AttestationService,
    record: &TerminalRecord,
    terminal_id: &str,
    message: &Message,
) -> Result<(), &'static str> {
    if record.device_key.is_none() || !needs_token(message) {
        return Ok(());
    }
    let Some(token) = message.field(TOKEN_FIELD) else {
        tracing::warn!(terminal_id, "request without an attestation token: refused");
        return Err("58");
    };
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    attestation_token::verify(token, &service.public_key(), terminal_id, now)
        .map(drop)
        .map_err(|e| {
            tracing::warn!(terminal_id, error = %e, "attestation token refused");
            "58"
        })
}

/// An authorisation (0100) or a purchase or refund (0200), repeats included; not a void.
fn needs_token(message: &Message) -> bool {
    let mti = message.mti().original();
    let processing = message.text(3).and_then(|p| p.get(..2));
    match mti {
        Mti::AUTHORIZATION_REQUEST => true,
        Mti::FINANCIAL_REQUEST => matches!(processing, Some("00" | "20")),
        _ => false,
    }
}
