//! The in-memory state of the fake: databases, their backups, the clock and
//! the lifecycle settings, shared by every connection. Everything outside
//! this folder goes through [`Store`] and the [`Db`] handles it gives out;
//! no lock or record is touched from outside.
//!
//! - [`records`]: what is kept of a backup and a database, and their views;
//! - [`database`]: one database's state and how it changes;
//! - [`periodic`]: when the next periodic backup is due;
//! - [`backups`]: one database's backups, in order and by id, and which go
//!   past the retention cap;
//! - [`cache`]: what rendered JSON is kept, and when it is dropped;
//! - [`export`]: a database's state in the fixtures format;
//! - [`render`]: the list route's bytes.
//!
//! Invariants the store keeps itself:
//! - **Time**: the clock is private. Moving it ([`Store::advance`],
//!   [`Store::set_time`]) creates every periodic backup that became due, and
//!   every read through a [`Db`] creates the ones the system clock made due,
//!   so nobody can see a database that is behind its schedule.
//! - **Locks** (none held across an `.await`): one lock per database, so reads
//!   of different databases never wait on each other; index maps (database
//!   key → database, backup id → database) locked only for a lookup or an
//!   insertion. Lock order: a database's lock, then an index lock (so a new
//!   backup is indexed before anyone can list it); never the other way.
//! - **Status is derived** when read ([`crate::lifecycle`]); records keep
//!   only what cannot be derived.

mod backups;
mod cache;
mod database;
mod export;
mod periodic;
mod records;
mod render;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use parking_lot::RwLock;

use crate::clock::{Clock, ClockMode};
use crate::config::Config;
use crate::error::Error;
use crate::fixtures::{BackupFixture, DatabaseFixture, FixtureSet};
use crate::hashing::FastMap;
use crate::lifecycle::{DatabaseLifecycle, Lifecycle, LifecyclePatch, Outcome};
use crate::model::{Backup, DatabaseInfo, Method, Status};

use database::{DbCell, DbState};

/// The whole state of one fake server.
#[derive(Debug)]
pub(crate) struct Store {
    /// Addon id and database id → database.
    databases: RwLock<FastMap<String, Arc<DbCell>>>,
    /// Every database once, in fixture / creation order.
    order: RwLock<Vec<Arc<DbCell>>>,
    /// Backup id → its database.
    backups: RwLock<FastMap<String, Arc<DbCell>>>,
    clock: Clock,
    lifecycle: RwLock<Lifecycle>,
    retention: RwLock<Option<usize>>,
    seed: RwLock<u64>,
    /// What a reset goes back to.
    initial: Initial,
}

/// The state a fake started with.
#[derive(Debug)]
struct Initial {
    fixtures: Vec<Arc<DatabaseFixture>>,
    clock: i64,
    lifecycle: Lifecycle,
    retention: Option<usize>,
    seed: u64,
}

/// What a download needs to know of a backup, copied out of the store.
#[derive(Clone, Debug)]
pub(crate) struct ArchiveTarget {
    /// The database's addon id (what download tokens are signed for).
    pub addon_id: String,
    pub db_type: String,
    pub backup_id: String,
    pub name: String,
    pub created_secs: i64,
    pub status: Status,
    /// The archive's length once done.
    pub size: Option<u64>,
    /// A real file to serve instead of a generated archive.
    pub file: Option<PathBuf>,
}

impl Store {
    /// Builds the state from checked fixtures.
    pub fn new(config: &Config, fixtures: &FixtureSet, seed: u64) -> Self {
        let start = config.clock_start.unwrap_or_else(crate::clock::system_millis);
        let initial = Initial {
            fixtures: fixtures.databases.iter().cloned().map(Arc::new).collect(),
            clock: start,
            lifecycle: config.lifecycle.clone(),
            retention: config.retention,
            seed,
        };
        let store = Self {
            databases: RwLock::default(),
            order: RwLock::default(),
            backups: RwLock::default(),
            clock: Clock::new(config.clock, config.time_scale, start),
            lifecycle: RwLock::new(config.lifecycle.clone()),
            retention: RwLock::new(config.retention),
            seed: RwLock::new(seed),
            initial,
        };
        for db in &store.initial.fixtures {
            store.add_database(db);
        }
        store
    }

