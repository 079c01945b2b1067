//! The command line: `vector-store-server [serve|migrate|keys]`, and the hidden `extract` that
//! the service starts as its text-extraction sandbox.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use crate::settings::Settings;
use crate::telemetry::{get_subscriber, init_subscriber};
use anyhow::Context;
use clap::{Parser, Subcommand};
use service::AuthService;

#[derive(Parser)]
#[command(
    version,
    about = "An OpenAI-compatible vector store over pgvector and Elasticsearch"
)]
struct Cli {
    /// A TOML configuration file layered over the defaults (or VECTOR_STORE_CONFIG).
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the HTTP service (the default).
    Serve,
    /// Apply database migrations and exit.
    Migrate,
    /// Manage API keys.
    #[command(subcommand)]
    Keys(Keys),
    /// Print the OpenAPI document (what `GET /openapi.json` serves) and exit.
    Openapi,
    /// Extract the text of one file: its bytes on standard input, its text on standard output,
    /// under the limits given (the service's text-extraction sandbox).
    #[command(hide = true)]
    Extract {
        #[arg(long)]
        filename: String,
        #[arg(long)]
        memory_bytes: u64,
        #[arg(long)]
        cpu_secs: u64,
    },
}

#[derive(Subcommand)]
enum Keys {
    /// Create a key for a tenant (created if missing); the key is printed once.
    Create {
        #[arg(long)]
        tenant: String,
    },
    /// List keys (prefixes only).
    List,
    /// Revoke a key by id or prefix.
    Revoke { id_or_prefix: String },
}

/// Parses the command line and runs it.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    // The sandbox child reads no settings and starts no runtime.
    if let Some(Command::Extract {
        filename,
        memory_bytes,
        cpu_secs,
    }) = &cli.command
    {
        return service::sandbox::child_main(filename, *memory_bytes, *cpu_secs);
    }
    // The document needs no settings, database or model.
    if let Some(Command::Openapi) = &cli.command {
        println!(
            "{}",
            String::from_utf8_lossy(&api_http::openapi::DocumentJson::new().0)
        );
        return ExitCode::SUCCESS;
    }
    let result = Settings::load(cli.config.as_deref()).and_then(|settings| {
        init_subscriber(get_subscriber(
            &settings.log.level,
            settings.log.format,
            std::io::stderr,
        ));
        tokio::runtime::Runtime::new()
            .context("could not start the runtime")?
            .block_on(run(cli.command.unwrap_or(Command::Serve), settings))
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("vector-store-server: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// SIGTERM (a deployment's stop) or SIGINT (Ctrl-C).
async fn stop_signal() -> anyhow::Result<()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate()).context("listening for SIGTERM")?;
        tokio::select! {
            _ = term.recv() => {}
            r = tokio::signal::ctrl_c() => r.context("listening for SIGINT")?,
        }
    }
    #[cfg(not(unix))]
    tokio::signal::ctrl_c()
        .await
        .context("listening for Ctrl-C")?;
    Ok(())
}

async fn run(command: Command, settings: Settings) -> anyhow::Result<()> {
    match command {
        Command::Extract { .. } | Command::Openapi => {
            unreachable!("handled before the settings are read")
        }
        Command::Serve => {
            let (app, background) = crate::build(&settings, None).await?;
            tracing::info!(
                host = %settings.server.host,
                port = app.port(),
                auth = ?settings.auth.mode,
                "listening"
            );
            let handle = app.handle();
            let mut server = tokio::spawn(app.run_until_stopped());
            tokio::select! {
                stopped = &mut server => {
                    stopped.context("the HTTP server stopped")??;
                }
                signal = stop_signal() => {
                    signal?;
                    // Workers claim nothing more and hand back their jobs (another server takes
                    // them at once) while the requests in progress finish.
                    tracing::info!(
                        "stopping: handing back ingestion jobs and finishing the requests in \
                         progress"
                    );
                    let grace = Duration::from_secs(settings.server.shutdown_timeout_secs);
                    tokio::join!(background.stop(grace), handle.stop(true));
                    server.await.context("the HTTP server stopped")??;
                }
            }
            tracing::info!("stopped");
        }
        Command::Migrate => {
            crate::connect_database(&settings).await?;
            println!("migrations applied");
        }
        Command::Keys(keys) => {
            let (catalog, _pool) = crate::catalog(&settings).await?;
            let auth = AuthService::new(
                catalog,
                settings.auth.mode,
                &settings.auth.default_tenant,
                Duration::ZERO,
            )
            .await?;
            match keys {
                Keys::Create { tenant } => {
                    let (record, key) = auth.create_key(&tenant).await?;
                    println!("{key}");
                    eprintln!(
                        "created key {} ({}) for tenant '{}'; it is shown only this once",
                        record.id, record.prefix, record.tenant.name
                    );
                }
                Keys::List => {
                    for k in auth.list_keys().await? {
                        let state = if k.revoked_at.is_some() {
                            "revoked"
                        } else {
                            "active"
                        };
                        println!(
                            "{}\t{}…\t{}\t{}\t{}",
                            k.id, k.prefix, k.tenant.name, k.created_at, state
                        );
                    }
                }
                Keys::Revoke { id_or_prefix } => {
                    let k = auth.revoke_key(&id_or_prefix).await?;
                    println!(
                        "revoked {} ({}…) of tenant '{}'",
                        k.id, k.prefix, k.tenant.name
                    );
                }
            }
        }
    }
    Ok(())
}
