//! Steering the fake from a test, through [`Control`]: reset, per-test
//! databases, seeded backups and the admin token. Each scenario runs twice:
//! on an in-process fake (`fake.control()`) and on the binary started as a
//! separate process (`Control::connect(url)`), as a docker-compose test would.

mod common;

use std::process::Stdio;
use std::time::Duration;

use scalingo_db_fake::{Control, Error, FakeServer, LifecyclePatch, Status, Timestamp};
use serde_json::json;

const START: &str = "2024-03-01T10:00:00.000+00:00";

/// A fake to steer: its base URL, its global token, and its [`Control`].
struct Target {
    url: String,
    token: String,
    control: Control,
    _keep: Keep,
}

#[allow(dead_code)]
enum Keep {
    InProcess(FakeServer),
    Binary(common::binary::Running),
}

async fn in_process(admin: Option<&str>) -> Target {
    let mut b = FakeServer::builder()
        .manual_clock()
        .clock_start_millis(Timestamp::parse(START).unwrap().millis())
        .seed(5)
        .token("global-token");
    if let Some(a) = admin {
        b = b.admin_token(a);
    }
    let fake = b.start().await;
    Target {
        url: fake.url(),
        token: fake.token().to_string(),
        control: fake.control(),
        _keep: Keep::InProcess(fake),
    }
}

fn binary(admin: Option<&str>) -> Target {
    let mut cmd = common::binary::command();
    cmd.args(["--port", "0", "--log", "warn", "--clock", "manual", "--seed", "5"])
        .args(["--clock-start", START, "--token", "global-token"])
        .stderr(Stdio::null());
    if let Some(a) = admin {
        cmd.args(["--admin-token", a]);
    }
    let running = common::binary::run(cmd);
    let mut control = Control::connect(&running.url).unwrap();
    if let Some(a) = admin {
        control = control.with_admin_token(a);
    }
    Target {
        url: running.url.clone(),
        token: "global-token".into(),
        control,
        _keep: Keep::Binary(running),
    }
}

/// Both targets, for a scenario to run on each.
async fn both() -> [Target; 2] {
    [in_process(None).await, binary(None)]
}

