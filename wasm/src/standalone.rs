//! The `standalone` feature: the npm package's build links no `std`.
//!
//! Without `std` nothing provides an allocator or a panic handler, so this module does, on
//! wasm32 only. The allocator is dlmalloc, the one `std` uses on wasm32; the panic handler traps
//! (`unreachable`), which JS sees as a `RuntimeError`. Nothing in this crate panics on bad
//! input (every error is a thrown `Error`), so a trap means a bug. Dropping `std`'s panic
//! machinery (message formatting, locations) saves about a quarter of the module.

#[cfg(all(feature = "standalone", target_arch = "wasm32", not(feature = "std")))]
#[global_allocator]
static ALLOCATOR: dlmalloc::GlobalDlmalloc = dlmalloc::GlobalDlmalloc;

#[cfg(all(feature = "standalone", target_arch = "wasm32", not(feature = "std")))]
#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    core::arch::wasm32::unreachable()
}
