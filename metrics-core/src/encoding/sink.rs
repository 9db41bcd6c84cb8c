//! Byte sinks for the encoders: anything that implements `core::fmt::Write`.

use core::fmt;

/// A text sink whose vtable holds `write_str` alone: what [`Collect::write_rendered`] writes
/// into. A `dyn fmt::Write` would do, but its vtable also holds `write_fmt`, which links all of
/// `core::fmt`'s formatting machinery into a WASM module that otherwise needs none of it.
/// Every `dyn Sink` is a [`fmt::Write`].
///
/// [`Collect::write_rendered`]: crate::Collect::write_rendered
#[doc(hidden)]
pub trait Sink {
    /// As [`fmt::Write::write_str`].
    fn write_str(&mut self, s: &str) -> fmt::Result;
    /// This sink as a `dyn Sink` (a `dyn Sink` lends itself as it is, not wrapped again).
    fn as_dyn(&mut self) -> &mut (dyn Sink + '_);
}

impl fmt::Write for dyn Sink + '_ {
    #[inline]
    fn write_str(&mut self, s: &str) -> fmt::Result {
        Sink::write_str(self, s)
    }
}

/// Any `fmt::Write` as a [`Sink`].
pub(crate) struct SinkOf<'a, W: ?Sized>(pub(crate) &'a mut W);

impl<W: fmt::Write + ?Sized> Sink for SinkOf<'_, W> {
    #[inline]
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.0.write_str(s)
    }
    fn as_dyn(&mut self) -> &mut (dyn Sink + '_) {
        self
    }
}

impl<W: fmt::Write + ?Sized> fmt::Write for SinkOf<'_, W> {
    #[inline]
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.0.write_str(s)
    }
}

/// A byte sink as a text writer (the text formats into [`Bytes`](crate::remote_write::Bytes)).
pub(crate) struct TextBytes<'a, B: ?Sized>(pub(crate) &'a mut B);

impl<B: crate::remote_write::Bytes + ?Sized> fmt::Write for TextBytes<'_, B> {
    #[inline]
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.0.put(s.as_bytes()).map_err(|_| fmt::Error)
    }
}

/// Writes into a fixed byte buffer; fails (with nothing partial reported as success) once it is
/// full.
#[derive(Debug)]
pub struct SliceWriter<'a> {
    buf: &'a mut [u8],
    len: usize,
}

impl<'a> SliceWriter<'a> {
    /// A writer at the start of `buf`.
    pub fn new(buf: &'a mut [u8]) -> Self {
        SliceWriter { buf, len: 0 }
    }

    /// Bytes written so far.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when nothing was written.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The bytes written so far.
    pub fn written(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

impl fmt::Write for SliceWriter<'_> {
    #[inline]
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let end = self.len + s.len();
        let dst = self.buf.get_mut(self.len..end).ok_or(fmt::Error)?;
        dst.copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

/// Appends to a `Vec<u8>`.
#[cfg(feature = "alloc")]
#[derive(Debug)]
pub struct VecWriter<'a>(&'a mut alloc::vec::Vec<u8>);

#[cfg(feature = "alloc")]
impl<'a> VecWriter<'a> {
    /// A writer appending to `out`.
    pub fn new(out: &'a mut alloc::vec::Vec<u8>) -> Self {
        VecWriter(out)
    }
}

#[cfg(feature = "alloc")]
impl fmt::Write for VecWriter<'_> {
    #[inline]
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.0.extend_from_slice(s.as_bytes());
        Ok(())
    }
}

/// Writes into a `std::io::Write`, keeping the I/O error (wrap a `BufWriter` around sockets).
#[cfg(feature = "std")]
#[derive(Debug)]
pub struct IoWriter<W> {
    inner: W,
    error: Option<std::io::Error>,
}

#[cfg(feature = "std")]
impl<W: std::io::Write> IoWriter<W> {
    /// Wraps `inner`.
    pub fn new(inner: W) -> Self {
        IoWriter { inner, error: None }
    }

    /// The first I/O error, if a write failed.
    pub fn take_error(&mut self) -> Option<std::io::Error> {
        self.error.take()
    }

    /// The wrapped writer.
    pub fn into_inner(self) -> W {
        self.inner
    }
}

#[cfg(feature = "std")]
impl<W: std::io::Write> fmt::Write for IoWriter<W> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.inner.write_all(s.as_bytes()).map_err(|e| {
            self.error = Some(e);
            fmt::Error
        })
    }
}
