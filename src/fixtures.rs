//! Fixture files: the JSON format, loading a file or a folder of them, the
//! embedded default set, and validation that names the file, line and column
//! of what is wrong.
//!
//! Loading is all or nothing: [`load_path`] and the embedded set give either
//! every database of every file, checked, or the first error. Syntax, type and
//! unknown-field errors carry serde_json's position; rule errors (a `done`
//! backup without a size, a duplicate id…) point at the offending backup's or
//! database's `"id"` in the text.
//!
//! The format is described in the README ("Fixture format"); in short:
//!
//! ```json
//! {"databases": [{
//!   "id": "my-db-123", "database_id": "597601234ffb097af4f3099b",
//!   "resource_name": "kibana-3938", "type": "postgresql", "app": "kibana",
//!   "tokens": ["my-db-123-token"],
//!   "periodic_backups_enabled": true, "periodic_backups_scheduled_at": [1],
//!   "backups": [{"id": "5b8b36104ffb090be1ac3ce1",
//!                "created_at": "2018-09-02T03:00:00.178+02:00",
//!                "started_at": "2018-09-02T03:02:00.154+01:00",
//!                "size": 17484513608, "status": "done", "method": "periodic"}]
//! }]}
//! ```

use std::collections::HashSet;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::lifecycle::{LifecyclePatch, Outcome};
use crate::model::{
    DatabaseFeature, DatabaseStatus, FeatureStatus, InstanceStatus, InstanceType, MaintenanceWindow, Method, Status,
};
use crate::timestamp::Timestamp;

/// The default data set, compiled into the crate.
pub(crate) const EMBEDDED: &str = include_str!("../fixtures/default.json");
/// The name the embedded set is reported under.
pub(crate) const EMBEDDED_NAME: &str = "<embedded>/default.json";

/// A fixture file that could not be loaded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FixtureError {
    /// The file.
    pub path: PathBuf,
    /// 1-based line, 0 when the error is about the file as a whole.
    pub line: usize,
    /// 1-based column, 0 when the error is about the file as a whole.
    pub column: usize,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for FixtureError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}: {}", self.path.display(), self.message)
        } else {
            write!(
                f,
                "{}:{}:{}: {}",
                self.path.display(),
                self.line,
                self.column,
                self.message
            )
        }
    }
}

impl std::error::Error for FixtureError {}

/// One fixture file as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a fixture file: an object {\"databases\": [...]}")]
struct FileFixture {
    databases: Vec<DatabaseFixture>,
}

/// A database as written in a fixture file.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseFixture {
    /// The addon id used in paths (`my-db-123`, `ad-…`).
    pub id: String,
    /// The internal database id, 24 hex (also accepted in paths).
    pub database_id: String,
    /// The resource name: the suffix of backup names.
    pub resource_name: String,
    /// `postgresql`, `mysql`, `mongodb`, `redis`, `influxdb`, `elasticsearch`, `opensearch`.
    #[serde(rename = "type")]
    pub db_type: String,
    /// The app the addon belongs to.
    pub app: String,
    /// The addon plan.
    #[serde(default)]
    pub plan: Option<String>,
    /// The engine version shown to people.
    #[serde(default)]
    pub version: Option<String>,
    /// When the database was created.
    #[serde(default)]
    pub created_at: Option<Timestamp>,
    /// Where the deployment stands (default `running`).
    #[serde(default)]
    pub status: DatabaseStatus,
    /// The host name (default `<resource_name>.<type>.db.fake.scalingo.test`).
    #[serde(default)]
    pub hostname: Option<String>,
    /// The database's features (default: none).
    #[serde(default)]
    pub features: Vec<FeatureFixture>,
    /// The weekly maintenance window; each field left out takes its default
    /// (Tuesday, 03:00 UTC, 8 hours).
    #[serde(default)]
    pub maintenance_window: MaintenanceWindowFixture,
    /// The instances (default: one `db-node` on the database's host name and
    /// its type's port).
    #[serde(default)]
    pub instances: Option<Vec<InstanceFixture>>,
    /// Bearer tokens valid for this database only.
    #[serde(default)]
    pub tokens: Vec<String>,
    /// Whether daily backups are taken.
    #[serde(default)]
    pub periodic_backups_enabled: bool,
    /// Hours (UTC) of the daily backups.
    #[serde(default)]
    pub periodic_backups_scheduled_at: Vec<u8>,
    /// This database's own seed (default: derived from the global seed and
    /// the addon id).
    #[serde(default)]
    pub seed: Option<u64>,
    /// Lifecycle settings for this database's new backups.
    #[serde(default)]
    pub lifecycle: LifecyclePatch,
    /// The backups, in any order (the API lists them newest first).
    #[serde(default)]
    pub backups: Vec<BackupFixture>,
}

