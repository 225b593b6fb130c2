//! System tools some tests run (`kill`, `tar`, `gzip`). CI installs them; a
//! machine without one fails the test that needs it, saying so, rather than
//! skipping it.

use std::process::{Command, Output};

/// Fails the test, naming `tool`, unless `tool --version` runs.
pub fn require(tool: &str) {
    match Command::new(tool).arg("--version").output() {
        Ok(out) if out.status.success() => {}
        Ok(out) => panic!(
            "this test needs the `{tool}` tool, but `{tool} --version` failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ),
        Err(e) => panic!("this test needs the `{tool}` tool (CI installs it), but it cannot be run here: {e}"),
    }
}

/// Runs `cmd` to its end and returns its output, failing the test, naming
/// the program, if it cannot be started.
pub fn run(cmd: &mut Command) -> Output {
    cmd.output().unwrap_or_else(|e| {
        panic!(
            "this test needs the `{}` tool (CI installs it), but it cannot be run here: {e}",
            cmd.get_program().to_string_lossy()
        )
    })
}