    /// Puts everything back as at start: the fixtures' databases (and no
    /// other), the clock, the lifecycle, the retention and the seed.
    /// Requests in flight during a reset may see either state.
    pub fn reset(&self) {
        let i = &self.initial;
        self.clock.restart(i.clock);
        *self.lifecycle.write() = i.lifecycle.clone();
        *self.retention.write() = i.retention;
        *self.seed.write() = i.seed;
        self.databases.write().clear();
        self.order.write().clear();
        self.backups.write().clear();
        for db in &i.fixtures {
            self.add_database(db);
        }
    }

    /// Replaces every database with `fixtures` (already checked); the clock
    /// and the settings stay as they are.
    pub fn replace_databases(&self, fixtures: Vec<DatabaseFixture>) {
        self.databases.write().clear();
        self.order.write().clear();
        self.backups.write().clear();
        for f in fixtures {
            self.add_database(&Arc::new(f));
        }
    }

    /// The archive files the start-up fixtures serve, as they resolved them.
    pub fn archive_files(&self) -> std::collections::HashSet<PathBuf> {
        self.initial
            .fixtures
            .iter()
            .flat_map(|f| f.backups.iter().filter_map(|b| b.archive_file.clone()))
            .collect()
    }

    /// Every database in the fixtures format, as it stands now.
    pub fn export(&self) -> serde_json::Value {
        let dbs: Vec<_> = self
            .databases()
            .iter()
            .map(|db| export::database(&db.cell.read()))
            .collect();
        serde_json::json!({ "databases": dbs })
    }

    /// The databases the fake started with, as their fixtures.
    pub fn initial_fixtures(&self) -> &[Arc<DatabaseFixture>] {
        &self.initial.fixtures
    }

