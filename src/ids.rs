//! Identifiers and randomness: backup ids shaped like MongoDB ObjectIds, the
//! seeded generators every random draw of the fake comes from, and ids
//! derived from names (a database type's, an instance's).
//!
//! Each database owns its generator, seeded from the global seed and the
//! database's addon id, so the ids, outcomes and sizes of one database depend
//! only on the seed and that database's own requests — parallel tests that
//! each own a database on a shared server stay reproducible.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// The generator type used throughout (portable and stable across platforms).
pub type DetRng = ChaCha8Rng;

/// The generator of database `addon_id` under `seed`.
pub fn database_rng(seed: u64, addon_id: &str) -> DetRng {
    // FNV-1a over the id, mixed with the seed: stable across runs and builds.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in addon_id.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    DetRng::seed_from_u64(seed ^ h.rotate_left(17))
}

/// The generator of fault rule `id` under `seed` (its probability draws):
/// a stream of its own, apart from every database's.
pub fn fault_rng(seed: u64, id: &str) -> DetRng {
    database_rng(seed, &format!("fault rule {id}"))
}

/// A fresh random seed, for runs that were not given one.
pub fn random_seed() -> u64 {
    use rand::TryRngCore;
    rand::rngs::OsRng.try_next_u64().unwrap_or_else(|_| {
        // No OS entropy: the wall clock is random enough for a seed.
        crate::clock::system_millis() as u64 ^ u64::from(std::process::id()).rotate_left(32)
    })
}

/// A fresh 32-byte secret for signing (links, JWTs, addon tokens), made once
/// per server.
pub fn random_secret() -> [u8; 32] {
    let mut secret = [0u8; 32];
    for chunk in secret.chunks_mut(8) {
        chunk.copy_from_slice(&random_seed().to_le_bytes());
    }
    secret
}

/// A new backup id: 8 hex of the creation time in seconds, then 16 random hex
/// (24 lowercase hex characters in all).
pub fn backup_id(rng: &mut DetRng, created_secs: i64) -> String {
    let secs = created_secs.clamp(0, u32::MAX as i64) as u32;
    format!("{secs:08x}{:016x}", rng.random::<u64>())
}

/// A 24-hex id that depends only on `parts` (the same parts always give
/// the same id, in every run and build): for things the fake names but
/// never creates, like a database type's id.
pub fn derived_id(parts: &[&str]) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    for p in parts {
        // Each part's length first, so ("ab", "c") and ("a", "bc") differ.
        h.update((p.len() as u64).to_le_bytes());
        h.update(p.as_bytes());
    }
    h.finalize()[..12].iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_ids_are_24_hex_and_depend_only_on_their_parts() {
        let a = derived_id(&["type", "postgresql"]);
        assert!(crate::fixtures::is_object_id(&a), "{a}");
        assert_eq!(a, derived_id(&["type", "postgresql"]));
        assert_ne!(a, derived_id(&["type", "mysql"]));
        assert_ne!(derived_id(&["ab", "c"]), derived_id(&["a", "bc"]));
    }

    #[test]
    fn ids_are_24_lowercase_hex_starting_with_the_creation_time() {
        let mut rng = database_rng(1, "my-db-123");
        let id = backup_id(&mut rng, 0x5b8b_3610);
        assert_eq!(id.len(), 24);
        assert!(id.starts_with("5b8b3610"));
        assert!(crate::fixtures::is_object_id(&id));
    }

    #[test]
    fn the_same_seed_gives_the_same_ids_and_databases_do_not_share_a_stream() {
        let a: Vec<_> = (0..3)
            .map({
                let mut r = database_rng(7, "a");
                move |_| backup_id(&mut r, 1)
            })
            .collect();
        let again: Vec<_> = (0..3)
            .map({
                let mut r = database_rng(7, "a");
                move |_| backup_id(&mut r, 1)
            })
            .collect();
        let b: Vec<_> = (0..3)
            .map({
                let mut r = database_rng(7, "b");
                move |_| backup_id(&mut r, 1)
            })
            .collect();
        assert_eq!(a, again);
        assert_ne!(a, b);
    }
}
