//! Shared pieces of the tests of the customer's phone: a wallet enrolled at the world's host,
//! its client of the host's API, and an engine operation on its own thread whose events come
//! out of a channel while the test plays the customer.

#![allow(dead_code, unreachable_pub)]

use std::path::PathBuf;
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use hsm_sim::host::wallets;
use hsm_sim::wallet::api::{WalletApi, WalletApiError};
use hsm_sim::wallet::device::Device;
use softpos::engine::{Cancel, Engine, EngineError, Event, TxResult};

use super::support::World;

/// The simulated customer's PIN.
pub const WALLET_PIN: &str = "2468";

/// Enrols a wallet at the world's host in `name`; returns its directory.
pub fn enrol(world: &World, name: &str) -> PathBuf {
    let dir = world.dir.path().join(name);
    let host = world.dir.path().join("host");
    Device::create(&dir, WALLET_PIN, |id, key| {
        wallets::register(&host, id, key)
            .map(|e| (e.payer_token, e.certificate))
            .map_err(|e| e.to_string())
    })
    .expect("wallet enrolled");
    dir
}

/// The wallet's client of the world's host API.
pub fn wallet_api(world: &World) -> WalletApi {
    let ca = std::fs::read_to_string(world.dir.path().join("host").join("ca.pem")).expect("CA");
    WalletApi::new(&world.host().api_addr().to_string(), &ca).expect("client")
}

/// An engine operation running on its own thread.
pub struct Running {
    pub events: mpsc::Receiver<Event>,
    pub cancel: Cancel,
    done: thread::JoinHandle<(Engine, TxResult)>,
}

impl Running {
    /// Runs `operation` on `engine` on a thread of its own.
    pub fn start(
        mut engine: Engine,
        operation: impl FnOnce(&mut Engine, &mut dyn FnMut(Event)) -> Result<TxResult, EngineError>
        + Send
        + 'static,
    ) -> Self {
        let (tx, events) = mpsc::channel();
        // Each operation its own cancel, as the engine service gives each command.
        let cancel = Cancel::new();
        engine.set_cancel(cancel.clone());
        let done = thread::spawn(move || {
            let result = operation(&mut engine, &mut |e| {
                let _ = tx.send(e);
            })
            .expect("the operation runs");
            (engine, result)
        });
        Self {
            events,
            cancel,
            done,
        }
    }

    /// The next event that `pick` takes; panics on an abort.
    pub fn next<T>(&self, mut pick: impl FnMut(Event) -> Option<T>) -> T {
        loop {
            match self
                .events
                .recv_timeout(Duration::from_secs(20))
                .expect("an event")
            {
                Event::Aborted { reason, .. } => panic!("aborted: {reason}"),
                event => {
                    if let Some(found) = pick(event) {
                        return found;
                    }
                }
            }
        }
    }

    /// The engine back, with the operation's result.
    pub fn finish(self) -> (Engine, TxResult) {
        self.done.join().expect("the operation's thread")
    }
}

/// The status and message of a refused request.
pub fn refused_status<T: std::fmt::Debug>(result: Result<T, WalletApiError>) -> (u16, String) {
    match result {
        Err(WalletApiError::Refused { status, message }) => (status, message),
        other => panic!("expected a refusal, got {other:?}"),
    }
}
