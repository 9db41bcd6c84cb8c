//! The crate's error type: what went wrong starting an exporter, and what to do about it.

use std::fmt;
use std::io;
use std::net::SocketAddr;

/// Why an [`Exporter`](crate::Exporter) could not start.
///
/// Every message names the offending value and says how to fix it. The variants that wrap an
/// operating-system error also return it from [`std::error::Error::source`].
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The host is not an IP address. Nothing was bound.
    InvalidAddress {
        /// The host as given.
        host: String,
    },
    /// The address could not be bound (port in use, no permission, not a local address).
    Bind {
        /// The address that was asked for.
        address: SocketAddr,
        /// The operating system's error.
        source: io::Error,
    },
    /// A configuration value is out of range. Nothing was bound.
    InvalidConfig {
        /// Which setting, and what it must be.
        reason: &'static str,
    },
    /// A worker thread could not be started (the system is out of threads or memory).
    Spawn {
        /// The operating system's error.
        source: io::Error,
    },
    /// The web configuration file (TLS, basic auth) cannot be read or is refused.
    WebConfig {
        /// The file.
        file: std::path::PathBuf,
        /// What is wrong and how to fix it.
        message: String,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::InvalidAddress { host } => write!(
                f,
                "invalid listen address {host:?}: expected an IP address such as 0.0.0.0 (all \
                 IPv4 interfaces), 127.0.0.1 (this machine only), :: or ::1; host names are not \
                 resolved"
            ),
            Error::Bind { address, source } => {
                write!(f, "cannot listen on {address}: {source}; ")?;
                f.write_str(match source.kind() {
                    io::ErrorKind::AddrInUse => {
                        "another process uses this port: choose another port, or port 0 to \
                         let the system pick a free one"
                    }
                    io::ErrorKind::PermissionDenied => {
                        "ports below 1024 need privileges: choose a port above 1023, or port 0 \
                         to let the system pick a free one"
                    }
                    io::ErrorKind::AddrNotAvailable => {
                        "this address does not belong to this machine: use 0.0.0.0 (all \
                         interfaces), 127.0.0.1, or one of its own addresses"
                    }
                    _ => {
                        "check the address, or choose another port (port 0 lets the system pick \
                         a free one)"
                    }
                })
            }
            Error::InvalidConfig { reason } => {
                write!(f, "invalid exporter configuration: {reason}")
            }
            Error::Spawn { source } => write!(
                f,
                "cannot start an exporter worker thread: {source}; lower the number of workers \
                 or raise the process's thread limit"
            ),
            Error::WebConfig { file, message } => {
                write!(f, "web configuration file {}: {message}", file.display())
            }
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Bind { source, .. } | Error::Spawn { source } => Some(source),
            Error::InvalidAddress { .. }
            | Error::InvalidConfig { .. }
            | Error::WebConfig { .. } => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bind_messages_name_the_address_and_say_what_to_do() {
        let address: SocketAddr = "127.0.0.1:9099".parse().unwrap();
        let e = Error::Bind {
            address,
            source: io::Error::from(io::ErrorKind::AddrInUse),
        };
        let m = e.to_string();
        assert!(m.contains("127.0.0.1:9099"), "{m}");
        assert!(m.contains("choose another port"), "{m}");
        assert!(std::error::Error::source(&e).is_some());

        let e = Error::Bind {
            address: "0.0.0.0:80".parse().unwrap(),
            source: io::Error::from(io::ErrorKind::PermissionDenied),
        };
        assert!(e.to_string().contains("above 1023"), "{e}");
    }

    #[test]
    fn invalid_address_message() {
        let m = Error::InvalidAddress {
            host: "localhost:80".into(),
        }
        .to_string();
        assert!(m.contains("\"localhost:80\""), "{m}");
        assert!(m.contains("127.0.0.1"), "{m}");
    }
}
