//! The `embedded-hal-nb` adapter: a scrape served through `NbSerial` over a serial port that
//! answers `WouldBlock` every other call, as a polled UART does.

mod common;

use std::collections::VecDeque;
use std::convert::Infallible;

use embedded_hal_nb::serial;
use metrics_core::Format;
use metrics_exporter_embedded::{NbSerial, SerialServer};

/// A serial port that is busy every other call.
struct Flaky {
    rx: VecDeque<u8>,
    tx: Vec<u8>,
    busy: bool,
}

impl Flaky {
    fn ready(&mut self) -> bool {
        self.busy = !self.busy;
        !self.busy
    }
}

impl serial::ErrorType for Flaky {
    type Error = Infallible;
}

impl serial::Read<u8> for Flaky {
    fn read(&mut self) -> nb::Result<u8, Infallible> {
        if !self.ready() {
            return Err(nb::Error::WouldBlock);
        }
        self.rx.pop_front().ok_or(nb::Error::WouldBlock)
    }
}

impl serial::Write<u8> for Flaky {
    fn write(&mut self, b: u8) -> nb::Result<(), Infallible> {
        if !self.ready() {
            return Err(nb::Error::WouldBlock);
        }
        self.tx.push(b);
        Ok(())
    }
    fn flush(&mut self) -> nb::Result<(), Infallible> {
        if self.ready() {
            Ok(())
        } else {
            Err(nb::Error::WouldBlock)
        }
    }
}

#[test]
fn scrape_through_embedded_hal_nb_serial() {
    let _guard = common::lock();
    common::TICKS.inc_by(7);
    let mut port = NbSerial(Flaky {
        rx: common::request(42, Format::OpenMetrics).into(),
        tx: Vec::new(),
        busy: false,
    });
    let mut server: SerialServer<'_, _> = SerialServer::new(&common::REGISTRY);
    let mut answered = 0;
    let mut polls = 0;
    while answered == 0 {
        answered += server.poll(&mut port).unwrap();
        polls += 1;
        assert!(polls < 100, "the request never got through");
    }
    assert!(polls > 1, "WouldBlock split the request over several reads");
    assert!(port.0.rx.is_empty());
    assert_eq!(
        common::assemble(&port.0.tx, 42),
        Ok(common::expected(Format::OpenMetrics))
    );
}
