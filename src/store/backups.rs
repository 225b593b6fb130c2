//! One database's backups: kept in creation order for the list, indexed by
//! id for everything else, with what the retention cap needs to drop the
//! oldest finished backup without walking the rest.
//!
//! - **Order**: a `BTreeMap` keyed by (creation instant, arrival number), so
//!   backups created in the same millisecond keep the order they came in; the
//!   list walks it newest first.
//! - **By id**: a `HashMap` from id to key: show, archive, download and
//!   finishing a backup cost one hash and one tree lookup, whatever the
//!   backup's age.
//! - **Retention**: the keys of the backups known to be finished, oldest
//!   first, and of the timed ones that will finish, by the instant they do.
//!   Status is derived from time, so a backup moves from the second set to
//!   the first when the clock has passed its end (time never goes back); each
//!   backup moves once, and the cap drops from the front of the first set:
//!   amortised O(log n) per new backup, not a walk of every backup.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use super::records::{BackupRecord, Progress};

/// Where a backup stands in the order: its creation instant, then its
/// arrival number.
type Key = (i64, u64);

/// Where a backup stands for the retention cap.
enum Stage {
    /// Finished: may be dropped.
    Finished,
    /// Timed: finishes at this instant.
    Finishing(i64),
    /// Fixed and not finished: never dropped.
    Never,
}

impl Stage {
    fn of(record: &BackupRecord, now: i64) -> Stage {
        if record.snapshot(now).status.is_finished() {
            return Stage::Finished;
        }
        match record.progress() {
            Progress::Timed { phases, .. } => Stage::Finishing(phases.boundaries(record.created_at.millis())[2]),
            Progress::Fixed { .. } => Stage::Never,
        }
    }
}

/// The backups of one database.
#[derive(Debug, Default)]
pub(crate) struct Backups {
    by_order: BTreeMap<Key, BackupRecord>,
    by_id: HashMap<String, Key>,
    next_seq: u64,
    /// Finished at the last look, oldest created first.
    finished: BTreeSet<Key>,
    /// Timed and not finished at the last look, by the instant they finish.
    finishing: BTreeSet<(i64, Key)>,
}

impl Backups {
    /// How many there are.
    pub fn len(&self) -> usize {
        self.by_order.len()
    }

