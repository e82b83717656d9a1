//! Test support shared by the `kernel_*` tests: recorded transcripts and a scripted card.

#![allow(dead_code)]

use std::collections::VecDeque;

use emv::apdu::{Command, Response};
use emv::transport::{CardTransport, TransportError};

/// One exchange of a transcript: the command the terminal must send, the card's answer.
#[derive(Clone)]
pub(crate) struct Exchange {
    pub(crate) command: Vec<u8>,
    pub(crate) response: Vec<u8>,
}

/// Parses a transcript file: `C: hex` / `R: hex` lines, `#` comments.
pub(crate) fn parse(text: &str) -> Vec<Exchange> {
    let mut out = Vec::new();
    let mut command = None;
    for line in text.lines().map(str::trim) {
        if let Some(hex_text) = line.strip_prefix("C:") {
            command = Some(hex::decode(hex_text.trim()).expect("transcript command hex"));
        } else if let Some(hex_text) = line.strip_prefix("R:") {
            let response = hex::decode(hex_text.trim()).expect("transcript response hex");
            out.push(Exchange {
                command: command.take().expect("R without C"),
                response,
            });
        }
    }
    out
}

/// What the scripted card does after the script.
pub(crate) enum Step {
    /// Answer this command with these bytes.
    Answer(Exchange),
    /// Fail the transport (card pulled away).
    Fail(TransportError),
}

/// A card that checks each command against the script and answers from it.
pub(crate) struct ScriptedCard {
    pub(crate) script: VecDeque<Step>,
    pub(crate) sent: Vec<Vec<u8>>,
}

impl ScriptedCard {
    pub(crate) fn new(exchanges: Vec<Exchange>) -> Self {
        Self {
            script: exchanges.into_iter().map(Step::Answer).collect(),
            sent: Vec::new(),
        }
    }
}

impl CardTransport for ScriptedCard {
    fn transmit(&mut self, command: &Command) -> Result<Response, TransportError> {
        let bytes = command.serialize();
        self.sent.push(bytes.clone());
        match self.script.pop_front() {
            Some(Step::Answer(exchange)) => {
                assert_eq!(
                    hex::encode(&bytes),
                    hex::encode(&exchange.command),
                    "the terminal sent another command than the transcript"
                );
                Ok(Response::from_bytes(&exchange.response)?)
            }
            Some(Step::Fail(error)) => Err(error),
            None => Err(TransportError::CardRemoved),
        }
    }
}

/// Replaces the response of the exchange whose command starts with `prefix`.
pub(crate) fn replace_response(exchanges: &mut [Exchange], prefix: &[u8], response: Vec<u8>) {
    let exchange = exchanges
        .iter_mut()
        .find(|e| e.command.starts_with(prefix))
        .expect("no such command in the transcript");
    exchange.response = response;
}
