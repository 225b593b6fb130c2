//! The in-memory state of the fake: databases, their backups, the clock and
//! the lifecycle settings, shared by every connection.
//!
//! Layout of the locks (no lock is ever held across an `.await`):
//! - one `RwLock` per database ([`DbCell`]), so reads of different databases
//!   never wait on each other and a write touches one database only;
//! - index maps (database key → cell, backup id → cell, known tokens),
//!   read-locked for a lookup and write-locked only when a database or backup
//!   is added or removed. The lock order is a database's lock, then an index
//!   lock (so a new backup is indexed before anyone can list it); no code
//!   takes a database's lock while it holds an index lock.
//!
//! Records keep what cannot be derived (creation instant, phases, outcome,
//! final size); what a backup looks like is computed by [`crate::lifecycle`]
//! when it is read. Periodic backups are created lazily: when a database is
//! read, or when the clock is moved by hand, every scheduled hour the clock has
//! passed gets its backup.
//!
//! The list route's JSON is cached per database ([`crate::render`]) until
//! the database changes or the clock reaches the next status change of one
//! of its backups; any write access to a database drops its cache.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use chrono::{Duration as ChronoDuration, TimeZone, Utc};
use parking_lot::{Mutex, RwLock, RwLockWriteGuard};
use rand::{Rng, SeedableRng};

use crate::clock::Clock;
use crate::config::Config;
use crate::fixtures::{BackupFixture, DatabaseFixture, FixtureSet};
use crate::ids::{self, DetRng};
use crate::lifecycle::{self, Lifecycle, LifecyclePatch, Outcome, Phases};
use crate::model::{backup_name, Backup, DatabaseInfo, Method, Status};
use crate::render::{self, ListCache};
use crate::timestamp::Timestamp;

/// A clock jump creates the periodic backups of at most this many days
/// before the new time (a 30-year jump would otherwise create 20 000+
/// backups per scheduled hour, all at once).
pub(crate) const PERIODIC_BACKLOG_DAYS: i64 = 400;

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

/// What the store keeps of a backup.
#[derive(Clone, Debug)]
pub(crate) struct BackupRecord {
    pub id: String,
    pub created_at: Timestamp,
    pub name: String,
    pub method: Method,
    pub progress: Progress,
    /// A real file served as the archive, instead of a generated one.
    pub archive_file: Option<ArchiveFile>,
    /// The backup's JSON, once it can no longer change (see [`crate::render`]).
    pub json: OnceLock<Box<[u8]>>,
    /// The escaped text of its fixed fields, made at its first rendering.
    pub parts: OnceLock<render::FixedParts>,
}

impl BackupRecord {
    fn new(id: String, created_at: Timestamp, name: String, method: Method, progress: Progress) -> Self {
        Self {
            id,
            created_at,
            name,
            method,
            progress,
            archive_file: None,
            json: OnceLock::new(),
            parts: OnceLock::new(),
        }
    }

    /// Status, `started_at` and size at `now`.
    pub fn derive(&self, now: i64) -> (Status, Option<&Timestamp>, Option<u64>) {
        match &self.progress {
            Progress::Fixed {
                status,
                started_at,
                size,
            } => (*status, started_at.as_ref(), *size),
            Progress::Timed {
                phases,
                outcome,
                final_size,
                started_at,
            } => {
                let d = lifecycle::derive(self.created_at.millis(), phases, *outcome, *final_size, now);
                (d.status, d.started_at.map(|_| started_at), d.size)
            }
        }
    }

    /// The next instant after `now` at which the backup's view changes.
    pub fn next_change(&self, now: i64) -> Option<i64> {
        let Progress::Timed { phases, .. } = &self.progress else {
            return None;
        };
        let created = self.created_at.millis();
        let scheduled_end = created.saturating_add(phases.scheduled_ms as i64);
        let pending_end = scheduled_end.saturating_add(phases.pending_ms as i64);
        let running_end = pending_end.saturating_add(phases.running_ms as i64);
        [scheduled_end, pending_end, running_end].into_iter().find(|t| *t > now)
    }

