//! The `scalingo-db-fake` binary: the fake as a process, configured by flags
//! and environment variables (each flag's default is the library's
//! `Config::default()`), for docker-compose and local demos.
//!
//! `scalingo-db-fake healthcheck` asks a running fake's `/_fake/health`, so a
//! container image needs no curl. Logs are written off the request path
//! (see `cli::logging`).

mod cli;

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use cli::health;
use cli::logging::{self, LogFormat};
use scalingo_db_fake::{ClockMode, Config, FixtureSource, Lifecycle, LoadedFake};

/// How long, at exit, the log gets to write its last lines.
const LOG_FLUSH: Duration = Duration::from_secs(1);

/// An in-memory fake of Scalingo's database API (backups).
#[derive(Parser, Debug)]
#[command(version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,

    /// Address to listen on (0.0.0.0 to be reachable from other containers).
    #[arg(long, env = "BIND", default_value = "127.0.0.1")]
    bind: std::net::IpAddr,

    /// Port to listen on; 0 picks a free one (see --port-file).
    #[arg(long, env = "PORT", default_value_t = 8080)]
    port: u16,

    /// File the fake writes the port it listens on to, and `healthcheck` reads it from (for --port 0).
    #[arg(long, env = "PORT_FILE")]
    port_file: Option<PathBuf>,

    /// Fixture file or folder of *.json files (default: the embedded set).
    #[arg(long, env = "FIXTURES")]
    fixtures: Option<PathBuf>,

    /// Bearer token valid for every database (fixtures add per-database ones).
    #[arg(long, env = "DB_BEARER_TOKEN")]
    token: Option<String>,

    /// API token accepted by POST /v1/tokens/exchange (repeat the flag, or comma-separate in the variable); none given: any non-empty token.
    #[arg(long = "api-token", env = "SCALINGO_API_TOKEN", value_delimiter = ',')]
    api_tokens: Vec<String>,

    /// Seconds an exchanged JWT and an addon token stay valid (real time, not the fake's clock).
    #[arg(long, env = "CREDENTIAL_TTL", default_value_t = Config::default().credential_ttl.as_secs())]
    credential_ttl: u64,

    /// Make the /_fake control API (all but /_fake/health and the dashboard's page, /_fake/ui) require `Authorization: Bearer <ADMIN_TOKEN>`.
    #[arg(long, env = "ADMIN_TOKEN")]
    admin_token: Option<String>,

    /// Accept every request without a token (logged loudly at start).
    #[arg(long, env = "NO_AUTH")]
    no_auth: bool,

    /// Seed of ids, outcomes and sizes (random if not given; logged).
    #[arg(long, env = "SEED")]
    seed: Option<u64>,

    /// `system` follows the wall clock (sped up by --time-scale); `manual` moves only through POST /_fake/clock.
    #[arg(long, env = "CLOCK", value_enum, default_value_t = Config::default().clock)]
    clock: ClockMode,

    /// Where the clock starts (RFC 3339, e.g. 2024-01-01T00:00:00Z; default: now). With --seed, makes runs repeatable to the id.
    #[arg(long, env = "CLOCK_START", value_parser = parse_instant)]
    clock_start: Option<i64>,

    /// How much faster than real time the system clock runs.
    #[arg(long, env = "TIME_SCALE", default_value_t = Config::default().time_scale)]
    time_scale: f64,

    /// Seconds a new backup stays `scheduled`.
    #[arg(long, env = "SCHEDULED_SECS", default_value_t = Lifecycle::default().scheduled_secs)]
    scheduled_secs: f64,

    /// Seconds it then stays `pending` (0: no pending phase).
    #[arg(long, env = "PENDING_SECS", default_value_t = Lifecycle::default().pending_secs)]
    pending_secs: f64,

    /// Seconds it then stays `running`.
    #[arg(long, env = "RUNNING_SECS", default_value_t = Lifecycle::default().running_secs)]
    running_secs: f64,

    /// Share of new backups that end in `error` (0.0 to 1.0).
    #[arg(long, env = "FAILURE_RATE", default_value_t = Lifecycle::default().failure_rate)]
    failure_rate: f64,

    /// Smallest archive size of a new done backup, in bytes.
    #[arg(long, env = "SIZE_MIN", default_value_t = Lifecycle::default().size_min)]
    size_min: u64,

    /// Largest archive size of a new done backup, in bytes.
    #[arg(long, env = "SIZE_MAX", default_value_t = Lifecycle::default().size_max)]
    size_max: u64,

    /// Keep at most this many backups per database (the oldest finished go first).
    #[arg(long, env = "RETENTION")]
    retention: Option<usize>,

    /// Seconds a download link stays valid (on the fake's clock).
    #[arg(long, env = "DOWNLOAD_TTL", default_value_t = Config::default().download_ttl.as_secs())]
    download_ttl: u64,

    /// Folder fixture archive_files must be in, symlinks resolved (default: each fixture file's own folder).
    #[arg(long, env = "ARCHIVE_ROOT")]
    archive_root: Option<PathBuf>,

    /// Base URL of download links (default: the host the client used).
    #[arg(long, env = "PUBLIC_URL")]
    public_url: Option<String>,

    /// Largest request body accepted, in bytes.
    #[arg(long, env = "BODY_LIMIT", default_value_t = Config::default().body_limit)]
    body_limit: usize,

    /// How many of the most recent requests GET /_fake/requests can list (0: record none; at most 1000000).
    #[arg(long, env = "JOURNAL_SIZE", default_value_t = Config::default().journal_size)]
    journal_size: usize,

    /// Seconds a client has to send a request's line and headers, counted from the end of its last answer (or from its connection) on a kept-alive connection too.
    #[arg(long, env = "HEADER_READ_TIMEOUT", default_value_t = Config::default().header_read_timeout.as_secs())]
    header_read_timeout: u64,

    /// Seconds a request's body may take once its head is in (late: 408, connection closed).
    #[arg(long, env = "BODY_READ_TIMEOUT", default_value_t = Config::default().body_read_timeout.as_secs())]
    body_read_timeout: u64,

    /// Seconds a kept-alive connection may stay with no request being answered before it is closed.
    #[arg(long, env = "IDLE_TIMEOUT", default_value_t = Config::default().idle_timeout.as_secs())]
    idle_timeout: u64,

    /// Most connections open at once (default: the open-file limit less 64); past it the connection idle the longest is closed to make room.
    #[arg(long, env = "MAX_CONNECTIONS", default_value_t = Config::default().max_connections)]
    max_connections: usize,

    /// Seconds in-flight requests get to finish after SIGTERM or Ctrl-C; what still runs then is cut.
    #[arg(long, env = "SHUTDOWN_GRACE", default_value_t = Config::default().shutdown_grace.as_secs())]
    shutdown_grace: u64,

    /// Log filter: error, warn, info (one line per request; health checks and /_fake reads at debug), debug, trace.
    #[arg(long, env = "LOG", default_value = "info")]
    log: String,

    /// Log lines as `text` or `json` (one object per line).
    #[arg(long, env = "LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Exit 0 if the fake on --port (or the port in --port-file), on loopback, answers its health check.
    Healthcheck,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Some(Command::Healthcheck) = cli.command {
        return health::healthcheck(cli.bind, cli.port, cli.port_file.as_deref());
    }
    let log = match logging::init(&cli.log, cli.log_format) {
        Ok(guard) => guard,
        Err(e) => {
            eprintln!("scalingo-db-fake: {e}");
            return ExitCode::from(2);
        }
    };
    let code = start(cli);
    // A stderr nobody reads must not hold the exit: the last lines get a
    // bounded time.
    log.flush(LOG_FLUSH);
    code
}