    /// Oldest first.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &BackupRecord> + ExactSizeIterator {
        self.by_order.values()
    }

    /// The backup `id`.
    pub fn get(&self, id: &str) -> Option<&BackupRecord> {
        self.by_order.get(self.by_id.get(id)?)
    }

    /// Adds a backup (seen at `now`, to know whether it has finished).
    pub fn insert(&mut self, record: BackupRecord, now: i64) {
        let key = (record.created_at.millis(), self.next_seq);
        self.next_seq += 1;
        self.classify(key, &record, now);
        self.by_id.insert(record.id.clone(), key);
        self.by_order.insert(key, record);
    }

    /// Puts `key` in the retention set its record's progress says.
    fn classify(&mut self, key: Key, record: &BackupRecord, now: i64) {
        match Stage::of(record, now) {
            Stage::Finished => {
                self.finished.insert(key);
            }
            Stage::Finishing(end) => {
                self.finishing.insert((end, key));
            }
            Stage::Never => {}
        }
    }

    /// Changes the backup `id` with `change` (which may change its
    /// progress); `None` if it is not here.
    pub fn update(&mut self, id: &str, now: i64, change: impl FnOnce(&mut BackupRecord)) -> Option<&BackupRecord> {
        let key = *self.by_id.get(id)?;
        let record = self.by_order.get_mut(&key)?;
        // Out of both sets: a timed backup may have finished since it was
        // last classified without having moved yet.
        self.finished.remove(&key);
        if let Progress::Timed { phases, .. } = record.progress() {
            self.finishing
                .remove(&(phases.boundaries(record.created_at.millis())[2], key));
        }
        change(record);
        match Stage::of(record, now) {
            Stage::Finished => self.finished.insert(key),
            Stage::Finishing(end) => self.finishing.insert((end, key)),
            Stage::Never => false,
        };
        self.by_order.get(&key)
    }

    /// Drops the oldest finished backups past `cap`, as seen at `now`;
    /// returns their ids. A backup still in progress is never dropped.
    pub fn enforce_retention(&mut self, cap: Option<usize>, now: i64) -> Vec<String> {
        let Some(cap) = cap else {
            return Vec::new();
        };
        let mut removed = Vec::new();
        if self.len() <= cap {
            return removed;
        }
        while let Some(&(end, key)) = self.finishing.first() {
            if end > now {
                break;
            }
            self.finishing.pop_first();
            self.finished.insert(key);
        }
        while self.len() > cap {
            let Some(key) = self.finished.pop_first() else {
                break;
            };
            if let Some(record) = self.by_order.remove(&key) {
                self.by_id.remove(&record.id);
                removed.push(record.id);
            }
        }
        removed
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lifecycle::{Outcome, Phases};
    use crate::model::{Method, Status};
    use crate::timestamp::Timestamp;

    const PHASES: Phases = Phases {
        scheduled_ms: 10,
        pending_ms: 0,
        running_ms: 10,
    };

    fn timed(id: &str, created: i64) -> BackupRecord {
        let progress = Progress::Timed {
            phases: PHASES,
            outcome: Outcome::Done,
            final_size: 5000,
            started_at: Timestamp::from_millis(created + 10),
        };
        BackupRecord::new(
            id.into(),
            Timestamp::from_millis(created),
            id.into(),
            Method::Manual,
            progress,
        )
    }

    fn fixed(id: &str, created: i64, status: Status) -> BackupRecord {
        let progress = Progress::Fixed {
            status,
            started_at: None,
            size: Some(0),
        };
        BackupRecord::new(
            id.into(),
            Timestamp::from_millis(created),
            id.into(),
            Method::Manual,
            progress,
        )
    }

    fn ids(b: &Backups) -> Vec<&str> {
        b.iter().map(|r| r.id.as_str()).collect()
    }

    #[test]
    fn backups_keep_creation_order_and_arrival_order_within_a_millisecond() {
        let mut b = Backups::default();
        b.insert(timed("late", 300), 0);
        b.insert(timed("first", 100), 0);
        b.insert(timed("second", 100), 0);
        assert_eq!(ids(&b), ["first", "second", "late"]);
        assert_eq!(b.get("second").map(|r| r.created_at.millis()), Some(100));
        assert!(b.get("nope").is_none());
    }

    #[test]
    fn the_cap_drops_the_oldest_finished_and_never_one_in_progress() {
        let mut b = Backups::default();
        b.insert(fixed("stuck", 0, Status::Running), 0);
        b.insert(timed("a", 10), 10);
        b.insert(timed("b", 20), 20);
        b.insert(timed("c", 1_000), 1_000);
        // At 1 000, a and b have finished, c has not, stuck never will.
        assert_eq!(b.enforce_retention(Some(2), 1_000), ["a", "b"]);
        assert_eq!(ids(&b), ["stuck", "c"]);
        assert!(
            b.enforce_retention(Some(1), 1_000).is_empty(),
            "nothing finished to drop"
        );
        assert_eq!(b.enforce_retention(Some(1), 1_020), ["c"], "c finished at 1 020");
        assert_eq!(ids(&b), ["stuck"]);
    }

    #[test]
    fn a_backup_finished_by_hand_can_then_be_dropped() {
        let mut b = Backups::default();
        b.insert(fixed("stuck", 0, Status::Running), 0);
        b.insert(timed("new", 100), 100);
        assert!(b.enforce_retention(Some(1), 100).is_empty());
        b.update("stuck", 100, |r| r.finish_now(Outcome::Error, 0, 100));
        assert_eq!(b.get("stuck").map(|r| r.snapshot(100).status), Some(Status::Error));
        assert_eq!(b.enforce_retention(Some(1), 100), ["stuck"]);
        // A timed backup finished by hand before its time leaves the waiting set too.
        b.insert(timed("x", 200), 200);
        b.update("new", 200, |r| r.finish_now(Outcome::Done, 5000, 200));
        assert_eq!(b.enforce_retention(Some(1), 200), ["new"]);
        assert_eq!(ids(&b), ["x"]);
    }
}
