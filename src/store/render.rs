//! The JSON bytes of the list route, built for speed: a pure function from a
//! database's records and an instant to the body and the instant until which
//! it holds.
//!
//! Two things make it cheap without ever showing a stale status (what is kept,
//! and when it is dropped, is said in [`super::cache`]):
//! - a backup that can no longer change (a fixture status, a forced outcome,
//!   or a timed backup that has finished) keeps its rendered bytes, so a list
//!   copies them instead of encoding them again;
//! - a backup still in progress keeps the escaped text of its fixed fields,
//!   so rendering it only writes `started_at`, `size` and `status`.
//!
//! The bytes are exactly those serde would write for [`crate::model::Backup`]
//! (a test renders both ways and compares).

use bytes::Bytes;

use super::cache::{FixedParts, ListCache};
use super::records::{BackupRecord, DatabaseMeta};
use crate::model::Method;

/// What every backup of one database ends with, after its status.
struct Tails {
    manual: Vec<u8>,
    periodic: Vec<u8>,
}

impl Tails {
    /// `","database_id":"…","method":"…","type":"…"}`
    fn new(meta: &DatabaseMeta) -> Self {
        let tail = |method: &str| {
            let mut t = b"\",\"database_id\":".to_vec();
            push_str(&mut t, &meta.database_id);
            t.extend_from_slice(b",\"method\":\"");
            t.extend_from_slice(method.as_bytes());
            t.extend_from_slice(b"\",\"type\":");
            push_str(&mut t, &meta.db_type);
            t.push(b'}');
            t
        };
        Tails {
            manual: tail("manual"),
            periodic: tail("periodic"),
        }
    }

    fn of(&self, method: Method) -> &[u8] {
        match method {
            Method::Manual => &self.manual,
            Method::Periodic => &self.periodic,
        }
    }
}

/// Appends `s` as a JSON string (quoted and escaped).
fn push_str(out: &mut Vec<u8>, s: &str) {
    // Writing into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, s);
}

fn fixed_parts(b: &BackupRecord) -> FixedParts {
    let mut head = b"{\"id\":".to_vec();
    push_str(&mut head, &b.id);
    head.extend_from_slice(b",\"created_at\":");
    push_str(&mut head, &b.created_at.to_string());
    head.extend_from_slice(b",\"started_at\":");
    let mut name = b",\"name\":".to_vec();
    push_str(&mut name, &b.name);
    name.extend_from_slice(b",\"size\":");
    FixedParts {
        head: head.into(),
        name: name.into(),
    }
}

/// Appends the JSON of `b` as seen at `now` to `out`.
fn backup(b: &BackupRecord, tails: &Tails, now: i64, out: &mut Vec<u8>) {
    if let Some(json) = b.rendered.finished() {
        out.extend_from_slice(json);
        out.extend_from_slice(tails.of(b.method));
        return;
    }
    let s = b.snapshot(now);
    let parts = b.rendered.fixed(|| fixed_parts(b));
    let start = out.len();
    out.extend_from_slice(&parts.head);
    match s.started_at {
        Some(t) => push_str(out, &t.to_string()),
        None => out.extend_from_slice(b"null"),
    }
    out.extend_from_slice(&parts.name);
    match s.size {
        Some(n) => {
            let digits = itoa_buf(n);
            out.extend_from_slice(digits.as_bytes());
        }
        None => out.extend_from_slice(b"null"),
    }
    out.extend_from_slice(b",\"status\":\"");
    out.extend_from_slice(s.status.as_str().as_bytes());
    if s.status.is_finished() {
        b.rendered.keep_finished(&out[start..]);
    }
    out.extend_from_slice(tails.of(b.method));
}

/// The decimal digits of `n`, without allocating.
struct Digits {
    buf: [u8; 20],
    from: usize,
}

impl Digits {
    fn as_bytes(&self) -> &[u8] {
        &self.buf[self.from..]
    }
}

