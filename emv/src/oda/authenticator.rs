//! The offline data authenticator: runs the whole EMV Book 2 chain for one [`OdaInput`].

use super::capk::CaKeyStore;
use super::certificate::{IccPublicKey, IssuerPublicKey};
use super::signed_data::{DYNAMIC_FORMAT, VISA_FDDA_FORMAT};
use super::{
    OdaFailure, OdaInput, OdaMethod, OdaResult, OfflineDataAuthenticator, recover_icc_public_key,
    recover_issuer_public_key, verify_combined_signature, verify_signed_dynamic_data,
    verify_signed_static_data,
};

/// Performs SDA, DDA, fDDA and CDA with the CA keys of its [`CaKeyStore`].
///
/// `authenticate` returns `None` (ODA not performed) only when the store is empty; otherwise it
/// returns a result whose `status` says why ODA failed, if it did. It never panics on card data.
#[derive(Debug, Clone, Default)]
pub struct Authenticator {
    store: CaKeyStore,
}

impl Authenticator {
    /// An authenticator trusting the keys of `store`.
    pub fn new(store: CaKeyStore) -> Self {
        Self { store }
    }

    /// The CA keys in use.
    pub fn store(&self) -> &CaKeyStore {
        &self.store
    }

    /// Runs ODA for `input` and returns the result, whether or not keys are configured.
    pub fn run(&self, input: &OdaInput<'_>) -> OdaResult {
        let mut result = OdaResult {
            method: input.method,
            status: Ok(()),
            recovered_cryptogram: None,
            recovered_dynamic_number: None,
        };
        match self.chain(input) {
            Ok(Recovered {
                cryptogram,
                dynamic_number,
            }) => {
                result.recovered_cryptogram = cryptogram;
                result.recovered_dynamic_number = dynamic_number;
            }
            Err(failure) => {
                tracing::debug!(method = ?input.method, ?failure, "offline data authentication failed");
                result.status = Err(failure);
            }
        }
        result
    }

    fn chain(&self, input: &OdaInput<'_>) -> Result<Recovered, OdaFailure> {
        let issuer = self.issuer_key(input)?;
        match input.method {
            OdaMethod::Sda => {
                let signed = required(input.signed_static_application_data, "93")?;
                let dac = verify_signed_static_data(&issuer, signed, input.static_data)?;
                Ok(Recovered {
                    cryptogram: None,
                    dynamic_number: Some(dac.to_vec()),
                })
            }
            OdaMethod::Dda | OdaMethod::Fdda => {
                let icc = icc_key(&issuer, input)?;
                let signed = required(input.signed_dynamic_application_data, "9F4B")?;
                let formats: &[u8] = if input.method == OdaMethod::Fdda {
                    &[DYNAMIC_FORMAT, VISA_FDDA_FORMAT]
                } else {
                    &[DYNAMIC_FORMAT]
                };
                let dynamic =
                    verify_signed_dynamic_data(&icc, signed, input.terminal_dynamic_data, formats)?;
                Ok(Recovered {
                    cryptogram: None,
                    dynamic_number: Some(icc_dynamic_number(&dynamic)?),
                })
            }
            OdaMethod::Cda => {
                let icc = icc_key(&issuer, input)?;
                let signed = required(input.signed_dynamic_application_data, "9F4B")?;
                let cda = input
                    .cda
                    .as_ref()
                    .ok_or(OdaFailure::MissingData("CDA transaction data"))?;
                let signature =
                    verify_combined_signature(&icc, signed, input.terminal_dynamic_data, cda)?;
                Ok(Recovered {
                    cryptogram: Some(signature.application_cryptogram),
                    dynamic_number: Some(signature.icc_dynamic_number),
                })
            }
        }
    }

    fn issuer_key(&self, input: &OdaInput<'_>) -> Result<IssuerPublicKey, OdaFailure> {
        let index = required(input.ca_public_key_index, "8F")?;
        let ca = self
            .store
            .get(input.rid, index)
            .ok_or(OdaFailure::CaKeyNotFound)?;
        if !ca.is_valid_on(input.transaction_date) {
            return Err(OdaFailure::CaKeyExpired);
        }
        recover_issuer_public_key(
            ca,
            required(input.issuer_public_key_certificate, "90")?,
            input.issuer_public_key_remainder,
            required(input.issuer_public_key_exponent, "9F32")?,
            required(input.pan, "5A")?,
            input.transaction_date,
        )
    }
}

impl OfflineDataAuthenticator for Authenticator {
    fn authenticate(&self, input: &OdaInput<'_>) -> Option<OdaResult> {
        if self.store.is_empty() {
            return None;
        }
        Some(self.run(input))
    }
}

struct Recovered {
    cryptogram: Option<[u8; 8]>,
    dynamic_number: Option<Vec<u8>>,
}

fn icc_key(issuer: &IssuerPublicKey, input: &OdaInput<'_>) -> Result<IccPublicKey, OdaFailure> {
    recover_icc_public_key(
        issuer,
        required(input.icc_public_key_certificate, "9F46")?,
        input.icc_public_key_remainder,
        required(input.icc_public_key_exponent, "9F47")?,
        required(input.pan, "5A")?,
        input.static_data,
        input.transaction_date,
    )
}

/// The ICC dynamic number (`9F4C`) from ICC dynamic data: a length byte, then the number
/// (Book 2 Table 18).
fn icc_dynamic_number(dynamic: &[u8]) -> Result<Vec<u8>, OdaFailure> {
    let (&length, rest) = dynamic
        .split_first()
        .ok_or(OdaFailure::Signature("ICC dynamic data is empty"))?;
    rest.get(..usize::from(length))
        .map(<[u8]>::to_vec)
        .ok_or(OdaFailure::Signature(
            "ICC dynamic number longer than its data",
        ))
}

fn required<T>(value: Option<T>, tag: &'static str) -> Result<T, OdaFailure> {
    value.ok_or(OdaFailure::MissingData(tag))
}
