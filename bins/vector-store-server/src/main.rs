//! `vector-store-server [serve|migrate|keys]`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use api_http::service::AuthService;
use clap::{Parser, Subcommand};
use vector_store_server::settings::Settings;
use vector_store_server::telemetry::{get_subscriber, init_subscriber};

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

fn main() -> ExitCode {
    let cli = Cli::parse();
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

async fn run(command: Command, settings: Settings) -> anyhow::Result<()> {
    match command {
        Command::Serve => {
            let app = vector_store_server::build(&settings, None).await?;
            tracing::info!(host = %settings.server.host, port = app.port(), auth = ?settings.auth.mode, "listening");
            app.run_until_stopped().await?;
            tracing::info!("stopped");
        }
        Command::Migrate => {
            vector_store_server::connect_database(&settings).await?;
            println!("migrations applied");
        }
        Command::Keys(keys) => {
            let (catalog, _pool) = vector_store_server::catalog(&settings).await?;
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
