//! Every setting of the fake, with its default: what the binary's flags and
//! the in-process builder both fill in, and the one place each setting's
//! rule is written ([`Config::validate`], whose checks the control API reuses
//! for the settings it can change at run time).

use std::path::PathBuf;
use std::time::Duration;

use crate::clock::ClockMode;
use crate::error::Error;
use crate::fixtures::FixtureSet;
use crate::lifecycle::Lifecycle;

/// Where the fake's initial data comes from.
#[derive(Clone, Debug, Default)]
pub enum FixtureSource {
    /// The set compiled into the crate (three databases, among them the seed's
    /// `my-db-123`).
    #[default]
    Embedded,
    /// A JSON file, or a folder of them.
    Path(PathBuf),
    /// Fixtures already parsed (from [`crate::fixtures::parse_str`]).
    Set(FixtureSet),
    /// No database at all.
    Empty,
}

/// The whole configuration of one fake server.
#[derive(Clone, Debug)]
pub struct Config {
    /// The initial data.
    pub fixtures: FixtureSource,
    /// Seed of every random draw; `None` picks one (and logs it).
    pub seed: Option<u64>,
    /// A bearer token valid for every database.
    pub token: Option<String>,
    /// The API tokens `POST /v1/tokens/exchange` accepts; empty: any
    /// non-empty one.
    pub api_tokens: Vec<String>,
    /// How long an exchanged JWT and an addon token stay valid, in real
    /// (wall-clock) time.
    pub credential_ttl: Duration,
    /// When set, the `/_fake` control API (all but its health check and the
    /// dashboard's page) requires `Authorization: Bearer <admin_token>`.
    pub admin_token: Option<String>,
    /// When `false`, every request is accepted without a token.
    pub auth: bool,
    /// System or manual clock.
    pub clock: ClockMode,
    /// Speed of the system clock (1.0 = real time).
    pub time_scale: f64,
    /// Where the clock starts (milliseconds since the epoch); `None` = now.
    pub clock_start: Option<i64>,
    /// Phase durations, failure rate and sizes of new backups.
    pub lifecycle: Lifecycle,
    /// Keep at most this many backups per database (oldest finished dropped).
    pub retention: Option<usize>,
    /// Largest request body accepted, in bytes (larger: 413).
    pub body_limit: usize,
    /// How long a download link stays valid, on the fake's clock.
    pub download_ttl: Duration,
    /// Base of download links; `None` = the host the client used.
    pub public_url: Option<String>,
    /// The folder fixture `archive_file`s must be in (symlinks resolved);
    /// `None`: each fixture file's own folder.
    pub archive_root: Option<PathBuf>,
    /// How many of the most recent requests the journal keeps (0: none are
    /// recorded; at most 1 000 000). Each thread that answers records into
    /// a ring of its own (one per core, at most 8), so memory holds at most
    /// 8 times this many.
    pub journal_size: usize,
    /// How long a client has to send a request's line and headers; past it
    /// the connection is closed without an answer. It counts from the end
    /// of the connection's last answer (or its opening), so it also bounds
    /// how long a kept-alive connection waits for its next request: no
    /// connection stays idle longer than this either. Default 30 s.
    pub header_read_timeout: Duration,
    /// How long a handler waits for a request's body once its head is in;
    /// past it the answer is 408 `{"error","code":"request_timeout"}` and
    /// the connection is closed. Default 30 s.
    pub body_read_timeout: Duration,
    /// How long a kept-alive connection may wait, with no request being
    /// answered, before it is closed (at most [`Config::header_read_timeout`]
    /// in effect, see there). Default 15 s.
    pub idle_timeout: Duration,
    /// Most client connections open at once. A new client past it takes the
    /// place of the connection idle the longest (none idle: it gets a 503
    /// and is closed). Default: the process's open-file limit less
    /// 64 (`FD_RESERVE`) (512 where the limit cannot be read); at most that.
    pub max_connections: usize,
    /// How long [`crate::LoadedFake::serve`] (the binary, on SIGTERM or
    /// Ctrl-C) lets in-flight requests finish once told to stop; what still
    /// runs then is cut, and logged as cut by the shutdown. Default 5 s,
    /// under `docker stop`'s 10 s. A [`crate::FakeServer`] being dropped
    /// gives its requests one second, whatever this says.
    pub shutdown_grace: Duration,
}

