//! The database API, black-box over a real loopback socket: every route,
//! every error shape, authentication, and the in-process handle's start and
//! stop. Each test is one behaviour, named after it.
mod common;

use std::time::Duration;

use common::fake::Api;
use common::{raw_request, Framing, Resp};
use hyper::Method;
use scalingo_db_fake::FakeServer;
use serde::de::{IgnoredAny, MapAccess, Visitor};
use serde::Deserialize;
use serde_json::Value;

/// The seed's database, by addon id and by internal id.
const DB: &str = "my-db-123";
const DB_ID: &str = "597601234ffb097af4f3099b";
/// The other embedded databases, with their static tokens.
const SHOP: &str = "ad-7c1e5d0a-3b9f-4e2a-8d6c-51f0a2b4c9e3";
const BLOG: &str = "ad-0b8d2e6f-91a4-4c57-b3e8-6f2d7a9c1e05";
const DB_TOKEN: &str = "my-db-123-token";
const SHOP_TOKEN: &str = "shop-mongo-token";
const BLOG_TOKEN: &str = "blog-mysql-token";
/// The seed's backups of `my-db-123`.
const SEED_PENDING: &str = "5bde44904ffb096c714be89c";
const SEED_ERROR: &str = "5bb95a904ffb096e9a2831b8";
const SEED_DONE: &str = "5b8b36104ffb090be1ac3ce1";
/// A backup of the shop database (not of `my-db-123`).
const SHOP_BACKUP: &str = "65ac88b04ffb09e53a13043b";
/// 2024-03-05T06:07:08.009Z, where the manual clocks of these tests start.
const T0: i64 = 1_709_618_828_009;

/// The seed document's list response, exactly as the document writes it.
const SEED_LIST: &str = r#"{
"database_backups": [
{
"id": "5bde44904ffb096c714be89c",
"created_at": "2018-11-04T02:00:00.154+01:00",
"started_at": "2018-11-04T02:01:00.154+01:00",
"name": "20181104010000_kibana-3938",
"size": 0,
"status": "pending",
"database_id": "597601234ffb097af4f3099b",
"method": "periodic"
},
{
"id": "5bb95a904ffb096e9a2831b8",
"created_at": "2018-10-07T03:00:00.150+02:00",
"started_at": "2018-10-07T03:05:00.154+01:00",
"name": "20181007010000_kibana-3938",
"size": 0,
"status": "error",
"database_id": "597601234ffb097af4f3099b",
"method": "manual"
},
{
"id": "5b8b36104ffb090be1ac3ce1",
"created_at": "2018-09-02T03:00:00.178+02:00",
"started_at": "2018-09-02T03:02:00.154+01:00",
"name": "20180902010000_kibana-3938",
"size": 17484513608,
"status": "done",
"database_id": "597601234ffb097af4f3099b",
"method": "periodic"
}
]
}"#;

/// The fields of a backup, in the order Scalingo's API gives them (the
/// README lists them in this order too).
const BACKUP_FIELDS: [&str; 9] = [
    "id",
    "created_at",
    "started_at",
    "name",
    "size",
    "status",
    "database_id",
    "method",
    "type",
];

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

/// A fake on a manual clock at [`T0`], with a fixed seed.
async fn fake() -> FakeServer {
    common::fake::manual(T0, 1).start().await
}

fn url(fake: &FakeServer, path: &str) -> String {
    format!("{}{path}", fake.url())
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

/// JSON text without the whitespace between tokens (the seed document is
/// pretty-printed, the fake answers compactly).
fn minify(pretty: &str) -> String {
    let mut out = String::with_capacity(pretty.len());
    let (mut in_string, mut escaped) = (false, false);
    for c in pretty.chars() {
        if in_string {
            out.push(c);
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
        } else if c == '"' {
            in_string = true;
            out.push(c);
        } else if !c.is_whitespace() {
            out.push(c);
        }
    }
    out
}

/// The keys of a JSON object in the order its text gives them.
struct Keys(Vec<String>);

impl<'de> Deserialize<'de> for Keys {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Keys;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Keys, A::Error> {
                let mut keys = Vec::new();
                while let Some(k) = map.next_key::<String>()? {
                    map.next_value::<IgnoredAny>()?;
                    keys.push(k);
                }
                Ok(Keys(keys))
            }
        }
        d.deserialize_map(V)
    }
}

/// The key order of every backup of a list body's text.
fn list_key_orders(body: &str) -> Vec<Vec<String>> {
    #[derive(Deserialize)]
    struct List {
        database_backups: Vec<Keys>,
    }
    let list: List = serde_json::from_str(body).unwrap_or_else(|e| panic!("not a backup list ({e}): {body}"));
    list.database_backups.into_iter().map(|k| k.0).collect()
}

/// The key order of the backup of a `{"database_backup": …}` body's text.
fn one_key_order(body: &str) -> Vec<String> {
    #[derive(Deserialize)]
    struct One {
        database_backup: Keys,
    }
    let one: One = serde_json::from_str(body).unwrap_or_else(|e| panic!("not a backup ({e}): {body}"));
    one.database_backup.0
}

fn assert_json_error(r: &Resp, status: u16, what: &str) {
    assert_eq!(r.status, status, "{what}: {}", r.text());
    assert_eq!(
        r.header("content-type"),
        Some("application/json"),
        "{what}: content type"
    );
    let _ = r.json();
}

/// `{"error": "<non-empty>", …}`.
fn error_message(r: &Resp) -> String {
    let v = r.json();
    let e = v["error"]
        .as_str()
        .unwrap_or_else(|| panic!("no `error` string in {}", r.text()));
    assert!(!e.is_empty(), "empty error message: {}", r.text());
    e.to_string()
}

/// `{"error": …, "code": "<non-empty>"}`.
fn error_code(r: &Resp) -> String {
    let _ = error_message(r);
    let v = r.json();
    let c = v["code"]
        .as_str()
        .unwrap_or_else(|| panic!("no `code` string in {}", r.text()));
    assert!(!c.is_empty(), "empty error code: {}", r.text());
    c.to_string()
}

fn assert_not_found(r: &Resp, resource: &str, what: &str) {
    assert_json_error(r, 404, what);
    assert_eq!(
        r.json(),
        serde_json::json!({"resource": resource, "error": "not found"}),
        "{what}"
    );
}

