//! Counters and histograms that keep exemplars: separate types, so that a plain [`Counter`]
//! stays one 8-byte word and a plain [`Histogram`] pays nothing for a feature it does not use
//! (the design of prometheus-client's `CounterWithExemplar`/`HistogramWithExemplars`, with
//! client_golang's `AddWithExemplar`/`ObserveWithExemplar` methods).
//!
//! Each exemplar slot is an [`Exemplar`] (a lock-free seqlock, see its module): a counter has
//! one, a histogram one per bucket (`+Inf` included). The metric's own update always happens
//! first and is the same lock-free update as the plain type's; the exemplar is then stored
//! with one try (never a wait).

use crate::atomic::const_fn;
use crate::collect::{Collect, Kind, Metric, Visitor};
use crate::exemplar::{Exemplar, ExemplarRef};
use crate::histogram::bucket_index;
use crate::{Counter, Error, Histogram};

#[cfg(not(loom))]
macro_rules! slots {
    ($n:expr) => {
        [const { Exemplar::new() }; $n]
    };
}
#[cfg(loom)]
macro_rules! slots {
    ($n:expr) => {
        core::array::from_fn(|_| Exemplar::new())
    };
}

/// An integer counter with an exemplar: the labels (e.g. a trace id), value and time of the
/// last increment that carried one, written after `_total` in OpenMetrics.
///
/// ```
/// use metrics_core::CounterWithExemplar;
/// static RUNS: CounterWithExemplar = CounterWithExemplar::new();
/// RUNS.inc_with_exemplar(&[("trace_id", "4bf92f3577b34da6a3ce929d0e0e4736")], Some(1.7e9))
///     .unwrap();
/// RUNS.inc(); // no exemplar: the last one stays
/// assert_eq!(RUNS.get(), 2);
/// ```
#[derive(Debug, Default)]
pub struct CounterWithExemplar {
    counter: Counter,
    exemplar: Exemplar,
}

impl CounterWithExemplar {
    const_fn! {
        /// A counter at zero, without an exemplar.
        pub fn new() -> Self {
            CounterWithExemplar { counter: Counter::new(), exemplar: Exemplar::new() }
        }
    }

    /// Adds one, keeping the last exemplar.
    #[inline]
    pub fn inc(&self) {
        self.counter.inc();
    }

    /// Adds `n`, keeping the last exemplar.
    #[inline]
    pub fn inc_by(&self, n: u64) {
        self.counter.inc_by(n);
    }

    /// Adds one and makes `labels` (at `timestamp`, Unix seconds) the exemplar, with value 1.
    ///
    /// # Errors
    ///
    /// An invalid label set ([`Exemplar::check`]): the increment is still counted, the
    /// previous exemplar stays.
    pub fn inc_with_exemplar(
        &self,
        labels: &[(&str, &str)],
        timestamp: Option<f64>,
    ) -> Result<(), Error> {
        self.inc_by_with_exemplar(1, labels, timestamp)
    }

    /// Adds `n` and makes `labels` the exemplar, with value `n`.
    ///
    /// # Errors
    ///
    /// As [`inc_with_exemplar`](Self::inc_with_exemplar).
    pub fn inc_by_with_exemplar(
        &self,
        n: u64,
        labels: &[(&str, &str)],
        timestamp: Option<f64>,
    ) -> Result<(), Error> {
        self.counter.inc_by(n);
        self.exemplar.set(labels, n as f64, timestamp).map(drop)
    }

    /// The current total.
    #[inline]
    pub fn get(&self) -> u64 {
        self.counter.get()
    }

    /// The exemplar slot (to read it, or set it without counting).
    pub fn exemplar(&self) -> &Exemplar {
        &self.exemplar
    }
}

impl Collect for CounterWithExemplar {
    fn series_count(&self) -> usize {
        1
    }
    fn collect(&self, index: usize, visit: &mut Visitor<'_>) -> Result<(), Error> {
        self.counter.collect(index, visit)
    }
    fn has_exemplars(&self) -> bool {
        true
    }
    fn exemplar<'b>(
        &self,
        index: usize,
        bucket: usize,
        buf: &'b mut [u8],
    ) -> Option<ExemplarRef<'b>> {
        (index == 0 && bucket == 0)
            .then(|| self.exemplar.read(buf))
            .flatten()
    }
}

impl Metric for CounterWithExemplar {
    const KIND: Kind = Kind::Counter;
}