async fn list_ids(t: &Target, db: &str, token: &str) -> (u16, Vec<String>) {
    let r = common::get(&format!("{}/api/databases/{db}/backups", t.url), token).await;
    if r.status != 200 {
        return (r.status, Vec::new());
    }
    let ids = r.json()["database_backups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["id"].as_str().unwrap().to_string())
        .collect();
    (200, ids)
}

#[tokio::test]
async fn reset_puts_back_the_fixtures_clock_settings_and_tokens() {
    for t in both().await {
        let c = &t.control;
        let before_dbs = c.databases().await.unwrap();
        let (_, before_ids) = list_ids(&t, "my-db-123", &t.token).await;
        let extra = c.create_database(json!({})).await.unwrap();
        c.advance(Duration::from_secs(86_400 * 3)).await.unwrap();
        let patch = LifecyclePatch {
            running_secs: Some(99.0),
            ..Default::default()
        };
        c.set_lifecycle(&patch).await.unwrap();
        c.set_retention(Some(1)).await.unwrap();
        c.reseed(77, None).await.unwrap();
        let r = common::post(&format!("{}/api/databases/my-db-123/backups", t.url), &t.token, "{}").await;
        assert_eq!(r.status, 201);

        c.reset().await.unwrap();
        assert_eq!(
            c.now().await.unwrap().to_string(),
            Timestamp::parse(START).unwrap().to_string()
        );
        assert_eq!(c.lifecycle().await.unwrap().running_secs, 5.0);
        assert_eq!(c.retention().await.unwrap(), None);
        assert_eq!(c.seed().await.unwrap(), 5);
        assert_eq!(c.databases().await.unwrap(), before_dbs);
        assert_eq!(list_ids(&t, "my-db-123", &t.token).await, (200, before_ids));
        let (status, _) = list_ids(&t, &extra.id, &extra.token).await;
        assert_eq!(status, 401, "the created database's token is gone with it");
    }
}

#[tokio::test]
async fn a_created_database_opens_with_its_own_token_only_and_goes_away_when_deleted() {
    for t in both().await {
        let c = &t.control;
        let made = c
            .create_database(json!({"type": "mysql", "app": "billing"}))
            .await
            .unwrap();
        assert!(made.id.starts_with("ad-"), "{}", made.id);
        assert_eq!(made.database.type_name, "mysql");
        assert_eq!(made.database.app_name, "billing");
        assert_eq!(list_ids(&t, &made.id, &made.token).await, (200, vec![]));
        let (status, _) = list_ids(&t, "my-db-123", &made.token).await;
        assert_eq!(status, 403, "its token opens it alone");
        let r = common::post(
            &format!("{}/api/databases/{}/backups", t.url, made.id),
            &made.token,
            "{}",
        )
        .await;
        assert_eq!(r.status, 201);

        c.delete_database(&made.id).await.unwrap();
        let r = common::get(&format!("{}/api/databases/{}/backups", t.url, made.id), &t.token).await;
        assert_eq!(r.status, 404);
        assert!(matches!(
            c.delete_database(&made.id).await,
            Err(Error::NotFound("database"))
        ));
        let (status, _) = list_ids(&t, &made.id, &made.token).await;
        assert_eq!(status, 401, "a deleted database's token is forgotten");
    }
}

#[tokio::test]
async fn a_database_is_created_with_the_fixture_fields_it_is_given_and_refused_when_they_break_a_rule() {
    for t in both().await {
        let c = &t.control;
        let made = c
            .create_database(json!({
                "id": "my-test-db",
                "resource_name": "mine-1",
                "backups": [{"id": "65a1b2c3d4e5f60718293a4b", "created_at": "2024-01-12T10:00:00.000+00:00",
                             "started_at": "2024-01-12T10:01:00.000+00:00", "status": "done", "size": 5000000}]
            }))
            .await
            .unwrap();
        assert_eq!(made.id, "my-test-db");
        assert_eq!(
            list_ids(&t, "my-test-db", &made.token).await.1,
            ["65a1b2c3d4e5f60718293a4b"]
        );
        for (bad, field) in [
            (json!({"id": "my-test-db"}), "id"),
            (json!({"id": "has space"}), "database"),
            (json!({"type": 5}), "database"),
            (
                json!({"backups": [{"id": "65a1b2c3d4e5f60718293a4b", "created_at": "2024-01-12T10:00:00.000+00:00", "status": "error"}]}),
                "backups",
            ),
        ] {
            match c.create_database(bad.clone()).await {
                Err(Error::Invalid(errors)) => assert_eq!(errors[0].field, field, "{bad}"),
                other => panic!("{bad} → {other:?}"),
            }
        }
    }
}

#[tokio::test]
async fn a_backup_is_seeded_in_any_state_and_a_database_reset_removes_it() {
    for t in both().await {
        let c = &t.control;
        let (_, before) = list_ids(&t, "my-db-123", &t.token).await;
        let running = c
            .seed_backup(
                "my-db-123",
                json!({"created_at": START, "progress": {"outcome": "done", "size": 100000}}),
            )
            .await
            .unwrap();
        assert_eq!(running.status, Status::Scheduled);
        assert!(running
            .id
            .starts_with(&format!("{:08x}", Timestamp::parse(START).unwrap().millis() / 1000)));
        let failed = c
            .seed_backup(
                "my-db-123",
                json!({"id": "65f000000000000000000001", "created_at": START, "started_at": START, "status": "error", "size": 0}),
            )
            .await
            .unwrap();
        assert_eq!(failed.status, Status::Error);
        c.advance(Duration::from_secs(60)).await.unwrap();
        let (_, ids) = list_ids(&t, "my-db-123", &t.token).await;
        assert!(ids.contains(&running.id) && ids.contains(&failed.id));
        assert_eq!(c.complete_backup(&running.id).await.unwrap().size, Some(100000));
        match c.seed_backup("my-db-123", json!({"created_at": START})).await {
            Err(Error::Invalid(e)) => assert_eq!(e[0].field, "backup"),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            c.seed_backup("nope", json!({"created_at": START, "status": "done"}))
                .await,
            Err(Error::NotFound("database"))
        ));

        c.reset_database("my-db-123").await.unwrap();
        assert_eq!(list_ids(&t, "my-db-123", &t.token).await, (200, before));
    }
}

