//! The `standalone` feature: the npm package's build links no `std`.
//!
//! Without `std` nothing provides an allocator or a panic handler, so this module does, on
//! wasm32 only. The allocator is lol_alloc's first-fit free list behind a spin lock (never
//! contended: the module is single-threaded), about 5 KB smaller than dlmalloc, the one `std`
//! uses, with the same benchmark results (`bench/bench.mjs`); the panic handler traps
//! (`unreachable`), which JS sees as a `RuntimeError`. Nothing in this crate panics on bad
//! input (every error is a thrown `Error`), so a trap means a bug. Dropping `std`'s panic
//! machinery (message formatting, locations) saves about a quarter of the module.

#[cfg(all(feature = "standalone", target_arch = "wasm32", not(feature = "std")))]
#[global_allocator]
static ALLOCATOR: lol_alloc::LockedAllocator<lol_alloc::FreeListAllocator> =
    lol_alloc::LockedAllocator::new(lol_alloc::FreeListAllocator::new());

#[cfg(all(feature = "standalone", target_arch = "wasm32", not(feature = "std")))]
#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    core::arch::wasm32::unreachable()
}