/// A database feature as written in a fixture file.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeatureFixture {
    /// The feature's name (`force-ssl`, …).
    pub name: String,
    /// `ACTIVATED` (default), `PENDING` or `FAILED`.
    #[serde(default)]
    pub status: FeatureStatus,
}

impl FeatureFixture {
    /// The feature as the API shows it.
    ///
    /// ```
    /// use std::path::Path;
    /// use scalingo_db_fake::{fixtures::parse_str, FeatureStatus};
    /// let json = r#"{"databases": [{"id": "db-1", "database_id": "597601234ffb097af4f3099b", "resource_name": "r-1", "type": "postgresql", "app": "a", "features": [{"name": "force-ssl"}]}]}"#;
    /// let set = parse_str(json, Path::new("db.json")).unwrap();
    /// let feature = set.databases[0].features[0].feature();
    /// assert_eq!((feature.name.as_str(), feature.status), ("force-ssl", FeatureStatus::Activated));
    /// ```
    pub fn feature(&self) -> DatabaseFeature {
        DatabaseFeature {
            name: self.name.clone(),
            status: self.status,
        }
    }
}

/// A maintenance window as written in a fixture file: each field optional.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MaintenanceWindowFixture {
    /// 0 (Sunday) to 6 (Saturday); default 2.
    #[serde(default)]
    pub weekday_utc: Option<u64>,
    /// 0 to 23; default 3.
    #[serde(default)]
    pub starting_hour_utc: Option<u64>,
    /// 1 to 24; default 8.
    #[serde(default)]
    pub duration_in_hour: Option<u64>,
}

impl MaintenanceWindowFixture {
    /// The window, defaults filled in, or what is out of range.
    ///
    /// ```
    /// use scalingo_db_fake::{fixtures::MaintenanceWindowFixture, MaintenanceWindow};
    /// let w = MaintenanceWindowFixture { weekday_utc: Some(1), ..Default::default() }.window().unwrap();
    /// assert_eq!(w, MaintenanceWindow { weekday_utc: 1, ..MaintenanceWindow::default() });
    /// assert!(MaintenanceWindowFixture { weekday_utc: Some(7), ..Default::default() }.window().is_err());
    /// ```
    pub fn window(&self) -> Result<MaintenanceWindow, String> {
        let d = MaintenanceWindow::default();
        Ok(MaintenanceWindow {
            weekday_utc: self
                .weekday_utc
                .map_or(Ok(d.weekday_utc), MaintenanceWindow::check_weekday)?,
            starting_hour_utc: self
                .starting_hour_utc
                .map_or(Ok(d.starting_hour_utc), MaintenanceWindow::check_starting_hour)?,
            duration_in_hour: self
                .duration_in_hour
                .map_or(Ok(d.duration_in_hour), MaintenanceWindow::check_duration)?,
        })
    }
}

/// An instance as written in a fixture file: each field optional.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InstanceFixture {
    /// Default: 24 hex derived from the database id and the instance's rank.
    #[serde(default)]
    pub id: Option<String>,
    /// Default: the database's host name.
    #[serde(default)]
    pub hostname: Option<String>,
    /// Default: the type's port (5432 for PostgreSQL, …).
    #[serde(default)]
    pub port: Option<u16>,
    /// Default `running`.
    #[serde(default)]
    pub status: InstanceStatus,
    /// `db-node` (default), `utility` or `haproxy`.
    #[serde(default, rename = "type")]
    pub instance_type: InstanceType,
    /// Default: none.
    #[serde(default)]
    pub features: Vec<String>,
    /// Default `10.0.0.<rank + 1>`.
    #[serde(default)]
    pub private_ip: Option<String>,
}