fn itoa_buf(mut n: u64) -> Digits {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    Digits { buf, from: i }
}

/// `{"database_backups":[…]}` of `backups` (oldest first; listed newest
/// first) as seen at `now`, with the instant it stops being true: the next
/// status change of a backup, or `next_periodic`, whichever comes first.
pub(crate) fn list<'a>(
    meta: &DatabaseMeta,
    backups: impl DoubleEndedIterator<Item = &'a BackupRecord> + ExactSizeIterator,
    next_periodic: Option<i64>,
    now: i64,
) -> ListCache {
    let tails = Tails::new(meta);
    let mut out = Vec::with_capacity(32 + backups.len() * 300);
    out.extend_from_slice(b"{\"database_backups\":[");
    let mut valid_until = next_periodic.unwrap_or(i64::MAX);
    for (i, b) in backups.rev().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        backup(b, &tails, now, &mut out);
        if let Some(t) = b.next_change(now) {
            valid_until = valid_until.min(t);
        }
    }
    out.extend_from_slice(b"]}");
    ListCache::new(Bytes::from(out), valid_until)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::parse_str;
    use crate::store::Store;
    use crate::Config;

    #[test]
    fn the_fast_bytes_are_the_bytes_serde_writes_at_every_instant() {
        let text = r#"{"databases":[{"id":"d","database_id":"aaaaaaaaaaaaaaaaaaaaaaaa","resource_name":"kibana-1",
            "type":"post\"gres","app":"a","lifecycle":{"scheduled_secs":10,"pending_secs":10,"running_secs":10},
            "backups":[
              {"id":"bbbbbbbbbbbbbbbbbbbbbbb1","created_at":"2024-01-01T00:00:00.000+01:00","progress":{"outcome":"done","size":123456}},
              {"id":"bbbbbbbbbbbbbbbbbbbbbbb2","created_at":"2024-01-01T00:00:05.5+01:00","method":"manual","progress":{"outcome":"error"}},
              {"id":"bbbbbbbbbbbbbbbbbbbbbbb3","created_at":"2023-01-01T00:00:00Z","started_at":"2023-01-01T00:00:01Z","status":"done","size":99999999999}]}]}"#;
        let set = parse_str(text, std::path::Path::new("t.json")).unwrap();
        let store = Store::new(&Config::default(), &set, 1);
        let db = store.db("d").unwrap();
        let start = crate::Timestamp::parse("2024-01-01T00:00:00.000+01:00")
            .unwrap()
            .millis();
        let (meta, backups) = db.records();
        for t in (0..40_000).step_by(2_500) {
            let fast = list(&meta, backups.iter(), None, start + t);
            let views: Vec<_> = backups.iter().rev().map(|b| b.view(&meta, start + t)).collect();
            let slow = serde_json::to_vec(&serde_json::json!({ "database_backups": views })).unwrap();
            let reference: serde_json::Value = serde_json::from_slice(&slow).unwrap();
            let fast_value: serde_json::Value = serde_json::from_slice(&fast.body()).unwrap();
            assert_eq!(fast_value, reference, "at +{t} ms");
            // And byte for byte against serde with the struct's own field order.
            let mut ordered = b"{\"database_backups\":[".to_vec();
            for (i, v) in views.iter().enumerate() {
                if i > 0 {
                    ordered.push(b',');
                }
                serde_json::to_writer(&mut ordered, v).unwrap();
            }
            ordered.extend_from_slice(b"]}");
            assert_eq!(
                String::from_utf8_lossy(&fast.body()),
                String::from_utf8_lossy(&ordered),
                "at +{t} ms"
            );
        }
    }

    #[test]
    fn digits_are_decimal() {
        for n in [0u64, 7, 10, 17_484_513_608, u64::MAX] {
            assert_eq!(itoa_buf(n).as_bytes(), n.to_string().as_bytes());
        }
    }
}