    /// Adds a database made at run time, refusing ids already in use.
    pub fn create_database(&self, f: DatabaseFixture) -> Result<Db<'_>, Error> {
        {
            let dbs = self.databases.read();
            for (field, key) in [("id", &f.id), ("database_id", &f.database_id)] {
                if dbs.contains_key(key.as_str()) {
                    return Err(Error::invalid(
                        field,
                        format!("`{key}` is already a database of this fake"),
                    ));
                }
            }
            let index = self.backups.read();
            if let Some(b) = f.backups.iter().find(|b| index.contains_key(&b.id)) {
                return Err(Error::invalid(
                    "backups",
                    format!("backup id `{}` is already in use", b.id),
                ));
            }
        }
        Ok(self.add_database(&Arc::new(f)))
    }

    /// Removes the database `key` and its backups; returns its addon id.
    pub fn remove_database(&self, key: &str) -> Option<String> {
        let cell = self.databases.write().remove(key)?;
        let s = cell.write();
        let addon_id = s.meta.addon_id.clone();
        {
            let mut dbs = self.databases.write();
            dbs.remove(&s.meta.addon_id);
            dbs.remove(&s.meta.database_id);
        }
        self.order.write().retain(|c| !Arc::ptr_eq(c, &cell));
        let mut index = self.backups.write();
        for b in s.backups.iter() {
            index.remove(&b.id);
        }
        Some(addon_id)
    }

    /// Adds a database from its fixture (already checked).
    pub fn add_database(&self, f: &Arc<DatabaseFixture>) -> Db<'_> {
        let now = self.now();
        let life = self.lifecycle.read().patched(&f.lifecycle);
        let mut state = DbState::from_fixture(f, &life, self.seed(), now);
        state.enforce_retention(self.retention(), now);
        let ids: Vec<String> = state.backups.iter().map(|b| b.id.clone()).collect();
        let keys = [state.meta.addon_id.clone(), state.meta.database_id.clone()];
        let cell = Arc::new(DbCell::new(state));
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
        drop(index);
        self.handle(cell)
    }

    fn handle(&self, cell: Arc<DbCell>) -> Db<'_> {
        Db { store: self, cell }
    }

    /// The database known as `key` (addon id or database id).
    pub fn db(&self, key: &str) -> Option<Db<'_>> {
        let cell = self.databases.read().get(key).cloned()?;
        Some(self.handle(cell))
    }

    /// The database holding backup `id`.
    pub fn db_of_backup(&self, id: &str) -> Option<Db<'_>> {
        let cell = self.backups.read().get(id).cloned()?;
        Some(self.handle(cell))
    }

    /// Every database, in order.
    pub fn databases(&self) -> Vec<Db<'_>> {
        let cells = self.order.read().clone();
        cells.into_iter().map(|c| self.handle(c)).collect()
    }

    /// The databases of `app`, as its addons, in order.
    pub fn addons_of_app(&self, app: &str) -> Vec<Db<'_>> {
        self.databases()
            .into_iter()
            .filter(|db| db.cell.read().meta.app == app)
            .collect()
    }

    /// Now, on the fake's clock (milliseconds since the Unix epoch).
    pub fn now(&self) -> i64 {
        self.clock.now()
    }

    /// The fake's time when the real clock read `instant` (see
    /// [`Clock::at`]).
    pub fn now_at(&self, instant: Instant) -> i64 {
        self.clock.at(instant)
    }

    /// How the clock moves.
    pub fn clock_mode(&self) -> ClockMode {
        self.clock.mode()
    }

    /// The system clock's speed.
    pub fn time_scale(&self) -> f64 {
        self.clock.scale()
    }

    /// Moves the clock forward by `millis` (zero or more) and creates the
    /// periodic backups that became due; returns the new time.
    pub fn advance(&self, millis: u64) -> i64 {
        // A non-negative advance cannot be refused.
        let now = self
            .clock
            .advance(millis.min(i64::MAX as u64) as i64)
            .unwrap_or_else(|_| self.now());
        self.create_due_everywhere();
        now
    }

    /// Sets the clock to `millis` (never backwards) and creates the periodic
    /// backups that became due.
    pub fn set_time(&self, millis: i64) -> Result<i64, Error> {
        let now = self.clock.set(millis).map_err(|e| Error::invalid("set", e.0))?;
        self.create_due_everywhere();
        Ok(now)
    }

    fn create_due_everywhere(&self) {
        for db in self.databases() {
            db.fresh();
        }
    }

    /// The global seed in use.
    pub fn seed(&self) -> u64 {
        *self.seed.read()
    }

    /// Re-seeds every database's generator from `seed`, as at start (a
    /// database with a seed of its own keeps it).
    pub fn reseed(&self, seed: u64) {
        *self.seed.write() = seed;
        for db in self.databases() {
            db.cell.write().reseed(seed);
        }
    }

    /// The global lifecycle settings.
    pub fn lifecycle(&self) -> Lifecycle {
        self.lifecycle.read().clone()
    }

    /// Changes the global lifecycle settings (for backups created from now on).
    pub fn set_lifecycle(&self, patch: &LifecyclePatch) -> Result<Lifecycle, Error> {
        let mut life = self.lifecycle.write();
        let next = life.patched(patch);
        next.validate().map_err(Error::invalid_fields)?;
        *life = next.clone();
        Ok(next)
    }

    /// The retention cap.
    pub fn retention(&self) -> Option<usize> {
        *self.retention.read()
    }

    /// Sets the retention cap (checked by the caller) and applies it to every
    /// database now.
    pub fn set_retention(&self, cap: Option<usize>) {
        *self.retention.write() = cap;
        let now = self.now();
        for db in self.databases() {
            let mut s = db.cell.write();
            let removed = s.enforce_retention(cap, now);
            let mut index = self.backups.write();
            for id in removed {
                index.remove(&id);
            }
        }
    }
}

/// A handle on one database of the store: every read and write of a
/// database goes through one of these.
pub(crate) struct Db<'s> {
    store: &'s Store,
    cell: Arc<DbCell>,
}

