//! The crate as a Rust test author meets it: handles that travel, time given
//! in any common form, settings of one type on the builder and the handle,
//! and `Result` everywhere.

mod common;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use scalingo_db_fake::{Error, FakeServer, LifecyclePatch, Status};

#[tokio::test]
async fn a_cloned_control_moved_into_a_spawned_task_steers_the_fake() {
    let fake = FakeServer::builder().manual_clock().seed(4).start().await;
    let backup = fake.create_backup("my-db-123").unwrap();
    let control = fake.control();
    let task = tokio::spawn(async move {
        // The code under test sleeps with the fake's sleeper: no real waiting.
        for _ in 0..10 {
            control.sleep(Duration::from_secs(1)).await;
        }
        control.now().await.unwrap()
    });
    let then = task.await.unwrap();
    assert_eq!(then.millis(), fake.now().millis());
    assert_eq!(fake.backup(&backup.id).unwrap().status, Status::Done);
}

#[tokio::test]
async fn time_is_given_as_system_time_chrono_or_rfc_3339_text() {
    let fake = FakeServer::builder().manual_clock().clock_start_millis(0).start().await;
    fake.set_time(UNIX_EPOCH + Duration::from_secs(86_400)).unwrap();
    assert_eq!(fake.now().millis(), 86_400_000);
    fake.set_time(chrono::DateTime::<chrono::Utc>::from_timestamp(2 * 86_400, 0).unwrap())
        .unwrap();
    assert_eq!(fake.now().millis(), 2 * 86_400_000);
    fake.set_time("1970-01-04T00:00:00Z").unwrap();
    assert_eq!(fake.now().millis(), 3 * 86_400_000);
    assert!(matches!(fake.set_time("soon"), Err(Error::Invalid(e)) if e[0].field == "set"));
    let control = fake.control();
    let now = control.set_time(SystemTime::now()).await.unwrap();
    assert!(now.millis() > 3 * 86_400_000);
}

#[tokio::test]
async fn the_builder_and_the_handle_take_the_same_settings_types() {
    let slow = LifecyclePatch {
        running_secs: Some(3600.0),
        ..Default::default()
    };
    let fake = FakeServer::builder()
        .manual_clock()
        .lifecycle(LifecyclePatch {
            scheduled_secs: Some(1.0),
            ..Default::default()
        })
        .database_lifecycle("my-db-123", &slow)
        .start()
        .await;
    assert_eq!(fake.lifecycle().scheduled_secs, 1.0);
    let b = fake.create_backup("my-db-123").unwrap();
    fake.advance(Duration::from_secs(60));
    assert_eq!(
        fake.backup(&b.id).unwrap().status,
        Status::Running,
        "an hour of running"
    );
    assert_eq!(
        fake.set_database_lifecycle("my-db-123", &slow).unwrap().running_secs,
        3600.0
    );
    let refused = FakeServer::builder().database_lifecycle("nope", slow).try_start().await;
    assert!(matches!(refused, Err(Error::NotFound("database"))));
}

#[tokio::test]
async fn the_download_ttl_changes_at_run_time() {
    let fake = FakeServer::builder().manual_clock().start().await;
    let control = fake.control();
    control.set_download_ttl(Duration::from_secs(5)).await.unwrap();
    assert_eq!(control.download_ttl().await.unwrap(), Duration::from_secs(5));
    assert!(matches!(
        control.set_download_ttl(Duration::ZERO).await,
        Err(Error::Invalid(e)) if e[0].field == "download_ttl_secs"
    ));
    // A link made now lives five seconds of fake time.
    let archive = format!(
        "{}/api/databases/my-db-123/backups/5b8b36104ffb090be1ac3ce1/archive",
        fake.url()
    );
    let url = common::get(&archive, fake.token()).await.json()["download_url"]
        .as_str()
        .unwrap()
        .to_string();
    fake.advance(Duration::from_secs(4));
    assert_eq!(
        common::head_raw(fake.address(), &common::path_of(&url), &[])
            .await
            .status,
        200
    );
    fake.advance(Duration::from_secs(1));
    assert_eq!(
        common::head_raw(fake.address(), &common::path_of(&url), &[])
            .await
            .status,
        403
    );
}

#[test]
fn lookups_return_a_result_naming_what_is_missing() {
    let fake = FakeServer::start_blocking();
    assert!(matches!(fake.database("nope"), Err(Error::NotFound("database"))));
    assert!(matches!(fake.backups("nope"), Err(Error::NotFound("database"))));
    assert!(matches!(
        fake.backup("000000000000000000000000"),
        Err(Error::NotFound("backup"))
    ));
}