/// A backup as written in a fixture file.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BackupFixture {
    /// 24 lowercase hex.
    pub id: String,
    /// When it was created.
    pub created_at: Timestamp,
    /// When it started (kept as written).
    #[serde(default)]
    pub started_at: Option<Timestamp>,
    /// Defaults to `YYYYMMDDHHMMSS_<resource>` from `created_at`.
    #[serde(default)]
    pub name: Option<String>,
    /// Bytes; required when `status` is `done`.
    #[serde(default)]
    pub size: Option<u64>,
    /// Kept as written; leave it out and give `progress` for a backup that
    /// moves on the clock.
    #[serde(default)]
    pub status: Option<Status>,
    /// Must be the database's `database_id` when given.
    #[serde(default)]
    pub database_id: Option<String>,
    /// Defaults to `periodic`.
    #[serde(default)]
    pub method: Option<Method>,
    /// Must be the database's type when given.
    #[serde(default, rename = "type")]
    pub db_type: Option<String>,
    /// A real file served as the archive (relative to the fixture file).
    #[serde(default)]
    pub archive_file: Option<PathBuf>,
    /// Makes the backup progress from `created_at` on the clock.
    #[serde(default)]
    pub progress: Option<ProgressFixture>,
}

/// A fixture backup that moves on the clock, like a new one.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProgressFixture {
    /// `done` or `error`.
    pub outcome: Outcome,
    /// The final size if done (defaults to the lifecycle's `size_min`).
    #[serde(default)]
    pub size: Option<u64>,
    /// Seconds it stays `scheduled` (default: the database's lifecycle).
    #[serde(default)]
    pub scheduled_secs: Option<f64>,
    /// Seconds it then stays `pending` (default: the database's lifecycle).
    #[serde(default)]
    pub pending_secs: Option<f64>,
    /// Seconds it then stays `running` (default: the database's lifecycle).
    #[serde(default)]
    pub running_secs: Option<f64>,
}

impl ProgressFixture {
    /// The lifecycle fields this backup sets for itself.
    ///
    /// ```
    /// use scalingo_db_fake::{fixtures::ProgressFixture, LifecyclePatch};
    /// let p: ProgressFixture = serde_json::from_value(serde_json::json!({"outcome": "done", "running_secs": 30})).unwrap();
    /// assert_eq!(p.phases(), LifecyclePatch { running_secs: Some(30.0), ..Default::default() });
    /// ```
    pub fn phases(&self) -> LifecyclePatch {
        LifecyclePatch {
            scheduled_secs: self.scheduled_secs,
            pending_secs: self.pending_secs,
            running_secs: self.running_secs,
            ..LifecyclePatch::default()
        }
    }
}

/// What loading gives: databases with their source, ready for the store.
#[derive(Clone, Debug, Default)]
pub struct FixtureSet {
    /// Every database of every file, in file order.
    pub databases: Vec<DatabaseFixture>,
}

/// Loads the embedded default set.
pub(crate) fn load_embedded() -> Result<FixtureSet, FixtureError> {
    let mut set = FixtureSet::default();
    let mut seen = Seen::default();
    load_text(EMBEDDED, Path::new(EMBEDDED_NAME), Files::Refused, &mut set, &mut seen)?;
    Ok(set)
}

/// Loads a fixture file, or every `*.json` file of a folder (in name order);
/// an `archive_file` must be a regular file inside the fixture file's folder.
///
/// ```
/// use scalingo_db_fake::fixtures::load_path;
/// let path = std::env::temp_dir().join(format!("fake-doc-load-path-{}.json", std::process::id()));
/// std::fs::write(&path, r#"{"databases": [{"id": "db-1", "database_id": "597601234ffb097af4f3099b", "resource_name": "r-1", "type": "postgresql", "app": "a"}]}"#).unwrap();
/// assert_eq!(load_path(&path).unwrap().databases[0].id, "db-1");
/// # std::fs::remove_file(&path).unwrap();
/// assert!(load_path(&path).is_err()); // no such file
/// ```
pub fn load_path(path: &Path) -> Result<FixtureSet, FixtureError> {
    load_path_in(path, None)
}

