//! A hash index over a labelled family's series: lookups by label values in constant time,
//! without locks.
//!
//! An open-addressing table of `AtomicU32` slots (0 = empty, else series index + 1), probed
//! linearly from the hash of the label values. It is only written under the family's append
//! lock, and only grows: a full table is replaced by one twice its size, and old tables stay
//! readable (they live in an [`AppendOnly`] list until the family is dropped; together they
//! are at most as large as the last one). A reader uses the newest table it sees; an entry it
//! misses (a table too old, a series not yet published) sends it to the append path, which
//! takes the lock and looks again, so a miss is never a wrong answer.

use alloc::boxed::Box;

use crate::append::AppendOnly;
use crate::atomic::{AtomicU32, Ordering};

/// Slots per table: at least twice the series, so probes stay short.
const MIN_SLOTS: usize = 16;

#[derive(Debug)]
pub(crate) struct Index {
    tables: AppendOnly<Box<[AtomicU32]>>,
}

/// A hash of the label values, eight bytes at a time: each word is mixed in with a folded
/// multiply, each value's length after its bytes (so that
/// `["ab", "c"]` and `["a", "bc"]` differ), and a final avalanche so that the low bits the
/// table uses depend on every input bit. About five times fewer instructions than the
/// byte-at-a-time FNV-1a it replaced, on typical label values. Not keyed: the family's
/// cardinality limit bounds what colliding values can cost.
#[inline]
pub(crate) fn hash_values(values: &[&str]) -> u64 {
    const K: u64 = 0x9e37_79b9_7f4a_7c15;
    /// The folded multiply (ahash, foldhash): the full 128-bit product of state and word,
    /// high half xor low half, so every word bit reaches every state bit in one step.
    #[inline]
    fn mix(h: u64, word: u64) -> u64 {
        let m = u128::from(h ^ word) * u128::from(K);
        (m as u64) ^ ((m >> 64) as u64)
    }
    let mut h: u64 = 0;
    for v in values {
        let bytes = v.as_bytes();
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            h = mix(
                h,
                u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]),
            );
        }
        let tail = chunks
            .remainder()
            .iter()
            .rev()
            .fold(0u64, |w, &b| (w << 8) | u64::from(b));
        h = mix(mix(h, tail), bytes.len() as u64);
    }
    // Avalanche (the murmur3 / splitmix finaliser).
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h
}

impl Index {
    pub(crate) fn new() -> Self {
        Index {
            tables: AppendOnly::new(),
        }
    }

    /// The first series index in the newest table with hash `h` for which `is_match` holds.
    #[inline]
    pub(crate) fn find(&self, h: u64, mut is_match: impl FnMut(usize) -> bool) -> Option<usize> {
        let n = self.tables.len();
        let table = self.tables.get(n.checked_sub(1)?)?;
        let mask = table.len() - 1;
        let mut i = (h as usize) & mask;
        loop {
            // Acquire pairs with the Release store in `insert`.
            let v = table[i].load(Ordering::Acquire);
            if v == 0 {
                return None;
            }
            let idx = (v - 1) as usize;
            if is_match(idx) {
                return Some(idx);
            }
            i = (i + 1) & mask;
        }
    }

    /// Records that series `idx` has hash `h`. The caller holds the family's append lock (so
    /// this is the only writer) and `hash_of(i)` gives the hash of every series `i < idx`.
    pub(crate) fn insert(&self, h: u64, idx: usize, hash_of: impl Fn(usize) -> u64) {
        let slots_needed = ((idx + 1) * 2).next_power_of_two().max(MIN_SLOTS);
        let n = self.tables.len();
        let current = n.checked_sub(1).and_then(|i| self.tables.get(i));
        match current {
            Some(t) if t.len() >= slots_needed => put(t, h, idx),
            _ => {
                // Build the bigger table completely before publishing it.
                let table: Box<[AtomicU32]> =
                    (0..slots_needed * 2).map(|_| AtomicU32::new(0)).collect();
                for i in 0..idx {
                    put(&table, hash_of(i), i);
                }
                put(&table, h, idx);
                // Appending publishes it (Release); the tables' own lock is uncontended: only
                // the holder of the family's lock gets here.
                let _ = self.tables.append_with::<()>(|_| Ok(table));
            }
        }
    }
}

/// Stores `idx` in the first free slot of `h`'s probe sequence.
fn put(table: &[AtomicU32], h: u64, idx: usize) {
    let mask = table.len() - 1;
    let mut i = (h as usize) & mask;
    while table[i].load(Ordering::Relaxed) != 0 {
        i = (i + 1) & mask;
    }
    table[i].store(idx as u32 + 1, Ordering::Release);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn separators_matter() {
        assert_ne!(hash_values(&["ab", "c"]), hash_values(&["a", "bc"]));
        assert_ne!(hash_values(&["a", ""]), hash_values(&["a"]));
    }

    #[test]
    fn low_bits_spread_typical_values() {
        // The table indexes by the low bits: sequential numbers, and values that share a long
        // prefix and differ in one byte of a later word, must still spread over the slots.
        extern crate std;
        use std::format;
        let n = if cfg!(miri) { 256 } else { 8192 };
        let slots = n * 2;
        for make in [
            |i: usize| format!("{i}"),
            |i: usize| format!("/api/v1/products/{i:08}/owner"),
        ] {
            let mut load = alloc::vec![0u32; slots];
            let mut hashes = alloc::vec::Vec::new();
            for i in 0..n {
                let v = make(i);
                let h = hash_values(&[v.as_str(), "GET"]);
                load[h as usize & (slots - 1)] += 1;
                hashes.push(h);
            }
            hashes.sort_unstable();
            hashes.dedup();
            assert_eq!(hashes.len(), n, "no full-hash collisions");
            let worst = *load.iter().max().unwrap();
            assert!(worst <= 8, "worst slot load {worst} (random: about 6)");
        }
    }

    #[test]
    fn finds_what_was_inserted_across_growth() {
        let index = Index::new();
        let n: u64 = if cfg!(miri) { 100 } else { 1000 };
        let hashes: alloc::vec::Vec<u64> = (0..n)
            .map(|i| i.wrapping_mul(0x9e37_79b9_7f4a_7c15) % 64)
            .collect();
        for (i, &h) in hashes.iter().enumerate() {
            index.insert(h, i, |j| hashes[j]);
        }
        for (i, &h) in hashes.iter().enumerate() {
            assert_eq!(index.find(h, |j| j == i), Some(i));
        }
        assert_eq!(index.find(7, |_| false), None);
    }
}
