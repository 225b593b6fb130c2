//! The binary as a user runs it: flags, the `listening` line, one log line
//! per request (never waited for), clear failures, graceful stop, a system
//! clock that moves backups on its own, its health check, the image's
//! settings and the compose example.
mod common;

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::binary::{self, start};
use common::fake::Api;
use common::files::TempDir;
use serde_json::{json, Value};

/// The embedded database the load tests list, and its token.
const LIST: &str = "/api/databases/my-db-123/backups";
const TOKEN: &str = "my-db-123-token";

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

#[tokio::test]
async fn a_request_answered_by_a_fault_rule_logs_the_rules_id_on_its_line() {
    let mut r = start(&[]);
    let rule = json!({ "match": { "operation": "backups.list" }, "status": 503 });
    let added = common::control_post(&format!("{}/_fake/faults", r.url), Some(&rule.to_string())).await;
    assert_eq!(added.status, 201, "{:?}", added.body);
    let resp = common::get(&format!("{}{LIST}", r.url), TOKEN).await;
    assert_eq!(resp.status, 503);
    r.sigterm();
    assert!(r.wait_exit(Duration::from_secs(10)).success());
    let err = r.stderr_text();
    let line = format!("GET {LIST} -> 503 (backups.list, fault f1, ");
    assert!(err.lines().any(|l| l.contains(&line) && l.ends_with(" µs)")), "{err}");
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

// ---------------------------------------------------------------------------
// The log: never waited for
// ---------------------------------------------------------------------------

/// The binary at the default log level (info: a line per request) on a free
/// port, its stderr piped.
fn start_default_log(extra: &[&str]) -> binary::Running {
    let mut cmd = binary::command();
    cmd.args(["--port", "0"]).args(extra).stderr(Stdio::piped());
    binary::run(cmd)
}

#[test]
fn a_stderr_nobody_reads_neither_freezes_the_fake_nor_holds_its_exit() {
    // A harness that pipes stderr and never reads it: the pipe fills after
    // a few hundred lines; the fake must go on answering.
    let mut r = start_default_log(&[]);
    let answered = binary::hammer(r.address(), LIST, TOKEN, 4, 20_000);
    assert_eq!(answered, 20_000, "every request is answered");
    r.sigterm();
    let t = Instant::now();
    assert!(r.wait_exit(Duration::from_secs(5)).success());
    assert!(t.elapsed() < Duration::from_secs(5));
}

#[test]
fn log_lines_that_cannot_be_written_in_time_are_dropped_and_counted() {
    let mut r = start_default_log(&[]);
    assert_eq!(binary::hammer(r.address(), LIST, TOKEN, 4, 20_000), 20_000);
    // Now read stderr: the queued lines come out, then the count of the
    // others (20 000 lines is more than the pipe and the queue hold).
    let stderr = r.child.stderr.take().expect("piped stderr");
    let (tx, lines) = mpsc::channel();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut seen = Vec::new();
    loop {
        let line = lines
            .recv_timeout(Duration::from_secs(10))
            .unwrap_or_else(|e| panic!("no `log lines dropped` line ({e}) after {} lines", seen.len()));
        let counted = line.contains("log lines dropped");
        seen.push(line);
        if counted {
            break;
        }
    }
    r.sigterm();
    assert!(r.wait_exit(Duration::from_secs(5)).success());
    reader.join().expect("the stderr reader");
    seen.extend(lines.try_iter());
    let written = seen
        .iter()
        .filter(|l| l.contains(&format!("GET {LIST} -> 200")))
        .count();
    let dropped: usize = seen
        .iter()
        .filter_map(|l| {
            l.split(" log lines dropped")
                .next()
                .filter(|_| l.contains("log lines dropped"))
        })
        .map(|head| {
            head.rsplit(' ')
                .next()
                .and_then(|n| n.parse::<usize>().ok())
                .expect("a count")
        })
        .sum();
    assert!(dropped > 0 && written > 0, "written {written}, dropped {dropped}");
    assert_eq!(written + dropped, 20_000, "every line is written or counted");
}

#[tokio::test]
async fn json_logs_are_one_object_per_line() {
    let mut r = start(&["--log-format", "json"]);
    let before = chrono::Utc::now();
    assert_eq!(common::get(&format!("{}{LIST}", r.url), TOKEN).await.status, 200);
    // A request a fault rule answers: its line carries the rule's id.
    let rule = json!({ "match": { "operation": "backups.list" }, "status": 503 });
    let added = common::control_post(&format!("{}/_fake/faults", r.url), Some(&rule.to_string())).await;
    assert_eq!(added.status, 201, "{:?}", added.body);
    assert_eq!(common::get(&format!("{}{LIST}", r.url), TOKEN).await.status, 503);
    let after = chrono::Utc::now();
    r.sigterm();
    assert!(r.wait_exit(Duration::from_secs(10)).success());
    let err = r.stderr_text();
    let lines: Vec<Value> = err
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not a JSON line ({e}): {l}")))
        .collect();
    for line in &lines {
        for key in ["timestamp", "level", "message"] {
            assert!(line[key].is_string(), "no {key} in {line}");
        }
    }
    let messages: Vec<&str> = lines.iter().filter_map(|l| l["message"].as_str()).collect();
    assert!(messages.iter().any(|m| m.starts_with("seed ")), "{err}");
    // A request's line: its text as the message, then each field, in this
    // order (read from the raw line: a parsed object does not keep it).
    let raw = |status: u16| {
        err.lines()
            .find(|l| l.contains(&format!("GET {LIST} -> {status}")))
            .unwrap_or_else(|| panic!("no {status} request line in {err}"))
    };
    let ok = raw(200);
    assert!(
        ok.contains(&format!(
            r#","method":"GET","path":"{LIST}","status":200,"operation":"backups.list","latency_us":"#
        )),
        "{ok}"
    );
    let faulted = raw(503);
    assert!(
        faulted.contains(r#","status":503,"operation":"backups.list","fault":"f1","latency_us":"#),
        "{faulted}"
    );
    for raw in [ok, faulted] {
        let line: Value = serde_json::from_str(raw).unwrap();
        assert_eq!(line["level"], "INFO", "{line}");
        let latency = line["latency_us"]
            .as_u64()
            .unwrap_or_else(|| panic!("no latency in {line}"));
        let message = line["message"].as_str().unwrap_or_default();
        assert!(message.ends_with(&format!(", {latency} µs)")), "{line}");
        // Stamped when the answer was ready: between the readings around it.
        let at = line["timestamp"].as_str().unwrap_or_default();
        let at = chrono::DateTime::parse_from_rfc3339(at).unwrap_or_else(|e| panic!("{e}: {line}"));
        // (A timestamp keeps microseconds: `before`, cut to them, too.)
        let before = before - chrono::Duration::microseconds(1);
        assert!(before <= at && at <= after, "{before} <= {at} <= {after}");
    }
}

#[test]
fn request_lines_can_be_muted_alone() {
    let mut r = start_default_log(&["--log", "info,scalingo_db_fake::request=warn"]);
    assert_eq!(common::blocking_get(r.address(), LIST, TOKEN).status, 200);
    r.sigterm();
    assert!(r.wait_exit(Duration::from_secs(10)).success());
    let err = r.stderr_text();
    assert!(!err.contains(" -> "), "no request line: {err}");
    assert!(err.contains("INFO seed "), "the other info lines stay: {err}");
}

#[test]
fn a_bad_log_format_exits_non_zero() {
    let out = binary::command()
        .args(["--port", "0", "--log-format", "xml"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("xml"));
    let out = binary::command()
        .args(["--port", "0"])
        .env("LOG_FORMAT", "yaml")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("yaml"));
}

#[test]
fn health_checks_and_fake_reads_are_logged_at_debug_not_info() {
    for (level, quiet_ones_shown) in [("info", false), ("debug", true)] {
        let mut r = start_default_log(&["--log", level]);
        for _ in 0..3 {
            assert_eq!(common::blocking_get(r.address(), "/_fake/health", "").status, 200);
        }
        assert_eq!(common::blocking_get(r.address(), "/_fake/clock", "").status, 200);
        assert_eq!(common::blocking_get(r.address(), LIST, TOKEN).status, 200);
        r.sigterm();
        assert!(r.wait_exit(Duration::from_secs(10)).success());
        let err = r.stderr_text();
        assert_eq!(
            err.contains("GET /_fake/health -> 200"),
            quiet_ones_shown,
            "--log {level}: {err}"
        );
        assert_eq!(
            err.contains("GET /_fake/clock -> 200"),
            quiet_ones_shown,
            "--log {level}: {err}"
        );
        assert!(err.contains(&format!("GET {LIST} -> 200")), "--log {level}: {err}");
    }
}

// ---------------------------------------------------------------------------
// The health check, whatever the port
// ---------------------------------------------------------------------------

#[test]
fn the_healthcheck_finds_a_fake_on_port_zero_through_the_port_file() {
    let dir = TempDir::new("port-file");
    let file = dir.path().join("fake.port");
    let file_arg = file.to_str().expect("a UTF-8 temp path");
    let mut r = start(&["--port-file", file_arg]);
    let port = r.address().port().to_string();
    let written = std::fs::read_to_string(&file).expect("the port file is written before `listening`");
    assert_eq!(written.trim(), port);
    // The image's way: PORT=0 and PORT_FILE in the environment of both.
    let env = [("PORT", "0"), ("PORT_FILE", file_arg)];
    let ok = binary::healthcheck(&[], &env);
    assert!(ok.status.success(), "{}", String::from_utf8_lossy(&ok.stderr));
    // Port 0 without a port file is refused, saying what to do.
    let refused = binary::healthcheck(&["--port", "0"], &[]);
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("--port-file"));
    r.sigterm();
    assert!(r.wait_exit(Duration::from_secs(10)).success());
    assert!(!file.exists(), "a graceful stop removes the port file");
    assert!(!binary::healthcheck(&[], &env).status.success(), "no port file");
    // A port file naming a closed port.
    std::fs::write(&file, format!("{port}\n")).unwrap();
    let down = binary::healthcheck(&[], &env);
    assert!(!down.status.success(), "the port is closed");
}

/// The `KEY=value` pairs of the `ENV` instructions of the last stage of
/// `dockerfile`.
fn runtime_env(dockerfile: &str) -> Vec<(String, String)> {
    let stage = dockerfile.rsplit("\nFROM ").next().unwrap_or_default();
    let mut env = Vec::new();
    let mut in_env = false;
    for line in stage.lines() {
        let line = line.trim();
        let words = match line.strip_prefix("ENV ") {
            Some(rest) => rest,
            None if in_env => line,
            None => continue,
        };
        in_env = line.ends_with('\\');
        for pair in words.trim_end_matches('\\').split_whitespace() {
            let (k, v) = pair
                .split_once('=')
                .unwrap_or_else(|| panic!("ENV {pair}: not KEY=value"));
            env.push((k.to_string(), v.to_string()));
        }
    }
    env
}

#[test]
fn the_images_settings_serve_and_pass_its_health_check() {
    let dockerfile = std::fs::read_to_string(repo().join("Dockerfile")).unwrap();
    assert!(
        dockerfile.contains(r#"CMD ["scalingo-db-fake", "healthcheck"]"#),
        "the image's health check is the binary's"
    );
    let mut env = runtime_env(&dockerfile);
    let names: Vec<&str> = env.iter().map(|(k, _)| k.as_str()).collect();
    for name in ["BIND", "PORT", "PORT_FILE", "LOG"] {
        assert!(names.contains(&name), "the image sets {name}: {names:?}");
    }
    // The same settings here, but loopback, a free port and a port file of
    // this test's own (parallel tests must not share one).
    let dir = TempDir::new("image-env");
    let file = dir.path().join("fake.port").to_string_lossy().into_owned();
    for (k, v) in &mut env {
        match k.as_str() {
            "BIND" => *v = "127.0.0.1".into(),
            "PORT" => *v = "0".into(),
            "PORT_FILE" => v.clone_from(&file),
            _ => {}
        }
    }
    let mut cmd = binary::command();
    cmd.envs(env.iter().map(|(k, v)| (k, v))).stderr(Stdio::null());
    let r = binary::run(cmd);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let ok = binary::healthcheck(&[], &env);
    assert!(ok.status.success(), "{}", String::from_utf8_lossy(&ok.stderr));
    assert_eq!(common::blocking_get(r.address(), LIST, TOKEN).status, 200);
}

// ---------------------------------------------------------------------------
// The compose example
// ---------------------------------------------------------------------------

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn compose_dir() -> PathBuf {
    repo().join("examples/compose")
}

/// examples/compose/compose.yml, as JSON values.
fn compose() -> Value {
    let text = std::fs::read_to_string(compose_dir().join("compose.yml")).expect("examples/compose/compose.yml");
    serde_norway::from_str(&text).unwrap_or_else(|e| panic!("compose.yml is not valid YAML: {e}"))
}

/// A service's `environment` map, as name and value strings.
fn service_env(service: &Value) -> Vec<(String, String)> {
    let env = service["environment"].as_object().expect("an environment map");
    env.iter()
        .map(|(k, v)| (k.clone(), v.as_str().map_or_else(|| v.to_string(), str::to_string)))
        .collect()
}

#[test]
fn the_compose_example_gates_its_client_on_the_fakes_health_check() {
    let c = compose();
    let fake = &c["services"]["scalingo-db"];
    let context = compose_dir().join(fake["build"]["context"].as_str().expect("a build context"));
    let dockerfile = fake["build"]["dockerfile"].as_str().expect("a dockerfile");
    assert!(context.join(dockerfile).is_file(), "builds the repository's Dockerfile");
    assert!(context.join("Cargo.toml").is_file(), "with the repository as context");
    assert_eq!(
        fake["healthcheck"]["test"],
        json!(["CMD", "scalingo-db-fake", "healthcheck"])
    );
    let client = &c["services"]["client"];
    assert_eq!(client["depends_on"]["scalingo-db"]["condition"], "service_healthy");
    assert_eq!(client["environment"]["FAKE_URL"], "http://scalingo-db:8080");
    assert_eq!(client["volumes"], json!(["./client.sh:/client.sh:ro"]));
    assert_eq!(client["entrypoint"], json!(["sh", "/client.sh"]));
    assert!(compose_dir().join("client.sh").is_file());
}

#[test]
fn the_compose_clients_steps_pass_against_the_binary() {
    common::tools::require("curl");
    let c = compose();
    let dir = TempDir::new("compose");
    let port_file = dir.path().join("fake.port").to_string_lossy().into_owned();
    // The fake service's settings, on loopback and a free port.
    let mut fake_env = service_env(&c["services"]["scalingo-db"]);
    fake_env
        .extend([("BIND", "127.0.0.1"), ("PORT", "0"), ("PORT_FILE", &port_file)].map(|(k, v)| (k.into(), v.into())));
    let mut cmd = binary::command();
    cmd.envs(fake_env.iter().map(|(k, v)| (k, v))).stderr(Stdio::null());
    let r = binary::run(cmd);
    // Its health check, as compose runs it.
    let test = c["services"]["scalingo-db"]["healthcheck"]["test"]
        .as_array()
        .expect("a CMD list");
    let args: Vec<&str> = test.iter().skip(2).filter_map(Value::as_str).collect();
    let health = binary::command()
        .args(&args)
        .envs(fake_env.iter().map(|(k, v)| (k, v)))
        .output()
        .unwrap();
    assert!(health.status.success(), "{}", String::from_utf8_lossy(&health.stderr));
    // The client's script, with the client service's settings but this fake's URL.
    let archive = dir.path().join("archive.tar.gz");
    let out = Command::new("sh")
        .arg(compose_dir().join("client.sh"))
        .envs(service_env(&c["services"]["client"]))
        .env("FAKE_URL", &r.url)
        .env("OUT", &archive)
        .output()
        .expect("sh runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "client.sh failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.ends_with("== ok\n"), "{stdout}");
    let bytes = std::fs::read(&archive).expect("the archive was downloaded");
    assert!(bytes.starts_with(&[0x1f, 0x8b]), "a gzip archive");
}

#[test]
fn a_client_that_shuts_its_write_side_after_sending_still_gets_its_answer() {
    use std::io::{Read, Write};
    let r = start(&[]);
    let mut s = std::net::TcpStream::connect(r.address()).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "GET {LIST} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\n\r\n"
    )
    .unwrap();
    s.shutdown(std::net::Shutdown::Write).unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let resp = common::parse_response(&raw).unwrap_or_else(|| panic!("no whole response: {raw:?}"));
    assert_eq!(resp.status, 200);
}
