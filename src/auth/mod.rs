//! Who may call what: the one home of credentials.
//!
//! Three kinds, as the real platform has them:
//! - **API tokens** (what a user types into `scalingo login --api-token`):
//!   exchanged for a JWT at `POST /v1/tokens/exchange` (Basic auth, empty
//!   user). Which ones are accepted is a setting; by default any non-empty
//!   one.
//! - **JWTs** ([`tokens`]): the bearer of the `/v1` routes (user, regions,
//!   addons, addon tokens).
//! - **Database tokens**: the bearer of the database API. The global token
//!   (valid for every database), each database's static tokens from the
//!   fixtures, and the addon tokens minted for one database.
//!
//! JWTs and addon tokens live on the **wall clock**, not the fake's clock:
//! clients judge a JWT's `exp` by their own real clock and cache it until
//! then, so a test that moves the fake a day ahead keeps its credentials.
//!
//! [`decide`] is the pure rule for the database API:
//!
//! | presented | target database | answer |
//! |---|---|---|
//! | nothing, or not `Bearer <token>` | any | 401 |
//! | the global token | any | allowed |
//! | a database's token (static or addon) | that database | allowed |
//! | a database's token | another database | 403 |
//! | a database's token | none (the route's 404 follows) | allowed |
//! | an expired addon token, or anything else | any | 401 |
//!
//! With auth off, everything is allowed (and the binary says so loudly).

pub(crate) mod tokens;

use std::time::Duration;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use parking_lot::RwLock;

use tokens::TokenSigner;

use crate::hashing::FastMap;

/// The one user of the fake, as `GET /v1/users/self` shows it.
pub(crate) const USER_ID: &str = "us-5c6f1e2a-fake-4d3b-9a8e-0123456789ab";

/// What the presented token opens.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Grant<'a> {
    /// Every database (the global token).
    Everything,
    /// These databases (by addon id).
    Databases(&'a [String]),
    /// Nothing: the token is unknown.
    Nothing,
}

/// Why a request is refused, or that it is not.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Decision {
    Allow,
    /// 401, with what is wrong.
    Unauthorized(String),
    /// 403: a real token, for another database.
    Forbidden,
}

/// The token of an `Authorization` header value, or why there is none.
///
/// The scheme is case-insensitive (RFC 9110 §11.1); the token is not.
pub(crate) fn bearer(header: Option<&[u8]>) -> Result<&str, &'static str> {
    bearer_bytes(header).and_then(|token| std::str::from_utf8(token).map_err(|_| MALFORMED))
}

/// Why a bearer token is refused before it is looked at.
const MALFORMED: &str = "malformed Authorization header: expected `Bearer <token>`";

/// The token of an `Authorization` header value, as bytes not yet checked
/// to be UTF-8 (see [`bearer`], which checks).
fn bearer_bytes(header: Option<&[u8]>) -> Result<&[u8], &'static str> {
    let Some(value) = header else {
        return Err("no Authorization header: send `Authorization: Bearer <token>`");
    };
    // What nearly every client sends, `Bearer <token>` with nothing to trim,
    // read without the general scan below (it gives the same token).
    if let (Some(scheme), Some(first), Some(last)) = (value.get(..7), value.get(7), value.last()) {
        if scheme.eq_ignore_ascii_case(b"bearer ") && !first.is_ascii_whitespace() && !last.is_ascii_whitespace() {
            return Ok(&value[7..]);
        }
    }
    let value = value.trim_ascii();
    let space = value.iter().position(|b| *b == b' ');
    space
        .map(|at| (&value[..at], value[at + 1..].trim_ascii()))
        .filter(|(scheme, token)| scheme.eq_ignore_ascii_case(b"bearer") && !token.is_empty())
        .map(|(_, token)| token)
        .ok_or(MALFORMED)
}

/// The rule of the module's table: may a token that opens `grant` reach
/// `target` (the addon id of the database the route names, `None` when it
/// names none that exists)?
pub(crate) fn decide(grant: Grant<'_>, target: Option<&str>) -> Decision {
    match (grant, target) {
        (Grant::Everything, _) => Decision::Allow,
        (Grant::Databases(_), None) => Decision::Allow,
        (Grant::Databases(dbs), Some(t)) if dbs.iter().any(|d| d == t) => Decision::Allow,
        (Grant::Databases(_), Some(_)) => Decision::Forbidden,
        (Grant::Nothing, _) => Decision::Unauthorized("invalid or expired token".into()),
    }
}

