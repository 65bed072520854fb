//! The dstack server: HTTP API, database, pipelines and backends.
//!
//! [`serve`] runs the server on a bound listener until a shutdown future completes:
//! migrations, the first-start admin and `main` project, `~/.dstack/config.yml`, then the API.

pub mod api;
pub mod backends;
pub mod client_config;
pub mod connect;
pub mod db;
pub mod pipelines;
pub mod server_config;
pub mod services;
pub mod settings;

use std::future::Future;

use tokio::net::TcpListener;

pub use crate::api::version::SERVER_VERSION;
use crate::backends::local::LocalBackend;
use crate::client_config::{ClientConfig, ClientConfigError};
use crate::connect::{PoolSettings, SshPool};
use crate::db::{Database, DbError};
use crate::pipelines::context::Scheduler;
use crate::pipelines::hints::Hints;
use crate::server_config::{Loaded, ServerConfig, ServerConfigError};
use crate::services::bootstrap::{self, Admin, MAIN_PROJECT};
use crate::services::encryption::Encryption;
use crate::services::{ServiceError, projects};
pub use crate::settings::Settings;

/// Why the server could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The database could not be opened or migrated.
    #[error("cannot open the database")]
    Database(#[from] DbError),
    /// The server configuration file is unreadable or invalid.
    #[error(transparent)]
    ServerConfig(#[from] ServerConfigError),
    /// The admin user or a configured project could not be created.
    #[error("cannot create the admin user and projects")]
    Bootstrap(#[from] ServiceError),
    /// The client configuration could not be written.
    #[error(transparent)]
    ClientConfig(#[from] ClientConfigError),
    /// The listener failed.
    #[error("the HTTP server failed")]
    Io(#[from] std::io::Error),
}

/// Runs the server on `listener` until `shutdown` completes.
pub async fn serve(
    settings: Settings,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    let server_dir = settings.server_dir();
    let database_url = settings.database_url.as_ref().map(|url| url.0.as_str());
    let db = Database::open(database_url, &server_dir).await?;
    let result = start(&settings, &db, listener, shutdown).await;
    db.close().await;
    result
}

async fn start(
    settings: &Settings,
    db: &Database,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    let server_dir = settings.server_dir();
    let config = match ServerConfig::load_or_init(&server_dir)? {
        Loaded::Initialized(config) => {
            tracing::info!(
                "Initialized the default configuration at {}",
                server_dir.join("config.yml").display()
            );
            config
        }
        Loaded::Existing(config) => {
            tracing::info!("Applying {}...", server_dir.join("config.yml").display());
            config
        }
    };
    let admin_token = settings.admin_token.as_ref().map(|token| token.0.as_str());
    let client_config = ClientConfig::load(&settings.client_config_path());
    let configured_tokens: Vec<String> = client_config
        .projects
        .iter()
        .filter(|project| project.name == MAIN_PROJECT)
        .map(|project| project.token.clone())
        .collect();
    let admin =
        bootstrap::ensure_admin_and_main(db.pool(), admin_token, &configured_tokens).await?;
    let encryption = Encryption::new(config.encryption_keys());
    apply_server_config(db, &encryption, &admin, &config).await?;

    let url = match &settings.server_url {
        Some(url) => url.clone(),
        None => format!("http://{}", listener.local_addr()?),
    };
    update_client_config(settings, &admin, &url)?;
    if admin.token_known {
        tracing::info!("The admin token is {}", admin.caller.token);
    } else {
        tracing::info!(
            "The admin token is stored hashed and is not in {}; start with --token or \
             DSTACK_SERVER_ADMIN_TOKEN to print it",
            settings.client_config_path().display()
        );
    }
    tracing::info!("The dstack server {SERVER_VERSION} is running at {url}");

    let hints = Hints::new();
    let mut local = LocalBackend::new(
        &server_dir,
        settings.shim_binary(),
        settings.runner_binary(),
    );
    if settings.local_backend_disabled {
        local = local.disabled();
    }
    let scheduler = Scheduler::new(
        db.clone(),
        hints.clone(),
        local.clone(),
        SshPool::new(PoolSettings::default()),
    );
    let _pipelines =
        (!settings.background_processing_disabled).then(|| pipelines::start(&scheduler));
    let app = api::router(api::AppState {
        db: db.clone(),
        encryption,
        permissions: config.permissions(),
        integrations: settings.integrations.clone(),
        code_upload_limit: settings.code_upload_limit,
        hints,
        local,
    });
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await?;
    Ok(())
}

/// Creates the projects the file lists and applies their backends. A backend the server
/// refuses (a type it does not implement) is logged and skipped, so the server still starts.
async fn apply_server_config(
    db: &Database,
    encryption: &Encryption,
    admin: &Admin,
    config: &ServerConfig,
) -> Result<(), ServeError> {
    for name in config.project_names() {
        projects::ensure(db.pool(), &admin.caller, name).await?;
    }
    for section in &config.projects {
        let backends = section.backends.as_deref().unwrap_or_default();
        if backends.is_empty() {
            continue;
        }
        let Some(project) = db::projects::find_by_name(db.pool(), &section.name).await? else {
            continue;
        };
        for backend in backends {
            let applied = match backend {
                serde_json::Value::Object(config) => {
                    crate::services::backends::apply(
                        db.pool(),
                        encryption,
                        &project,
                        config.clone(),
                    )
                    .await
                }
                _ => Err(ServiceError::Invalid(
                    "a backend must be a mapping with a `type`".to_owned(),
                )),
            };
            match applied {
                Ok(()) => {}
                Err(ServiceError::Invalid(reason)) => tracing::warn!(
                    "config.yml: project {}: backend skipped: {reason}",
                    section.name
                ),
                Err(other) => return Err(other.into()),
            }
        }
    }
    Ok(())
}

/// Writes the `main` project into `~/.dstack/config.yml` when it is missing or differs, unless
/// `-n`; an existing, different default is replaced only with `-y`.
fn update_client_config(settings: &Settings, admin: &Admin, url: &str) -> Result<(), ServeError> {
    if settings.no || !admin.token_known {
        return Ok(());
    }
    let path = settings.client_config_path();
    let mut config = ClientConfig::load(&path);
    let token = admin.caller.token.as_str();
    let wanted = |p: &client_config::ProjectConfig| {
        p.name == MAIN_PROJECT && p.url == url && p.token == token
    };
    match config.default_project() {
        Some(current) if wanted(current) => return Ok(()),
        Some(_) if !settings.yes => {
            tracing::info!(
                "Not updating the default project in {}; run with -y to update it",
                path.display()
            );
            return Ok(());
        }
        _ => {}
    }
    config.configure_project(MAIN_PROJECT, url, token, true);
    config.save(&path)?;
    tracing::info!("Configured the main project in {}", path.display());
    Ok(())
}