fn is_lower_hex(s: &str) -> bool {
    s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Creates a backup of [`DB`] with the fake's token.
async fn create(fake: &FakeServer) -> Resp {
    Api::of(fake).create_backup(DB).await
}

/// The list of [`DB`]'s backups, as the whole JSON response.
async fn list(fake: &FakeServer) -> Value {
    Api::of(fake).list(DB).await.json()
}

fn ids_of(list: &Value) -> Vec<String> {
    list["database_backups"]
        .as_array()
        .expect("database_backups is a list")
        .iter()
        .map(|b| b["id"].as_str().expect("id").to_string())
        .collect()
}

// ---------------------------------------------------------------------------
// Listing
// ---------------------------------------------------------------------------

#[tokio::test]
async fn the_list_gives_the_seed_backups_in_the_seed_order_byte_for_byte() {
    let fake = fake().await;
    let r = common::get(&url(&fake, "/api/databases/my-db-123/backups"), fake.token()).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("content-type"), Some("application/json"));

    // Each of the seed's objects, compact, with `"type":"postgresql"` appended last.
    let seed = minify(SEED_LIST);
    let inner = seed
        .strip_prefix(r#"{"database_backups":[{"#)
        .and_then(|s| s.strip_suffix("}]}"))
        .expect("the seed list's shape");
    let expected_objects: Vec<String> = inner
        .split("},{")
        .map(|o| format!(r#"{{{o},"type":"postgresql"}}"#))
        .collect();
    assert_eq!(ids_of(&r.json()), [SEED_PENDING, SEED_ERROR, SEED_DONE]);
    let body = r.text();
    for (i, o) in expected_objects.iter().enumerate() {
        assert!(
            body.contains(o.as_str()),
            "seed object {i} not found byte for byte:\n{o}\nin\n{body}"
        );
    }
    let expected = format!(r#"{{"database_backups":[{}]}}"#, expected_objects.join(","));
    assert_eq!(body, expected);
}

#[tokio::test]
async fn backup_fields_come_in_the_documented_order_in_the_raw_text() {
    let fake = fake().await;
    assert_eq!(create(&fake).await.status, 201);
    let r = common::get(&url(&fake, "/api/databases/my-db-123/backups"), fake.token()).await;
    let orders = list_key_orders(&r.text());
    assert_eq!(orders.len(), 4);
    for keys in orders {
        assert_eq!(keys, BACKUP_FIELDS, "{}", r.text());
    }
}

#[tokio::test]
async fn the_list_is_also_served_on_the_internal_database_id() {
    let fake = fake().await;
    let by_addon = common::get(&url(&fake, &format!("/api/databases/{DB}/backups")), fake.token()).await;
    let by_id = common::get(&url(&fake, &format!("/api/databases/{DB_ID}/backups")), fake.token()).await;
    assert_eq!(by_id.status, 200, "{}", by_id.text());
    assert_eq!(by_id.body, by_addon.body);
    assert_eq!(ids_of(&by_id.json()), [SEED_PENDING, SEED_ERROR, SEED_DONE]);
}

#[tokio::test]
async fn a_trailing_empty_query_or_a_meaningless_query_changes_nothing() {
    let fake = fake().await;
    let plain = common::get(&url(&fake, "/api/databases/my-db-123/backups"), fake.token()).await;
    assert_eq!(plain.status, 200);
    for query in ["?", "?page=2&per_page=1", "?foo", "?token=nonsense&&x=%20"] {
        let r = common::get(
            &url(&fake, &format!("/api/databases/my-db-123/backups{query}")),
            fake.token(),
        )
        .await;
        assert_eq!(r.status, 200, "{query}: {}", r.text());
        assert_eq!(r.body, plain.body, "{query}");
    }
    // The other routes take the empty query go-scalingo appends, too.
    for path in [
        format!("/api/backups/{SEED_DONE}?"),
        format!("/api/databases/{DB}/backups/{SEED_DONE}?"),
        format!("/api/databases/{DB}?"),
    ] {
        let r = common::get(&url(&fake, &path), fake.token()).await;
        assert_eq!(r.status, 200, "{path}: {}", r.text());
    }
    let r = common::post(&url(&fake, "/api/databases/my-db-123/backups?"), fake.token(), "{}").await;
    assert_eq!(r.status, 201, "{}", r.text());
}

#[tokio::test]
async fn a_trailing_slash_changes_nothing() {
    let fake = fake().await;
    let plain = common::get(&url(&fake, "/api/databases/my-db-123/backups"), fake.token()).await;
    let slash = common::get(&url(&fake, "/api/databases/my-db-123/backups/"), fake.token()).await;
    assert_eq!(slash.status, 200, "{}", slash.text());
    assert_eq!(slash.body, plain.body);
}

// ---------------------------------------------------------------------------
// Creating
// ---------------------------------------------------------------------------

#[tokio::test]
async fn creating_a_backup_answers_201_with_a_scheduled_manual_backup() {
    let fake = fake().await;
    let r = create(&fake).await;
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(one_key_order(&r.text()), BACKUP_FIELDS, "{}", r.text());
    let b = &r.json()["database_backup"];
    assert_eq!(b["status"], "scheduled");
    assert_eq!(b["started_at"], Value::Null);
    assert_eq!(b["size"], Value::Null);
    assert_eq!(b["method"], "manual");
    assert_eq!(b["database_id"], DB_ID);
    assert_eq!(b["type"], "postgresql");

    // created_at: RFC 3339 with milliseconds and a numeric offset, at the clock's time.
    let created = b["created_at"].as_str().expect("created_at is text");
    let parsed = chrono::DateTime::parse_from_rfc3339(created).expect("created_at is RFC 3339");
    assert_eq!(parsed.timestamp_millis(), T0, "{created}");
    let bytes = created.as_bytes();
    assert_eq!(bytes.len(), "2024-03-05T06:07:08.009+00:00".len(), "{created}");
    assert_eq!(bytes[19], b'.', "milliseconds: {created}");
    assert!(bytes[20..23].iter().all(u8::is_ascii_digit), "milliseconds: {created}");
    assert!(matches!(bytes[23], b'+' | b'-'), "numeric offset: {created}");
    assert_eq!(bytes[26], b':', "numeric offset: {created}");

    // id: 24 lowercase hex, the first 8 the creation time in seconds.
    let id = b["id"].as_str().expect("id is text");
    assert_eq!(id.len(), 24, "{id}");
    assert!(is_lower_hex(id), "{id}");
    assert_eq!(&id[..8], format!("{:08x}", T0 / 1000), "{id}");
    assert_eq!(&id[..8], "65e6b68c");

    // name: YYYYMMDDHHMMSS of created_at in UTC, then the resource name.
    let utc = parsed.with_timezone(&chrono::Utc).format("%Y%m%d%H%M%S").to_string();
    assert_eq!(b["name"], format!("{utc}_kibana-3938"));
    assert_eq!(b["name"], "20240305060708_kibana-3938");
}

#[tokio::test]
async fn a_new_backup_is_listed_first() {
    let fake = fake().await;
    let r = create(&fake).await;
    assert_eq!(r.status, 201);
    let created = r.json()["database_backup"].clone();
    let list = list(&fake).await;
    assert_eq!(
        ids_of(&list),
        [created["id"].as_str().unwrap(), SEED_PENDING, SEED_ERROR, SEED_DONE]
    );
    assert_eq!(list["database_backups"][0], created);
}

#[tokio::test]
async fn create_takes_an_empty_object_or_no_body_at_all() {
    let fake = fake().await;
    let u = url(&fake, "/api/databases/my-db-123/backups");
    let with_object = common::post(&u, fake.token(), "{}").await;
    assert_eq!(with_object.status, 201, "{}", with_object.text());
    let empty = common::send(Method::POST, &u, &[("authorization", &bearer(fake.token()))], None).await;
    assert_eq!(empty.status, 201, "{}", empty.text());
    let empty_json = common::post(&u, fake.token(), "").await;
    assert_eq!(empty_json.status, 201, "{}", empty_json.text());
    let ids = ids_of(&list(&fake).await);
    assert_eq!(ids.len(), 6);
    for r in [&with_object, &empty, &empty_json] {
        let id = r.json()["database_backup"]["id"].as_str().unwrap().to_string();
        assert!(ids[..3].contains(&id), "{id} not among the newest: {ids:?}");
    }
}

#[tokio::test]
async fn backups_created_at_the_same_instant_get_distinct_ids() {
    let fake = fake().await;
    let mut ids = Vec::new();
    for _ in 0..5 {
        let r = create(&fake).await;
        assert_eq!(r.status, 201);
        ids.push(r.json()["database_backup"]["id"].as_str().unwrap().to_string());
    }
    let mut unique = ids.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), ids.len(), "{ids:?}");
}

#[tokio::test]
async fn a_created_backup_progresses_with_the_clock() {
    let fake = fake().await;
    let r = create(&fake).await;
    let id = r.json()["database_backup"]["id"].as_str().unwrap().to_string();
    let api = Api::of(&fake);
    // Default phases: 2 s scheduled, no pending, 5 s running.
    fake.advance(Duration::from_secs(3));
    let running = api.show_backup(&id).await;
    assert_eq!(running["status"], "running", "{running}");
    assert_eq!(running["size"], 0);
    let started = running["started_at"].as_str().expect("started_at is set once started");
    let started = chrono::DateTime::parse_from_rfc3339(started).unwrap();
    assert_eq!(started.timestamp_millis(), T0 + 2_000);
    fake.advance(Duration::from_secs(10));
    let done = api.show_backup(&id).await;
    assert_eq!(done["status"], "done", "{done}");
    assert!(done["size"].as_u64().is_some_and(|n| n > 0), "{done}");
    assert_eq!(done["started_at"], running["started_at"]);
}

// ---------------------------------------------------------------------------
// Showing
// ---------------------------------------------------------------------------

#[tokio::test]
async fn a_backup_shows_the_same_on_both_paths() {
    let fake = fake().await;
    let created = create(&fake).await.json()["database_backup"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let listed = list(&fake).await;
    for (i, id) in [created.as_str(), SEED_PENDING, SEED_ERROR, SEED_DONE]
        .iter()
        .enumerate()
    {
        let short = common::get(&url(&fake, &format!("/api/backups/{id}")), fake.token()).await;
        let long = common::get(&url(&fake, &format!("/api/databases/{DB}/backups/{id}")), fake.token()).await;
        let internal = common::get(
            &url(&fake, &format!("/api/databases/{DB_ID}/backups/{id}")),
            fake.token(),
        )
        .await;
        for r in [&short, &long, &internal] {
            assert_eq!(r.status, 200, "{id}: {}", r.text());
            assert_eq!(r.header("content-type"), Some("application/json"));
        }
        assert_eq!(short.body, long.body, "{id}");
        assert_eq!(short.body, internal.body, "{id}");
        assert_eq!(one_key_order(&short.text()), BACKUP_FIELDS);
        assert_eq!(short.json()["database_backup"], listed["database_backups"][i], "{id}");
    }
}

#[tokio::test]
async fn a_seed_backup_shows_its_seed_values_byte_for_byte() {
    let fake = fake().await;
    let r = common::get(&url(&fake, &format!("/api/backups/{SEED_DONE}")), fake.token()).await;
    assert_eq!(
        r.text(),
        concat!(
            r#"{"database_backup":{"id":"5b8b36104ffb090be1ac3ce1","created_at":"2018-09-02T03:00:00.178+02:00","#,
            r#""started_at":"2018-09-02T03:02:00.154+01:00","name":"20180902010000_kibana-3938","size":17484513608,"#,
            r#""status":"done","database_id":"597601234ffb097af4f3099b","method":"periodic","type":"postgresql"}}"#
        )
    );
}

// ---------------------------------------------------------------------------
// Determinism
// ---------------------------------------------------------------------------

async fn created_ids(seed: u64) -> (Vec<String>, Vec<String>) {
    let fake = FakeServer::builder()
        .seed(seed)
        .manual_clock()
        .clock_start_millis(T0)
        .start()
        .await;
    let mut ids = Vec::new();
    let mut bodies = Vec::new();
    for step in 0..3 {
        let r = create(&fake).await;
        assert_eq!(r.status, 201);
        ids.push(r.json()["database_backup"]["id"].as_str().unwrap().to_string());
        bodies.push(r.text());
        fake.advance(Duration::from_secs(61 + step));
    }
    bodies.push(
        common::get(&url(&fake, "/api/databases/my-db-123/backups"), fake.token())
            .await
            .text(),
    );
    (ids, bodies)
}

#[tokio::test]
async fn the_same_seed_and_requests_give_the_same_ids() {
    let (ids_a, bodies_a) = created_ids(42).await;
    let (ids_b, bodies_b) = created_ids(42).await;
    assert_eq!(ids_a, ids_b);
    assert_eq!(bodies_a, bodies_b);
}

#[tokio::test]
async fn a_different_seed_gives_different_ids() {
    let (ids_a, _) = created_ids(42).await;
    let (ids_b, _) = created_ids(43).await;
    for (a, b) in ids_a.iter().zip(&ids_b) {
        // Same creation second, other random part.
        assert_eq!(a[..8], b[..8]);
        assert_ne!(a, b);
    }
}

// ---------------------------------------------------------------------------
// The database object
// ---------------------------------------------------------------------------

#[tokio::test]
async fn the_database_shows_its_id_type_and_periodic_settings() {
    let fake = fake().await;
    for path in [DB, DB_ID] {
        let r = common::get(&url(&fake, &format!("/api/databases/{path}")), fake.token()).await;
        assert_eq!(r.status, 200, "{}", r.text());
        assert_eq!(r.header("content-type"), Some("application/json"));
        let v = r.json();
        let keys: Vec<_> = v.as_object().unwrap().keys().cloned().collect();
        assert_eq!(keys, ["database"]);
        let d = &v["database"];
        assert_eq!(d["id"], DB_ID);
        assert_eq!(d["type_name"], "postgresql");
        assert_eq!(d["periodic_backups_enabled"], true);
        assert_eq!(d["periodic_backups_scheduled_at"], serde_json::json!([1]));
    }
}

async fn database(fake: &FakeServer, db: &str) -> Value {
    let r = common::get(&url(fake, &format!("/api/databases/{db}")), fake.token()).await;
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()["database"].clone()
}

#[tokio::test]
async fn patch_can_turn_periodic_backups_off() {
    let fake = fake().await;
    let u = url(&fake, "/api/databases/my-db-123");
    let r = common::patch(&u, fake.token(), r#"{"database":{"periodic_backups_enabled":false}}"#).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["database"]["periodic_backups_enabled"], false);
    let d = database(&fake, DB).await;
    assert_eq!(d["periodic_backups_enabled"], false);
    assert_eq!(
        d["periodic_backups_scheduled_at"],
        serde_json::json!([1]),
        "the hours are kept"
    );
    assert_eq!(r.json()["database"], d);
}

#[tokio::test]
async fn patch_can_move_the_scheduled_hour() {
    let fake = fake().await;
    let u = url(&fake, "/api/databases/my-db-123");
    let r = common::patch(&u, fake.token(), r#"{"database":{"periodic_backups_scheduled_at":3}}"#).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let d = database(&fake, DB).await;
    assert_eq!(d["periodic_backups_scheduled_at"], serde_json::json!([3]));
    assert_eq!(d["periodic_backups_enabled"], true, "enabled is kept");
    // Both at once.
    let r = common::patch(
        &u,
        fake.token(),
        r#"{"database":{"periodic_backups_enabled":false,"periodic_backups_scheduled_at":0}}"#,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let d = database(&fake, DB).await;
    assert_eq!(d["periodic_backups_scheduled_at"], serde_json::json!([0]));
    assert_eq!(d["periodic_backups_enabled"], false);
}

#[tokio::test]
async fn patch_with_an_hour_past_23_is_422_naming_the_field_and_changes_nothing() {
    let fake = fake().await;
    let before = database(&fake, DB).await;
    let u = url(&fake, "/api/databases/my-db-123");
    for bad in ["25", "24", "-1", r#""3""#, "[]", "[1, 30]"] {
        let body = format!(r#"{{"database":{{"periodic_backups_scheduled_at":{bad}}}}}"#);
        let r = common::patch(&u, fake.token(), &body).await;
        assert_json_error(&r, 422, bad);
        let errors = r.json()["errors"].clone();
        let messages = errors["periodic_backups_scheduled_at"]
            .as_array()
            .unwrap_or_else(|| panic!("{bad}: errors do not name the field: {}", r.text()));
        assert!(!messages.is_empty(), "{bad}: {}", r.text());
        assert!(
            messages.iter().all(|m| m.as_str().is_some_and(|m| !m.is_empty())),
            "{bad}: {}",
            r.text()
        );
    }
    assert_eq!(database(&fake, DB).await, before);
}

#[tokio::test]
async fn patch_with_a_non_boolean_enabled_is_422_and_changes_nothing() {
    let fake = fake().await;
    let before = database(&fake, DB).await;
    let u = url(&fake, "/api/databases/my-db-123");
    let r = common::patch(&u, fake.token(), r#"{"database":{"periodic_backups_enabled":"yes"}}"#).await;
    assert_json_error(&r, 422, "enabled: yes");
    let errors = r.json()["errors"].clone();
    assert!(
        errors["periodic_backups_enabled"]
            .as_array()
            .is_some_and(|m| !m.is_empty()),
        "{}",
        r.text()
    );
    // A bad field spoils the whole request, even next to a good one.
    let r = common::patch(
        &u,
        fake.token(),
        r#"{"database":{"periodic_backups_enabled":"yes","periodic_backups_scheduled_at":5}}"#,
    )
    .await;
    assert_json_error(&r, 422, "enabled: yes, hour 5");
    assert_eq!(database(&fake, DB).await, before);
}

#[tokio::test]
async fn patch_without_the_database_object_is_422_with_a_non_empty_map() {
    let fake = fake().await;
    let u = url(&fake, "/api/databases/my-db-123");
    for body in ["{}", r#"{"database":3}"#, r#"{"periodic_backups_enabled":false}"#] {
        let r = common::patch(&u, fake.token(), body).await;
        assert_json_error(&r, 422, body);
        let errors = r.json()["errors"].clone();
        let map = errors.as_object().unwrap_or_else(|| panic!("{body}: {}", r.text()));
        assert!(!map.is_empty(), "{body}: {}", r.text());
    }
}

// ---------------------------------------------------------------------------
// Authentication
// ---------------------------------------------------------------------------

#[tokio::test]
async fn no_token_is_401_with_an_error() {
    let fake = fake().await;
    for (method, path) in [
        (Method::GET, format!("/api/databases/{DB}/backups")),
        (Method::POST, format!("/api/databases/{DB}/backups")),
        (Method::GET, format!("/api/databases/{DB}/backups/{SEED_DONE}")),
        (Method::GET, format!("/api/backups/{SEED_DONE}")),
        (Method::GET, format!("/api/databases/{DB}")),
        (Method::PATCH, format!("/api/databases/{DB}")),
        (Method::GET, format!("/api/databases/{DB}/backups/{SEED_DONE}/archive")),
    ] {
        let r = common::send(method.clone(), &url(&fake, &path), &[], None).await;
        assert_json_error(&r, 401, &format!("{method} {path}"));
        error_message(&r);
    }
    assert_eq!(ids_of(&list(&fake).await).len(), 3, "nothing was created");
}

#[tokio::test]
async fn a_malformed_authorization_header_is_401() {
    let fake = fake().await;
    let u = url(&fake, "/api/databases/my-db-123/backups");
    let basic = format!("Basic {}", fake.token());
    let no_scheme = fake.token().to_string();
    for header in [
        basic.as_str(),
        "Bearer ",
        "Bearer",
        "Bearer    ",
        no_scheme.as_str(),
        "Token abc",
    ] {
        let r = common::send(Method::GET, &u, &[("authorization", header)], None).await;
        assert_json_error(&r, 401, header);
        error_message(&r);
    }
}

#[tokio::test]
async fn an_unknown_token_is_401() {
    let fake = fake().await;
    for path in [
        format!("/api/databases/{DB}/backups"),
        format!("/api/backups/{SEED_DONE}"),
        format!("/api/databases/{DB}"),
    ] {
        let r = common::get(&url(&fake, &path), "not-a-token").await;
        assert_json_error(&r, 401, &path);
        error_message(&r);
    }
}

#[tokio::test]
async fn a_token_of_another_database_is_403_with_a_code() {
    let fake = fake().await;
    for (method, path) in [
        (Method::GET, format!("/api/databases/{DB}/backups")),
        (Method::POST, format!("/api/databases/{DB}/backups")),
        (Method::GET, format!("/api/databases/{DB_ID}/backups")),
        (Method::GET, format!("/api/databases/{DB}/backups/{SEED_DONE}")),
        (Method::GET, format!("/api/backups/{SEED_DONE}")),
        (Method::GET, format!("/api/databases/{DB}")),
        (Method::GET, format!("/api/databases/{DB}/backups/{SEED_DONE}/archive")),
    ] {
        let r = common::send(
            method.clone(),
            &url(&fake, &path),
            &[("authorization", &bearer(SHOP_TOKEN))],
            None,
        )
        .await;
        assert_json_error(&r, 403, &format!("{method} {path}"));
        error_code(&r);
    }
    let r = common::patch(
        &url(&fake, "/api/databases/my-db-123"),
        SHOP_TOKEN,
        r#"{"database":{"periodic_backups_enabled":false}}"#,
    )
    .await;
    assert_json_error(&r, 403, "PATCH with another database's token");
    assert_eq!(database(&fake, DB).await["periodic_backups_enabled"], true);
    assert_eq!(ids_of(&list(&fake).await).len(), 3, "nothing was created");
}

#[tokio::test]
async fn the_server_token_works_on_every_database() {
    let fake = fake().await;
    let dbs = fake.databases();
    assert!(dbs.len() >= 3, "{dbs:?}");
    for db in dbs {
        let r = common::get(&url(&fake, &format!("/api/databases/{db}/backups")), fake.token()).await;
        assert_eq!(r.status, 200, "{db}: {}", r.text());
        let r = common::get(&url(&fake, &format!("/api/databases/{db}")), fake.token()).await;
        assert_eq!(r.status, 200, "{db}: {}", r.text());
        let r = common::post(&url(&fake, &format!("/api/databases/{db}/backups")), fake.token(), "{}").await;
        assert_eq!(r.status, 201, "{db}: {}", r.text());
    }
}

#[tokio::test]
async fn each_fixture_token_works_on_its_own_database() {
    let fake = fake().await;
    for (db, token, backup) in [
        (DB, DB_TOKEN, SEED_DONE),
        (SHOP, SHOP_TOKEN, SHOP_BACKUP),
        (BLOG, BLOG_TOKEN, "65c0a3904ffb09ebb2737f6a"),
    ] {
        let internal = fake.database(db).expect("embedded database").id;
        for path in [
            format!("/api/databases/{db}/backups"),
            format!("/api/databases/{internal}/backups"),
            format!("/api/databases/{db}"),
            format!("/api/databases/{db}/backups/{backup}"),
            format!("/api/backups/{backup}"),
        ] {
            let r = common::get(&url(&fake, &path), token).await;
            assert_eq!(r.status, 200, "{token} on {path}: {}", r.text());
        }
        let r = common::post(&url(&fake, &format!("/api/databases/{db}/backups")), token, "").await;
        assert_eq!(r.status, 201, "{token}: {}", r.text());
    }
    // …and on no other.
    let r = common::get(&url(&fake, &format!("/api/databases/{SHOP}/backups")), BLOG_TOKEN).await;
    assert_json_error(&r, 403, "blog token on shop");
    let r = common::get(&url(&fake, &format!("/api/backups/{SHOP_BACKUP}")), DB_TOKEN).await;
    assert_json_error(&r, 403, "my-db token on a shop backup");
}

#[tokio::test]
async fn no_auth_accepts_requests_without_a_token() {
    let fake = FakeServer::builder().no_auth().manual_clock().start().await;
    let u = url(&fake, "/api/databases/my-db-123/backups");
    let r = common::send(Method::GET, &u, &[], None).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(ids_of(&r.json()), [SEED_PENDING, SEED_ERROR, SEED_DONE]);
    let r = common::send(Method::POST, &u, &[], None).await;
    assert_eq!(r.status, 201, "{}", r.text());
    let r = common::send(
        Method::GET,
        &url(&fake, &format!("/api/backups/{SEED_DONE}")),
        &[],
        None,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    // Unknown things are still unknown.
    let r = common::send(Method::GET, &url(&fake, "/api/databases/nope/backups"), &[], None).await;
    assert_not_found(&r, "database", "no auth, unknown database");
}

#[tokio::test]
async fn auth_stays_on_by_default() {
    let fake = FakeServer::builder().manual_clock().start().await;
    let r = common::send(Method::GET, &url(&fake, "/api/databases/my-db-123/backups"), &[], None).await;
    assert_json_error(&r, 401, "default builder, no token");
}

// ---------------------------------------------------------------------------
// Not found, wrong method
// ---------------------------------------------------------------------------

#[tokio::test]
async fn an_unknown_database_is_404() {
    let fake = fake().await;
    for (method, path) in [
        (Method::GET, "/api/databases/nope/backups".to_string()),
        (Method::POST, "/api/databases/nope/backups".to_string()),
        (Method::GET, format!("/api/databases/nope/backups/{SEED_DONE}")),
        (Method::GET, format!("/api/databases/nope/backups/{SEED_DONE}/archive")),
        (Method::GET, "/api/databases/nope".to_string()),
        (Method::PATCH, "/api/databases/nope".to_string()),
        (
            Method::GET,
            "/api/databases/000000000000000000000000/backups".to_string(),
        ),
    ] {
        let r = common::send(
            method.clone(),
            &url(&fake, &path),
            &[("authorization", &bearer(fake.token()))],
            Some(b"{}"),
        )
        .await;
        assert_not_found(&r, "database", &format!("{method} {path}"));
    }
    // A real token of another database, on a database that does not exist.
    let r = common::get(&url(&fake, "/api/databases/nope/backups"), SHOP_TOKEN).await;
    assert_not_found(&r, "database", "shop token, unknown database");
}

#[tokio::test]
async fn an_unknown_backup_is_404_on_both_paths() {
    let fake = fake().await;
    for path in [
        "/api/backups/ffffffffffffffffffffffff".to_string(),
        "/api/backups/not-an-id".to_string(),
        format!("/api/databases/{DB}/backups/ffffffffffffffffffffffff"),
        format!("/api/databases/{DB_ID}/backups/ffffffffffffffffffffffff"),
        format!("/api/databases/{DB}/backups/ffffffffffffffffffffffff/archive"),
        // A backup that exists, but in another database.
        format!("/api/databases/{DB}/backups/{SHOP_BACKUP}"),
        format!("/api/databases/{DB}/backups/{SHOP_BACKUP}/archive"),
    ] {
        let r = common::get(&url(&fake, &path), fake.token()).await;
        assert_not_found(&r, "backup", &path);
    }
}

#[tokio::test]
async fn an_unknown_route_is_404_route() {
    let fake = fake().await;
    for path in [
        "/",
        "/api",
        "/api/databases",
        "/api/nothing",
        "/api/databases//backups",
        "/api/databases/my-db-123/backups/5b8b36104ffb090be1ac3ce1/archive/extra",
        "/api/databases/my-db-123/snapshots",
        "/v2/databases/my-db-123/backups",
    ] {
        let r = common::get(&url(&fake, path), fake.token()).await;
        assert_not_found(&r, "route", path);
        // Without a token too: an unknown route is not a credential question.
        let r = common::send(Method::GET, &url(&fake, path), &[], None).await;
        assert_not_found(&r, "route", path);
    }
}

#[tokio::test]
async fn a_wrong_method_is_405_with_allow_and_a_json_body() {
    let fake = fake().await;
    let b = SEED_DONE;
    for (method, path, allow) in [
        (
            Method::DELETE,
            format!("/api/databases/{DB}/backups"),
            "GET, HEAD, POST",
        ),
        (Method::PUT, format!("/api/databases/{DB}/backups"), "GET, HEAD, POST"),
        (Method::POST, format!("/api/databases/{DB}"), "GET, HEAD, PATCH, PUT"),
        (Method::DELETE, format!("/api/databases/{DB}"), "GET, HEAD, PATCH, PUT"),
        (Method::POST, format!("/api/backups/{b}"), "GET, HEAD"),
        (Method::DELETE, format!("/api/databases/{DB}/backups/{b}"), "GET, HEAD"),
        (
            Method::POST,
            format!("/api/databases/{DB}/backups/{b}/archive"),
            "GET, HEAD",
        ),
        (
            Method::POST,
            format!("/api/databases/{DB}/backups/{b}/download"),
            "GET, HEAD",
        ),
    ] {
        let r = common::send(
            method.clone(),
            &url(&fake, &path),
            &[("authorization", &bearer(fake.token()))],
            None,
        )
        .await;
        let what = format!("{method} {path}");
        assert_json_error(&r, 405, &what);
        assert_eq!(r.header("allow"), Some(allow), "{what}");
        error_message(&r);
    }
    assert_eq!(ids_of(&list(&fake).await).len(), 3, "the DELETE deleted nothing");
}

// ---------------------------------------------------------------------------
// Request bodies
// ---------------------------------------------------------------------------

const TWO_MIB: usize = 2 << 20;

fn big_json() -> Vec<u8> {
    let mut body = br#"{"pad":""#.to_vec();
    body.resize(TWO_MIB - 2, b'a');
    body.extend_from_slice(br#""}"#);
    body
}

#[tokio::test]
async fn a_2_mib_body_is_413_whether_sized_or_chunked() {
    let fake = fake().await;
    let body = big_json();
    for framing in [Framing::Length, Framing::Chunked] {
        for (method, path) in [
            (Method::POST, "/api/databases/my-db-123/backups"),
            (Method::PATCH, "/api/databases/my-db-123"),
        ] {
            let r = common::send_raw(
                fake.address(),
                raw_request(&method, path, fake.address(), fake.token(), framing, &body),
            )
            .await;
            assert_json_error(&r, 413, &format!("{framing:?} {method} {path}"));
            error_message(&r);
        }
    }
    assert_eq!(ids_of(&list(&fake).await).len(), 3, "nothing was created");
}

#[tokio::test]
async fn a_2_mib_body_through_the_hyper_client_is_413() {
    let fake = fake().await;
    let body = big_json();
    let r = common::send(
        Method::POST,
        &url(&fake, "/api/databases/my-db-123/backups"),
        &[
            ("authorization", &bearer(fake.token())),
            ("content-type", "application/json"),
        ],
        Some(&body),
    )
    .await;
    assert_json_error(&r, 413, "2 MiB POST");
}

#[tokio::test]
async fn a_body_just_under_the_limit_is_read() {
    let fake = fake().await;
    let mut body = br#"{"pad":""#.to_vec();
    body.resize((1 << 20) - 2, b'a');
    body.extend_from_slice(br#""}"#);
    let r = common::send_raw(
        fake.address(),
        raw_request(
            &Method::POST,
            "/api/databases/my-db-123/backups",
            fake.address(),
            fake.token(),
            Framing::Chunked,
            &body,
        ),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text());
}

#[tokio::test]
async fn broken_json_is_400_with_error_and_code() {
    let fake = fake().await;
    for (method, path, body) in [
        (Method::PATCH, "/api/databases/my-db-123", r#"{"database":"#),
        (Method::PATCH, "/api/databases/my-db-123", "nonsense"),
        (Method::POST, "/api/databases/my-db-123/backups", r#"{"database":"#),
    ] {
        let r = common::send(
            method.clone(),
            &url(&fake, path),
            &[
                ("authorization", &bearer(fake.token())),
                ("content-type", "application/json"),
            ],
            Some(body.as_bytes()),
        )
        .await;
        assert_json_error(&r, 400, &format!("{method} {path} {body}"));
        error_code(&r);
    }
    assert_eq!(ids_of(&list(&fake).await).len(), 3, "nothing was created");
}

#[tokio::test]
async fn a_json_body_that_is_not_an_object_is_400() {
    let fake = fake().await;
    let before = database(&fake, DB).await;
    for body in [
        r#"[{"database":{"periodic_backups_enabled":false}}]"#,
        "3",
        r#""database""#,
        "null",
    ] {
        let r = common::patch(&url(&fake, "/api/databases/my-db-123"), fake.token(), body).await;
        assert_json_error(&r, 400, body);
        error_code(&r);
    }
    assert_eq!(database(&fake, DB).await, before);
}

// ---------------------------------------------------------------------------
// Archive links (a backup not yet done has none: 400)
// ---------------------------------------------------------------------------

#[tokio::test]
async fn a_done_backup_gets_a_download_url_on_this_host() {
    let fake = fake().await;
    let r = Api::of(&fake).archive_link(DB, SEED_DONE, &[]).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("content-type"), Some("application/json"));
    let link = r.json()["download_url"].as_str().expect("download_url").to_string();
    let prefix = format!("{}/api/databases/{DB}/backups/{SEED_DONE}/download?token=", fake.url());
    assert!(link.starts_with(&prefix), "{link}");
    assert!(link.len() > prefix.len(), "{link}");
    // The link works without Authorization (HEAD: the headers alone).
    let h = common::send(Method::HEAD, &link, &[], None).await;
    assert_eq!(h.status, 200, "{link}");
    assert_eq!(h.header("content-length"), Some("17484513608"));
}

#[tokio::test]
async fn a_backup_that_is_not_done_gets_400_for_its_archive() {
    let fake = fake().await;
    let created = create(&fake).await.json()["database_backup"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    for id in [SEED_PENDING, SEED_ERROR, created.as_str()] {
        let r = Api::of(&fake).archive_link(DB, id, &[]).await;
        assert_json_error(&r, 400, id);
        error_code(&r);
    }
}

// ---------------------------------------------------------------------------
// Every error is JSON
// ---------------------------------------------------------------------------

#[tokio::test]
async fn every_error_response_is_json_in_its_documented_shape() {
    let fake = fake().await;
    let token = bearer(fake.token());
    let shop = bearer(SHOP_TOKEN);
    let basic = format!("Basic {}", fake.token());
    let big = big_json();
    let auth: &[(&str, &str)] = &[("authorization", &token)];
    let b = SEED_DONE;
    #[allow(clippy::type_complexity)]
    let cases: Vec<(u16, Method, String, Vec<(&str, &str)>, Option<&[u8]>)> = vec![
        (401, Method::GET, format!("/api/databases/{DB}/backups"), vec![], None),
        (
            401,
            Method::GET,
            format!("/api/databases/{DB}/backups"),
            vec![("authorization", &basic)],
            None,
        ),
        (
            401,
            Method::GET,
            format!("/api/databases/{DB}/backups"),
            vec![("authorization", "Bearer ")],
            None,
        ),
        (
            401,
            Method::GET,
            format!("/api/databases/{DB}/backups"),
            vec![("authorization", "Bearer x")],
            None,
        ),
        (
            401,
            Method::GET,
            format!("/api/databases/{DB}/backups/{b}/download"),
            vec![],
            None,
        ),
        (
            403,
            Method::GET,
            format!("/api/databases/{DB}/backups"),
            vec![("authorization", &shop)],
            None,
        ),
        (
            403,
            Method::GET,
            format!("/api/databases/{DB}/backups/{b}/download?token=forged"),
            vec![],
            None,
        ),
        (
            404,
            Method::GET,
            "/api/databases/nope/backups".into(),
            auth.to_vec(),
            None,
        ),
        (
            404,
            Method::GET,
            "/api/backups/ffffffffffffffffffffffff".into(),
            auth.to_vec(),
            None,
        ),
        (
            404,
            Method::GET,
            format!("/api/databases/{DB}/backups/ffffffffffffffffffffffff"),
            auth.to_vec(),
            None,
        ),
        (404, Method::GET, "/api/unknown/route".into(), vec![], None),
        (
            405,
            Method::DELETE,
            format!("/api/databases/{DB}/backups"),
            auth.to_vec(),
            None,
        ),
        (405, Method::DELETE, format!("/api/databases/{DB}"), auth.to_vec(), None),
        (
            413,
            Method::POST,
            format!("/api/databases/{DB}/backups"),
            auth.to_vec(),
            Some(&big),
        ),
        (
            400,
            Method::PATCH,
            format!("/api/databases/{DB}"),
            auth.to_vec(),
            Some(br#"{"database":"#),
        ),
        (
            400,
            Method::PATCH,
            format!("/api/databases/{DB}"),
            auth.to_vec(),
            Some(b"[]"),
        ),
        (
            400,
            Method::GET,
            format!("/api/databases/{DB}/backups/{SEED_PENDING}/archive"),
            auth.to_vec(),
            None,
        ),
        (
            422,
            Method::PATCH,
            format!("/api/databases/{DB}"),
            auth.to_vec(),
            Some(br#"{"database":{"periodic_backups_scheduled_at":25}}"#),
        ),
        (
            422,
            Method::PATCH,
            format!("/api/databases/{DB}"),
            auth.to_vec(),
            Some(b"{}"),
        ),
    ];
    for (status, method, path, headers, body) in cases {
        let what = format!("{method} {path} ({status})");
        let r = if status == 413 {
            common::send_raw(
                fake.address(),
                raw_request(
                    &method,
                    &path,
                    fake.address(),
                    fake.token(),
                    Framing::Length,
                    body.unwrap(),
                ),
            )
            .await
        } else {
            common::send(method, &url(&fake, &path), &headers, body).await
        };
        assert_json_error(&r, status, &what);
        let v = r.json();
        assert!(v.is_object(), "{what}: {v}");
        match status {
            401 | 405 | 413 => {
                error_message(&r);
            }
            400 | 403 => {
                error_code(&r);
            }
            404 => {
                assert_eq!(v["error"], "not found", "{what}");
                assert!(v["resource"].as_str().is_some_and(|s| !s.is_empty()), "{what}: {v}");
            }
            422 => {
                let errors = v["errors"].as_object().unwrap_or_else(|| panic!("{what}: {v}"));
                assert!(!errors.is_empty(), "{what}: {v}");
                for (field, messages) in errors {
                    let messages = messages.as_array().unwrap_or_else(|| panic!("{what}: {field}: {v}"));
                    assert!(!messages.is_empty(), "{what}: {field}");
                    assert!(messages.iter().all(Value::is_string), "{what}: {field}");
                }
            }
            _ => unreachable!(),
        }
        if status == 405 {
            assert!(r.header("allow").is_some(), "{what}: no Allow header");
        }
    }
}

// ---------------------------------------------------------------------------
// Starting and stopping
// ---------------------------------------------------------------------------

#[test]
fn a_blocking_start_serves_a_plain_test_and_stops_when_dropped() {
    let fake = FakeServer::start_blocking();
    let addr = fake.address();
    assert_eq!(fake.url(), format!("http://{addr}"));
    assert!(addr.ip().is_loopback(), "{addr}");
    let r = common::blocking_get(addr, "/api/databases/my-db-123/backups", fake.token());
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(ids_of(&r.json()), [SEED_PENDING, SEED_ERROR, SEED_DONE]);

    drop(fake);
    let err = std::net::TcpStream::connect(addr).expect_err("the server still accepts connections after drop");
    assert_eq!(err.kind(), std::io::ErrorKind::ConnectionRefused, "{err}");
}

#[test]
fn a_blocking_start_takes_the_builder_settings() {
    let fake = FakeServer::builder().token("my-own-token").start_blocking();
    assert_eq!(fake.token(), "my-own-token");
    let r = common::blocking_get(fake.address(), "/api/databases/my-db-123", "my-own-token");
    assert_eq!(r.status, 200, "{}", r.text());
    let r = common::blocking_get(fake.address(), "/api/databases/my-db-123", "another-token");
    assert_eq!(r.status, 401, "{}", r.text());
}

#[tokio::test]
async fn shutting_down_an_async_server_refuses_new_connections() {
    let fake = fake().await;
    let addr = fake.address();
    assert_eq!(list(&fake).await["database_backups"].as_array().map(Vec::len), Some(3));
    fake.shutdown().await;
    let err = tokio::net::TcpStream::connect(addr)
        .await
        .expect_err("the server still accepts connections after shutdown");
    assert_eq!(err.kind(), std::io::ErrorKind::ConnectionRefused, "{err}");
}

#[tokio::test]
async fn two_fakes_are_isolated() {
    let a = fake().await;
    let b = fake().await;
    assert_ne!(a.address(), b.address());
    assert_eq!(create(&a).await.status, 201);
    assert_eq!(ids_of(&list(&a).await).len(), 4);
    assert_eq!(ids_of(&list(&b).await).len(), 3);
    // Each fake's own token is its own.
    let r = common::get(&url(&b, "/api/databases/my-db-123/backups"), a.token()).await;
    assert_json_error(&r, 401, "a's token on b");
}

#[tokio::test]
async fn one_connection_serves_several_requests_errors_included() {
    use http_body_util::{BodyExt, Full};
    let fake = fake().await;
    let host = fake.address().to_string();
    let mut sender = common::connect(&host).await;
    let mut statuses = Vec::new();
    for (method, path) in [
        (Method::GET, "/api/databases/my-db-123/backups"),
        (Method::GET, "/api/databases/nope/backups"),
        (Method::POST, "/api/databases/my-db-123/backups"),
        (Method::DELETE, "/api/databases/my-db-123/backups"),
        (Method::GET, "/api/databases/my-db-123/backups"),
    ] {
        sender.ready().await.expect("the connection is still open");
        let req = hyper::Request::builder()
            .method(method)
            .uri(path)
            .header("host", &host)
            .header("authorization", bearer(fake.token()))
            .body(Full::new(bytes::Bytes::new()))
            .unwrap();
        let resp = sender.send_request(req).await.expect("response on the same connection");
        statuses.push(resp.status().as_u16());
        let body = resp.into_body().collect().await.unwrap().to_bytes();
        assert!(serde_json::from_slice::<Value>(&body).is_ok());
    }
    assert_eq!(statuses, [200, 404, 201, 405, 200]);
}

#[tokio::test]
async fn head_works_wherever_get_does_and_sends_no_body() {
    let fake = fake().await;
    let auth = bearer(fake.token());
    for path in [
        format!("/api/databases/{DB}/backups"),
        format!("/api/databases/{DB}"),
        format!("/api/databases/{DB}/backups/{SEED_DONE}"),
        format!("/api/backups/{SEED_DONE}"),
        format!("/api/databases/{DB}/backups/{SEED_DONE}/archive"),
    ] {
        let get = common::send(Method::GET, &url(&fake, &path), &[("authorization", &auth)], None).await;
        assert_eq!(get.status, 200, "GET {path}: {}", get.text());
        // A raw socket: a real client never shows a body sent after a HEAD.
        let head = common::head_raw(fake.address(), &path, &[("Authorization", &auth)]).await;
        assert_eq!(head.status, 200, "HEAD {path}");
        assert!(
            head.body.is_empty(),
            "HEAD {path}: {} bytes sent after the head",
            head.body.len()
        );
        assert_eq!(
            head.header("content-length"),
            Some(get.body.len().to_string().as_str()),
            "HEAD {path}"
        );
    }
}

#[tokio::test]
async fn the_database_object_names_its_type_both_ways() {
    let fake = fake().await;
    let r = common::get(&url(&fake, &format!("/api/databases/{DB}")), fake.token()).await;
    assert_eq!(r.json()["database"]["type"], "postgresql");
    assert_eq!(r.json()["database"]["type_name"], "postgresql");
}

#[test]
fn dropping_a_blocking_fake_does_not_wait_long_for_a_half_sent_request() {
    use std::io::Write;
    let fake = FakeServer::start_blocking();
    let mut s = std::net::TcpStream::connect(fake.address()).unwrap();
    s.write_all(b"GET /api/databases/my-db-123/backups HTTP/1.1\r\nHost: x\r\n")
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(20));
    let t0 = std::time::Instant::now();
    drop(fake);
    // The grace period of an in-process server is one second (the binary's is five).
    assert!(t0.elapsed() < std::time::Duration::from_secs(5), "{:?}", t0.elapsed());
}
