//! What the store keeps of a backup and of a database: the facts that cannot
//! be derived (creation instant, phases, outcome, final size, settings), and
//! the views the API shows, derived from them at a given instant.

use std::path::PathBuf;

use crate::lifecycle::{self, Outcome, Phases};
use crate::model::{
    Backup, DatabaseFeature, DatabaseInfo, DatabaseStatus, Instance, InstanceType, MaintenanceWindow, Method, Status,
};
use crate::timestamp::Timestamp;

use super::cache::RecordCache;

/// How a backup's status is known.
#[derive(Clone, Debug)]
pub(crate) enum Progress {
    /// As written in a fixture, or set by a control call: never changes.
    Fixed {
        status: Status,
        started_at: Option<Timestamp>,
        size: Option<u64>,
    },
    /// Moves with the clock (see [`crate::lifecycle`]).
    Timed {
        phases: Phases,
        outcome: Outcome,
        final_size: u64,
        /// Known at creation (created + scheduled phase), rendered once.
        started_at: Timestamp,
    },
}

/// A real file served as a backup's archive.
#[derive(Clone, Debug)]
pub(crate) struct ArchiveFile {
    pub path: PathBuf,
    /// Its length when the fixture was loaded: the backup's size.
    pub len: u64,
}

/// What a backup looks like at one instant.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Snapshot<'a> {
    pub status: Status,
    pub started_at: Option<&'a Timestamp>,
    /// `None` while scheduled, `0` until done, then the final size.
    pub size: Option<u64>,
}

/// What the store keeps of a backup.
#[derive(Clone, Debug)]
pub(crate) struct BackupRecord {
    pub id: String,
    pub created_at: Timestamp,
    pub name: String,
    pub method: Method,
    progress: Progress,
    /// A real file served as the archive, instead of a generated one.
    pub archive_file: Option<ArchiveFile>,
    /// Its rendered bytes (see [`super::cache`]).
    pub rendered: RecordCache,
}

impl BackupRecord {
    pub fn new(id: String, created_at: Timestamp, name: String, method: Method, progress: Progress) -> Self {
        Self {
            id,
            created_at,
            name,
            method,
            progress,
            archive_file: None,
            rendered: RecordCache::default(),
        }
    }

    /// How the backup's status is known.
    pub fn progress(&self) -> &Progress {
        &self.progress
    }

    /// The backup at `now`.
    pub fn snapshot(&self, now: i64) -> Snapshot<'_> {
        match &self.progress {
            Progress::Fixed {
                status,
                started_at,
                size,
            } => Snapshot {
                status: *status,
                started_at: started_at.as_ref(),
                size: *size,
            },
            Progress::Timed {
                phases,
                outcome,
                final_size,
                started_at,
            } => {
                let d = lifecycle::derive(self.created_at.millis(), phases, *outcome, *final_size, now);
                Snapshot {
                    status: d.status,
                    started_at: d.started_at.map(|_| started_at),
                    size: d.size,
                }
            }
        }
    }

    /// The next instant after `now` at which the backup's view changes.
    pub fn next_change(&self, now: i64) -> Option<i64> {
        match &self.progress {
            Progress::Fixed { .. } => None,
            Progress::Timed { phases, .. } => lifecycle::next_change(self.created_at.millis(), phases, now),
        }
    }

    /// The size the backup has, or will have if it ends `done` (`None`: it
    /// was never given one).
    pub fn known_size(&self, now: i64) -> Option<u64> {
        if let Some(file) = &self.archive_file {
            return Some(file.len);
        }
        match (&self.progress, self.snapshot(now)) {
            (
                _,
                Snapshot {
                    status: Status::Done,
                    size,
                    ..
                },
            ) => size,
            (Progress::Timed { final_size, .. }, _) => Some(*final_size),
            _ => None,
        }
    }

    /// Ends the backup now with `outcome` (`size` when done), keeping the
    /// start it had or starting it now.
    pub fn finish_now(&mut self, outcome: Outcome, size: u64, now: i64) {
        let started_at = self
            .snapshot(now)
            .started_at
            .cloned()
            .unwrap_or_else(|| self.created_at.with_same_offset(now));
        self.progress = Progress::Fixed {
            status: match outcome {
                Outcome::Done => Status::Done,
                Outcome::Error => Status::Error,
            },
            started_at: Some(started_at),
            size: Some(match outcome {
                Outcome::Done => size,
                Outcome::Error => 0,
            }),
        };
        // What was rendered showed the old progress.
        self.rendered = RecordCache::default();
    }

    /// The API view at `now`.
    pub fn view(&self, meta: &DatabaseMeta, now: i64) -> Backup {
        let s = self.snapshot(now);
        Backup {
            id: self.id.clone(),
            created_at: self.created_at.clone(),
            started_at: s.started_at.cloned(),
            name: self.name.clone(),
            size: s.size,
            status: s.status,
            database_id: meta.database_id.clone(),
            method: self.method,
            db_type: meta.db_type.clone(),
        }
    }
}

