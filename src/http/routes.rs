//! The route table: every route of the fake declared once, with its path
//! template, its plane and the operation each method runs. `Allow`, 405, HEAD
//! and dispatch are all derived from [`ROUTES`]; adding a route is one line
//! here and one handler.
//!
//! Paths are matched segment by segment; a trailing slash or an empty query
//! (`…/backups?`, as go-scalingo sends) changes nothing. A `:name` segment
//! captures one non-empty segment.

use std::sync::LazyLock;

use hyper::Method;

/// Which part of the fake a route belongs to: decides how it is
/// authenticated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Plane {
    /// The database API: bearer token.
    Api,
    /// Archive bytes: the signed token of the link is the credential.
    Download,
    /// `/_fake`: the fake's own plane, unauthenticated.
    Control,
    /// `/v1`: the auth and main APIs the real clients call first (token
    /// exchange with Basic auth, then JWT bearer).
    Platform,
}

/// An operation of the fake: one route and one method.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Op {
    ListBackups,
    CreateBackup,
    ShowBackup,
    ShowBackupById,
    ArchiveLink,
    DownloadArchive,
    ShowDatabase,
    UpdateDatabase,
    Health,
    ShowClock,
    MoveClock,
    ShowLifecycle,
    SetLifecycle,
    ShowDatabaseLifecycle,
    SetDatabaseLifecycle,
    ShowRetention,
    SetRetention,
    ShowSeed,
    SetSeed,
    CompleteBackup,
    FailBackup,
    Reset,
    ListDatabases,
    CreateDatabase,
    DeleteDatabase,
    ResetDatabase,
    SeedBackup,
    ListDatabaseBackups,
    ListAllBackups,
    DownloadUrl,
    Dashboard,
    ExportState,
    ImportState,
    ListRequests,
    ClearRequests,
    ShowDownloadTtl,
    SetDownloadTtl,
    ExchangeToken,
    ShowSelf,
    ListRegions,
    ListAddons,
    ShowAddon,
    CreateAddonToken,
    AddFault,
    ListFaults,
    ClearFaults,
    RemoveFault,
}

impl Op {
    /// The operation's name, as logged (`backups.list`, …).
    pub fn name(self) -> &'static str {
        match self {
            Op::ListBackups => "backups.list",
            Op::CreateBackup => "backups.create",
            Op::ShowBackup => "backups.show",
            Op::ShowBackupById => "backups.show_by_id",
            Op::ArchiveLink => "backups.archive",
            Op::DownloadArchive => "backups.download",
            Op::ShowDatabase => "databases.show",
            Op::UpdateDatabase => "databases.update",
            Op::Health => "fake.health",
            Op::ShowClock => "fake.clock.show",
            Op::MoveClock => "fake.clock.move",
            Op::ShowLifecycle => "fake.lifecycle.show",
            Op::SetLifecycle => "fake.lifecycle.set",
            Op::ShowDatabaseLifecycle => "fake.database_lifecycle.show",
            Op::SetDatabaseLifecycle => "fake.database_lifecycle.set",
            Op::ShowRetention => "fake.retention.show",
            Op::SetRetention => "fake.retention.set",
            Op::ShowSeed => "fake.seed.show",
            Op::SetSeed => "fake.seed.set",
            Op::CompleteBackup => "fake.backups.complete",
            Op::FailBackup => "fake.backups.fail",
            Op::Reset => "fake.reset",
            Op::ListDatabases => "fake.databases.list",
            Op::CreateDatabase => "fake.databases.create",
            Op::DeleteDatabase => "fake.databases.delete",
            Op::ResetDatabase => "fake.databases.reset",
            Op::SeedBackup => "fake.backups.seed",
            Op::ListDatabaseBackups => "fake.database_backups.list",
            Op::ListAllBackups => "fake.backups.list",
            Op::DownloadUrl => "fake.backups.download_url",
            Op::Dashboard => "fake.ui",
            Op::ExportState => "fake.state.export",
            Op::ImportState => "fake.state.import",
            Op::ShowDownloadTtl => "fake.download_ttl.show",
            Op::SetDownloadTtl => "fake.download_ttl.set",
            Op::ListRequests => "fake.requests.list",
            Op::ClearRequests => "fake.requests.clear",
            Op::ExchangeToken => "tokens.exchange",
            Op::ShowSelf => "users.self",
            Op::ListRegions => "regions.list",
            Op::ListAddons => "addons.list",
            Op::ShowAddon => "addons.show",
            Op::CreateAddonToken => "addons.token",
            Op::AddFault => "fake.faults.add",
            Op::ListFaults => "fake.faults.list",
            Op::ClearFaults => "fake.faults.clear",
            Op::RemoveFault => "fake.faults.remove",
        }
    }
}

