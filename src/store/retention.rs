//! The cap on kept backups per database: past it, the oldest finished
//! backups are dropped (one still in progress is never dropped).

use super::records::BackupRecord;

/// Drops from `backups` (oldest first) the oldest finished ones past `cap`,
/// as seen at `now`; returns their ids.
pub(crate) fn enforce(backups: &mut Vec<BackupRecord>, cap: Option<usize>, now: i64) -> Vec<String> {
    let Some(cap) = cap else {
        return Vec::new();
    };
    let mut excess = backups.len().saturating_sub(cap);
    let mut removed = Vec::new();
    if excess == 0 {
        return removed;
    }
    backups.retain(|b| {
        if excess > 0 && b.snapshot(now).status.is_finished() {
            excess -= 1;
            removed.push(b.id.clone());
            false
        } else {
            true
        }
    });
    removed
}
