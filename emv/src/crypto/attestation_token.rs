//! The attestation token (`docs/attestation.md`): the host's monitoring service says, for a
//! short time, that a terminal proved a good state. The host signs it (ECDSA P-256, SHA-256);
//! the terminal's link and its PIN pad check it themselves with the host's attestation public
//! key.
//!
//! | Bytes | Content |
//! |---|---|
//! | 4 | `SPAT` |
//! | 1 | version `01` |
//! | 8 | terminal ID (ASCII) |
//! | 8 | issued at, Unix seconds, big endian |
//! | 8 | expires at, Unix seconds, big endian |
//! | 64 | ECDSA P-256 signature `r ‖ s` over the 29 bytes before it |

use p256::ecdsa::signature::{Signer, Verifier};
use p256::ecdsa::{Signature, SigningKey, VerifyingKey};

/// The ISO 8583 field that carries the token in a terminal's 0100 and 0200
/// (`docs/iso8583.md`).
pub const TOKEN_FIELD: u8 = 106;

/// The first bytes of a token.
pub const MAGIC: &[u8; 4] = b"SPAT";
/// The token format's version.
pub const VERSION: u8 = 0x01;
/// A token's length.
pub const TOKEN_LEN: usize = BODY_LEN + 64;
const BODY_LEN: usize = 4 + 1 + 8 + 8 + 8;

/// What a valid token says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenClaims {
    /// The terminal it was issued to.
    pub terminal_id: String,
    /// When it was issued (Unix seconds).
    pub issued_at: u64,
    /// When it stops being valid (Unix seconds).
    pub expires_at: u64,
}

/// Why a token is not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TokenError {
    /// Not a token of this format.
    #[error("not an attestation token")]
    Malformed,
    /// Not signed by the host's attestation key (forged or altered).
    #[error("the attestation token is not signed by the host")]
    BadSignature,
    /// Issued to another terminal.
    #[error("the attestation token is for another terminal")]
    WrongTerminal,
    /// Past its expiry (or issued in the future).
    #[error("the attestation token has expired")]
    Expired,
}

/// Signs a token for `terminal_id` (8 characters) valid from `issued_at` to `expires_at`.
pub fn issue(
    key: &SigningKey,
    terminal_id: &str,
    issued_at: u64,
    expires_at: u64,
) -> Result<[u8; TOKEN_LEN], TokenError> {
    let id: [u8; 8] = terminal_id
        .as_bytes()
        .try_into()
        .map_err(|_| TokenError::Malformed)?;
    let mut token = [0u8; TOKEN_LEN];
    token[..4].copy_from_slice(MAGIC);
    token[4] = VERSION;
    token[5..13].copy_from_slice(&id);
    token[13..21].copy_from_slice(&issued_at.to_be_bytes());
    token[21..29].copy_from_slice(&expires_at.to_be_bytes());
    let signature: Signature = key.sign(&token[..BODY_LEN]);
    token[BODY_LEN..].copy_from_slice(&signature.to_bytes());
    Ok(token)
}

/// Checks `token` against the host's attestation key (SEC1), the terminal it must name, and
/// the time `now` (Unix seconds).
pub fn verify(
    token: &[u8],
    host_key: &[u8],
    terminal_id: &str,
    now: u64,
) -> Result<TokenClaims, TokenError> {
    let claims = parse(token)?;
    let key = VerifyingKey::from_sec1_bytes(host_key).map_err(|_| TokenError::BadSignature)?;
    let (body, signature) = token.split_at(BODY_LEN);
    let signature = Signature::from_slice(signature).map_err(|_| TokenError::BadSignature)?;
    key.verify(body, &signature)
        .map_err(|_| TokenError::BadSignature)?;
    if claims.terminal_id != terminal_id {
        return Err(TokenError::WrongTerminal);
    }
    // A little skew allowed on the issue time; none on the expiry.
    if now >= claims.expires_at || claims.issued_at > now.saturating_add(SKEW_SECS) {
        return Err(TokenError::Expired);
    }
    Ok(claims)
}

/// The claims of a token, unchecked (for display: its expiry).
pub fn parse(token: &[u8]) -> Result<TokenClaims, TokenError> {
    if token.len() != TOKEN_LEN || &token[..4] != MAGIC || token[4] != VERSION {
        return Err(TokenError::Malformed);
    }
    let id = &token[5..13];
    if !id
        .iter()
        .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
    {
        return Err(TokenError::Malformed);
    }
    let u64_at = |at: usize| {
        let mut b = [0u8; 8];
        b.copy_from_slice(&token[at..at + 8]);
        u64::from_be_bytes(b)
    };
    Ok(TokenClaims {
        terminal_id: String::from_utf8_lossy(id).into_owned(),
        issued_at: u64_at(13),
        expires_at: u64_at(21),
    })
}

const SKEW_SECS: u64 = 30;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::key_wrap;

    fn host() -> (SigningKey, Vec<u8>) {
        let secret = key_wrap::generate_secret_key().unwrap();
        let public = key_wrap::public_key_bytes(&secret).to_vec();
        (SigningKey::from(&secret), public)
    }

    #[test]
    fn a_token_is_valid_for_its_terminal_until_it_expires() {
        let (key, public) = host();
        let token = issue(&key, "A0000001", 1000, 1120).unwrap();
        let claims = verify(&token, &public, "A0000001", 1000).unwrap();
        assert_eq!(claims.expires_at, 1120);
        assert!(verify(&token, &public, "A0000001", 1119).is_ok());
        assert_eq!(
            verify(&token, &public, "A0000001", 1120),
            Err(TokenError::Expired)
        );
        assert_eq!(
            verify(&token, &public, "A0000002", 1000),
            Err(TokenError::WrongTerminal)
        );
        assert_eq!(
            verify(&token, &public, "A0000001", 900),
            Err(TokenError::Expired)
        );
    }

    #[test]
    fn an_altered_or_foreign_token_is_refused() {
        let (key, public) = host();
        let (_, other_public) = host();
        let token = issue(&key, "A0000001", 1000, 1120).unwrap();
        assert_eq!(
            verify(&token, &other_public, "A0000001", 1000),
            Err(TokenError::BadSignature)
        );
        let mut longer = token;
        longer[28] = 0xFF; // expiry pushed far out
        assert_eq!(
            verify(&longer, &public, "A0000001", 1000),
            Err(TokenError::BadSignature)
        );
        for len in 0..TOKEN_LEN {
            assert_eq!(parse(&token[..len]), Err(TokenError::Malformed));
        }
    }
}