#[derive(Debug)]
/// One route: a path template, its plane, and the operation of each method
/// (GET first; HEAD runs the GET operation unless listed).
pub(crate) struct Route {
    pub template: &'static str,
    pub plane: Plane,
    pub methods: &'static [(Method, Op)],
}

const fn route(template: &'static str, plane: Plane, methods: &'static [(Method, Op)]) -> Route {
    Route {
        template,
        plane,
        methods,
    }
}

use Op::*;
use Plane::*;

/// Every route of the fake, the hot ones first.
pub(crate) static ROUTES: &[Route] = &[
    route(
        "/api/databases/:db/backups",
        Api,
        &[(Method::GET, ListBackups), (Method::POST, CreateBackup)],
    ),
    route("/api/backups/:backup", Api, &[(Method::GET, ShowBackupById)]),
    route("/api/databases/:db/backups/:backup", Api, &[(Method::GET, ShowBackup)]),
    route(
        "/api/databases/:db/backups/:backup/archive",
        Api,
        &[(Method::GET, ArchiveLink)],
    ),
    route(
        "/api/databases/:db/backups/:backup/download",
        Download,
        &[(Method::GET, Op::DownloadArchive), (Method::HEAD, Op::DownloadArchive)],
    ),
    route(
        "/api/databases/:db",
        Api,
        &[
            (Method::GET, ShowDatabase),
            (Method::PATCH, UpdateDatabase),
            (Method::PUT, UpdateDatabase),
        ],
    ),
    route("/_fake/health", Control, &[(Method::GET, Health)]),
    route(
        "/_fake/clock",
        Control,
        &[(Method::GET, ShowClock), (Method::POST, MoveClock)],
    ),
    route(
        "/_fake/lifecycle",
        Control,
        &[(Method::GET, ShowLifecycle), (Method::PUT, SetLifecycle)],
    ),
    route(
        "/_fake/databases/:db/lifecycle",
        Control,
        &[
            (Method::GET, ShowDatabaseLifecycle),
            (Method::PUT, SetDatabaseLifecycle),
        ],
    ),
    route(
        "/_fake/retention",
        Control,
        &[(Method::GET, ShowRetention), (Method::PUT, SetRetention)],
    ),
    route(
        "/_fake/seed",
        Control,
        &[(Method::GET, ShowSeed), (Method::PUT, SetSeed)],
    ),
    route(
        "/_fake/download_ttl",
        Control,
        &[(Method::GET, ShowDownloadTtl), (Method::PUT, SetDownloadTtl)],
    ),
    route(
        "/_fake/backups/:backup/complete",
        Control,
        &[(Method::POST, CompleteBackup)],
    ),
    route("/_fake/backups/:backup/fail", Control, &[(Method::POST, FailBackup)]),
    route("/_fake/reset", Control, &[(Method::POST, Reset)]),
    route(
        "/_fake/databases",
        Control,
        &[(Method::GET, ListDatabases), (Method::POST, CreateDatabase)],
    ),
    route("/_fake/databases/:db", Control, &[(Method::DELETE, DeleteDatabase)]),
    route("/_fake/databases/:db/reset", Control, &[(Method::POST, ResetDatabase)]),
    route(
        "/_fake/databases/:db/backups",
        Control,
        &[(Method::GET, ListDatabaseBackups), (Method::POST, SeedBackup)],
    ),
    route(
        "/_fake/databases/:db/backups/:backup/download_url",
        Control,
        &[(Method::GET, DownloadUrl)],
    ),
    route("/_fake/backups", Control, &[(Method::GET, ListAllBackups)]),
    route("/_fake/ui", Control, &[(Method::GET, Dashboard)]),
    route(
        "/_fake/state",
        Control,
        &[(Method::GET, ExportState), (Method::PUT, ImportState)],
    ),
    route(
        "/_fake/requests",
        Control,
        &[(Method::GET, ListRequests), (Method::DELETE, ClearRequests)],
    ),
    route(
        "/_fake/faults",
        Control,
        &[
            (Method::GET, ListFaults),
            (Method::POST, AddFault),
            (Method::DELETE, ClearFaults),
        ],
    ),
    route("/_fake/faults/:fault", Control, &[(Method::DELETE, RemoveFault)]),
    route("/v1/tokens/exchange", Platform, &[(Method::POST, ExchangeToken)]),
    route("/v1/users/self", Platform, &[(Method::GET, ShowSelf)]),
    route("/v1/regions", Platform, &[(Method::GET, ListRegions)]),
    route("/v1/apps/:app/addons", Platform, &[(Method::GET, ListAddons)]),
    route("/v1/apps/:app/addons/:addon", Platform, &[(Method::GET, ShowAddon)]),
    route(
        "/v1/apps/:app/addons/:addon/token",
        Platform,
        &[(Method::POST, CreateAddonToken)],
    ),
];

