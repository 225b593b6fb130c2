//! The port file and `scalingo-db-fake healthcheck`.
//!
//! With `--port 0` the fake picks a free port; `--port-file FILE` (the
//! image sets `PORT_FILE`) makes it write that port to `FILE` once it
//! listens, and `healthcheck` read it back from there. Without a port file,
//! `healthcheck` dials `--port`, and refuses `--port 0` with a message.

use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

/// How long `healthcheck` waits to connect, and then for the answer.
const TIMEOUT: Duration = Duration::from_secs(2);

/// Writes `port` to `path` (a line with the number), through a temporary
/// file renamed over it, so a reader never sees half of it.
pub fn write_port_file(path: &Path, port: u16) -> std::io::Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    std::fs::write(&tmp, format!("{port}\n"))?;
    std::fs::rename(&tmp, path)
}

/// Removes the port file at a graceful stop, if it still names `port`.
pub fn remove_port_file(path: &Path, port: u16) {
    if read_port_file(path).is_ok_and(|p| p == port) {
        let _ = std::fs::remove_file(path);
    }
}

fn read_port_file(path: &Path) -> Result<u16, String> {
    let text =
        std::fs::read_to_string(path).map_err(|e| format!("cannot read the port file {}: {e}", path.display()))?;
    text.trim()
        .parse::<u16>()
        .ok()
        .filter(|p| *p != 0)
        .ok_or_else(|| format!("the port file {} holds no port: {:?}", path.display(), text.trim()))
}

/// The address `healthcheck` dials: the port from the port file when one
/// is given, else `port`; the host is loopback when the fake listens on
/// every address (or on loopback), else the address it listens on.
fn target(bind: IpAddr, port: u16, port_file: Option<&Path>) -> Result<SocketAddr, String> {
    let port = match port_file {
        Some(path) => read_port_file(path)?,
        None if port == 0 => {
            return Err(
                "--port 0 (PORT=0) lets the fake pick its port: give it and healthcheck \
                 the same --port-file (PORT_FILE) to find it"
                    .into(),
            )
        }
        None => port,
    };
    let host = match bind {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    Ok(SocketAddr::new(host, port))
}

/// Whether the fake at `addr` answers `GET /_fake/health` with a 200.
fn healthy(addr: SocketAddr) -> std::io::Result<bool> {
    let mut s = TcpStream::connect_timeout(&addr, TIMEOUT)?;
    s.set_read_timeout(Some(TIMEOUT))?;
    s.set_write_timeout(Some(TIMEOUT))?;
    s.write_all(b"GET /_fake/health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")?;
    let mut head = [0u8; 12];
    s.read_exact(&mut head)?;
    Ok(head.starts_with(b"HTTP/1.1 200"))
}

/// `scalingo-db-fake healthcheck`: exit 0 if the fake answers its health
/// check, 1 with a message on stderr if not.
pub fn healthcheck(bind: IpAddr, port: u16, port_file: Option<&Path>) -> ExitCode {
    let outcome = target(bind, port, port_file).and_then(|addr| match healthy(addr) {
        Ok(true) => Ok(()),
        Ok(false) => Err(format!("{addr} is not healthy")),
        Err(e) => Err(format!("{addr}: {e}")),
    });
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("scalingo-db-fake healthcheck: {e}");
            ExitCode::FAILURE
        }
    }
}