/// Loads the fake, starts the runtime and serves until a signal.
fn start(cli: Cli) -> ExitCode {
    let config = config(&cli);
    let prepared = match LoadedFake::new(&config) {
        Ok(p) => p,
        Err(scalingo_db_fake::Error::Invalid(errors)) => {
            // Name each setting as the user gave it: its flag and variable.
            for e in errors {
                let flag = e.field.replace('_', "-");
                let var = e.field.to_ascii_uppercase();
                eprintln!("scalingo-db-fake: invalid --{flag} ({var}): {}", e.message);
            }
            return ExitCode::from(2);
        }
        Err(e) => {
            eprintln!("scalingo-db-fake: {e}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("scalingo-db-fake: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(run(cli, config, prepared))
}

/// The library's settings, from the flags.
fn config(cli: &Cli) -> Config {
    Config {
        fixtures: cli
            .fixtures
            .clone()
            .map_or(FixtureSource::Embedded, FixtureSource::Path),
        seed: cli.seed,
        token: cli.token.clone(),
        api_tokens: cli.api_tokens.clone(),
        admin_token: cli.admin_token.clone(),
        credential_ttl: Duration::from_secs(cli.credential_ttl),
        auth: !cli.no_auth,
        clock: cli.clock,
        time_scale: cli.time_scale,
        clock_start: cli.clock_start,
        lifecycle: Lifecycle {
            scheduled_secs: cli.scheduled_secs,
            pending_secs: cli.pending_secs,
            running_secs: cli.running_secs,
            failure_rate: cli.failure_rate,
            size_min: cli.size_min,
            size_max: cli.size_max,
        },
        retention: cli.retention,
        body_limit: cli.body_limit,
        download_ttl: Duration::from_secs(cli.download_ttl),
        public_url: cli.public_url.clone(),
        archive_root: cli.archive_root.clone(),
        journal_size: cli.journal_size,
        header_read_timeout: Duration::from_secs(cli.header_read_timeout),
        body_read_timeout: Duration::from_secs(cli.body_read_timeout),
        idle_timeout: Duration::from_secs(cli.idle_timeout),
        max_connections: cli.max_connections,
        shutdown_grace: Duration::from_secs(cli.shutdown_grace),
    }
}

async fn run(cli: Cli, config: Config, prepared: LoadedFake) -> ExitCode {
    let addr = SocketAddr::new(cli.bind, cli.port);
    let listener = match tokio::net::TcpListener::bind(addr).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("scalingo-db-fake: cannot listen on {addr}: {e}");
            return ExitCode::FAILURE;
        }
    };
    let local = listener.local_addr().unwrap_or(addr);
    if let Some(path) = &cli.port_file {
        if let Err(e) = health::write_port_file(path, local.port()) {
            eprintln!("scalingo-db-fake: cannot write the port file {}: {e}", path.display());
            return ExitCode::FAILURE;
        }
    }
    log_start(&config, &prepared);
    let shutdown = shutdown_signal();
    tracing::info!("dashboard: http://{local}/_fake/ui");
    {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "listening http://{local}").and_then(|()| out.flush());
    }
    prepared.serve(listener, shutdown).await;
    if let Some(path) = &cli.port_file {
        health::remove_port_file(path, local.port());
    }
    tracing::info!("stopped");
    ExitCode::SUCCESS
}

