//! System tools some tests run (`kill`). A machine without one fails the
//! test that needs it, saying so.

use std::process::{Command, Output};

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