impl Db<'_> {
    /// Creates the periodic backups the clock made due; returns now.
    fn fresh(&self) -> i64 {
        let now = self.store.now();
        if !self.cell.read().periodic_due(now) {
            return now;
        }
        let mut s = self.cell.write();
        let life = self.store.lifecycle.read().patched(&s.meta.lifecycle);
        // The index is updated under the database's lock, so a backup is
        // findable by id as soon as it is listed.
        let mut index = self.store.backups.write();
        s.create_due_periodic(now, &life, &mut index, &self.cell);
        for id in s.enforce_retention(self.store.retention(), now) {
            index.remove(&id);
        }
        now
    }

    /// `f` of the addon id, borrowed (no copy: this runs on every request).
    pub fn with_addon_id<R>(&self, f: impl FnOnce(&str) -> R) -> R {
        f(&self.cell.read().meta.addon_id)
    }

    /// The addon id (the database's name in paths).
    pub fn addon_id(&self) -> String {
        self.cell.read().meta.addon_id.clone()
    }

    /// The database id (its other name in paths).
    pub fn database_id(&self) -> String {
        self.cell.read().meta.database_id.clone()
    }

    /// The app the database belongs to.
    pub fn app(&self) -> String {
        self.cell.read().meta.app.clone()
    }

    /// The database as an addon of its app.
    pub fn addon(&self) -> crate::model::Addon {
        self.cell.read().meta.addon()
    }

    /// The database object, as `GET /api/databases/:db` shows it.
    pub fn info(&self) -> DatabaseInfo {
        self.fresh();
        self.cell.read().meta.info()
    }

    /// The backups, newest first, as seen now.
    pub fn list(&self) -> Vec<Backup> {
        let now = self.fresh();
        let s = self.cell.read();
        s.backups.iter().rev().map(|b| b.view(&s.meta, now)).collect()
    }

    /// The list route's body, `{"database_backups":[…]}`, from the cache
    /// while nothing it shows can have changed. The kept body is checked
    /// at `now` on the fake's clock (the request's arrival, read once); a
    /// body rendered afresh is rendered at the time it is rendered.
    pub fn list_json(&self, now: i64) -> Bytes {
        // Most of the time no periodic backup is due and the kept body
        // holds: one read of the database.
        if let Some(body) = self.cell.kept_list_body(now, |s| !s.periodic_due(now)) {
            return body;
        }
        let now = self.fresh();
        self.cell.list_body(now, |s, now| {
            render::list(&s.meta, s.backups.iter(), s.next_periodic, now)
        })
    }

    /// One backup, as seen now.
    pub fn show(&self, backup_id: &str) -> Option<Backup> {
        let now = self.fresh();
        let s = self.cell.read();
        s.find(backup_id).map(|b| b.view(&s.meta, now))
    }

    /// What a download of backup `backup_id` needs, as seen now.
    pub fn archive_target(&self, backup_id: &str) -> Option<ArchiveTarget> {
        let now = self.fresh();
        let s = self.cell.read();
        let b = s.find(backup_id)?;
        let snap = b.snapshot(now);
        Some(ArchiveTarget {
            addon_id: s.meta.addon_id.clone(),
            db_type: s.meta.db_type.clone(),
            backup_id: b.id.clone(),
            name: b.name.clone(),
            created_secs: b.created_at.millis().div_euclid(1000),
            status: snap.status,
            size: snap.size,
            file: b.archive_file.as_ref().map(|f| f.path.clone()),
        })
    }

    /// Creates a manual backup now.
    pub fn create(&self) -> Backup {
        let now = self.fresh();
        let mut s = self.cell.write();
        let life = self.store.lifecycle.read().patched(&s.meta.lifecycle);
        let mut index = self.store.backups.write();
        let record = s.new_backup(now, Method::Manual, &life, &index);
        let view = record.view(&s.meta, now);
        index.insert(record.id.clone(), self.cell.clone());
        s.insert(record, now);
        for id in s.enforce_retention(self.store.retention(), now) {
            index.remove(&id);
        }
        view
    }

    /// Changes the periodic-backup settings from now on.
    pub fn configure_periodic(&self, enabled: Option<bool>, hours: Option<Vec<u8>>) -> DatabaseInfo {
        let now = self.fresh();
        let mut s = self.cell.write();
        if let Some(e) = enabled {
            s.meta.periodic_enabled = e;
        }
        if let Some(h) = hours {
            s.meta.periodic_hours = h;
        }
        s.schedule_after(now);
        s.meta.info()
    }

    /// Moves the weekly maintenance window (either field alone, or both);
    /// the values are checked by the caller
    /// ([`crate::model::MaintenanceWindow::check_weekday`], …).
    pub fn configure_maintenance_window(&self, weekday_utc: Option<u8>, starting_hour_utc: Option<u8>) -> DatabaseInfo {
        self.fresh();
        let mut s = self.cell.write();
        if let Some(d) = weekday_utc {
            s.meta.maintenance_window.weekday_utc = d;
        }
        if let Some(h) = starting_hour_utc {
            s.meta.maintenance_window.starting_hour_utc = h;
        }
        s.meta.info()
    }

    /// The database's own lifecycle override and the settings in effect.
    pub fn lifecycle(&self) -> DatabaseLifecycle {
        let own = self.cell.read().meta.lifecycle.clone();
        let effective = self.store.lifecycle.read().patched(&own);
        DatabaseLifecycle { own, effective }
    }

    /// Merges `patch` into the database's own lifecycle override.
    pub fn set_lifecycle(&self, patch: &LifecyclePatch) -> Result<DatabaseLifecycle, Error> {
        let mut s = self.cell.write();
        let own = s.meta.lifecycle.merged(patch);
        let effective = self.store.lifecycle.read().patched(&own);
        effective.validate().map_err(Error::invalid_fields)?;
        s.meta.lifecycle = own.clone();
        Ok(DatabaseLifecycle { own, effective })
    }

    /// Gives the database a seed of its own.
    pub fn reseed(&self, seed: u64) {
        let mut s = self.cell.write();
        s.meta.seed = Some(seed);
        s.reseed(seed);
    }

    /// Ends backup `backup_id` now with `outcome`; `None` if it is not here.
    pub fn finish_backup(&self, backup_id: &str, outcome: Outcome) -> Option<Backup> {
        let now = self.fresh();
        let mut s = self.cell.write();
        let life = self.store.lifecycle.read().patched(&s.meta.lifecycle);
        let known = s.find(backup_id)?.known_size(now);
        let size = match outcome {
            Outcome::Error => 0,
            // A size is drawn only when the backup never had one.
            Outcome::Done => known.unwrap_or_else(|| s.draw_size(&life)),
        };
        let meta = s.meta.clone();
        let record = s.backups.update(backup_id, now, |r| r.finish_now(outcome, size, now))?;
        Some(record.view(&meta, now))
    }

    /// The fixture the database was made from.
    pub fn origin(&self) -> Arc<DatabaseFixture> {
        self.cell.read().origin.clone()
    }

    /// Puts the database back as it was made (its fixture, drawn again from
    /// its seed), at the current time.
    pub fn reset(&self) {
        let now = self.store.now();
        let mut s = self.cell.write();
        let origin = s.origin.clone();
        let life = self.store.lifecycle.read().patched(&origin.lifecycle);
        let mut fresh = DbState::from_fixture(&origin, &life, self.store.seed(), now);
        fresh.enforce_retention(self.store.retention(), now);
        let mut index = self.store.backups.write();
        for b in s.backups.iter() {
            index.remove(&b.id);
        }
        for b in fresh.backups.iter() {
            index.insert(b.id.clone(), self.cell.clone());
        }
        *s = fresh;
    }

    /// Adds a backup in any state, from its (checked) fixture; refuses an id
    /// already in use.
    pub fn seed_backup(&self, b: &BackupFixture) -> Result<Backup, Error> {
        let now = self.fresh();
        let mut s = self.cell.write();
        let mut index = self.store.backups.write();
        if index.contains_key(&b.id) {
            return Err(Error::invalid("id", format!("backup id `{}` is already in use", b.id)));
        }
        let life = self.store.lifecycle.read().patched(&s.meta.lifecycle);
        let record = database::record_from_fixture(b, &s.meta, &life);
        let view = record.view(&s.meta, now);
        index.insert(record.id.clone(), self.cell.clone());
        s.insert(record, now);
        for id in s.enforce_retention(self.store.retention(), now) {
            index.remove(&id);
        }
        Ok(view)
    }

    /// Copies of the database's metadata and records (for the renderer's tests).
    #[cfg(test)]
    pub(crate) fn records(&self) -> (records::DatabaseMeta, Vec<records::BackupRecord>) {
        let s = self.cell.read();
        (s.meta.clone(), s.backups.iter().cloned().collect())
    }
}
