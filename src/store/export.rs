//! A database's current state in the fixtures format (`GET /_fake/state`):
//! what loading it back gives the same database, and exporting that again
//! gives the same bytes.

use serde_json::{json, Map, Value};

use super::database::DbState;
use super::records::{BackupRecord, Progress};

/// The fixture of `s` as it stands now (its backups included).
pub(crate) fn database(s: &DbState) -> Value {
    let m = &s.meta;
    let mut out = json!({
        "id": m.addon_id,
        "database_id": m.database_id,
        "resource_name": m.resource_name,
        "type": m.db_type,
        "app": m.app,
        "plan": m.plan,
        "version": m.version,
        "created_at": m.created_at,
        "status": m.status,
        "hostname": m.hostname,
        "features": m.features,
        "maintenance_window": m.maintenance_window,
        "instances": m.instances,
        "tokens": s.origin.tokens,
        "periodic_backups_enabled": m.periodic_enabled,
        "periodic_backups_scheduled_at": m.periodic_hours,
        "backups": s.backups.iter().map(backup).collect::<Vec<_>>(),
    });
    if let Some(map) = out.as_object_mut() {
        if let Some(seed) = m.seed {
            map.insert("seed".into(), json!(seed));
        }
        let lifecycle = json!(m.lifecycle);
        if lifecycle.as_object().is_some_and(|l| !l.is_empty()) {
            map.insert("lifecycle".into(), lifecycle);
        }
    }
    out
}

/// One backup in the fixtures format: its fixed status, or the progress it
/// makes on the clock (with its own phases, so it moves as it did).
fn backup(b: &BackupRecord) -> Value {
    let mut out = Map::new();
    out.insert("id".into(), json!(b.id));
    out.insert("created_at".into(), json!(b.created_at));
    out.insert("name".into(), json!(b.name));
    out.insert("method".into(), json!(b.method));
    match b.progress() {
        Progress::Fixed {
            status,
            started_at,
            size,
        } => {
            out.insert("status".into(), json!(status));
            if let Some(t) = started_at {
                out.insert("started_at".into(), json!(t));
            }
            if let Some(n) = size {
                out.insert("size".into(), json!(n));
            }
        }
        Progress::Timed {
            phases,
            outcome,
            final_size,
            ..
        } => {
            let secs = |ms: u64| ms as f64 / 1000.0;
            out.insert(
                "progress".into(),
                json!({
                    "outcome": outcome,
                    "size": final_size,
                    "scheduled_secs": secs(phases.scheduled_ms),
                    "pending_secs": secs(phases.pending_ms),
                    "running_secs": secs(phases.running_ms),
                }),
            );
        }
    }
    if let Some(f) = &b.archive_file {
        out.insert("archive_file".into(), json!(f.path));
    }
    Value::Object(out)
}
