//! An append-only list with lock-free reads: the storage of run-time labelled families.
//!
//! Appends take a spin lock (they are rare: a new label combination); reads never lock.
//! Entries live in segments of doubling size that are never moved or freed before the list
//! is dropped, so a `&T` handed out stays valid for the list's lifetime.
//!
//! The one invariant all `unsafe` here rests on: **slot `i` is initialised, and never written
//! again, once `len > i` has been published** (Release store after the write, Acquire load
//! before the read), and only the holder of the append lock writes.

use alloc::boxed::Box;
use core::cell::UnsafeCell;
use core::mem::MaybeUninit;

use crate::atomic::{spin_loop, AtomicBool, AtomicUsize, Ordering};

const FIRST: usize = 8;
const SEGMENTS: usize = (usize::BITS - 4) as usize;

type Segment<T> = Box<[UnsafeCell<MaybeUninit<T>>]>;

pub(crate) struct AppendOnly<T> {
    len: AtomicUsize,
    lock: AtomicBool,
    segments: [UnsafeCell<Option<Segment<T>>>; SEGMENTS],
}

// SAFETY: `T`s are shared between threads through `&T` (needs `T: Sync`) and moved in from the
// appending thread and dropped by whichever thread drops the list (needs `T: Send`). All
// interior mutation is guarded by the lock and the published-length invariant above.
unsafe impl<T: Send + Sync> Sync for AppendOnly<T> {}
// SAFETY: as above; the list owns its `T`s.
unsafe impl<T: Send> Send for AppendOnly<T> {}

/// Segment and offset of index `i`: segment `k` holds `FIRST << k` slots.
#[inline]
fn locate(i: usize) -> (usize, usize) {
    let j = i + FIRST;
    let k = (usize::BITS - 1 - j.leading_zeros()) as usize - FIRST.trailing_zeros() as usize;
    (k, j - (FIRST << k))
}

impl<T> AppendOnly<T> {
    pub(crate) fn new() -> Self {
        AppendOnly {
            len: AtomicUsize::new(0),
            lock: AtomicBool::new(false),
            segments: core::array::from_fn(|_| UnsafeCell::new(None)),
        }
    }

    /// Published entries.
    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.len.load(Ordering::Acquire)
    }

    /// Entry `i`, if published.
    #[inline]
    pub(crate) fn get(&self, i: usize) -> Option<&T> {
        if i >= self.len() {
            return None;
        }
        Some(self.get_published(i))
    }

    /// The last published entry (one load of the length, not two as `get(len() - 1)`).
    #[inline]
    pub(crate) fn last(&self) -> Option<&T> {
        let n = self.len();
        if n == 0 {
            return None;
        }
        Some(self.get_published(n - 1))
    }

    /// Entry `i < len()` (the caller has observed the length with Acquire).
    #[inline]
    fn get_published(&self, i: usize) -> &T {
        let (k, off) = locate(i);
        // SAFETY: `i` is published, so segment `k` was allocated and slot `off` written before
        // the Release store of `len` we synchronised with; neither is written again while
        // `self` lives, so shared references are sound.
        unsafe {
            let seg = (*self.segments[k].get())
                .as_ref()
                .expect("published slot has a segment");
            (*seg[off].get()).assume_init_ref()
        }
    }

    /// Iterates over the entries published when called.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &T> + '_ {
        let n = self.len();
        (0..n).map(move |i| self.get_published(i))
    }

    /// Runs `f` with the append lock held; `f` may look at the entries and returns the value
    /// to append, if any. Returns the index of the appended entry or `f`'s `Err`.
    pub(crate) fn append_with<E>(&self, f: impl FnOnce(&Self) -> Result<T, E>) -> Result<usize, E> {
        while self
            .lock
            .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            spin_loop();
        }
        struct Unlock<'a>(&'a AtomicBool);
        impl Drop for Unlock<'_> {
            fn drop(&mut self) {
                self.0.store(false, Ordering::Release);
            }
        }
        let _unlock = Unlock(&self.lock);
        let value = f(self)?;
        let i = self.len.load(Ordering::Relaxed);
        let (k, off) = locate(i);
        // SAFETY: we hold the lock, so we are the only writer; slot `i` is not published yet,
        // so no reader looks at it, and segment `k` is only created here, before any slot in
        // it is published.
        // Readers may hold shared references into an existing segment `k`, so it is only ever
        // replaced through the raw pointer while it is still `None` (nothing in it published).
        unsafe {
            let cell = self.segments[k].get();
            if (*cell).is_none() {
                let size = FIRST << k;
                *cell = Some(
                    (0..size)
                        .map(|_| UnsafeCell::new(MaybeUninit::uninit()))
                        .collect(),
                );
            }
            let seg = (*cell).as_ref().expect("segment just created");
            (*seg[off].get()).write(value);
        }
        self.len.store(i + 1, Ordering::Release);
        Ok(i)
    }
}

