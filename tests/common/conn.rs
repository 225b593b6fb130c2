//! Raw connections a test holds on to: kept alive after a request, parked,
//! fed a request a few bytes at a time, and watched for the server closing
//! them. Blocking std sockets, for plain `#[test]`s on a blocking fake.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use super::http::{parse_response, Resp};

/// How long a read waits for the server unless a test says otherwise.
const READ_TIMEOUT: Duration = Duration::from_secs(10);

/// One raw connection, with what it has read and not yet parsed.
pub struct Raw {
    pub stream: TcpStream,
    read: Vec<u8>,
}

/// What became of a connection the test watched.
#[derive(Debug, PartialEq, Eq)]
pub enum Watched {
    /// The server closed it (end of stream or reset), after this long.
    Closed(Duration),
    /// Still open at the end of the watch.
    Open,
}

impl Raw {
    /// Connects to `addr`.
    pub fn connect(addr: SocketAddr) -> Raw {
        let stream = TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect to {addr}: {e}"));
        stream.set_read_timeout(Some(READ_TIMEOUT)).expect("read timeout");
        stream.set_nodelay(true).expect("nodelay");
        Raw {
            stream,
            read: Vec::new(),
        }
    }

    /// Writes `bytes`; `false` when the server has closed the connection.
    pub fn send(&mut self, bytes: &[u8]) -> bool {
        self.stream.write_all(bytes).is_ok()
    }

    /// A kept-alive GET of `path` with `headers`, and its whole response.
    pub fn get(&mut self, path: &str, headers: &[(&str, &str)]) -> Resp {
        let mut head = format!("GET {path} HTTP/1.1\r\nHost: test\r\n");
        for (k, v) in headers {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        head.push_str("\r\n");
        assert!(self.send(head.as_bytes()), "the server closed the connection");
        self.response().unwrap_or_else(|| panic!("no response to GET {path}"))
    }

    /// The next whole response (one with a `Content-Length`); `None` if the
    /// server closes the connection first.
    pub fn response(&mut self) -> Option<Resp> {
        let mut buf = [0u8; 16 * 1024];
        loop {
            if let Some(resp) = parse_response(&self.read) {
                let used = self.read.windows(4).position(|w| w == b"\r\n\r\n")? + 4 + resp.body.len();
                self.read.drain(..used);
                return Some(resp);
            }
            match self.stream.read(&mut buf) {
                Ok(0) => return None,
                Ok(n) => self.read.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == ErrorKind::ConnectionReset => return None,
                Err(e) => panic!("reading a response: {e}"),
            }
        }
    }

    /// Waits up to `limit` for the server to close the connection; what it
    /// sends meanwhile is kept (see [`Raw::received`]).
    pub fn watch(&mut self, limit: Duration) -> Watched {
        let start = Instant::now();
        let mut buf = [0u8; 16 * 1024];
        loop {
            let left = limit.saturating_sub(start.elapsed());
            if left.is_zero() {
                return Watched::Open;
            }
            self.stream.set_read_timeout(Some(left)).expect("read timeout");
            let read = self.stream.read(&mut buf);
            self.stream.set_read_timeout(Some(READ_TIMEOUT)).expect("read timeout");
            match read {
                Ok(0) => return Watched::Closed(start.elapsed()),
                Ok(n) => self.read.extend_from_slice(&buf[..n]),
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
                Err(e) if e.kind() == ErrorKind::ConnectionReset => return Watched::Closed(start.elapsed()),
                Err(e) => panic!("watching a connection: {e}"),
            }
        }
    }

    /// What the server sent that no response took.
    pub fn received(&self) -> &[u8] {
        &self.read
    }
}
