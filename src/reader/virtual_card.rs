//! A simulated card in this process (`hsm_sim::card::VirtualCard`), for the demo and the tests:
//! the same [`CardSource`] as a PC/SC reader, without `pcscd`. The card is always in the field;
//! every tap power-cycles it first, as a new tap on a real reader does.

use std::time::{Duration, Instant};

use emv::{CardTransport, Command, Response, TransportError};
use hsm_sim::card::{VirtualCard, vpcd};

use super::{CardSource, ReaderError, TapInfo};

/// A virtual card held in this process.
pub struct VirtualCardSource {
    card: VirtualCard,
}

impl VirtualCardSource {
    /// A source that always has `card` in its field.
    pub fn new(card: VirtualCard) -> Self {
        Self { card }
    }

    /// The card (its profile, its ATC).
    pub fn card(&self) -> &VirtualCard {
        &self.card
    }
}

impl CardSource for VirtualCardSource {
    fn wait_for_card(&mut self, _timeout: Duration) -> Result<(), ReaderError> {
        Ok(())
    }

    fn with_card(
        &mut self,
        f: &mut dyn FnMut(&mut dyn CardTransport),
    ) -> Result<TapInfo, ReaderError> {
        let started = Instant::now();
        self.card.power_cycle();
        let mut counted = Counted {
            card: &mut self.card,
            exchanges: 0,
        };
        f(&mut counted);
        Ok(TapInfo {
            atr: vpcd::atr(),
            connect_time: Duration::ZERO,
            total_time: started.elapsed(),
            exchanges: counted.exchanges,
        })
    }
}

impl std::fmt::Debug for VirtualCardSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VirtualCardSource")
            .field("profile", &self.card.profile().name())
            .finish_non_exhaustive()
    }
}

struct Counted<'a> {
    card: &'a mut VirtualCard,
    exchanges: usize,
}

impl CardTransport for Counted<'_> {
    fn transmit(&mut self, command: &Command) -> Result<Response, TransportError> {
        self.exchanges += 1;
        self.card.transmit(command)
    }
}

#[cfg(test)]
mod tests {
    use emv::config::TerminalConfig;
    use emv::kernel::OutcomeKind;

    use super::*;
    use crate::card_session::run_kernel;
    use crate::tap::{Sale, transaction_request};

    fn tap(source: &mut VirtualCardSource) -> crate::card_session::TapReport {
        let config = TerminalConfig::default_embedded().expect("defaults");
        let oda = crate::tap::authenticator(&config).expect("CA keys");
        let request = transaction_request(Sale {
            amount: 1_000,
            currency_code: config.terminal.currency_code,
            transaction_type: 0x00,
        })
        .expect("random source");
        run_kernel(source, &config, oda.as_ref(), request, None).expect("an outcome")
    }

    #[test]
    fn every_tap_starts_on_a_power_cycled_card() {
        // The card leaves the field after GPO; a card not power-cycled would answer the next
        // tap's first command with "card removed".
        let card = VirtualCard::from_profile("vanish-after-gpo").expect("profile");
        let mut source = VirtualCardSource::new(card);
        let first = tap(&mut source);
        assert_eq!(first.outcome.kind, OutcomeKind::TryAgain);
        let second = tap(&mut source);
        assert_eq!(second.outcome.kind, OutcomeKind::TryAgain);
        assert_eq!(second.reader.exchanges, first.reader.exchanges);
        assert!(second.reader.exchanges >= 3, "{:?}", second.reader);
    }

    #[test]
    fn a_tap_runs_to_an_online_request_and_counts_its_exchanges() {
        let card = VirtualCard::from_profile("visa").expect("profile");
        let mut source = VirtualCardSource::new(card);
        for _ in 0..2 {
            let report = tap(&mut source);
            assert_eq!(report.outcome.kind, OutcomeKind::OnlineRequest);
            assert!(report.reader.exchanges >= 4, "{:?}", report.reader);
            assert!(report.reader.total_time >= report.kernel_time);
            assert_eq!(report.reader.atr, vpcd::atr());
        }
    }
}
