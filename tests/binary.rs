//! The binary as a user runs it (spec §9): flags, the `listening` line, one
//! log line per request, clear failures, graceful stop, and a system clock
//! that moves backups on its own.
mod common;

use std::io::Read;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_scalingo-db-fake");

use common::Running;

fn start(args: &[&str]) -> Running {
    let mut cmd = common::binary();
    cmd.args(["--port", "0", "--log", "info"])
        .args(args)
        .stderr(Stdio::piped());
    common::run_binary(cmd)
}

fn sigterm(child: &Child) {
    let ok = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok, "kill -TERM");
}

fn wait_exit(child: &mut Child, limit: Duration) -> std::process::ExitStatus {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        assert!(Instant::now() < deadline, "the binary did not stop within {limit:?}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn it_prints_exactly_one_listening_line_with_the_port_it_took() {
    let r = start(&[]);
    let rest = r
        .url
        .strip_prefix("http://127.0.0.1:")
        .expect("listening http://ADDR:PORT");
    assert!(rest.parse::<u16>().unwrap() > 0);
}

#[tokio::test]
async fn it_serves_the_embedded_fixtures_and_logs_one_line_per_request() {
    let mut r = start(&["--token", "global-token"]);
    let resp = common::get(
        &format!("{}/api/databases/my-db-123/backups?", r.url),
        "my-db-123-token",
    )
    .await;
    assert_eq!(resp.status, 200);
    let resp = common::get(&format!("{}/api/databases/my-db-123", r.url), "global-token").await;
    assert_eq!(resp.status, 200);
    sigterm(&r.child);
    assert!(wait_exit(&mut r.child, Duration::from_secs(10)).success());
    let mut err = String::new();
    r.child.stderr.take().unwrap().read_to_string(&mut err).unwrap();
    let request_lines: Vec<&str> = err.lines().filter(|l| l.contains(" -> ")).collect();
    assert_eq!(request_lines.len(), 2, "{err}");
    assert!(
        request_lines[0].contains("GET /api/databases/my-db-123/backups -> 200"),
        "{err}"
    );
    assert!(err.contains("seed "), "the seed in use is logged: {err}");
}

#[test]
fn a_bad_flag_exits_non_zero_with_a_message() {
    let out = Command::new(BIN)
        .args(["--port", "not-a-port"])
        .env_clear()
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not-a-port"));
    let out = Command::new(BIN)
        .args(["--failure-rate", "3", "--port", "0"])
        .env_clear()
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("failure_rate"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn settings_come_from_environment_variables_too() {
    let out = Command::new(BIN).env_clear().env("PORT", "nope").output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("nope"));
    let out = Command::new(BIN).arg("--help").output().unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    for (flag, env) in [
        ("--port", "PORT"),
        ("--fixtures", "FIXTURES"),
        ("--token", "DB_BEARER_TOKEN"),
        ("--seed", "SEED"),
    ] {
        assert!(
            help.contains(flag) && help.contains(&format!("env: {env}")),
            "{flag}/{env} in --help:\n{help}"
        );
    }
    assert!(help.contains("[default: 8080]"), "defaults are shown:\n{help}");
}

#[test]
fn a_bad_fixture_exits_non_zero_naming_file_line_and_column() {
    let dir = std::env::temp_dir().join(format!("sdf-binary-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("broken.json");
    std::fs::write(&file, "{\"databases\": [\n  {\"id\": \"x\",\n   \"oops\": 1}\n]}\n").unwrap();
    let out = Command::new(BIN)
        .args(["--port", "0", "--fixtures"])
        .arg(&file)
        .env_clear()
        .output()
        .unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&format!("{}:3:", file.display())), "{err}");
    assert!(err.contains("oops"), "{err}");
    assert!(out.stdout.is_empty(), "nothing was served");
}

#[tokio::test]
async fn with_the_system_clock_a_backup_reaches_done_on_its_own() {
    let r = start(&["--scheduled-secs", "0.05", "--running-secs", "0.15", "--no-auth"]);
    let created = common::post(&format!("{}/api/databases/my-db-123/backups", r.url), "", "").await;
    assert_eq!(created.status, 201);
    let id = created.json()["database_backup"]["id"].as_str().unwrap().to_string();
    // The one test that waits: real time must move the backup, no control call.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let b = common::get(&format!("{}/api/backups/{id}", r.url), "").await.json();
        if b["database_backup"]["status"] == "done" {
            assert!(b["database_backup"]["size"].as_u64().unwrap() > 0);
            break;
        }
        assert!(Instant::now() < deadline, "still {b} after 5 s");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[test]
fn the_healthcheck_subcommand_reports_a_running_fake() {
    let r = start(&[]);
    let port = r.url.rsplit(':').next().unwrap().to_string();
    let ok = Command::new(BIN)
        .args(["--port", &port, "healthcheck"])
        .env_clear()
        .status()
        .unwrap();
    assert!(ok.success());
    drop(r);
    let down = Command::new(BIN)
        .args(["--port", &port, "healthcheck"])
        .env_clear()
        .output()
        .unwrap();
    assert!(!down.status.success());
}

#[tokio::test]
async fn environment_variables_take_effect() {
    let mut cmd = common::binary();
    cmd.envs([
        ("PORT", "0"),
        ("DB_BEARER_TOKEN", "from-env"),
        ("CLOCK", "manual"),
        ("CLOCK_START", "2024-01-01T00:00:00Z"),
        ("PUBLIC_URL", "https://public.example.test"),
        ("LOG", "warn"),
    ])
    .stderr(Stdio::null());
    let r = common::run_binary(cmd);
    let clock = common::send(hyper::Method::GET, &format!("{}/_fake/clock", r.url), &[], None)
        .await
        .json();
    assert_eq!(clock["mode"], "manual");
    assert_eq!(clock["now"], "2024-01-01T00:00:00.000+00:00");
    let link = common::get(
        &format!(
            "{}/api/databases/my-db-123/backups/5b8b36104ffb090be1ac3ce1/archive",
            r.url
        ),
        "from-env",
    )
    .await;
    assert_eq!(link.status, 200, "DB_BEARER_TOKEN is accepted");
    assert!(link.json()["download_url"]
        .as_str()
        .unwrap()
        .starts_with("https://public.example.test/api/"));
}

#[tokio::test]
async fn a_seed_and_a_clock_start_make_runs_repeatable_to_the_id() {
    let mut ids = Vec::new();
    for _ in 0..2 {
        let r = start(&[
            "--seed",
            "7",
            "--clock",
            "manual",
            "--clock-start",
            "2024-01-01T00:00:00Z",
            "--no-auth",
        ]);
        let b = common::post(&format!("{}/api/databases/my-db-123/backups", r.url), "", "{}")
            .await
            .json();
        ids.push((b["database_backup"]["id"].clone(), b["database_backup"]["name"].clone()));
    }
    assert_eq!(ids[0], ids[1]);
    assert_eq!(ids[0].1, "20240101000000_kibana-3938");
}
