//! What every connection and the test's handle share: the store, the
//! credentials, the download-link signer, the fault rules and the request
//! settings, built once from a checked [`Config`].

use std::sync::OnceLock;
use std::time::Duration;

use crate::auth::Credentials;
use crate::config::{Config, FixtureSource};
use crate::download::token::Signer;
use crate::error::Error;
use crate::faults::FaultRegistry;
use crate::fixtures::{self, FixtureSet};
use crate::store::Store;

/// The state shared by the HTTP handlers and [`crate::FakeServer`].
pub(crate) struct Shared {
    pub store: Store,
    pub credentials: Credentials,
    /// Signs and checks download tokens (a secret of this process).
    pub signer: Signer,
    /// Largest request body accepted, in bytes.
    pub body_limit: usize,
    /// How long a download link stays valid, on the fake's clock.
    pub download_ttl: Duration,
    /// Base of download links; `None` = the host the client used.
    pub public_url: Option<String>,
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
                loaded = fixtures::load_path(p)?;
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
        );
        for db in &set.databases {
            credentials.add_database_tokens(&db.id, &db.tokens);
        }
        Ok(Self {
            store: Store::new(config, set, seed),
            credentials,
            signer: Signer::random(),
            body_limit: config.body_limit,
            download_ttl: config.download_ttl,
            public_url: config.public_url.clone(),
            faults: FaultRegistry::default(),
        })
    }
}
