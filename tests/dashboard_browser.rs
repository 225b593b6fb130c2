//! The dashboard in a real browser: headless Chromium driven through
//! WebDriver (chromedriver, started here on a free loopback port), on an
//! in-process fake with a manual clock.
//!
//! Ignored by default, since it needs Chromium and its driver (Debian:
//! `apt-get install chromium chromium-driver`); `.ci/run` installs them and
//! runs `cargo test --test dashboard_browser -- --ignored`.
//!
//! It fails on anything the page logs at the error level (an uncaught
//! exception, a rejected promise, `console.error`, a resource that fails to
//! load, a blocked script), read from Chrome's browser log after each step;
//! before trusting that log, it makes the page throw a deliberate error and
//! checks the log shows it. It saves a screenshot to the target folder, or
//! to `docs/dashboard.png` (the README's) with `UPDATE_DASHBOARD_SCREENSHOT=1`.

mod common;

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::wd::WebDriverCompatibleCommand;
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use scalingo_db_fake::{FakeServer, Lifecycle, Timestamp};
use serde_json::{json, Value};

/// How long a step waits for the page to show what it expects.
const PATIENCE: Duration = Duration::from_secs(10);
const START: &str = "2024-03-01T10:00:00.000+00:00";
const DB: &str = "my-db-123";

/// The first of `names` found on the `PATH`.
fn find_program(names: &[&str]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    names
        .iter()
        .flat_map(|name| std::env::split_paths(&path).map(move |dir| dir.join(name)))
        .find(|p| p.is_file())
}

/// chromedriver, running on a loopback port of its own; killed on drop.
struct Driver {
    child: Child,
    port: u16,
    url: String,
}

impl Driver {
    fn start() -> Driver {
        let exe = find_program(&["chromedriver"])
            .expect("chromedriver is not on the PATH: apt-get install chromium chromium-driver");
        // A port the system just gave out is free, barring a race.
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let child = Command::new(exe)
            .args([format!("--port={port}"), "--allowed-ips=127.0.0.1".into()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let deadline = Instant::now() + PATIENCE;
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "chromedriver did not listen on port {port}");
            std::thread::sleep(Duration::from_millis(20));
        }
        Driver {
            child,
            port,
            url: format!("http://127.0.0.1:{port}"),
        }
    }

    /// Ends session `id` (chromedriver then quits its Chromium), blocking:
    /// for a test that failed before it could close its session, since
    /// killing chromedriver alone leaves Chromium running.
    fn end_session(&self, id: &str) {
        use std::io::{Read, Write};
        let Ok(mut s) = TcpStream::connect(("127.0.0.1", self.port)) else {
            return;
        };
        let _ = s.set_read_timeout(Some(PATIENCE));
        let request = format!(
            "DELETE /session/{id} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nConnection: close\r\n\r\n",
            self.port
        );
        // chromedriver answers once Chromium has quit.
        if s.write_all(request.as_bytes()).is_ok() {
            let _ = s.read(&mut [0; 1024]);
        }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Chrome's browser log since the last read (chromedriver's `se/log`).
#[derive(Debug)]
struct BrowserLog;

impl WebDriverCompatibleCommand for BrowserLog {
    fn endpoint(&self, base: &url::Url, session: Option<&str>) -> Result<url::Url, url::ParseError> {
        base.join(&format!("session/{}/se/log", session.unwrap_or_default()))
    }

    fn method_and_body(&self, _: &url::Url) -> (hyper::Method, Option<String>) {
        (hyper::Method::POST, Some(json!({ "type": "browser" }).to_string()))
    }
}

/// A headless Chromium session and the driver it runs on; both end on
/// drop, even when the test fails.
struct Browser {
    client: Client,
    session: String,
    driver: Driver,
}

impl Drop for Browser {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            self.driver.end_session(&self.session);
        }
    }
}

