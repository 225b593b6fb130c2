//! Pre-signed download tokens for backup archives, with no server-side state.
//!
//! This module owns the format, signing and checking of the token that a
//! download link carries. A token is `"<expires_at_unix_secs>.<mac>"`, where
//! `<mac>` is the lowercase hex HMAC-SHA256 (64 characters) of a
//! length-prefixed encoding of the database name, the backup id and the expiry,
//! so a token minted for one backup of one database cannot be replayed against
//! another, nor have its expiry pushed back. The token uses only ASCII digits,
//! `-`, `.` and lowercase hex, so it fits in a URL query without escaping.
//! Checking a token needs only the [`Signer`]'s secret: nothing is stored per
//! token.

use std::fmt;

use hmac::digest::KeyInit;
use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// Length in bytes of an HMAC-SHA256 tag.
const MAC_LEN: usize = 32;

/// Longest well-formed token: the longest `i64` (`-9223372036854775808`, 20
/// characters), the dot, and 64 hex digits. Anything longer is rejected as
/// malformed before any parsing.
const MAX_TOKEN_LEN: usize = 20 + 1 + 2 * MAC_LEN;

/// Domain-separation prefix of the MAC input; bump the version if the layout
/// of the MAC input ever changes.
const MAC_DOMAIN: &[u8] = b"scalingo-db-fake/download-token/v1\0";

/// Why a download token was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenError {
    /// The token does not have the shape `"<expiry>.<64 lowercase hex>"`
    /// (empty, no dot, non-numeric or non-canonical expiry, bad MAC encoding,
    /// or too long).
    Malformed,
    /// The token is well formed but its MAC does not match this signer, this
    /// database, this backup and this expiry.
    BadSignature,
    /// The token is authentic but its expiry is not after the current time.
    Expired,
}

impl fmt::Display for TokenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TokenError::Malformed => "download token is malformed",
            TokenError::BadSignature => "download token signature is invalid",
            TokenError::Expired => "download token has expired",
        })
    }
}

impl std::error::Error for TokenError {}

/// Mints and checks download tokens with a 32-byte HMAC secret.
///
/// Its `Debug` output never shows the secret.
#[derive(Clone)]
pub struct Signer {
    secret: [u8; 32],
}

impl fmt::Debug for Signer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Signer").field("secret", &"<redacted>").finish()
    }
}

impl Signer {
    /// A signer with the given secret; two signers with the same secret accept
    /// each other's tokens.
    #[cfg(test)]
    pub fn new(secret: [u8; 32]) -> Self {
        Self { secret }
    }

    /// A signer with a fresh secret from the operating system's random number
    /// generator, meant to be made once per server: its tokens are valid only
    /// for as long as that server lives.
    ///
    /// Should the OS generator fail, the secret is drawn instead from the
    /// standard library's per-process random hash keys mixed with the current
    /// time, which is weaker but still unpredictable enough for a fake.
    pub fn random() -> Self {
        use rand::TryRngCore;

        let mut secret = [0u8; 32];
        if rand::rngs::OsRng.try_fill_bytes(&mut secret).is_err() {
            secret = fallback_secret();
        }
        Self { secret }
    }

    /// The token that lets `backup` of `database` be downloaded until
    /// `expires_at` (Unix seconds, exclusive).
    ///
    /// The result is `"<expires_at>.<lowercase hex HMAC-SHA256>"`, URL-safe
    /// without escaping.
    pub fn sign(&self, database: &str, backup: &str, expires_at: i64) -> String {
        let tag = self.mac(database, backup, expires_at).finalize().into_bytes();
        let mut token = String::with_capacity(MAX_TOKEN_LEN);
        token.push_str(&expires_at.to_string());
        token.push('.');
        for byte in tag {
            token.push(hex_digit(byte >> 4));
            token.push(hex_digit(byte & 0x0f));
        }
        token
    }

    /// Checks that `token` was made by [`Signer::sign`] with this secret for
    /// `backup` of `database`, and that it has not expired at `now` (Unix
    /// seconds).
    ///
    /// The MAC is compared in constant time and before the expiry is looked
    /// at, so a token whose expiry was edited is refused as
    /// [`TokenError::BadSignature`], never [`TokenError::Expired`]. A token is
    /// expired when `now >= expires_at`. Only the exact form that `sign`
    /// produces is accepted: a `+` sign, leading zeros or uppercase hex make
    /// the token [`TokenError::Malformed`].
    pub fn verify(&self, token: &str, database: &str, backup: &str, now: i64) -> Result<(), TokenError> {
        let (expires_at, tag) = parse(token)?;
        self.mac(database, backup, expires_at)
            .verify_slice(&tag)
            .map_err(|_| TokenError::BadSignature)?;
        if now >= expires_at {
            return Err(TokenError::Expired);
        }
        Ok(())
    }

