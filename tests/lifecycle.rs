//! Simulated time: backups progress on the clock, fail at the configured
//! rate, appear on their schedule, and are capped by retention — with no test
//! ever sleeping. (What each `/_fake` control route does and refuses is in
//! `control.rs`.)
mod common;

use std::time::Duration;

use common::fake::{advance_clock, lifecycle, Api, JAN_1_2024};
use proptest::prelude::*;
use scalingo_db_fake::{FakeServer, FakeServerBuilder, Lifecycle, LifecyclePatch, Status};
use serde_json::Value;

/// A fake on a manual clock at 2024-01-01T00:00:00Z, seed 42, with `life`.
fn manual(life: Lifecycle) -> FakeServerBuilder {
    common::fake::manual(JAN_1_2024, 42).lifecycle(life)
}

#[tokio::test]
async fn a_backup_goes_scheduled_then_pending_then_running_then_done_as_the_clock_advances() {
    let fake = manual(lifecycle(2.0, 1.0, 5.0, 0.0)).start().await;
    let api = Api::of(&fake);
    let r = api.create_backup("my-db-123").await;
    assert_eq!(r.status, 201);
    let id = r.json()["database_backup"]["id"].as_str().unwrap().to_string();

    let b = api.show_backup(&id).await;
    assert_eq!(
        (b["status"].as_str(), &b["size"], &b["started_at"]),
        (Some("scheduled"), &Value::Null, &Value::Null)
    );

    advance_clock(&fake.url(), 2.0).await;
    let b = api.show_backup(&id).await;
    assert_eq!(b["status"], "pending");
    assert_eq!(b["size"], 0);
    assert_eq!(b["started_at"], "2024-01-01T00:00:02.000+00:00");

    advance_clock(&fake.url(), 1.0).await;
    let b = api.show_backup(&id).await;
    assert_eq!((b["status"].as_str(), b["size"].as_u64()), (Some("running"), Some(0)));

    advance_clock(&fake.url(), 5.0).await;
    let b = api.show_backup(&id).await;
    assert_eq!(b["status"], "done");
    let size = b["size"].as_u64().unwrap();
    assert!(
        (10_000..=20_000).contains(&size),
        "final size {size} is drawn from the configured range"
    );
    assert_eq!(
        b["started_at"], "2024-01-01T00:00:02.000+00:00",
        "started_at does not move once set"
    );
}

#[tokio::test]
async fn a_backup_drawn_to_fail_ends_in_error_with_size_zero() {
    let fake = manual(lifecycle(1.0, 0.0, 1.0, 1.0)).start().await;
    let b = fake.create_backup("my-db-123").unwrap();
    advance_clock(&fake.url(), 1.0).await;
    assert_eq!(
        fake.backup(&b.id).unwrap().status,
        Status::Running,
        "a zero pending phase is skipped"
    );
    advance_clock(&fake.url(), 1.0).await;
    let b = Api::of(&fake).show_backup(&b.id).await;
    assert_eq!((b["status"].as_str(), b["size"].as_u64()), (Some("error"), Some(0)));
}

#[test]
fn the_error_share_over_ten_thousand_backups_is_within_the_binomial_bound() {
    let fake = FakeServer::builder()
        .manual_clock()
        .seed(2024)
        .no_fixtures()
        .fixtures_json(
            r#"{"databases":[{"id":"big","database_id":"aaaaaaaaaaaaaaaaaaaaaaaa","resource_name":"big-1","type":"postgresql","app":"big"}]}"#,
        )
        .lifecycle(lifecycle(0.0, 0.0, 0.0, 0.2))
        .start_blocking();
    for _ in 0..10_000 {
        fake.create_backup("big").unwrap();
    }
    let backups = fake.backups("big").unwrap();
    assert_eq!(backups.len(), 10_000);
    let errors = backups.iter().filter(|b| b.status == Status::Error).count() as f64;
    // n = 10 000, p = 0.2: sd = 40; the two-sided 99.9% bound is 3.29 sd.
    let bound = 3.29 * (10_000.0f64 * 0.2 * 0.8).sqrt();
    assert!(
        (errors - 2_000.0).abs() <= bound,
        "{errors} errors, expected 2000 ± {bound:.0}"
    );
    assert!(backups.iter().all(|b| b.status.is_finished()));
}

