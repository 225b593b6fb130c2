//! The real clients, replayed: each test sends the exact request sequence of
//! one Scalingo CLI command (as go-scalingo builds it: a `?` after every GET
//! path, `{}` as every POST body, a token exchange before the main API, an
//! addon token before every database-API request) and decodes every answer
//! into mirrors of the Go structs the CLI reads, with every field required.

mod common;

use std::collections::HashMap;
use std::time::Duration;

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use hyper::Method;
use scalingo_db_fake::FakeServer;
use serde::de::DeserializeOwned;
use serde::Deserialize;

// ---- Mirrors of go-scalingo's structs (every field the CLI reads) ----

#[derive(Debug, Deserialize)]
struct TokenRes {
    token: String,
}

#[derive(Debug, Deserialize)]
struct Claims {
    exp: i64,
}

#[derive(Debug, Deserialize)]
struct UserRes {
    user: User,
}

#[derive(Debug, Deserialize)]
struct User {
    id: String,
    username: String,
    email: String,
    fullname: String,
    flags: HashMap<String, bool>,
}

#[derive(Debug, Deserialize)]
struct RegionsRes {
    regions: Vec<Region>,
}

#[derive(Debug, Deserialize)]
struct Region {
    name: String,
    display_name: String,
    ssh: String,
    api: String,
    dashboard: String,
    database_api: String,
    default: bool,
}

#[derive(Debug, Deserialize)]
struct AddonsRes {
    addons: Vec<Addon>,
}

#[derive(Debug, Deserialize)]
struct AddonRes {
    addon: Addon,
}

#[derive(Debug, Deserialize)]
struct Addon {
    id: String,
    app_id: String,
    resource_id: String,
    status: String,
    plan: Plan,
    addon_provider: AddonProvider,
    provisioned_at: String,
    deprovisioned_at: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Plan {
    id: String,
    name: String,
    display_name: String,
}

#[derive(Debug, Deserialize)]
struct AddonProvider {
    id: String,
    name: String,
    logo_url: String,
}

#[derive(Debug, Deserialize)]
struct AddonTokenRes {
    addon: AddonToken,
}

#[derive(Debug, Deserialize)]
struct AddonToken {
    token: String,
}

#[derive(Debug, Deserialize)]
struct BackupsRes {
    database_backups: Vec<Backup>,
}

#[derive(Debug, Deserialize)]
struct BackupRes {
    database_backup: Backup,
}

#[derive(Debug, Deserialize)]
struct Backup {
    id: String,
    created_at: String,
    started_at: Option<String>,
    name: String,
    size: Option<u64>,
    status: String,
    database_id: String,
    method: String,
}

#[derive(Debug, Deserialize)]
struct ArchiveRes {
    download_url: String,
}

#[derive(Debug, Deserialize)]
struct DatabaseRes {
    database: Database,
}

#[derive(Debug, Deserialize)]
struct Database {
    id: String,
    periodic_backups_enabled: bool,
    periodic_backups_scheduled_at: Vec<u32>,
}

// ---- A client that talks as go-scalingo does ----

/// go-scalingo's view of one fake: the three base URLs are the fake's URL.
struct GoClient {
    base: String,
    api_token: String,
}

fn wall_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn decode<T: DeserializeOwned>(r: &common::Resp) -> T {
    serde_json::from_slice(&r.body)
        .unwrap_or_else(|e| panic!("cannot decode as the Go client would ({e}): {}", r.text()))
}

/// A response whose status the client expects.
fn expect(r: common::Resp, status: u16) -> common::Resp {
    assert_eq!(r.status, status, "{}", r.text());
    r
}

impl GoClient {
    fn new(fake: &FakeServer) -> Self {
        Self {
            base: fake.url(),
            api_token: "tk-us-replay".into(),
        }
    }

    /// `POST /v1/tokens/exchange`, Basic auth with an empty user.
    async fn exchange(&self) -> String {
        let basic = format!("Basic {}", STANDARD.encode(format!(":{}", self.api_token)));
        let r = self
            .send(Method::POST, "/v1/tokens/exchange", &basic, Some(b"{}"))
            .await;
        decode::<TokenRes>(&expect(r, 200)).token
    }