    /// The keyed MAC state over the unambiguous encoding of the three bound
    /// values: a domain prefix, then each string preceded by its length as a
    /// big-endian `u64`, then the expiry as a big-endian `i64`.
    fn mac(&self, database: &str, backup: &str, expires_at: i64) -> HmacSha256 {
        // HMAC pads a key shorter than the hash's block size with zeros, so
        // keying with the zero-padded block is the same MAC as keying with
        // the 32-byte secret, and, unlike `new_from_slice`, cannot fail.
        let mut key = [0u8; 64];
        key[..self.secret.len()].copy_from_slice(&self.secret);
        let mut mac = <HmacSha256 as KeyInit>::new(&key.into());
        mac.update(MAC_DOMAIN);
        for field in [database, backup] {
            mac.update(&(field.len() as u64).to_be_bytes());
            mac.update(field.as_bytes());
        }
        mac.update(&expires_at.to_be_bytes());
        mac
    }
}

/// Splits a token into its expiry and its raw MAC, accepting only the
/// canonical form that [`Signer::sign`] writes.
fn parse(token: &str) -> Result<(i64, [u8; MAC_LEN]), TokenError> {
    if token.is_empty() || token.len() > MAX_TOKEN_LEN {
        return Err(TokenError::Malformed);
    }
    let (expiry, hex) = token.split_once('.').ok_or(TokenError::Malformed)?;
    let expires_at: i64 = expiry.parse().map_err(|_| TokenError::Malformed)?;
    // Rejects "+5", "05", "-0" and the like, so each (expiry, MAC) pair has
    // exactly one spelling.
    if expires_at.to_string() != expiry {
        return Err(TokenError::Malformed);
    }
    let hex = hex.as_bytes();
    if hex.len() != 2 * MAC_LEN {
        return Err(TokenError::Malformed);
    }
    let mut tag = [0u8; MAC_LEN];
    for (byte, pair) in tag.iter_mut().zip(hex.chunks_exact(2)) {
        let high = hex_value(pair[0]).ok_or(TokenError::Malformed)?;
        let low = hex_value(pair[1]).ok_or(TokenError::Malformed)?;
        *byte = (high << 4) | low;
    }
    Ok((expires_at, tag))
}

/// The lowercase hex digit for a nibble (`0..16`).
fn hex_digit(nibble: u8) -> char {
    char::from(b"0123456789abcdef"[usize::from(nibble & 0x0f)])
}

/// The value of a lowercase hex digit, or `None` for anything else.
fn hex_value(digit: u8) -> Option<u8> {
    match digit {
        b'0'..=b'9' => Some(digit - b'0'),
        b'a'..=b'f' => Some(digit - b'a' + 10),
        _ => None,
    }
}

