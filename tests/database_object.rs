//! The database object (`GET /api/databases/:db`) as go-scalingo's
//! `Database` reads it: every field, in its order, with the JSON type Go
//! decodes; the values fixtures can set; and the maintenance window that
//! `scalingo addons-config --maintenance-window-day … --maintenance-window-hour …`
//! changes with `PATCH` (or `PUT`).
mod common;

use hyper::Method;
use scalingo_db_fake::{FakeServer, Timestamp};
use serde::de::{IgnoredAny, MapAccess, Visitor};
use serde::Deserialize;
use serde_json::{json, Value};

/// The seed's database.
const DB: &str = "my-db-123";
/// 2024-03-05T06:07:08.009Z, where the manual clocks of these tests start.
const T0: i64 = 1_709_618_828_009;

/// go-scalingo's `Database` fields, in its order, with `type` after
/// `type_name`.
const GO_ORDER: [&str; 22] = [
    "id",
    "created_at",
    "resource_id",
    "app_name",
    "encryption_at_rest",
    "features",
    "plan",
    "status",
    "type_id",
    "type_name",
    "type",
    "version_id",
    "mongo_repl_set_name",
    "instances",
    "next_version_id",
    "readable_version",
    "hostname",
    "current_operation_id",
    "cluster",
    "periodic_backups_enabled",
    "periodic_backups_scheduled_at",
    "maintenance_window",
];

async fn fake() -> FakeServer {
    FakeServer::builder()
        .manual_clock()
        .clock_start_millis(T0)
        .seed(1)
        .start()
        .await
}

async fn fake_with(fixtures: &str) -> FakeServer {
    FakeServer::builder()
        .manual_clock()
        .clock_start_millis(T0)
        .fixtures_json(fixtures)
        .try_start()
        .await
        .unwrap_or_else(|e| panic!("the fixture loads: {e}"))
}

fn url(fake: &FakeServer, db: &str) -> String {
    format!("{}/api/databases/{db}", fake.url())
}

/// `GET /api/databases/:db`, the whole response.
async fn show(fake: &FakeServer, db: &str) -> common::Resp {
    let r = common::get(&url(fake, db), fake.token()).await;
    assert_eq!(r.status, 200, "{}", r.text());
    r
}

/// The database object of `GET /api/databases/:db`.
async fn database(fake: &FakeServer, db: &str) -> Value {
    show(fake, db).await.json()["database"].clone()
}

/// A fixture file of the given database objects (each a JSON object).
fn fixture(databases: &[Value]) -> String {
    json!({ "databases": databases }).to_string()
}

/// A database of `db_type`, with `extra` fields merged in.
fn db_of(id: &str, n: u8, db_type: &str, extra: Value) -> Value {
    let mut d = json!({
        "id": id,
        "database_id": format!("{n:024x}"),
        "resource_name": format!("{id}-res"),
        "type": db_type,
        "app": format!("{id}-app"),
    });
    if let (Some(d), Value::Object(extra)) = (d.as_object_mut(), extra) {
        d.extend(extra);
    }
    d
}

// ---------------------------------------------------------------------------
// What go-scalingo reads
// ---------------------------------------------------------------------------

/// The keys of `{"database": {…}}`'s object, in the order they were written.
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

#[derive(Deserialize)]
struct WrappedKeys {
    database: Keys,
}

#[tokio::test]
async fn the_database_object_has_go_scalingos_fields_in_its_order() {
    let fake = fake().await;
    let r = show(&fake, DB).await;
    let keys: WrappedKeys = serde_json::from_slice(&r.body).expect("a database object");
    assert_eq!(keys.database.0, GO_ORDER, "{}", r.text());
}

/// go-scalingo's `Database`, field for field, with the Go types as their
/// JSON types. No `Option`: a missing field (or a `null`) fails to decode.
#[derive(Debug, Deserialize)]
#[allow(dead_code)]
struct GoDatabase {
    id: String,
    created_at: String,
    resource_id: String,
    app_name: String,
    encryption_at_rest: bool,
    features: Vec<GoFeature>,
    plan: String,
    status: String,
    type_id: String,
    type_name: String,
    version_id: String,
    mongo_repl_set_name: String,
    instances: Vec<GoInstance>,
    next_version_id: String,
    readable_version: String,
    hostname: String,
    current_operation_id: String,
    cluster: bool,
    periodic_backups_enabled: bool,
    periodic_backups_scheduled_at: Vec<i64>,
    maintenance_window: GoMaintenanceWindow,
}

/// go-scalingo's `DatabaseFeature`.
#[derive(Debug, Deserialize)]
struct GoFeature {
    name: String,
    status: String,
}

