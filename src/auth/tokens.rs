//! The two credentials the fake mints for the real clients, both signed with
//! the process's secret (HMAC-SHA256) and judged on the wall clock:
//!
//! - **JWTs**, from `POST /v1/tokens/exchange`: real HS256 tokens whose
//!   claims carry `exp` (go-scalingo reads it, unverified, to know when to
//!   exchange again, and fails without it);
//! - **addon tokens**, from `POST /v1/apps/:app/addons/:addon/token`:
//!   `sdfa.<addon id>.<expiry>.<mac>`, valid for that addon's database only.
//!
//! Neither is stored: checking one needs only the secret.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use hmac::digest::KeyInit;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// The JOSE header of every JWT the fake mints.
const JWT_HEADER: &str = r#"{"alg":"HS256","typ":"JWT"}"#;
/// The issuer claim of the fake's JWTs.
const ISSUER: &str = "scalingo-db-fake";
/// The prefix of addon tokens.
const ADDON_PREFIX: &str = "sdfa";
/// Domain separation of the two MACs.
const ADDON_DOMAIN: &[u8] = b"scalingo-db-fake/addon-token/v1\0";

/// Why a minted credential was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TokenError {
    /// Not a token of this shape.
    Malformed,
    /// Not signed by this fake (another server, or edited).
    BadSignature,
    /// Authentic, but its `exp` has passed on the wall clock.
    Expired,
}

impl TokenError {
    /// A sentence for the 401 body.
    pub fn message(self, what: &str) -> String {
        match self {
            TokenError::Malformed => format!("malformed {what}"),
            TokenError::BadSignature => format!("invalid {what}: not signed by this server"),
            TokenError::Expired => format!("expired {what}: get a new one"),
        }
    }
}

/// The claims of the fake's JWTs.
#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    iss: String,
    sub: String,
    iat: i64,
    exp: i64,
}

/// Mints and checks the fake's JWTs and addon tokens with one secret.
#[derive(Clone)]
pub(crate) struct TokenSigner {
    secret: [u8; 32],
}

impl std::fmt::Debug for TokenSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenSigner").finish_non_exhaustive()
    }
}

impl TokenSigner {
    pub fn new(secret: [u8; 32]) -> Self {
        Self { secret }
    }

    fn mac(&self) -> HmacSha256 {
        // A 32-byte key is valid for HMAC-SHA256: this cannot fail.
        <HmacSha256 as KeyInit>::new_from_slice(&self.secret).unwrap_or_else(|_| unreachable!())
    }

    /// An HS256 JWT for `user`, issued at `now` (Unix seconds), expiring at
    /// `exp`.
    pub fn jwt(&self, user: &str, now: i64, exp: i64) -> String {
        let claims = Claims {
            iss: ISSUER.into(),
            sub: user.into(),
            iat: now,
            exp,
        };
        let payload = serde_json::to_vec(&claims).unwrap_or_default();
        let mut token = URL_SAFE_NO_PAD.encode(JWT_HEADER);
        token.push('.');
        token.push_str(&URL_SAFE_NO_PAD.encode(payload));
        let mut mac = self.mac();
        mac.update(token.as_bytes());
        let sig = mac.finalize().into_bytes();
        token.push('.');
        token.push_str(&URL_SAFE_NO_PAD.encode(sig));
        token
    }

    /// Checks a JWT minted by [`Self::jwt`] at wall-clock `now` (Unix
    /// seconds); returns its subject.
    pub fn verify_jwt(&self, token: &str, now: i64) -> Result<String, TokenError> {
        let mut parts = token.split('.');
        let (Some(header), Some(payload), Some(sig), None) = (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(TokenError::Malformed);
        };
        let sig = URL_SAFE_NO_PAD.decode(sig).map_err(|_| TokenError::Malformed)?;
        let mut mac = self.mac();
        mac.update(header.as_bytes());
        mac.update(b".");
        mac.update(payload.as_bytes());
        mac.verify_slice(&sig).map_err(|_| TokenError::BadSignature)?;
        let claims: Claims = URL_SAFE_NO_PAD
            .decode(payload)
            .ok()
            .and_then(|p| serde_json::from_slice(&p).ok())
            .ok_or(TokenError::Malformed)?;
        if now >= claims.exp {
            return Err(TokenError::Expired);
        }
        Ok(claims.sub)
    }