/// Like [`load_path`], with the files an `archive_file` may name confined to
/// `archive_root` (symlinks resolved) instead of each fixture file's folder.
///
/// ```
/// use scalingo_db_fake::fixtures::load_path_in;
/// let dir = std::env::temp_dir().join(format!("fake-doc-load-path-in-{}", std::process::id()));
/// std::fs::create_dir_all(&dir).unwrap();
/// std::fs::write(dir.join("a.json"), r#"{"databases": [{"id": "db-1", "database_id": "597601234ffb097af4f3099b", "resource_name": "r-1", "type": "postgresql", "app": "a"}]}"#).unwrap();
/// let set = load_path_in(&dir, Some(&dir)).unwrap(); // a folder: every *.json in it
/// assert_eq!(set.databases[0].resource_name, "r-1");
/// # std::fs::remove_dir_all(&dir).unwrap();
/// ```
pub fn load_path_in(path: &Path, archive_root: Option<&Path>) -> Result<FixtureSet, FixtureError> {
    let whole = |message: String| FixtureError {
        path: path.to_path_buf(),
        line: 0,
        column: 0,
        message,
    };
    let meta = std::fs::metadata(path).map_err(|e| whole(format!("cannot read: {e}")))?;
    let files = if meta.is_dir() {
        let mut files = Vec::new();
        for entry in std::fs::read_dir(path).map_err(|e| whole(format!("cannot list: {e}")))? {
            let entry = entry.map_err(|e| whole(format!("cannot list: {e}")))?;
            let p = entry.path();
            if p.extension().is_some_and(|e| e == "json") && p.is_file() {
                files.push(p);
            }
        }
        files.sort();
        if files.is_empty() {
            return Err(whole("the folder holds no *.json fixture file".into()));
        }
        files
    } else {
        vec![path.to_path_buf()]
    };
    let mut set = FixtureSet::default();
    let mut seen = Seen::default();
    for file in files {
        let text = std::fs::read_to_string(&file).map_err(|e| FixtureError {
            path: file.clone(),
            line: 0,
            column: 0,
            message: format!("cannot read: {e}"),
        })?;
        let base = file.parent().map(Path::to_path_buf).unwrap_or_default();
        let root = archive_root.unwrap_or(&base);
        load_text(&text, &file, Files::Beside(&base, root), &mut set, &mut seen)?;
    }
    Ok(set)
}

/// Parses fixture text (as if read from `path`) on its own.
///
/// ```
/// use std::path::Path;
/// use scalingo_db_fake::fixtures::parse_str;
/// let json = r#"{"databases": [{"id": "db-1", "database_id": "597601234ffb097af4f3099b", "resource_name": "r-1", "type": "postgresql", "app": "a"}]}"#;
/// assert_eq!(parse_str(json, Path::new("db.json")).unwrap().databases[0].id, "db-1");
/// let err = parse_str(r#"{"databases": [{"id": "db-1"}]}"#, Path::new("bad.json")).unwrap_err();
/// assert_eq!((err.path.to_str(), err.line), (Some("bad.json"), 1));
/// ```
pub fn parse_str(text: &str, path: &Path) -> Result<FixtureSet, FixtureError> {
    let mut set = FixtureSet::default();
    let mut seen = Seen::default();
    let base = path.parent().map(Path::to_path_buf);
    let files = base.as_deref().map_or(Files::Refused, |b| Files::Beside(b, b));
    load_text(text, path, files, &mut set, &mut seen)?;
    Ok(set)
}

/// Parses fixture text given at run time (a control request, not a file):
/// checked like a file, but `archive_file` is refused (a request may not make
/// the fake serve files from disk).
pub(crate) fn parse_request(text: &str, what: &str) -> Result<FixtureSet, FixtureError> {
    let mut set = FixtureSet::default();
    let mut seen = Seen::default();
    load_text(text, Path::new(what), Files::Refused, &mut set, &mut seen)?;
    Ok(set)
}

/// Parses a state given at run time (`PUT /_fake/state`): checked like a
/// file; an `archive_file` must be one the fixtures loaded at start already
/// serve (`allowed`, as they resolved it), so an import cannot make the fake
/// serve any other file from disk.
pub(crate) fn parse_state(text: &str, allowed: &HashSet<PathBuf>) -> Result<FixtureSet, FixtureError> {
    let mut set = FixtureSet::default();
    let mut seen = Seen::default();
    load_text(text, Path::new("<state>"), Files::Only(allowed), &mut set, &mut seen)?;
    Ok(set)
}

