//! The binary as a user runs it: flags, the `listening` line, one log line
//! per request, clear failures, graceful stop, and a system clock that moves
//! backups on its own.
mod common;

use std::process::Stdio;
use std::time::{Duration, Instant};

use common::binary::{self, start};
use common::fake::Api;

#[test]
fn it_prints_exactly_one_listening_line_with_the_port_it_took() {
    let mut r = start(&[]);
    let rest = r
        .url
        .strip_prefix("http://127.0.0.1:")
        .expect("listening http://ADDR:PORT");
    assert!(rest.parse::<u16>().unwrap() > 0);
    // One answered request first: the binary prints its `listening` line a
    // moment before it handles SIGTERM, and a SIGTERM sent in between kills
    // it outright.
    assert_eq!(common::blocking_get(r.address(), "/_fake/health", "").status, 200);
    r.sigterm();
    assert!(r.wait_exit(Duration::from_secs(10)).success());
    let more = r.rest_of_stdout();
    assert!(
        !more.lines().any(|l| l.starts_with("listening")),
        "a second listening line: {more:?}"
    );
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
    r.sigterm();
    assert!(r.wait_exit(Duration::from_secs(10)).success());
    let err = r.stderr_text();
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
    let out = binary::command().args(["--port", "not-a-port"]).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not-a-port"));
    let out = binary::command()
        .args(["--failure-rate", "3", "--port", "0"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--failure-rate"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn settings_come_from_environment_variables_too() {
    let out = binary::command().env("PORT", "nope").output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("nope"));
    let out = binary::command().arg("--help").output().unwrap();
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
    let dir = common::files::TempDir::new("binary");
    let file = dir.write(
        "broken.json",
        "{\"databases\": [\n  {\"id\": \"x\",\n   \"oops\": 1}\n]}\n",
    );
    let out = binary::command()
        .args(["--port", "0", "--fixtures"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&format!("{}:3:", file.display())), "{err}");
    assert!(err.contains("oops"), "{err}");
    assert!(out.stdout.is_empty(), "nothing was served");
}

#[tokio::test]
async fn with_the_system_clock_a_backup_reaches_done_on_its_own() {
    let r = start(&["--scheduled-secs", "0.05", "--running-secs", "0.15", "--no-auth"]);
    let api = Api::at(&r.url, "");
    let created = api.create_backup("my-db-123").await;
    assert_eq!(created.status, 201);
    let id = created.json()["database_backup"]["id"].as_str().unwrap().to_string();
    // The one test that waits: real time must move the backup, no control call.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let b = api.show_backup(&id).await;
        if b["status"] == "done" {
            assert!(b["size"].as_u64().unwrap() > 0);
            break;
        }
        assert!(Instant::now() < deadline, "still {b} after 5 s");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[test]
fn the_healthcheck_subcommand_reports_a_running_fake() {
    let r = start(&[]);
    let port = r.address().port().to_string();
    let ok = binary::command()
        .args(["--port", &port, "healthcheck"])
        .status()
        .unwrap();
    assert!(ok.success());
    drop(r);
    let down = binary::command()
        .args(["--port", &port, "healthcheck"])
        .output()
        .unwrap();
    assert!(!down.status.success());
}

#[tokio::test]
async fn environment_variables_take_effect() {
    let mut cmd = binary::command();
    cmd.envs([
        ("PORT", "0"),
        ("DB_BEARER_TOKEN", "from-env"),
        ("CLOCK", "manual"),
        ("CLOCK_START", "2024-01-01T00:00:00Z"),
        ("PUBLIC_URL", "https://public.example.test"),
        ("LOG", "warn"),
    ])
    .stderr(Stdio::null());
    let r = binary::run(cmd);
    let clock = common::control_get(&format!("{}/_fake/clock", r.url)).await.json();
    assert_eq!(clock["mode"], "manual");
    assert_eq!(clock["now"], "2024-01-01T00:00:00.000+00:00");
    let link = Api::at(&r.url, "from-env")
        .archive_link("my-db-123", "5b8b36104ffb090be1ac3ce1", &[])
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
        let b = Api::at(&r.url, "").create_backup("my-db-123").await.json();
        ids.push((b["database_backup"]["id"].clone(), b["database_backup"]["name"].clone()));
    }
    assert!(
        ids[0].0.as_str().is_some_and(|id| id.len() == 24),
        "a backup id: {:?}",
        ids[0]
    );
    assert_eq!(ids[0], ids[1]);
    assert_eq!(ids[0].1, "20240101000000_kibana-3938");
}