/// Every credential the fake accepts.
#[derive(Debug)]
pub(crate) struct Credentials {
    /// `false`: every request is allowed.
    enabled: bool,
    /// A token valid for every database.
    global: Option<String>,
    /// A database's static token (its bytes: a request's token is looked up
    /// before any UTF-8 check) → the addon ids it opens.
    database_tokens: RwLock<FastMap<Box<[u8]>, Vec<String>>>,
    /// The API tokens the exchange accepts; empty: any non-empty one.
    api_tokens: Vec<String>,
    /// Mints and checks JWTs and addon tokens.
    signer: TokenSigner,
    /// How long a JWT or an addon token lives, in real time.
    ttl: Duration,
    /// The token `/_fake` requires, if any.
    admin: Option<String>,
}

/// The real time, in Unix seconds (credentials live on the wall clock).
fn wall_secs() -> i64 {
    crate::clock::system_millis().div_euclid(1000)
}

impl Credentials {
    /// Credentials with `global` as the token for every database, `api_tokens`
    /// accepted by the exchange (empty: any), and minted credentials living
    /// `ttl`, signed with `secret`.
    pub fn new(
        enabled: bool,
        global: Option<String>,
        api_tokens: Vec<String>,
        ttl: Duration,
        secret: [u8; 32],
    ) -> Self {
        Self {
            enabled,
            global,
            database_tokens: RwLock::default(),
            api_tokens,
            signer: TokenSigner::new(secret),
            ttl,
            admin: None,
        }
    }

    /// Makes `/_fake` require `token` (`None`: open).
    pub fn with_admin_token(mut self, token: Option<String>) -> Self {
        self.admin = token;
        self
    }

    fn expiry(&self) -> i64 {
        wall_secs().saturating_add(self.ttl.as_secs().min(i64::MAX as u64) as i64)
    }

    /// `POST /v1/tokens/exchange`: a JWT for the API token of a Basic
    /// `Authorization` header (empty user, the token as password).
    pub fn exchange(&self, authorization: Option<&[u8]>) -> Result<String, String> {
        let api_token = basic_password(authorization)?;
        if self.enabled && !self.api_tokens.is_empty() && !self.api_tokens.iter().any(|t| t == &api_token) {
            return Err("invalid API token".into());
        }
        Ok(self.signer.jwt(USER_ID, wall_secs(), self.expiry()))
    }

    /// Whether a `/v1` request carries a valid JWT (always, with auth off).
    pub fn check_jwt(&self, authorization: Option<&[u8]>) -> Result<(), String> {
        if !self.enabled {
            return Ok(());
        }
        let token = bearer(authorization)?;
        self.signer
            .verify_jwt(token, wall_secs())
            .map(drop)
            .map_err(|e| e.message("JWT"))
    }

    /// A DB-API token for the database `addon_id`, valid for the TTL.
    pub fn addon_token(&self, addon_id: &str) -> String {
        self.signer.addon_token(addon_id, self.expiry())
    }

    /// Forgets every database token (a reset, before the fixtures' are added
    /// again).
    pub fn clear_database_tokens(&self) {
        self.database_tokens.write().clear();
    }

    /// Forgets the tokens of the database `addon_id` (it was deleted).
    pub fn remove_database(&self, addon_id: &str) {
        let mut map = self.database_tokens.write();
        map.retain(|_, dbs| {
            dbs.retain(|d| d != addon_id);
            !dbs.is_empty()
        });
    }

    /// Whether `/_fake` may be called with `authorization`: always without an
    /// admin token; with one, only by a request bearing it.
    pub fn check_admin(&self, authorization: Option<&[u8]>) -> Result<(), String> {
        let Some(admin) = &self.admin else {
            return Ok(());
        };
        match bearer(authorization) {
            Ok(t) if t == admin => Ok(()),
            Ok(_) => Err("invalid admin token".into()),
            Err(_) => Err("the control API needs `Authorization: Bearer <admin token>` (--admin-token)".into()),
        }
    }

