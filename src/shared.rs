//! What every connection and the test's handle share: the store, the
//! credentials, the download-link signer, the request journal, the fault
//! rules and the request settings, built once from a checked [`Config`].

use std::sync::OnceLock;
use std::time::Duration;

use crate::auth::Credentials;
use crate::config::{Config, FixtureSource};
use crate::download::token::Signer;
use crate::error::Error;
use crate::faults::FaultRegistry;
use crate::fixtures::{self, FixtureSet};
use crate::journal::Journal;
use crate::store::Store;

/// The state shared by the HTTP handlers and [`crate::FakeServer`].
pub(crate) struct Shared {
    pub store: Store,
    pub credentials: Credentials,
    /// Signs and checks download tokens (a secret of this process).
    pub signer: Signer,
    /// The last requests answered (not the control plane's).
    pub journal: Journal,
    /// Largest request body accepted, in bytes.
    pub body_limit: usize,
    /// How long a request's body may take to arrive once its head is in.
    pub body_read_timeout: Duration,
    /// How long a download link stays valid, on the fake's clock.
    /// (Seconds; a control call can change it at run time.)
    pub download_ttl: std::sync::atomic::AtomicU64,
    /// Base of download links; `None` = the host the client used.
    pub public_url: Option<String>,
    /// How many databases and backups were made at run time without an id
    /// (their generated ids are drawn from the seed and this count).
    pub generated: std::sync::atomic::AtomicU64,
    /// The fault rules (none at start).
    pub faults: FaultRegistry,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("seed", &self.store.seed())
            .finish_non_exhaustive()
    }
}

/// The embedded fixtures, parsed once per process.
fn embedded() -> Result<&'static FixtureSet, Error> {
    static SET: OnceLock<Result<FixtureSet, fixtures::FixtureError>> = OnceLock::new();
    SET.get_or_init(fixtures::load_embedded)
        .as_ref()
        .map_err(|e| Error::Fixture(e.clone()))
}

impl Shared {
    /// Validates `config`, loads and checks its fixtures and builds the
    /// state; nothing is served if this fails. `token` is the global token
    /// (the configured one when `None`).
    pub fn build(config: &Config, token: Option<String>) -> Result<Self, Error> {
        config.validate()?;
        let loaded;
        let set: &FixtureSet = match &config.fixtures {
            FixtureSource::Embedded => embedded()?,
            FixtureSource::Path(p) => {
                loaded = fixtures::load_path_in(p, config.archive_root.as_deref())?;
                &loaded
            }
            FixtureSource::Set(s) => s,
            FixtureSource::Empty => {
                loaded = FixtureSet::default();
                &loaded
            }
        };
        let seed = config.seed.unwrap_or_else(crate::ids::random_seed);
        let credentials = Credentials::new(
            config.auth,
            token.or_else(|| config.token.clone()),
            config.api_tokens.clone(),
            config.credential_ttl,
            crate::ids::random_secret(),
        )
        .with_admin_token(config.admin_token.clone());
        for db in &set.databases {
            credentials.add_database_tokens(&db.id, &db.tokens);
        }
        Ok(Self {
            store: Store::new(config, set, seed),
            credentials,
            signer: Signer::random(),
            journal: Journal::new(config.journal_size),
            body_limit: config.body_limit,
            body_read_timeout: config.body_read_timeout,
            download_ttl: config.download_ttl.as_secs().into(),
            public_url: config.public_url.clone(),
            generated: Default::default(),
            faults: FaultRegistry::default(),
        })
    }
}
