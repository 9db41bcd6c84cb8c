//! `embedded_io` over `embedded-hal-nb` serial, for HALs that offer only that (`nb` feature).

use embedded_hal_nb::serial;

/// Wraps an `embedded-hal-nb` serial port as an `embedded_io::Read + Write` byte stream.
///
/// `read` blocks (spinning on `WouldBlock`) until one byte arrives, then takes what else is
/// ready without blocking; `write` blocks per byte.
#[derive(Debug)]
pub struct NbSerial<S>(pub S);

/// The serial port's error, as an `embedded_io` error.
#[derive(Debug)]
pub struct NbError<E>(pub E);

impl<E: serial::Error> embedded_io::Error for NbError<E> {
    fn kind(&self) -> embedded_io::ErrorKind {
        embedded_io::ErrorKind::Other
    }
}

impl<S: serial::ErrorType> embedded_io::ErrorType for NbSerial<S> {
    type Error = NbError<S::Error>;
}

impl<S: serial::Read<u8>> embedded_io::Read for NbSerial<S> {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, Self::Error> {
        let Some((first, rest)) = buf.split_first_mut() else {
            return Ok(0);
        };
        *first = nb::block!(self.0.read()).map_err(NbError)?;
        let mut n = 1;
        for slot in rest {
            match self.0.read() {
                Ok(b) => *slot = b,
                Err(nb::Error::WouldBlock) => break,
                Err(nb::Error::Other(e)) => return Err(NbError(e)),
            }
            n += 1;
        }
        Ok(n)
    }
}

impl<S: serial::Write<u8>> embedded_io::Write for NbSerial<S> {
    fn write(&mut self, buf: &[u8]) -> Result<usize, Self::Error> {
        for &b in buf {
            nb::block!(self.0.write(b)).map_err(NbError)?;
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> Result<(), Self::Error> {
        nb::block!(self.0.flush()).map_err(NbError)
    }
}