/// Where a fixture's `archive_file` may point.
#[derive(Clone, Copy)]
enum Files<'a> {
    /// Relative to the fixture file's folder (the first path), and inside the
    /// second once symlinks are resolved.
    Beside(&'a Path, &'a Path),
    /// Only these files, as written (already resolved).
    Only(&'a HashSet<PathBuf>),
    /// Nowhere: the embedded set and run-time requests.
    Refused,
}

/// Ids already taken, across files.
#[derive(Default)]
struct Seen {
    addon_ids: HashSet<String>,
    database_ids: HashSet<String>,
    backup_ids: HashSet<String>,
}

fn load_text(
    text: &str,
    path: &Path,
    base: Files<'_>,
    set: &mut FixtureSet,
    seen: &mut Seen,
) -> Result<(), FixtureError> {
    let file: FileFixture = serde_json::from_str(text).map_err(|e| FixtureError {
        path: path.to_path_buf(),
        line: e.line(),
        column: char_column(text, e.line(), e.column()),
        message: e.to_string().split(" at line ").next().unwrap_or_default().to_string(),
    })?;
    let mut occurrences = Occurrences::new(text);
    for mut db in file.databases {
        let db_pos = occurrences.advance(&db.id);
        let at_db = |occ: &mut Occurrences, message: String| {
            let (line, column) = occ.line_column(db_pos);
            FixtureError {
                path: path.to_path_buf(),
                line,
                column,
                message: format!("database `{}`: {message}", db.id),
            }
        };
        if let Err(m) = check_database(&db) {
            return Err(at_db(&mut occurrences, m));
        }
        if !seen.addon_ids.insert(db.id.clone()) || seen.database_ids.contains(&db.id) {
            let e = at_db(&mut occurrences, "this id is used by an earlier database".into());
            return Err(e);
        }
        if !seen.database_ids.insert(db.database_id.clone())
            || seen.addon_ids.contains(&db.database_id) && db.database_id != db.id
        {
            let e = at_db(
                &mut occurrences,
                format!("database_id `{}` is used by an earlier database", db.database_id),
            );
            return Err(e);
        }
        let mut backups = std::mem::take(&mut db.backups);
        for backup in &mut backups {
            let pos = occurrences.advance(&backup.id);
            let rule = if !seen.backup_ids.insert(backup.id.clone()) {
                Err(format!("backup id `{}` is used twice", backup.id))
            } else {
                check_backup(&db, backup, base)
            };
            if let Err(message) = rule {
                let (line, column) = occurrences.line_column(pos);
                return Err(FixtureError {
                    path: path.to_path_buf(),
                    line,
                    column,
                    message: format!("backup `{}` of database `{}`: {message}", backup.id, db.id),
                });
            }
        }
        db.backups = backups;
        set.databases.push(db);
    }
    Ok(())
}

fn check_database(db: &DatabaseFixture) -> Result<(), String> {
    if db.id.is_empty()
        || !db
            .id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err("id must be letters, digits, `-` or `_` (it is used in URLs)".into());
    }
    if !is_object_id(&db.database_id) {
        return Err(format!(
            "database_id `{}` must be 24 lowercase hex characters",
            db.database_id
        ));
    }
    let printable = |s: &str| s.bytes().all(|c| c.is_ascii_graphic() && !b"/\\\"".contains(&c));
    if db.resource_name.is_empty() || db.resource_name.len() > 64 || !printable(&db.resource_name) {
        return Err(
            "resource_name must be 1 to 64 printable ASCII characters, without spaces, `/`, `\\` or `\"` (it names backups and archive entries)"
                .into(),
        );
    }
    if let Some(h) = db.periodic_backups_scheduled_at.iter().find(|h| **h > 23) {
        return Err(format!("periodic_backups_scheduled_at: {h} is not an hour (0 to 23)"));
    }
    if db.tokens.iter().any(|t| t.is_empty()) {
        return Err("tokens must not be empty strings".into());
    }
    check_deployment(db)?;
    let life = crate::lifecycle::Lifecycle::default().patched(&db.lifecycle);
    if let Err(errors) = life.validate() {
        let (field, message) = &errors[0];
        return Err(format!("lifecycle.{field} {message}"));
    }
    Ok(())
}