    async fn send(&self, method: Method, path: &str, authorization: &str, body: Option<&[u8]>) -> common::Resp {
        // go-scalingo appends `?` (the encoded, here empty, query) to every GET.
        let path = if method == Method::GET {
            format!("{path}?")
        } else {
            path.to_string()
        };
        let headers = [
            ("authorization", authorization),
            ("accept", "application/json"),
            ("content-type", "application/json"),
            ("user-agent", "Scalingo CLI v1.48.0"),
        ];
        common::send(method, &format!("{}{path}", self.base), &headers, body).await
    }

    /// A GET on the main API with a fresh JWT.
    async fn api_get<T: DeserializeOwned>(&self, path: &str) -> T {
        let jwt = self.exchange().await;
        decode(&expect(
            self.send(Method::GET, path, &format!("Bearer {jwt}"), None).await,
            200,
        ))
    }

    /// `POST /v1/apps/:app/addons/:addon/token`, as before every DB-API call.
    async fn addon_token(&self, jwt: &str, app: &str, addon: &str) -> String {
        let path = format!("/v1/apps/{app}/addons/{addon}/token");
        let r = self
            .send(Method::POST, &path, &format!("Bearer {jwt}"), Some(b"{}"))
            .await;
        decode::<AddonTokenRes>(&expect(r, 200)).addon.token
    }

    /// A DB-API request, preceded by its addon token.
    async fn db(&self, jwt: &str, addon: &str, method: Method, path: &str, body: Option<&[u8]>) -> common::Resp {
        let token = self.addon_token(jwt, "my-app", addon).await;
        self.send(method, path, &format!("Bearer {token}"), body).await
    }

