//! The crate's binary, started by a test: its command, its `listening` line,
//! SIGTERM and waiting for it to stop.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, ChildStdout, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use super::tools;

/// The path of the crate's binary.
pub const BIN: &str = env!("CARGO_BIN_EXE_scalingo-db-fake");

/// The binary, started by a test; killed on drop.
pub struct Running {
    pub child: Child,
    /// `http://ADDR:PORT`, from its `listening` line.
    pub url: String,
    /// The rest of its standard output, after the `listening` line.
    pub stdout: BufReader<ChildStdout>,
}

impl Running {
    /// The address it listens on.
    pub fn address(&self) -> SocketAddr {
        self.url
            .strip_prefix("http://")
            .and_then(|a| a.parse().ok())
            .unwrap_or_else(|| panic!("not http://ADDR:PORT: {}", self.url))
    }

    /// Sends it SIGTERM (a graceful stop).
    pub fn sigterm(&self) {
        let status = tools::run(Command::new("kill").args(["-TERM", &self.child.id().to_string()])).status;
        assert!(status.success(), "kill -TERM {}: {status}", self.child.id());
    }

    /// Waits for it to exit, failing the test if it takes longer than `limit`.
    pub fn wait_exit(&mut self, limit: Duration) -> ExitStatus {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return status;
            }
            assert!(Instant::now() < deadline, "the binary did not stop within {limit:?}");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// What it wrote to its (piped) standard error; call once it has exited.
    pub fn stderr_text(&mut self) -> String {
        let mut err = String::new();
        self.child
            .stderr
            .take()
            .expect("stderr was piped")
            .read_to_string(&mut err)
            .expect("stderr is text");
        err
    }

    /// What it wrote to standard output after its `listening` line; call
    /// once it has exited.
    pub fn rest_of_stdout(&mut self) -> String {
        let mut out = String::new();
        self.stdout.read_to_string(&mut out).expect("stdout is text");
        out
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `Command` for the crate's binary, with a clean environment.
pub fn command() -> Command {
    let mut cmd = Command::new(BIN);
    cmd.env_clear();
    cmd
}

/// Spawns `cmd` with stdout piped and waits for its one `listening URL` line.
pub fn run(mut cmd: Command) -> Running {
    let mut child = cmd.stdout(Stdio::piped()).spawn().expect("the binary starts");
    let mut stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
    let mut line = String::new();
    stdout.read_line(&mut line).expect("a first stdout line");
    let url = line
        .trim()
        .strip_prefix("listening ")
        .unwrap_or_else(|| panic!("first stdout line: {line:?}"))
        .to_string();
    Running { child, url, stdout }
}

/// Starts the binary on a free port with `--log info`, stderr piped, and
/// the extra `args`.
pub fn start(args: &[&str]) -> Running {
    let mut cmd = command();
    cmd.args(["--port", "0", "--log", "info"])
        .args(args)
        .stderr(Stdio::piped());
    run(cmd)
}

/// Sends `total` GETs of `path` (with a bearer `token`) over `conns`
/// keep-alive connections, each in a thread of its own, one request in
/// flight per connection; returns how many were answered 200. A response
/// that does not come within 10 s fails the test (a frozen fake fails it
/// rather than hanging it).
pub fn hammer(addr: SocketAddr, path: &str, token: &str, conns: usize, total: usize) -> usize {
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\n\r\n");
    let threads: Vec<_> = (0..conns)
        .map(|i| {
            let request = request.clone();
            let n = total / conns + usize::from(i < total % conns);
            std::thread::spawn(move || keep_alive_gets(addr, request.as_bytes(), n))
        })
        .collect();
    threads.into_iter().map(|t| t.join().expect("a load thread")).sum()
}

/// `n` requests one after the other on one connection; how many got a 200.
fn keep_alive_gets(addr: SocketAddr, request: &[u8], n: usize) -> usize {
    let stream = TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("read timeout");
    stream.set_nodelay(true).expect("nodelay");
    let mut writer = stream.try_clone().expect("clone the stream");
    let mut reader = BufReader::new(stream);
    let mut ok = 0;
    for i in 0..n {
        writer.write_all(request).expect("send a request");
        let (status, length) = read_head(&mut reader).unwrap_or_else(|e| panic!("response {i} of {n}: {e}"));
        let mut body = vec![0; length];
        reader.read_exact(&mut body).expect("read a body");
        ok += usize::from(status == 200);
    }
    ok
}

/// The status and `Content-Length` of the next response head on `r`.
fn read_head(r: &mut impl BufRead) -> std::io::Result<(u16, usize)> {
    let mut line = String::new();
    r.read_line(&mut line)?;
    let status: u16 = line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("no status line: {line:?}")))?;
    let mut length = 0;
    loop {
        line.clear();
        if r.read_line(&mut line)? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        if line == "\r\n" {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            if name.eq_ignore_ascii_case("content-length") {
                length = value.trim().parse().unwrap_or(0);
            }
        }
    }
    Ok((status, length))
}

/// Runs `scalingo-db-fake healthcheck` with `args` (before the subcommand)
/// and the environment `envs`; its output.
pub fn healthcheck(args: &[&str], envs: &[(&str, &str)]) -> std::process::Output {
    command()
        .args(args)
        .arg("healthcheck")
        .envs(envs.iter().copied())
        .output()
        .expect("the healthcheck runs")
}
