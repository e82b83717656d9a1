//! QR codes for payments: the merchant's EMVCo merchant-presented code ([`mpm`], with its CRC
//! [`crc`], `docs/qr-merchant-code.md`), the customer's EMVCo consumer-presented code ([`cpm`])
//! and the customer's signed offline code ([`offline_code`], `docs/qr-customer-code.md`).
//! Sans-IO: text or bytes in, checked values or clear errors out; the camera and the link are
//! elsewhere.

pub mod cpm;
pub mod crc;
pub mod merchant_payment;
pub mod mpm;
pub mod offline_code;

/// DE 22 of a payment with a customer's code (ISO 8583:1987: `03` bar code or QR, `1` the
/// terminal can take a PIN; `docs/iso8583.md`).
pub const POS_ENTRY_CODE: &str = "031";

/// The private data element that carries a signed offline code (binary, LLLVAR,
/// `docs/iso8583.md`).
pub const OFFLINE_CODE_FIELD: u8 = 104;

/// DE 22 of a payment with the merchant's code (ISO 8583:1987: `10` credential on file, the
/// wallet's account held at the host; `2` the terminal takes no PIN for it, the customer
/// confirmed on their phone; `docs/iso8583.md`).
pub const MERCHANT_CODE_ENTRY_MODE: &str = "102";

/// The private data element that names the merchant's-code payment a 0200 completes (the
/// host's reference, `ans..16` LLLVAR, `docs/iso8583.md`).
pub const MERCHANT_CODE_FIELD: u8 = 105;