#[test]
fn the_same_seed_and_requests_give_the_same_ids_sizes_and_outcomes() {
    let run = |seed| {
        let fake = manual(lifecycle(0.0, 0.0, 0.0, 0.5)).seed(seed).start_blocking();
        (0..50)
            .map(|_| {
                let b = fake.create_backup("my-db-123").unwrap();
                fake.advance(Duration::from_millis(1500));
                let b = fake.backup(&b.id).unwrap();
                (b.id, b.name, b.size, b.status)
            })
            .collect::<Vec<_>>()
    };
    let a = run(7);
    assert_eq!(a, run(7));
    assert_ne!(a, run(8));
    assert!(a.iter().any(|b| b.3 == Status::Error) && a.iter().any(|b| b.3 == Status::Done));
}

const PERIODIC_DB: &str = r#"{"databases":[{"id":"nightly","database_id":"bbbbbbbbbbbbbbbbbbbbbbbb",
  "resource_name":"nightly-42","type":"postgresql","app":"nightly",
  "periodic_backups_enabled":true,"periodic_backups_scheduled_at":[1,13]}]}"#;

#[tokio::test]
async fn three_simulated_days_with_two_scheduled_hours_give_six_periodic_backups_newest_first() {
    let fake = manual(lifecycle(60.0, 0.0, 600.0, 0.0))
        .fixtures_json(PERIODIC_DB)
        .start()
        .await;
    advance_clock(&fake.url(), 3.0 * 86_400.0).await;
    let list = Api::of(&fake).list_backups("nightly").await;
    let names: Vec<&str> = list.iter().map(|b| b["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        [
            "20240103130000_nightly-42",
            "20240103010000_nightly-42",
            "20240102130000_nightly-42",
            "20240102010000_nightly-42",
            "20240101130000_nightly-42",
            "20240101010000_nightly-42",
        ]
    );
    assert!(list.iter().all(|b| b["method"] == "periodic"));
    assert_eq!(list[5]["created_at"], "2024-01-01T01:00:00.000+00:00");
    // Each has its own derived status: the last one (13:00 on day 3) finished at 13:11.
    assert!(list.iter().all(|b| b["status"] == "done"));
    assert!(list.iter().all(|b| b["id"].as_str().unwrap()[..8]
        == format!("{:08x}", {
            let t = chrono::DateTime::parse_from_rfc3339(b["created_at"].as_str().unwrap()).unwrap();
            t.timestamp()
        })));
}

#[tokio::test]
async fn periodic_backups_appear_lazily_with_their_own_status() {
    let fake = manual(lifecycle(60.0, 0.0, 600.0, 0.0))
        .fixtures_json(PERIODIC_DB)
        .start()
        .await;
    fake.advance(Duration::from_secs(3600 + 30)); // 01:00:30: the 01:00 backup is 30 s old
    let list = fake.backups("nightly").unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].status, Status::Scheduled);
}

#[tokio::test]
async fn patching_the_schedule_changes_it_from_then_on() {
    let fake = manual(lifecycle(0.0, 0.0, 0.0, 0.0))
        .fixtures_json(PERIODIC_DB)
        .start()
        .await;
    fake.advance(Duration::from_secs(2 * 3600)); // 02:00: the 01:00 backup exists
    let r = common::patch(
        &format!("{}/api/databases/nightly", fake.url()),
        fake.token(),
        r#"{"database":{"periodic_backups_scheduled_at":5}}"#,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        r.json()["database"]["periodic_backups_scheduled_at"],
        serde_json::json!([5])
    );
    fake.advance(Duration::from_secs(24 * 3600)); // to 02:00 the next day
    let names: Vec<String> = fake.backups("nightly").unwrap().into_iter().map(|b| b.name).collect();
    assert_eq!(names, ["20240101050000_nightly-42", "20240101010000_nightly-42"]);

    let r = common::patch(
        &format!("{}/api/databases/nightly", fake.url()),
        fake.token(),
        r#"{"database":{"periodic_backups_enabled":false}}"#,
    )
    .await;
    assert_eq!(r.json()["database"]["periodic_backups_enabled"], false);
    fake.advance(Duration::from_secs(3 * 24 * 3600));
    assert_eq!(
        fake.backups("nightly").unwrap().len(),
        2,
        "disabled: no more periodic backups"
    );
}

