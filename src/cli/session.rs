//! Getting a card in front of the kernel: a real reader, or in demo mode a virtual card plugged
//! into the vpcd reader (or run in process when pcscd is not running).

use std::time::Duration;

use anyhow::Context as _;
use emv::config::TerminalConfig;
use emv::kernel::{Outcome, TraceEvent, TransactionRequest};
use emv::oda::OfflineDataAuthenticator;
use hsm_sim::card::{VirtualCard, vpcd};

use super::CardArgs;
use crate::reader::{PcscReader, ReaderError};
use crate::tap::{self, TapReport};

/// Where the card is.
pub(crate) enum Session {
    /// A PC/SC reader, with the virtual card we plugged into it (if any).
    Pcsc {
        reader: PcscReader,
        virtual_card: Option<vpcd::VpcdGuard>,
    },
    /// No pcscd: the virtual card runs in this process.
    InProcess(Box<VirtualCard>),
}

impl Session {
    /// Opens the card source that `args` ask for and waits for a card.
    pub(crate) fn open(args: &CardArgs) -> anyhow::Result<Self> {
        let readers = match PcscReader::list() {
            Ok(readers) => readers,
            Err(ReaderError::NoService) if args.demo => {
                eprintln!("pcscd is not running: using an in-process virtual card");
                return Ok(Self::InProcess(Box::new(virtual_card_for(&args.profile)?)));
            }
            Err(e) => return Err(e.into()),
        };
        let card_present = readers
            .iter()
            .any(|r| r.card_present && args.reader.as_deref().is_none_or(|n| n == r.name));
        let mut virtual_card = None;
        let reader_name = if args.demo && !card_present {
            let name = args
                .reader
                .clone()
                .unwrap_or_else(|| VIRTUAL_READER.to_owned());
            let address = vpcd_address(&name).with_context(|| {
                format!("--demo plugs a virtual card into a vpcd reader; {name:?} is not one")
            })?;
            virtual_card = Some(
                vpcd::spawn(
                    virtual_card_for(&args.profile)?,
                    vpcd::Options::new(address),
                )
                .context("cannot plug the virtual card into vpcd")?,
            );
            Some(name)
        } else {
            args.reader.clone()
        };
        let reader = PcscReader::open(reader_name.as_deref())?;
        if virtual_card.is_none() && !reader.card_present()? {
            eprintln!("Present a card on {} ...", reader.name());
        }
        reader.wait_for_card(Duration::from_secs(args.wait))?;
        Ok(Self::Pcsc {
            reader,
            virtual_card,
        })
    }

    /// A human name for where the card is.
    pub(crate) fn describe(&self) -> String {
        match self {
            Self::Pcsc {
                reader,
                virtual_card: Some(_),
            } => {
                format!("{} (virtual card through pcscd)", reader.name())
            }
            Self::Pcsc {
                reader,
                virtual_card: None,
            } => reader.name(),
            Self::InProcess(card) => format!("in-process virtual card {}", card.profile().name()),
        }
    }

    /// Runs one tap.
    pub(crate) fn tap(
        &mut self,
        config: &TerminalConfig,
        oda: &dyn OfflineDataAuthenticator,
        request: TransactionRequest,
        trace: Option<&mut dyn FnMut(TraceEvent)>,
    ) -> anyhow::Result<TapReport> {
        match self {
            Self::Pcsc { reader, .. } => Ok(tap::tap(reader, config, oda, request, trace)?),
            Self::InProcess(card) => {
                let started = std::time::Instant::now();
                let outcome: Outcome =
                    emv::kernel::run(card.as_mut(), config, oda, request, trace)?;
                let elapsed = started.elapsed();
                Ok(TapReport {
                    outcome,
                    reader: crate::reader::pcsc::TapInfo {
                        atr: vpcd::atr(),
                        connect_time: Duration::ZERO,
                        total_time: elapsed,
                        exchanges: 0,
                    },
                    kernel_time: elapsed,
                })
            }
        }
    }
}

impl Drop for Session {
    /// A virtual card we plugged in leaves the reader, and we wait until pcscd has seen it go,
    /// so the next command does not find a stale "card present" on the virtual reader.
    fn drop(&mut self) {
        if let Self::Pcsc {
            reader,
            virtual_card,
        } = self
        {
            if let Some(card) = virtual_card.take() {
                drop(card);
                // Best effort: a reader that does not report the removal in time is not an
                // error for a command that has already finished.
                let _ = reader.wait_for_removal(Duration::from_secs(3));
            }
        }
    }
}

fn virtual_card_for(profile: &str) -> anyhow::Result<VirtualCard> {
    VirtualCard::from_profile(profile).with_context(|| {
        format!(
            "no virtual card profile {profile:?}; profiles: {}",
            hsm_sim::card::Profile::names().join(", ")
        )
    })
}

/// The TCP address where vpcd's reader `name` waits for a card: `Virtual PCD 00 0N` listens on
/// 35963 + N.
fn vpcd_address(name: &str) -> Option<String> {
    let slot: u16 = name.strip_prefix("Virtual PCD 00 ")?.parse().ok()?;
    Some(format!("127.0.0.1:{}", 35_963 + slot))
}

const VIRTUAL_READER: &str = "Virtual PCD 00 00";