impl<T> Drop for AppendOnly<T> {
    fn drop(&mut self) {
        // `&mut self` already excludes every other access; a plain load (rather than
        // `get_mut`) also compiles with loom's atomics, which have no `get_mut`.
        let n = self.len.load(Ordering::Relaxed);
        for i in 0..n {
            let (k, off) = locate(i);
            // SAFETY: `&mut self`: no other reference exists; slots below `len` are initialised
            // and each is dropped once.
            unsafe {
                if let Some(seg) = (*self.segments[k].get()).as_mut() {
                    seg[off].get_mut().assume_init_drop();
                }
            }
        }
    }
}

impl<T> core::fmt::Debug for AppendOnly<T> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("AppendOnly")
            .field("len", &self.len())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::{String, ToString};
    use alloc::vec::Vec;

    #[test]
    fn locate_covers_every_index_once() {
        assert_eq!(locate(0), (0, 0));
        assert_eq!(locate(7), (0, 7));
        assert_eq!(locate(8), (1, 0));
        assert_eq!(locate(23), (1, 15));
        assert_eq!(locate(24), (2, 0));
        let mut prev = (0, 0);
        for i in 1..10_000 {
            let (k, off) = locate(i);
            assert!(
                (k == prev.0 && off == prev.1 + 1) || (k == prev.0 + 1 && off == 0),
                "{i}"
            );
            assert!(off < FIRST << k);
            prev = (k, off);
        }
    }

    #[test]
    fn appends_and_reads_and_drops() {
        let list = AppendOnly::<String>::new();
        for i in 0..100 {
            let idx = list
                .append_with::<()>(|_| Ok(i.to_string()))
                .expect("append");
            assert_eq!(idx, i);
        }
        assert_eq!(list.len(), 100);
        assert_eq!(list.get(57).map(String::as_str), Some("57"));
        assert!(list.get(100).is_none());
        let all: Vec<_> = list.iter().cloned().collect();
        assert_eq!(all.len(), 100);
        assert_eq!(list.append_with(|_| Err::<String, _>(7)), Err(7));
        assert_eq!(list.len(), 100);
    }

    /// Two writers append while a reader reads every published entry. Small under miri
    /// (still four segments: 8 + 16 + 32 + 64 slots), large natively.
    #[test]
    fn concurrent_appends_and_reads() {
        extern crate std;
        use alloc::format;
        use alloc::sync::Arc;
        const PER_WRITER: usize = if cfg!(miri) { 30 } else { 5_000 };
        const TOTAL: usize = 2 * PER_WRITER;
        // Heap-owning entries, so the reader follows pointers written by the writers and the
        // list's drop frees what other threads allocated.
        let list = Arc::new(AppendOnly::<String>::new());
        let writers: Vec<_> = (0..2)
            .map(|t| {
                let list = list.clone();
                std::thread::spawn(move || {
                    for i in 0..PER_WRITER {
                        list.append_with::<()>(|_| Ok(format!("{t}:{i}"))).unwrap();
                    }
                })
            })
            .collect();
        let reader = {
            let list = list.clone();
            std::thread::spawn(move || {
                let mut seen = 0;
                while seen < TOTAL {
                    seen = 0;
                    for (k, v) in list.iter().enumerate() {
                        let (t, i) = v.split_once(':').expect("an entry a writer wrote");
                        assert!(t == "0" || t == "1", "{v}");
                        assert!(i.parse::<usize>().expect("index") < PER_WRITER, "{v}");
                        assert_eq!(list.get(k), Some(v));
                        seen += 1;
                    }
                    std::thread::yield_now();
                }
            })
        };
        for w in writers {
            w.join().unwrap();
        }
        reader.join().unwrap();
        let mut all: Vec<&str> = list.iter().map(String::as_str).collect();
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), TOTAL);
        assert!(list.get(TOTAL).is_none());
    }
}
