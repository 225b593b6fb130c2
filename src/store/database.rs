//! One database and its backups: the state behind one lock, and the ways it
//! changes (a new backup, the periodic schedule moving on, retention, a new
//! seed). Nothing here takes a lock: the store holds the database's lock
//! while it calls these.

use std::sync::Arc;

use rand::{Rng, SeedableRng};

use crate::fixtures::{BackupFixture, DatabaseFixture, InstanceFixture};
use crate::hashing::FastMap;
use crate::ids::{self, DetRng};
use crate::lifecycle::{Lifecycle, Outcome};
use crate::model::{backup_name, Instance, Method, Status};
use crate::timestamp::Timestamp;

use super::backups::Backups;
use super::cache::Guarded;
use super::periodic;
use super::records::{
    default_hostname, default_port, default_version, instance_id, ArchiveFile, BackupRecord, DatabaseMeta, Progress,
};

/// A database behind its own lock (see [`Guarded`]).
pub(crate) type DbCell = Guarded<DbState>;

/// One database and its backups.
#[derive(Debug)]
pub(crate) struct DbState {
    pub meta: DatabaseMeta,
    /// Oldest first (the API lists them reversed), indexed by id.
    pub backups: Backups,
    /// The next scheduled hour not yet given its backup, when periodic
    /// backups are on.
    pub next_periodic: Option<i64>,
    /// The fixture the database was made from (what a reset goes back to).
    pub origin: Arc<DatabaseFixture>,
    rng: DetRng,
}

impl DbState {
    /// The state of a database from its (checked) fixture, at `now`, with the
    /// lifecycle `life` for its timed fixture backups.
    pub fn from_fixture(f: &Arc<DatabaseFixture>, life: &Lifecycle, global_seed: u64, now: i64) -> Self {
        let meta = meta_from_fixture(f, now);
        let mut backups = Backups::default();
        for b in &f.backups {
            backups.insert(record_from_fixture(b, &meta, life), now);
        }
        let mut state = DbState {
            rng: DetRng::seed_from_u64(0),
            meta,
            backups,
            next_periodic: None,
            origin: f.clone(),
        };
        state.reseed(global_seed);
        state.schedule_after(now);
        state
    }

    pub fn find(&self, backup_id: &str) -> Option<&BackupRecord> {
        self.backups.get(backup_id)
    }

    /// Inserts in creation order (seen at `now`).
    pub fn insert(&mut self, record: BackupRecord, now: i64) {
        self.backups.insert(record, now);
    }

    /// Whether a periodic backup is due at `now`.
    pub fn periodic_due(&self, now: i64) -> bool {
        self.next_periodic.is_some_and(|t| t <= now)
    }

    /// Moves the periodic schedule to the first scheduled hour after `instant`.
    pub fn schedule_after(&mut self, instant: i64) {
        self.next_periodic = if self.meta.periodic_enabled {
            periodic::next_scheduled_hour(&self.meta.periodic_hours, instant)
        } else {
            None
        };
    }

    /// Creates every periodic backup due at `now` (at most the backlog),
    /// each indexed in `index` under `cell`; returns how many.
    pub fn create_due_periodic(
        &mut self,
        now: i64,
        life: &Lifecycle,
        index: &mut FastMap<String, Arc<DbCell>>,
        cell: &Arc<DbCell>,
    ) -> usize {
        let oldest = periodic::backlog_start(now);
        if self.next_periodic.is_some_and(|t| t < oldest) {
            tracing::warn!(
                "{}: the clock jumped more than {} days; periodic backups start {} days back",
                self.meta.addon_id,
                periodic::BACKLOG_DAYS,
                periodic::BACKLOG_DAYS
            );
            self.schedule_after(oldest);
        }
        let mut created = 0;
        while let Some(t) = self.next_periodic.filter(|t| *t <= now) {
            let record = self.new_backup(t, Method::Periodic, life, index);
            index.insert(record.id.clone(), cell.clone());
            self.insert(record, now);
            self.schedule_after(t);
            created += 1;
        }
        created
    }

    /// Drops the oldest finished backups past `cap`; returns their ids.
    pub fn enforce_retention(&mut self, cap: Option<usize>, now: i64) -> Vec<String> {
        self.backups.enforce_retention(cap, now)
    }

