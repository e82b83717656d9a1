//! The customer's wallet on a phone, simulated (`docs/qr-customer-code.md`): a device key
//! enrolled at the host ([`device`]), the EMVCo consumer-presented code it shows
//! ([`cpm`]), and the signed code it makes while the phone has no network ([`offline`]).

pub mod cpm;
pub mod device;
pub mod offline;