/// The rules of what the database object shows of the deployment: host
/// names, features, maintenance window, instances.
fn check_deployment(db: &DatabaseFixture) -> Result<(), String> {
    if let Some(h) = db.hostname.as_deref().filter(|h| !is_hostname(h)) {
        return Err(format!(
            "hostname `{h}` must be letters, digits, `-` and `.` (1 to 253)"
        ));
    }
    let mut names = HashSet::new();
    for f in &db.features {
        if f.name.is_empty() || !f.name.bytes().all(|c| c.is_ascii_graphic()) {
            return Err("features: a name must be printable ASCII without spaces".into());
        }
        if !names.insert(f.name.as_str()) {
            return Err(format!("features: `{}` is listed twice", f.name));
        }
    }
    db.maintenance_window
        .window()
        .map_err(|m| format!("maintenance_window.{m}"))?;
    let Some(instances) = &db.instances else {
        return Ok(());
    };
    if instances.is_empty() {
        return Err("instances must list at least one instance (leave it out for one db-node)".into());
    }
    for (i, inst) in instances.iter().enumerate() {
        check_instance(inst).map_err(|m| format!("instances[{i}].{m}"))?;
    }
    Ok(())
}

fn check_instance(inst: &InstanceFixture) -> Result<(), String> {
    if let Some(id) = inst.id.as_deref() {
        if id.is_empty() || !id.bytes().all(|c| c.is_ascii_graphic()) {
            return Err("id must be printable ASCII without spaces".into());
        }
    }
    if let Some(h) = inst.hostname.as_deref().filter(|h| !is_hostname(h)) {
        return Err(format!(
            "hostname `{h}` must be letters, digits, `-` and `.` (1 to 253)"
        ));
    }
    if inst.port == Some(0) {
        return Err("port must be 1 to 65535".into());
    }
    if let Some(ip) = &inst.private_ip {
        if ip.parse::<std::net::IpAddr>().is_err() {
            return Err(format!("private_ip `{ip}` is not an IP address"));
        }
    }
    if inst.features.iter().any(|f| f.is_empty()) {
        return Err("features must not be empty strings".into());
    }
    Ok(())
}

/// Whether `h` can be a host name: letters, digits, `-` and `.`, 1 to 253.
fn is_hostname(h: &str) -> bool {
    !h.is_empty() && h.len() <= 253 && h.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'.')
}

fn check_backup(db: &DatabaseFixture, b: &mut BackupFixture, base: Files<'_>) -> Result<(), String> {
    let sizes = [b.size, b.progress.as_ref().and_then(|p| p.size)];
    if let Some(n) = sizes.into_iter().flatten().find(|n| *n > crate::lifecycle::MAX_SIZE) {
        return Err(format!(
            "size {n} is over {} bytes (2^53 - 1, the largest every JSON client reads exactly)",
            crate::lifecycle::MAX_SIZE
        ));
    }
    if !is_object_id(&b.id) {
        return Err("id must be 24 lowercase hex characters".into());
    }
    if let Some(id) = &b.database_id {
        if *id != db.database_id {
            return Err(format!(
                "database_id `{id}` is not this database's (`{}`)",
                db.database_id
            ));
        }
    }
    if let Some(t) = &b.db_type {
        if *t != db.db_type {
            return Err(format!("type `{t}` is not this database's (`{}`)", db.db_type));
        }
    }
    resolve_archive_file(b, base)?;
    let name = b
        .name
        .clone()
        .unwrap_or_else(|| crate::model::backup_name(&b.created_at, &db.resource_name));
    if name.is_empty() || name.len() > 90 || !name.bytes().all(|c| c.is_ascii_graphic() && !b"/\\\"".contains(&c)) {
        return Err(
            "name must be 1 to 90 printable ASCII characters, without spaces, `/`, `\\` or `\"` (it names the archive's file)"
                .into(),
        );
    }
    if let Some(p) = &b.progress {
        if b.status.is_some() || b.started_at.is_some() || b.size.is_some() {
            return Err(
                "a backup with `progress` takes its status, started_at and size from the clock: leave them out".into(),
            );
        }
        if let Err(errors) = crate::lifecycle::Lifecycle::default().patched(&p.phases()).validate() {
            let (field, message) = &errors[0];
            return Err(format!("progress {field} {message}"));
        }
        if let (Outcome::Done, Some(size), None) = (p.outcome, p.size, &b.archive_file) {
            check_archive_size(db, b, &name, size)?;
        }
        return Ok(());
    }
    check_status(db, b, &name)
}