/// go-scalingo's `Instance`.
#[derive(Debug, Deserialize)]
#[allow(dead_code)]
struct GoInstance {
    id: String,
    hostname: String,
    port: i64,
    status: String,
    #[serde(rename = "type")]
    instance_type: String,
    features: Vec<String>,
    private_ip: String,
}

/// go-scalingo's `MaintenanceWindow`.
#[derive(Debug, Deserialize, PartialEq)]
struct GoMaintenanceWindow {
    weekday_utc: i64,
    starting_hour_utc: i64,
    duration_in_hour: i64,
}

#[derive(Deserialize)]
struct GoDatabaseRes {
    database: GoDatabase,
}

async fn go_decode(fake: &FakeServer, db: &str) -> GoDatabase {
    let r = show(fake, db).await;
    let res: GoDatabaseRes = serde_json::from_slice(&r.body)
        .unwrap_or_else(|e| panic!("go-scalingo's Database cannot decode it ({e}): {}", r.text()));
    res.database
}

#[tokio::test]
async fn the_database_object_decodes_into_go_scalingos_database_with_plausible_values() {
    let fake = fake().await;
    let d = go_decode(&fake, DB).await;
    // Go's time.Time takes it.
    Timestamp::parse(&d.created_at).expect("a timestamp Go decodes");
    assert_eq!(d.id, "597601234ffb097af4f3099b");
    assert_eq!(d.resource_id, "kibana-3938");
    assert_eq!((d.type_name.as_str(), d.status.as_str()), ("postgresql", "running"));
    for id in [&d.type_id, &d.version_id] {
        assert!(scalingo_db_fake::__internals::is_object_id(id), "{id}");
    }
    assert_eq!(d.mongo_repl_set_name, "");
    assert_eq!((d.next_version_id.as_str(), d.current_operation_id.as_str()), ("", ""));
    assert!(d.features.is_empty());
    assert!(!d.cluster);
    assert_eq!(
        d.maintenance_window,
        GoMaintenanceWindow {
            weekday_utc: 2,
            starting_hour_utc: 3,
            duration_in_hour: 8
        }
    );
    let [i] = &d.instances[..] else {
        panic!("one instance: {:?}", d.instances)
    };
    assert_eq!((i.hostname.as_str(), i.port), (d.hostname.as_str(), 5432));
    assert_eq!((i.status.as_str(), i.instance_type.as_str()), ("running", "db-node"));
    assert_eq!(i.private_ip, "10.0.0.1");
    assert!(scalingo_db_fake::__internals::is_object_id(&i.id), "{}", i.id);
    assert!(i.features.is_empty());
}

#[tokio::test]
async fn features_and_instances_set_in_a_fixture_decode_into_go_scalingos_types_too() {
    let extra = json!({
        "features": [{"name": "force-ssl", "status": "ACTIVATED"}, {"name": "publicly-available", "status": "PENDING"}],
        "instances": [{"features": ["backups"]}, {"type": "haproxy", "port": 3307}],
    });
    let fake = fake_with(&fixture(&[db_of("m", 1, "mysql", extra)])).await;
    let d = go_decode(&fake, "m").await;
    let features: Vec<_> = d
        .features
        .iter()
        .map(|f| (f.name.as_str(), f.status.as_str()))
        .collect();
    assert_eq!(
        features,
        [("force-ssl", "ACTIVATED"), ("publicly-available", "PENDING")]
    );
    assert_eq!(d.instances.len(), 2);
    assert_eq!(d.instances[0].features, ["backups"]);
    assert_eq!(d.instances[0].port, 3306);
    assert_eq!(
        (d.instances[1].instance_type.as_str(), d.instances[1].port),
        ("haproxy", 3307)
    );
    assert_ne!(d.instances[0].id, d.instances[1].id);
    assert_ne!(d.instances[0].private_ip, d.instances[1].private_ip);
}

// ---------------------------------------------------------------------------
// Derived values
// ---------------------------------------------------------------------------

#[tokio::test]
async fn type_and_version_ids_depend_only_on_the_type_and_the_version() {
    let dbs = [
        db_of("a", 1, "postgresql", json!({"version": "14.11.0"})),
        db_of("b", 2, "postgresql", json!({"version": "14.11.0"})),
        db_of("c", 3, "postgresql", json!({"version": "15.6.0"})),
        db_of("d", 4, "mysql", json!({"version": "14.11.0"})),
    ];
    let fake = fake_with(&fixture(&dbs)).await;
    let other = fake_with(&fixture(&dbs)).await;
    let ids = |d: &Value| (d["type_id"].clone(), d["version_id"].clone());
    let (a, b) = (database(&fake, "a").await, database(&fake, "b").await);
    let (c, d) = (database(&fake, "c").await, database(&fake, "d").await);
    assert_eq!(ids(&a), ids(&b), "same type and version, same ids");
    assert_eq!(ids(&a), ids(&database(&other, "a").await), "same ids on another server");
    assert_eq!(a["type_id"], c["type_id"]);
    assert_ne!(a["version_id"], c["version_id"], "another version");
    assert_ne!(a["type_id"], d["type_id"], "another type");
    assert_ne!(a["version_id"], d["version_id"], "another type, same version text");
}