/// The ids a path carries.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Params<'a> {
    /// `:db` or `:addon`: an addon id (or, in the database API, a database id).
    pub db: &'a str,
    /// `:app`: an app name.
    pub app: &'a str,
    /// `:backup`: a backup id.
    pub backup: &'a str,
    /// `:fault`: a fault rule's id.
    pub fault: &'a str,
}

/// What a path names: the route and the ids it carries.
#[derive(Debug)]
pub(crate) struct Matched<'a> {
    pub route: &'static Route,
    pub params: Params<'a>,
}

impl Matched<'_> {
    /// The operation `method` runs on this route, if the route takes it.
    pub fn op(&self, method: &Method) -> Option<Op> {
        self.route.op(method)
    }
}

impl Route {
    /// The operation `method` runs here (HEAD runs GET's unless listed).
    pub fn op(&self, method: &Method) -> Option<Op> {
        let find = |m: &Method| self.methods.iter().find(|(k, _)| k == m).map(|(_, op)| *op);
        find(method).or_else(|| (method == Method::HEAD).then(|| find(&Method::GET)).flatten())
    }

    /// The `Allow` header value: the methods in table order, HEAD after GET
    /// (RFC 9110 §9.3.2).
    pub fn allow(&self) -> String {
        let mut names: Vec<&str> = Vec::new();
        for (m, _) in self.methods {
            if !names.contains(&m.as_str()) {
                names.push(m.as_str());
            }
            if *m == Method::GET && !names.contains(&"HEAD") {
                names.push("HEAD");
            }
        }
        names.join(", ")
    }
}

