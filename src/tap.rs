//! One contactless tap on a PC/SC reader: the kernel run over the reader's transport, with the
//! clock and the unpredictable number supplied here so the kernel stays free of I/O.

use std::time::{Duration, Instant};

use emv::config::TerminalConfig;
use emv::kernel::{Outcome, TraceEvent, TransactionRequest};
use emv::oda::OfflineDataAuthenticator;

use crate::reader::{PcscReader, ReaderError, pcsc::TapInfo};

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

/// Amount, currency and type of the transaction a tap is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sale {
    /// Amount in minor units of the currency.
    pub amount: u64,
    /// ISO 4217 numeric currency code.
    pub currency_code: u16,
    /// `9C` transaction type: `00` purchase, `20` refund.
    pub transaction_type: u8,
}

/// Builds the kernel's request for `sale`: today's date and time (UTC) and a fresh
/// unpredictable number from the OS random source.
pub fn transaction_request(sale: Sale) -> Result<TransactionRequest, getrandom::Error> {
    let mut unpredictable_number = [0u8; 4];
    getrandom::fill(&mut unpredictable_number)?;
    let now = time::OffsetDateTime::now_utc();
    let two = |n: u8| ((n / 10) << 4) | (n % 10);
    // The year modulo 100 always fits in a byte.
    let year = u8::try_from(now.year().rem_euclid(100)).unwrap_or(0);
    Ok(TransactionRequest {
        amount: sale.amount,
        amount_other: 0,
        currency_code: sale.currency_code,
        transaction_type: sale.transaction_type,
        date: [two(year), two(u8::from(now.month())), two(now.day())],
        time: [two(now.hour()), two(now.minute()), two(now.second())],
        unpredictable_number,
    })
}

/// Runs one tap on `reader`: connects, runs the kernel to its outcome and measures it. `trace`
/// receives every APDU (redacted) when given.
pub fn tap(
    reader: &PcscReader,
    config: &TerminalConfig,
    oda: &dyn OfflineDataAuthenticator,
    request: TransactionRequest,
    trace: Option<&mut dyn FnMut(TraceEvent)>,
) -> Result<TapReport, ReaderError> {
    let (result, info) = reader.tap(|transport| {
        let mut timed = TimedTransport {
            inner: transport,
            in_transport: Duration::ZERO,
        };
        let started = Instant::now();
        let outcome = emv::kernel::run(&mut timed, config, oda, request, trace);
        let kernel_time = started.elapsed().saturating_sub(timed.in_transport);
        (outcome, kernel_time)
    })?;
    let (outcome, kernel_time) = result;
    // `run` returns errors only for misuse of the driver, which this loop does not do; report
    // one as an outcome-less reader error rather than panicking.
    let outcome = outcome.map_err(|e| ReaderError::Kernel(e.to_string()))?;
    Ok(TapReport {
        outcome,
        reader: info,
        kernel_time,
    })
}

struct TimedTransport<'a> {
    inner: &'a mut dyn emv::CardTransport,
    in_transport: Duration,
}

impl emv::CardTransport for TimedTransport<'_> {
    fn transmit(&mut self, command: &emv::Command) -> Result<emv::Response, emv::TransportError> {
        let started = Instant::now();
        let result = self.inner.transmit(command);
        self.in_transport += started.elapsed();
        result
    }
}

/// The terminal's offline data authentication engine, trusting the shipped CA public keys
/// (live, scheme test and simulator keys: this is a development terminal; see
/// `docs/capk.md`). A store that fails its checksums is a build defect; ODA is then not
/// performed, which the kernel records in the TVR.
pub fn authenticator() -> Box<dyn OfflineDataAuthenticator> {
    match emv::oda::CaKeyStore::embedded() {
        Ok(store) => Box::new(emv::oda::Authenticator::new(store)),
        Err(e) => {
            tracing::error!("the shipped CA public keys do not load: {e}");
            Box::new(emv::oda::NotPerformed)
        }
    }
}
