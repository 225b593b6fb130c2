//! Settings that would break the fake, and archive files it must not serve,
//! are refused at start (and at run time where a setting can change then),
//! naming the setting, or the file with its line and column.

mod common;

use std::process::Stdio;
use std::time::Duration;

use scalingo_db_fake::{Error, FakeServer, LifecyclePatch};

fn invalid_field(e: Error) -> String {
    match e {
        Error::Invalid(errors) => errors[0].field.clone(),
        other => panic!("not an invalid setting: {other}"),
    }
}

#[tokio::test]
async fn settings_that_would_break_the_fake_are_refused_at_start_naming_them() {
    let cases: Vec<(scalingo_db_fake::FakeServerBuilder, &str)> = vec![
        (FakeServer::builder().download_ttl(Duration::ZERO), "download_ttl"),
        (FakeServer::builder().time_scale(1e308), "time_scale"),
        (FakeServer::builder().public_url("javascript:alert(1)"), "public_url"),
        (
            FakeServer::builder().public_url("http://user@evil.example"),
            "public_url",
        ),
        (FakeServer::builder().public_url("http://"), "public_url"),
        (
            FakeServer::builder().lifecycle(scalingo_db_fake::Lifecycle {
                size_max: 1 << 60,
                ..Default::default()
            }),
            "size_max",
        ),
    ];
    for (builder, field) in cases {
        let e = builder.try_start().await.expect_err(field);
        assert_eq!(invalid_field(e), field);
    }
    for ok in ["http://fake:8080", "https://fake.example/prefix"] {
        FakeServer::builder().public_url(ok).try_start().await.expect(ok);
    }
}

#[tokio::test]
async fn sizes_past_what_json_clients_read_exactly_are_refused_at_run_time_too() {
    let fake = FakeServer::builder().manual_clock().start().await;
    let patch = LifecyclePatch {
        size_max: Some(1 << 53),
        ..Default::default()
    };
    assert_eq!(invalid_field(fake.set_lifecycle(&patch).unwrap_err()), "size_max");
    let patch = LifecyclePatch {
        size_max: Some((1 << 53) - 1),
        ..Default::default()
    };
    assert_eq!(fake.set_lifecycle(&patch).unwrap().size_max, (1 << 53) - 1);
}

#[test]
fn the_binary_refuses_each_bad_setting_naming_its_flag() {
    for (args, flag) in [
        (vec!["--download-ttl", "0"], "--download-ttl"),
        (vec!["--time-scale", "1e308"], "--time-scale"),
        (vec!["--public-url", "javascript:alert(1)"], "--public-url"),
        (vec!["--size-max", "1152921504606846976"], "--size-max"),
    ] {
        let out = common::binary::command()
            .args(["--port", "0"])
            .args(&args)
            .stderr(Stdio::piped())
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(flag), "{args:?}: {err}");
    }
}

/// A fixture folder with one database whose done backup serves
/// `archive_file` (as written in the JSON); returns the load's result.
fn load_with_archive(
    dir: &common::files::TempDir,
    archive_file: &str,
    root: Option<&std::path::Path>,
) -> Result<(), scalingo_db_fake::fixtures::FixtureError> {
    let fixture = format!(
        r#"{{"databases":[{{"id":"real","database_id":"cccccccccccccccccccccccc","resource_name":"real-1",
  "type":"postgresql","app":"a","backups":[{{"id":"dddddddddddddddddddddddd",
  "created_at":"2024-01-01T00:00:00.000Z","started_at":"2024-01-01T00:01:00.000Z","status":"done",
  "archive_file":{}}}]}}]}}"#,
        serde_json::to_string(archive_file).unwrap()
    );
    let path = dir.write("fixtures/f.json", fixture);
    scalingo_db_fake::fixtures::load_path_in(&path, root).map(drop)
}

#[test]
fn an_archive_file_must_be_a_regular_file_inside_the_fixtures_folder() {
    let dir = common::files::TempDir::new("archive-confinement");
    dir.write("fixtures/dump.tar.gz", vec![1u8; 5000]);
    let outside = dir.write("outside.tar.gz", vec![2u8; 5000]);
    std::fs::create_dir_all(dir.path().join("fixtures/folder")).unwrap();
    std::os::unix::fs::symlink(&outside, dir.path().join("fixtures/link.tar.gz")).unwrap();
    std::os::unix::fs::symlink(
        dir.path().join("fixtures/dump.tar.gz"),
        dir.path().join("fixtures/inner.tar.gz"),
    )
    .unwrap();
    let fifo = dir.path().join("fixtures/pipe.tar.gz");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("mkfifo runs");
    assert!(made.success());

    load_with_archive(&dir, "dump.tar.gz", None).expect("a file beside the fixture");
    load_with_archive(&dir, "inner.tar.gz", None).expect("a symlink to a file inside");
    for (file, why) in [
        ("../outside.tar.gz", "outside"),
        (outside.to_str().unwrap(), "outside"),
        ("link.tar.gz", "outside"),
        ("folder", "not a regular file"),
        ("pipe.tar.gz", "not a regular file"),
        ("missing.tar.gz", "No such file"),
    ] {
        let e = load_with_archive(&dir, file, None).expect_err(file);
        assert!(e.line > 0 && e.column > 0, "{file}: {e}");
        assert!(e.message.contains(why), "{file}: {e}");
    }
    // An explicit archive root lets the fixture serve what is under it.
    load_with_archive(&dir, "../outside.tar.gz", Some(dir.path())).expect("inside the archive root");
    let e = load_with_archive(&dir, "pipe.tar.gz", Some(dir.path())).expect_err("a FIFO is never served");
    assert!(e.message.contains("not a regular file"));
}
