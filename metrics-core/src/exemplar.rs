//! Exemplars: one observation's labels (a trace id, a run id), value and time, kept beside a
//! counter or a histogram bucket and written after its sample in OpenMetrics
//! (`foo_total 3 # {trace_id="4bf9"} 1.0 1700000000.123`).
//!
//! # Storage and concurrency (a seqlock with a try-once writer)
//!
//! An [`Exemplar`] is fixed inline storage: a sequence word, the value's and the timestamp's
//! bits, a length word and [`EXEMPLAR_BYTES`] bytes of labels in 64-bit words, all atomics
//! (so no access is ever a data race, whatever the interleaving), `const`-constructible and
//! without heap.
//!
//! - **Writer** ([`Exemplar::set`]): reads the sequence `s`; when it is odd another writer is
//!   in the middle of an update and this one gives up (returns `false`: the exemplar being
//!   written is as recent as ours). Otherwise one `compare_exchange(s, s + 1)` claims the slot;
//!   failing it (another writer got there first) also gives up. The claim is an Acquire (it
//!   reads the previous writer's Release `s`, so this writer's stores come after that one's in
//!   every word's modification order: loom finds torn final states without it), followed by a
//!   Release fence; then the words are stored (Relaxed) and the sequence is set to `s + 2`
//!   with Release. So a writer never waits and never loops: an interrupt handler that
//!   interrupts a writer of the same exemplar simply drops its own exemplar (one CAS, bounded
//!   work), it never spins on a lock held by the code it interrupted. The metric's own update
//!   (the counter's add, the histogram's observation) is done before and never skipped.
//! - **Reader** (the encoders, [`Exemplar::read`]): loads the sequence with Acquire (odd or
//!   zero: no consistent exemplar now), copies the words (Relaxed), issues an Acquire fence and
//!   loads the sequence again: when unchanged, no writer claimed the slot between the two loads
//!   (the writer's claim is ordered before its stores by its Release fence, which pairs with
//!   the reader's Acquire fence), so every word copied belongs to one and the same `set`: never
//!   torn. Otherwise it tries again, a bounded number of times ([`READ_TRIES`]); a scrape that
//!   keeps losing to writers shows the sample without its exemplar rather than spinning on
//!   them (a writer preempted in the middle of an update would otherwise stall the scrape).
//!
//! `tests/loom.rs` model-checks two writers against a reader; `tests/stress.rs` runs two writer
//! threads and a scraping thread and checks every exemplar it sees is one that was set.

use crate::atomic::{const_fn, fence, AtomicU64, Ordering};
use crate::error::Truncated;
use crate::Error;

/// The bytes of label text an exemplar stores: names and values, one separator byte after
/// each. OpenMetrics caps an exemplar's label set at 128 UTF-8 characters (names and values);
/// with names restricted to ASCII (see [`Exemplar::set`]) every label set within that cap fits.
pub const EXEMPLAR_BYTES: usize = 512;

/// The most UTF-8 characters an exemplar's label names and values add up to (OpenMetrics).
pub const EXEMPLAR_MAX_CHARS: usize = 128;

const WORDS: usize = EXEMPLAR_BYTES / 8;

/// How many times a reader tries before it reports no exemplar.
#[cfg(not(loom))]
const READ_TRIES: usize = 64;
#[cfg(loom)]
const READ_TRIES: usize = 2;

/// Separates a label name from its value, and a value from the next name: `0xFF` never occurs
/// in UTF-8.
const SEP: u8 = 0xff;

/// Bit of the length word that says a timestamp was given.
const HAS_TS: u64 = 1 << 63;

/// One exemplar slot: the labels, value and timestamp of the latest observation that carried
/// them. Lock-free and never torn (the scheme is argued in `src/exemplar.rs`); about 550 bytes.
#[derive(Debug)]
pub struct Exemplar {
    seq: AtomicU64,
    value: AtomicU64,
    ts: AtomicU64,
    len: AtomicU64,
    data: [AtomicU64; WORDS],
}

impl Default for Exemplar {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(not(loom))]
macro_rules! words {
    () => {
        [const { AtomicU64::new(0) }; WORDS]
    };
}
#[cfg(loom)]
macro_rules! words {
    () => {
        core::array::from_fn(|_| AtomicU64::new(0))
    };
}

impl Exemplar {
    const_fn! {
        /// An empty slot (no exemplar until the first [`set`](Self::set)).
        pub fn new() -> Self {
            Exemplar {
                seq: AtomicU64::new(0),
                value: AtomicU64::new(0),
                ts: AtomicU64::new(0),
                len: AtomicU64::new(0),
                data: words!(),
            }
        }
    }

