//! The crate's binary, started by a test: its command, its `listening` line,
//! SIGTERM and waiting for it to stop.

use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
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