#[tokio::test]
async fn thirty_two_tests_each_owning_a_database_share_one_fake_without_seeing_each_other() {
    for t in both().await {
        let tasks: Vec<_> = (0..32)
            .map(|i| {
                let control = t.control.clone();
                let url = t.url.clone();
                tokio::spawn(async move {
                    let mine = control.create_database(json!({})).await.unwrap();
                    let mut created = Vec::new();
                    for _ in 0..=(i % 3) {
                        let r =
                            common::post(&format!("{url}/api/databases/{}/backups", mine.id), &mine.token, "{}").await;
                        assert_eq!(r.status, 201);
                        created.push(r.json()["database_backup"]["id"].as_str().unwrap().to_string());
                    }
                    control.advance(Duration::from_secs(1)).await.unwrap();
                    let r = common::get(&format!("{url}/api/databases/{}/backups", mine.id), &mine.token).await;
                    let mut listed: Vec<String> = r.json()["database_backups"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|b| b["id"].as_str().unwrap().to_string())
                        .collect();
                    listed.sort();
                    created.sort();
                    assert_eq!(listed, created, "task {i} sees exactly its own backups");
                    mine
                })
            })
            .collect();
        let mut owned = Vec::new();
        for task in tasks {
            owned.push(task.await.unwrap());
        }
        // No token opens another task's database.
        let r = common::get(
            &format!("{}/api/databases/{}/backups", t.url, owned[1].id),
            &owned[0].token,
        )
        .await;
        assert_eq!(r.status, 403);
    }
}

#[tokio::test]
async fn with_an_admin_token_the_control_api_needs_it_but_the_health_check_does_not() {
    for t in [in_process(Some("s3cret")).await, binary(Some("s3cret"))] {
        let r = common::send(hyper::Method::GET, &format!("{}/_fake/clock", t.url), &[], None).await;
        assert_eq!(r.status, 401);
        assert!(r.json()["error"].as_str().is_some());
        let r = common::get(&format!("{}/_fake/clock", t.url), "wrong").await;
        assert_eq!(r.status, 401);
        let r = common::send(hyper::Method::GET, &format!("{}/_fake/health", t.url), &[], None).await;
        assert_eq!(r.status, 200);
        let r = common::get(&format!("{}/_fake/clock", t.url), "s3cret").await;
        assert_eq!(r.status, 200);
        t.control.advance(Duration::from_secs(1)).await.unwrap();
    }
    let t = binary(Some("s3cret"));
    let anonymous = Control::connect(&t.url).unwrap();
    assert!(matches!(anonymous.reset().await, Err(Error::Remote(Some(401), _))));
}

#[tokio::test]
async fn a_remote_control_reports_the_errors_an_in_process_one_does() {
    for t in both().await {
        let c = &t.control;
        assert!(matches!(
            c.complete_backup("000000000000000000000000").await,
            Err(Error::NotFound("backup"))
        ));
        assert!(
            matches!(c.set_retention(Some(0)).await, Err(Error::Invalid(e)) if e[0].field == "max_backups_per_database")
        );
        let past = Timestamp::parse("2000-01-01T00:00:00.000Z").unwrap();
        assert!(matches!(c.set_time(&past).await, Err(Error::Invalid(e)) if e[0].field == "set"));
        c.health().await.unwrap();
    }
    let nobody = Control::connect("http://127.0.0.1:9").unwrap();
    assert!(matches!(nobody.health().await, Err(Error::Remote(None, _))));
}

#[tokio::test]
async fn state_export_import_export_is_identical_and_serves_the_same_lists() {
    for t in both().await {
        let c = &t.control;
        let mine = c.create_database(json!({"type": "mongodb"})).await.unwrap();
        let r = common::post(
            &format!("{}/api/databases/{}/backups", t.url, mine.id),
            &mine.token,
            "{}",
        )
        .await;
        let in_progress = r.json()["database_backup"]["id"].as_str().unwrap().to_string();
        let forced = c.create_database(json!({})).await.unwrap();
        let r = common::post(
            &format!("{}/api/databases/{}/backups", t.url, forced.id),
            &forced.token,
            "{}",
        )
        .await;
        c.fail_backup(r.json()["database_backup"]["id"].as_str().unwrap())
            .await
            .unwrap();
        c.reseed(9, Some("my-db-123")).await.unwrap();
        let patch = LifecyclePatch {
            running_secs: Some(30.0),
            ..Default::default()
        };
        c.set_database_lifecycle(&mine.id, &patch).await.unwrap();

        let first = c.export_state().await.unwrap();
        let lists_before = [
            list_ids(&t, &mine.id, &mine.token).await,
            list_ids(&t, "my-db-123", &t.token).await,
        ];
        c.import_state(&first).await.unwrap();
        assert_eq!(c.export_state().await.unwrap(), first);
        let lists_after = [
            list_ids(&t, &mine.id, &mine.token).await,
            list_ids(&t, "my-db-123", &t.token).await,
        ];
        assert_eq!(
            lists_after, lists_before,
            "the same backups, and the tokens still open them"
        );
        // The backup in progress still moves on the clock after the import.
        c.advance(Duration::from_secs(3600)).await.unwrap();
        let r = common::get(
            &format!("{}/api/databases/{}/backups/{in_progress}", t.url, mine.id),
            &mine.token,
        )
        .await;
        assert_eq!(r.json()["database_backup"]["status"], "done");
    }
}

