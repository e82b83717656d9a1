//! The JSON bodies of the host's HTTPS API that the terminal and the host share
//! (`docs/host-api.md`): one module per topic. Serde types only; the transport is elsewhere.

pub mod attestation;
pub mod merchant_code;
