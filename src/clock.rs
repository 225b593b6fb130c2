//! The one clock of the fake: every timestamp the fake writes and
//! every status it derives reads [`Clock::now`] (or [`Clock::at`], the same
//! clock at a request's arrival, from the real clock's reading then).
//!
//! Three modes: the system clock, optionally sped up by a time scale
//! (`--time-scale 60` makes a minute pass each second); a manual clock that
//! only moves when a test advances or sets it; and tokio's clock, which
//! follows `tokio::time` — paused and auto-advanced in a test run with
//! `#[tokio::test(start_paused = true)]`, so every `tokio::time::sleep` of the
//! code under test moves the fake's backups too. Any of them can be moved
//! forward by hand; none ever moves backwards.

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

/// How the clock moves.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
#[serde(rename_all = "lowercase")]
pub enum ClockMode {
    /// Follows the system clock, scaled by `time_scale`.
    System,
    /// Moves only when told to.
    Manual,
    /// Follows tokio's clock (`tokio::time::Instant`), scaled by
    /// `time_scale`: in a runtime whose time is paused
    /// (`#[tokio::test(start_paused = true)]`), the fake's time moves exactly
    /// as far as the test's sleeps and timers do, with no real waiting.
    ///
    /// Limits: paused time needs a current-thread runtime, and the fake must
    /// run on it (`FakeServer::start().await`, not `start_blocking`); while
    /// paused, tokio jumps to the next timer whenever nothing is ready, so a
    /// client's timeouts fire as soon as everything else waits.
    #[cfg_attr(feature = "cli", value(skip))]
    Tokio,
}

/// Why the clock refused to move.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClockError(pub String);

impl std::fmt::Display for ClockError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ClockError {}

/// The latest instant the clock reaches: 9999-12-31T23:59:59.999Z (RFC 3339
/// has four-digit years).
pub const MAX_MILLIS: i64 = 253_402_300_799_999;

/// The simulated clock, shared by the whole fake.
///
/// Reading it is one atomic load (plus the monotonic clock in system mode):
/// simulated time is `offset + real time since origin × scale`, or `offset`
/// alone when manual, so moving the clock only changes `offset`.
#[derive(Debug)]
pub struct Clock {
    mode: ClockMode,
    scale: f64,
    /// Real time zero of this clock.
    origin: Instant,
    /// Tokio time zero of this clock (the tokio mode's origin).
    tokio_origin: tokio::time::Instant,
    /// See the type's doc; milliseconds.
    offset: AtomicI64,
    /// Serialises the writers, so that concurrent moves add up and the
    /// backwards check sees the latest time.
    writer: Mutex<()>,
}

/// The real wall clock, in milliseconds since the Unix epoch.
pub fn system_millis() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

impl Clock {
    /// A clock that starts at `start_millis` and moves as `mode` says.
    pub fn new(mode: ClockMode, scale: f64, start_millis: i64) -> Self {
        Self {
            mode,
            scale: if scale.is_finite() && scale > 0.0 { scale } else { 1.0 },
            origin: Instant::now(),
            tokio_origin: tokio::time::Instant::now(),
            offset: AtomicI64::new(start_millis),
            writer: Mutex::new(()),
        }
    }

    /// Now, in milliseconds since the Unix epoch.
    pub fn now(&self) -> i64 {
        self.at_real(Instant::now)
    }

    /// The time on this clock when the real clock read `instant` (a
    /// request's arrival: no second reading of the real clock). The same as
    /// [`Clock::now`] unless the clock follows the system's.
    pub fn at(&self, instant: Instant) -> i64 {
        self.at_real(|| instant)
    }

    /// The time on this clock; `instant` (called only when the clock
    /// follows the system's) gives the real clock's reading.
    fn at_real(&self, instant: impl FnOnce() -> Instant) -> i64 {
        let offset = self.offset.load(Ordering::Acquire);
        let now = match self.mode {
            ClockMode::Manual => offset,
            ClockMode::System => {
                let elapsed = instant().saturating_duration_since(self.origin);
                offset.saturating_add((elapsed.as_secs_f64() * 1000.0 * self.scale) as i64)
            }
            ClockMode::Tokio => {
                let elapsed = tokio::time::Instant::now().saturating_duration_since(self.tokio_origin);
                offset.saturating_add((elapsed.as_secs_f64() * 1000.0 * self.scale) as i64)
            }
        };
        now.min(MAX_MILLIS)
    }

    /// The mode.
    pub fn mode(&self) -> ClockMode {
        self.mode
    }

    /// The time scale (1.0 for real time; meaningless in manual mode).
    pub fn scale(&self) -> f64 {
        self.scale
    }

