//! One tap: the kernel run, in this one place, over the transport a [`CardSource`] lends once
//! a card is present. The engine, `softpos tap`, `softpos read-card` and `softpos bench tap`
//! all tap through [`run_kernel`], so a PC/SC reader and the in-process virtual card are
//! driven the same way and timed the same way.

use std::time::{Duration, Instant};

use emv::config::TerminalConfig;
use emv::kernel::{KernelError, Outcome, TraceEvent, TransactionRequest};
use emv::oda::OfflineDataAuthenticator;
use emv::{CardTransport, Command, Response, TransportError};

use crate::reader::{CardSource, ReaderError, TapInfo};

/// A tap's outcome and what it cost.
#[derive(Debug)]
pub struct TapReport {
    /// The kernel's outcome.
    pub outcome: Outcome,
    /// Reader-level facts: ATR, exchanges, connect time and total card interaction time.
    pub reader: TapInfo,
    /// Time spent inside the kernel (CPU of our own processing, between exchanges).
    pub kernel_time: Duration,
}

/// Why a tap reached no outcome.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TapError {
    /// The reader failed before or around the tap (no card, pcscd gone, reader unplugged).
    #[error(transparent)]
    Reader(#[from] ReaderError),
    /// The kernel driver was misused (a bug, reported rather than a panic). A card that fails
    /// mid-tap is not an error: the kernel turns it into an outcome.
    #[error(transparent)]
    Kernel(#[from] KernelError),
}

/// Runs the kernel for `request` on the card of `source`, once, and measures it. `trace`
/// receives every APDU (redacted) when given.
pub fn run_kernel(
    source: &mut dyn CardSource,
    config: &TerminalConfig,
    oda: &dyn OfflineDataAuthenticator,
    request: TransactionRequest,
    mut trace: Option<&mut dyn FnMut(TraceEvent)>,
) -> Result<TapReport, TapError> {
    // `with_card` calls the closure once; the request is taken on that call.
    let mut request = Some(request);
    let mut ran: Option<(Result<Outcome, KernelError>, Duration)> = None;
    let reader = source.with_card(&mut |transport| {
        let Some(request) = request.take() else {
            return;
        };
        let mut timed = TimedTransport {
            inner: transport,
            in_transport: Duration::ZERO,
        };
        let started = Instant::now();
        let outcome = emv::kernel::run(&mut timed, config, oda, request, trace.take());
        let kernel_time = started.elapsed().saturating_sub(timed.in_transport);
        ran = Some((outcome, kernel_time));
    })?;
    let (outcome, kernel_time) = ran.ok_or(ReaderError::NoCard)?;
    Ok(TapReport {
        outcome: outcome?,
        reader,
        kernel_time,
    })
}

struct TimedTransport<'a> {
    inner: &'a mut dyn CardTransport,
    in_transport: Duration,
}

impl CardTransport for TimedTransport<'_> {
    fn transmit(&mut self, command: &Command) -> Result<Response, TransportError> {
        let started = Instant::now();
        let result = self.inner.transmit(command);
        self.in_transport += started.elapsed();
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reader whose card is never there.
    struct Empty;

    impl CardSource for Empty {
        fn wait_for_card(&mut self, _timeout: Duration) -> Result<(), ReaderError> {
            Err(ReaderError::NoCardInTime)
        }

        fn with_card(
            &mut self,
            _f: &mut dyn FnMut(&mut dyn CardTransport),
        ) -> Result<TapInfo, ReaderError> {
            Err(ReaderError::NoCard)
        }
    }

    #[test]
    fn a_reader_failure_stays_a_typed_reader_error() {
        let config = TerminalConfig::default_embedded().expect("defaults");
        let oda = crate::tap::authenticator(&config).expect("CA keys");
        let request = crate::tap::transaction_request(crate::tap::Sale {
            amount: 100,
            currency_code: config.terminal.currency_code,
            transaction_type: 0x00,
        })
        .expect("random source");
        let error = run_kernel(&mut Empty, &config, oda.as_ref(), request, None)
            .expect_err("no card, no outcome");
        assert!(
            matches!(error, TapError::Reader(ReaderError::NoCard)),
            "{error:?}"
        );
    }
}
