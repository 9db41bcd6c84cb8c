//! The byte streams the gateway reaches devices over: a serial port or a TCP connection, and
//! a reader/writer that enforces a scrape's deadline on either.

use std::io::{self, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use crate::config::Address;

/// A connected byte stream to a device.
pub trait Link: Read + Write + Send {
    /// Sets the longest time one read or write may block (never zero).
    fn set_timeout(&mut self, timeout: Duration) -> io::Result<()>;
}

impl Link for TcpStream {
    fn set_timeout(&mut self, timeout: Duration) -> io::Result<()> {
        self.set_read_timeout(Some(timeout))?;
        self.set_write_timeout(Some(timeout))
    }
}

impl Link for Box<dyn serialport::SerialPort> {
    fn set_timeout(&mut self, timeout: Duration) -> io::Result<()> {
        serialport::SerialPort::set_timeout(&mut **self, timeout).map_err(io::Error::from)
    }
}

/// Opens `address`, waiting at most `timeout` (TCP connect).
pub fn open(address: &Address, timeout: Duration) -> io::Result<Box<dyn Link>> {
    match address {
        Address::Tcp(hostport) => {
            let mut last = io::Error::new(io::ErrorKind::NotFound, "no address to connect to");
            for addr in hostport.to_socket_addrs()? {
                match TcpStream::connect_timeout(&addr, timeout) {
                    Ok(s) => {
                        s.set_nodelay(true)?;
                        return Ok(Box::new(s));
                    }
                    Err(e) => last = e,
                }
            }
            Err(last)
        }
        Address::Usb { id, baud } => {
            let path = crate::usb::resolve(id, crate::usb::roots())?;
            open_serial(&path, *baud, timeout)
        }
        Address::Serial { path, baud } => open_serial(path, *baud, timeout),
    }
}

/// Opens the serial port at `path` (following a `/dev/serial/by-id/...` link to wherever it
/// points now).
fn open_serial(path: &std::path::Path, baud: u32, timeout: Duration) -> io::Result<Box<dyn Link>> {
    let port = serialport::new(path.to_string_lossy(), baud)
        .timeout(timeout)
        .open()
        .map_err(io::Error::from)?;
    // Bytes of an earlier, abandoned exchange would only confuse the codec.
    let _ = port.clear(serialport::ClearBuffer::All);
    Ok(Box::new(port))
}

/// A link with a deadline: every read and write blocks at most until the deadline, and fails
/// with [`io::ErrorKind::TimedOut`] after it. The frame codec's client reads through it.
pub struct DeadlineLink {
    link: Box<dyn Link>,
    deadline: Instant,
}

impl std::fmt::Debug for DeadlineLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeadlineLink")
            .field("deadline", &self.deadline)
            .finish_non_exhaustive()
    }
}

impl DeadlineLink {
    /// `link`, with a deadline already passed: set one with [`set_deadline`](Self::set_deadline)
    /// before each exchange.
    pub fn new(link: Box<dyn Link>) -> Self {
        DeadlineLink {
            link,
            deadline: Instant::now(),
        }
    }

    /// Reads and writes fail after `deadline`.
    pub fn set_deadline(&mut self, deadline: Instant) {
        self.deadline = deadline;
    }

    fn arm(&mut self) -> io::Result<()> {
        let left = self.deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "the device did not answer in time",
            ));
        }
        self.link.set_timeout(left)
    }
}

/// Serial ports report a timeout as `TimedOut`, sockets as `WouldBlock`: one kind here.
fn timed_out(e: io::Error) -> io::Error {
    if e.kind() == io::ErrorKind::WouldBlock {
        io::Error::new(io::ErrorKind::TimedOut, "the device did not answer in time")
    } else {
        e
    }
}

impl Read for DeadlineLink {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.arm()?;
        self.link.read(buf).map_err(timed_out)
    }
}

impl Write for DeadlineLink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.arm()?;
        self.link.write(buf).map_err(timed_out)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.arm()?;
        self.link.flush().map_err(timed_out)
    }
}
