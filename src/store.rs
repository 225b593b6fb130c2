//! The in-memory state of the fake: databases, their backups, the clock and
//! the lifecycle settings, shared by every connection.
//!
//! Layout of the locks (no lock is ever held across an `.await`):
//! - one `RwLock` per database ([`DbCell`]), so reads of different databases
//!   never wait on each other and a write touches one database only;
//! - two index maps (database key → cell, backup id → cell), read-locked for
//!   a lookup and write-locked only when a database or backup is added or
//!   removed. An index lock is never taken while a database lock is held for
//!   writing, except to insert into / remove from the backup index after the
//!   cell lock is released.
//!
//! Records keep what cannot be derived (creation instant, phases, outcome,
//! final size); what a backup looks like is computed by [`crate::lifecycle`]
//! when it is read. Periodic backups are created lazily: when a database is
//! read, or when the clock is moved by hand, every scheduled hour the clock has
//! passed gets its backup.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use chrono::{Duration as ChronoDuration, TimeZone, Utc};
use parking_lot::RwLock;
use rand::Rng;

use crate::clock::Clock;
use crate::config::Config;
use crate::fixtures::{BackupFixture, DatabaseFixture, FixtureSet};
use crate::ids::{self, DetRng};
use crate::lifecycle::{self, Lifecycle, LifecyclePatch, Outcome, Phases};
use crate::model::{backup_name, Backup, DatabaseInfo, Method, Status};
use crate::timestamp::Timestamp;

/// How a backup's status is known.
#[derive(Clone, Debug)]
pub(crate) enum Progress {
    /// As written in a fixture, or forced by a control call: never changes.
    Fixed {
        status: Status,
        started_at: Option<Timestamp>,
        size: Option<u64>,
    },
    /// Moves with the clock (spec §6).
    Timed {
        phases: Phases,
        outcome: Outcome,
        final_size: u64,
    },
}

/// What the store keeps of a backup.
#[derive(Clone, Debug)]
pub(crate) struct BackupRecord {
    pub id: String,
    pub created_at: Timestamp,
    pub name: String,
    pub method: Method,
    pub progress: Progress,
    /// A real file served as the archive, instead of a generated one.
    pub archive_file: Option<PathBuf>,
}

impl BackupRecord {
    /// Status, `started_at` and size at `now`.
    pub fn derive(&self, now: i64) -> (Status, Option<Timestamp>, Option<u64>) {
        match &self.progress {
            Progress::Fixed {
                status,
                started_at,
                size,
            } => (*status, started_at.clone(), *size),
            Progress::Timed {
                phases,
                outcome,
                final_size,
            } => {
                let d = lifecycle::derive(self.created_at.millis(), phases, *outcome, *final_size, now);
                let started = d.started_at.map(|ms| self.created_at.with_same_offset(ms));
                (d.status, started, d.size)
            }
        }
    }

