//! Which operation a request path names, and which methods it accepts
//! (spec §2 and §7). Paths are matched segment by segment; a trailing slash or
//! an empty query (`…/backups?`, as go-scalingo sends) changes nothing.

use hyper::Method;

/// An operation of the fake, with the ids its path carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Route<'a> {
    /// `/api/databases/:db/backups`: list (GET), create (POST).
    Backups { db: &'a str },
    /// `/api/databases/:db/backups/:backup`: show.
    Backup { db: &'a str, backup: &'a str },
    /// `/api/backups/:backup`: show (go-scalingo's `BackupShow`).
    BackupById { backup: &'a str },
    /// `/api/databases/:db/backups/:backup/archive`: a download link.
    Archive { db: &'a str, backup: &'a str },
    /// `/api/databases/:db/backups/:backup/download`: the archive bytes.
    Download { db: &'a str, backup: &'a str },
    /// `/api/databases/:db`: show (GET), periodic settings (PATCH).
    Database { db: &'a str },
    /// `/_fake/health`.
    Health,
    /// `/_fake/clock`.
    Clock,
    /// `/_fake/lifecycle`.
    Lifecycle,
    /// `/_fake/retention`.
    Retention,
    /// `/_fake/seed`.
    Seed,
    /// `/_fake/databases/:db/lifecycle`.
    DatabaseLifecycle { db: &'a str },
    /// `/_fake/backups/:backup/complete`.
    Complete { backup: &'a str },
    /// `/_fake/backups/:backup/fail`.
    Fail { backup: &'a str },
}

impl Route<'_> {
    /// The operation's name, as logged.
    pub fn name(&self) -> &'static str {
        match self {
            Route::Backups { .. } => "backups",
            Route::Backup { .. } => "backup",
            Route::BackupById { .. } => "backup_by_id",
            Route::Archive { .. } => "archive",
            Route::Download { .. } => "download",
            Route::Database { .. } => "database",
            Route::Health => "health",
            Route::Clock => "clock",
            Route::Lifecycle => "lifecycle",
            Route::Retention => "retention",
            Route::Seed => "seed",
            Route::DatabaseLifecycle { .. } => "database_lifecycle",
            Route::Complete { .. } => "complete",
            Route::Fail { .. } => "fail",
        }
    }

    /// Whether the route belongs to the `/_fake` control API.
    pub fn is_control(&self) -> bool {
        matches!(
            self,
            Route::Health
                | Route::Clock
                | Route::Lifecycle
                | Route::Retention
                | Route::Seed
                | Route::DatabaseLifecycle { .. }
                | Route::Complete { .. }
                | Route::Fail { .. }
        )
    }

    /// The methods the route accepts, as an `Allow` header value (HEAD is
    /// accepted wherever GET is, RFC 9110 §9.3.2).
    pub fn allow(&self) -> &'static str {
        match self {
            Route::Backups { .. } | Route::Clock => "GET, HEAD, POST",
            Route::Download { .. }
            | Route::Backup { .. }
            | Route::BackupById { .. }
            | Route::Archive { .. }
            | Route::Health => "GET, HEAD",
            Route::Database { .. } => "GET, HEAD, PATCH",
            Route::Lifecycle | Route::Retention | Route::Seed | Route::DatabaseLifecycle { .. } => "GET, HEAD, PUT",
            Route::Complete { .. } | Route::Fail { .. } => "POST",
        }
    }

    /// Whether `method` is one the route accepts.
    pub fn accepts(&self, method: &Method) -> bool {
        let (get, post, put, patch) = match self {
            Route::Backups { .. } | Route::Clock => (true, true, false, false),
            Route::Database { .. } => (true, false, false, true),
            Route::Lifecycle | Route::Retention | Route::Seed | Route::DatabaseLifecycle { .. } => {
                (true, false, true, false)
            }
            Route::Complete { .. } | Route::Fail { .. } => (false, true, false, false),
            _ => (true, false, false, false),
        };
        match *method {
            Method::GET | Method::HEAD => get,
            Method::POST => post,
            Method::PUT => put,
            Method::PATCH => patch,
            _ => false,
        }
    }
}

/// The route of `path` (without its query), if any.
pub fn route(path: &str) -> Option<Route<'_>> {
    let path = path.strip_suffix('/').unwrap_or(path);
    let mut parts = path.split('/');
    if parts.next() != Some("") {
        return None;
    }
    let segs: [Option<&str>; 7] = std::array::from_fn(|_| parts.next());
    if parts.next().is_some() || segs.iter().flatten().any(|s| s.is_empty()) {
        return None;
    }
    Some(match segs {
        [Some("api"), Some("databases"), Some(db), None, ..] => Route::Database { db },
        [Some("api"), Some("databases"), Some(db), Some("backups"), None, ..] => Route::Backups { db },
        [Some("api"), Some("databases"), Some(db), Some("backups"), Some(backup), None, ..] => {
            Route::Backup { db, backup }
        }
        [Some("api"), Some("databases"), Some(db), Some("backups"), Some(backup), Some("archive"), None] => {
            Route::Archive { db, backup }
        }
        [Some("api"), Some("databases"), Some(db), Some("backups"), Some(backup), Some("download"), None] => {
            Route::Download { db, backup }
        }
        [Some("api"), Some("backups"), Some(backup), None, ..] => Route::BackupById { backup },
        [Some("_fake"), Some("health"), None, ..] => Route::Health,
        [Some("_fake"), Some("clock"), None, ..] => Route::Clock,
        [Some("_fake"), Some("lifecycle"), None, ..] => Route::Lifecycle,
        [Some("_fake"), Some("retention"), None, ..] => Route::Retention,
        [Some("_fake"), Some("seed"), None, ..] => Route::Seed,
        [Some("_fake"), Some("databases"), Some(db), Some("lifecycle"), None, ..] => Route::DatabaseLifecycle { db },
        [Some("_fake"), Some("backups"), Some(backup), Some("complete"), None, ..] => Route::Complete { backup },
        [Some("_fake"), Some("backups"), Some(backup), Some("fail"), None, ..] => Route::Fail { backup },
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_paths_name_their_operation_and_ids() {
        assert_eq!(
            route("/api/databases/my-db-123/backups"),
            Some(Route::Backups { db: "my-db-123" })
        );
        assert_eq!(
            route("/api/databases/my-db-123/backups/"),
            Some(Route::Backups { db: "my-db-123" })
        );
        assert_eq!(
            route("/api/databases/d/backups/b/archive"),
            Some(Route::Archive { db: "d", backup: "b" })
        );
        assert_eq!(route("/api/backups/b"), Some(Route::BackupById { backup: "b" }));
        assert_eq!(route("/api/databases/d"), Some(Route::Database { db: "d" }));
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
        ] {
            assert_eq!(route(p), None, "{p}");
        }
    }

    #[test]
    fn allow_lists_the_methods_a_route_takes() {
        let r = route("/api/databases/d/backups").unwrap();
        assert!(r.accepts(&Method::POST));
        assert!(!r.accepts(&Method::DELETE));
        assert_eq!(r.allow(), "GET, HEAD, POST");
        for route in [
            r,
            route("/api/databases/d").unwrap(),
            route("/_fake/seed").unwrap(),
            route("/_fake/backups/b/fail").unwrap(),
        ] {
            for m in [
                Method::GET,
                Method::HEAD,
                Method::POST,
                Method::PUT,
                Method::PATCH,
                Method::DELETE,
            ] {
                assert_eq!(
                    route.accepts(&m),
                    route.allow().split(", ").any(|a| a == m.as_str()),
                    "{route:?} {m}"
                );
            }
        }
    }
}
