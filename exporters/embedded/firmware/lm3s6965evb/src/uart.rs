//! UART0 of the LM3S6965 (an ARM PL011), polled, as an `embedded_io` byte stream.
#![allow(unsafe_code)]

use core::convert::Infallible;
use core::ptr::{read_volatile, write_volatile};

const BASE: usize = 0x4000_C000;
const DR: usize = 0x000;
const FR: usize = 0x018;
const IBRD: usize = 0x024;
const FBRD: usize = 0x028;
const LCRH: usize = 0x02C;
const CTL: usize = 0x030;
const FR_RXFE: u32 = 1 << 4;
const FR_TXFF: u32 = 1 << 5;
/// System control: run-mode clock gating register 1 (bit 0: UART0).
const RCGC1: usize = 0x400F_E104;

fn read(addr: usize) -> u32 {
    // SAFETY: `addr` is one of this module's constants, a 32-bit aligned register of the
    // LM3S6965's UART0 or system control block, which are always mapped.
    unsafe { read_volatile(addr as *const u32) }
}

fn write(addr: usize, value: u32) {
    // SAFETY: as in `read`; writing these registers has no memory-safety effect.
    unsafe { write_volatile(addr as *mut u32, value) }
}

/// UART0 at 115200 baud (the line speed means nothing to QEMU), 8N1, FIFOs on.
pub struct Uart0(());

impl Uart0 {
    /// Clocks and configures UART0.
    pub fn init() -> Self {
        write(RCGC1, read(RCGC1) | 1);
        write(BASE + CTL, 0);
        // 12 MHz / (16 * 115200) = 6.51: IBRD 6, FBRD round(0.51 * 64) = 33.
        write(BASE + IBRD, 6);
        write(BASE + FBRD, 33);
        write(BASE + LCRH, 0x70); // 8 bits, FIFOs enabled
        write(BASE + CTL, 0x301); // UARTEN, TXE, RXE
        Uart0(())
    }
}

impl embedded_io::ErrorType for Uart0 {
    type Error = Infallible;
}

impl embedded_io::Read for Uart0 {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, Infallible> {
        if buf.is_empty() {
            return Ok(0);
        }
        while read(BASE + FR) & FR_RXFE != 0 {}
        let mut n = 0;
        while n < buf.len() && read(BASE + FR) & FR_RXFE == 0 {
            buf[n] = read(BASE + DR) as u8;
            n += 1;
        }
        Ok(n)
    }
}

impl embedded_io::Write for Uart0 {
    fn write(&mut self, buf: &[u8]) -> Result<usize, Infallible> {
        for &b in buf {
            while read(BASE + FR) & FR_TXFF != 0 {}
            write(BASE + DR, u32::from(b));
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> Result<(), Infallible> {
        Ok(())
    }
}
