//! The nRF51's factory information: its 64-bit device id (FICR DEVICEID at 0x10000060 and
//! 0x10000064, per the reference manual), unique per chip, as the device id of the framed
//! protocol's IDENTITY answer. QEMU models FICR with fixed contents one word off (its table
//! puts CONFIGID's 3 at DEVICEID[0] and DEVICEID[0]'s 0x12345678 at DEVICEID[1]), so under
//! QEMU the id reads `nrf51-1234567800000003`.
#![allow(unsafe_code)]

use core::ptr::read_volatile;

/// FICR DEVICEID[0] (low word); DEVICEID[1] follows.
const DEVICEID: usize = 0x1000_0060;

/// A buffer for [`device_id`]: initialised from a constant (copied) rather than zeroed,
/// which would link `__aeabi_memclr` (192 bytes, measured) for this alone.
pub const BUF: [u8; 22] = *b"nrf51-0000000000000000";

/// `nrf51-` and the 64-bit id in hex, high word first, e.g. `nrf51-9abcdef112345678`, in
/// `buf` (a copy of [`BUF`]).
pub fn device_id(buf: &mut [u8; 22]) -> &str {
    // SAFETY: FICR is read-only memory that is always mapped on the nRF51; both addresses
    // are 32-bit aligned registers.
    let (low, high) = unsafe {
        (
            read_volatile(DEVICEID as *const u32),
            read_volatile((DEVICEID + 4) as *const u32),
        )
    };
    for (i, b) in buf[6..].iter_mut().enumerate() {
        let word = if i < 8 { high } else { low };
        let nibble = (word >> (28 - 4 * (i % 8))) & 0xF;
        *b = b"0123456789abcdef"[nibble as usize];
    }
    // SAFETY: every byte is ASCII (the prefix and hex digits). Unchecked rather than
    // `from_utf8`: its validation would be linked for this one call (measured: footprint.sh).
    unsafe { core::str::from_utf8_unchecked(buf) }
}