#[tokio::test]
async fn an_invalid_state_is_refused_with_422_and_changes_nothing() {
    for t in both().await {
        let c = &t.control;
        let before = c.export_state().await.unwrap();
        for bad in [
            json!({"databases": [{"id": "x"}]}),
            json!({"databases": "none"}),
            json!({"databases": [{"id": "a", "database_id": "aaaaaaaaaaaaaaaaaaaaaaaa", "resource_name": "r", "type": "postgresql", "app": "p",
                   "backups": [{"id": "bbbbbbbbbbbbbbbbbbbbbbbb", "created_at": "2024-01-01T00:00:00.000Z", "started_at": "2024-01-01T00:00:00.000Z",
                                "status": "done", "archive_file": "/etc/passwd"}]}]}),
        ] {
            match c.import_state(&bad).await {
                Err(Error::Invalid(e)) => assert_eq!(e[0].field, "state", "{bad}"),
                other => panic!("{bad} → {other:?}"),
            }
            assert_eq!(c.export_state().await.unwrap(), before);
        }
    }
}

#[tokio::test]
async fn an_imported_state_may_serve_only_the_archive_files_the_start_up_fixtures_serve() {
    let dir = common::files::TempDir::new("state-archive");
    std::fs::write(dir.path().join("dump.tar.gz"), vec![7u8; 5000]).unwrap();
    let fixture = r#"{"databases":[{"id":"real","database_id":"cccccccccccccccccccccccc","resource_name":"real-1",
        "type":"postgresql","app":"a","tokens":["t"],"backups":[{"id":"dddddddddddddddddddddddd",
        "created_at":"2024-01-01T00:00:00.000Z","started_at":"2024-01-01T00:01:00.000Z","status":"done","archive_file":"dump.tar.gz"}]}]}"#;
    std::fs::write(dir.path().join("f.json"), fixture).unwrap();
    let fake = FakeServer::builder()
        .fixtures_path(dir.path().join("f.json"))
        .manual_clock()
        .start()
        .await;
    let c = fake.control();
    let state = c.export_state().await.unwrap();
    let served = state["databases"][0]["backups"][0]["archive_file"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(served.ends_with("dump.tar.gz"));
    c.import_state(&state).await.unwrap();
    assert_eq!(c.export_state().await.unwrap(), state);
    let mut other = state.clone();
    other["databases"][0]["backups"][0]["archive_file"] = json!(dir.path().join("f.json"));
    other["databases"][0]["backups"][0]["size"] = json!(fixture.len());
    assert!(matches!(c.import_state(&other).await, Err(Error::Invalid(_))));
}

#[tokio::test]
async fn the_journal_reads_alike_in_process_and_remote_and_a_reset_empties_it() {
    for t in both().await {
        let c = &t.control;
        common::get(&format!("{}/api/databases/my-db-123/backups", t.url), &t.token).await;
        common::post(&format!("{}/api/databases/my-db-123/backups", t.url), &t.token, "{}").await;
        common::get(&format!("{}/api/databases/my-db-123/backups?x=1", t.url), &t.token).await;
        assert_eq!(c.count_requests("backups.list").await.unwrap(), 2);
        let last = c.last_request("backups.create").await.unwrap().expect("a create");
        assert_eq!((last.status, last.database.as_deref()), (201, Some("my-db-123")));
        let filter = scalingo_db_fake::RequestFilter::default()
            .database("my-db-123")
            .limit(1);
        let latest = c.requests(&filter).await.unwrap();
        assert_eq!(latest.len(), 1);
        assert_eq!(latest[0].query.as_deref(), Some("x=1"));
        c.reset().await.unwrap();
        assert!(c.requests(&Default::default()).await.unwrap().is_empty());
        common::get(&format!("{}/api/databases/my-db-123", t.url), &t.token).await;
        c.clear_requests().await.unwrap();
        assert_eq!(c.count_requests("databases.show").await.unwrap(), 0);
    }
}

