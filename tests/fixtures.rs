//! Fixture files through the public API: a bad file fails with its
//! path, the line and column of what is wrong and a clear message; a folder
//! loads whole or not at all; the embedded set holds the seed's database; and
//! fixture backups can move on the clock or be served from a real file.
mod common;

use std::path::Path;
use std::time::Duration;

use common::fake::{Api, JAN_1_2024};
use common::files::TempDir;
use scalingo_db_fake::fixtures::{self, FixtureError};
use scalingo_db_fake::{Error, FakeServer};
use serde_json::Value;

// ---------------------------------------------------------------------------
// A fixture file of known layout
// ---------------------------------------------------------------------------
//
// line 1   {
// line 2     "databases": [
// line 3       {
// line 4         "id": "db-a",
// line 5         "database_id": "597601234ffb097af4f3099b",
// line 6         "resource_name": "kibana-3938",
// line 7         "type": "postgresql",
// line 8         "app": "kibana",
// line 9         "tokens": ["db-a-token"],
// line 10        "backups": [
// line 11          {"id": "…", …},        <- backups, one a line, from line 11
// …              ]
//              }
//            ]
//          }

/// The line of the first backup.
const FIRST_BACKUP_LINE: usize = 11;
/// The column of the opening quote of a backup's id value on its line
/// (8 spaces, then `{"id": `).
const BACKUP_ID_COLUMN: usize = 16;

const DONE: &str = r#"{"id": "5b8b36104ffb090be1ac3ce1", "created_at": "2018-09-02T03:00:00.178+02:00", "started_at": "2018-09-02T03:02:00.154+01:00", "size": 17484513608, "status": "done"}"#;
const ERROR: &str = r#"{"id": "5bb95a904ffb096e9a2831b8", "created_at": "2018-10-07T03:00:00.150+02:00", "started_at": "2018-10-07T03:05:00.154+01:00", "size": 0, "status": "error"}"#;

/// The header lines of the layout (lines 1 to 10).
fn head_lines() -> Vec<String> {
    [
        "{",
        r#"  "databases": ["#,
        "    {",
        r#"      "id": "db-a","#,
        r#"      "database_id": "597601234ffb097af4f3099b","#,
        r#"      "resource_name": "kibana-3938","#,
        r#"      "type": "postgresql","#,
        r#"      "app": "kibana","#,
        r#"      "tokens": ["db-a-token"],"#,
        r#"      "backups": ["#,
    ]
    .map(String::from)
    .to_vec()
}

/// A whole file: the header, `backups` one a line, and the closing lines.
fn doc(backups: &[&str]) -> String {
    doc_with_head(head_lines(), backups)
}

fn doc_with_head(mut lines: Vec<String>, backups: &[&str]) -> String {
    assert_eq!(lines.len(), FIRST_BACKUP_LINE - 1);
    for (i, b) in backups.iter().enumerate() {
        let comma = if i + 1 < backups.len() { "," } else { "" };
        lines.push(format!("        {b}{comma}"));
    }
    lines.extend(["      ]", "    }", "  ]", "}"].map(String::from));
    lines.join("\n")
}

fn parse(text: &str) -> Result<fixtures::FixtureSet, FixtureError> {
    fixtures::parse_str(text, Path::new("tests/broken.json"))
}

fn parse_err(text: &str) -> FixtureError {
    match parse(text) {
        Ok(set) => panic!("loaded a bad fixture ({} databases):\n{text}", set.databases.len()),
        Err(e) => e,
    }
}

/// 1-based column of the first `needle` on 1-based `line` of `text`, in
/// characters.
fn column_of(text: &str, line: usize, needle: &str) -> usize {
    let l = text.lines().nth(line - 1).expect("line exists");
    let byte = l
        .find(needle)
        .unwrap_or_else(|| panic!("`{needle}` not on line {line}: {l}"));
    l[..byte].chars().count() + 1
}

/// Asserts the error is at `line`, with a column inside `needle` on that line.
fn assert_within(e: &FixtureError, text: &str, line: usize, needle: &str) {
    assert_eq!(e.line, line, "{e}");
    let start = column_of(text, line, needle);
    let end = start + needle.chars().count() - 1;
    assert!(
        (start..=end).contains(&e.column),
        "column {} is not within `{needle}` (columns {start} to {end}): {e}",
        e.column
    );
}

/// A database object on two lines (its backup on the second), for folder tests.
fn db_object(id: &str, database_id: &str, backup_id: &str) -> String {
    format!(
        r#"{{"id": "{id}", "database_id": "{database_id}", "resource_name": "{id}-res", "type": "mysql", "app": "{id}-app", "tokens": ["{id}-token"],
  "backups": [{{"id": "{backup_id}", "created_at": "2024-02-05T10:00:00.298+01:00", "started_at": "2024-02-05T10:01:38.298+01:00", "size": 27104301, "status": "done", "method": "manual"}}]}}"#
    )
}

