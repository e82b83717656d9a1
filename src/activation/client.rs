//! The activation request over HTTPS (`docs/enrolment.md`): `POST /v1/activate` with a JSON
//! body, TLS 1.3, the host recognised by the fingerprint its activation code carries (the
//! terminal has no CA yet: the host key's SHA-256 must begin with the code's 60 bits, and the
//! handshake must be signed by that key). No client certificate: the terminal has none yet.

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::time::Duration;

use rustls::ClientConfig;
use rustls::pki_types::ServerName;

use crate::acquirer::tls::{HostKeyPin, PinnedHostVerifier};

use super::{ActivationCode, ActivationError, ActivationRequest, ActivationResponse};

/// The request's path on the host's API.
pub const ACTIVATE_PATH: &str = "/v1/activate";
const TIMEOUT: Duration = Duration::from_secs(15);
const MAX_ANSWER: u64 = 256 * 1024;

/// Sends `request` to the host's API at `host` (`HOST:PORT`) and returns its answer.
pub fn post(
    host: &str,
    code: &ActivationCode,
    request: &ActivationRequest,
) -> Result<ActivationResponse, ActivationError> {
    let transport = |e: &dyn std::fmt::Display| ActivationError::Transport(e.to_string());
    let body = serde_json::to_vec(request).map_err(|e| transport(&e))?;
    let address = host
        .to_socket_addrs()
        .map_err(|e| transport(&e))?
        .next()
        .ok_or_else(|| transport(&"no address"))?;
    let name = host
        .rsplit_once(':')
        .map_or(host, |(name, _)| name)
        .trim_start_matches('[')
        .trim_end_matches(']');
    let server_name = ServerName::try_from(name.to_owned()).map_err(|e| transport(&e))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ClientConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(|e| transport(&e))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(PinnedHostVerifier::pin_only(
            provider,
            HostKeyPin::Fingerprint(code.fingerprint().to_owned()),
        )))
        .with_no_client_auth();
    let connection =
        rustls::ClientConnection::new(Arc::new(config), server_name).map_err(|e| transport(&e))?;
    let socket = TcpStream::connect_timeout(&address, TIMEOUT).map_err(|e| transport(&e))?;
    socket
        .set_read_timeout(Some(TIMEOUT))
        .map_err(|e| transport(&e))?;
    socket
        .set_write_timeout(Some(TIMEOUT))
        .map_err(|e| transport(&e))?;
    let mut tls = rustls::StreamOwned::new(connection, socket);
    let head = format!(
        "POST {ACTIVATE_PATH} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let sent = tls
        .write_all(head.as_bytes())
        .and_then(|()| tls.write_all(&body))
        .and_then(|()| tls.flush());
    if let Err(e) = sent {
        // The fingerprint check fails inside the handshake, which the first write drives.
        if tls.conn.is_handshaking() || e.to_string().contains("certificate") {
            return Err(ActivationError::WrongHost);
        }
        return Err(transport(&e));
    }
    let mut answer = Vec::new();
    match (&mut tls).take(MAX_ANSWER).read_to_end(&mut answer) {
        Ok(_) => {}
        // Some servers close without close_notify once the body is out.
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof && !answer.is_empty() => {}
        Err(e) => return Err(transport(&e)),
    }
    parse_answer(&answer)
}

/// Splits an HTTP/1.1 answer into its status and JSON body.
fn parse_answer(answer: &[u8]) -> Result<ActivationResponse, ActivationError> {
    let bad = ActivationError::BadAnswer;
    let split = answer
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or(bad("no HTTP header"))?;
    let (head, body) = answer.split_at(split);
    let body = body.get(4..).unwrap_or_default();
    let head = std::str::from_utf8(head).map_err(|_| bad("HTTP header"))?;
    let status: u16 = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or(bad("HTTP status"))?;
    if head.lines().any(|l| {
        l.to_ascii_lowercase()
            .starts_with("transfer-encoding: chunked")
    }) {
        return Err(bad("chunked answers are not supported"));
    }
    if status == 200 {
        return serde_json::from_slice(body).map_err(|_| bad("JSON body"));
    }
    #[derive(serde::Deserialize)]
    struct Refusal {
        error: String,
    }
    let reason = serde_json::from_slice::<Refusal>(body)
        .map(|r| r.error)
        .unwrap_or_else(|_| format!("HTTP {status}"));
    Err(ActivationError::Refused(reason))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_and_malformed_answers_are_errors() {
        let refused = parse_answer(
            b"HTTP/1.1 403 Forbidden\r\nContent-Type: application/json\r\n\r\n\
              {\"error\":\"wrong, used or expired activation code\"}",
        );
        assert!(
            matches!(&refused, Err(ActivationError::Refused(m)) if m.contains("expired")),
            "{refused:?}"
        );
        assert!(matches!(
            parse_answer(b"HTTP/1.1 429 Too Many Requests\r\n\r\n"),
            Err(ActivationError::Refused(m)) if m == "HTTP 429"
        ));
        for bad in [
            &b""[..],
            b"garbage",
            b"HTTP/1.1 200 OK\r\n\r\n{",
            b"HTTP/1.1 x\r\n\r\n",
        ] {
            assert!(matches!(
                parse_answer(bad),
                Err(ActivationError::BadAnswer(_))
            ));
        }
    }
}
