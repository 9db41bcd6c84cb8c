//! Binding the listening socket.
//!
//! - A backlog of 1024 pending connections: a burst of connections waits in the kernel
//!   rather than being dropped (a dropped SYN costs the client a one-second retransmit).
//! - TCP keepalive after 60 s idle, inherited by every accepted socket: connections whose
//!   peer vanished (host crashed, network gone) are eventually closed.
//!
//! Accepted sockets get their own options in the reactor (`TCP_NODELAY`, `SO_SNDTIMEO` = the
//! write timeout, non-blocking).

use std::io;
use std::net::{SocketAddr, TcpListener};
use std::time::Duration;

use socket2::{Domain, Protocol, SockAddr, Socket, TcpKeepalive, Type};

use crate::Error;

/// Pending connections the kernel queues before `accept`.
const BACKLOG: i32 = 1024;
/// Idle time before the first keepalive probe.
const KEEPALIVE_IDLE: Duration = Duration::from_secs(60);

/// Binds `address` and starts listening.
pub(crate) fn bind(address: SocketAddr) -> Result<TcpListener, Error> {
    let err = |source: io::Error| Error::Bind { address, source };
    let socket = Socket::new(
        Domain::for_address(address),
        Type::STREAM,
        Some(Protocol::TCP),
    )
    .map_err(err)?;
    // As std's `TcpListener::bind` does on Unix: a restarted exporter can bind its port while
    // connections of the previous one are still in TIME_WAIT. (On Windows the same option
    // would let two listeners share a port, so it is left alone there.)
    #[cfg(unix)]
    socket.set_reuse_address(true).map_err(err)?;
    socket
        .set_tcp_keepalive(&TcpKeepalive::new().with_time(KEEPALIVE_IDLE))
        .map_err(err)?;
    socket.bind(&SockAddr::from(address)).map_err(err)?;
    socket.listen(BACKLOG).map_err(err)?;
    Ok(socket.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bind_reports_the_address() {
        let taken = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = taken.local_addr().unwrap();
        match bind(address) {
            Err(Error::Bind { address: a, source }) => {
                assert_eq!(a, address);
                assert_eq!(source.kind(), io::ErrorKind::AddrInUse);
            }
            other => panic!("{other:?}"),
        }
    }
}