    /// The API view at `now`.
    pub fn view(&self, meta: &DatabaseMeta, now: i64) -> Backup {
        let (status, started_at, size) = self.derive(now);
        Backup {
            id: self.id.clone(),
            created_at: self.created_at.clone(),
            started_at,
            name: self.name.clone(),
            size,
            status,
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
    pub tokens: Vec<String>,
    pub periodic_enabled: bool,
    pub periodic_hours: Vec<u8>,
    pub lifecycle: LifecyclePatch,
}

impl DatabaseMeta {
    pub fn info(&self) -> DatabaseInfo {
        DatabaseInfo {
            id: self.database_id.clone(),
            created_at: self.created_at.clone(),
            resource_id: self.resource_name.clone(),
            app_name: self.app.clone(),
            encryption_at_rest: false,
            features: Vec::new(),
            plan: self.plan.clone(),
            status: "running".into(),
            type_name: self.db_type.clone(),
            readable_version: self.version.clone(),
            hostname: format!("{}.{}.db.fake.scalingo.test", self.resource_name, self.db_type),
            cluster: false,
            periodic_backups_enabled: self.periodic_enabled,
            periodic_backups_scheduled_at: self.periodic_hours.clone(),
        }
    }
}

/// One database and its backups.
#[derive(Debug)]
pub(crate) struct DbState {
    pub meta: DatabaseMeta,
    /// Oldest first (the API lists them reversed).
    pub backups: Vec<BackupRecord>,
    /// Periodic backups exist for every scheduled hour up to this instant.
    periodic_cursor: i64,
    /// The next scheduled hour after the cursor, when periodic backups are on.
    next_periodic: Option<i64>,
    rng: DetRng,
}

impl DbState {
    pub fn find(&self, backup_id: &str) -> Option<&BackupRecord> {
        self.backups.iter().rev().find(|b| b.id == backup_id)
    }

    fn find_mut(&mut self, backup_id: &str) -> Option<&mut BackupRecord> {
        self.backups.iter_mut().rev().find(|b| b.id == backup_id)
    }

    fn insert(&mut self, record: BackupRecord) {
        let at = self
            .backups
            .partition_point(|b| b.created_at.millis() <= record.created_at.millis());
        self.backups.insert(at, record);
    }

    fn schedule_from(&mut self, cursor: i64) {
        self.periodic_cursor = cursor;
        self.next_periodic = if self.meta.periodic_enabled {
            next_scheduled_hour(&self.meta.periodic_hours, cursor)
        } else {
            None
        };
    }

    /// Draws id, outcome and final size of a new backup (always all three, in
    /// this order, so a seed gives the same sequence whatever the settings).
    fn new_backup(&mut self, created: i64, method: Method, life: &Lifecycle) -> BackupRecord {
        let created_at = Timestamp::from_millis(created);
        let id = ids::backup_id(&mut self.rng, created.div_euclid(1000));
        let fails = self.rng.random::<f64>() < life.failure_rate;
        let final_size = self.rng.random_range(life.size_min..=life.size_max.max(life.size_min));
        BackupRecord {
            name: backup_name(&created_at, &self.meta.resource_name),
            id,
            created_at,
            method,
            progress: Progress::Timed {
                phases: life.phases(),
                outcome: if fails { Outcome::Error } else { Outcome::Done },
                final_size,
            },
            archive_file: None,
        }
    }
}

/// The first `hh:00:00.000` UTC strictly after `after` among `hours`.
pub(crate) fn next_scheduled_hour(hours: &[u8], after: i64) -> Option<i64> {
    let after_dt = Utc.timestamp_millis_opt(after).single()?;
    let day = after_dt.date_naive().and_hms_opt(0, 0, 0)?.and_utc();
    let mut best: Option<i64> = None;
    for day_offset in 0..=1 {
        for &h in hours.iter().filter(|h| **h < 24) {
            let t = day + ChronoDuration::days(day_offset) + ChronoDuration::hours(i64::from(h));
            let ms = t.timestamp_millis();
            if ms > after && best.map_or(true, |b| ms < b) {
                best = Some(ms);
            }
        }
        if best.is_some() {
            break;
        }
    }
    best
}

/// A database behind its own lock.
#[derive(Debug)]
pub(crate) struct DbCell {
    pub state: RwLock<DbState>,
}

/// Why a store operation was refused.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum StoreError {
    NoBackup,
    /// Field → message, for a 422.
    Invalid(Vec<(String, String)>),
}

/// The whole state of one fake server.
#[derive(Debug)]
pub(crate) struct Store {
    /// Addon id and database id → database.
    databases: RwLock<HashMap<String, Arc<DbCell>>>,
    /// Every database once, in fixture / creation order.
    order: RwLock<Vec<Arc<DbCell>>>,
    /// Backup id → its database.
    backups: RwLock<HashMap<String, Arc<DbCell>>>,
    pub clock: Clock,
    lifecycle: RwLock<Lifecycle>,
    retention: RwLock<Option<usize>>,
    seed: u64,
}

impl Store {
    /// Builds the state from checked fixtures.
    pub fn new(config: &Config, fixtures: &FixtureSet, seed: u64) -> Self {
        let start = config.clock_start.unwrap_or_else(crate::clock::system_millis);
        let store = Self {
            databases: RwLock::default(),
            order: RwLock::default(),
            backups: RwLock::default(),
            clock: Clock::new(config.clock, config.time_scale, start),
            lifecycle: RwLock::new(config.lifecycle.clone()),
            retention: RwLock::new(config.retention),
            seed,
        };
        for db in &fixtures.databases {
            store.add_database(db);
        }
        store
    }