#[tokio::test]
async fn fault_rules_are_steered_alike_in_process_and_remote_and_the_journal_names_the_one_that_fired() {
    use scalingo_db_fake::{FaultEffect, FaultMatch, FaultRule};
    for t in both().await {
        let c = &t.control;
        let rule = FaultRule::new(FaultEffect::Status {
            status: 503,
            body: None,
            retry_after: Some(3),
        })
        .when(FaultMatch::default().operation("backups.list"))
        .times(1);
        let fault = c.add_fault(rule).await.unwrap();
        let url = format!("{}/api/databases/my-db-123/backups", t.url);
        assert_eq!(common::get(&url, &t.token).await.status, 503);
        assert_eq!(common::get(&url, &t.token).await.status, 200, "times: 1 retired it");
        let listed = c.faults().await.unwrap();
        assert_eq!((listed[0].hits, listed[0].remaining), (1, Some(0)));
        let journal = c.requests(&Default::default()).await.unwrap();
        assert_eq!(journal[0].fault.as_deref(), Some(fault.id.as_str()));
        assert_eq!(journal[1].fault, None);
        c.remove_fault(&fault.id).await.unwrap();
        assert!(matches!(c.remove_fault(&fault.id).await, Err(Error::NotFound("fault"))));
        let bad = FaultRule::new(FaultEffect::Reset).when(FaultMatch::default().operation("nope"));
        assert!(matches!(c.add_fault(bad).await, Err(Error::Invalid(e)) if e[0].field == "match.operation"));
        c.add_fault(FaultRule::new(FaultEffect::Reset)).await.unwrap();
        c.reset().await.unwrap();
        assert!(c.faults().await.unwrap().is_empty(), "a reset removes the rules");
        c.add_fault(FaultRule::new(FaultEffect::Latency { ms: 1 }))
            .await
            .unwrap();
        c.clear_faults().await.unwrap();
        assert!(c.faults().await.unwrap().is_empty());
    }
}

#[tokio::test]
async fn the_dashboard_s_reads_answer_alike_in_process_and_remote() {
    for t in both().await {
        let c = &t.control;
        let backups = c.backups("my-db-123").await.unwrap();
        let (_, listed) = list_ids(&t, "my-db-123", &t.token).await;
        assert_eq!(backups.iter().map(|b| b.id.clone()).collect::<Vec<_>>(), listed);
        let all = c.all_backups().await.unwrap();
        assert_eq!(all[0].id, "my-db-123");
        assert_eq!(all[0].database_backups, backups);
        assert_eq!(all.len(), c.databases().await.unwrap().len());

        let done = "5b8b36104ffb090be1ac3ce1";
        let url = c.download_url("my-db-123", done).await.unwrap();
        let prefix = format!("{}/api/databases/my-db-123/backups/{done}/download?token=", t.url);
        assert!(url.starts_with(&prefix), "{url}");
        let head = common::send(hyper::Method::HEAD, &url, &[], None).await;
        assert_eq!(head.status, 200);

        let seeded = c
            .seed_backup(
                "my-db-123",
                json!({"created_at": START, "progress": {"outcome": "done"}}),
            )
            .await
            .unwrap();
        match c.download_url("my-db-123", &seeded.id).await {
            Err(Error::NotDone { backup, status }) => {
                assert_eq!((backup, status), (seeded.id.clone(), Status::Scheduled))
            }
            other => panic!("a scheduled backup has no link: {other:?}"),
        }
        assert!(matches!(c.backups("nope").await, Err(Error::NotFound("database"))));
        assert!(matches!(
            c.download_url("nope", done).await,
            Err(Error::NotFound("database"))
        ));
        assert!(matches!(
            c.download_url("my-db-123", "nope").await,
            Err(Error::NotFound("backup"))
        ));
    }
}