#[tokio::test]
async fn each_type_listens_on_its_port() {
    let ports = [
        ("postgresql", 5432),
        ("mysql", 3306),
        ("mongodb", 27017),
        ("redis", 6379),
        ("influxdb", 8086),
        ("elasticsearch", 9200),
        ("opensearch", 9200),
    ];
    let dbs: Vec<_> = ports
        .iter()
        .enumerate()
        .map(|(i, (t, _))| db_of(t, i as u8 + 1, t, json!({})))
        .collect();
    let fake = fake_with(&fixture(&dbs)).await;
    for (t, port) in ports {
        let d = database(&fake, t).await;
        assert_eq!(d["instances"][0]["port"], port, "{t}");
        assert_eq!(d["instances"][0]["hostname"], d["hostname"], "{t}");
    }
}

#[tokio::test]
async fn a_mongodb_database_names_its_replica_set_and_the_others_do_not() {
    let fake = fake_with(&fixture(&[
        db_of("mongo", 1, "mongodb", json!({})),
        db_of("redis", 2, "redis", json!({})),
    ]))
    .await;
    assert_eq!(database(&fake, "mongo").await["mongo_repl_set_name"], "mongo-res-rs");
    assert_eq!(database(&fake, "redis").await["mongo_repl_set_name"], "");
}

#[tokio::test]
async fn fixture_status_hostname_window_and_instances_show_in_the_object() {
    let extra = json!({
        "status": "upgrading",
        "hostname": "pg.example.test",
        "maintenance_window": {"weekday_utc": 6},
        "instances": [
            {"id": "node-1", "private_ip": "10.1.2.3", "status": "restarting"},
            {"hostname": "node-2.example.test"}
        ],
    });
    let fake = fake_with(&fixture(&[db_of("pg", 1, "postgresql", extra)])).await;
    let d = database(&fake, "pg").await;
    assert_eq!(d["status"], "upgrading");
    assert_eq!(d["hostname"], "pg.example.test");
    assert_eq!(
        d["maintenance_window"],
        json!({"weekday_utc": 6, "starting_hour_utc": 3, "duration_in_hour": 8}),
        "the fields left out keep their defaults"
    );
    let i = &d["instances"];
    assert_eq!(
        i[0],
        json!({"id": "node-1", "hostname": "pg.example.test", "port": 5432, "status": "restarting",
               "type": "db-node", "features": [], "private_ip": "10.1.2.3"})
    );
    assert_eq!(i[1]["hostname"], "node-2.example.test");
    assert_eq!(i[1]["private_ip"], "10.0.0.2");
    assert_eq!(d["cluster"], true, "two data nodes");
}

// ---------------------------------------------------------------------------
// Changing the maintenance window
// ---------------------------------------------------------------------------

/// What `scalingo addons-config --maintenance-window-day monday
/// --maintenance-window-hour 4` sends.
const CLI_WINDOW: &str = r#"{"database":{"maintenance_window":{"weekday_utc":1,"starting_hour_utc":4}}}"#;

#[tokio::test]
async fn patch_with_the_clis_maintenance_window_moves_it() {
    let fake = fake().await;
    let before = database(&fake, DB).await;
    let r = common::patch(&url(&fake, DB), fake.token(), CLI_WINDOW).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let want = json!({"weekday_utc": 1, "starting_hour_utc": 4, "duration_in_hour": 8});
    assert_eq!(r.json()["database"]["maintenance_window"], want);
    let after = database(&fake, DB).await;
    assert_eq!(after, r.json()["database"], "the answer is the stored object");
    assert_eq!(after["maintenance_window"], want);
    for kept in [
        "periodic_backups_enabled",
        "periodic_backups_scheduled_at",
        "status",
        "instances",
    ] {
        assert_eq!(after[kept], before[kept], "{kept} is kept");
    }
}

