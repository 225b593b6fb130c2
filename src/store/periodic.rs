//! The daily schedule of periodic backups: when the next one is due.
//!
//! Periodic backups are created lazily, by the store, when a database is read
//! or the clock is moved: every scheduled hour the clock has passed gets its
//! backup then, stamped with that hour.

use chrono::{Duration as ChronoDuration, TimeZone, Utc};

/// A clock jump creates the periodic backups of at most this many days
/// before the new time (a 30-year jump would otherwise create 20 000+
/// backups per scheduled hour, all at once).
pub(crate) const BACKLOG_DAYS: i64 = 400;

/// The oldest instant a catch-up at `now` creates a periodic backup for.
pub(crate) fn backlog_start(now: i64) -> i64 {
    now.saturating_sub(BACKLOG_DAYS * 86_400_000)
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