/// Resolves `archive_file` against the fixture's folder and takes the
/// backup's size from the file (checking a size given too).
fn resolve_archive_file(b: &mut BackupFixture, files: Files<'_>) -> Result<(), String> {
    let Some(file) = &b.archive_file else {
        return Ok(());
    };
    let full = match files {
        Files::Beside(base, root) => confined(&base.join(file), root)?,
        Files::Only(allowed) if allowed.contains(file) => file.clone(),
        Files::Only(_) => {
            return Err(format!(
                "archive_file `{}` is not one the fixtures loaded at start serve",
                file.display()
            ))
        }
        Files::Refused => return Err("archive_file can only be used in fixture files loaded at start".into()),
    };
    let len = std::fs::metadata(&full)
        .map_err(|e| format!("archive_file `{}`: {e}", full.display()))?
        .len();
    let given = b.size.or(b.progress.as_ref().and_then(|p| p.size));
    match given {
        Some(size) if size != len => {
            return Err(format!(
                "size {size} is not the length of archive_file `{}` ({len} bytes)",
                full.display()
            ))
        }
        _ if b.progress.is_some() => {
            if let Some(p) = &mut b.progress {
                p.size = Some(len);
            }
        }
        _ => b.size = Some(len),
    }
    b.archive_file = Some(full);
    Ok(())
}

/// `path` with its symlinks resolved, when it is a regular file inside
/// `root` (symlinks resolved too); else why not.
fn confined(path: &Path, root: &Path) -> Result<PathBuf, String> {
    let shown = path.display();
    let real = std::fs::canonicalize(path).map_err(|e| format!("archive_file `{shown}`: {e}"))?;
    let meta = std::fs::metadata(&real).map_err(|e| format!("archive_file `{shown}`: {e}"))?;
    if !meta.is_file() {
        return Err(format!(
            "archive_file `{shown}` is not a regular file (a directory, a FIFO or a device cannot be served)"
        ));
    }
    let real_root = std::fs::canonicalize(root).map_err(|e| format!("archive root `{}`: {e}", root.display()))?;
    if !real.starts_with(&real_root) {
        return Err(format!(
            "archive_file `{shown}` resolves to `{}`, outside `{}`: only files under the fixture's folder (or --archive-root) are served",
            real.display(),
            real_root.display()
        ));
    }
    Ok(real)
}

/// The rules of a backup with a fixed `status`.
fn check_status(db: &DatabaseFixture, b: &BackupFixture, name: &str) -> Result<(), String> {
    match b.status {
        None => return Err("give a `status`, or a `progress` to make it move on the clock".into()),
        Some(Status::Scheduled) if b.archive_file.is_some() => {
            return Err("only a done backup has an archive: remove archive_file or make it done".into());
        }
        Some(Status::Scheduled) => {
            if b.started_at.is_some() || b.size.is_some() {
                return Err("a scheduled backup has a null started_at and a null size".into());
            }
        }
        Some(Status::Done) => {
            let Some(size) = b.size else {
                return Err("a done backup needs its size (bytes of its archive)".into());
            };
            if b.started_at.is_none() {
                return Err("a done backup needs its started_at".into());
            }
            if b.archive_file.is_none() {
                check_archive_size(db, b, name, size)?;
            }
        }
        Some(status) => {
            if b.archive_file.is_some() {
                return Err(format!(
                    "only a done backup has an archive: remove archive_file or make it done (it is {})",
                    status.as_str()
                ));
            }
            if let Some(n) = b.size.filter(|n| *n != 0) {
                return Err(format!(
                    "a backup whose status is {} has size 0, not {n}",
                    status.as_str()
                ));
            }
        }
    }
    Ok(())
}

fn check_archive_size(db: &DatabaseFixture, b: &BackupFixture, name: &str, size: u64) -> Result<(), String> {
    let min = crate::download::min_archive_size(&db.db_type, &db.id, &b.id, name);
    if size < min {
        return Err(format!(
            "size {size} is too small for a valid .tar.gz archive of this backup: at least {min} bytes"
        ));
    }
    Ok(())
}

