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

/// FNV-1a over the values, each followed by a 0xff byte (never part of UTF-8), so that
/// `["ab", "c"]` and `["a", "bc"]` differ.
#[inline]
pub(crate) fn hash_values(values: &[&str]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for v in values {
        for &b in v.as_bytes() {
            h = (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
        }
        h = (h ^ 0xff).wrapping_mul(0x0000_0100_0000_01b3);
    }
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
