//! QR codes for payments (`docs/qr-customer-code.md`): the customer's EMVCo consumer-presented
//! code ([`cpm`]) and the customer's signed offline code ([`offline_code`]). Sans-IO: text or
//! bytes in, checked values or clear errors out; the camera and the link are elsewhere.

pub mod cpm;
pub mod offline_code;