/// A file of one database on two lines (its backup on line 2).
fn other_db(id: &str, database_id: &str, backup_id: &str) -> String {
    format!(r#"{{"databases": [{}]}}"#, db_object(id, database_id, backup_id))
}

// ---------------------------------------------------------------------------
// A good file
// ---------------------------------------------------------------------------

#[test]
fn the_layout_used_below_loads_when_nothing_is_wrong() {
    let set = parse(&doc(&[DONE, ERROR])).expect("a good fixture loads");
    assert_eq!(set.databases.len(), 1);
    let db = &set.databases[0];
    assert_eq!(db.id, "db-a");
    assert_eq!(db.backups.len(), 2);
    assert_eq!(db.backups[0].id, "5b8b36104ffb090be1ac3ce1");
}

// ---------------------------------------------------------------------------
// Each kind of broken file, each with its own message and position
// ---------------------------------------------------------------------------

#[test]
fn a_syntax_error_points_at_the_unexpected_character() {
    // No comma after the database_id (line 5): the parser trips on line 6's quote.
    let mut head = head_lines();
    head[4] = head[4].trim_end_matches(',').to_string();
    let text = doc_with_head(head, &[DONE]);
    let e = parse_err(&text);
    assert_eq!(e.path, Path::new("tests/broken.json"));
    assert_eq!((e.line, e.column), (6, 7), "{e}");
    assert!(e.message.contains("expected `,` or `}`"), "{e}");
    assert!(
        !e.message.contains("at line"),
        "the position is not repeated in the message: {e}"
    );
}

#[test]
fn a_truncated_file_is_reported_at_its_end() {
    let full = doc(&[DONE]);
    let text = full.lines().take(FIRST_BACKUP_LINE).collect::<Vec<_>>().join("\n");
    let e = parse_err(&text);
    assert_eq!(e.line, FIRST_BACKUP_LINE, "{e}");
    assert!(e.message.contains("EOF"), "{e}");
}

#[test]
fn an_unknown_field_is_named_at_its_line() {
    let bad = DONE.replace(r#""status": "done""#, r#""status": "done", "colour": "blue""#);
    let text = doc(&[ERROR, &bad]);
    let e = parse_err(&text);
    assert_within(&e, &text, FIRST_BACKUP_LINE + 1, r#""colour""#);
    assert!(e.message.contains("unknown field `colour`"), "{e}");

    // In a database, too.
    let mut head = head_lines();
    head[7] = r#"      "application": "kibana","#.into();
    let text = doc_with_head(head, &[DONE]);
    let e = parse_err(&text);
    assert_within(&e, &text, 8, r#""application""#);
    assert!(e.message.contains("unknown field `application`"), "{e}");
}

#[test]
fn a_wrong_type_is_reported_at_the_value() {
    let bad = DONE.replace("17484513608", r#""big""#);
    let text = doc(&[ERROR, ERROR.replace("5bb95a90", "5bb95a91").as_str(), &bad]);
    let e = parse_err(&text);
    assert_within(&e, &text, FIRST_BACKUP_LINE + 2, r#""big""#);
    assert!(e.message.contains("invalid type"), "{e}");
    assert!(e.message.contains("big"), "{e}");

    let mut head = head_lines();
    head[8] = r#"      "tokens": "db-a-token","#.into();
    let text = doc_with_head(head, &[DONE]);
    let e = parse_err(&text);
    assert_within(&e, &text, 9, r#""db-a-token""#);
    assert!(e.message.contains("invalid type"), "{e}");
}

#[test]
fn a_missing_field_is_named_at_the_end_of_its_object() {
    let mut head = head_lines();
    head[7] = r#"      "plan": "postgresql-starter-512","#.into();
    let text = doc_with_head(head, &[DONE]);
    let e = parse_err(&text);
    // The database object closes on the line after its backups' `]`.
    assert_eq!((e.line, e.column), (FIRST_BACKUP_LINE + 2, 5), "{e}");
    assert!(e.message.contains("missing field `app`"), "{e}");
}

#[test]
fn an_unknown_status_is_reported_at_the_value() {
    let bad = ERROR.replace(r#""error""#, r#""exploded""#);
    let text = doc(&[DONE, &bad]);
    let e = parse_err(&text);
    assert_within(&e, &text, FIRST_BACKUP_LINE + 1, r#""exploded""#);
    assert!(e.message.contains("exploded"), "{e}");
}

#[test]
fn a_bad_timestamp_is_reported_at_the_value() {
    let bad = DONE.replace("2018-09-02T03:00:00.178+02:00", "yesterday");
    let text = doc(&[ERROR, &bad]);
    let e = parse_err(&text);
    assert_within(&e, &text, FIRST_BACKUP_LINE + 1, r#""yesterday""#);
    assert!(e.message.contains("RFC 3339"), "{e}");
}

#[test]
fn a_duplicate_backup_id_points_at_the_second_occurrence() {
    let again = DONE.replace("2018-09-02T03:00:00.178+02:00", "2018-09-03T03:00:00.178+02:00");
    let text = doc(&[DONE, ERROR, &again]);
    let e = parse_err(&text);
    assert_eq!((e.line, e.column), (FIRST_BACKUP_LINE + 2, BACKUP_ID_COLUMN), "{e}");
    assert!(e.message.contains("5b8b36104ffb090be1ac3ce1"), "{e}");
    assert!(e.message.contains("used twice"), "{e}");
}

#[test]
fn a_duplicate_backup_id_in_another_database_of_the_file_points_at_it() {
    let text = format!(
        "{{\"databases\": [\n{},\n{}\n]}}",
        db_object("db-a", "597601234ffb097af4f3099b", "65c0a3904ffb09ebb2737f6a"),
        db_object("db-b", "60a3c5e14ffb0912c7d8e4f1", "65c0a3904ffb09ebb2737f6a"),
    );
    let e = parse_err(&text);
    // Each database takes two lines; db-b's backups are on line 5.
    assert_eq!(e.line, 5, "{e}\n{text}");
    assert_eq!(e.column, column_of(&text, 5, "\"65c0a3904ffb09ebb2737f6a\""), "{e}");
    assert!(e.message.contains("used twice"), "{e}");
}

#[test]
fn a_done_backup_without_size_is_refused_at_its_id() {
    let bad = DONE.replace(r#""size": 17484513608, "#, "");
    let text = doc(&[ERROR, &bad]);
    let e = parse_err(&text);
    assert_eq!((e.line, e.column), (FIRST_BACKUP_LINE + 1, BACKUP_ID_COLUMN), "{e}");
    assert!(e.message.contains("5b8b36104ffb090be1ac3ce1"), "{e}");
    assert!(e.message.contains("done backup needs its size"), "{e}");
}

#[test]
fn a_done_backup_too_small_for_an_archive_is_refused_at_its_id() {
    let bad = DONE.replace("17484513608", "1");
    let text = doc(&[ERROR, &bad]);
    let e = parse_err(&text);
    assert_eq!((e.line, e.column), (FIRST_BACKUP_LINE + 1, BACKUP_ID_COLUMN), "{e}");
    assert!(e.message.contains("too small"), "{e}");
}

#[test]
fn the_smallest_valid_archive_size_is_accepted_and_one_less_is_not() {
    let min = scalingo_db_fake::__internals::min_archive_size(
        "postgresql",
        "db-a",
        "5b8b36104ffb090be1ac3ce1",
        "20180902010000_kibana-3938",
    );
    assert!(min > 1);
    let at = DONE.replace("17484513608", &min.to_string());
    parse(&doc(&[&at])).expect("the minimum size is valid");
    let under = DONE.replace("17484513608", &(min - 1).to_string());
    let e = parse_err(&doc(&[&under]));
    assert!(e.message.contains(&format!("at least {min}")), "{e}");
}

#[test]
fn a_bad_backup_id_is_refused_at_it() {
    for id in [
        "5B8B36104FFB090BE1AC3CE1",
        "5b8b36104ffb090be1ac3ce",
        "not-an-id",
        "5b8b36104ffb090be1ac3ceg",
    ] {
        let bad = DONE.replace("5b8b36104ffb090be1ac3ce1", id);
        let text = doc(&[ERROR, &bad]);
        let e = parse_err(&text);
        assert_eq!(
            (e.line, e.column),
            (FIRST_BACKUP_LINE + 1, BACKUP_ID_COLUMN),
            "{id}: {e}"
        );
        assert!(e.message.contains("24 lowercase hex"), "{id}: {e}");
        assert!(e.message.contains(id), "{id}: {e}");
    }
}

#[test]
fn a_backup_of_another_database_id_is_refused_at_its_id() {
    let bad = ERROR.replace(
        r#""size": 0"#,
        r#""size": 0, "database_id": "000000000000000000000000""#,
    );
    let text = doc(&[DONE, &bad]);
    let e = parse_err(&text);
    assert_eq!((e.line, e.column), (FIRST_BACKUP_LINE + 1, BACKUP_ID_COLUMN), "{e}");
    assert!(e.message.contains("000000000000000000000000"), "{e}");
    assert!(e.message.contains("597601234ffb097af4f3099b"), "{e}");
    // The database's own id is accepted.
    let good = ERROR.replace(
        r#""size": 0"#,
        r#""size": 0, "database_id": "597601234ffb097af4f3099b""#,
    );
    parse(&doc(&[DONE, &good])).expect("the database's own id");
}

#[test]
fn a_backup_of_another_type_is_refused_at_its_id() {
    let bad = ERROR.replace(r#""size": 0"#, r#""size": 0, "type": "mysql""#);
    let text = doc(&[DONE, &bad]);
    let e = parse_err(&text);
    assert_eq!((e.line, e.column), (FIRST_BACKUP_LINE + 1, BACKUP_ID_COLUMN), "{e}");
    assert!(e.message.contains("mysql"), "{e}");
}

#[test]
fn a_bad_database_is_refused_at_its_id() {
    let mut head = head_lines();
    head[4] = r#"      "database_id": "xyz","#.into();
    let text = doc_with_head(head, &[DONE]);
    let e = parse_err(&text);
    assert_eq!((e.line, e.column), (4, 13), "{e}");
    assert!(e.message.contains("database `db-a`"), "{e}");
    assert!(e.message.contains("xyz"), "{e}");
}

#[test]
fn a_column_counts_characters_not_bytes() {
    // A rule error after non-ASCII text on the same line.
    let bad = r#"{"name": "sauvegarde-été", "id": "5B8B36104FFB090BE1AC3CE1", "created_at": "2018-09-02T03:00:00.178+02:00", "status": "error", "size": 0}"#;
    let text = doc(&[bad]);
    let e = parse_err(&text);
    let expected = column_of(&text, FIRST_BACKUP_LINE, "\"5B8B");
    assert_eq!((e.line, e.column), (FIRST_BACKUP_LINE, expected), "{e}");
}

#[test]
fn a_column_counts_characters_not_bytes_in_syntax_errors_too() {
    let bad = r#"{"name": "sauvegarde-été", "id": "5bb95a904ffb096e9a2831b8", "created_at": "2018-10-07T03:00:00.150+02:00", "status": "error", "size": "zero"}"#;
    let text = doc(&[bad]);
    let e = parse_err(&text);
    assert_within(&e, &text, FIRST_BACKUP_LINE, r#""zero""#);
}

#[test]
fn the_display_of_an_error_starts_with_path_line_and_column() {
    let bad = DONE.replace(r#""size": 17484513608, "#, "");
    let e = parse_err(&doc(&[ERROR, &bad]));
    let shown = e.to_string();
    let prefix = format!("tests/broken.json:{}:{}: ", FIRST_BACKUP_LINE + 1, BACKUP_ID_COLUMN);
    assert!(shown.starts_with(&prefix), "{shown}");
    assert!(shown.ends_with(&e.message), "{shown}");

    let mut head = head_lines();
    head[4] = head[4].trim_end_matches(',').to_string();
    let shown = parse_err(&doc_with_head(head, &[DONE])).to_string();
    assert!(shown.starts_with("tests/broken.json:6:7: "), "{shown}");
}

#[test]
fn each_kind_of_error_has_its_own_message() {
    let mut no_comma = head_lines();
    no_comma[4] = no_comma[4].trim_end_matches(',').to_string();
    let cases = [
        doc_with_head(no_comma, &[DONE]),
        doc(&[&DONE.replace(r#""status""#, r#""colour": 1, "status""#)]),
        doc(&[&DONE.replace("17484513608", "-3")]),
        doc(&[DONE, DONE]),
        doc(&[&DONE.replace(r#""size": 17484513608, "#, "")]),
        doc(&[&DONE.replace("17484513608", "1")]),
        doc(&[&DONE.replace("5b8b36104ffb090be1ac3ce1", "nope")]),
        doc(&[&DONE.replace(r#""status""#, r#""database_id": "000000000000000000000000", "status""#)]),
    ];
    let messages: Vec<String> = cases.iter().map(|t| parse_err(t).message).collect();
    for (i, m) in messages.iter().enumerate() {
        assert!(!m.trim().is_empty(), "case {i}: empty message");
        for (j, other) in messages.iter().enumerate().skip(i + 1) {
            assert_ne!(m, other, "cases {i} and {j} say the same thing");
        }
    }
}

// ---------------------------------------------------------------------------
// Files and folders
// ---------------------------------------------------------------------------

#[test]
fn a_file_loads_from_disk_with_its_path_in_errors() {
    let dir = TempDir::new("file");
    let good = dir.write("good.json", doc(&[DONE, ERROR]));
    let set = fixtures::load_path(&good).expect("a good file");
    assert_eq!(set.databases.len(), 1);
    let bad = dir.write("bad.json", doc(&[DONE, DONE]));
    let e = fixtures::load_path(&bad).expect_err("a duplicate id");
    assert_eq!(e.path, bad);
    assert_eq!((e.line, e.column), (FIRST_BACKUP_LINE + 1, BACKUP_ID_COLUMN), "{e}");
    assert!(
        e.to_string()
            .starts_with(&format!("{}:{}:{}: ", bad.display(), e.line, e.column)),
        "{e}"
    );
}

#[test]
fn a_missing_path_is_refused_with_the_path() {
    let dir = TempDir::new("missing");
    let missing = dir.path().join("nope.json");
    let e = fixtures::load_path(&missing).expect_err("no such file");
    assert_eq!(e.path, missing);
    assert!(e.to_string().starts_with(&missing.display().to_string()), "{e}");
    assert!(e.message.contains("cannot read"), "{e}");
}

#[test]
fn a_folder_of_two_files_loads_both_in_name_order() {
    let dir = TempDir::new("folder");
    dir.write(
        "b.json",
        other_db("db-b", "60a3c5e14ffb0912c7d8e4f1", "65c0a3904ffb09ebb2737f6a"),
    );
    dir.write("a.json", doc(&[DONE, ERROR]));
    dir.write("notes.txt", "not a fixture, not JSON");
    let set = fixtures::load_path(dir.path()).expect("a folder of good files");
    let ids: Vec<_> = set.databases.iter().map(|d| d.id.as_str()).collect();
    assert_eq!(ids, ["db-a", "db-b"]);
}

#[tokio::test]
async fn a_server_started_on_a_folder_serves_every_file() {
    let dir = TempDir::new("serve-folder");
    dir.write("a.json", doc(&[DONE, ERROR]));
    dir.write(
        "b.json",
        other_db("db-b", "60a3c5e14ffb0912c7d8e4f1", "65c0a3904ffb09ebb2737f6a"),
    );
    let fake = FakeServer::builder()
        .fixtures_path(dir.path())
        .manual_clock()
        .try_start()
        .await
        .expect("a folder of good files");
    let mut dbs = fake.databases();
    dbs.sort();
    assert_eq!(dbs, ["db-a", "db-b"]);
    for (db, token, n) in [("db-a", "db-a-token", 2), ("db-b", "db-b-token", 1)] {
        let r = common::get(&format!("{}/api/databases/{db}/backups", fake.url()), token).await;
        assert_eq!(r.status, 200, "{db}: {}", r.text());
        assert_eq!(r.json()["database_backups"].as_array().map(Vec::len), Some(n), "{db}");
    }
    // The embedded set is not mixed in.
    let r = common::get(&format!("{}/api/databases/my-db-123", fake.url()), fake.token()).await;
    assert_eq!(r.status, 404, "{}", r.text());
}

#[test]
fn a_folder_with_one_bad_file_fails_naming_that_file() {
    let dir = TempDir::new("bad-folder");
    dir.write("a.json", doc(&[DONE]));
    let bad = dir.write("b.json", "{\"databases\": [\n  {\"id\": 3}\n]}");
    let e = fixtures::load_path(dir.path()).expect_err("b.json is bad");
    assert_eq!(e.path, bad);
    assert_eq!(e.line, 2, "{e}");
    assert!(e.to_string().starts_with(&format!("{}:2:", bad.display())), "{e}");
}

#[test]
fn a_duplicate_across_files_is_reported_in_the_second_file() {
    let dir = TempDir::new("dup-folder");
    dir.write("a.json", doc(&[DONE]));
    let second = other_db("db-b", "60a3c5e14ffb0912c7d8e4f1", "5b8b36104ffb090be1ac3ce1");
    let b = dir.write("b.json", &second);
    let e = fixtures::load_path(dir.path()).expect_err("the backup id is in both files");
    assert_eq!(e.path, b);
    assert_eq!(e.line, 2, "{e}");
    assert_eq!(e.column, column_of(&second, 2, "\"5b8b36104ffb090be1ac3ce1\""), "{e}");
    assert!(e.message.contains("used twice"), "{e}");

    // The same database twice.
    let dir = TempDir::new("dup-db-folder");
    dir.write("a.json", doc(&[DONE]));
    let b = dir.write(
        "b.json",
        other_db("db-a", "60a3c5e14ffb0912c7d8e4f1", "65c0a3904ffb09ebb2737f6a"),
    );
    let e = fixtures::load_path(dir.path()).expect_err("db-a is in both files");
    assert_eq!(e.path, b);
    assert_eq!(e.line, 1, "{e}");
}

#[test]
fn an_empty_folder_is_refused() {
    let dir = TempDir::new("empty");
    let e = fixtures::load_path(dir.path()).expect_err("no fixture in it");
    assert_eq!(e.path, dir.path());
    assert!(e.message.contains("no *.json"), "{e}");
}

#[tokio::test]
async fn try_start_on_a_bad_file_returns_the_error_and_serves_nothing() {
    let dir = TempDir::new("try-start");
    let bad = dir.write("bad.json", doc(&[ERROR, &DONE.replace("17484513608", "1")]));
    let err = FakeServer::builder()
        .fixtures_path(&bad)
        .try_start()
        .await
        .expect_err("a bad fixture must not start");
    match &err {
        Error::Fixture(e) => {
            assert_eq!(e.path, bad);
            assert_eq!((e.line, e.column), (FIRST_BACKUP_LINE + 1, BACKUP_ID_COLUMN), "{e}");
        }
        other => panic!("not a fixture error: {other:?}"),
    }
    let shown = err.to_string();
    assert!(
        shown.contains(&format!(
            "{}:{}:{}:",
            bad.display(),
            FIRST_BACKUP_LINE + 1,
            BACKUP_ID_COLUMN
        )),
        "{shown}"
    );

    // A folder with one bad file does not start either, nor does a blocking start.
    dir.write(
        "good.json",
        other_db("db-b", "60a3c5e14ffb0912c7d8e4f1", "65c0a3904ffb09ebb2737f6a"),
    );
    let err = FakeServer::builder()
        .fixtures_path(dir.path())
        .try_start_blocking()
        .expect_err("the folder holds a bad file");
    assert!(matches!(&err, Error::Fixture(e) if e.path == bad), "{err:?}");
}

#[tokio::test]
async fn fixtures_given_as_text_are_checked_like_a_file() {
    let err = FakeServer::builder()
        .fixtures_json(&doc(&[DONE, DONE]))
        .try_start()
        .await
        .expect_err("a duplicate id");
    let shown = err.to_string();
    assert!(
        shown.contains(&format!("{}:{}:", FIRST_BACKUP_LINE + 1, BACKUP_ID_COLUMN)),
        "{shown}"
    );
    let fake = FakeServer::builder()
        .fixtures_json(&doc(&[DONE]))
        .try_start()
        .await
        .expect("a good fixture text");
    assert_eq!(fake.databases(), ["db-a"]);
}

// ---------------------------------------------------------------------------
// The embedded set
// ---------------------------------------------------------------------------

#[test]
fn the_embedded_set_holds_the_seed_database_and_others() {
    let set = scalingo_db_fake::__internals::load_embedded().expect("the embedded set is valid");
    let db = set
        .databases
        .iter()
        .find(|d| d.id == "my-db-123")
        .expect("my-db-123 is embedded");
    assert_eq!(db.database_id, "597601234ffb097af4f3099b");
    assert_eq!(db.resource_name, "kibana-3938");
    assert_eq!(db.db_type, "postgresql");
    let ids: Vec<_> = db.backups.iter().map(|b| b.id.as_str()).collect();
    for seed in [
        "5bde44904ffb096c714be89c",
        "5bb95a904ffb096e9a2831b8",
        "5b8b36104ffb090be1ac3ce1",
    ] {
        assert!(ids.contains(&seed), "{seed} missing: {ids:?}");
    }
    let others: Vec<_> = set.databases.iter().filter(|d| d.id != "my-db-123").collect();
    assert!(others.len() >= 2, "{} other databases", others.len());
    for d in others {
        assert!(scalingo_db_fake::__internals::is_object_id(&d.database_id), "{}", d.id);
        assert!(!d.backups.is_empty(), "{} has no backup", d.id);
    }
}

#[tokio::test]
async fn a_server_with_no_fixture_option_serves_the_embedded_set() {
    let fake = FakeServer::builder()
        .manual_clock()
        .try_start()
        .await
        .expect("embedded");
    let info = fake.database("my-db-123").expect("my-db-123");
    assert_eq!(info.id, "597601234ffb097af4f3099b");
    assert_eq!(info.resource_id, "kibana-3938");
    assert_eq!(info.type_name, "postgresql");
    assert!(fake.databases().len() >= 3);
}

// ---------------------------------------------------------------------------
// Backups that move on the clock
// ---------------------------------------------------------------------------

/// The backups of `db-a`, listed with its own token.
async fn listed(fake: &FakeServer) -> Vec<Value> {
    Api::at(&fake.url(), "db-a-token").list_backups("db-a").await
}

#[tokio::test]
async fn a_fixture_with_progress_moves_on_the_clock() {
    let dir = TempDir::new("progress");
    let file = dir.write(
        "progress.json",
        doc(&[
            r#"{"id": "6592010000000000000000a1", "created_at": "2024-01-01T01:00:00.000+01:00", "progress": {"outcome": "done", "size": 5000000}}"#,
            r#"{"id": "6592010000000000000000a2", "created_at": "2023-12-31T23:59:59.000+00:00", "progress": {"outcome": "error"}}"#,
            r#"{"id": "6592010000000000000000a3", "created_at": "2023-12-31T23:59:58.000+00:00", "progress": {"outcome": "done"}}"#,
        ]),
    );
    let fake = FakeServer::builder()
        .fixtures_path(&file)
        .manual_clock()
        .clock_start_millis(JAN_1_2024)
        .try_start()
        .await
        .expect("progress fixtures load");

    // At the start, the newest has just been created.
    let b = listed(&fake).await;
    assert_eq!(b[0]["id"], "6592010000000000000000a1");
    assert_eq!(b[0]["created_at"], "2024-01-01T01:00:00.000+01:00", "kept as written");
    assert_eq!(b[0]["status"], "scheduled");
    assert_eq!(b[0]["started_at"], Value::Null);
    assert_eq!(b[0]["size"], Value::Null);
    assert_eq!(b[0]["method"], "periodic", "the fixture default");

    // Default phases: 2 s scheduled, 5 s running.
    fake.advance(Duration::from_secs(3));
    let b = listed(&fake).await;
    assert_eq!(b[0]["status"], "running");
    assert_eq!(b[0]["started_at"], "2024-01-01T01:00:02.000+01:00");
    assert_eq!(b[0]["size"], 0);
    assert_eq!(b[1]["status"], "running");

    fake.advance(Duration::from_secs(10));
    let b = listed(&fake).await;
    assert_eq!(b[0]["status"], "done");
    assert_eq!(b[0]["size"], 5_000_000);
    assert_eq!(b[0]["started_at"], "2024-01-01T01:00:02.000+01:00");
    assert_eq!(b[1]["status"], "error");
    assert_eq!(b[1]["size"], 0);
    assert_eq!(b[2]["status"], "done");
    assert_eq!(
        b[2]["size"],
        fake.lifecycle().size_min,
        "no size: the lifecycle's smallest"
    );
}

#[test]
fn a_progress_backup_cannot_also_state_its_status() {
    let bad = r#"{"id": "6592010000000000000000a1", "created_at": "2024-01-01T00:00:00.000+00:00", "status": "done", "size": 5000000, "started_at": "2024-01-01T00:00:02.000+00:00", "progress": {"outcome": "done"}}"#;
    let text = doc(&[bad]);
    let e = parse_err(&text);
    assert_eq!((e.line, e.column), (FIRST_BACKUP_LINE, BACKUP_ID_COLUMN), "{e}");
    assert!(e.message.contains("progress"), "{e}");
}

#[test]
fn a_backup_with_neither_status_nor_progress_is_refused() {
    let bad = r#"{"id": "6592010000000000000000a1", "created_at": "2024-01-01T00:00:00.000+00:00"}"#;
    let e = parse_err(&doc(&[DONE, bad]));
    assert_eq!((e.line, e.column), (FIRST_BACKUP_LINE + 1, BACKUP_ID_COLUMN), "{e}");
    assert!(e.message.contains("status"), "{e}");
}

// ---------------------------------------------------------------------------
// Real archive files
// ---------------------------------------------------------------------------

fn archive_backup(size: Option<u64>) -> String {
    let size = size.map(|s| format!(r#", "size": {s}"#)).unwrap_or_default();
    format!(
        r#"{{"id": "5b8b36104ffb090be1ac3ce1", "created_at": "2018-09-02T03:00:00.178+02:00", "started_at": "2018-09-02T03:02:00.154+01:00", "status": "done", "archive_file": "dump.tar.gz"{size}}}"#
    )
}

/// A small real `.tar.gz`.
fn small_archive() -> Vec<u8> {
    let mut tar = tar::Builder::new(flate2::write::GzEncoder::new(
        Vec::new(),
        flate2::Compression::default(),
    ));
    let data = b"-- a real dump\nSELECT 1;\n";
    let mut header = tar::Header::new_gnu();
    header.set_size(data.len() as u64);
    header.set_mode(0o644);
    header.set_cksum();
    tar.append_data(&mut header, "dump.pgsql", &data[..])
        .expect("tar entry");
    tar.into_inner().expect("tar").finish().expect("gzip")
}

#[tokio::test]
async fn an_archive_file_gives_its_size_and_is_served() {
    let dir = TempDir::new("archive");
    let bytes = small_archive();
    let archive = dir.write("dump.tar.gz", &bytes);
    let file = dir.write("fixture.json", doc(&[&archive_backup(None), ERROR]));
    let set = fixtures::load_path(&file).expect("an archive_file fixture");
    let b = &set.databases[0].backups[0];
    assert_eq!(b.size, Some(bytes.len() as u64), "size taken from the file");
    assert_eq!(
        std::fs::canonicalize(b.archive_file.as_ref().expect("kept")).unwrap(),
        std::fs::canonicalize(&archive).unwrap(),
        "relative to the fixture file"
    );
    // Stating the right size is fine too.
    let file2 = dir.write("fixture2.json", doc(&[&archive_backup(Some(bytes.len() as u64))]));
    fixtures::load_path(&file2).expect("the file's own size");

    let fake = FakeServer::builder()
        .fixtures_path(&file)
        .manual_clock()
        .try_start()
        .await
        .expect("serves");
    let b = &listed(&fake).await[1];
    assert_eq!(b["id"], "5b8b36104ffb090be1ac3ce1");
    assert_eq!(b["size"], bytes.len() as u64);
    let link = Api::at(&fake.url(), "db-a-token")
        .download_url("db-a", "5b8b36104ffb090be1ac3ce1")
        .await;
    let d = common::send(hyper::Method::GET, &link, &[], None).await;
    assert_eq!(d.status, 200, "{}", d.text());
    assert_eq!(d.body.as_ref(), bytes.as_slice(), "the file's bytes");
}

#[test]
fn an_archive_file_whose_size_disagrees_is_refused() {
    let dir = TempDir::new("archive-size");
    let bytes = small_archive();
    dir.write("dump.tar.gz", &bytes);
    let wrong = bytes.len() as u64 + 1;
    let file = dir.write("fixture.json", doc(&[ERROR, &archive_backup(Some(wrong))]));
    let e = fixtures::load_path(&file).expect_err("the size is not the file's");
    assert_eq!(e.path, file);
    assert_eq!((e.line, e.column), (FIRST_BACKUP_LINE + 1, BACKUP_ID_COLUMN), "{e}");
    assert!(e.message.contains(&wrong.to_string()), "{e}");
    assert!(e.message.contains(&format!("{} bytes", bytes.len())), "{e}");
}

#[test]
fn a_missing_archive_file_is_refused_naming_it() {
    let dir = TempDir::new("archive-missing");
    let file = dir.write("fixture.json", doc(&[&archive_backup(None)]));
    let e = fixtures::load_path(&file).expect_err("no dump.tar.gz");
    assert_eq!((e.line, e.column), (FIRST_BACKUP_LINE, BACKUP_ID_COLUMN), "{e}");
    assert!(e.message.contains("dump.tar.gz"), "{e}");
}

#[test]
fn text_fixtures_find_archive_files_next_to_the_given_path() {
    // parse_str resolves archive_file relative to the path it is given.
    let dir = TempDir::new("archive-text");
    let bytes = small_archive();
    dir.write("dump.tar.gz", &bytes);
    let set = fixtures::parse_str(&doc(&[&archive_backup(None)]), &dir.path().join("virtual.json"))
        .expect("relative to the given path's folder");
    assert_eq!(set.databases[0].backups[0].size, Some(bytes.len() as u64));
}

#[tokio::test]
async fn a_progress_backup_with_an_archive_file_ends_done_with_the_files_size() {
    let dir = TempDir::new("archive-progress");
    let bytes = small_archive();
    dir.write("dump.tar.gz", &bytes);
    let file = dir.write(
        "fixture.json",
        doc(&[
            r#"{"id": "6592010000000000000000a1", "created_at": "2024-01-01T00:00:00.000+00:00", "archive_file": "dump.tar.gz", "progress": {"outcome": "done"}}"#,
        ]),
    );
    let fake = FakeServer::builder()
        .fixtures_path(&file)
        .manual_clock()
        .clock_start_millis(JAN_1_2024)
        .try_start()
        .await
        .expect("serves");
    fake.advance(Duration::from_secs(60));
    let b = &listed(&fake).await[0];
    assert_eq!(b["status"], "done");
    assert_eq!(
        b["size"],
        bytes.len() as u64,
        "the size is the bytes the download serves: {b}"
    );
}

#[test]
fn a_progress_size_that_disagrees_with_the_archive_file_is_refused() {
    let dir = TempDir::new("archive-progress-size");
    let bytes = small_archive();
    dir.write("dump.tar.gz", &bytes);
    let file = dir.write(
        "fixture.json",
        doc(&[
            r#"{"id": "6592010000000000000000a1", "created_at": "2024-01-01T00:00:00.000+00:00", "archive_file": "dump.tar.gz", "progress": {"outcome": "done", "size": 50000}}"#,
        ]),
    );
    let e = fixtures::load_path(&file).expect_err("50000 is not the file's length");
    assert_eq!((e.line, e.column), (FIRST_BACKUP_LINE, BACKUP_ID_COLUMN), "{e}");
}

#[test]
fn a_rule_error_points_at_the_id_field_even_when_its_text_appears_earlier() {
    // The addon id is also the resource name, written before `id`.
    let text = "{\"databases\": [\n  {\"resource_name\": \"kibana\", \"app\": \"kibana\",\n   \"id\": \"kibana\", \"database_id\": \"xyz\", \"type\": \"postgresql\"}\n]}";
    let e = parse_err(text);
    assert_eq!((e.line, e.column), (3, column_of(text, 3, "\"kibana\"")), "{e}");
}

// ---------------------------------------------------------------------------
// Timestamps Go's time.Time accepts
// ---------------------------------------------------------------------------

/// RFC 3339 (or chrono) allows these, Go's `time.Time` refuses them: each
/// would make every Go client fail to decode the whole list. With the word
/// its message must hold.
const GO_REFUSES: [(&str, &str); 4] = [
    ("2018-09-02T01:00:00.398z", "uppercase `Z`"),
    ("2018-09-02t03:00:00.178+02:00", "uppercase"),
    ("2018-09-02 03:00:00.178+02:00", "not a space"),
    ("2018-09-02T03:00:60.178+02:00", "leap second"),
];

#[test]
fn a_timestamp_go_refuses_is_refused_at_load_at_the_value() {
    for (bad, why) in GO_REFUSES {
        let backup = DONE.replace("2018-09-02T03:00:00.178+02:00", bad);
        let text = doc(&[ERROR, &backup]);
        let e = parse_err(&text);
        assert_within(&e, &text, FIRST_BACKUP_LINE + 1, &format!("\"{bad}\""));
        assert!(e.message.contains(why), "{bad}: {e}");
        assert!(e.message.contains("RFC 3339") && e.message.contains(bad), "{bad}: {e}");
        let shown = e.to_string();
        assert!(
            shown.starts_with(&format!("tests/broken.json:{}:{}: ", e.line, e.column)),
            "{shown}"
        );
    }
}

#[test]
fn a_timestamp_go_refuses_is_refused_in_a_started_at_and_a_database_created_at_too() {
    let (bad, why) = GO_REFUSES[0];
    let backup = DONE.replace("2018-09-02T03:02:00.154+01:00", bad);
    let text = doc(&[&backup]);
    let e = parse_err(&text);
    assert_within(&e, &text, FIRST_BACKUP_LINE, &format!("\"{bad}\""));
    assert!(e.message.contains(why), "{e}");

    let mut head = head_lines();
    head[8] = format!(r#"      "created_at": "{bad}", "tokens": ["db-a-token"],"#);
    let text = doc_with_head(head, &[DONE]);
    let e = parse_err(&text);
    assert_within(&e, &text, 9, &format!("\"{bad}\""));
    assert!(e.message.contains(why), "{e}");
}

#[test]
fn valid_timestamps_of_every_shape_still_load_and_come_back_as_written() {
    for good in [
        "2018-09-02T03:00:00Z",
        "2018-09-02T01:00:00.178Z",
        "2018-09-02T03:00:00.178123456789+02:00",
        "2018-09-02T03:00:00.1-05:30",
    ] {
        let text = doc(&[&DONE.replace("2018-09-02T03:00:00.178+02:00", good)]);
        let set = parse(&text).unwrap_or_else(|e| panic!("{good}: {e}"));
        assert_eq!(set.databases[0].backups[0].created_at.to_string(), good);
    }
}

#[tokio::test]
async fn the_clock_refuses_a_timestamp_go_refuses_with_422() {
    let fake = FakeServer::builder()
        .manual_clock()
        .clock_start_millis(JAN_1_2024)
        .start()
        .await;
    let clock = format!("{}/_fake/clock", fake.url());
    for (bad, why) in GO_REFUSES {
        // The same instants in 2030, after the clock: only the form is wrong.
        let bad = bad.replacen("2018", "2030", 1);
        let r = common::post(&clock, fake.token(), &serde_json::json!({ "set": bad }).to_string()).await;
        assert_eq!(r.status, 422, "{bad}: {}", r.text());
        let messages = r.json()["errors"]["set"].clone();
        assert!(messages.to_string().contains(why), "{bad}: {}", r.text());
        assert_eq!(fake.now().millis(), JAN_1_2024, "{bad}: the clock did not move");
    }
    let r = common::post(&clock, fake.token(), r#"{"set": "2030-09-02T01:00:00.398Z"}"#).await;
    assert_eq!(r.status, 200, "the same instant written as Go writes it: {}", r.text());
}

// ---------------------------------------------------------------------------
// The database object's fields
// ---------------------------------------------------------------------------

/// The layout with `line` (a database field, with its comma) in place of
/// line 9 (`tokens`): the rule errors below point at line 4, the id.
fn with_database_field(line: &str) -> String {
    let mut head = head_lines();
    head[8] = format!("      {line}");
    doc_with_head(head, &[DONE])
}

/// The column of the database id's value on line 4.
const DATABASE_ID_COLUMN: usize = 13;

#[test]
fn a_maintenance_window_out_of_range_is_refused_at_the_database_id() {
    for (window, field) in [
        (r#"{"weekday_utc": 7}"#, "weekday_utc"),
        (r#"{"weekday_utc": 1, "starting_hour_utc": 24}"#, "starting_hour_utc"),
        (r#"{"duration_in_hour": 0}"#, "duration_in_hour"),
    ] {
        let text = with_database_field(&format!(r#""maintenance_window": {window},"#));
        let e = parse_err(&text);
        assert_eq!((e.line, e.column), (4, DATABASE_ID_COLUMN), "{window}: {e}");
        assert!(e.message.contains(&format!("maintenance_window.{field}")), "{e}");
    }
    let ok = with_database_field(
        r#""maintenance_window": {"weekday_utc": 0, "starting_hour_utc": 23, "duration_in_hour": 4},"#,
    );
    parse(&ok).expect("a window in range");
}

#[test]
fn a_bad_instance_or_feature_is_refused_at_load_with_its_position() {
    // Rules: at the database's id.
    for (field, says) in [
        (r#""instances": [{"private_ip": "10.0.0"}],"#, "instances[0].private_ip"),
        (r#""instances": [{}, {"port": 0}],"#, "instances[1].port"),
        (r#""instances": [],"#, "at least one instance"),
        (r#""hostname": "a host","#, "hostname"),
        (r#""features": [{"name": "x"}, {"name": "x"}],"#, "twice"),
    ] {
        let text = with_database_field(field);
        let e = parse_err(&text);
        assert_eq!((e.line, e.column), (4, DATABASE_ID_COLUMN), "{field}: {e}");
        assert!(e.message.contains(says), "{field}: {e}");
    }
    // Unknown words: at the value.
    for (field, value) in [
        (r#""status": "exploded","#, r#""exploded""#),
        (r#""features": [{"name": "force-ssl", "status": "ON"}],"#, r#""ON""#),
        (r#""instances": [{"type": "db_node"}],"#, r#""db_node""#),
        (r#""instances": [{"colour": "blue"}],"#, r#""colour""#),
    ] {
        let text = with_database_field(field);
        let e = parse_err(&text);
        assert_within(&e, &text, 9, value);
    }
}
