//! The exporter: a [`Server`] whose handler serves one registry.

use std::net::SocketAddr;
use std::sync::Arc;

use metrics_core::Families;

use crate::self_metrics::SelfMetrics;
use crate::worker::Exposition;
use crate::{Config, Error, Server};

/// A running HTTP exporter: serves a registry on `/metrics` until stopped or dropped.
///
/// See the [crate documentation](crate) for the routes and an example.
#[derive(Debug)]
#[must_use = "dropping the exporter stops it: keep it for as long as it should serve"]
pub struct Exporter {
    server: Server,
}

impl Exporter {
    /// Checks `config`, binds its address and starts serving `registry` (a
    /// [`metrics_core::Registry`], a [`metrics_core::StaticRegistry`] or anything that
    /// implements [`Families`]).
    ///
    /// Returns once the port is listening: a scrape can be made at once. Errors: an invalid
    /// setting or host ([`Error::InvalidConfig`], [`Error::InvalidAddress`]) before anything
    /// is bound; [`Error::Bind`] when the address cannot be bound (port in use...);
    /// [`Error::Spawn`] when a thread cannot be started.
    pub fn start(
        config: Config,
        registry: Arc<dyn Families + Send + Sync>,
    ) -> Result<Exporter, Error> {
        config.validate()?;
        let handler = Exposition {
            registry,
            self_metrics: config.self_metrics.then(|| Arc::new(SelfMetrics::new())),
            config: config.clone(),
        };
        let server = Server::start(&config, handler)?;
        Ok(Exporter { server })
    }

    /// The address the exporter listens on, with the port the system picked when the
    /// configured port was 0.
    pub fn local_addr(&self) -> SocketAddr {
        self.server.local_addr()
    }

    /// The port the exporter listens on.
    pub fn port(&self) -> u16 {
        self.local_addr().port()
    }

    /// Stops serving: the workers finish the requests they are answering and end, the
    /// listener and every connection are closed and the port released. Dropping the exporter
    /// does the same.
    pub fn stop(self) {
        self.server.stop();
    }
}