    /// Checks an exemplar's label set: names are valid (legacy, ASCII) label names, names and
    /// values add up to at most [`EXEMPLAR_MAX_CHARS`] characters.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidLabelName`] for a bad name, [`Error::ExemplarTooLong`] past 128
    /// characters.
    pub fn check(labels: &[(&str, &str)]) -> Result<(), Error> {
        let mut chars = 0;
        for (name, value) in labels {
            if crate::name::label_name_problem(name).is_some() {
                return Err(Error::InvalidLabelName {
                    name: Truncated::new(name),
                });
            }
            chars += name.len() + value.chars().count();
        }
        if chars > EXEMPLAR_MAX_CHARS {
            return Err(Error::ExemplarTooLong { chars });
        }
        Ok(())
    }

    /// Replaces the exemplar with `labels`, `value` and `timestamp` (Unix seconds). Never waits:
    /// returns `Ok(false)` without a change when another writer is updating this slot at the
    /// same moment (its exemplar is as recent).
    ///
    /// # Errors
    ///
    /// As [`check`](Self::check); the slot keeps its previous exemplar.
    pub fn set(
        &self,
        labels: &[(&str, &str)],
        value: f64,
        timestamp: Option<f64>,
    ) -> Result<bool, Error> {
        Self::check(labels)?;
        Ok(self.store(labels, value, timestamp))
    }

    /// [`set`](Self::set) for a label set already checked.
    pub(crate) fn store(
        &self,
        labels: &[(&str, &str)],
        value: f64,
        timestamp: Option<f64>,
    ) -> bool {
        let s = self.seq.load(Ordering::Relaxed);
        // Acquire on success: it reads the previous writer's Release `s` (a CAS reads the
        // latest value), so that writer's stores happen before ours and ours come after them
        // in every word's modification order. With Relaxed, loom finds a final state mixing
        // the two writers' words (`tests/loom.rs`, model (g)).
        if s & 1 == 1
            || self
                .seq
                .compare_exchange(s, s + 1, Ordering::Acquire, Ordering::Relaxed)
                .is_err()
        {
            return false;
        }
        // Orders the claim (odd sequence) before every store below, for a reader whose
        // Acquire fence follows its loads of them.
        fence(Ordering::Release);
        let mut packer = Packer {
            data: &self.data,
            word: 0,
            filled: 0,
            index: 0,
        };
        for (name, v) in labels {
            packer.push(name.as_bytes());
            packer.push(&[SEP]);
            packer.push(v.as_bytes());
            packer.push(&[SEP]);
        }
        let len = packer.finish() as u64;
        self.value.store(value.to_bits(), Ordering::Relaxed);
        self.ts
            .store(timestamp.unwrap_or(0.0).to_bits(), Ordering::Relaxed);
        let flag = if timestamp.is_some() { HAS_TS } else { 0 };
        self.len.store(len | flag, Ordering::Relaxed);
        self.seq.store(s + 2, Ordering::Release);
        true
    }

    /// Copies the exemplar into `buf` and returns it; `None` when none was set yet, when it
    /// does not fit `buf` (give [`EXEMPLAR_BYTES`]), or when writers kept updating it through
    /// every try (a scrape never spins on writers; see `src/exemplar.rs`).
    pub fn read<'b>(&self, buf: &'b mut [u8]) -> Option<ExemplarRef<'b>> {
        for _ in 0..READ_TRIES {
            let s1 = self.seq.load(Ordering::Acquire);
            if s1 == 0 {
                return None;
            }
            if s1 & 1 == 1 {
                crate::atomic::spin_loop();
                continue;
            }
            let len_word = self.len.load(Ordering::Relaxed);
            let value = f64::from_bits(self.value.load(Ordering::Relaxed));
            let ts = f64::from_bits(self.ts.load(Ordering::Relaxed));
            let len = ((len_word & !HAS_TS) as usize).min(EXEMPLAR_BYTES);
            let fits = len <= buf.len();
            if fits {
                for (i, chunk) in buf[..len].chunks_mut(8).enumerate() {
                    let w = self.data[i].load(Ordering::Relaxed).to_le_bytes();
                    chunk.copy_from_slice(&w[..chunk.len()]);
                }
            }
            // Pairs with the writer's Release fence: if any load above read a store made after
            // a writer's claim, that claim is visible to the load below.
            fence(Ordering::Acquire);
            if self.seq.load(Ordering::Relaxed) == s1 {
                if !fits {
                    return None;
                }
                let timestamp = (len_word & HAS_TS != 0).then_some(ts);
                return Some(ExemplarRef {
                    raw: &buf[..len],
                    value,
                    timestamp,
                });
            }
            crate::atomic::spin_loop();
        }
        None
    }
}

/// Packs bytes into the data words, eight to a word, little-endian.
struct Packer<'a> {
    data: &'a [AtomicU64; WORDS],
    word: u64,
    filled: usize,
    index: usize,
}