/// What the store keeps of a database besides its backups.
#[derive(Clone, Debug)]
pub(crate) struct DatabaseMeta {
    pub addon_id: String,
    pub database_id: String,
    pub resource_name: String,
    pub db_type: String,
    pub app: String,
    pub plan: String,
    pub version: String,
    pub created_at: Timestamp,
    pub status: DatabaseStatus,
    pub hostname: String,
    pub features: Vec<DatabaseFeature>,
    pub instances: Vec<Instance>,
    pub maintenance_window: MaintenanceWindow,
    pub periodic_enabled: bool,
    pub periodic_hours: Vec<u8>,
    pub lifecycle: crate::lifecycle::LifecyclePatch,
    /// The database's own seed, from its fixture or a control call, if any.
    pub seed: Option<u64>,
}

impl DatabaseMeta {
    /// The database object of `GET /api/databases/:db`.
    pub fn info(&self) -> DatabaseInfo {
        let data_nodes = self
            .instances
            .iter()
            .filter(|i| i.instance_type == InstanceType::DbNode)
            .count();
        DatabaseInfo {
            id: self.database_id.clone(),
            created_at: self.created_at.clone(),
            resource_id: self.resource_name.clone(),
            app_name: self.app.clone(),
            encryption_at_rest: false,
            features: self.features.clone(),
            plan: self.plan.clone(),
            status: self.status,
            type_id: crate::ids::derived_id(&["type", &self.db_type]),
            type_name: self.db_type.clone(),
            db_type: self.db_type.clone(),
            version_id: crate::ids::derived_id(&["version", &self.db_type, &self.version]),
            mongo_repl_set_name: mongo_repl_set_name(&self.db_type, &self.resource_name),
            instances: self.instances.clone(),
            next_version_id: String::new(),
            readable_version: self.version.clone(),
            hostname: self.hostname.clone(),
            current_operation_id: String::new(),
            cluster: data_nodes > 1,
            periodic_backups_enabled: self.periodic_enabled,
            periodic_backups_scheduled_at: self.periodic_hours.clone(),
            maintenance_window: self.maintenance_window,
        }
    }
}

impl DatabaseMeta {
    /// The addon this database is, as the main API shows it.
    pub fn addon(&self) -> crate::model::Addon {
        use crate::model::{Addon, AddonProvider, Plan};
        Addon {
            id: self.addon_id.clone(),
            app_id: crate::ids::derived_id(&["app", &self.app]),
            resource_id: self.resource_name.clone(),
            status: "running".into(),
            plan: Plan::named(&self.plan, &self.db_type),
            addon_provider: AddonProvider::of(&self.db_type),
            provisioned_at: self.created_at.clone(),
            deprovisioned_at: None,
        }
    }
}

/// The replica set's name of a MongoDB database (`<resource>-rs`); empty for
/// the other types.
fn mongo_repl_set_name(db_type: &str, resource_name: &str) -> String {
    if db_type == "mongodb" {
        format!("{resource_name}-rs")
    } else {
        String::new()
    }
}

/// The host name a database shows when its fixture names none.
pub(crate) fn default_hostname(resource_name: &str, db_type: &str) -> String {
    format!("{resource_name}.{db_type}.db.fake.scalingo.test")
}

/// The port the engine of `db_type` listens on (0 for a type the fake does
/// not know: give the instances in the fixture).
pub(crate) fn default_port(db_type: &str) -> u16 {
    match db_type {
        "postgresql" => 5432,
        "mysql" => 3306,
        "mongodb" => 27017,
        "redis" => 6379,
        "influxdb" => 8086,
        "elasticsearch" | "opensearch" => 9200,
        _ => 0,
    }
}

/// The id of instance number `index` of database `database_id`.
pub(crate) fn instance_id(database_id: &str, index: usize) -> String {
    crate::ids::derived_id(&["instance", database_id, &index.to_string()])
}

/// The engine version a database of `db_type` shows when its fixture names none.
pub(crate) fn default_version(db_type: &str) -> &'static str {
    match db_type {
        "postgresql" => "14.11.0",
        "mysql" => "8.0.35",
        "mongodb" => "6.0.13",
        "redis" => "7.2.4",
        "influxdb" => "1.8.10",
        "elasticsearch" => "7.10.2",
        "opensearch" => "2.11.1",
        _ => "1.0.0",
    }
}