    /// Makes `tokens` open the database `addon_id`.
    pub fn add_database_tokens(&self, addon_id: &str, tokens: &[String]) {
        let mut map = self.database_tokens.write();
        for t in tokens {
            let dbs = map.entry(t.as_bytes().into()).or_default();
            if !dbs.iter().any(|d| d == addon_id) {
                dbs.push(addon_id.to_string());
            }
        }
    }

    /// Whether a database-API request with `authorization` (the header's
    /// bytes) may reach `target` (see [`decide`]).
    pub fn check(&self, authorization: Option<&[u8]>, target: Option<&str>) -> Decision {
        if !self.enabled {
            return Decision::Allow;
        }
        // The token's bytes: the global token and the database tokens are
        // UTF-8, so a token that equals one is too, and needs no check of
        // its own (the common case, on every request). The order of the
        // checks, and every answer, is as if the token were checked first.
        let token = match bearer_bytes(authorization) {
            Ok(t) => t,
            Err(why) => return Decision::Unauthorized(why.to_string()),
        };
        if self.global.as_deref().is_some_and(|g| g.as_bytes() == token) {
            return decide(Grant::Everything, target);
        }
        if TokenSigner::is_addon_token(token) {
            let Ok(token) = std::str::from_utf8(token) else {
                return Decision::Unauthorized(MALFORMED.to_string());
            };
            return match self.signer.verify_addon_token(token, wall_secs()) {
                Ok(addon) => decide(Grant::Databases(&[addon.to_string()]), target),
                Err(e) => Decision::Unauthorized(e.message("addon token")),
            };
        }
        let map = self.database_tokens.read();
        if let Some(dbs) = map.get(token) {
            return decide(Grant::Databases(dbs), target);
        }
        if std::str::from_utf8(token).is_err() {
            return Decision::Unauthorized(MALFORMED.to_string());
        }
        decide(Grant::Nothing, target)
    }
}