    /// The API view at `now`.
    pub fn view(&self, meta: &DatabaseMeta, now: i64) -> Backup {
        let (status, started_at, size) = self.derive(now);
        Backup {
            id: self.id.clone(),
            created_at: self.created_at.clone(),
            started_at: started_at.cloned(),
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
    /// The database's own seed, from its fixture, if any.
    pub seed: Option<u64>,
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
            db_type: self.db_type.clone(),
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
    /// The next scheduled hour not yet given its backup, when periodic
    /// backups are on.
    pub next_periodic: Option<i64>,
    rng: DetRng,
    /// The list route's last body; dropped by any write access.
    pub list_cache: Mutex<Option<ListCache>>,
}

impl DbState {
    pub fn find(&self, backup_id: &str) -> Option<&BackupRecord> {
        self.backups.iter().rev().find(|b| b.id == backup_id)
    }

    fn find_mut(&mut self, backup_id: &str) -> Option<&mut BackupRecord> {
        self.backups.iter_mut().rev().find(|b| b.id == backup_id)
    }

    /// Inserts in creation order (at the end, for a backup created now).
    fn insert(&mut self, record: BackupRecord) {
        let at = self
            .backups
            .partition_point(|b| b.created_at.millis() <= record.created_at.millis());
        self.backups.insert(at, record);
    }

    fn schedule_after(&mut self, instant: i64) {
        self.next_periodic = if self.meta.periodic_enabled {
            next_scheduled_hour(&self.meta.periodic_hours, instant)
        } else {
            None
        };
    }

    fn reseed(&mut self, global_seed: u64) {
        // Mixed with the addon id either way: two databases given the same
        // seed still draw different ids.
        self.rng = ids::database_rng(self.meta.seed.unwrap_or(global_seed), &self.meta.addon_id);
    }

    /// Draws id, outcome and final size of a new backup (always all three, in
    /// this order, so a seed gives the same sequence whatever the settings).
    /// An id already `taken` (say, after re-seeding twice in one second) is
    /// drawn again.
    fn new_backup(
        &mut self,
        created: i64,
        method: Method,
        life: &Lifecycle,
        taken: &HashMap<String, Arc<DbCell>>,
    ) -> BackupRecord {
        let created_at = Timestamp::from_millis(created);
        let mut id = ids::backup_id(&mut self.rng, created.div_euclid(1000));
        while taken.contains_key(&id) {
            id = ids::backup_id(&mut self.rng, created.div_euclid(1000));
        }
        let fails = self.rng.random::<f64>() < life.failure_rate;
        let final_size = self.draw_size(life);
        let phases = life.phases();
        let started_at = created_at.with_same_offset(created.saturating_add(phases.scheduled_ms as i64));
        let name = backup_name(&created_at, &self.meta.resource_name);
        let progress = Progress::Timed {
            phases,
            outcome: if fails { Outcome::Error } else { Outcome::Done },
            final_size,
            started_at,
        };
        BackupRecord::new(id, created_at, name, method, progress)
    }

    fn draw_size(&mut self, life: &Lifecycle) -> u64 {
        self.rng.random_range(life.size_min..=life.size_max.max(life.size_min))
    }

    /// Drops the oldest finished backups past `cap`; returns their ids.
    fn apply_retention(&mut self, cap: Option<usize>, now: i64) -> Vec<String> {
        let Some(cap) = cap else {
            return Vec::new();
        };
        let mut excess = self.backups.len().saturating_sub(cap);
        let mut removed = Vec::new();
        if excess == 0 {
            return removed;
        }
        self.backups.retain(|b| {
            if excess > 0 && b.derive(now).0.is_finished() {
                excess -= 1;
                removed.push(b.id.clone());
                false
            } else {
                true
            }
        });
        removed
    }
}

/// The first `hh:00:00.000` UTC strictly after `after` among `hours`.
pub(crate) fn next_scheduled_hour(hours: &[u8], after: i64) -> Option<i64> {
    let after_dt = Utc.timestamp_millis_opt(after).single()?;
    let day = after_dt.date_naive().and_hms_opt(0, 0, 0)?.and_utc();
    let mut best: Option<i64> = None;
    for day_offset in 0..=1 {
        for &h in hours.iter().filter(|h| **h < 24) {
            let Some(t) = day
                .checked_add_signed(ChronoDuration::days(day_offset))
                .and_then(|d| d.checked_add_signed(ChronoDuration::hours(i64::from(h))))
            else {
                continue;
            };
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
    state: RwLock<DbState>,
}

impl DbCell {
    /// Shared access.
    pub fn read(&self) -> parking_lot::RwLockReadGuard<'_, DbState> {
        self.state.read()
    }

    /// Exclusive access; drops the cached list body, since the caller may
    /// change anything it shows.
    pub fn write(&self) -> RwLockWriteGuard<'_, DbState> {
        let mut s = self.state.write();
        *s.list_cache.get_mut() = None;
        s
    }
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
    /// Every database's static tokens (to tell 403 from 401).
    tokens: RwLock<HashSet<String>>,
    pub clock: Clock,
    lifecycle: RwLock<Lifecycle>,
    retention: RwLock<Option<usize>>,
    seed: RwLock<u64>,
}

impl Store {
    /// Builds the state from checked fixtures.
    pub fn new(config: &Config, fixtures: &FixtureSet, seed: u64) -> Self {
        let start = config.clock_start.unwrap_or_else(crate::clock::system_millis);
        let store = Self {
            databases: RwLock::default(),
            order: RwLock::default(),
            backups: RwLock::default(),
            tokens: RwLock::default(),
            clock: Clock::new(config.clock, config.time_scale, start),
            lifecycle: RwLock::new(config.lifecycle.clone()),
            retention: RwLock::new(config.retention),
            seed: RwLock::new(seed),
        };
        for db in &fixtures.databases {
            store.add_database(db);
        }
        store
    }

    /// The global seed in use.
    pub fn seed(&self) -> u64 {
        *self.seed.read()
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
            seed: f.seed,
        };
        let mut backups: Vec<BackupRecord> = f.backups.iter().map(|b| record_from_fixture(b, &meta, &life)).collect();
        // One stable sort (fixtures are usually written newest first).
        backups.sort_by_key(|b| b.created_at.millis());
        let mut state = DbState {
            rng: DetRng::seed_from_u64(0),
            meta,
            backups,
            next_periodic: None,
            list_cache: Mutex::new(None),
        };
        state.reseed(self.seed());
        state.schedule_after(now);
        let removed = state.apply_retention(self.retention(), now);
        debug_assert!(removed.len() <= f.backups.len());
        let ids: Vec<String> = state.backups.iter().map(|b| b.id.clone()).collect();
        let keys = [state.meta.addon_id.clone(), state.meta.database_id.clone()];
        self.tokens.write().extend(state.meta.tokens.iter().cloned());
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
        self.tokens.read().contains(token)
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

    /// The lifecycle new backups of a database get.
    fn effective_lifecycle(&self, meta: &DatabaseMeta) -> Lifecycle {
        self.lifecycle.read().patched(&meta.lifecycle)
    }

    /// A database's own lifecycle override and the settings in effect.
    pub fn database_lifecycle(&self, cell: &DbCell) -> (LifecyclePatch, Lifecycle) {
        let own = cell.read().meta.lifecycle.clone();
        let eff = self.lifecycle.read().patched(&own);
        (own, eff)
    }

    /// Merges `patch` into the database's own lifecycle override.
    pub fn set_database_lifecycle(&self, cell: &DbCell, patch: &LifecyclePatch) -> Result<Lifecycle, StoreError> {
        let mut s = cell.write();
        let merged = s.meta.lifecycle.merged(patch);
        let eff = self.lifecycle.read().patched(&merged);
        eff.validate().map_err(invalid)?;
        s.meta.lifecycle = merged;
        Ok(eff)
    }

    /// The retention cap.
    pub fn retention(&self) -> Option<usize> {
        *self.retention.read()
    }

    /// Sets the retention cap and applies it to every database now.
    pub fn set_retention(&self, cap: Option<usize>) {
        *self.retention.write() = cap;
        let now = self.clock.now();
        for cell in self.all() {
            let mut s = cell.write();
            let removed = s.apply_retention(cap, now);
            let mut index = self.backups.write();
            for id in removed {
                index.remove(&id);
            }
        }
    }

    /// Re-seeds the generators: every database's from `seed` (`db` = `None`),
    /// or one database's own.
    pub fn reseed(&self, db: Option<&DbCell>, seed: u64) {
        match db {
            Some(cell) => {
                let mut s = cell.write();
                s.meta.seed = Some(seed);
                s.reseed(seed);
            }
            None => {
                *self.seed.write() = seed;
                for cell in self.all() {
                    // A database with a seed of its own keeps it, as at start.
                    cell.write().reseed(seed);
                }
            }
        }
    }

    /// Creates any periodic backup whose hour the clock has passed.
    pub fn catch_up(&self, cell: &Arc<DbCell>) {
        let now = self.clock.now();
        if !cell.read().next_periodic.is_some_and(|t| t <= now) {
            return;
        }
        let mut s = cell.write();
        let life = self.effective_lifecycle(&s.meta);
        let oldest = now.saturating_sub(PERIODIC_BACKLOG_DAYS * 86_400_000);
        if s.next_periodic.is_some_and(|t| t < oldest) {
            tracing::warn!(
                "{}: the clock jumped more than {PERIODIC_BACKLOG_DAYS} days; periodic backups start {PERIODIC_BACKLOG_DAYS} days back",
                s.meta.addon_id
            );
            s.schedule_after(oldest);
        }
        // The index is updated under the database's lock, so a backup is
        // findable by id as soon as it is listed (lock order: database, then index).
        let mut index = self.backups.write();
        while let Some(t) = s.next_periodic.filter(|t| *t <= now) {
            let record = s.new_backup(t, Method::Periodic, &life, &index);
            index.insert(record.id.clone(), cell.clone());
            s.insert(record);
            s.schedule_after(t);
        }
        for id in s.apply_retention(self.retention(), now) {
            index.remove(&id);
        }
    }

    /// Catches up every database (after the clock moved by hand).
    pub fn catch_up_all(&self) {
        for cell in self.all() {
            self.catch_up(&cell);
        }
    }

    /// The backups of a database, newest first, as seen now.
    pub fn list(&self, cell: &Arc<DbCell>) -> Vec<Backup> {
        self.catch_up(cell);
        let now = self.clock.now();
        let s = cell.read();
        s.backups.iter().rev().map(|b| b.view(&s.meta, now)).collect()
    }

    /// The list route's body, `{"database_backups":[…]}`, from the cache
    /// while nothing it shows can have changed.
    pub fn list_json(&self, cell: &Arc<DbCell>) -> Bytes {
        let now = self.clock.now();
        let s = cell.read();
        if s.next_periodic.is_some_and(|t| t <= now) {
            // A periodic backup is due: create it first (rare; takes the write lock).
            drop(s);
            self.catch_up(cell);
            return self.list_json(cell);
        }
        let mut cache = s.list_cache.lock();
        if let Some(body) = cache.as_ref().and_then(|c| c.get(now)) {
            return body;
        }
        let fresh = render::list(&s, now);
        let body = fresh.body();
        *cache = Some(fresh);
        body
    }

    /// One backup of a database, as seen now.
    pub fn show(&self, cell: &Arc<DbCell>, backup_id: &str) -> Option<Backup> {
        self.catch_up(cell);
        let now = self.clock.now();
        let s = cell.read();
        s.find(backup_id).map(|b| b.view(&s.meta, now))
    }

    /// A copy of a backup's record and its database's metadata.
    pub fn record(&self, cell: &Arc<DbCell>, backup_id: &str) -> Option<(DatabaseMeta, BackupRecord)> {
        self.catch_up(cell);
        let s = cell.read();
        s.find(backup_id).map(|b| (s.meta.clone(), b.clone()))
    }

    /// Creates a manual backup now.
    pub fn create(&self, cell: &Arc<DbCell>) -> Backup {
        self.catch_up(cell);
        let now = self.clock.now();
        let mut s = cell.write();
        let life = self.effective_lifecycle(&s.meta);
        let mut index = self.backups.write();
        let record = s.new_backup(now, Method::Manual, &life, &index);
        let view = record.view(&s.meta, now);
        index.insert(record.id.clone(), cell.clone());
        s.insert(record);
        for id in s.apply_retention(self.retention(), now) {
            index.remove(&id);
        }
        view
    }

    /// Changes the periodic-backup settings from now on.
    pub fn configure_periodic(
        &self,
        cell: &Arc<DbCell>,
        enabled: Option<bool>,
        hours: Option<Vec<u8>>,
    ) -> DatabaseInfo {
        self.catch_up(cell);
        let now = self.clock.now();
        let mut s = cell.write();
        if let Some(e) = enabled {
            s.meta.periodic_enabled = e;
        }
        if let Some(h) = hours {
            s.meta.periodic_hours = h;
        }
        s.schedule_after(now);
        s.meta.info()
    }

    /// Forces a backup to finish now with `outcome`.
    pub fn force(&self, backup_id: &str, outcome: Outcome) -> Result<Backup, StoreError> {
        let cell = self.database_of_backup(backup_id).ok_or(StoreError::NoBackup)?;
        self.catch_up(&cell);
        let now = self.clock.now();
        let mut s = cell.write();
        let life = self.effective_lifecycle(&s.meta);
        let record = s.find(backup_id).ok_or(StoreError::NoBackup)?;
        let (status, started_at, size) = record.derive(now);
        let started_at = started_at
            .cloned()
            .unwrap_or_else(|| record.created_at.with_same_offset(now));
        let known_size = match (&record.archive_file, &record.progress, status) {
            (Some(file), _, _) => Some(file.len),
            (None, _, Status::Done) => size,
            (None, Progress::Timed { final_size, .. }, _) => Some(*final_size),
            _ => None,
        };
        let size = match outcome {
            Outcome::Error => 0,
            // A size is drawn only when the backup never had one.
            Outcome::Done => known_size.unwrap_or_else(|| s.draw_size(&life)),
        };
        let meta = s.meta.clone();
        let record = s.find_mut(backup_id).ok_or(StoreError::NoBackup)?;
        record.progress = Progress::Fixed {
            status: match outcome {
                Outcome::Done => Status::Done,
                Outcome::Error => Status::Error,
            },
            started_at: Some(started_at),
            size: Some(size),
        };
        record.json = OnceLock::new();
        Ok(record.view(&meta, now))
    }
}

fn invalid(errors: Vec<(&'static str, String)>) -> StoreError {
    StoreError::Invalid(errors.into_iter().map(|(f, m)| (f.to_string(), m)).collect())
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
        (Some(p), _) => {
            let phases = life.phases();
            Progress::Timed {
                phases,
                outcome: p.outcome,
                final_size: p.size.unwrap_or(life.size_min),
                started_at: b
                    .created_at
                    .with_same_offset(b.created_at.millis().saturating_add(phases.scheduled_ms as i64)),
            }
        }
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
    let name = b
        .name
        .clone()
        .unwrap_or_else(|| backup_name(&b.created_at, &meta.resource_name));
    let mut record = BackupRecord::new(
        b.id.clone(),
        b.created_at.clone(),
        name,
        b.method.unwrap_or(Method::Periodic),
        progress,
    );
    record.archive_file = b.archive_file.as_ref().map(|path| ArchiveFile {
        path: path.clone(),
        len: b.size.or(b.progress.as_ref().and_then(|p| p.size)).unwrap_or(0),
    });
    record
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
