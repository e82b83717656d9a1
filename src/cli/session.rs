//! Getting a card in front of the kernel: a real reader, or in demo mode a virtual card plugged
//! into the vpcd reader (or run in process when pcscd is not running).

use std::time::Duration;

use emv::CardTransport;
use emv::config::TerminalConfig;
use emv::kernel::{TraceEvent, TransactionRequest};
use emv::oda::OfflineDataAuthenticator;
#[cfg(feature = "demo")]
use hsm_sim::card::vpcd;

use super::CardArgs;
use crate::card_session::{TapReport, run_kernel};
#[cfg(feature = "demo")]
use crate::demo;
#[cfg(feature = "demo")]
use crate::reader::VirtualCardSource;
use crate::reader::{CardSource, PcscReader, ReaderError, TapInfo};

/// Where the card is.
pub(crate) enum Session {
    /// A PC/SC reader, with the virtual card we plugged into it (if any).
    Pcsc {
        reader: PcscReader,
        #[cfg(feature = "demo")]
        virtual_card: Option<vpcd::VpcdGuard>,
    },
    /// No pcscd: the virtual card runs in this process.
    #[cfg(feature = "demo")]
    InProcess(Box<VirtualCardSource>),
}

impl Session {
    /// Opens the card source that `args` ask for and waits for a card.
    pub(crate) fn open(args: &CardArgs) -> anyhow::Result<Self> {
        #[cfg(not(feature = "demo"))]
        if args.demo {
            anyhow::bail!("this build has no virtual cards (built without the `demo` feature)");
        }
        let readers = match PcscReader::list() {
            Ok(readers) => readers,
            #[cfg(feature = "demo")]
            Err(ReaderError::NoService) if args.demo => {
                eprintln!("pcscd is not running: using an in-process virtual card");
                return Ok(Self::InProcess(Box::new(VirtualCardSource::new(
                    demo::virtual_card(&args.profile)?,
                ))));
            }
            Err(e) => return Err(e.into()),
        };
        // Without virtual cards the list only shows that pcscd answers.
        #[cfg(not(feature = "demo"))]
        let _ = readers;
        #[cfg(feature = "demo")]
        let card_present = readers
            .iter()
            .any(|r| r.card_present && args.reader.as_deref().is_none_or(|n| n == r.name));
        #[cfg(feature = "demo")]
        if args.demo && !card_present {
            let name = args
                .reader
                .clone()
                .unwrap_or_else(|| demo::VIRTUAL_READER.to_owned());
            let reader = PcscReader::open(Some(&name))?;
            let card = demo::plug_virtual_card(&args.profile, &reader)?;
            return Ok(Self::Pcsc {
                reader,
                virtual_card: Some(card),
            });
        }
        let reader = PcscReader::open(args.reader.as_deref())?;
        if !reader.card_present()? {
            eprintln!("Present a card on {} ...", reader.name());
        }
        reader.wait_for_card(Duration::from_secs(args.wait))?;
        Ok(Self::Pcsc {
            reader,
            #[cfg(feature = "demo")]
            virtual_card: None,
        })
    }

    /// A human name for where the card is.
    pub(crate) fn describe(&self) -> String {
        match self {
            #[cfg(feature = "demo")]
            Self::Pcsc {
                reader,
                virtual_card: Some(_),
            } => {
                format!("{} (virtual card through pcscd)", reader.name())
            }
            Self::Pcsc {
                reader,
                #[cfg(feature = "demo")]
                    virtual_card: None,
            } => reader.name(),
            #[cfg(feature = "demo")]
            Self::InProcess(source) => {
                format!("in-process virtual card {}", source.card().profile().name())
            }
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
        Ok(run_kernel(self, config, oda, request, trace)?)
    }

    fn source(&mut self) -> &mut dyn CardSource {
        match self {
            Self::Pcsc { reader, .. } => reader,
            #[cfg(feature = "demo")]
            Self::InProcess(source) => source.as_mut(),
        }
    }
}

impl CardSource for Session {
    fn wait_for_card(&mut self, timeout: Duration) -> Result<(), ReaderError> {
        self.source().wait_for_card(timeout)
    }

    fn with_card(
        &mut self,
        f: &mut dyn FnMut(&mut dyn CardTransport),
    ) -> Result<TapInfo, ReaderError> {
        self.source().with_card(f)
    }
}

#[cfg(feature = "demo")]
impl Drop for Session {
    /// A virtual card we plugged in leaves the reader, and we wait until pcscd has seen it go.
    fn drop(&mut self) {
        if let Self::Pcsc {
            reader,
            virtual_card,
        } = self
            && let Some(card) = virtual_card.take()
        {
            // Best effort: a reader that does not report the removal in time is not an error
            // for a command that has already finished.
            let _ = demo::unplug_virtual_card(card, reader);
        }
    }
}