/// What [`HistogramWithExemplars`] and `DynHistogramWithExemplars` share, over their
/// `histogram` field and their `slot(i)` method (bucket `i`'s exemplar, `+Inf` last).
macro_rules! histogram_exemplar_api {
    ([$($generics:tt)*] $ty:ty, $inner:ty) => {
        impl<$($generics)*> $ty {
            /// Records one observation, keeping the bucket's last exemplar.
            #[inline]
            pub fn observe(&self, v: f64) {
                self.histogram.observe(v);
            }

            /// Records `v` and makes `labels` (at `timestamp`, Unix seconds) the exemplar of
            /// the bucket `v` falls in, with value `v`.
            ///
            /// # Errors
            ///
            /// An invalid label set ([`Exemplar::check`]): the observation is still recorded,
            /// the bucket's previous exemplar stays.
            pub fn observe_with_exemplar(
                &self,
                v: f64,
                labels: &[(&str, &str)],
                timestamp: Option<f64>,
            ) -> Result<(), Error> {
                self.histogram.observe(v);
                let i = bucket_index(self.histogram.bounds(), v);
                self.slot(i).set(labels, v, timestamp).map(drop)
            }

            /// The histogram without its exemplars (snapshots, counts, bounds).
            pub fn histogram(&self) -> &$inner {
                &self.histogram
            }

            /// Bucket `i`'s exemplar slot (`i == bounds().len()` is `+Inf`); `None` past it.
            pub fn bucket_exemplar(&self, i: usize) -> Option<&Exemplar> {
                (i <= self.histogram.bounds().len()).then(|| self.slot(i))
            }
        }

        impl<$($generics)*> Collect for $ty {
            fn series_count(&self) -> usize {
                1
            }
            fn collect(&self, index: usize, visit: &mut Visitor<'_>) -> Result<(), Error> {
                self.histogram.collect(index, visit)
            }
            fn has_exemplars(&self) -> bool {
                true
            }
            fn exemplar<'b>(
                &self,
                index: usize,
                bucket: usize,
                buf: &'b mut [u8],
            ) -> Option<ExemplarRef<'b>> {
                if index != 0 {
                    return None;
                }
                self.bucket_exemplar(bucket)?.read(buf)
            }
        }

        impl<$($generics)*> Metric for $ty {
            const KIND: Kind = Kind::Histogram;
        }
    };
}

/// A [`Histogram`] with an exemplar per bucket, `const`-constructible for `static`s.
///
/// ```
/// use metrics_core::{HistogramWithExemplars, DEFAULT_BUCKETS};
/// static LATENCY: HistogramWithExemplars<11> = HistogramWithExemplars::new(&DEFAULT_BUCKETS);
/// LATENCY.observe_with_exemplar(0.042, &[("trace_id", "4bf92f35")], None).unwrap();
/// assert_eq!(LATENCY.histogram().count(), 1);
/// ```
#[derive(Debug)]
pub struct HistogramWithExemplars<const N: usize> {
    histogram: Histogram<N>,
    exemplars: [Exemplar; N],
    inf: Exemplar,
}

impl<const N: usize> HistogramWithExemplars<N> {
    const_fn! {
        /// A histogram over `bounds` (as [`Histogram::new`]), without exemplars.
        pub fn new(bounds: &'static [f64; N]) -> Self {
            HistogramWithExemplars {
                histogram: Histogram::new(bounds),
                exemplars: slots!(N),
                inf: Exemplar::new(),
            }
        }
    }

    fn slot(&self, i: usize) -> &Exemplar {
        self.exemplars.get(i).unwrap_or(&self.inf)
    }
}

histogram_exemplar_api!([const N: usize] HistogramWithExemplars<N>, Histogram<N>);

#[cfg(feature = "alloc")]
pub use dynamic::{DynHistogramWithExemplars, RunTimeHistogram, WithExemplars};

#[cfg(feature = "alloc")]
mod dynamic {
    use super::*;
    use crate::family::FamilyMember;
    use crate::{DynHistogram, DynNativeHistogram};
    use alloc::boxed::Box;

    /// A run-time histogram type [`WithExemplars`] can hold: [`DynHistogram`] and
    /// [`DynNativeHistogram`].
    pub trait RunTimeHistogram: FamilyMember {
        /// Records one observation.
        fn observe(&self, v: f64);
        /// The classic bucket bounds (empty for a native-only histogram: its one exemplar slot
        /// is `+Inf`'s, the one bucket OpenMetrics shows of it).
        fn bounds(&self) -> &[f64];
    }

    impl RunTimeHistogram for DynHistogram {
        #[inline]
        fn observe(&self, v: f64) {
            DynHistogram::observe(self, v);
        }
        fn bounds(&self) -> &[f64] {
            DynHistogram::bounds(self)
        }
    }

    impl RunTimeHistogram for DynNativeHistogram {
        #[inline]
        fn observe(&self, v: f64) {
            DynNativeHistogram::observe(self, v);
        }
        fn bounds(&self) -> &[f64] {
            DynNativeHistogram::bounds(self)
        }
    }