#[tokio::test]
async fn either_maintenance_window_field_may_be_given_alone() {
    let fake = fake().await;
    let u = url(&fake, DB);
    let r = common::patch(
        &u,
        fake.token(),
        r#"{"database":{"maintenance_window":{"weekday_utc":0}}}"#,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let w = database(&fake, DB).await["maintenance_window"].clone();
    assert_eq!(
        w,
        json!({"weekday_utc": 0, "starting_hour_utc": 3, "duration_in_hour": 8})
    );
    let body = r#"{"database":{"maintenance_window":{"starting_hour_utc":23}}}"#;
    let r = common::patch(&u, fake.token(), body).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let w = database(&fake, DB).await["maintenance_window"].clone();
    assert_eq!(
        w,
        json!({"weekday_utc": 0, "starting_hour_utc": 23, "duration_in_hour": 8})
    );
}

#[tokio::test]
async fn put_updates_the_database_exactly_like_patch() {
    let fake = fake().await;
    let body = r#"{"database":{"periodic_backups_enabled":false,"maintenance_window":{"weekday_utc":5,"starting_hour_utc":22}}}"#;
    let headers = [
        ("authorization", format!("Bearer {}", fake.token())),
        ("content-type", "application/json".to_string()),
    ];
    let headers: Vec<_> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let r = common::send(Method::PUT, &url(&fake, DB), &headers, Some(body.as_bytes())).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let d = database(&fake, DB).await;
    assert_eq!(r.json()["database"], d);
    assert_eq!(d["periodic_backups_enabled"], false);
    assert_eq!(d["maintenance_window"]["weekday_utc"], 5);
    assert_eq!(d["maintenance_window"]["starting_hour_utc"], 22);
    // And refuses what PATCH refuses.
    let bad = br#"{"database":{"maintenance_window":{"weekday_utc":7}}}"#;
    let r = common::send(Method::PUT, &url(&fake, DB), &headers, Some(bad)).await;
    assert_eq!(r.status, 422, "{}", r.text());
    assert_eq!(database(&fake, DB).await, d);
}

#[tokio::test]
async fn a_bad_maintenance_window_is_422_naming_the_field_and_changes_nothing() {
    let fake = fake().await;
    let before = database(&fake, DB).await;
    let u = url(&fake, DB);
    for (window, field) in [
        (r#"{"weekday_utc":7}"#, "weekday_utc"),
        (r#"{"weekday_utc":-1}"#, "weekday_utc"),
        (r#"{"weekday_utc":1.5}"#, "weekday_utc"),
        (r#"{"weekday_utc":"1"}"#, "weekday_utc"),
        (r#"{"weekday_utc":1,"starting_hour_utc":24}"#, "starting_hour_utc"),
        (r#"{"starting_hour_utc":4.0}"#, "starting_hour_utc"),
        (r#"{"starting_hour_utc":"4"}"#, "starting_hour_utc"),
        (r#"{"starting_hour_utc":true}"#, "starting_hour_utc"),
        (r#""monday""#, "weekday_utc"),
        ("[1, 4]", "weekday_utc"),
    ] {
        // Next to a good periodic field, which is not applied either.
        let body = format!(r#"{{"database":{{"periodic_backups_enabled":false,"maintenance_window":{window}}}}}"#);
        let r = common::patch(&u, fake.token(), &body).await;
        assert_eq!(r.status, 422, "{window}: {}", r.text());
        let errors = r.json()["errors"].clone();
        assert_eq!(errors.as_object().map(|m| m.len()), Some(1), "{window}: {errors}");
        let messages = errors["maintenance_window"]
            .as_array()
            .unwrap_or_else(|| panic!("{window}: the error is not under maintenance_window: {errors}"));
        assert!(
            messages.iter().any(|m| m.as_str().is_some_and(|m| m.contains(field))),
            "{window}: no message names {field}: {errors}"
        );
    }
    assert_eq!(database(&fake, DB).await, before);
}

#[tokio::test]
async fn both_bad_window_fields_are_named() {
    let fake = fake().await;
    let body = r#"{"database":{"maintenance_window":{"weekday_utc":9,"starting_hour_utc":99}}}"#;
    let r = common::patch(&url(&fake, DB), fake.token(), body).await;
    assert_eq!(r.status, 422, "{}", r.text());
    let messages = r.json()["errors"]["maintenance_window"].clone();
    let text = messages.to_string();
    assert_eq!(messages.as_array().map(Vec::len), Some(2), "{text}");
    assert!(
        text.contains("weekday_utc") && text.contains("starting_hour_utc"),
        "{text}"
    );
}

#[tokio::test]
async fn the_window_and_the_periodic_settings_change_in_one_request() {
    let fake = fake().await;
    let body = r#"{"database":{"periodic_backups_scheduled_at":5,"maintenance_window":{"weekday_utc":3,"starting_hour_utc":1}}}"#;
    let r = common::patch(&url(&fake, DB), fake.token(), body).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let d = database(&fake, DB).await;
    assert_eq!(r.json()["database"], d);
    assert_eq!(d["periodic_backups_scheduled_at"], json!([5]));
    assert_eq!(
        d["maintenance_window"],
        json!({"weekday_utc": 3, "starting_hour_utc": 1, "duration_in_hour": 8})
    );
}
