//! Who may call the database API: the one home of credentials.
//!
//! A request's `Authorization: Bearer <token>` is checked against the global
//! token (valid for every database) and each database's own static tokens.
//! [`decide`] is the pure rule; [`Credentials`] holds the tokens.
//!
//! | presented | target database | answer |
//! |---|---|---|
//! | nothing, or not `Bearer <token>` | any | 401 |
//! | the global token | any | allowed |
//! | a database's token | that database | allowed |
//! | a database's token | another database | 403 |
//! | a database's token | none (the route's 404 follows) | allowed |
//! | anything else | any | 401 |
//!
//! With auth off, everything is allowed (and the binary says so loudly).

use std::collections::HashMap;

use parking_lot::RwLock;

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
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Decision {
    Allow,
    /// 401, with what is wrong.
    Unauthorized(&'static str),
    /// 403: a real token, for another database.
    Forbidden,
}

/// The token of an `Authorization` header value, or why there is none.
///
/// The scheme is case-insensitive (RFC 9110 §11.1); the token is not.
pub(crate) fn bearer(header: Option<&[u8]>) -> Result<&str, &'static str> {
    let Some(value) = header else {
        return Err("no Authorization header: send `Authorization: Bearer <token>`");
    };
    std::str::from_utf8(value)
        .ok()
        .and_then(|v| v.trim().split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim())
        .filter(|t| !t.is_empty())
        .ok_or("malformed Authorization header: expected `Bearer <token>`")
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
        (Grant::Nothing, _) => Decision::Unauthorized("invalid or expired token"),
    }
}

/// Every credential the fake accepts.
#[derive(Debug)]
pub(crate) struct Credentials {
    /// `false`: every request is allowed.
    enabled: bool,
    /// A token valid for every database.
    global: Option<String>,
    /// A database's static token → the addon ids it opens.
    database_tokens: RwLock<HashMap<String, Vec<String>>>,
}

impl Credentials {
    /// Credentials with `global` as the token for every database.
    pub fn new(enabled: bool, global: Option<String>) -> Self {
        Self {
            enabled,
            global,
            database_tokens: RwLock::default(),
        }
    }

    /// Makes `tokens` open the database `addon_id`.
    pub fn add_database_tokens(&self, addon_id: &str, tokens: &[String]) {
        let mut map = self.database_tokens.write();
        for t in tokens {
            let dbs = map.entry(t.clone()).or_default();
            if !dbs.iter().any(|d| d == addon_id) {
                dbs.push(addon_id.to_string());
            }
        }
    }

    /// Whether a request with `authorization` (the header's bytes) may reach
    /// `target` (see [`decide`]).
    pub fn check(&self, authorization: Option<&[u8]>, target: Option<&str>) -> Decision {
        if !self.enabled {
            return Decision::Allow;
        }
        let token = match bearer(authorization) {
            Ok(t) => t,
            Err(why) => return Decision::Unauthorized(why),
        };
        if self.global.as_deref() == Some(token) {
            return decide(Grant::Everything, target);
        }
        let map = self.database_tokens.read();
        let grant = map.get(token).map_or(Grant::Nothing, |dbs| Grant::Databases(dbs));
        decide(grant, target)
    }
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
    fn credentials_follow_the_table() {
        let c = Credentials::new(true, Some("g".into()));
        c.add_database_tokens("a", &["ta".into()]);
        assert_eq!(c.check(Some(b"Bearer g"), Some("a")), Decision::Allow);
        assert_eq!(c.check(Some(b"Bearer ta"), Some("a")), Decision::Allow);
        assert_eq!(c.check(Some(b"Bearer ta"), Some("b")), Decision::Forbidden);
        assert!(matches!(
            c.check(Some(b"Bearer x"), Some("a")),
            Decision::Unauthorized(_)
        ));
        assert_eq!(Credentials::new(false, None).check(None, Some("a")), Decision::Allow);
    }
}
