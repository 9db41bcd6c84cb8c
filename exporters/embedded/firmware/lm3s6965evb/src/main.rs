//! Metrics firmware for QEMU's `lm3s6965evb` (TI Stellaris LM3S6965, Cortex-M3).
//!
//! SysTick interrupts update a counter, a gauge and a histogram; the main loop answers scrapes
//! on UART0 with the framed protocol of `metrics-exporter-embedded`. Run:
//! `qemu-system-arm -machine lm3s6965evb -display none -monitor none
//!  -serial tcp:127.0.0.1:PORT,server=on,wait=on -kernel fw-lm3s6965evb`.
#![no_std]
#![no_main]
#![deny(unsafe_code)]

use cortex_m::peripheral::{syst::SystClkSource, SYST};
use cortex_m_rt::{entry, exception};
use panic_halt as _;

mod uart;

/// The core clock QEMU gives the board (SysTick counts it).
const CPU_HZ: u32 = 12_000_000;

/// The device id reported when asked (protocol 1.1): the LM3S6965 has no unique-id register,
/// so a constant, as a product would write its serial number at manufacturing.
const DEVICE_ID: &str = "lm3s6965evb-0001";

#[entry]
fn main() -> ! {
    let mut cp = cortex_m::Peripherals::take().expect("taken once, at reset");
    cp.SYST.set_clock_source(SystClkSource::Core);
    cp.SYST.set_reload(CPU_HZ / fw_common::TICK_HZ - 1);
    cp.SYST.clear_current();
    cp.SYST.enable_interrupt();
    cp.SYST.enable_counter();
    let mut uart = uart::Uart0::init();
    fw_common::serve(&mut uart, DEVICE_ID)
}

#[exception]
fn SysTick() {
    let latency = SYST::get_reload() - SYST::get_current();
    fw_common::on_tick(latency, CPU_HZ);
}
