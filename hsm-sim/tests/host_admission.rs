//! Connection admission (`docs/iso8583.md` §1, `docs/security.md`): one source holding
//! hundreds of idle TCP connections does not stop a terminal from signing on, connections
//! above the per-source cap are closed at once, and a handshake that does not come is cut after
//! the handshake timeout.
#![allow(clippy::unwrap_used)] // A panic in a test is a failure.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use hsm_sim::host::client::{TerminalClient, requests};
use hsm_sim::host::{ConnectionLimits, EnrolOptions, Host, HostConfig};
use tokio::io::AsyncReadExt;
use tokio::net::{TcpSocket, TcpStream};

const CAP: usize = 64;
const IDLE: usize = 300;
const HANDSHAKE_TIMEOUT: Duration = Duration::from_millis(1_500);

/// A TCP connection to `host` from the loopback address `source` that never speaks.
async fn idle(source: [u8; 4], host: SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind(SocketAddr::from((source, 0))).unwrap();
    socket.connect(host).await.unwrap()
}

/// Whether the host closed `stream` within `wait`.
async fn closed_within(stream: &mut TcpStream, wait: Duration) -> bool {
    let mut byte = [0u8; 1];
    matches!(
        tokio::time::timeout(wait, stream.read(&mut byte)).await,
        Ok(Ok(0) | Err(_))
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_connections_from_one_source_do_not_stop_a_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = HostConfig::new(dir.path());
    config.limits = ConnectionLimits {
        max_per_source: CAP,
        max_handshakes: 2 * CAP,
        handshake_timeout: HANDSHAKE_TIMEOUT,
    };
    let host = Host::start(config).unwrap();
    let bundle = host
        .enroll_with("T0000001", EnrolOptions { mac: false })
        .unwrap();
    let started = Instant::now();

    // 300 silent connections from 127.0.0.2.
    let mut flood = Vec::with_capacity(IDLE);
    for _ in 0..IDLE {
        flood.push(idle([127, 0, 0, 2], host.local_addr()).await);
    }
    // The terminal (from 127.0.0.1) signs on while they are all open.
    let mut terminal = TerminalClient::connect(&bundle).await.unwrap();
    let sign_on = requests::network("T0000001", 1, &requests::transmission_now(), "001");
    assert_eq!(terminal.send(&sign_on).await.unwrap().text(39), Some("00"));
    let signed_on = started.elapsed();

    // Everything above the cap was closed at once; the cap's worth is still waiting.
    let mut closed = 0;
    for stream in &mut flood {
        if closed_within(stream, Duration::from_millis(5)).await {
            closed += 1;
        }
    }
    assert_eq!(closed, IDLE - CAP, "connections above the per-source cap");
    assert!(signed_on < HANDSHAKE_TIMEOUT, "signed on in {signed_on:?}");

    // The silent ones are cut after the handshake timeout, not before.
    let mut slow = idle([127, 0, 0, 3], host.local_addr()).await;
    let connected = Instant::now();
    assert!(closed_within(&mut slow, HANDSHAKE_TIMEOUT + Duration::from_secs(1)).await);
    let cut = connected.elapsed();
    assert!(
        cut >= HANDSHAKE_TIMEOUT - Duration::from_millis(100),
        "cut after {cut:?}"
    );
    for stream in &mut flood {
        assert!(closed_within(stream, Duration::from_millis(500)).await);
    }
    // The terminal's own connection is not idle-limited by the handshake timeout.
    let echo = requests::network("T0000001", 2, &requests::transmission_now(), "301");
    assert_eq!(terminal.send(&echo).await.unwrap().text(39), Some("00"));
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn the_default_handshake_timeout_is_a_few_seconds() {
    let limits = ConnectionLimits::default();
    assert!(limits.handshake_timeout <= Duration::from_secs(5));
    assert!(limits.max_per_source < limits.max_handshakes);
}
