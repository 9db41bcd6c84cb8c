//! What both firmware examples share: their metrics in statics, the timer tick that updates them
//! from an interrupt, and the main loop that serves scrapes on a UART with the framed protocol.
#![no_std]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

use core::sync::atomic::{AtomicU32, Ordering};

use embedded_io::{Read, Write};
use metrics_core::{
    Counter, Desc, FnCounter, Gauge, HeaplessFamily, Histogram, StaticEntry, StaticRegistry,
};

/// Timer interrupts per second.
#[cfg(not(feature = "stress"))]
pub const TICK_HZ: u32 = 100;
/// Timer interrupts per second: the stress mode's rate (QEMU may run it slower).
#[cfg(feature = "stress")]
pub const TICK_HZ: u32 = 5_000;
/// In the stress mode, the interrupts that update the metrics; later ones return at once, so
/// the last scrape must show exactly this many observations everywhere.
#[cfg(feature = "stress")]
pub const STRESS_INTERRUPTS: u32 = 100_000;

/// Sensor ids the firmware learns at run time: 6 ids for a family of 4 series, so readings
/// of the last two are counted in the overflow series (`sensor="__overflow__"`).
pub const SENSOR_IDS: [&str; 6] = ["28-a1", "28-b2", "28-c3", "28-d4", "28-e5", "28-f6"];

/// Readings by sensor id (a fixed-capacity family: 4 series of up to 8-byte ids, no heap),
/// counted in the interrupt: tick `n` reads sensor `n % 6`.
pub static READINGS: HeaplessFamily<Counter, 4, 1, 8> = HeaplessFamily::counters();

/// Interrupts that updated the metrics, counted by the handler alone (a plain 32-bit load and
/// store: only the handler writes it, so the Cortex-M0 needs no read-modify-write).
static HANDLED: AtomicU32 = AtomicU32::new(0);

fn handled() -> u64 {
    u64::from(HANDLED.load(Ordering::Relaxed))
}

/// In the stress mode, a float counter both the handler and the main loop add 1 to: its
/// `add` is a compare-and-swap loop, the read-modify-write whose compare and store an
/// interrupt can split (QEMU switches to a handler only between translation blocks, so
/// straight-line updates never show a broken critical section; a CAS's branch does).
#[cfg(feature = "stress")]
pub static SHARED: metrics_core::FloatCounter = metrics_core::FloatCounter::new();

/// In the stress mode, the main loop's own count of its adds to [`SHARED`] (only it writes).
#[cfg(feature = "stress")]
static MAIN_ADDS: AtomicU32 = AtomicU32::new(0);

#[cfg(feature = "stress")]
fn main_adds() -> u64 {
    u64::from(MAIN_ADDS.load(Ordering::Relaxed))
}

/// [`MAIN_ADDS`] as a counter read at encode time.
#[cfg(feature = "stress")]
pub static MAIN_ADDS_COUNTER: FnCounter<fn() -> u64> = FnCounter::new(main_adds);

/// [`HANDLED`] as a counter read at encode time.
pub static HANDLED_COUNTER: FnCounter<fn() -> u64> = FnCounter::new(handled);

/// Timer interrupts handled (incremented in the interrupt).
pub static TICKS: Counter = Counter::new();
/// Seconds since boot, from the tick count (set in the interrupt).
pub static UPTIME: Gauge = Gauge::new();
/// Delay from the timer's reload to the handler reading it (observed in the interrupt).
pub static JITTER: Histogram<6> =
    Histogram::new(&[0.000_001, 0.000_005, 0.000_01, 0.000_05, 0.000_1, 0.001]);
