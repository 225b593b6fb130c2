//! How a backup's status is decided, as plain functions of time.
//!
//! Nothing here runs on a timer: a backup stores its creation instant, the
//! phase durations in force when it was created and its outcome (drawn once,
//! at creation), and [`derive()`] says what the backup looks like at any
//! instant. Advancing the clock therefore moves every backup at once, and a
//! test never sleeps.
//!
//! The settings ([`Lifecycle`]) are the durations of the `scheduled`,
//! `pending` and `running` phases, the failure rate, and the range final sizes
//! are drawn from.

use serde::{Deserialize, Serialize};

use crate::model::Status;

/// The smallest final size the settings accept: any archive the fake
/// generates fits in it (a tar header, a short text and the gzip framing).
pub const MIN_FINAL_SIZE: u64 = 4096;

/// The largest size the fake writes: 2^53 − 1 bytes (9 PB), the largest
/// integer every JSON client (JavaScript's numbers included) reads exactly.
pub const MAX_SIZE: u64 = (1 << 53) - 1;

/// How a backup ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// Ends `done` with its final size.
    Done,
    /// Ends `error` with size 0.
    Error,
}

/// Phase durations, in milliseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Phases {
    /// Time spent `scheduled` after creation.
    pub scheduled_ms: u64,
    /// Time spent `pending` (0 skips the status).
    pub pending_ms: u64,
    /// Time spent `running`.
    pub running_ms: u64,
}

/// What a backup looks like at one instant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Derived {
    /// The status.
    pub status: Status,
    /// When it left `scheduled` (milliseconds), if it has.
    pub started_at: Option<i64>,
    /// `None` while scheduled, `Some(0)` until done, then the final size.
    pub size: Option<u64>,
}

/// The state at `now` of a backup created at `created` that goes through
/// `phases` and ends with `outcome` (and `final_size` bytes when done).
///
/// ```text
/// use scalingo_db_fake::lifecycle::{derive, Outcome, Phases};
/// use scalingo_db_fake::Status;
/// let p = Phases { scheduled_ms: 2_000, pending_ms: 0, running_ms: 5_000 };
/// assert_eq!(derive(0, &p, Outcome::Done, 42, 1_000).status, Status::Scheduled);
/// assert_eq!(derive(0, &p, Outcome::Done, 42, 3_000).size, Some(0));
/// assert_eq!(derive(0, &p, Outcome::Done, 42, 7_000).size, Some(42));
/// ```
pub fn derive(created: i64, phases: &Phases, outcome: Outcome, final_size: u64, now: i64) -> Derived {
    let [started, pending_end, running_end] = phases.boundaries(created);
    if now < started {
        return Derived {
            status: Status::Scheduled,
            started_at: None,
            size: None,
        };
    }
    let (status, size) = if now < pending_end {
        (Status::Pending, 0)
    } else if now < running_end {
        (Status::Running, 0)
    } else {
        match outcome {
            Outcome::Done => (Status::Done, final_size),
            Outcome::Error => (Status::Error, 0),
        }
    };
    Derived {
        status,
        started_at: Some(started),
        size: Some(size),
    }
}

/// The instant (milliseconds) a backup created at `created` finishes.
#[cfg(test)]
pub fn finished_at(created: i64, phases: &Phases) -> i64 {
    phases.boundaries(created)[2]
}

/// The first instant after `now` at which a backup created at `created`
/// changes status, if it still will.
pub fn next_change(created: i64, phases: &Phases, now: i64) -> Option<i64> {
    phases.boundaries(created).into_iter().find(|t| *t > now)
}

impl Phases {
    /// The instants a backup created at `created` leaves `scheduled`,
    /// `pending` and `running`: the one place the phase arithmetic is done.
    pub fn boundaries(&self, created: i64) -> [i64; 3] {
        let scheduled_end = created.saturating_add(self.scheduled_ms.min(i64::MAX as u64) as i64);
        let pending_end = scheduled_end.saturating_add(self.pending_ms.min(i64::MAX as u64) as i64);
        let running_end = pending_end.saturating_add(self.running_ms.min(i64::MAX as u64) as i64);
        [scheduled_end, pending_end, running_end]
    }
}

/// The lifecycle settings, as `GET /_fake/lifecycle` shows them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Lifecycle {
    /// Seconds a new backup stays `scheduled`.
    pub scheduled_secs: f64,
    /// Seconds it then stays `pending` (0: no pending phase).
    pub pending_secs: f64,
    /// Seconds it then stays `running`.
    pub running_secs: f64,
    /// Share of new backups that end in `error`, 0.0 to 1.0.
    pub failure_rate: f64,
    /// Smallest final size of a done backup, in bytes.
    pub size_min: u64,
    /// Largest final size of a done backup, in bytes.
    pub size_max: u64,
}

