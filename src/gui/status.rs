//! The status bar's controller: what the terminal knows about its host, its offline queue, its
//! reader and its identity; the host and the queue are read at start and again after every
//! transaction ([`crate::engine::Command::Status`]).

use slint::ComponentHandle;

use super::{AttestationShown, MainWindow, StatusAdapter};
use crate::attestation::AttestationState;
use crate::engine::LinkStatus;

/// What the status bar shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TerminalStatus {
    /// The host answered the sign-on.
    pub host_online: bool,
    /// Offline approvals queued for upload.
    pub offline_queue: u64,
    /// The reader (or where demo cards go).
    pub reader: String,
    /// The terminal ID.
    pub terminal_id: String,
    /// A development or demo terminal: the banner shows.
    pub development: bool,
}

pub(super) fn show(window: &MainWindow, status: &TerminalStatus) {
    let adapter = window.global::<StatusAdapter>();
    adapter.set_host_online(status.host_online);
    adapter.set_offline_queue(i32::try_from(status.offline_queue).unwrap_or(i32::MAX));
    adapter.set_reader(status.reader.as_str().into());
    adapter.set_terminal_id(status.terminal_id.as_str().into());
    adapter.set_development(status.development);
}

/// Shows the host's reachability (unchanged when no exchange has happened yet) and the offline
/// queue after a command.
pub(super) fn refresh(window: &MainWindow, link: LinkStatus) {
    let adapter = window.global::<StatusAdapter>();
    if let Some(answered) = link.host_answered {
        adapter.set_host_online(answered);
    }
    adapter.set_offline_queue(i32::try_from(link.offline_queue).unwrap_or(i32::MAX));
    let (shown, note) = attestation(link.attestation.as_ref());
    adapter.set_attestation(shown);
    adapter.set_attestation_note(note.into());
}

/// What the status bar shows of the attestation: blocked in a red band, the host's warning
/// (the build expires soon) in a yellow one, else "Attested", or "Not attested" when the
/// service could not be asked. Nothing for a terminal its host does not attest.
fn attestation(state: Option<&AttestationState>) -> (AttestationShown, String) {
    match state {
        None | Some(AttestationState::Unknown) => (AttestationShown::NotAttested, String::new()),
        Some(AttestationState::Attested { warnings, .. }) => match warnings.first() {
            Some(warning) => (AttestationShown::Warning, warning.clone()),
            None => (AttestationShown::Attested, String::new()),
        },
        Some(AttestationState::Blocked) => (AttestationShown::Blocked, String::new()),
        Some(AttestationState::Unavailable(why)) => (AttestationShown::Unavailable, why.clone()),
    }
}
