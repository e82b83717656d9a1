//! Trace events: each C-APDU and R-APDU, redacted and decoded by tag name (STYLE.md §4: never
//! raw buffers). A hook receives them; nothing is logged unless the app installs one.

use core::fmt;

use crate::apdu::{Command, Response, StatusWord};
use crate::tlv::{self, DecodedTlv};

/// One event of a tap.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TraceEvent {
    /// A command sent to the card.
    Command {
        /// The command's name (`"GET PROCESSING OPTIONS"`).
        name: &'static str,
        /// `CLA INS P1 P2 Lc data Le`, data in hex or `REDACTED` when sensitive.
        line: String,
    },
    /// A response from the card.
    Response {
        /// The status word.
        status: StatusWord,
        /// The number of data bytes.
        length: usize,
        /// The data decoded as TLV, sensitive values masked; empty if it is not TLV (raw data is
        /// never shown, it could hold account data).
        objects: Vec<DecodedTlv>,
    },
    /// A kernel decision or note.
    Note(String),
}

impl TraceEvent {
    pub(crate) fn command(name: &'static str, command: &Command) -> Self {
        Self::Command {
            name,
            line: command.trace_line(),
        }
    }

    pub(crate) fn response(response: &Response) -> Self {
        let objects = tlv::parse(&response.data)
            .map(|list| tlv::decode(&list))
            .unwrap_or_default();
        Self::Response {
            status: response.status,
            length: response.data.len(),
            objects,
        }
    }
}

impl TraceEvent {
    /// The event as text, with certificates and signed data in full when `certificates` is
    /// set (the user asked for them explicitly); its `Display` is the redacted form.
    pub fn with_certificates(&self, certificates: bool) -> impl fmt::Display + '_ {
        Shown {
            event: self,
            certificates,
        }
    }
}

impl fmt::Display for TraceEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.with_certificates(false).fmt(f)
    }
}

/// A [`TraceEvent`] shown with or without certificates.
struct Shown<'a> {
    event: &'a TraceEvent,
    certificates: bool,
}

impl fmt::Display for Shown<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let certificates = self.certificates;
        match self.event {
            TraceEvent::Command { name, line } => write!(f, "C-APDU {name}: {line}"),
            TraceEvent::Response {
                status,
                length,
                objects,
            } => {
                write!(f, "R-APDU SW {status}, {length} bytes")?;
                fn walk(
                    f: &mut fmt::Formatter<'_>,
                    list: &[DecodedTlv],
                    depth: usize,
                    certificates: bool,
                ) -> fmt::Result {
                    for item in list {
                        write!(
                            f,
                            "\n{}{} {}: {}",
                            "  ".repeat(depth + 1),
                            item.tag,
                            item.name,
                            item.shown_with_certificates(certificates)
                        )?;
                        walk(f, &item.children, depth + 1, certificates)?;
                    }
                    Ok(())
                }
                walk(f, objects, 0, certificates)
            }
            TraceEvent::Note(text) => write!(f, "note: {text}"),
        }
    }
}
