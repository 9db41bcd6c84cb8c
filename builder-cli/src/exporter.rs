//! The optional HTTP exporter (cargo feature `exporter`, on by default).

use std::sync::Arc;

use anyhow::Result;
use metrics_core::Families;

use crate::cli::ExporterArgs;

/// A running exporter, or nothing.
#[derive(Debug)]
pub struct Served {
    #[cfg(feature = "exporter")]
    inner: Option<metrics_exporter_http::Exporter>,
}

impl Served {
    /// Starts an exporter when `--prometheus-port` is set and not 0.
    pub fn start(args: &ExporterArgs, families: Arc<dyn Families + Send + Sync>) -> Result<Served> {
        let Some(port) = args.port() else {
            let _ = families;
            return Ok(Served {
                #[cfg(feature = "exporter")]
                inner: None,
            });
        };
        #[cfg(feature = "exporter")]
        {
            let config =
                metrics_exporter_http::Config::new(args.prometheus_address.to_string(), port);
            let exporter = metrics_exporter_http::Exporter::start(config, families)?;
            Ok(Served {
                inner: Some(exporter),
            })
        }
        #[cfg(not(feature = "exporter"))]
        {
            let _ = (port, families);
            eprintln!(
                "builder_cli: warning: metrics export is not compiled in (cargo feature \
                 `exporter`); --prometheus-port is ignored"
            );
            Ok(Served {})
        }
    }

    /// The address served, if any.
    pub fn address(&self) -> Option<std::net::SocketAddr> {
        #[cfg(feature = "exporter")]
        {
            self.inner.as_ref().map(|e| e.local_addr())
        }
        #[cfg(not(feature = "exporter"))]
        {
            None
        }
    }

    /// Stops serving.
    pub fn stop(self) {
        #[cfg(feature = "exporter")]
        if let Some(e) = self.inner {
            e.stop();
        }
    }
}