    /// A run-time histogram (`H`: [`DynHistogram`], [`DynNativeHistogram`]) with an exemplar
    /// per classic bucket (`+Inf` included): the member type of a labelled
    /// [`Family`](crate::Family) of histograms with exemplars. Its configuration is `H`'s.
    #[derive(Debug)]
    pub struct WithExemplars<H> {
        histogram: H,
        exemplars: Box<[Exemplar]>,
    }

    /// A [`DynHistogram`] with exemplars.
    pub type DynHistogramWithExemplars = WithExemplars<DynHistogram>;

    impl DynHistogramWithExemplars {
        /// A histogram over `bounds` (as [`DynHistogram::new`]).
        ///
        /// # Errors
        ///
        /// [`Error::InvalidBuckets`] as [`DynHistogram::new`].
        pub fn new(bounds: &[f64]) -> Result<Self, Error> {
            Ok(Self::wrap(DynHistogram::new(bounds)?))
        }
    }

    impl<H: RunTimeHistogram> WithExemplars<H> {
        /// `histogram` with empty exemplar slots.
        pub fn wrap(histogram: H) -> Self {
            let exemplars = (0..=histogram.bounds().len())
                .map(|_| Exemplar::new())
                .collect();
            WithExemplars {
                histogram,
                exemplars,
            }
        }

        fn slot(&self, i: usize) -> &Exemplar {
            let last = self.exemplars.len() - 1;
            &self.exemplars[i.min(last)]
        }
    }

    histogram_exemplar_api!([H: RunTimeHistogram] WithExemplars<H>, H);

    impl<H: RunTimeHistogram> FamilyMember for WithExemplars<H> {
        type Config = H::Config;
        fn from_config(config: &H::Config) -> Self {
            Self::wrap(H::from_config(config))
        }
        fn kind(config: &H::Config) -> Kind {
            H::kind(config)
        }
    }

    impl FamilyMember for CounterWithExemplar {
        type Config = ();
        fn from_config(_: &()) -> Self {
            CounterWithExemplar::new()
        }
        fn kind(_: &()) -> Kind {
            Kind::Counter
        }
        // No `scalar`: a family of these is never pre-rendered (its lines carry exemplars).
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use crate::exemplar::EXEMPLAR_BYTES;
    use std::vec::Vec;

    fn labels_of(c: &dyn Collect, bucket: usize) -> Option<(Vec<(String, String)>, f64)> {
        let mut buf = [0u8; EXEMPLAR_BYTES];
        let x = c.exemplar(0, bucket, &mut buf)?;
        Some((
            x.labels().map(|(a, b)| (a.into(), b.into())).collect(),
            x.value(),
        ))
    }
    use std::string::String;

    #[test]
    fn counter_keeps_the_last_exemplar_and_counts_bad_ones() {
        let c = CounterWithExemplar::new();
        assert!(labels_of(&c, 0).is_none());
        c.inc_by_with_exemplar(3, &[("trace_id", "a")], None)
            .unwrap();
        c.inc();
        assert_eq!(c.get(), 4);
        assert_eq!(labels_of(&c, 0).unwrap().1, 3.0);
        assert!(c.inc_with_exemplar(&[("bad-name", "x")], None).is_err());
        assert_eq!(c.get(), 5, "counted even though the exemplar was refused");
        assert_eq!(labels_of(&c, 0).unwrap().0[0].1, "a");
        assert!(labels_of(&c, 1).is_none());
    }

    #[test]
    fn histogram_exemplar_lands_in_the_observations_bucket() {
        static H: HistogramWithExemplars<2> = HistogramWithExemplars::new(&[1.0, 2.0]);
        H.observe_with_exemplar(1.5, &[("run_id", "r1")], Some(5.0))
            .unwrap();
        H.observe_with_exemplar(9.0, &[("run_id", "r2")], None)
            .unwrap();
        H.observe(0.5);
        assert!(labels_of(&H, 0).is_none());
        assert_eq!(
            labels_of(&H, 1).unwrap(),
            (std::vec![("run_id".into(), "r1".into())], 1.5)
        );
        assert_eq!(labels_of(&H, 2).unwrap().1, 9.0);
        assert!(H.bucket_exemplar(3).is_none());
        assert_eq!(H.histogram().count(), 3);

        let d = DynHistogramWithExemplars::new(&[1.0]).unwrap();
        d.observe_with_exemplar(f64::NAN, &[("run_id", "n")], None)
            .unwrap();
        assert!(labels_of(&d, 1).unwrap().1.is_nan(), "NaN goes to +Inf");
    }
}
