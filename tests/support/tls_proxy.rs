//! A TCP proxy on loopback between the terminal and the host that passes TLS records through
//! untouched until told to corrupt one: the host's next record after the terminal's next
//! application-data record (on a reused connection, the answer to the next request) gets one
//! byte flipped, so the terminal's TLS layer rejects it (a bad record MAC) after the request
//! reached the host.

#![allow(dead_code, unreachable_pub)]

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};

/// The proxy; it runs until the test process ends.
pub struct CorruptingProxy {
    addr: SocketAddr,
    armed: Arc<AtomicBool>,
    corrupted: Arc<AtomicU32>,
}

impl CorruptingProxy {
    /// Listens on an ephemeral loopback port and forwards every connection to `upstream`.
    pub fn start(upstream: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("proxy listens");
        let addr = listener.local_addr().expect("proxy address");
        let armed = Arc::new(AtomicBool::new(false));
        let corrupted = Arc::new(AtomicU32::new(0));
        let (a, c) = (armed.clone(), corrupted.clone());
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let Ok(host) = TcpStream::connect(upstream) else {
                    continue;
                };
                relay(client, host, a.clone(), c.clone());
            }
        });
        Self {
            addr,
            armed,
            corrupted,
        }
    }

    /// `IP:PORT` for the terminal's credentials.
    pub fn addr(&self) -> String {
        self.addr.to_string()
    }

    /// Corrupts the answer to the next request (one record, once).
    pub fn corrupt_next_answer(&self) {
        self.armed.store(true, Ordering::SeqCst);
    }

    /// How many records were corrupted so far.
    pub fn corrupted(&self) -> u32 {
        self.corrupted.load(Ordering::SeqCst)
    }
}

fn relay(client: TcpStream, host: TcpStream, armed: Arc<AtomicBool>, corrupted: Arc<AtomicU32>) {
    let answer_due = Arc::new(AtomicBool::new(false));
    let (c2, h2) = (
        client.try_clone().expect("clone"),
        host.try_clone().expect("clone"),
    );
    let due = answer_due.clone();
    // Terminal → host: untouched; an application-data record while armed is the request.
    std::thread::spawn(move || {
        pump(c2, h2, |kind, _| {
            if kind == APPLICATION_DATA && armed.swap(false, Ordering::SeqCst) {
                due.store(true, Ordering::SeqCst);
            }
        });
    });
    // Host → terminal: the first record after the request gets a byte flipped.
    std::thread::spawn(move || {
        pump(host, client, |kind, payload| {
            if kind == APPLICATION_DATA
                && answer_due.swap(false, Ordering::SeqCst)
                && !payload.is_empty()
            {
                let middle = payload.len() / 2;
                payload[middle] ^= 0xFF;
                corrupted.fetch_add(1, Ordering::SeqCst);
            }
        });
    });
}

/// Copies TLS records from `from` to `to`, letting `inspect` change each one's payload.
fn pump(mut from: TcpStream, mut to: TcpStream, mut inspect: impl FnMut(u8, &mut [u8])) {
    loop {
        let mut header = [0u8; 5];
        if from.read_exact(&mut header).is_err() {
            break;
        }
        let len = usize::from(u16::from_be_bytes([header[3], header[4]]));
        let mut payload = vec![0u8; len];
        if from.read_exact(&mut payload).is_err() {
            break;
        }
        inspect(header[0], &mut payload);
        if to.write_all(&header).is_err() || to.write_all(&payload).is_err() {
            break;
        }
    }
    let _ = to.shutdown(Shutdown::Write);
    let _ = from.shutdown(Shutdown::Read);
}

/// TLS record content type 23.
const APPLICATION_DATA: u8 = 23;
