//! Metrics firmware for QEMU's `microbit` (Nordic nRF51822, Cortex-M0: no CAS, so the core's
//! metrics run on portable-atomic with critical sections).
//!
//! SysTick interrupts update a counter, a gauge and a histogram; the main loop answers scrapes
//! on UART0 with the framed protocol of `metrics-exporter-embedded`, and report the chip's
//! FICR device id when asked (protocol 1.1). Run:
//! `qemu-system-arm -machine microbit -display none -monitor none
//!  -serial tcp:127.0.0.1:PORT,server=on,wait=on -kernel fw-microbit`.
#![no_std]
#![no_main]
#![deny(unsafe_code)]

use cortex_m::peripheral::{syst::SystClkSource, SYST};
use cortex_m_rt::{entry, exception};
use panic_halt as _;

mod ficr;
mod uart;

/// The nRF51's fixed 16 MHz core clock (SysTick counts it).
const CPU_HZ: u32 = 16_000_000;

#[entry]
fn main() -> ! {
    let mut cp = cortex_m::Peripherals::take().expect("taken once, at reset");
    cp.SYST.set_clock_source(SystClkSource::Core);
    cp.SYST.set_reload(CPU_HZ / fw_common::TICK_HZ - 1);
    cp.SYST.clear_current();
    cp.SYST.enable_interrupt();
    cp.SYST.enable_counter();
    let mut uart = uart::Uart0::init();
    let mut id = ficr::BUF;
    fw_common::serve(&mut uart, ficr::device_id(&mut id))
}

#[exception]
fn SysTick() {
    let latency = SYST::get_reload() - SYST::get_current();
    fw_common::on_tick(latency, CPU_HZ);
}