impl Default for Lifecycle {
    fn default() -> Self {
        Self {
            scheduled_secs: 2.0,
            pending_secs: 0.0,
            running_secs: 5.0,
            failure_rate: 0.0,
            size_min: 1 << 20,
            size_max: 64 << 20,
        }
    }
}

/// Part of a [`Lifecycle`]: what a database's fixture or a `PUT` overrides.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LifecyclePatch {
    /// See [`Lifecycle::scheduled_secs`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheduled_secs: Option<f64>,
    /// See [`Lifecycle::pending_secs`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending_secs: Option<f64>,
    /// See [`Lifecycle::running_secs`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub running_secs: Option<f64>,
    /// See [`Lifecycle::failure_rate`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_rate: Option<f64>,
    /// See [`Lifecycle::size_min`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size_min: Option<u64>,
    /// See [`Lifecycle::size_max`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size_max: Option<u64>,
}

/// One database's lifecycle: its own override, and the settings in effect
/// once the override is laid over the global ones.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DatabaseLifecycle {
    /// What its new backups get.
    pub effective: Lifecycle,
    /// What the database sets itself (from its fixture or a control call).
    #[serde(rename = "override")]
    pub own: LifecyclePatch,
}

impl From<Lifecycle> for LifecyclePatch {
    fn from(l: Lifecycle) -> Self {
        LifecyclePatch {
            scheduled_secs: Some(l.scheduled_secs),
            pending_secs: Some(l.pending_secs),
            running_secs: Some(l.running_secs),
            failure_rate: Some(l.failure_rate),
            size_min: Some(l.size_min),
            size_max: Some(l.size_max),
        }
    }
}

impl From<&Lifecycle> for LifecyclePatch {
    fn from(l: &Lifecycle) -> Self {
        l.clone().into()
    }
}

impl From<&LifecyclePatch> for LifecyclePatch {
    fn from(p: &LifecyclePatch) -> Self {
        p.clone()
    }
}

impl LifecyclePatch {
    /// `self` with the fields `over` sets replaced.
    ///
    /// ```
    /// use scalingo_db_fake::LifecyclePatch;
    /// let base = LifecyclePatch { running_secs: Some(30.0), failure_rate: Some(0.5), ..Default::default() };
    /// let over = LifecyclePatch { running_secs: Some(60.0), ..Default::default() };
    /// let merged = base.merged(&over);
    /// assert_eq!((merged.running_secs, merged.failure_rate), (Some(60.0), Some(0.5)));
    /// ```
    pub fn merged(&self, over: &LifecyclePatch) -> LifecyclePatch {
        LifecyclePatch {
            scheduled_secs: over.scheduled_secs.or(self.scheduled_secs),
            pending_secs: over.pending_secs.or(self.pending_secs),
            running_secs: over.running_secs.or(self.running_secs),
            failure_rate: over.failure_rate.or(self.failure_rate),
            size_min: over.size_min.or(self.size_min),
            size_max: over.size_max.or(self.size_max),
        }
    }
}

impl Lifecycle {
    /// `self` with the fields `patch` sets replaced.
    ///
    /// ```
    /// use scalingo_db_fake::{Lifecycle, LifecyclePatch};
    /// let patch = LifecyclePatch { running_secs: Some(60.0), ..Default::default() };
    /// let l = Lifecycle::default().patched(&patch);
    /// assert_eq!((l.running_secs, l.scheduled_secs), (60.0, Lifecycle::default().scheduled_secs));
    /// ```
    pub fn patched(&self, patch: &LifecyclePatch) -> Lifecycle {
        Lifecycle {
            scheduled_secs: patch.scheduled_secs.unwrap_or(self.scheduled_secs),
            pending_secs: patch.pending_secs.unwrap_or(self.pending_secs),
            running_secs: patch.running_secs.unwrap_or(self.running_secs),
            failure_rate: patch.failure_rate.unwrap_or(self.failure_rate),
            size_min: patch.size_min.unwrap_or(self.size_min),
            size_max: patch.size_max.unwrap_or(self.size_max),
        }
    }