/// The largest journal a fake keeps, in requests.
pub const JOURNAL_SIZE_MAX: usize = 1_000_000;

/// Open files kept free for everything but client connections (the
/// listener, logs, archive files being sent): the default connection cap
/// is the open-file limit less this many.
pub const FD_RESERVE: usize = 64;

/// The connection cap where the open-file limit cannot be read.
const FALLBACK_MAX_CONNECTIONS: usize = 512;

/// The longest a timeout may be set to.
const TIMEOUT_MAX: Duration = Duration::from_secs(86_400);

/// The longest shutdown grace.
const GRACE_MAX: Duration = Duration::from_secs(3_600);

impl Default for Config {
    fn default() -> Self {
        Self {
            fixtures: FixtureSource::Embedded,
            seed: None,
            token: None,
            api_tokens: Vec::new(),
            credential_ttl: Duration::from_secs(3600),
            admin_token: None,
            auth: true,
            clock: ClockMode::System,
            time_scale: 1.0,
            clock_start: None,
            lifecycle: Lifecycle::default(),
            retention: None,
            body_limit: 1 << 20,
            download_ttl: Duration::from_secs(600),
            public_url: None,
            archive_root: None,
            journal_size: 1000,
            header_read_timeout: Duration::from_secs(30),
            body_read_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(15),
            max_connections: connection_limit(),
            shutdown_grace: Duration::from_secs(5),
        }
    }
}

