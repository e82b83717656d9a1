//! DE 39, the response code (ISO 8583:1987 Annex A "Response codes"), as the dialect uses it
//! (`docs/iso8583.md` §5).

use core::fmt;

/// A DE 39 response code. The codes the dialect names have a variant; any other two characters
/// are kept in [`ResponseCode::Other`], so parsing and [`ResponseCode::code`] round-trip.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ResponseCode {
    /// `00`: approved (or acknowledged, for advices, reversals and network messages).
    Approved,
    /// `05`: do not honour.
    DoNotHonour,
    /// `12`: invalid transaction.
    InvalidTransaction,
    /// `13`: invalid amount.
    InvalidAmount,
    /// `14`: invalid card number.
    InvalidCardNumber,
    /// `21`: no action taken (0410: the reversed original had been declined).
    NoActionTaken,
    /// `25`: unable to locate the original (0410: the reversed original never arrived).
    OriginalNotFound,
    /// `30`: format error (also a missing or wrong MAC).
    FormatError,
    /// `51`: insufficient funds.
    InsufficientFunds,
    /// `54`: expired card.
    ExpiredCard,
    /// `55`: incorrect PIN.
    IncorrectPin,
    /// `57`: transaction not permitted to the cardholder.
    NotPermittedToCardholder,
    /// `58`: transaction not permitted to the terminal.
    NotPermittedToTerminal,
    /// `61`: exceeds the withdrawal amount limit.
    AmountLimitExceeded,
    /// `65`: soft decline, PIN required (Mastercard, UnionPay).
    SoftDeclinePinRequired,
    /// `1A`: soft decline, additional customer authentication required (Visa).
    SoftDeclineAuthenticationRequired,
    /// `75`: allowable number of PIN tries exceeded.
    PinTriesExceeded,
    /// `85`: no reason to decline (an account verification passed).
    NoReasonToDecline,
    /// `91`: issuer or switch inoperative.
    IssuerUnavailable,
    /// `95`: reconcile error.
    ReconcileError,
    /// `96`: system malfunction.
    SystemMalfunction,
    /// Any other two characters.
    Other([u8; 2]),
}

impl ResponseCode {
    /// The code of DE 39's two characters; `None` unless `code` is exactly two ASCII
    /// alphanumerics (the field is `an2`).
    pub fn parse(code: &str) -> Option<Self> {
        let bytes: [u8; 2] = code.as_bytes().try_into().ok()?;
        if !bytes.iter().all(u8::is_ascii_alphanumeric) {
            return None;
        }
        Some(
            KNOWN
                .iter()
                .find(|(text, _)| text.as_bytes() == bytes)
                .map_or(Self::Other(bytes), |&(_, code)| code),
        )
    }

    /// The two characters of DE 39.
    pub fn code(&self) -> &str {
        match self {
            Self::Other(bytes) => core::str::from_utf8(bytes).unwrap_or("??"),
            known => KNOWN
                .iter()
                .find(|(_, code)| code == known)
                .map_or("??", |&(text, _)| text),
        }
    }

    /// A short human meaning, for screens and logs.
    pub fn meaning(&self) -> &'static str {
        match self {
            Self::Approved => "approved",
            Self::DoNotHonour => "do not honour",
            Self::InvalidTransaction => "invalid transaction",
            Self::InvalidAmount => "invalid amount",
            Self::InvalidCardNumber => "invalid card number",
            Self::NoActionTaken => "no action taken",
            Self::OriginalNotFound => "original transaction not found",
            Self::FormatError => "format error",
            Self::InsufficientFunds => "insufficient funds",
            Self::ExpiredCard => "expired card",
            Self::IncorrectPin => "incorrect PIN",
            Self::NotPermittedToCardholder => "not permitted for this card",
            Self::NotPermittedToTerminal => "not permitted for this terminal",
            Self::AmountLimitExceeded => "daily limit exceeded",
            Self::SoftDeclinePinRequired | Self::SoftDeclineAuthenticationRequired => {
                "PIN required"
            }
            Self::PinTriesExceeded => "PIN tries exceeded",
            Self::NoReasonToDecline => "no reason to decline",
            Self::IssuerUnavailable => "issuer unavailable",
            Self::ReconcileError => "reconcile error",
            Self::SystemMalfunction => "system malfunction",
            Self::Other(_) => "declined",
        }
    }

    /// Whether the code approves: `00`, or `85` for an account verification.
    pub fn is_approval(&self) -> bool {
        matches!(self, Self::Approved | Self::NoReasonToDecline)
    }

    /// Whether the code is a soft decline that asks for the PIN (`65`, `1A`).
    pub fn is_soft_decline(&self) -> bool {
        matches!(
            self,
            Self::SoftDeclinePinRequired | Self::SoftDeclineAuthenticationRequired
        )
    }
}

impl fmt::Display for ResponseCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.code(), self.meaning())
    }
}

/// The codes with a variant, as DE 39 writes them.
const KNOWN: [(&str, ResponseCode); 21] = [
    ("00", ResponseCode::Approved),
    ("05", ResponseCode::DoNotHonour),
    ("12", ResponseCode::InvalidTransaction),
    ("13", ResponseCode::InvalidAmount),
    ("14", ResponseCode::InvalidCardNumber),
    ("21", ResponseCode::NoActionTaken),
    ("25", ResponseCode::OriginalNotFound),
    ("30", ResponseCode::FormatError),
    ("51", ResponseCode::InsufficientFunds),
    ("54", ResponseCode::ExpiredCard),
    ("55", ResponseCode::IncorrectPin),
    ("57", ResponseCode::NotPermittedToCardholder),
    ("58", ResponseCode::NotPermittedToTerminal),
    ("61", ResponseCode::AmountLimitExceeded),
    ("65", ResponseCode::SoftDeclinePinRequired),
    ("1A", ResponseCode::SoftDeclineAuthenticationRequired),
    ("75", ResponseCode::PinTriesExceeded),
    ("85", ResponseCode::NoReasonToDecline),
    ("91", ResponseCode::IssuerUnavailable),
    ("95", ResponseCode::ReconcileError),
    ("96", ResponseCode::SystemMalfunction),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_known_code_round_trips() {
        for (text, code) in KNOWN {
            assert_eq!(ResponseCode::parse(text), Some(code));
            assert_eq!(code.code(), text);
        }
        let other = ResponseCode::parse("N7").unwrap();
        assert_eq!(other, ResponseCode::Other(*b"N7"));
        assert_eq!(other.code(), "N7");
        assert_eq!(other.meaning(), "declined");
    }

    #[test]
    fn malformed_codes_are_refused() {
        assert_eq!(ResponseCode::parse(""), None);
        assert_eq!(ResponseCode::parse("0"), None);
        assert_eq!(ResponseCode::parse("000"), None);
        assert_eq!(ResponseCode::parse("0 "), None);
    }

    #[test]
    fn approvals_and_soft_declines() {
        assert!(ResponseCode::Approved.is_approval());
        assert!(ResponseCode::NoReasonToDecline.is_approval());
        assert!(!ResponseCode::DoNotHonour.is_approval());
        assert!(ResponseCode::SoftDeclineAuthenticationRequired.is_soft_decline());
        assert_eq!(
            ResponseCode::InsufficientFunds.to_string(),
            "51 (insufficient funds)"
        );
    }
}