    /// Checks every field; the map is field → messages, as in a 422 body.
    ///
    /// ```
    /// use scalingo_db_fake::Lifecycle;
    /// assert!(Lifecycle::default().validate().is_ok());
    /// let bad = Lifecycle { failure_rate: 2.0, ..Lifecycle::default() };
    /// assert_eq!(bad.validate().unwrap_err()[0].0, "failure_rate");
    /// ```
    pub fn validate(&self) -> Result<(), Vec<(&'static str, String)>> {
        let mut errors = Vec::new();
        for (field, secs) in [
            ("scheduled_secs", self.scheduled_secs),
            ("pending_secs", self.pending_secs),
            ("running_secs", self.running_secs),
        ] {
            if !(secs.is_finite() && (0.0..=10.0 * 365.0 * 86_400.0).contains(&secs)) {
                errors.push((
                    field,
                    format!("must be a number of seconds from 0 to ten years, got {secs}"),
                ));
            }
        }
        if !(0.0..=1.0).contains(&self.failure_rate) {
            errors.push((
                "failure_rate",
                format!("must be between 0.0 and 1.0, got {}", self.failure_rate),
            ));
        }
        if self.size_min < MIN_FINAL_SIZE {
            errors.push((
                "size_min",
                format!(
                    "must be at least {MIN_FINAL_SIZE} bytes (the smallest valid archive), got {}",
                    self.size_min
                ),
            ));
        }
        if self.size_max > MAX_SIZE {
            errors.push((
                "size_max",
                format!("must be at most {MAX_SIZE} bytes (2^53 - 1), got {}", self.size_max),
            ));
        }
        if self.size_max < self.size_min {
            errors.push((
                "size_max",
                format!("must be at least size_min ({}), got {}", self.size_min, self.size_max),
            ));
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }

    /// The phase durations in milliseconds.
    ///
    /// ```
    /// let p = scalingo_db_fake::Lifecycle { running_secs: 1.5, ..Default::default() }.phases();
    /// assert_eq!(p.running_ms, 1_500);
    /// ```
    pub fn phases(&self) -> Phases {
        let ms = |s: f64| (s * 1000.0).round().max(0.0) as u64;
        Phases {
            scheduled_ms: ms(self.scheduled_secs),
            pending_ms: ms(self.pending_secs),
            running_ms: ms(self.running_secs),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const P: Phases = Phases {
        scheduled_ms: 2_000,
        pending_ms: 1_000,
        running_ms: 5_000,
    };

    #[test]
    fn a_backup_goes_scheduled_pending_running_done() {
        let at = |t| derive(10_000, &P, Outcome::Done, 99, t);
        assert_eq!(
            at(10_000),
            Derived {
                status: Status::Scheduled,
                started_at: None,
                size: None
            }
        );
        assert_eq!(
            at(12_000),
            Derived {
                status: Status::Pending,
                started_at: Some(12_000),
                size: Some(0)
            }
        );
        assert_eq!(
            at(13_000),
            Derived {
                status: Status::Running,
                started_at: Some(12_000),
                size: Some(0)
            }
        );
        assert_eq!(
            at(18_000),
            Derived {
                status: Status::Done,
                started_at: Some(12_000),
                size: Some(99)
            }
        );
    }

    #[test]
    fn a_failed_backup_ends_in_error_with_size_zero() {
        let d = derive(0, &P, Outcome::Error, 99, 1_000_000);
        assert_eq!((d.status, d.size), (Status::Error, Some(0)));
    }

    #[test]
    fn a_zero_pending_phase_skips_pending() {
        let p = Phases { pending_ms: 0, ..P };
        assert_eq!(derive(0, &p, Outcome::Done, 1, 2_000).status, Status::Running);
    }

    #[test]
    fn settings_out_of_range_are_each_named() {
        let bad = Lifecycle {
            scheduled_secs: -1.0,
            failure_rate: 1.5,
            size_min: 10,
            ..Lifecycle::default()
        };
        let fields: Vec<_> = bad.validate().unwrap_err().into_iter().map(|(f, _)| f).collect();
        assert_eq!(fields, ["scheduled_secs", "failure_rate", "size_min"]);
        assert!(Lifecycle::default().validate().is_ok());
    }

    fn phases() -> impl Strategy<Value = Phases> {
        (0u64..100_000, 0u64..100_000, 0u64..100_000).prop_map(|(s, p, r)| Phases {
            scheduled_ms: s,
            pending_ms: p,
            running_ms: r,
        })
    }

    proptest! {
        #[test]
        fn status_never_goes_backwards_as_time_advances(
            p in phases(),
            created in 0i64..1_000_000,
            mut moves in proptest::collection::vec(0i64..50_000, 1..20),
            fails in any::<bool>(),
            size in 4096u64..1_000_000,
        ) {
            let outcome = if fails { Outcome::Error } else { Outcome::Done };
            let mut now = created;
            let mut last = derive(created, &p, outcome, size, now);
            moves.sort();
            for m in moves {
                now += m;
                let d = derive(created, &p, outcome, size, now);
                prop_assert!(d.status.rank() >= last.status.rank());
                // size and started_at follow the status.
                match d.status {
                    Status::Scheduled => prop_assert_eq!((d.started_at, d.size), (None, None)),
                    Status::Done => prop_assert_eq!(d.size, Some(size)),
                    _ => prop_assert_eq!(d.size, Some(0)),
                }
                if d.status != Status::Scheduled {
                    prop_assert_eq!(d.started_at, Some(created + p.scheduled_ms as i64));
                }
                if let (Some(a), Some(b)) = (last.started_at, d.started_at) {
                    prop_assert_eq!(a, b);
                }
                last = d;
            }
            let end = derive(created, &p, outcome, size, finished_at(created, &p));
            prop_assert!(end.status.is_finished());
        }
    }
}
