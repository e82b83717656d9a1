//! Kernel 2, Mastercard M/Chip (EMV Contactless Book C-2). TODO: being written.

use crate::apdu::Response;

use super::card_data::Session;
use super::{Context, KernelError, Transition};

/// Kernel activation.
pub(crate) fn start(_ctx: &Context<'_>, _session: Session) -> Result<Transition, KernelError> {
    Err(KernelError::Config("Kernel 2 is not available yet"))
}

/// Waiting for the GPO response.
pub(crate) struct ExpectGpo;
/// Waiting for a record.
pub(crate) struct ExpectRecord;
/// Waiting for the GENERATE AC response.
pub(crate) struct ExpectGenerateAc;

macro_rules! todo_state {
    ($t:ty) => {
        impl $t {
            pub(crate) fn handle(
                self: Box<Self>,
                _ctx: &Context<'_>,
                _response: &Response,
            ) -> Result<Transition, KernelError> {
                Err(KernelError::Config("Kernel 2 is not available yet"))
            }
        }
    };
}
todo_state!(ExpectGpo);
todo_state!(ExpectRecord);
todo_state!(ExpectGenerateAc);
