//! The link's TCP socket, counting the bytes written to it: once any byte of a request has
//! left the terminal, every failure of that exchange means "the request may have reached the
//! host", whatever the error (`docs/engine.md`, "Crash recovery").

use std::io::{Read, Write};
use std::net::TcpStream;

/// A TCP stream that counts what it writes.
pub(super) struct CountingSocket {
    /// The socket (timeouts, shutdown, peek go to it directly).
    pub(super) tcp: TcpStream,
    written: u64,
}

impl CountingSocket {
    pub(super) fn new(tcp: TcpStream) -> Self {
        Self { tcp, written: 0 }
    }

    /// Bytes written since the last [`Self::reset_written`].
    pub(super) fn written(&self) -> u64 {
        self.written
    }

    /// Starts counting afresh (before a request is written).
    pub(super) fn reset_written(&mut self) {
        self.written = 0;
    }
}

impl Read for CountingSocket {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.tcp.read(buf)
    }
}

impl Write for CountingSocket {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.tcp.write(buf)?;
        self.written = self.written.saturating_add(n as u64);
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.tcp.flush()
    }
}
