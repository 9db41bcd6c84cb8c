//! What both firmware examples share: their metrics in statics, the timer tick that updates them
//! from an interrupt, and the main loop that serves scrapes on a UART with the framed protocol.
#![no_std]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

use embedded_io::{Read, Write};
use metrics_core::{Counter, Desc, Gauge, Histogram, StaticEntry, StaticRegistry};
use metrics_exporter_embedded::SerialServer;

/// Timer interrupts per second.
pub const TICK_HZ: u32 = 100;

/// Timer interrupts handled (incremented in the interrupt).
pub static TICKS: Counter = Counter::new();
/// Seconds since boot, from the tick count (set in the interrupt).
pub static UPTIME: Gauge = Gauge::new();
/// Delay from the timer's reload to the handler reading it (observed in the interrupt).
pub static JITTER: Histogram<6> =
    Histogram::new(&[0.000_001, 0.000_005, 0.000_01, 0.000_05, 0.000_1, 0.001]);
/// Scrapes answered (incremented in the main loop).
pub static SCRAPES: Counter = Counter::new();
/// Frames the serial decoder rejected: header and frame CRC errors (main loop).
pub static SERIAL_ERRORS: Counter = Counter::new();

/// The registry, in flash.
pub static REGISTRY: StaticRegistry = StaticRegistry::new(&[
    StaticEntry::metric(
        Desc::new("firmware_ticks", "Timer interrupts handled."),
        &TICKS,
    ),
    StaticEntry::metric(
        Desc::new(
            "firmware_uptime_seconds",
            "Seconds since boot, counted in timer ticks.",
        )
        .unit("seconds"),
        &UPTIME,
    ),
    StaticEntry::metric(
        Desc::new(
            "firmware_tick_jitter_seconds",
            "Delay between the timer reload and its interrupt handler.",
        )
        .unit("seconds"),
        &JITTER,
    ),
    StaticEntry::metric(
        Desc::new("firmware_scrapes", "Scrape requests answered on the UART."),
        &SCRAPES,
    ),
    StaticEntry::metric(
        Desc::new(
            "firmware_serial_errors",
            "Frames the UART decoder rejected (header or frame CRC errors).",
        ),
        &SERIAL_ERRORS,
    ),
]);

/// The timer interrupt's work: `latency` timer counts of `timer_hz` elapsed since the reload.
/// Lock-free on the Cortex-M3; a short critical section per 64-bit update on the Cortex-M0.
pub fn on_tick(latency: u32, timer_hz: u32) {
    TICKS.inc();
    UPTIME.set(TICKS.get() as f64 / f64::from(TICK_HZ));
    JITTER.observe(f64::from(latency) / f64::from(timer_hz));
}

/// The main loop: answers scrape requests on `uart`, forever.
pub fn serve<T: Read + Write>(uart: &mut T) -> ! {
    let mut server: SerialServer<'_, _, 64> = SerialServer::new(&REGISTRY);
    let mut errors_seen = 0;
    loop {
        // The UART drivers here are infallible; a real one would count its errors.
        if let Ok(n) = server.poll(uart) {
            SCRAPES.inc_by(n as u64);
        }
        let (stats, _) = server.stats();
        let errors = stats.bad_header + stats.bad_crc + stats.too_long;
        SERIAL_ERRORS.inc_by(u64::from(errors.wrapping_sub(errors_seen)));
        errors_seen = errors;
    }
}
