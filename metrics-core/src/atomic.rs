//! The one place that picks the atomics.
//!
//! Everything else in the crate imports `crate::atomic::*` and never `core::sync::atomic`
//! directly, so one switch chooses between:
//!
//! - `core::sync::atomic` (default): every target with native 64-bit atomics and CAS;
//! - `portable_atomic` (feature `portable-atomic`): targets without 64-bit atomics or without
//!   CAS (thumbv6m, riscv32imc), emulated with a lock or, with the `critical-section` feature, in
//!   a critical section, which keeps the hot path safe to call from interrupt handlers;
//! - `loom` (`--cfg loom`): the model checker's atomics, for the models in `tests/loom.rs`.

#[cfg(all(loom, any(feature = "alloc", feature = "heapless")))]
pub(crate) use loom::sync::atomic::AtomicU32;
#[cfg(all(loom, feature = "alloc"))]
pub(crate) use loom::sync::atomic::AtomicUsize;
#[cfg(loom)]
pub(crate) use loom::sync::atomic::{fence, AtomicBool, AtomicU64, Ordering};

#[cfg(all(
    not(loom),
    feature = "portable-atomic",
    any(feature = "alloc", feature = "heapless")
))]
pub(crate) use portable_atomic::AtomicU32;
#[cfg(all(not(loom), feature = "portable-atomic", feature = "alloc"))]
pub(crate) use portable_atomic::AtomicUsize;
#[cfg(all(not(loom), feature = "portable-atomic"))]
pub(crate) use portable_atomic::{fence, AtomicBool, AtomicU64, Ordering};

#[cfg(all(
    not(loom),
    not(feature = "portable-atomic"),
    any(feature = "alloc", feature = "heapless")
))]
pub(crate) use core::sync::atomic::AtomicU32;
#[cfg(all(not(loom), not(feature = "portable-atomic"), feature = "alloc"))]
pub(crate) use core::sync::atomic::AtomicUsize;
#[cfg(all(not(loom), not(feature = "portable-atomic")))]
pub(crate) use core::sync::atomic::{fence, AtomicBool, AtomicU64, Ordering};

/// Tells the CPU (or loom's scheduler) that we are spinning on a value another thread will
/// change.
#[inline]
pub(crate) fn spin_loop() {
    #[cfg(loom)]
    loom::thread::yield_now();
    #[cfg(not(loom))]
    core::hint::spin_loop();
}

/// Declares a `const fn` that loom builds as a plain `fn` (loom's atomics cannot be created in
/// a const context). Outside loom the item is exactly the `const fn` written.
macro_rules! const_fn {
    ($(#[$meta:meta])* $vis:vis fn $name:ident $($rest:tt)*) => {
        #[cfg(not(loom))]
        $(#[$meta])*
        $vis const fn $name $($rest)*
        #[cfg(loom)]
        $(#[$meta])*
        $vis fn $name $($rest)*
    };
}
pub(crate) use const_fn;
