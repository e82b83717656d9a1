//! The customer's wallet on a phone, simulated (`docs/qr-customer-code.md`): a device key
//! enrolled at the host ([`device`]), the EMVCo consumer-presented code it shows
//! ([`cpm`]), the signed code it makes while the phone has no network ([`offline`]), its
//! camera reading a merchant's code from a picture ([`scan`]), its screen drawing a code as a
//! picture ([`screen`]), the customer's signed consent
//! ([`consent`]) and the wallet's client of the host's API ([`api`]).

pub mod api;
pub mod consent;
pub mod cpm;
pub mod device;
pub mod offline;
pub mod scan;
pub mod screen;
