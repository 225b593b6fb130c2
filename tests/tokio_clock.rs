//! A clock that follows tokio's: in a test whose time is paused, the code
//! under test polls with plain `tokio::time::sleep` and the fake's backups
//! move exactly as far as those sleeps, with no real waiting.

mod common;

use std::time::{Duration, Instant};

use scalingo_db_fake::FakeServer;

/// The code under test: creates a backup, then polls it every `every` until
/// it is done or error; returns the statuses it saw, in order.
async fn poll_until_finished(url: &str, token: &str, every: Duration) -> Vec<String> {
    let r = common::post(&format!("{url}/api/databases/my-db-123/backups"), token, "{}").await;
    let id = r.json()["database_backup"]["id"].as_str().unwrap().to_string();
    let mut seen = vec![r.json()["database_backup"]["status"].as_str().unwrap().to_string()];
    for _ in 0..100 {
        tokio::time::sleep(every).await;
        let r = common::get(&format!("{url}/api/backups/{id}"), token).await;
        let status = r.json()["database_backup"]["status"].as_str().unwrap().to_string();
        if seen.last() != Some(&status) {
            seen.push(status.clone());
        }
        if status == "done" || status == "error" {
            break;
        }
    }
    seen
}

#[tokio::test(start_paused = true)]
async fn a_client_that_sleeps_with_tokio_sees_the_backup_go_scheduled_running_done_without_real_waiting() {
    let fake = FakeServer::builder().tokio_clock().seed(1).start().await;
    let real = Instant::now();
    // The default lifecycle: 2 s scheduled, then 5 s running.
    let seen = poll_until_finished(&fake.url(), fake.token(), Duration::from_secs(1)).await;
    assert_eq!(seen, ["scheduled", "running", "done"]);
    // Waiting for real would take the seven seconds the lifecycle lasts.
    assert!(
        real.elapsed() < Duration::from_secs(7),
        "seven simulated seconds took {:?} of real time",
        real.elapsed()
    );
}

#[tokio::test(start_paused = true)]
async fn tokio_time_moves_the_fake_clock_and_advance_still_adds_to_it() {
    let fake = FakeServer::builder().tokio_clock().start().await;
    let t0 = fake.now().millis();
    tokio::time::sleep(Duration::from_secs(3600)).await;
    assert_eq!(fake.now().millis() - t0, 3_600_000);
    fake.advance(Duration::from_secs(60));
    assert_eq!(fake.now().millis() - t0, 3_660_000);
}
