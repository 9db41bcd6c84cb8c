//! UART0 of the nRF51822, polled through its RXDRDY/TXDRDY events, as an `embedded_io` stream.
#![allow(unsafe_code)]

use core::convert::Infallible;
use core::ptr::{read_volatile, write_volatile};

const BASE: usize = 0x4000_2000;
const TASKS_STARTRX: usize = 0x000;
const TASKS_STARTTX: usize = 0x008;
const EVENTS_RXDRDY: usize = 0x108;
const EVENTS_TXDRDY: usize = 0x11C;
const ENABLE: usize = 0x500;
const PSELTXD: usize = 0x50C;
const PSELRXD: usize = 0x514;
const RXD: usize = 0x518;
const TXD: usize = 0x51C;
const BAUDRATE: usize = 0x524;

fn read(offset: usize) -> u32 {
    // SAFETY: `offset` is one of this module's constants: a 32-bit aligned register of the
    // nRF51's UART0, which is always mapped.
    unsafe { read_volatile((BASE + offset) as *const u32) }
}

fn write(offset: usize, value: u32) {
    // SAFETY: as in `read`; writing these registers has no memory-safety effect.
    unsafe { write_volatile((BASE + offset) as *mut u32, value) }
}

/// UART0 on the micro:bit's USB serial pins (TX P0.24, RX P0.25), 115200 baud.
pub struct Uart0(());

impl Uart0 {
    /// Configures UART0 and starts its receiver and transmitter.
    pub fn init() -> Self {
        write(PSELTXD, 24);
        write(PSELRXD, 25);
        write(BAUDRATE, 0x01D7_E000); // 115200
        write(ENABLE, 4);
        write(EVENTS_RXDRDY, 0);
        write(EVENTS_TXDRDY, 0);
        write(TASKS_STARTRX, 1);
        write(TASKS_STARTTX, 1);
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
        while read(EVENTS_RXDRDY) == 0 {}
        let mut n = 0;
        while n < buf.len() && read(EVENTS_RXDRDY) != 0 {
            // Clear the event before taking the byte: if more are waiting the UART raises it
            // again.
            write(EVENTS_RXDRDY, 0);
            buf[n] = read(RXD) as u8;
            n += 1;
        }
        Ok(n)
    }
}

impl embedded_io::Write for Uart0 {
    fn write(&mut self, buf: &[u8]) -> Result<usize, Infallible> {
        for &b in buf {
            write(EVENTS_TXDRDY, 0);
            write(TXD, u32::from(b));
            while read(EVENTS_TXDRDY) == 0 {}
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> Result<(), Infallible> {
        Ok(())
    }
}