/// A template segment.
enum Segment {
    Literal(&'static str),
    Db,
    Backup,
    App,
    Fault,
}

/// A template, split into segments, and its route.
type Compiled = (Vec<Segment>, &'static Route);

/// The templates, split once, by their number of segments (a path is only
/// matched against the templates of its length), in table order.
static COMPILED: LazyLock<[Vec<Compiled>; MAX_SEGMENTS + 1]> = LazyLock::new(|| {
    let mut by_length: [Vec<Compiled>; MAX_SEGMENTS + 1] = Default::default();
    for r in ROUTES.iter() {
        let segments: Vec<Segment> = r
            .template
            .split('/')
            .skip(1)
            .map(|s| match s {
                ":db" | ":addon" => Segment::Db,
                ":app" => Segment::App,
                ":backup" => Segment::Backup,
                ":fault" => Segment::Fault,
                other => Segment::Literal(other),
            })
            .collect();
        // Every template is checked against the cap by a test.
        if let Some(bucket) = by_length.get_mut(segments.len()) {
            bucket.push((segments, r));
        }
    }
    by_length
});

/// The longest template, in segments.
const MAX_SEGMENTS: usize = 6;

/// The route `path` (without its query) names, if any.
pub(crate) fn find(path: &str) -> Option<Matched<'_>> {
    let path = path.strip_suffix('/').unwrap_or(path);
    let rest = path.strip_prefix('/')?;
    // The number of segments picks the templates to try.
    let n = 1 + count_slashes(rest.as_bytes());
    'routes: for (template, route) in COMPILED.get(n)? {
        let mut params = Params::default();
        let mut left = rest;
        for t in template {
            // The segment: up to the next slash, or the rest of the path.
            // A literal is compared in place, not searched for.
            let (s, next) = match t {
                Segment::Literal(l) => match left.strip_prefix(l) {
                    Some(after) if after.is_empty() || after.starts_with('/') => (*l, after),
                    _ => continue 'routes,
                },
                _ => match left.bytes().position(|b| b == b'/') {
                    Some(i) => (&left[..i], &left[i..]),
                    None => (left, ""),
                },
            };
            // An empty segment (`//`) names nothing.
            if s.is_empty() {
                return None;
            }
            match t {
                Segment::Literal(_) => {}
                Segment::Db => params.db = s,
                Segment::Backup => params.backup = s,
                Segment::App => params.app = s,
                Segment::Fault => params.fault = s,
            }
            left = next.strip_prefix('/').unwrap_or(next);
        }
        return Some(Matched { route, params });
    }
    None
}

/// How many `/` `bytes` holds, eight bytes at a time: in each word, a byte
/// equal to `/` becomes zero, and each zero byte gets its high bit set
/// (exactly: no carry crosses from one byte to the next).
fn count_slashes(bytes: &[u8]) -> usize {
    const SLASHES: u64 = u64::from_ne_bytes([b'/'; 8]);
    const LOW7: u64 = u64::from_ne_bytes([0x7f; 8]);
    let mut chunks = bytes.chunks_exact(8);
    let mut n = 0;
    for chunk in &mut chunks {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let w = u64::from_ne_bytes(word) ^ SLASHES;
        let zero_bytes = !(((w & LOW7) + LOW7) | w | LOW7);
        n += zero_bytes.count_ones() as usize;
    }
    n + chunks.remainder().iter().filter(|b| **b == b'/').count()
}

/// The plane of the route whose template is `template`, if there is one.
pub(crate) fn plane_of_template(template: &str) -> Option<Plane> {
    ROUTES.iter().find(|r| r.template == template).map(|r| r.plane)
}

/// The plane of the operation named `name` (as [`Op::name`] gives), if
/// there is one.
pub(crate) fn plane_of_operation(name: &str) -> Option<Plane> {
    ROUTES
        .iter()
        .find(|r| r.methods.iter().any(|(_, op)| op.name() == name))
        .map(|r| r.plane)
}

