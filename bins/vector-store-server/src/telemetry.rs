//! Logging through `tracing`: human-readable or JSON lines, filtered by `RUST_LOG` or the
//! configured level. Request logs carry method, path, status and timing, never headers.

use tracing::Subscriber;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::{EnvFilter, Registry, layer::SubscriberExt};

use crate::settings::LogFormat;

pub fn get_subscriber<Sink>(
    default_level: &str,
    format: LogFormat,
    sink: Sink,
) -> Box<dyn Subscriber + Send + Sync>
where
    Sink: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_level));
    let registry = Registry::default().with(filter);
    match format {
        LogFormat::Json => {
            Box::new(registry.with(tracing_subscriber::fmt::layer().json().with_writer(sink)))
        }
        LogFormat::Human => Box::new(
            registry.with(
                tracing_subscriber::fmt::layer()
                    .with_target(false)
                    .with_writer(sink),
            ),
        ),
    }
}

/// Installs the subscriber; a second call (tests) is ignored.
pub fn init_subscriber(subscriber: Box<dyn Subscriber + Send + Sync>) {
    let _ = tracing::subscriber::set_global_default(subscriber);
}
