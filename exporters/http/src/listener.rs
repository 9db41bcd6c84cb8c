//! Binding the listening socket, with the options every accepted connection inherits.
//!
//! tiny_http accepts connections and reads request heads on its own threads and never hands
//! out the sockets, so the only way to set options on them is to set them on the listener:
//! Linux copies a listener's socket options into every socket it accepts (the send timeout's
//! effect is checked by `tests/hostile.rs`). What is set here:
//!
//! - `SO_SNDTIMEO` = the write timeout: a `send` to a client that does not read returns after
//!   that long instead of blocking a worker forever (`response.rs` adds a deadline over the
//!   whole response). `SO_RCVTIMEO` cannot be used the same way: on a listener it is also the
//!   timeout of `accept`, whose first expiry would end tiny_http's accept loop for good.
//! - `TCP_NODELAY`: a response is written as head then body; without it, Nagle's algorithm
//!   and the client's delayed ACK can add 40 ms to a small response.
//! - TCP keepalive after 60 s idle: connections whose peer vanished (host crashed, network
//!   gone) are eventually closed, which ends the tiny_http thread waiting on them.

use std::io;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

use socket2::{Domain, Protocol, SockAddr, Socket, TcpKeepalive, Type};

use crate::Error;

/// Pending connections the kernel queues before `accept`.
const BACKLOG: i32 = 128;
/// Idle time before the first keepalive probe.
const KEEPALIVE_IDLE: Duration = Duration::from_secs(60);

/// Binds `address` and starts listening.
pub(crate) fn bind(address: SocketAddr, write_timeout: Duration) -> Result<TcpListener, Error> {
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
    socket.set_write_timeout(Some(write_timeout)).map_err(err)?;
    socket.set_tcp_nodelay(true).map_err(err)?;
    socket
        .set_tcp_keepalive(&TcpKeepalive::new().with_time(KEEPALIVE_IDLE))
        .map_err(err)?;
    socket.bind(&SockAddr::from(address)).map_err(err)?;
    socket.listen(BACKLOG).map_err(err)?;
    Ok(socket.into())
}

/// Waits until nothing listens on `address` any more (a connection is refused), for at most
/// `limit`, or until a connection attempt fails otherwise. tiny_http's accept thread owns the
/// listener and closes it when it ends, shortly after its `Server` is dropped; this is how
/// `stop` knows the port is free again.
pub(crate) fn wait_closed(address: SocketAddr, limit: Duration) {
    let target = connectable(address);
    let deadline = Instant::now() + limit;
    // A connection that succeeds means still listening: the accept thread has not reached its
    // exit check yet (the connection is dropped at once; tiny_http reads end-of-stream from
    // it). A refused one means closed; any other error (no route, timeout) cannot tell, so
    // waiting ends too.
    while TcpStream::connect_timeout(&target, Duration::from_millis(100)).is_ok()
        && Instant::now() < deadline
    {
        thread::sleep(Duration::from_millis(2));
    }
}

/// The address to connect to in order to reach a listener on `address`: the loopback address
/// for a wildcard (`0.0.0.0`, `::`), the address itself otherwise.
pub(crate) fn connectable(address: SocketAddr) -> SocketAddr {
    let mut target = address;
    if address.ip().is_unspecified() {
        target.set_ip(match address {
            SocketAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
            SocketAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
        });
    }
    target
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_connect_to_loopback() {
        assert_eq!(
            connectable("0.0.0.0:9".parse().unwrap()).to_string(),
            "127.0.0.1:9"
        );
        assert_eq!(
            connectable("[::]:9".parse().unwrap()).to_string(),
            "[::1]:9"
        );
        assert_eq!(
            connectable("10.1.2.3:9".parse().unwrap()).to_string(),
            "10.1.2.3:9"
        );
    }

    #[test]
    fn bind_reports_the_address() {
        let taken = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = taken.local_addr().unwrap();
        match bind(address, Duration::from_secs(1)) {
            Err(Error::Bind { address: a, source }) => {
                assert_eq!(a, address);
                assert_eq!(source.kind(), io::ErrorKind::AddrInUse);
            }
            other => panic!("{other:?}"),
        }
    }
}