/// The start-up lines: seed, fixtures, auth warnings, clock.
fn log_start(config: &Config, prepared: &LoadedFake) {
    tracing::info!(
        "seed {} (replay this run with --seed {})",
        prepared.seed(),
        prepared.seed()
    );
    match &config.fixtures {
        FixtureSource::Path(p) => tracing::info!("fixtures from {}", p.display()),
        _ => tracing::info!("embedded fixtures (token of my-db-123: my-db-123-token)"),
    }
    if !config.auth {
        tracing::warn!("AUTH IS OFF (--no-auth): every request is accepted without a token");
    } else {
        if config.token.is_none() {
            tracing::info!(
                "no global token (--token / DB_BEARER_TOKEN): the fixtures' tokens and addon tokens are accepted"
            );
        }
        if config.api_tokens.is_empty() {
            tracing::warn!(
                "ANY non-empty API token is accepted by POST /v1/tokens/exchange (set --api-token / SCALINGO_API_TOKEN to restrict)"
            );
        }
    }
    tracing::info!("clock {:?}, time scale {}", config.clock, config.time_scale);
}

/// Resolves on SIGTERM or Ctrl-C. The handlers are installed when this is
/// called, not when it is first polled, so a signal sent right after the
/// `listening` line still stops the fake gracefully.
fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let term = signal(SignalKind::terminate());
        let int = signal(SignalKind::interrupt());
        async move {
            let wait = |s: std::io::Result<tokio::signal::unix::Signal>| async move {
                match s {
                    Ok(mut s) => {
                        s.recv().await;
                    }
                    Err(_) => std::future::pending::<()>().await,
                }
            };
            tokio::select! {
                () = wait(int) => tracing::info!("Ctrl-C: finishing in-flight requests"),
                () = wait(term) => tracing::info!("SIGTERM: finishing in-flight requests"),
            }
        }
    }
    #[cfg(not(unix))]
    async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
        tracing::info!("Ctrl-C: finishing in-flight requests");
    }
}

fn parse_instant(text: &str) -> Result<i64, String> {
    scalingo_db_fake::Timestamp::parse(text).map(|t| t.millis())
}