#[test]
fn retention_drops_the_oldest_finished_backup_past_the_cap() {
    let fake = manual(lifecycle(10.0, 0.0, 10.0, 0.0))
        .fixtures_json(PERIODIC_DB)
        .retention(3)
        .start_blocking();
    let first = fake.create_backup("nightly").unwrap();
    fake.advance(Duration::from_secs(60));
    let second = fake.create_backup("nightly").unwrap();
    let third = fake.create_backup("nightly").unwrap();
    let fourth = fake.create_backup("nightly").unwrap();
    let ids: Vec<String> = fake.backups("nightly").unwrap().into_iter().map(|b| b.id).collect();
    assert_eq!(
        ids,
        [fourth.id.clone(), third.id.clone(), second.id.clone()],
        "the finished first one went"
    );
    assert!(fake.backup(&first.id).is_err());
    // Unfinished backups are never dropped: the cap is exceeded rather than lose one.
    let fifth = fake.create_backup("nightly").unwrap();
    assert_eq!(fake.backups("nightly").unwrap().len(), 4);
    fake.advance(Duration::from_secs(60));
    let sixth = fake.create_backup("nightly").unwrap();
    let ids: Vec<String> = fake.backups("nightly").unwrap().into_iter().map(|b| b.id).collect();
    assert_eq!(ids, [sixth.id, fifth.id, fourth.id]);
}

#[test]
fn a_database_fixture_can_carry_its_own_lifecycle() {
    let fake = manual(lifecycle(2.0, 0.0, 5.0, 0.0))
        .fixtures_json(
            r#"{"databases":[{"id":"slow","database_id":"cccccccccccccccccccccccc","resource_name":"slow-1",
            "type":"mysql","app":"slow","lifecycle":{"running_secs":3600}}]}"#,
        )
        .start_blocking();
    let b = fake.create_backup("slow").unwrap();
    fake.advance(Duration::from_secs(600));
    assert_eq!(fake.backup(&b.id).unwrap().status, Status::Running);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn through_the_server_status_never_goes_backwards_and_size_follows_the_status(
        scheduled in 0.0f64..30.0, pending in 0.0f64..30.0, running in 0.0f64..30.0,
        failure_rate in 0.0f64..=1.0, seed in any::<u64>(),
        moves in proptest::collection::vec(0u64..20_000, 1..15),
    ) {
        let fake = manual(lifecycle(scheduled, pending, running, failure_rate)).seed(seed).start_blocking();
        let ids: Vec<String> = (0..4).map(|_| fake.create_backup("my-db-123").unwrap().id).collect();
        let mut last: Vec<u8> = vec![0; ids.len()];
        for m in moves {
            fake.advance(Duration::from_millis(m));
            for (i, id) in ids.iter().enumerate() {
                let b = fake.backup(id).unwrap();
                prop_assert!(b.status.rank() >= last[i], "{:?} went backwards", b.status);
                last[i] = b.status.rank();
                match b.status {
                    Status::Scheduled => prop_assert!(b.size.is_none() && b.started_at.is_none()),
                    Status::Done => prop_assert!(b.size.unwrap() >= 10_000 && b.started_at.is_some()),
                    _ => prop_assert!(b.size == Some(0) && b.started_at.is_some()),
                }
            }
        }
    }
}