/// A secret made from the standard library's randomly keyed hashers and the
/// clock, for when the OS random number generator is unavailable.
fn fallback_secret() -> [u8; 32] {
    use std::collections::hash_map::RandomState;
    use std::hash::{BuildHasher, Hasher};
    use std::time::{SystemTime, UNIX_EPOCH};

    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let mut secret = [0u8; 32];
    for (index, chunk) in secret.chunks_exact_mut(8).enumerate() {
        let mut hasher = RandomState::new().build_hasher();
        hasher.write_u128(nanos);
        hasher.write_usize(index);
        chunk.copy_from_slice(&hasher.finish().to_le_bytes());
    }
    secret
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const DB: &str = "my-app-1234";
    const BACKUP: &str = "5f1e0c2a9d8b7c6e5f4a3b2c";
    const EXPIRES: i64 = 1_700_000_600;
    const NOW: i64 = 1_700_000_000;

    fn signer() -> Signer {
        Signer::new([7u8; 32])
    }

    #[test]
    fn freshly_signed_token_verifies() {
        let s = signer();
        let token = s.sign(DB, BACKUP, EXPIRES);
        assert_eq!(s.verify(&token, DB, BACKUP, NOW), Ok(()));
    }

    #[test]
    fn token_is_expiry_dot_64_lowercase_hex_and_url_safe() {
        let token = signer().sign(DB, BACKUP, EXPIRES);
        let (expiry, mac) = token.split_once('.').expect("has a dot");
        assert_eq!(expiry, EXPIRES.to_string());
        assert_eq!(mac.len(), 64);
        assert!(mac.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
    }

    #[test]
    fn mac_is_standard_hmac_sha256_keyed_with_the_secret() {
        let secret = [0x5a; 32];
        let mut reference = <HmacSha256 as Mac>::new_from_slice(&secret).expect("any key length is fine");
        reference.update(MAC_DOMAIN);
        reference.update(&2u64.to_be_bytes());
        reference.update(b"db");
        reference.update(&3u64.to_be_bytes());
        reference.update(b"bak");
        reference.update(&42i64.to_be_bytes());
        let expected: String = reference
            .finalize()
            .into_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(Signer::new(secret).sign("db", "bak", 42), format!("42.{expected}"));
    }

    #[test]
    fn signing_is_deterministic_for_one_secret() {
        assert_eq!(signer().sign(DB, BACKUP, EXPIRES), signer().sign(DB, BACKUP, EXPIRES));
    }

    #[test]
    fn negative_expiry_round_trips_but_is_expired() {
        let s = signer();
        let token = s.sign(DB, BACKUP, -5);
        assert!(token.starts_with("-5."));
        assert_eq!(s.verify(&token, DB, BACKUP, -6), Ok(()));
        assert_eq!(s.verify(&token, DB, BACKUP, NOW), Err(TokenError::Expired));
    }

    #[test]
    fn extreme_expiries_round_trip() {
        let s = signer();
        for expiry in [i64::MIN, i64::MAX] {
            let token = s.sign(DB, BACKUP, expiry);
            assert!(token.len() <= MAX_TOKEN_LEN);
            assert_ne!(s.verify(&token, DB, BACKUP, NOW), Err(TokenError::Malformed));
        }
        assert_eq!(s.verify(&s.sign(DB, BACKUP, i64::MAX), DB, BACKUP, NOW), Ok(()));
    }

    #[test]
    fn tampered_signature_is_rejected() {
        let s = signer();
        let token = s.sign(DB, BACKUP, EXPIRES);
        let dot = token.find('.').expect("has a dot");
        for index in dot + 1..token.len() {
            let mut bytes = token.clone().into_bytes();
            bytes[index] = if bytes[index] == b'0' { b'1' } else { b'0' };
            let tampered = String::from_utf8(bytes).expect("ascii");
            assert_eq!(
                s.verify(&tampered, DB, BACKUP, NOW),
                Err(TokenError::BadSignature),
                "{tampered}"
            );
        }
    }

    #[test]
    fn tampered_expiry_is_a_bad_signature_not_an_extension() {
        let s = signer();
        let token = s.sign(DB, BACKUP, EXPIRES);
        let mac = token.split_once('.').expect("has a dot").1;
        let extended = format!("{}.{mac}", EXPIRES + 3600);
        assert_eq!(s.verify(&extended, DB, BACKUP, NOW), Err(TokenError::BadSignature));
        // Even when both expiries lie in the past, tampering wins over expiry.
        let shortened = format!("{}.{mac}", NOW - 1);
        assert_eq!(
            s.verify(&shortened, DB, BACKUP, NOW + 10_000),
            Err(TokenError::BadSignature)
        );
    }

    #[test]
    fn token_for_another_backup_is_rejected() {
        let s = signer();
        let token = s.sign(DB, BACKUP, EXPIRES);
        assert_eq!(s.verify(&token, DB, "other-backup", NOW), Err(TokenError::BadSignature));
    }

    #[test]
    fn token_for_another_database_is_rejected() {
        let s = signer();
        let token = s.sign(DB, BACKUP, EXPIRES);
        assert_eq!(s.verify(&token, "other-db", BACKUP, NOW), Err(TokenError::BadSignature));
    }

    #[test]
    fn database_and_backup_boundary_cannot_be_shifted() {
        let s = signer();
        let token = s.sign("ab", "c", EXPIRES);
        assert_eq!(s.verify(&token, "a", "bc", NOW), Err(TokenError::BadSignature));
        let token = s.sign("a\nb", "c", EXPIRES);
        assert_eq!(s.verify(&token, "a", "b\nc", NOW), Err(TokenError::BadSignature));
        let token = s.sign(DB, BACKUP, EXPIRES);
        assert_eq!(s.verify(&token, BACKUP, DB, NOW), Err(TokenError::BadSignature));
    }

    #[test]
    fn token_from_another_signer_is_rejected() {
        let token = Signer::new([8u8; 32]).sign(DB, BACKUP, EXPIRES);
        assert_eq!(signer().verify(&token, DB, BACKUP, NOW), Err(TokenError::BadSignature));
    }

    #[test]
    fn random_signers_have_distinct_secrets() {
        let a = Signer::random();
        let b = Signer::random();
        let token = a.sign(DB, BACKUP, EXPIRES);
        assert_eq!(a.verify(&token, DB, BACKUP, NOW), Ok(()));
        assert_eq!(b.verify(&token, DB, BACKUP, NOW), Err(TokenError::BadSignature));
    }

    #[test]
    fn fallback_secret_is_not_constant() {
        assert_ne!(fallback_secret(), [0u8; 32]);
        assert_ne!(fallback_secret(), fallback_secret());
    }

    #[test]
    fn token_expires_exactly_at_its_expiry() {
        let s = signer();
        let token = s.sign(DB, BACKUP, EXPIRES);
        assert_eq!(s.verify(&token, DB, BACKUP, EXPIRES - 1), Ok(()));
        assert_eq!(s.verify(&token, DB, BACKUP, EXPIRES), Err(TokenError::Expired));
        assert_eq!(s.verify(&token, DB, BACKUP, EXPIRES + 1), Err(TokenError::Expired));
    }

    #[test]
    fn malformed_tokens_are_rejected_as_malformed() {
        let s = signer();
        let good = s.sign(DB, BACKUP, EXPIRES);
        let mac = good.split_once('.').expect("has a dot").1.to_owned();
        let cases = [
            String::new(),
            ".".to_owned(),
            "1700000600".to_owned(),
            mac.clone(),
            format!(".{mac}"),
            format!("soon.{mac}"),
            format!("0x10.{mac}"),
            format!("+{EXPIRES}.{mac}"),
            format!("0{EXPIRES}.{mac}"),
            format!(" {EXPIRES}.{mac}"),
            format!("-0.{mac}"),
            format!("99999999999999999999.{mac}"),
            format!("{EXPIRES}."),
            format!("{EXPIRES}.{}", &mac[..63]),
            format!("{EXPIRES}.{mac}0"),
            format!("{EXPIRES}.{mac}.{mac}"),
            format!("{EXPIRES}.{}", mac.to_uppercase()),
            format!("{EXPIRES}.{}g", &mac[..63]),
            format!("{EXPIRES}.{}é", &mac[..62]),
            format!("{EXPIRES}.{mac} "),
            "9".repeat(10_000),
            format!("{EXPIRES}.{}", "a".repeat(1 << 20)),
        ];
        for token in &cases {
            assert_eq!(
                s.verify(token, DB, BACKUP, NOW),
                Err(TokenError::Malformed),
                "{token:?}"
            );
        }
    }

    #[test]
    fn errors_have_short_human_messages() {
        assert_eq!(TokenError::Expired.to_string(), "download token has expired");
        assert_eq!(TokenError::Malformed.to_string(), "download token is malformed");
        assert_eq!(
            TokenError::BadSignature.to_string(),
            "download token signature is invalid"
        );
        let boxed: Box<dyn std::error::Error> = Box::new(TokenError::Expired);
        assert_eq!(boxed.to_string(), "download token has expired");
    }

    #[test]
    fn debug_output_hides_the_secret() {
        let shown = format!("{:?}", Signer::new([0xab; 32]));
        assert!(!shown.contains("171"), "{shown}");
        assert!(!shown.to_lowercase().contains("ab, ab"), "{shown}");
        assert!(shown.contains("redacted"));
    }

    proptest! {
        #[test]
        fn arbitrary_strings_never_verify_and_never_panic(
            token in any::<String>(),
            database in any::<String>(),
            backup in any::<String>(),
            now in any::<i64>(),
        ) {
            prop_assert!(signer().verify(&token, &database, &backup, now).is_err());
        }

        #[test]
        fn well_shaped_forgeries_never_verify(
            expires_at in any::<i64>(),
            tag in proptest::collection::vec(any::<u8>(), MAC_LEN),
            now in any::<i64>(),
        ) {
            let hex: String = tag
                .iter()
                .flat_map(|b| [hex_digit(b >> 4), hex_digit(b & 0x0f)])
                .collect();
            let token = format!("{expires_at}.{hex}");
            prop_assert_eq!(
                signer().verify(&token, DB, BACKUP, now),
                Err(TokenError::BadSignature)
            );
        }

        #[test]
        fn any_signed_token_verifies_before_its_expiry(
            database in any::<String>(),
            backup in any::<String>(),
            expires_at in (i64::MIN + 1)..=i64::MAX,
        ) {
            let s = signer();
            let token = s.sign(&database, &backup, expires_at);
            prop_assert_eq!(s.verify(&token, &database, &backup, expires_at - 1), Ok(()));
            prop_assert_eq!(
                s.verify(&token, &database, &backup, expires_at),
                Err(TokenError::Expired)
            );
        }
    }
}
