//! Why the PIN pad refuses: the `86` REFUSED message's reason codes (`docs/pinpad.md`).

/// Why the PIN pad refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Refusal {
    /// `01` X11 outside the development profile (any X11 client can read the input).
    #[error("X11 display outside the development profile")]
    InsecureDisplay,
    /// `02` test input asked of a binary built without it.
    #[error("test input is not available in this build")]
    TestInputRefused,
    /// `03` no display server to draw on.
    #[error("no display")]
    NoDisplay,
    /// `04` the key store is missing, unreadable or damaged.
    #[error("key store unavailable")]
    KeyStore,
    /// `05` the request was malformed.
    #[error("malformed request")]
    BadRequest,
    /// `06` the terminal speaks another protocol version.
    #[error("unsupported protocol version")]
    Version,
    /// `07` the window could not be shown.
    #[error("window failed")]
    Window,
    /// `08` a PIN could not be encrypted.
    #[error("encryption failed")]
    Encryption,
    /// `09` the hourly limit of PIN entries is reached (security doc P11).
    #[error("too many PIN entries in the last hour")]
    TooManyEntries,
    /// `0A` the wrapped PIN key does not open with this pad's key (another device, altered).
    #[error("the wrapped PIN key is not for this PIN pad")]
    WrappedKey,
    /// `0B` a PIN key (or an attestation key) is installed already: each is installed once.
    #[error("a PIN key is installed already")]
    AlreadyInstalled,
    /// `0C` the pad trusts an attestation key and the request carries no valid token for it:
    /// the terminal has not proved its state, or was blocked.
    #[error("no valid attestation token: the terminal has not proved its state")]
    NotAttested,
    /// Any other code (from a newer PIN pad).
    #[error("refused (code {0:#04x})")]
    Other(u8),
}

impl Refusal {
    /// The wire code.
    pub fn code(self) -> u8 {
        match self {
            Self::InsecureDisplay => 0x01,
            Self::TestInputRefused => 0x02,
            Self::NoDisplay => 0x03,
            Self::KeyStore => 0x04,
            Self::BadRequest => 0x05,
            Self::Version => 0x06,
            Self::Window => 0x07,
            Self::Encryption => 0x08,
            Self::TooManyEntries => 0x09,
            Self::WrappedKey => 0x0A,
            Self::AlreadyInstalled => 0x0B,
            Self::NotAttested => 0x0C,
            Self::Other(c) => c,
        }
    }
}

impl From<u8> for Refusal {
    fn from(code: u8) -> Self {
        match code {
            0x01 => Self::InsecureDisplay,
            0x02 => Self::TestInputRefused,
            0x03 => Self::NoDisplay,
            0x04 => Self::KeyStore,
            0x05 => Self::BadRequest,
            0x06 => Self::Version,
            0x07 => Self::Window,
            0x08 => Self::Encryption,
            0x09 => Self::TooManyEntries,
            0x0A => Self::WrappedKey,
            0x0B => Self::AlreadyInstalled,
            0x0C => Self::NotAttested,
            c => Self::Other(c),
        }
    }
}