    /// The seed in use.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// Adds a database from its fixture (already checked).
    pub fn add_database(&self, f: &DatabaseFixture) -> Arc<DbCell> {
        let now = self.clock.now();
        let life = self.lifecycle.read().patched(&f.lifecycle);
        let meta = DatabaseMeta {
            addon_id: f.id.clone(),
            database_id: f.database_id.clone(),
            resource_name: f.resource_name.clone(),
            db_type: f.db_type.clone(),
            app: f.app.clone(),
            plan: f.plan.clone().unwrap_or_else(|| format!("{}-starter-512", f.db_type)),
            version: f.version.clone().unwrap_or_else(|| default_version(&f.db_type).into()),
            created_at: f.created_at.clone().unwrap_or_else(|| Timestamp::from_millis(now)),
            tokens: f.tokens.clone(),
            periodic_enabled: f.periodic_backups_enabled,
            periodic_hours: f.periodic_backups_scheduled_at.clone(),
            lifecycle: f.lifecycle.clone(),
        };
        let mut state = DbState {
            rng: ids::database_rng(self.seed, &meta.addon_id),
            meta,
            backups: Vec::with_capacity(f.backups.len()),
            periodic_cursor: now,
            next_periodic: None,
        };
        for b in &f.backups {
            let record = record_from_fixture(b, &state.meta, &life);
            state.insert(record);
        }
        state.schedule_from(now);
        let ids: Vec<String> = state.backups.iter().map(|b| b.id.clone()).collect();
        let keys = [state.meta.addon_id.clone(), state.meta.database_id.clone()];
        let cell = Arc::new(DbCell {
            state: RwLock::new(state),
        });
        {
            let mut dbs = self.databases.write();
            for k in keys {
                dbs.insert(k, cell.clone());
            }
        }
        self.order.write().push(cell.clone());
        let mut index = self.backups.write();
        for id in ids {
            index.insert(id, cell.clone());
        }
        cell
    }

    /// The database known as `key` (addon id or database id).
    pub fn database(&self, key: &str) -> Option<Arc<DbCell>> {
        self.databases.read().get(key).cloned()
    }

    /// The database holding backup `id`.
    pub fn database_of_backup(&self, id: &str) -> Option<Arc<DbCell>> {
        self.backups.read().get(id).cloned()
    }

    /// Every database, in order.
    pub fn all(&self) -> Vec<Arc<DbCell>> {
        self.order.read().clone()
    }

    /// Whether `token` is a static token of any database.
    pub fn token_known_anywhere(&self, token: &str) -> bool {
        self.order
            .read()
            .iter()
            .any(|c| c.state.read().meta.tokens.iter().any(|t| t == token))
    }

    /// The global lifecycle settings.
    pub fn lifecycle(&self) -> Lifecycle {
        self.lifecycle.read().clone()
    }

    /// Changes the global lifecycle settings (for backups created from now on).
    pub fn set_lifecycle(&self, patch: &LifecyclePatch) -> Result<Lifecycle, StoreError> {
        let mut life = self.lifecycle.write();
        let next = life.patched(patch);
        next.validate().map_err(invalid)?;
        *life = next.clone();
        Ok(next)
    }

    /// The lifecycle new backups of `cell` get.
    fn effective_lifecycle(&self, meta: &DatabaseMeta) -> Lifecycle {
        self.lifecycle.read().patched(&meta.lifecycle)
    }

    /// A database's own lifecycle override and the settings in effect.
    pub fn database_lifecycle(&self, cell: &DbCell) -> (LifecyclePatch, Lifecycle) {
        let meta = cell.state.read().meta.clone();
        let eff = self.effective_lifecycle(&meta);
        (meta.lifecycle, eff)
    }

    /// Merges `patch` into the database's own lifecycle override.
    pub fn set_database_lifecycle(&self, cell: &DbCell, patch: &LifecyclePatch) -> Result<Lifecycle, StoreError> {
        let mut s = cell.state.write();
        let merged = merge_patch(&s.meta.lifecycle, patch);
        let eff = self.lifecycle.read().patched(&merged);
        eff.validate().map_err(invalid)?;
        s.meta.lifecycle = merged;
        Ok(eff)
    }

