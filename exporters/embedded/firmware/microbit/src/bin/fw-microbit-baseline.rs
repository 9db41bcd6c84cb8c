//! The footprint baseline of the micro:bit example: the same reset, SysTick and UART0 driver,
//! but no metrics — its tick count lives in a plain static and the main loop echoes the UART.
//! `fw-microbit` minus this is what the metrics core and the embedded exporter cost in flash
//! (with everything they pull in from `core` and `compiler-builtins`).
#![no_std]
#![no_main]
#![deny(unsafe_code)]

use core::cell::Cell;

use cortex_m::interrupt::{self, Mutex};
use cortex_m::peripheral::syst::SystClkSource;
use cortex_m_rt::{entry, exception};
use embedded_io::{Read, Write};
use panic_halt as _;

#[path = "../uart.rs"]
mod uart;

static TICKS: Mutex<Cell<u32>> = Mutex::new(Cell::new(0));

#[entry]
fn main() -> ! {
    let mut cp = cortex_m::Peripherals::take().expect("taken once, at reset");
    cp.SYST.set_clock_source(SystClkSource::Core);
    cp.SYST.set_reload(16_000_000 / 100 - 1);
    cp.SYST.clear_current();
    cp.SYST.enable_interrupt();
    cp.SYST.enable_counter();
    let mut uart = uart::Uart0::init();
    let mut buf = [0u8; 32];
    loop {
        let Ok(n) = uart.read(&mut buf);
        let Ok(()) = uart.write_all(&buf[..n]);
    }
}

#[exception]
fn SysTick() {
    interrupt::free(|cs| {
        let t = TICKS.borrow(cs);
        t.set(t.get().wrapping_add(1));
    });
}
