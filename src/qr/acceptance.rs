//! The scanner's acceptance check for the customer's code (`docs/qr-customer-code.md`): which
//! decoded payloads may end a scan and go to the engine.
//!
//! - A signed offline code (`SPOC1:`) is accepted when its device signature holds over the
//!   bytes read ([`OfflineCode::is_intact`]): one frame is enough. Whether the terminal trusts
//!   it (the wallet CA, the age, the counter) is the engine's check, which says why it refuses.
//! - An EMVCo consumer-presented code must parse (base64 of BER-TLV with its templates), but
//!   its cryptogram is the issuer's to check, so two frames must agree
//!   ([`Verdict::NoCheck`]).
//! - Anything else (a merchant's code, a link, stray text) is not a customer's code.

use emv::qr::cpm;
use emv::qr::offline_code::{OfflineCode, TEXT_PREFIX};

use super::scanner::Verdict;

/// The verdict on a payload read from the customer's screen.
pub fn customer_code(payload: &[u8]) -> Verdict {
    let Ok(text) = std::str::from_utf8(payload) else {
        return Verdict::Invalid;
    };
    if text.trim_start().starts_with(TEXT_PREFIX) {
        return match OfflineCode::parse_text(text) {
            Ok(code) if code.is_intact() => Verdict::Valid,
            _ => Verdict::Invalid,
        };
    }
    match cpm::parse(text) {
        Ok(_) => Verdict::NoCheck,
        Err(_) => Verdict::Invalid,
    }
}