/// The footprint variant `--cfg fw_footprint="native"` (footprint.sh): the same delays in a
/// native histogram too (schema 3, room for 16 buckets), to measure what one costs in flash.
#[cfg(fw_footprint = "native")]
pub static JITTER_NATIVE: metrics_core::NativeHistogram<16> =
    metrics_core::NativeHistogram::new(3, metrics_core::DEFAULT_NATIVE_ZERO_THRESHOLD);
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
    #[cfg(not(fw_footprint = "no_histogram"))]
    StaticEntry::metric(
        Desc::new(
            "firmware_tick_jitter_seconds",
            "Delay between the timer reload and its interrupt handler.",
        )
        .unit("seconds"),
        &JITTER,
    ),
    #[cfg(fw_footprint = "native")]
    StaticEntry::metric(
        Desc::new(
            "firmware_tick_jitter_native_seconds",
            "Delay between the timer reload and its interrupt handler (native buckets).",
        )
        .unit("seconds"),
        &JITTER_NATIVE,
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
    #[cfg(not(fw_footprint = "no_family"))]
    StaticEntry::heapless_family(
        Desc::new("firmware_sensor_readings", "Sensor readings by sensor id.").labels(&["sensor"]),
        &READINGS,
    ),
    StaticEntry::metric(
        Desc::new(
            "firmware_isr_handled",
            "Interrupts that updated the metrics, by the handler's own count.",
        ),
        &HANDLED_COUNTER,
    ),
    #[cfg(feature = "stress")]
    StaticEntry::metric(
        Desc::new(
            "firmware_stress_shared",
            "Adds of 1 by the interrupt handler and the main loop (stress mode).",
        ),
        &SHARED,
    ),
    #[cfg(feature = "stress")]
    StaticEntry::metric(
        Desc::new(
            "firmware_stress_main_adds",
            "The main loop's own count of its adds to firmware_stress_shared.",
        ),
        &MAIN_ADDS_COUNTER,
    ),
]);

/// The timer interrupt's work: `latency` timer counts of `timer_hz` elapsed since the reload.
/// Lock-free on the Cortex-M3; a short critical section per 64-bit update on the Cortex-M0.
pub fn on_tick(latency: u32, timer_hz: u32) {
    let n = HANDLED.load(Ordering::Relaxed);
    #[cfg(feature = "stress")]
    if n >= STRESS_INTERRUPTS {
        return;
    }
    #[cfg(not(fw_footprint = "no_family"))]
    READINGS
        .labels(&[SENSOR_IDS[n as usize % SENSOR_IDS.len()]])
        .inc();
    TICKS.inc();
    UPTIME.set(TICKS.get() as f64 / f64::from(TICK_HZ));
    #[cfg(not(fw_footprint = "no_histogram"))]
    JITTER.observe(f64::from(latency) / f64::from(timer_hz));
    #[cfg(fw_footprint = "native")]
    JITTER_NATIVE.observe(f64::from(latency) / f64::from(timer_hz));
    let _ = (latency, timer_hz);
    #[cfg(feature = "stress")]
    SHARED.inc_by(1.0);
    HANDLED.store(n + 1, Ordering::Relaxed);
}

/// The main loop of the footprint variant `--cfg fw_footprint="http"` (footprint.sh): answers
/// HTTP/1.x scrapes on `uart` instead of the framed protocol (which alone carries
/// `device_id`).
#[cfg(fw_footprint = "http")]
pub fn serve<T: Read + Write>(uart: &mut T, device_id: &str) -> ! {
    let _ = device_id;
    // No exemplars are set here: `X = 0` leaves the exemplar writer out (as `serve` below).
    let mut server: metrics_exporter_embedded::HttpServer<'_, _, 512, 128, 0> =
        metrics_exporter_embedded::HttpServer::new(&REGISTRY);
    loop {
        if server.serve(uart).is_ok() {
            SCRAPES.inc();
        }
    }
}

/// The main loop: answers scrape requests on `uart`, and IDENTIFY requests with `device_id`
/// (protocol 1.1), forever.
#[cfg(not(fw_footprint = "http"))]
pub fn serve<T: Read + Write>(uart: &mut T, device_id: &str) -> ! {
    // No exemplars are set here: `X = 0` leaves the exemplar writer out of the flash (about
    // 1.7 KB) and its 512-byte buffer off the stack while answering.
    let mut server: metrics_exporter_embedded::SerialServer<'_, _, 64, 0> =
        metrics_exporter_embedded::SerialServer::new(&REGISTRY).with_device_id(device_id);
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
        #[cfg(feature = "stress")]
        for _ in 0..4 {
            SHARED.inc_by(1.0);
            MAIN_ADDS.store(MAIN_ADDS.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
        }
    }
}