    /// The retention cap.
    pub fn retention(&self) -> Option<usize> {
        *self.retention.read()
    }

    /// Sets the retention cap (applied at the next backup creation).
    pub fn set_retention(&self, cap: Option<usize>) {
        *self.retention.write() = cap;
    }

    /// Creates any periodic backup whose hour the clock has passed.
    pub fn catch_up(&self, cell: &DbCell) {
        let now = self.clock.now();
        if !cell.state.read().next_periodic.is_some_and(|t| t <= now) {
            return;
        }
        let (added, removed) = {
            let mut s = cell.state.write();
            let life = self.effective_lifecycle(&s.meta);
            let mut added = Vec::new();
            while let Some(t) = s.next_periodic.filter(|t| *t <= now) {
                let record = s.new_backup(t, Method::Periodic, &life);
                added.push(record.id.clone());
                s.insert(record);
                s.schedule_from(t);
            }
            s.periodic_cursor = now;
            let removed = self.apply_retention(&mut s, now);
            (added, removed)
        };
        self.reindex(cell, added, removed);
    }

    /// Catches up every database (after the clock moved by hand).
    pub fn catch_up_all(&self) {
        for cell in self.all() {
            self.catch_up(&cell);
        }
    }

    /// The backups of a database, newest first, as seen now.
    pub fn list(&self, cell: &DbCell) -> Vec<Backup> {
        self.catch_up(cell);
        let now = self.clock.now();
        let s = cell.state.read();
        s.backups.iter().rev().map(|b| b.view(&s.meta, now)).collect()
    }

    /// Calls `f` with each backup of a database, newest first, as seen now
    /// (no allocation of views: used by the hot list route).
    pub fn with_backups<R>(&self, cell: &DbCell, f: impl FnOnce(&DatabaseMeta, &[BackupRecord], i64) -> R) -> R {
        self.catch_up(cell);
        let now = self.clock.now();
        let s = cell.state.read();
        f(&s.meta, &s.backups, now)
    }

    /// One backup of a database, as seen now.
    pub fn show(&self, cell: &DbCell, backup_id: &str) -> Option<Backup> {
        self.catch_up(cell);
        let now = self.clock.now();
        let s = cell.state.read();
        s.find(backup_id).map(|b| b.view(&s.meta, now))
    }

    /// A copy of a backup's record and its database's metadata.
    pub fn record(&self, cell: &DbCell, backup_id: &str) -> Option<(DatabaseMeta, BackupRecord)> {
        self.catch_up(cell);
        let s = cell.state.read();
        s.find(backup_id).map(|b| (s.meta.clone(), b.clone()))
    }

    /// Creates a manual backup now.
    pub fn create(&self, cell: &DbCell) -> Backup {
        self.catch_up(cell);
        let now = self.clock.now();
        let (view, id, removed) = {
            let mut s = cell.state.write();
            let life = self.effective_lifecycle(&s.meta);
            let record = s.new_backup(now, Method::Manual, &life);
            let view = record.view(&s.meta, now);
            let id = record.id.clone();
            s.insert(record);
            let removed = self.apply_retention(&mut s, now);
            (view, id, removed)
        };
        self.reindex(cell, vec![id], removed);
        view
    }

    /// Changes the periodic-backup settings from now on.
    pub fn configure_periodic(&self, cell: &DbCell, enabled: Option<bool>, hours: Option<Vec<u8>>) -> DatabaseInfo {
        self.catch_up(cell);
        let now = self.clock.now();
        let mut s = cell.state.write();
        if let Some(e) = enabled {
            s.meta.periodic_enabled = e;
        }
        if let Some(h) = hours {
            s.meta.periodic_hours = h;
        }
        s.schedule_from(now);
        s.meta.info()
    }