    /// Moves the clock forward by `millis` (negative is refused), in one
    /// step: concurrent advances add up.
    pub fn advance(&self, millis: i64) -> Result<i64, ClockError> {
        if millis < 0 {
            return Err(ClockError(
                "the clock never moves backwards: advance by zero or more".into(),
            ));
        }
        let _writer = self.writer.lock();
        let before = self.offset.load(Ordering::Acquire);
        // Past the year 9999 the clock stands still.
        let room = MAX_MILLIS.saturating_sub(self.now());
        self.offset
            .store(before.saturating_add(millis.min(room)), Ordering::Release);
        Ok(self.now())
    }

    /// Puts the clock back at `millis`, as if it had just started there (a
    /// reset of the whole fake: the one move backwards there is).
    pub fn restart(&self, millis: i64) {
        let _writer = self.writer.lock();
        let offset = self.offset.load(Ordering::Acquire);
        let moved = i128::from(offset) + i128::from(millis) - i128::from(self.now());
        self.offset.store(
            moved.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64,
            Ordering::Release,
        );
    }

    /// Sets the clock to `millis`, refusing to move backwards.
    pub fn set(&self, millis: i64) -> Result<i64, ClockError> {
        let _writer = self.writer.lock();
        let now = self.now();
        if millis > MAX_MILLIS {
            return Err(ClockError(format!(
                "the clock stops at {}: timestamps have four-digit years",
                crate::timestamp::format_millis(MAX_MILLIS)
            )));
        }
        if millis < now {
            return Err(ClockError(format!(
                "the clock never moves backwards: {} is before now ({})",
                crate::timestamp::format_millis(millis),
                crate::timestamp::format_millis(now)
            )));
        }
        let offset = self.offset.load(Ordering::Acquire);
        let moved = i128::from(offset) + i128::from(millis) - i128::from(now);
        self.offset.store(
            moved.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64,
            Ordering::Release,
        );
        Ok(millis)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manual_clock_moves_only_when_told() {
        let c = Clock::new(ClockMode::Manual, 1.0, 1_000);
        assert_eq!(c.now(), 1_000);
        c.advance(500).unwrap();
        assert_eq!(c.now(), 1_500);
        c.set(10_000).unwrap();
        assert_eq!(c.now(), 10_000);
    }

    #[test]
    fn a_request_s_time_is_the_clock_at_its_arrival() {
        // Following the system clock (sped up, so that a millisecond of
        // real time shows): the time at a past instant stays what it was,
        // and is behind now.
        let c = Clock::new(ClockMode::System, 1000.0, 1_000);
        let arrival = Instant::now();
        std::thread::sleep(std::time::Duration::from_millis(5));
        let then = c.at(arrival);
        assert_eq!(c.at(arrival), then, "the same instant, the same time");
        assert!(then >= 1_000 && then < c.now(), "{then} < {}", c.now());
        // A manual clock has no real instant to follow: `at` is `now`.
        let m = Clock::new(ClockMode::Manual, 1.0, 5_000);
        let arrival = Instant::now();
        m.advance(10).unwrap();
        assert_eq!(m.at(arrival), m.now());
    }

    #[test]
    fn no_clock_moves_backwards() {
        let c = Clock::new(ClockMode::Manual, 1.0, 1_000);
        assert!(c.set(999).is_err());
        assert!(c.advance(-1).is_err());
        assert_eq!(c.now(), 1_000);
    }

    #[test]
    fn the_clock_stops_at_the_last_instant_of_year_9999() {
        let c = Clock::new(ClockMode::Manual, 1.0, 0);
        c.advance(i64::MAX).unwrap();
        assert_eq!(c.now(), MAX_MILLIS);
        assert!(c.set(MAX_MILLIS + 1).is_err());
        let far = Clock::new(ClockMode::Manual, 1.0, i64::MIN);
        far.set(0).unwrap();
        assert_eq!(far.now(), 0);
    }

    #[test]
    fn concurrent_advances_add_up() {
        let c = std::sync::Arc::new(Clock::new(ClockMode::Manual, 1.0, 0));
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let c = c.clone();
                std::thread::spawn(move || (0..500).for_each(|_| drop(c.advance(1))))
            })
            .collect();
        threads.into_iter().for_each(|t| t.join().unwrap());
        assert_eq!(c.now(), 4_000);
    }

    #[test]
    fn a_scaled_system_clock_runs_faster_than_real_time() {
        let c = Clock::new(ClockMode::System, 1_000_000.0, 0);
        let a = c.now();
        std::thread::sleep(std::time::Duration::from_millis(2));
        assert!(
            c.now() - a >= 1_000_000,
            "a scale of a million moves 2 ms to over 1000 s"
        );
    }
}
