//! The one clock of the fake (spec §6): every timestamp the fake writes and
//! every status it derives reads [`Clock::now`].
//!
//! Two modes: the system clock, optionally sped up by a time scale
//! (`--time-scale 60` makes a minute pass each second), and a manual clock that
//! only moves when a test advances or sets it. Either can be moved forward by
//! hand; neither ever moves backwards.

use std::time::{Instant, SystemTime, UNIX_EPOCH};

use parking_lot::RwLock;
use serde::{Deserialize, Serialize};

/// How the clock moves.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ClockMode {
    /// Follows the system clock, scaled by `time_scale`.
    System,
    /// Moves only when told to.
    Manual,
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

#[derive(Debug)]
struct State {
    mode: ClockMode,
    scale: f64,
    /// Simulated milliseconds at `anchor`.
    base_millis: i64,
    /// Real instant the simulated time was last anchored to (system mode).
    anchor: Instant,
}

/// The simulated clock, shared by the whole fake.
#[derive(Debug)]
pub struct Clock {
    state: RwLock<State>,
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
            state: RwLock::new(State {
                mode,
                scale: if scale.is_finite() && scale > 0.0 { scale } else { 1.0 },
                base_millis: start_millis,
                anchor: Instant::now(),
            }),
        }
    }

    /// Now, in milliseconds since the Unix epoch.
    pub fn now(&self) -> i64 {
        Self::read(&self.state.read())
    }

    /// The mode.
    pub fn mode(&self) -> ClockMode {
        self.state.read().mode
    }

    /// The time scale (1.0 for real time; meaningless in manual mode).
    pub fn scale(&self) -> f64 {
        self.state.read().scale
    }

    /// Moves the clock forward by `millis` (negative is refused), in one
    /// step: concurrent advances add up.
    pub fn advance(&self, millis: i64) -> Result<i64, ClockError> {
        if millis < 0 {
            return Err(ClockError(
                "the clock never moves backwards: advance by zero or more".into(),
            ));
        }
        let mut s = self.state.write();
        let now = Self::read(&s).saturating_add(millis);
        s.base_millis = now;
        s.anchor = Instant::now();
        Ok(now)
    }

    /// Sets the clock to `millis`, refusing to move backwards.
    pub fn set(&self, millis: i64) -> Result<i64, ClockError> {
        let mut s = self.state.write();
        let now = Self::read(&s);
        if millis < now {
            return Err(ClockError(format!(
                "the clock never moves backwards: {} is before now ({})",
                crate::timestamp::format_millis(millis),
                crate::timestamp::format_millis(now)
            )));
        }
        s.base_millis = millis;
        s.anchor = Instant::now();
        Ok(millis)
    }

    fn read(s: &State) -> i64 {
        match s.mode {
            ClockMode::Manual => s.base_millis,
            ClockMode::System => s
                .base_millis
                .saturating_add((s.anchor.elapsed().as_secs_f64() * 1000.0 * s.scale) as i64),
        }
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
    fn no_clock_moves_backwards() {
        let c = Clock::new(ClockMode::Manual, 1.0, 1_000);
        assert!(c.set(999).is_err());
        assert!(c.advance(-1).is_err());
        assert_eq!(c.now(), 1_000);
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
