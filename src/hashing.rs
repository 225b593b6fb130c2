//! The hasher of the maps looked up on every request by a short string key
//! (databases by id, backups by id, tokens): a multiply-rotate hash taking
//! eight bytes at a time, several times cheaper than the standard SipHash on
//! such keys.
//!
//! It does not resist keys chosen to collide. The keys of these maps come
//! from the fixtures and the control API (a test's own data), never from an
//! unauthenticated client, which only looks keys up; and the fake serves
//! tests, on loopback or a compose network.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// A `HashMap` with [`FastHasher`].
pub(crate) type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<FastHasher>>;

/// The hash state (the same mixing step as rustc's own `FxHasher`).
#[derive(Default, Clone, Copy)]
pub(crate) struct FastHasher(u64);

/// An odd constant with well-spread bits.
const K: u64 = 0x51_7c_c1_b7_27_22_0a_95;

impl FastHasher {
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(K);
    }
}

impl Hasher for FastHasher {
    fn write(&mut self, bytes: &[u8]) {
        // The length first: the last word is padded with zeros, so `"a"`
        // and `"a\0"` would otherwise hash alike.
        self.add(bytes.len() as u64);
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            self.add(u64::from_le_bytes(word));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut word = [0u8; 8];
            word[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(word));
        }
    }

    fn write_u8(&mut self, byte: u8) {
        self.add(u64::from(byte));
    }

    fn write_usize(&mut self, n: usize) {
        self.add(n as u64);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_that_differ_anywhere_hash_apart() {
        let hash = |s: &str| {
            let mut h = FastHasher::default();
            h.write(s.as_bytes());
            h.write_u8(0xff);
            h.finish()
        };
        let base = "5b8b36104ffb090be1ac3ce1";
        let mut seen = std::collections::HashSet::new();
        assert!(seen.insert(hash(base)));
        for i in 0..base.len() {
            let mut other = base.as_bytes().to_vec();
            other[i] ^= 1;
            assert!(seen.insert(hash(std::str::from_utf8(&other).unwrap())), "byte {i}");
        }
        assert_ne!(hash("my-db-123"), hash("my-db-1234"));
        assert_ne!(hash(""), hash("\0"));
        assert_ne!(hash("a"), hash("a\0"));
    }

    #[test]
    fn a_map_finds_what_it_holds() {
        let mut m: FastMap<String, usize> = FastMap::default();
        for i in 0..10_000 {
            m.insert(format!("ad-{i:08x}"), i);
        }
        assert!((0..10_000).all(|i| m.get(format!("ad-{i:08x}").as_str()) == Some(&i)));
        assert_eq!(m.get("ad-x"), None);
    }
}