/// serde_json counts columns in bytes; people and editors count characters.
/// Converts a 1-based byte column of `line` to a 1-based character column
/// (at least 1, also for an empty file).
fn char_column(text: &str, line: usize, byte_column: usize) -> usize {
    let Some(l) = text.split('\n').nth(line.saturating_sub(1)) else {
        return byte_column.max(1);
    };
    let mut end = byte_column.min(l.len());
    while !l.is_char_boundary(end) {
        end -= 1;
    }
    let chars = l[..end].chars().count();
    // A column past the last byte read (serde points after it) stays past.
    (chars + byte_column.saturating_sub(l.len())).max(1)
}

/// Whether `s` is 24 lowercase hex characters, like a MongoDB ObjectId.
pub(crate) fn is_object_id(s: &str) -> bool {
    s.len() == 24 && s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Finds where ids stand in the text, so rule errors can name a line and
/// column. Ids are looked up in document order, each search starting after
/// the previous find, so the whole file is scanned once and the second
/// occurrence of a duplicated id is the one reported.
struct Occurrences<'a> {
    text: &'a str,
    cursor: usize,
}

impl<'a> Occurrences<'a> {
    fn new(text: &'a str) -> Self {
        Self { text, cursor: 0 }
    }

    /// Moves past the next `"id": "<id>"` and returns the byte offset of
    /// the value.
    fn advance(&mut self, id: &str) -> Option<usize> {
        let needle = serde_json::to_string(id).unwrap_or_default();
        let pos = self
            .find_id_value(&needle, self.cursor)
            .or_else(|| self.find_id_value(&needle, 0))?;
        self.cursor = pos + needle.len();
        Some(pos)
    }

    /// The first occurrence of `needle` at or after `from` that is the value
    /// of an `"id"` key.
    fn find_id_value(&self, needle: &str, from: usize) -> Option<usize> {
        let mut at = from;
        loop {
            let pos = self.text.get(at..)?.find(needle)? + at;
            let before = self.text[..pos].trim_end();
            if let Some(key) = before.strip_suffix(':') {
                if key.trim_end().ends_with("\"id\"") {
                    return Some(pos);
                }
            }
            at = pos + needle.len();
        }
    }

    /// Line and column (1-based) of byte offset `pos`.
    fn line_column(&self, pos: Option<usize>) -> (usize, usize) {
        let Some(before) = pos.and_then(|p| self.text.get(..p)) else {
            return (0, 0);
        };
        let line = before.matches('\n').count() + 1;
        let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        (line, column)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_set_and_the_example_file_load() {
        let set = load_embedded().unwrap();
        assert_eq!(set.databases[0].id, "my-db-123");
        let example = load_path(&Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/example.json")).unwrap();
        assert_eq!(example.databases[0].backups.len(), 3);
    }

    #[test]
    fn rule_errors_point_at_the_offending_id() {
        let text = "{\"databases\":[{\"id\":\"d\",\"database_id\":\"aaaaaaaaaaaaaaaaaaaaaaaa\",\n\"resource_name\":\"r\",\"type\":\"postgresql\",\"app\":\"a\",\"backups\":[\n{\"id\":\"bbbbbbbbbbbbbbbbbbbbbbbb\",\"created_at\":\"2018-09-02T03:00:00.178+02:00\",\"status\":\"done\"}]}]}";
        let e = parse_str(text, Path::new("f.json")).unwrap_err();
        assert_eq!((e.line, e.column), (3, 7), "{e}");
        assert!(e.message.contains("needs its size"), "{e}");
    }

    #[test]
    fn names_that_cannot_name_an_archive_entry_are_refused() {
        let long = "x".repeat(91);
        let text = format!(
            "{{\"databases\":[{{\"id\":\"d\",\"database_id\":\"aaaaaaaaaaaaaaaaaaaaaaaa\",\"resource_name\":\"r\",\"type\":\"postgresql\",\"app\":\"a\",\"backups\":[{{\"id\":\"bbbbbbbbbbbbbbbbbbbbbbbb\",\"name\":\"{long}\",\"created_at\":\"2018-09-02T03:00:00.178+02:00\",\"status\":\"error\"}}]}}]}}"
        );
        let e = parse_str(&text, Path::new("f.json")).unwrap_err();
        assert!(e.message.contains("1 to 90"), "{e}");
        let text = text
            .replace(&long, "ok")
            .replace("\"r\"", &format!("\"{}\"", "r".repeat(65)));
        let e = parse_str(&text, Path::new("f.json")).unwrap_err();
        assert!(e.message.contains("resource_name"), "{e}");
    }
}
