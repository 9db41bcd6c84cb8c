//! SIGINT and SIGTERM: recorded in a flag the runner polls, never acted on in the handler.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use signal_hook::consts::{SIGINT, SIGTERM};

/// Which stop signal arrived, if any.
#[derive(Debug, Clone)]
pub struct Stop(Arc<AtomicUsize>);

impl Stop {
    /// Installs the handlers.
    pub fn install() -> std::io::Result<Stop> {
        let flag = Arc::new(AtomicUsize::new(0));
        signal_hook::flag::register_usize(SIGINT, flag.clone(), SIGINT as usize)?;
        signal_hook::flag::register_usize(SIGTERM, flag.clone(), SIGTERM as usize)?;
        Ok(Stop(flag))
    }

    /// The signal number received, if any.
    pub fn signal(&self) -> Option<i32> {
        match self.0.load(Ordering::SeqCst) {
            0 => None,
            n => Some(n as i32),
        }
    }

    /// Sleeps `d`, or less when a signal arrives; true when one did.
    pub fn sleep(&self, d: Duration) -> bool {
        let end = Instant::now() + d;
        loop {
            if self.signal().is_some() {
                return true;
            }
            let now = Instant::now();
            if now >= end {
                return false;
            }
            std::thread::sleep((end - now).min(Duration::from_millis(50)));
        }
    }
}

/// `SIGINT`/`SIGTERM` as a name.
pub fn name(sig: i32) -> &'static str {
    match sig {
        SIGINT => "SIGINT",
        SIGTERM => "SIGTERM",
        _ => "signal",
    }
}