/// The methods the routes outside `plane` take, in table order (HEAD after
/// GET).
pub(crate) fn methods_outside(plane: Plane) -> Vec<&'static str> {
    let mut names: Vec<&'static str> = Vec::new();
    for r in ROUTES.iter().filter(|r| r.plane != plane) {
        for (m, _) in r.methods {
            for name in [m.as_str(), if *m == Method::GET { "HEAD" } else { "" }] {
                if !name.is_empty() && !names.contains(&name) {
                    names.push(name);
                }
            }
        }
    }
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op_of(path: &str, method: Method) -> Option<(Op, Params<'_>)> {
        let m = find(path)?;
        Some((m.op(&method)?, m.params))
    }

    #[test]
    fn slashes_are_counted_exactly_whatever_the_bytes_around_them() {
        let mut cases: Vec<Vec<u8>> = vec![
            b"".to_vec(),
            b"/".to_vec(),
            b"api/databases/my-db-123/backups".to_vec(),
            b"////////////////////".to_vec(),
            vec![b'/' ^ 0x80; 17],
            vec![b'/' + 1; 9],
            vec![b'/' - 1; 9],
            (0..=255u8).collect(),
        ];
        cases.push((0..=255u8).rev().cycle().take(1000).collect());
        for bytes in cases {
            let naive = bytes.iter().filter(|b| **b == b'/').count();
            assert_eq!(count_slashes(&bytes), naive, "{bytes:?}");
        }
    }

    #[test]
    fn api_paths_name_their_operation_and_ids() {
        let p = |db, backup| Params {
            db,
            backup,
            ..Params::default()
        };
        assert_eq!(
            op_of("/api/databases/my-db-123/backups", Method::GET),
            Some((ListBackups, p("my-db-123", "")))
        );
        assert_eq!(
            op_of("/api/databases/my-db-123/backups/", Method::POST),
            Some((CreateBackup, p("my-db-123", "")))
        );
        assert_eq!(
            op_of("/api/databases/d/backups/b/archive", Method::GET),
            Some((ArchiveLink, p("d", "b")))
        );
        assert_eq!(op_of("/api/backups/b", Method::GET), Some((ShowBackupById, p("", "b"))));
        assert_eq!(
            op_of("/api/databases/d", Method::PATCH),
            Some((UpdateDatabase, p("d", "")))
        );
        assert_eq!(
            op_of("/api/databases/d", Method::PUT),
            Some((UpdateDatabase, p("d", "")))
        );
        assert_eq!(
            op_of("/api/databases/d", Method::HEAD),
            Some((ShowDatabase, p("d", "")))
        );
    }

    #[test]
    fn unknown_or_malformed_paths_match_nothing() {
        for p in [
            "",
            "/",
            "/api",
            "/api/databases",
            "/api/databases//backups",
            "/api/databases/d/backups/b/archive/x",
            "/x/y/z/a/b/c/d/e/f",
            // A literal matches a whole segment, not a prefix of one.
            "/_fake/healthz",
            "/apix/backups/b",
            "/api/databases/d/backupsx",
            "//api/databases/d/backups",
            "/api/databases/d/backups//",
        ] {
            assert!(find(p).is_none(), "{p}");
        }
    }

    /// The route a path names, by the plainest reading of the table (split
    /// into `templates`): split the path into segments and compare them with
    /// each template's.
    fn find_by_splitting(templates: &[(&'static str, Vec<&str>)], path: &str) -> Option<(&'static str, [String; 4])> {
        let path = path.strip_suffix('/').unwrap_or(path);
        let segs: Vec<&str> = path.strip_prefix('/')?.split('/').collect();
        if segs.iter().any(|s| s.is_empty()) {
            return None;
        }
        templates.iter().find_map(|(template, words)| {
            if words.len() != segs.len() {
                return None;
            }
            let mut params: [String; 4] = Default::default();
            for (t, s) in words.iter().zip(&segs) {
                match *t {
                    ":db" | ":addon" => params[0] = s.to_string(),
                    ":backup" => params[1] = s.to_string(),
                    ":app" => params[2] = s.to_string(),
                    ":fault" => params[3] = s.to_string(),
                    literal if literal == *s => {}
                    _ => return None,
                }
            }
            Some((*template, params))
        })
    }

    #[test]
    fn matching_agrees_with_splitting_the_path_on_paths_built_from_the_tables_words() {
        let templates: Vec<(&'static str, Vec<&str>)> = ROUTES
            .iter()
            .map(|r| (r.template, r.template.split('/').skip(1).collect()))
            .collect();
        // The templates' own words, near misses of them, ids, and the empty
        // segment.
        let mut words: Vec<String> = templates
            .iter()
            .flat_map(|(_, w)| w.iter())
            .filter(|w| !w.starts_with(':'))
            .flat_map(|w| [w.to_string(), format!("{w}x"), w[..w.len() - 1].to_string()])
            .collect();
        words.extend(["d", "b", "my-db-123", ""].map(String::from));
        words.sort();
        words.dedup();
        // Every path of up to three of those words...
        let mut paths: Vec<String> = vec![String::new(), "/".into()];
        let mut last: Vec<String> = vec![String::new()];
        for _ in 0..3 {
            last = last
                .iter()
                .flat_map(|p| words.iter().map(move |w| format!("{p}/{w}")))
                .collect();
            paths.extend(last.iter().cloned());
        }
        // ...and every template with its ids filled in, then with each of
        // its segments replaced by each word, with and without a trailing
        // slash.
        for (_, segs) in &templates {
            let filled: Vec<&str> = segs
                .iter()
                .map(|s| match *s {
                    ":db" | ":addon" => "d",
                    ":backup" => "b",
                    ":app" => "app",
                    ":fault" => "f1",
                    literal => literal,
                })
                .collect();
            for at in 0..filled.len() {
                for w in &words {
                    let mut changed = filled.clone();
                    changed[at] = w;
                    let path = format!("/{}", changed.join("/"));
                    paths.extend([format!("{path}/"), format!("{path}//"), path]);
                }
            }
        }
        assert!(paths.len() > 100_000, "{}", paths.len());
        for path in &paths {
            let found = find(path).map(|m| {
                let p = m.params;
                (m.route.template, [p.db, p.backup, p.app, p.fault].map(String::from))
            });
            assert_eq!(found, find_by_splitting(&templates, path), "{path}");
        }
    }

    #[test]
    fn allow_lists_exactly_the_methods_a_route_takes() {
        let allow = |p: &str| find(p).unwrap().route.allow();
        assert_eq!(allow("/api/databases/d/backups"), "GET, HEAD, POST");
        assert_eq!(allow("/api/databases/d"), "GET, HEAD, PATCH, PUT");
        assert_eq!(allow("/_fake/seed"), "GET, HEAD, PUT");
        assert_eq!(allow("/_fake/backups/b/fail"), "POST");
        assert_eq!(allow("/_fake/requests"), "GET, HEAD, DELETE");
        assert_eq!(allow("/_fake/faults"), "GET, HEAD, POST, DELETE");
        assert_eq!(allow("/_fake/faults/f1"), "DELETE");
        assert_eq!(allow("/_fake/databases/d/backups"), "GET, HEAD, POST");
        assert_eq!(allow("/_fake/databases/d/backups/b/download_url"), "GET, HEAD");
        assert_eq!(allow("/_fake/ui"), "GET, HEAD");
        assert_eq!(allow("/api/databases/d/backups/b/download"), "GET, HEAD");
        for route in ROUTES {
            for m in [
                Method::GET,
                Method::HEAD,
                Method::POST,
                Method::PUT,
                Method::PATCH,
                Method::DELETE,
            ] {
                assert_eq!(
                    route.op(&m).is_some(),
                    route.allow().split(", ").any(|a| a == m.as_str()),
                    "{} {m}",
                    route.template
                );
            }
        }
    }

    #[test]
    fn fault_rules_can_name_the_table_s_templates_operations_and_methods() {
        assert_eq!(plane_of_template("/api/databases/:db/backups"), Some(Api));
        assert_eq!(plane_of_template("/_fake/faults"), Some(Control));
        assert_eq!(plane_of_template("/api/databases/my-db/backups"), None);
        assert_eq!(plane_of_operation("backups.download"), Some(Download));
        assert_eq!(plane_of_operation("tokens.exchange"), Some(Platform));
        assert_eq!(plane_of_operation("fake.faults.add"), Some(Control));
        assert_eq!(plane_of_operation("backups.nope"), None);
        assert_eq!(methods_outside(Control), ["GET", "HEAD", "POST", "PATCH", "PUT"]);
        assert_eq!(find("/_fake/faults/f7").unwrap().params.fault, "f7");
    }

    #[test]
    fn every_template_fits_the_matcher_and_no_two_routes_share_a_template() {
        for (i, r) in ROUTES.iter().enumerate() {
            assert!(r.template.split('/').count() - 1 <= MAX_SEGMENTS, "{}", r.template);
            assert!(!ROUTES[..i].iter().any(|o| o.template == r.template), "{}", r.template);
        }
    }
}