    /// Forces a backup to finish now with `outcome`.
    pub fn force(&self, backup_id: &str, outcome: Outcome) -> Result<Backup, StoreError> {
        let cell = self.database_of_backup(backup_id).ok_or(StoreError::NoBackup)?;
        self.catch_up(&cell);
        let now = self.clock.now();
        let mut s = cell.state.write();
        let life = self.effective_lifecycle(&s.meta);
        let drawn_size = s.rng.random_range(life.size_min..=life.size_max.max(life.size_min));
        let meta = s.meta.clone();
        let record = s.find_mut(backup_id).ok_or(StoreError::NoBackup)?;
        let (status, started_at, size) = record.derive(now);
        let final_size = match (&record.progress, status) {
            (_, Status::Done) => size.unwrap_or(drawn_size),
            (Progress::Timed { final_size, .. }, _) => *final_size,
            _ => drawn_size,
        };
        let started_at = started_at.or_else(|| Some(record.created_at.with_same_offset(now)));
        record.progress = Progress::Fixed {
            status: match outcome {
                Outcome::Done => Status::Done,
                Outcome::Error => Status::Error,
            },
            started_at,
            size: Some(match outcome {
                Outcome::Done => final_size,
                Outcome::Error => 0,
            }),
        };
        Ok(record.view(&meta, now))
    }

    /// Drops the oldest finished backups past the retention cap; returns their ids.
    fn apply_retention(&self, s: &mut DbState, now: i64) -> Vec<String> {
        let Some(cap) = *self.retention.read() else {
            return Vec::new();
        };
        let mut removed = Vec::new();
        while s.backups.len() > cap {
            let Some(i) = s.backups.iter().position(|b| b.derive(now).0.is_finished()) else {
                break;
            };
            removed.push(s.backups.remove(i).id);
        }
        removed
    }

    fn reindex(&self, cell: &DbCell, added: Vec<String>, removed: Vec<String>) {
        if added.is_empty() && removed.is_empty() {
            return;
        }
        let Some(arc) = self
            .order
            .read()
            .iter()
            .find(|c| std::ptr::eq(c.as_ref(), cell))
            .cloned()
        else {
            return;
        };
        let mut index = self.backups.write();
        for id in removed {
            index.remove(&id);
        }
        for id in added {
            index.insert(id, arc.clone());
        }
    }
}

fn invalid(errors: Vec<(&'static str, String)>) -> StoreError {
    StoreError::Invalid(errors.into_iter().map(|(f, m)| (f.to_string(), m)).collect())
}

fn merge_patch(base: &LifecyclePatch, over: &LifecyclePatch) -> LifecyclePatch {
    LifecyclePatch {
        scheduled_secs: over.scheduled_secs.or(base.scheduled_secs),
        pending_secs: over.pending_secs.or(base.pending_secs),
        running_secs: over.running_secs.or(base.running_secs),
        failure_rate: over.failure_rate.or(base.failure_rate),
        size_min: over.size_min.or(base.size_min),
        size_max: over.size_max.or(base.size_max),
    }
}

fn default_version(db_type: &str) -> &'static str {
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

fn record_from_fixture(b: &BackupFixture, meta: &DatabaseMeta, life: &Lifecycle) -> BackupRecord {
    let progress = match (&b.progress, b.status) {
        (Some(p), _) => Progress::Timed {
            phases: life.phases(),
            outcome: p.outcome,
            final_size: p.size.unwrap_or(life.size_min),
        },
        (None, status) => {
            let status = status.unwrap_or(Status::Done);
            Progress::Fixed {
                status,
                started_at: b.started_at.clone(),
                size: match status {
                    Status::Scheduled => None,
                    _ => Some(b.size.unwrap_or(0)),
                },
            }
        }
    };
    BackupRecord {
        id: b.id.clone(),
        name: b
            .name
            .clone()
            .unwrap_or_else(|| backup_name(&b.created_at, &meta.resource_name)),
        created_at: b.created_at.clone(),
        method: b.method.unwrap_or(Method::Periodic),
        progress,
        archive_file: b.archive_file.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: i64 = 3_600_000;

    #[test]
    fn the_next_scheduled_hour_is_strictly_after_and_wraps_to_the_next_day() {
        assert_eq!(next_scheduled_hour(&[1, 13], 0), Some(H));
        assert_eq!(next_scheduled_hour(&[1, 13], H), Some(13 * H));
        assert_eq!(next_scheduled_hour(&[1, 13], 13 * H), Some(25 * H));
        assert_eq!(next_scheduled_hour(&[], 0), None);
    }
}