#[test]
fn lifecycle_patches_through_the_handle_are_validated() {
    let fake = manual(Lifecycle::default()).start_blocking();
    let bad = LifecyclePatch {
        failure_rate: Some(-0.5),
        ..LifecyclePatch::default()
    };
    assert!(fake.set_lifecycle(&bad).is_err());
    let good = LifecyclePatch {
        pending_secs: Some(3.0),
        ..LifecyclePatch::default()
    };
    assert_eq!(fake.set_lifecycle(&good).unwrap().pending_secs, 3.0);
}

#[test]
fn a_huge_clock_jump_creates_a_bounded_backlog_of_periodic_backups() {
    let fake = manual(lifecycle(0.0, 0.0, 0.0, 0.0))
        .fixtures_json(PERIODIC_DB)
        .start_blocking();
    fake.advance(Duration::from_secs(30 * 365 * 86_400));
    let list = fake.backups("nightly").unwrap();
    // Two a day, for the last 400 days only.
    assert!((799..=801).contains(&list.len()), "{} backups", list.len());
    let newest = &list[0].created_at;
    assert!(newest.to_string().ends_with("13:00:00.000+00:00"), "{newest}");
}

#[test]
fn retention_with_a_long_catch_up_keeps_the_newest_and_forgets_the_rest() {
    let fake = manual(lifecycle(0.0, 0.0, 0.0, 0.0))
        .fixtures_json(PERIODIC_DB)
        .retention(5)
        .start_blocking();
    fake.advance(Duration::from_secs(100 * 86_400));
    let list = fake.backups("nightly").unwrap();
    assert_eq!(list.len(), 5);
    assert_eq!(list[0].name, "20240409130000_nightly-42");
    assert_eq!(list[4].name, "20240407130000_nightly-42");
}

#[tokio::test]
async fn the_list_shows_each_status_change_the_moment_it_happens() {
    let fake = manual(lifecycle(10.0, 0.0, 10.0, 0.0)).start().await;
    let b = fake.create_backup("my-db-123").unwrap();
    let api = Api::of(&fake);
    let first = || async { api.list_backups("my-db-123").await[0].clone() };
    assert_eq!(first().await["status"], "scheduled");
    fake.advance(Duration::from_millis(9_999));
    assert_eq!(first().await["status"], "scheduled");
    fake.advance(Duration::from_millis(1));
    assert_eq!(first().await["status"], "running");
    fake.fail_backup(&b.id).unwrap();
    assert_eq!(first().await["status"], "error", "a forced outcome shows at once");
    fake.create_backup("my-db-123").unwrap();
    assert_eq!(api.list_backups("my-db-123").await.len(), 5);
}

#[tokio::test]
async fn the_clock_stops_at_year_9999_and_nothing_breaks_on_the_way() {
    let fake = manual(lifecycle(0.0, 0.0, 0.0, 0.0))
        .fixtures_json(PERIODIC_DB)
        .start()
        .await;
    for _ in 0..10 {
        advance_clock(&fake.url(), 9.9e11).await;
    }
    let r = common::control_get(&format!("{}/_fake/clock", fake.url())).await;
    assert_eq!(r.json()["now"], "9999-12-31T23:59:59.999+00:00");
    let list = Api::of(&fake).list_backups("nightly").await;
    assert!(!list.is_empty() && list.len() <= 801, "{}", list.len());
    assert_eq!(list[0]["name"], "99991231130000_nightly-42");
    // A backup created at the last instant: its id's time part saturates,
    // it runs its (zero-length) phases to the end, and it is listed first.
    let created = fake.create_backup("nightly").unwrap();
    assert_eq!(created.created_at.to_string(), "9999-12-31T23:59:59.999+00:00");
    assert!(created.id.starts_with("ffffffff"), "{}", created.id);
    assert_eq!(fake.backup(&created.id).unwrap().status, Status::Done);
    let list = Api::of(&fake).list_backups("nightly").await;
    assert_eq!(list[0]["id"], created.id.as_str());
    assert_eq!(list[0]["name"], "99991231235959_nightly-42");
}