    /// `--addon TYPE` as the CLI resolves it: an `ad-` id as is, else the
    /// app's addon whose provider name matches, ignoring case.
    async fn resolve_addon(&self, addon: &str) -> String {
        if addon.starts_with("ad-") {
            return addon.to_string();
        }
        let list: AddonsRes = self.api_get("/v1/apps/my-app/addons").await;
        list.addons
            .into_iter()
            .find(|a| a.addon_provider.name.eq_ignore_ascii_case(addon))
            .map(|a| a.id)
            .unwrap_or_else(|| panic!("no '{addon}' addon exists"))
    }
}

async fn fake() -> FakeServer {
    FakeServer::builder().manual_clock().seed(3).start().await
}

// ---- The commands ----

#[tokio::test]
async fn login_with_an_api_token_exchanges_it_for_a_jwt_with_exp_then_reads_the_user() {
    let fake = fake().await;
    let client = GoClient::new(&fake);
    let jwt = client.exchange().await;
    let payload = jwt.split('.').nth(1).expect("a JWT has three parts");
    let claims: Claims = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
    // go-scalingo exchanges again when fewer than five minutes are left.
    assert!(
        claims.exp > wall_secs() + 300,
        "exp {} is not an hour ahead",
        claims.exp
    );
    let r = client
        .send(Method::GET, "/v1/users/self", &format!("Bearer {jwt}"), None)
        .await;
    let user = decode::<UserRes>(&expect(r, 200)).user;
    assert!(!user.id.is_empty() && !user.username.is_empty() && user.email.contains('@'));
    assert!(!user.fullname.is_empty());
    assert_ne!(user.flags.get("admin"), Some(&true), "an admin is asked for consent");
}

#[tokio::test]
async fn regions_name_one_default_region_whose_urls_are_the_fake() {
    let fake = fake().await;
    let regions: RegionsRes = GoClient::new(&fake).api_get("/v1/regions").await;
    assert_eq!(regions.regions.len(), 1);
    let r = &regions.regions[0];
    assert!(r.default);
    assert_eq!(r.name, "osc-fr1");
    assert!(!r.display_name.is_empty() && !r.ssh.is_empty());
    for url in [&r.api, &r.database_api, &r.dashboard] {
        assert_eq!(url, &fake.url());
    }
}

#[tokio::test]
async fn the_addons_command_lists_the_apps_addons_with_provider_and_plan() {
    let fake = fake().await;
    let list: AddonsRes = GoClient::new(&fake).api_get("/v1/apps/my-app/addons").await;
    let providers: Vec<(&str, &str, &str)> = list
        .addons
        .iter()
        .map(|a| {
            (
                a.id.as_str(),
                a.addon_provider.id.as_str(),
                a.addon_provider.name.as_str(),
            )
        })
        .collect();
    assert_eq!(
        providers,
        [
            ("my-db-123", "postgresql", "PostgreSQL"),
            ("ad-7c1e5d0a-3b9f-4e2a-8d6c-51f0a2b4c9e3", "mongodb", "MongoDB"),
            ("ad-0b8d2e6f-91a4-4c57-b3e8-6f2d7a9c1e05", "mysql", "MySQL"),
        ]
    );
    for a in &list.addons {
        assert_eq!(a.status, "running");
        assert_eq!(a.app_id.len(), 24);
        assert!(!a.resource_id.is_empty() && !a.addon_provider.logo_url.is_empty());
        assert!(!a.plan.id.is_empty() && !a.plan.name.is_empty() && !a.plan.display_name.is_empty());
        assert!(a.provisioned_at.contains('T'));
        assert_eq!(a.deprovisioned_at, None);
    }
}

#[tokio::test]
async fn backups_with_addon_postgresql_resolves_by_provider_name_and_lists_with_an_addon_token() {
    let fake = fake().await;
    let client = GoClient::new(&fake);
    assert_eq!(client.resolve_addon("postgresql").await, "my-db-123");
    assert_eq!(
        client.resolve_addon("mongodb").await,
        "ad-7c1e5d0a-3b9f-4e2a-8d6c-51f0a2b4c9e3"
    );
    for addon in ["my-db-123", "ad-0b8d2e6f-91a4-4c57-b3e8-6f2d7a9c1e05"] {
        let jwt = client.exchange().await;
        let r = client
            .db(
                &jwt,
                addon,
                Method::GET,
                &format!("/api/databases/{addon}/backups"),
                None,
            )
            .await;
        let list: BackupsRes = decode(&expect(r, 200));
        assert!(!list.database_backups.is_empty());
        for b in &list.database_backups {
            assert_eq!(b.id.len(), 24);
            assert!(!b.created_at.is_empty() && !b.name.is_empty() && !b.database_id.is_empty());
            assert!(["periodic", "manual"].contains(&b.method.as_str()));
        }
    }
}

#[tokio::test]
async fn backups_create_posts_an_empty_object_then_polls_the_backup_until_done() {
    let fake = fake().await;
    let client = GoClient::new(&fake);
    let addon = client.resolve_addon("postgresql").await;
    let jwt = client.exchange().await;
    let r = client
        .db(
            &jwt,
            &addon,
            Method::POST,
            &format!("/api/databases/{addon}/backups"),
            Some(b"{}"),
        )
        .await;
    let created = decode::<BackupRes>(&expect(r, 201)).database_backup;
    assert_eq!(
        (created.status.as_str(), created.started_at, created.size),
        ("scheduled", None, None)
    );
    let mut seen = vec![created.status];
    // The CLI polls `GET /api/backups/:id` every second until done or error.
    for _ in 0..30 {
        fake.advance(Duration::from_secs(1));
        let r = client
            .db(&jwt, &addon, Method::GET, &format!("/api/backups/{}", created.id), None)
            .await;
        let b = decode::<BackupRes>(&expect(r, 200)).database_backup;
        if seen.last() != Some(&b.status) {
            seen.push(b.status.clone());
        }
        if b.status == "done" || b.status == "error" {
            break;
        }
    }
    assert_eq!(seen, ["scheduled", "running", "done"]);
}

#[tokio::test]
async fn backups_download_picks_the_newest_done_backup_and_fetches_its_link_without_credentials() {
    let fake = fake().await;
    let client = GoClient::new(&fake);
    let addon = client.resolve_addon("postgresql").await;
    let shown: AddonRes = client.api_get(&format!("/v1/apps/my-app/addons/{addon}")).await;
    assert_eq!(shown.addon.addon_provider.id, "postgresql");
    let jwt = client.exchange().await;
    let r = client
        .db(
            &jwt,
            &addon,
            Method::GET,
            &format!("/api/databases/{addon}/backups"),
            None,
        )
        .await;
    let list: BackupsRes = decode(&expect(r, 200));
    let latest = list
        .database_backups
        .iter()
        .find(|b| b.status == "done")
        .expect("a done backup");
    let r = client
        .db(&jwt, &addon, Method::GET, &format!("/api/backups/{}", latest.id), None)
        .await;
    let backup = decode::<BackupRes>(&expect(r, 200)).database_backup;
    let path = format!("/api/databases/{addon}/backups/{}/archive", backup.id);
    let r = client.db(&jwt, &addon, Method::GET, &path, None).await;
    let url = decode::<ArchiveRes>(&expect(r, 200)).download_url;
    assert!(url.starts_with(&fake.url()), "{url}");
    // Go's http.Get: no Authorization; a Range keeps the test small.
    let r = common::send(Method::GET, &url, &[("range", "bytes=0-1023")], None).await;
    let r = expect(r, 206);
    assert_eq!(r.header("content-type"), Some("application/gzip"));
    assert_eq!(r.header("content-encoding"), None, "Go would gunzip it silently");
    let total: u64 = r
        .header("content-range")
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(Some(total), backup.size);
    assert_eq!(&r.body[..2], &[0x1f, 0x8b]);
}

#[tokio::test]
async fn backups_config_schedule_at_reads_the_database_then_patches_the_exact_body() {
    let fake = fake().await;
    let client = GoClient::new(&fake);
    let addon = client.resolve_addon("postgresql").await;
    let jwt = client.exchange().await;
    let r = client
        .db(&jwt, &addon, Method::GET, &format!("/api/databases/{addon}"), None)
        .await;
    let db = decode::<DatabaseRes>(&expect(r, 200)).database;
    assert!(
        db.periodic_backups_scheduled_at.len() <= 1,
        "the CLI refuses several hours"
    );
    assert!(!db.id.is_empty());
    let body = br#"{"database":{"periodic_backups_scheduled_at":3,"periodic_backups_enabled":true}}"#;
    let r = client
        .db(
            &jwt,
            &addon,
            Method::PATCH,
            &format!("/api/databases/{addon}"),
            Some(body),
        )
        .await;
    let db = decode::<DatabaseRes>(&expect(r, 200)).database;
    assert!(db.periodic_backups_enabled);
    assert_eq!(db.periodic_backups_scheduled_at, [3]);
}

// ---- Credentials live on the wall clock ----

#[tokio::test]
async fn a_client_keeps_working_across_a_one_day_advance_of_the_fake() {
    let fake = fake().await;
    let client = GoClient::new(&fake);
    let jwt = client.exchange().await;
    let token = client.addon_token(&jwt, "my-app", "my-db-123").await;
    fake.advance(Duration::from_secs(86_400));
    let r = client
        .send(Method::GET, "/v1/apps/my-app/addons", &format!("Bearer {jwt}"), None)
        .await;
    expect(r, 200);
    let r = client
        .send(
            Method::GET,
            "/api/databases/my-db-123/backups",
            &format!("Bearer {token}"),
            None,
        )
        .await;
    expect(r, 200);
}

#[tokio::test]
async fn a_jwt_and_an_addon_token_whose_real_expiry_has_passed_are_refused() {
    let fake = FakeServer::builder()
        .manual_clock()
        .credential_ttl(Duration::from_secs(1))
        .start()
        .await;
    let client = GoClient::new(&fake);
    let jwt = client.exchange().await;
    let token = client.addon_token(&jwt, "my-app", "my-db-123").await;
    let (mut jwt_status, mut token_status) = (200, 200);
    // Expiry is in whole seconds of real time: at most two seconds away.
    for _ in 0..40 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        jwt_status = client
            .send(Method::GET, "/v1/users/self", &format!("Bearer {jwt}"), None)
            .await
            .status;
        token_status = client
            .send(
                Method::GET,
                "/api/databases/my-db-123",
                &format!("Bearer {token}"),
                None,
            )
            .await
            .status;
        if jwt_status == 401 && token_status == 401 {
            break;
        }
    }
    assert_eq!((jwt_status, token_status), (401, 401));
}

