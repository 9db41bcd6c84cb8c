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

/// A hash of the label values, sixteen bytes per multiply: each block of two words goes into
/// one folded multiply (foldhash's step); a value's last block is read overlapping the one
/// before it (or, under sixteen bytes, as two overlapping words, two overlapping halves or
/// three single bytes), so no byte loop runs, and most label values take one multiply. Each
/// value's length goes into its last step (so that `["ab", "c"]` and `["a", "bc"]` differ).
/// Not keyed: the family's cardinality limit bounds what colliding values can cost.
#[inline]
pub(crate) fn hash_values(values: &[&str]) -> u64 {
    const K: u64 = 0x9e37_79b9_7f4a_7c15;
    const L: u64 = 0xc2b2_ae3d_27d4_eb4f;
    /// The folded multiply (ahash, foldhash): the full 128-bit product, high half xor low
    /// half, so every bit of either factor reaches every bit of the result in one step.
    #[inline]
    fn fold(a: u64, b: u64) -> u64 {
        let m = u128::from(a) * u128::from(b);
        (m as u64) ^ ((m >> 64) as u64)
    }
    let mut h: u64 = 0;
    for v in values {
        let b = v.as_bytes();
        let n = b.len();
        let (x, y) = if n > 16 {
            let mut i = 0;
            while i + 16 < n {
                h = fold(h ^ word(b, i), word(b, i + 8) ^ K);
                i += 16;
            }
            (word(b, n - 16), word(b, n - 8))
        } else if n >= 8 {
            (word(b, 0), word(b, n - 8))
        } else if n >= 4 {
            (half(b, 0), half(b, n - 4))
        } else if n > 0 {
            (
                u64::from(b[0]),
                u64::from(b[n / 2]) | (u64::from(b[n - 1]) << 8),
            )
        } else {
            (0, 0)
        };
        h = fold(h ^ x ^ (n as u64).wrapping_mul(L), y ^ K);
    }
    // No finaliser: the last step is a folded multiply, whose low bits (the ones the table
    // uses) take in the high half of the product, so every input bit already reaches them
    // (`low_bits_spread_typical_values` checks the spread).
    h
}

/// Bytes `at..at + 8` as a little-endian word.
#[inline]
fn word(b: &[u8], at: usize) -> u64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(w)
}

/// Bytes `at..at + 4` as a little-endian word.
#[inline]
fn half(b: &[u8], at: usize) -> u64 {
    let mut w = [0u8; 4];
    w.copy_from_slice(&b[at..at + 4]);
    u64::from(u32::from_le_bytes(w))
}

/// `a == b` for byte strings, compared sixteen bytes at a time with an overlapping last block
/// (the blocks [`hash_values`] reads) instead of a call to `memcmp`: label values are short,
/// and the call costs more than the comparison.
#[inline]
pub(crate) fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    let n = a.len();
    if n != b.len() {
        return false;
    }
    let differ = |i: usize, j: usize| (word(a, i) ^ word(b, i)) | (word(a, j) ^ word(b, j));
    if n > 16 {
        let mut i = 0;
        while i + 16 < n {
            if differ(i, i + 8) != 0 {
                return false;
            }
            i += 16;
        }
        differ(n - 16, n - 8) == 0
    } else if n >= 8 {
        differ(0, n - 8) == 0
    } else if n >= 4 {
        half(a, 0) == half(b, 0) && half(a, n - 4) == half(b, n - 4)
    } else {
        // Up to three bytes: each compared.
        a.iter().zip(b).all(|(x, y)| x == y)
    }
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
        let table = self.tables.last()?;
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
        match self.tables.last() {
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
    fn same_bytes_is_equality() {
        extern crate std;
        use std::vec::Vec;
        // Every length to 40, equal and with one byte changed at every position.
        for n in 0..40usize {
            let a: Vec<u8> = (0..n as u8).map(|i| i.wrapping_mul(37)).collect();
            assert!(same_bytes(&a, &a.clone()), "{n}");
            for at in 0..n {
                let mut b = a.clone();
                b[at] ^= 0x80;
                assert!(!same_bytes(&a, &b), "{n} {at}");
            }
            if n > 0 {
                assert!(!same_bytes(&a, &a[..n - 1]));
            }
        }
    }

    #[test]
    fn every_byte_reaches_the_hash() {
        extern crate std;
        use std::vec::Vec;
        for n in 1..40usize {
            let a: Vec<u8> = (0..n as u8).collect();
            let s = core::str::from_utf8(&a).unwrap();
            for at in 0..n {
                let mut b = a.clone();
                b[at] ^= 0x40;
                let t = core::str::from_utf8(&b).unwrap();
                assert_ne!(hash_values(&[s]), hash_values(&[t]), "{n} {at}");
            }
        }
    }

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