/// The password of a Basic `Authorization` header (the user is ignored:
/// clients send it empty).
fn basic_password(header: Option<&[u8]>) -> Result<String, String> {
    let value = header
        .and_then(|v| std::str::from_utf8(v).ok())
        .ok_or("no Authorization header: send Basic auth with your API token as the password")?;
    let (scheme, encoded) = value.trim().split_once(' ').ok_or("malformed Authorization header")?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err("the token exchange takes Basic auth (empty user, API token as password)".into());
    }
    let decoded = STANDARD
        .decode(encoded.trim())
        .ok()
        .and_then(|d| String::from_utf8(d).ok())
        .ok_or("malformed Basic credentials")?;
    let password = decoded.split_once(':').map_or("", |(_, p)| p);
    if password.is_empty() {
        return Err("empty API token".into());
    }
    Ok(password.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_decision_table() {
        let mine = ["a".to_string()];
        assert_eq!(decide(Grant::Everything, Some("b")), Decision::Allow);
        assert_eq!(decide(Grant::Databases(&mine), Some("a")), Decision::Allow);
        assert_eq!(decide(Grant::Databases(&mine), Some("b")), Decision::Forbidden);
        assert_eq!(decide(Grant::Databases(&mine), None), Decision::Allow);
        assert!(matches!(decide(Grant::Nothing, Some("a")), Decision::Unauthorized(_)));
    }

    #[test]
    fn only_a_bearer_header_with_a_token_is_read() {
        assert_eq!(bearer(Some(b"Bearer abc")), Ok("abc"));
        assert_eq!(bearer(Some(b"bEaReR  abc ")), Ok("abc"));
        for bad in [&b"Basic abc"[..], b"Bearer", b"Bearer   ", b"abc", b"\xff\xfe"] {
            assert!(bearer(Some(bad)).is_err(), "{bad:?}");
        }
        assert!(bearer(None).is_err());
    }

    #[test]
    fn the_common_bearer_form_reads_as_the_general_rule_does() {
        // The general rule, written out: trim, split at the first space,
        // scheme `bearer` in any case, a non-empty trimmed token.
        fn general(value: &[u8]) -> Option<&[u8]> {
            let value = value.trim_ascii();
            let at = value.iter().position(|b| *b == b' ')?;
            let (scheme, token) = (&value[..at], value[at + 1..].trim_ascii());
            (scheme.eq_ignore_ascii_case(b"bearer") && !token.is_empty()).then_some(token)
        }
        let words = [
            "", " ", "\t", "Bearer", "bearer", "BEARER", "Bearer ", "Bearer  ", "Bearer\t", "Bearerx ", "Basic ",
        ];
        let tokens = ["", "a", "abc", " abc", "abc ", "a b", "\tabc", "abc\t", "é", "\u{a0}x"];
        for lead in ["", " ", "\t"] {
            for word in words {
                for token in tokens {
                    let value = format!("{lead}{word}{token}");
                    assert_eq!(
                        bearer_bytes(Some(value.as_bytes())).ok(),
                        general(value.as_bytes()),
                        "{value:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn the_exchange_takes_basic_auth_with_the_api_token_as_password() {
        let any = Credentials::new(true, None, Vec::new(), Duration::from_secs(60), [7; 32]);
        let basic = |user_pass: &str| format!("Basic {}", STANDARD.encode(user_pass));
        let jwt = any.exchange(Some(basic(":tk-us-1").as_bytes())).unwrap();
        let bearer = format!("Bearer {jwt}");
        assert_eq!(any.check_jwt(Some(bearer.as_bytes())), Ok(()));
        assert!(any.exchange(Some(basic(":").as_bytes())).is_err(), "empty token");
        assert!(any.exchange(None).is_err());
        assert!(any.exchange(Some(b"Bearer tk")).is_err());
        let only = Credentials::new(true, None, vec!["tk-good".into()], Duration::from_secs(60), [7; 32]);
        assert!(only.exchange(Some(basic(":tk-good").as_bytes())).is_ok());
        assert!(only.exchange(Some(basic(":tk-bad").as_bytes())).is_err());
        let other = Credentials::new(true, None, Vec::new(), Duration::from_secs(60), [8; 32]);
        assert!(
            other.check_jwt(Some(bearer.as_bytes())).is_err(),
            "signed by another server"
        );
    }

    #[test]
    fn credentials_follow_the_table() {
        let c = Credentials::new(true, Some("g".into()), Vec::new(), Duration::from_secs(60), [7; 32]);
        c.add_database_tokens("a", &["ta".into()]);
        assert_eq!(c.check(Some(b"Bearer g"), Some("a")), Decision::Allow);
        assert_eq!(c.check(Some(b"Bearer ta"), Some("a")), Decision::Allow);
        assert_eq!(c.check(Some(b"Bearer ta"), Some("b")), Decision::Forbidden);
        assert!(matches!(
            c.check(Some(b"Bearer x"), Some("a")),
            Decision::Unauthorized(_)
        ));
        let addon = c.addon_token("a");
        let header = format!("Bearer {addon}");
        assert_eq!(c.check(Some(header.as_bytes()), Some("a")), Decision::Allow);
        assert_eq!(c.check(Some(header.as_bytes()), Some("b")), Decision::Forbidden);
        let open = Credentials::new(false, None, Vec::new(), Duration::from_secs(60), [7; 32]);
        assert_eq!(open.check(None, Some("a")), Decision::Allow);
    }

    #[test]
    fn a_token_that_is_not_utf8_is_malformed_whatever_it_looks_like() {
        let c = Credentials::new(true, Some("g".into()), Vec::new(), Duration::from_secs(60), [7; 32]);
        c.add_database_tokens("a", &["ta".into()]);
        let malformed = Decision::Unauthorized(MALFORMED.to_string());
        for bad in [
            &b"Bearer ta\xff"[..],
            b"Bearer \xfe",
            b"Bearer sdfa.a.1.\xff",
            b"Bearer g\xc3",
        ] {
            assert_eq!(c.check(Some(bad), Some("a")), malformed, "{bad:?}");
        }
        // Valid UTF-8 that opens nothing is an unknown token, not a malformed one.
        assert_eq!(
            c.check(Some("Bearer tä".as_bytes()), Some("a")),
            Decision::Unauthorized("invalid or expired token".into())
        );
        assert!(matches!(
            c.check(Some(b"Bearer sdfa.a.1.x"), Some("a")),
            Decision::Unauthorized(why) if why != MALFORMED
        ));
    }
}