impl Config {
    /// Checks every setting; the error names each one that is out of range.
    ///
    /// ```
    /// use scalingo_db_fake::Config;
    /// assert!(Config::default().validate().is_ok());
    /// let bad = Config { time_scale: 0.0, retention: Some(0), ..Config::default() };
    /// let err = bad.validate().unwrap_err().to_string();
    /// assert!(err.contains("invalid retention") && err.contains("invalid time_scale"), "{err}");
    /// ```
    pub fn validate(&self) -> Result<(), Error> {
        let mut errors = Vec::new();
        if let Err(e) = self.lifecycle.validate() {
            errors.extend(e.into_iter().map(|(f, m)| (f.to_string(), m)));
        }
        for check in [
            check_retention(self.retention),
            check_time_scale(self.time_scale),
            check_credential_ttl(self.credential_ttl),
            check_journal_size(self.journal_size),
            check_download_ttl(self.download_ttl),
            check_public_url(self.public_url.as_deref()),
            check_timeout("header_read_timeout", self.header_read_timeout),
            check_timeout("body_read_timeout", self.body_read_timeout),
            check_timeout("idle_timeout", self.idle_timeout),
            check_max_connections(self.max_connections),
            check_shutdown_grace(self.shutdown_grace),
        ] {
            if let Err(Error::Invalid(e)) = check {
                errors.extend(e.into_iter().map(|e| (e.field, e.message)));
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(Error::invalid_fields(errors))
        }
    }
}

/// The retention cap keeps at least one backup (`None`: no cap).
pub(crate) fn check_retention(cap: Option<usize>) -> Result<(), Error> {
    if cap == Some(0) {
        return Err(Error::invalid(
            "retention",
            "must keep at least 1 backup per database (leave it unset for no cap)",
        ));
    }
    Ok(())
}

/// The fastest the system clock may run: a year a second (faster, and the
/// clock would reach year 9999 within hours).
pub const MAX_TIME_SCALE: f64 = 31_536_000.0;

/// The system clock runs forward, at most a year a second.
pub(crate) fn check_time_scale(scale: f64) -> Result<(), Error> {
    if !(scale.is_finite() && scale > 0.0 && scale <= MAX_TIME_SCALE) {
        return Err(Error::invalid(
            "time_scale",
            format!("must be above 0 and at most {MAX_TIME_SCALE} (a year a second), got {scale}"),
        ));
    }
    Ok(())
}

/// A download link lives at least a second (a link born expired is useless),
/// and at most a year.
pub(crate) fn check_download_ttl(ttl: Duration) -> Result<(), Error> {
    if !(Duration::from_secs(1)..=Duration::from_secs(366 * 86_400)).contains(&ttl) {
        return Err(Error::invalid(
            "download_ttl",
            format!("must be from 1 second to a year, got {} s", ttl.as_secs_f64()),
        ));
    }
    Ok(())
}

/// The public URL is `http(s)://host[:port][/path]`: links are built on it.
pub(crate) fn check_public_url(url: Option<&str>) -> Result<(), Error> {
    let Some(url) = url else {
        return Ok(());
    };
    let rest = url.strip_prefix("http://").or_else(|| url.strip_prefix("https://"));
    let ok = rest.is_some_and(|rest| {
        let authority = rest.split('/').next().unwrap_or_default();
        crate::http::strict::is_authority(authority) && !rest.contains(['?', '#', ' ', '"', '<', '>'])
    });
    if !ok {
        return Err(Error::invalid(
            "public_url",
            format!("must be an http:// or https:// URL with a host (and no query), got {url:?}"),
        ));
    }
    Ok(())
}

/// Minted credentials live at least a second, and at most a year.
pub(crate) fn check_credential_ttl(ttl: Duration) -> Result<(), Error> {
    if !(Duration::from_secs(1)..=Duration::from_secs(366 * 86_400)).contains(&ttl) {
        return Err(Error::invalid(
            "credential_ttl",
            format!("must be from 1 second to a year, got {} s", ttl.as_secs_f64()),
        ));
    }
    Ok(())
}

/// The journal keeps from 0 (off) to [`JOURNAL_SIZE_MAX`] requests.
pub(crate) fn check_journal_size(size: usize) -> Result<(), Error> {
    if size > JOURNAL_SIZE_MAX {
        return Err(Error::invalid(
            "journal_size",
            format!("must be from 0 (off) to {JOURNAL_SIZE_MAX} requests, got {size}"),
        ));
    }
    Ok(())
}

/// A timeout runs from a millisecond to a day.
fn check_timeout(field: &str, timeout: Duration) -> Result<(), Error> {
    if !(Duration::from_millis(1)..=TIMEOUT_MAX).contains(&timeout) {
        return Err(Error::invalid(
            field,
            format!("must be from 1 ms to a day, got {} s", timeout.as_secs_f64()),
        ));
    }
    Ok(())
}

/// The shutdown grace runs from 0 (cut at once) to an hour.
fn check_shutdown_grace(grace: Duration) -> Result<(), Error> {
    if grace > GRACE_MAX {
        return Err(Error::invalid(
            "shutdown_grace",
            format!("must be from 0 to 3600 s, got {} s", grace.as_secs_f64()),
        ));
    }
    Ok(())
}

/// The connection cap lets at least one client in and stays below the
/// open-file limit, [`FD_RESERVE`] files short of it.
fn check_max_connections(cap: usize) -> Result<(), Error> {
    let most = connection_limit();
    if !(1..=most).contains(&cap) {
        return Err(Error::invalid(
            "max_connections",
            format!("must be from 1 to {most} (the open-file limit less {FD_RESERVE}), got {cap}"),
        ));
    }
    Ok(())
}

/// The most connections this process can hold: its open-file limit less
/// [`FD_RESERVE`] (at least 1), or 512 where the limit cannot be read.
pub fn connection_limit() -> usize {
    match open_file_limit() {
        Some(limit) => usize::try_from(limit)
            .unwrap_or(usize::MAX)
            .saturating_sub(FD_RESERVE)
            .max(1),
        None => FALLBACK_MAX_CONNECTIONS,
    }
}

/// The process's soft limit on open files (`RLIMIT_NOFILE`), if it can be
/// read and is finite.
#[cfg(unix)]
fn open_file_limit() -> Option<libc::rlim_t> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `getrlimit` only writes the `rlimit` it is given, which lives
    // for the whole call.
    let status = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) };
    (status == 0 && limit.rlim_cur != libc::RLIM_INFINITY).then_some(limit.rlim_cur)
}

/// Not read off other systems.
#[cfg(not(unix))]
fn open_file_limit() -> Option<u64> {
    None
}