// ---- Every credential failure, with its status and body ----

#[tokio::test]
async fn every_credential_failure_of_the_platform_routes_has_its_status_and_json_body() {
    let fake = FakeServer::builder().manual_clock().api_token("tk-good").start().await;
    let other = FakeServer::builder().manual_clock().start().await;
    let client = GoClient {
        base: fake.url(),
        api_token: "tk-good".into(),
    };
    let jwt = client.exchange().await;
    let foreign_jwt = GoClient::new(&other).exchange().await;
    let addon_token = client.addon_token(&jwt, "my-app", "my-db-123").await;
    let foreign_addon_token = GoClient::new(&other)
        .addon_token(&foreign_jwt, "my-app", "my-db-123")
        .await;
    let basic = |t: &str| format!("Basic {}", STANDARD.encode(format!(":{t}")));
    let bearer = |t: &str| format!("Bearer {t}");
    let mut tampered = jwt.clone();
    tampered.push('x');
    // (what, method, path, Authorization, status, the resource of a 404)
    type Case<'a> = (&'a str, Method, &'a str, String, u16, Option<&'a str>);
    let cases: Vec<Case> = vec![
        (
            "exchange without credentials",
            Method::POST,
            "/v1/tokens/exchange",
            String::new(),
            401,
            None,
        ),
        (
            "exchange with an unknown API token",
            Method::POST,
            "/v1/tokens/exchange",
            basic("tk-bad"),
            401,
            None,
        ),
        (
            "exchange with an empty API token",
            Method::POST,
            "/v1/tokens/exchange",
            basic(""),
            401,
            None,
        ),
        (
            "exchange with a bearer",
            Method::POST,
            "/v1/tokens/exchange",
            bearer("tk-good"),
            401,
            None,
        ),
        (
            "users/self without a JWT",
            Method::GET,
            "/v1/users/self",
            String::new(),
            401,
            None,
        ),
        (
            "users/self with a malformed JWT",
            Method::GET,
            "/v1/users/self",
            bearer("abc"),
            401,
            None,
        ),
        (
            "users/self with a tampered JWT",
            Method::GET,
            "/v1/users/self",
            bearer(&tampered),
            401,
            None,
        ),
        (
            "users/self with another server's JWT",
            Method::GET,
            "/v1/users/self",
            bearer(&foreign_jwt),
            401,
            None,
        ),
        (
            "regions with the API token itself",
            Method::GET,
            "/v1/regions",
            bearer("tk-good"),
            401,
            None,
        ),
        (
            "addons of an unknown app",
            Method::GET,
            "/v1/apps/nope/addons",
            bearer(&jwt),
            404,
            Some("app"),
        ),
        (
            "an unknown addon",
            Method::GET,
            "/v1/apps/my-app/addons/ad-nope",
            bearer(&jwt),
            404,
            Some("addon"),
        ),
        (
            "a token for an unknown addon",
            Method::POST,
            "/v1/apps/my-app/addons/ad-nope/token",
            bearer(&jwt),
            404,
            Some("addon"),
        ),
        (
            "an addon token on another database",
            Method::GET,
            "/api/databases/ad-7c1e5d0a-3b9f-4e2a-8d6c-51f0a2b4c9e3/backups",
            bearer(&addon_token),
            403,
            None,
        ),
        (
            "another server's addon token",
            Method::GET,
            "/api/databases/my-db-123/backups",
            bearer(&foreign_addon_token),
            401,
            None,
        ),
        (
            "a JWT on the database API",
            Method::GET,
            "/api/databases/my-db-123/backups",
            bearer(&jwt),
            401,
            None,
        ),
    ];
    for (what, method, path, authorization, status, resource) in cases {
        let body = (method == Method::POST).then_some(&b"{}"[..]);
        let headers: Vec<(&str, &str)> = if authorization.is_empty() {
            vec![("content-type", "application/json")]
        } else {
            vec![
                ("authorization", authorization.as_str()),
                ("content-type", "application/json"),
            ]
        };
        let r = common::send(method, &format!("{}{path}?", fake.url()), &headers, body).await;
        assert_eq!(r.status, status, "{what}: {}", r.text());
        let v = r.json();
        match resource {
            Some(res) => assert_eq!(v, serde_json::json!({"resource": res, "error": "not found"}), "{what}"),
            None => assert!(v["error"].as_str().is_some_and(|e| !e.is_empty()), "{what}: {v}"),
        }
    }
}