    /// Re-seeds the database's generator: from its own seed if it has one,
    /// else from `global_seed`.
    pub fn reseed(&mut self, global_seed: u64) {
        // Mixed with the addon id either way: two databases given the same
        // seed still draw different ids.
        self.rng = ids::database_rng(self.meta.seed.unwrap_or(global_seed), &self.meta.addon_id);
    }

    /// Draws id, outcome and final size of a new backup (always all three, in
    /// this order, so a seed gives the same sequence whatever the settings).
    /// An id already `taken` (say, after re-seeding twice in one second) is
    /// drawn again.
    pub fn new_backup<V>(
        &mut self,
        created: i64,
        method: Method,
        life: &Lifecycle,
        taken: &FastMap<String, V>,
    ) -> BackupRecord {
        let created_at = Timestamp::from_millis(created);
        let mut id = ids::backup_id(&mut self.rng, created.div_euclid(1000));
        while taken.contains_key(&id) {
            id = ids::backup_id(&mut self.rng, created.div_euclid(1000));
        }
        let fails = self.rng.random::<f64>() < life.failure_rate;
        let final_size = self.draw_size(life);
        let phases = life.phases();
        let started_at = created_at.with_same_offset(phases.boundaries(created)[0]);
        let name = backup_name(&created_at, &self.meta.resource_name);
        let progress = Progress::Timed {
            phases,
            outcome: if fails { Outcome::Error } else { Outcome::Done },
            final_size,
            started_at,
        };
        BackupRecord::new(id, created_at, name, method, progress)
    }

    /// A final size drawn from the settings.
    pub fn draw_size(&mut self, life: &Lifecycle) -> u64 {
        self.rng.random_range(life.size_min..=life.size_max.max(life.size_min))
    }
}

/// What is kept of a database from its (checked) fixture, defaults filled in.
fn meta_from_fixture(f: &DatabaseFixture, now: i64) -> DatabaseMeta {
    let hostname = f
        .hostname
        .clone()
        .unwrap_or_else(|| default_hostname(&f.resource_name, &f.db_type));
    DatabaseMeta {
        addon_id: f.id.clone(),
        database_id: f.database_id.clone(),
        resource_name: f.resource_name.clone(),
        db_type: f.db_type.clone(),
        app: f.app.clone(),
        plan: f.plan.clone().unwrap_or_else(|| format!("{}-starter-512", f.db_type)),
        version: f.version.clone().unwrap_or_else(|| default_version(&f.db_type).into()),
        created_at: f.created_at.clone().unwrap_or_else(|| Timestamp::from_millis(now)),
        status: f.status,
        instances: instances_from_fixture(f, &hostname),
        hostname,
        features: f.features.iter().map(|x| x.feature()).collect(),
        // Checked at load: an error cannot happen here.
        maintenance_window: f.maintenance_window.window().unwrap_or_default(),
        periodic_enabled: f.periodic_backups_enabled,
        periodic_hours: f.periodic_backups_scheduled_at.clone(),
        lifecycle: f.lifecycle.clone(),
        seed: f.seed,
    }
}

/// The fixture's instances with their defaults, or one `db-node` on
/// `hostname` and the type's port.
fn instances_from_fixture(f: &DatabaseFixture, hostname: &str) -> Vec<Instance> {
    let one = [InstanceFixture::default()];
    let given = f.instances.as_deref().unwrap_or(&one);
    given
        .iter()
        .enumerate()
        .map(|(i, x)| Instance {
            id: x.id.clone().unwrap_or_else(|| instance_id(&f.database_id, i)),
            hostname: x.hostname.clone().unwrap_or_else(|| hostname.to_string()),
            port: x.port.unwrap_or_else(|| default_port(&f.db_type)),
            status: x.status,
            instance_type: x.instance_type,
            features: x.features.clone(),
            private_ip: x
                .private_ip
                .clone()
                .unwrap_or_else(|| format!("10.0.{}.{}", i / 250, i % 250 + 1)),
        })
        .collect()
}

/// The record of a (checked) fixture backup of the database `meta`.
pub(crate) fn record_from_fixture(b: &BackupFixture, meta: &DatabaseMeta, life: &Lifecycle) -> BackupRecord {
    let progress = match (&b.progress, b.status) {
        (Some(p), _) => {
            let phases = life.patched(&p.phases()).phases();
            Progress::Timed {
                phases,
                outcome: p.outcome,
                final_size: p.size.unwrap_or(life.size_min),
                started_at: b
                    .created_at
                    .with_same_offset(phases.boundaries(b.created_at.millis())[0]),
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
