//! The download token verifier: any token is refused or accepted without a
//! panic; one minted for other ids, another expiry or another secret is
//! refused; one minted here is accepted exactly until it expires.
//!
//! Input: 8 bytes of expiry, 8 of "now" (little-endian), then the database,
//! a newline, the backup, a newline, and a token to check as it is.
#![no_main]

use libfuzzer_sys::fuzz_target;
use scalingo_db_fake::download::token::{Signer, TokenError};

fuzz_target!(|data: &[u8]| {
    if data.len() < 16 {
        return;
    }
    let expires_at = i64::from_le_bytes(data[..8].try_into().unwrap());
    let now = i64::from_le_bytes(data[8..16].try_into().unwrap());
    let Ok(text) = std::str::from_utf8(&data[16..]) else {
        return;
    };
    let mut parts = text.splitn(3, '\n');
    let (db, backup, raw) = (
        parts.next().unwrap_or(""),
        parts.next().unwrap_or(""),
        parts.next().unwrap_or(""),
    );
    let signer = Signer::new([7; 32]);
    // Whatever the token, no panic; a forged one never passes.
    if signer.verify(raw, db, backup, now).is_ok() {
        assert_eq!(raw, signer.sign(db, backup, raw_expiry(raw)), "forged token accepted");
    }
    let token = signer.sign(db, backup, expires_at);
    let want = if now < expires_at {
        Ok(())
    } else {
        Err(TokenError::Expired)
    };
    assert_eq!(signer.verify(&token, db, backup, now), want, "{token}");
    let other = Signer::new([8; 32]);
    assert_eq!(other.verify(&token, db, backup, now), Err(TokenError::BadSignature));
    // Another database, or the same characters split otherwise between
    // the two ids, is refused.
    let other_db = format!("{db}x");
    assert_eq!(
        signer.verify(&token, &other_db, backup, now),
        Err(TokenError::BadSignature)
    );
    if let Some(first) = backup.chars().next() {
        let (moved_db, moved_backup) = (format!("{db}{first}"), &backup[first.len_utf8()..]);
        assert_eq!(
            signer.verify(&token, &moved_db, moved_backup, now),
            Err(TokenError::BadSignature)
        );
    }
});

/// The expiry a well-formed token carries.
fn raw_expiry(token: &str) -> i64 {
    token.split('.').next().and_then(|e| e.parse().ok()).unwrap_or(0)
}
