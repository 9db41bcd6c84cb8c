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
    tls: bool,
}

impl Served {
    /// Starts an exporter when `--prometheus-port` is set and not 0.
    pub fn start(args: &ExporterArgs, families: Arc<dyn Families + Send + Sync>) -> Result<Served> {
        let Some(port) = args.port() else {
            if let Some(file) = &args.web_config_file {
                anyhow::bail!(
                    "--web-config-file {} is given but there is no exporter: add \
                     --prometheus-port",
                    file.display()
                );
            }
            let _ = families;
            return Ok(Served {
                #[cfg(feature = "exporter")]
                inner: None,
                tls: false,
            });
        };
        #[cfg(feature = "exporter")]
        {
            let web = args
                .web_config_file
                .as_ref()
                .map(metrics_exporter_http::WebConfig::from_file)
                .transpose()?;
            let tls = web.as_ref().is_some_and(|w| w.tls());
            let config =
                metrics_exporter_http::Config::new(args.prometheus_address.to_string(), port)
                    .web_config(web)
                    .created(!args.disable_created_series);
            let exporter = metrics_exporter_http::Exporter::start(config, families)?;
            Ok(Served {
                inner: Some(exporter),
                tls,
            })
        }
        #[cfg(not(feature = "exporter"))]
        {
            let _ = (port, families);
            eprintln!(
                "builder_cli: warning: metrics export is not compiled in (cargo feature \
                 `exporter`); --prometheus-port is ignored"
            );
            Ok(Served { tls: false })
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

    /// The metrics URL served, if any (`https` with a TLS web config).
    pub fn url(&self) -> Option<String> {
        let scheme = if self.tls { "https" } else { "http" };
        self.address().map(|a| format!("{scheme}://{a}/metrics"))
    }

    /// Stops serving.
    pub fn stop(self) {
        #[cfg(feature = "exporter")]
        if let Some(e) = self.inner {
            e.stop();
        }
    }
}