impl Packer<'_> {
    fn push(&mut self, bytes: &[u8]) {
        for &b in bytes {
            if self.index >= WORDS {
                // Checked labels always fit (see EXEMPLAR_BYTES); never taken.
                return;
            }
            self.word |= u64::from(b) << (8 * self.filled);
            self.filled += 1;
            if self.filled == 8 {
                self.data[self.index].store(self.word, Ordering::Relaxed);
                self.index += 1;
                self.word = 0;
                self.filled = 0;
            }
        }
    }

    /// Stores the last partial word; returns the bytes written.
    fn finish(self) -> usize {
        if self.filled > 0 && self.index < WORDS {
            self.data[self.index].store(self.word, Ordering::Relaxed);
        }
        self.index * 8 + self.filled
    }
}

/// A consistent copy of an exemplar (see [`Exemplar::read`]).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ExemplarRef<'a> {
    raw: &'a [u8],
    value: f64,
    timestamp: Option<f64>,
}

impl<'a> ExemplarRef<'a> {
    /// The observation's value (a counter's increment, a histogram's observed value).
    pub fn value(&self) -> f64 {
        self.value
    }

    /// When it was observed, in Unix seconds, if given.
    pub fn timestamp(&self) -> Option<f64> {
        self.timestamp
    }

    /// The label pairs (name, value), in the order they were set.
    pub fn labels(&self) -> impl Iterator<Item = (&'a str, &'a str)> + 'a {
        let mut parts = self
            .raw
            .split(|b| *b == SEP)
            .map(|p| core::str::from_utf8(p).unwrap_or(""));
        core::iter::from_fn(move || {
            let name = parts.next().filter(|n| !n.is_empty())?;
            Some((name, parts.next().unwrap_or("")))
        })
    }

    /// The bytes the labels take in storage (for a capture that outlives the read).
    pub(crate) fn raw(&self) -> &'a [u8] {
        self.raw
    }

    /// An exemplar from its stored parts (a capture's copy).
    pub(crate) fn from_parts(raw: &'a [u8], value: f64, timestamp: Option<f64>) -> Self {
        ExemplarRef {
            raw,
            value,
            timestamp,
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::vec::Vec;

    #[test]
    fn set_and_read_back() {
        static E: Exemplar = Exemplar::new();
        let mut buf = [0u8; EXEMPLAR_BYTES];
        assert!(E.read(&mut buf).is_none(), "nothing set yet");
        assert!(E
            .set(
                &[("trace_id", "4bf92f"), ("run", "größe \"x\"")],
                0.25,
                Some(1.7e9)
            )
            .unwrap());
        let x = E.read(&mut buf).unwrap();
        assert_eq!(
            x.labels().collect::<Vec<_>>(),
            [("trace_id", "4bf92f"), ("run", "größe \"x\"")]
        );
        assert_eq!((x.value(), x.timestamp()), (0.25, Some(1.7e9)));
        E.set(&[("a", "")], 1.0, None).unwrap();
        let x = E.read(&mut buf).unwrap();
        assert_eq!(x.labels().collect::<Vec<_>>(), [("a", "")]);
        assert_eq!(x.timestamp(), None);
        E.set(&[], 2.0, None).unwrap();
        assert_eq!(E.read(&mut buf).unwrap().labels().count(), 0);
        assert!(
            E.read(&mut [0u8; 0]).is_some(),
            "an empty label set fits anything"
        );
    }

    #[test]
    fn limits() {
        let e = Exemplar::new();
        let v = "é".repeat(120);
        // 8 + 120 = 128 characters (248 bytes): accepted.
        assert!(e.set(&[("trace_id", &v)], 1.0, None).unwrap());
        let mut buf = [0u8; EXEMPLAR_BYTES];
        assert_eq!(e.read(&mut buf).unwrap().labels().next().unwrap().1, v);
        // 129: rejected, the previous one kept.
        let long = "x".repeat(121);
        assert_eq!(
            e.set(&[("trace_id", &long)], 1.0, None),
            Err(Error::ExemplarTooLong { chars: 129 })
        );
        assert_eq!(e.read(&mut buf).unwrap().labels().next().unwrap().1, v);
        // The worst case fits: 1-byte name, 127 four-byte characters.
        let wide = "😀".repeat(127);
        assert!(e.set(&[("t", &wide)], 1.0, None).unwrap());
        assert_eq!(e.read(&mut buf).unwrap().labels().next().unwrap().1, wide);
        assert!(
            e.read(&mut [0u8; 16]).is_none(),
            "does not fit a small buffer"
        );
        assert!(matches!(
            e.set(&[("trace-id", "x")], 1.0, None),
            Err(Error::InvalidLabelName { .. })
        ));
    }

    #[test]
    fn a_writer_in_progress_makes_others_give_up() {
        let e = Exemplar::new();
        e.seq.store(1, Ordering::Relaxed); // as if a writer were interrupted mid-update
        assert!(!e.set(&[("a", "b")], 1.0, None).unwrap());
        assert!(e.read(&mut [0u8; 64]).is_none(), "no consistent exemplar");
    }
}