    fn addon_mac(&self, addon: &str, exp: i64) -> HmacSha256 {
        let mut mac = self.mac();
        mac.update(ADDON_DOMAIN);
        mac.update(&(addon.len() as u64).to_be_bytes());
        mac.update(addon.as_bytes());
        mac.update(&exp.to_be_bytes());
        mac
    }

    /// A DB-API token for the database `addon`, expiring at `exp` (Unix
    /// seconds).
    pub fn addon_token(&self, addon: &str, exp: i64) -> String {
        let sig = self.addon_mac(addon, exp).finalize().into_bytes();
        format!("{ADDON_PREFIX}.{addon}.{exp}.{}", URL_SAFE_NO_PAD.encode(sig))
    }

    /// Whether `token` looks like an addon token at all.
    pub fn is_addon_token(token: &[u8]) -> bool {
        token
            .strip_prefix(ADDON_PREFIX.as_bytes())
            .is_some_and(|rest| rest.first() == Some(&b'.'))
    }

    /// Checks an addon token at wall-clock `now`; returns the addon id it
    /// opens.
    pub fn verify_addon_token<'t>(&self, token: &'t str, now: i64) -> Result<&'t str, TokenError> {
        let mut parts = token.split('.');
        let (Some(ADDON_PREFIX), Some(addon), Some(exp), Some(sig), None) =
            (parts.next(), parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(TokenError::Malformed);
        };
        let exp: i64 = exp.parse().map_err(|_| TokenError::Malformed)?;
        let sig = URL_SAFE_NO_PAD.decode(sig).map_err(|_| TokenError::Malformed)?;
        self.addon_mac(addon, exp)
            .verify_slice(&sig)
            .map_err(|_| TokenError::BadSignature)?;
        if now >= exp {
            return Err(TokenError::Expired);
        }
        Ok(addon)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signer(n: u8) -> TokenSigner {
        TokenSigner::new([n; 32])
    }

    #[test]
    fn a_jwt_is_three_base64url_parts_with_an_hs256_header_and_an_exp() {
        let t = signer(1).jwt("us-1", 100, 3700);
        let parts: Vec<_> = t.split('.').collect();
        assert_eq!(parts.len(), 3);
        let header = URL_SAFE_NO_PAD.decode(parts[0]).unwrap();
        assert_eq!(header, JWT_HEADER.as_bytes());
        let claims: serde_json::Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
        assert_eq!(claims["exp"], 3700);
        assert_eq!(signer(1).verify_jwt(&t, 3699), Ok("us-1".into()));
    }

    #[test]
    fn a_jwt_is_refused_expired_foreign_edited_or_malformed() {
        let t = signer(1).jwt("us-1", 100, 3700);
        assert_eq!(signer(1).verify_jwt(&t, 3700), Err(TokenError::Expired));
        assert_eq!(signer(2).verify_jwt(&t, 200), Err(TokenError::BadSignature));
        let later = signer(1).jwt("us-1", 100, 99_999);
        let forged = format!(
            "{}.{}.{}",
            t.split('.').next().unwrap(),
            later.split('.').nth(1).unwrap(),
            t.split('.').nth(2).unwrap()
        );
        assert_eq!(signer(1).verify_jwt(&forged, 200), Err(TokenError::BadSignature));
        for bad in ["", "a.b", "a.b.c.d", "x.y.!!"] {
            assert_eq!(signer(1).verify_jwt(bad, 0), Err(TokenError::Malformed), "{bad}");
        }
    }

    #[test]
    fn an_addon_token_opens_its_addon_until_it_expires() {
        let t = signer(1).addon_token("ad-1", 500);
        assert!(TokenSigner::is_addon_token(t.as_bytes()));
        assert_eq!(signer(1).verify_addon_token(&t, 499), Ok("ad-1"));
        assert_eq!(signer(1).verify_addon_token(&t, 500), Err(TokenError::Expired));
        assert_eq!(signer(2).verify_addon_token(&t, 0), Err(TokenError::BadSignature));
        let moved = t.replace(".500.", ".900.");
        assert_eq!(signer(1).verify_addon_token(&moved, 0), Err(TokenError::BadSignature));
        let other = t.replace("ad-1", "ad-2");
        assert_eq!(signer(1).verify_addon_token(&other, 0), Err(TokenError::BadSignature));
        assert_eq!(signer(1).verify_addon_token("sdfa.x", 0), Err(TokenError::Malformed));
    }
}