impl Browser {
    async fn start() -> Browser {
        let driver = Driver::start();
        let chromium = find_program(&["chromium", "chromium-browser", "google-chrome"])
            .expect("chromium is not on the PATH: apt-get install chromium chromium-driver");
        let caps = json!({
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chromium,
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                         "--window-size=1280,1000", "--hide-scrollbars", "--force-device-scale-factor=1",
                         "--lang=en-US", "--no-first-run", "--disable-extensions"],
            },
            "goog:loggingPrefs": { "browser": "ALL" },
        });
        let Value::Object(caps) = caps else { unreachable!() };
        let client = ClientBuilder::new(HttpConnector::new())
            .capabilities(caps)
            .connect(&driver.url)
            .await
            .expect("a WebDriver session");
        let session = client.session_id().await.ok().flatten().unwrap_or_default();
        Browser {
            client,
            session,
            driver,
        }
    }

    /// Ends the session (Chromium quits) and the driver.
    async fn close(mut self) {
        self.client.clone().close().await.expect("the session ends");
        self.session.clear();
    }

    /// What the page logged at the error level since the last call.
    async fn errors(&self) -> Vec<String> {
        let log = self.client.issue_cmd(BrowserLog).await.expect("the browser log");
        log.as_array()
            .into_iter()
            .flatten()
            .filter(|e| e["level"] == "SEVERE")
            .map(|e| e["message"].as_str().unwrap_or_default().to_string())
            .collect()
    }

    /// Fails the test if the page logged an error since the last check.
    async fn assert_clean(&self, step: &str) {
        let errors = self.errors().await;
        assert!(errors.is_empty(), "the page logged errors ({step}): {errors:#?}");
    }

    /// The value of `script` (a function body) once `done` accepts it;
    /// fails at once if the page logs an error meanwhile.
    async fn wait_for(&self, what: &str, script: &str, done: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + PATIENCE;
        loop {
            self.assert_clean(&format!("waiting for {what}")).await;
            let value = self.client.execute(script, vec![]).await.expect("a script runs");
            if done(&value) {
                return value;
            }
            assert!(
                Instant::now() < deadline,
                "waited {PATIENCE:?} for {what}; last seen: {value}"
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// Waits until `css`'s text is `want`.
    async fn wait_text(&self, css: &str, want: &str) {
        let script = format!(
            "const e = document.querySelector({}); return e && e.textContent;",
            json!(css)
        );
        self.wait_for(&format!("{css} to read {want:?}"), &script, |v| v == want)
            .await;
    }

    /// Waits until `css` matches `n` elements.
    async fn wait_count(&self, css: &str, n: usize) {
        let script = format!("return document.querySelectorAll({}).length;", json!(css));
        self.wait_for(&format!("{n} of {css}"), &script, |v| v == n).await;
    }

    async fn click(&self, css: &str) {
        let e = self.client.find(Locator::Css(css)).await;
        e.unwrap_or_else(|e| panic!("no {css}: {e}"))
            .click()
            .await
            .unwrap_or_else(|e| panic!("click on {css}: {e}"));
    }

    async fn attr(&self, css: &str, name: &str) -> String {
        let e = self.client.find(Locator::Css(css)).await.unwrap();
        e.attr(name).await.unwrap().unwrap_or_default()
    }

    async fn select(&self, css: &str, value: &str) {
        let e = self.client.find(Locator::Css(css)).await.unwrap();
        e.select_by_value(value).await.unwrap();
    }
}

/// The badge of backup `id`.
fn badge(id: &str) -> String {
    format!("tr[data-backup=\"{id}\"] .badge")
}

/// The rows of `db`'s backup table.
fn rows(db: &str) -> String {
    format!("[data-db=\"{db}\"] tbody tr")
}

/// The page logs what the log reader must see: otherwise the later
/// "no error" checks would prove nothing.
async fn the_log_reader_sees_a_deliberate_error(b: &Browser) {
    b.client
        .execute(
            "setTimeout(() => { throw new Error('deliberate dashboard check'); }, 0);
             console.error('deliberate console error');",
            vec![],
        )
        .await
        .unwrap();
    let deadline = Instant::now() + PATIENCE;
    let mut seen = Vec::new();
    while seen.len() < 2 {
        seen.extend(b.errors().await.into_iter().filter(|m| m.contains("deliberate")));
        assert!(
            Instant::now() < deadline,
            "the browser log missed a deliberate error: {seen:?}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!(seen
        .iter()
        .any(|m| m.contains("Uncaught Error: deliberate dashboard check")));
    assert!(seen.iter().any(|m| m.contains("deliberate console error")));
}

/// A backup made from the page goes scheduled → running → done as the
/// clock buttons move the clock; its download link downloads its archive.
async fn a_backup_moves_with_the_clock(b: &Browser, fake: &FakeServer) {
    b.wait_text("#clock-now", "2024-03-01 10:00:00 UTC").await;
    b.wait_count(&rows(DB), 3).await;
    b.click(&format!("[data-db=\"{DB}\"] [data-action=\"create-backup\"]"))
        .await;
    b.wait_count(&rows(DB), 4).await;
    let id = b.attr(&format!("{}:first-child", rows(DB)), "data-backup").await;
    assert!(fake.backup(&id).is_ok(), "the first row is the new backup: {id}");
    b.wait_text(&badge(&id), "scheduled").await;
    b.click("[data-action=\"advance\"][data-secs=\"60\"]").await;
    b.wait_text(&badge(&id), "running").await;
    b.wait_text("#clock-now", "2024-03-01 10:01:00 UTC").await;
    b.click("[data-action=\"advance\"][data-secs=\"3600\"]").await;
    b.wait_text(&badge(&id), "done").await;
    b.assert_clean("a backup moves").await;

    b.click(&format!("tr[data-backup=\"{id}\"] [data-action=\"link\"]"))
        .await;
    let script = format!("return document.querySelector('[data-db=\"{DB}\"] .link-bar input').value;");
    let url = b
        .wait_for("the download link", &script, |v| {
            v.as_str().is_some_and(|u| u.contains("/download?token="))
        })
        .await;
    let url = url.as_str().unwrap();
    let download = b.attr(&format!("[data-db=\"{DB}\"] .link-bar a"), "href").await;
    assert_eq!(download, url, "the Download button points at the link");
    let r = common::send(hyper::Method::GET, url, &[], None).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(Some(r.body.len() as u64), fake.backup(&id).unwrap().size);
    assert!(!common::archive::untar(&r.body).is_empty());
}

/// A backup forced to fail shows `error`.
async fn a_forced_failure_shows(b: &Browser) {
    b.click(&format!("[data-db=\"{DB}\"] [data-action=\"create-backup\"]"))
        .await;
    b.wait_count(&rows(DB), 5).await;
    let id = b.attr(&format!("{}:first-child", rows(DB)), "data-backup").await;
    b.wait_text(&badge(&id), "scheduled").await;
    b.click(&format!("tr[data-backup=\"{id}\"] [data-action=\"fail\"]"))
        .await;
    b.wait_text(&badge(&id), "error").await;
    b.assert_clean("a forced failure").await;
}

/// A 503 rule added from the form is listed, fires on the next list
/// request, and the journal shows the request it answered.
async fn a_fault_rule_fires_and_the_journal_shows_it(b: &Browser, fake: &FakeServer) {
    b.select("#fault-operation", "backups.list").await;
    b.select("#fault-database", DB).await;
    b.click("#fault-form button[type=\"submit\"]").await;
    b.wait_text("#faults tr[data-fault=\"f1\"] .effect", "answer 503").await;
    b.wait_text("#faults tr[data-fault=\"f1\"] .hits", "0").await;
    let url = format!("{}/api/databases/{DB}/backups", fake.url());
    assert_eq!(common::get(&url, fake.token()).await.status, 503);
    b.wait_text("#faults tr[data-fault=\"f1\"] .hits", "1").await;
    b.wait_text("#journal tr:first-child .fault", "f1").await;
    b.wait_text("#journal tr:first-child .code", "503").await;
    b.wait_text("#journal tr:first-child .path", &format!("/api/databases/{DB}/backups"))
        .await;
    b.assert_clean("a fault rule").await;
}

/// A per-test database made from the page shows its token, then goes when
/// deleted.
async fn a_database_comes_and_goes(b: &Browser, fake: &FakeServer) {
    b.select("#db-type", "mysql").await;
    b.click("#db-form button[type=\"submit\"]").await;
    let script = "const c = document.querySelector('#db-created code'); return c && c.textContent;";
    let id = b
        .wait_for("the new database's id", script, |v| {
            v.as_str().is_some_and(|s| s.starts_with("ad-"))
        })
        .await;
    let id = id.as_str().unwrap().to_string();
    b.wait_count(&format!("[data-db=\"{id}\"]"), 1).await;
    assert!(fake.database(&id).is_ok());
    b.click(&format!("[data-db=\"{id}\"] [data-action=\"delete-database\"]"))
        .await;
    b.wait_count(&format!("[data-db=\"{id}\"]"), 0).await;
    assert!(fake.database(&id).is_err());
    let script = "return document.getElementById('db-created').hidden;";
    b.wait_for("the note to go with its database", script, |v| v == true)
        .await;
    b.assert_clean("a database comes and goes").await;
}

/// Every control has a name a screen reader can say, and the page fits a
/// phone's width (tables scroll inside their card).
async fn every_control_is_labelled_and_the_page_fits_a_phone(b: &Browser) {
    let unlabelled = b
        .client
        .execute(
            "return [...document.querySelectorAll('button, input, select, a')]
               .filter((e) => !(e.getAttribute('aria-label') || (e.labels && e.labels.length)
                               || (e.tagName !== 'INPUT' && e.tagName !== 'SELECT' && e.textContent.trim())))
               .map((e) => e.outerHTML);",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(unlabelled, json!([]), "controls without a label");
    b.client.set_window_size(390, 844).await.unwrap();
    // The page does not scroll sideways (a table may, inside its card); if
    // it does, the elements that stick out are named.
    let script = "const root = document.documentElement;
        if (root.scrollWidth <= root.clientWidth) return [];
        return [...document.querySelectorAll('body *')]
          .filter((e) => e.getBoundingClientRect().right > root.clientWidth + 0.5)
          .map((e) => `${e.tagName}.${e.className}: ${Math.round(e.getBoundingClientRect().right)}`);";
    b.wait_for("the page to fit 390 px", script, |v| v == &json!([])).await;
    b.client.set_window_size(1280, 1000).await.unwrap();
}

/// Creates a backup of `db` from its card; returns its id, read from the
/// page's message.
async fn create_backup(b: &Browser, db: &str) -> String {
    b.client
        .execute("document.getElementById('message').textContent = '';", vec![])
        .await
        .unwrap();
    b.click(&format!("[data-db=\"{db}\"] [data-action=\"create-backup\"]"))
        .await;
    let script = "return document.getElementById('message').textContent;";
    let said = b
        .wait_for("the new backup's id", script, |v| {
            v.as_str().is_some_and(|m| m.starts_with("Backup "))
        })
        .await;
    let id = said.as_str().unwrap()["Backup ".len()..]
        .split(' ')
        .next()
        .unwrap()
        .to_string();
    b.wait_count(&format!("tr[data-backup=\"{id}\"]"), 1).await;
    id
}

/// Saves the whole page as the README shows it, with a backup running and
/// one scheduled.
async fn screenshot(b: &Browser) {
    let running = create_backup(b, DB).await;
    b.click("[data-action=\"advance\"][data-secs=\"60\"]").await;
    b.wait_text(&badge(&running), "running").await;
    let scheduled = create_backup(b, DB).await;
    b.wait_text(&badge(&scheduled), "scheduled").await;
    // The window's height, less what is not viewport, plus the page's.
    let script = "return document.documentElement.scrollHeight + window.outerHeight - window.innerHeight;";
    let height = b.client.execute(script, vec![]).await.unwrap();
    let height = height.as_u64().unwrap_or(1500).clamp(800, 2400) as u32;
    b.client.set_window_size(1280, height).await.unwrap();
    b.client.execute("window.scrollTo(0, 0);", vec![]).await.unwrap();
    tokio::time::sleep(Duration::from_millis(600)).await; // one poll, drawn
    let png = b.client.screenshot().await.unwrap();
    assert!(png.starts_with(b"\x89PNG"));
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"));
    std::fs::write(dir.join("dashboard.png"), &png).unwrap();
    if std::env::var_os("UPDATE_DASHBOARD_SCREENSHOT").is_some() {
        std::fs::write(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/dashboard.png"), &png).unwrap();
    }
    b.client.set_window_size(1280, 1000).await.unwrap();
    b.assert_clean("the screenshot").await;
}

/// Reset puts everything back: the backups, the rules, the journal, the clock.
async fn reset_puts_everything_back(b: &Browser) {
    b.click("[data-action=\"reset\"]").await;
    b.wait_count(&rows(DB), 3).await;
    b.wait_count("#faults tr", 0).await;
    b.wait_count("#journal tr", 0).await;
    b.wait_text("#clock-now", "2024-03-01 10:00:00 UTC").await;
    b.assert_clean("reset").await;
}

/// With an admin token, the page loads, asks for the token, and then shows
/// the fake; on the system clock, a status change shows within a second.
async fn the_page_asks_for_the_admin_token_and_follows_the_system_clock(b: &Browser) {
    let life = Lifecycle {
        scheduled_secs: 0.3,
        pending_secs: 0.0,
        running_secs: 0.5,
        ..Lifecycle::default()
    };
    let fake = FakeServer::builder()
        .admin_token("s3cret")
        .lifecycle(life)
        .start()
        .await;
    b.client.goto(&format!("{}/_fake/ui", fake.url())).await.unwrap();
    let script = "return !document.getElementById('token-form').hidden;";
    b.wait_for("the token form", script, |v| v == true).await;
    let input = b.client.find(Locator::Id("token-input")).await.unwrap();
    input.send_keys("s3cret").await.unwrap();
    b.click("#token-form button[type=\"submit\"]").await;
    b.wait_text("#live-text", "live · system clock").await;
    b.wait_count(&rows(DB), 3).await;

    let backup = fake.create_backup(DB).unwrap();
    b.wait_text(&badge(&backup.id), "done").await;
    // How long after it became done, on the fake's (system) clock.
    let done_at = backup.created_at.millis() + 800;
    let lag = fake.now().millis() - done_at;
    assert!(lag < 1000, "the page showed `done` {lag} ms after the change");
    eprintln!("on the system clock, the page showed `done` {lag} ms after the change");
    b.assert_clean("the admin token and the system clock").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Chromium and chromedriver; .ci/run runs it with --ignored"]
async fn the_dashboard_shows_and_steers_the_fake_live() {
    let started = Instant::now();
    let fake = FakeServer::builder()
        .manual_clock()
        .clock_start_millis(Timestamp::parse(START).unwrap().millis())
        .seed(7)
        .lifecycle(Lifecycle {
            scheduled_secs: 30.0,
            pending_secs: 0.0,
            running_secs: 1800.0,
            failure_rate: 0.0,
            size_min: 1 << 20,
            size_max: 64 << 20,
        })
        .start()
        .await;
    let b = Browser::start().await;
    b.client.goto(&format!("{}/_fake/ui", fake.url())).await.unwrap();
    the_log_reader_sees_a_deliberate_error(&b).await;
    b.wait_text("#live-text", "live · manual clock").await;
    a_backup_moves_with_the_clock(&b, &fake).await;
    a_forced_failure_shows(&b).await;
    a_database_comes_and_goes(&b, &fake).await;
    a_fault_rule_fires_and_the_journal_shows_it(&b, &fake).await;
    every_control_is_labelled_and_the_page_fits_a_phone(&b).await;
    screenshot(&b).await;
    reset_puts_everything_back(&b).await;
    the_page_asks_for_the_admin_token_and_follows_the_system_clock(&b).await;
    b.close().await;
    eprintln!("the browser test took {:?}", started.elapsed());
}
