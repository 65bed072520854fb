//! The HTTP API: one module per resource group, each decoding the request, checking the
//! caller with an extractor from [`auth`] and calling one service.
//!
//! - [`router`]: every route in one list.
//! - [`error`]: `ServerError` and its table of dstack status codes and bodies.
//! - [`body`]: JSON bodies that name the bad field; [`version`]: the client version rule.

pub mod auth;
pub mod backends;
pub mod body;
pub mod error;
pub mod events;
pub mod exports;
pub mod files;
pub mod fleets;
pub mod gateways;
pub mod gpus;
pub mod instances;
pub mod logs;
pub mod metrics;
pub mod projects;
pub mod prometheus;
pub mod public_keys;
pub mod repos;
pub mod runs;
pub mod secrets;
pub mod server;
pub mod sshproxy;
pub mod templates;
pub mod uploads;
pub mod users;
pub mod version;
pub mod volumes;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request};
use axum::middleware;
use axum::routing::{get, post};

use self::error::ServerError;
use crate::backends::local::LocalBackend;
use crate::db::Database;
use crate::pipelines::hints::Hints;
use crate::server_config::DefaultPermissions;
use crate::services::encryption::Encryption;
use crate::settings::Integrations;

/// What every handler shares.
#[derive(Debug, Clone)]
pub struct AppState {
    /// The database.
    pub db: Database,
    /// The keys that encrypt secrets.
    pub encryption: Encryption,
    /// The server's `default_permissions`.
    pub permissions: DefaultPermissions,
    /// Switches and tokens of `/api/sshproxy` and `/metrics`.
    pub integrations: Integrations,
    /// The largest upload in bytes; 0 for no limit.
    pub code_upload_limit: u64,
    /// Wakes the pipelines after a change they act on.
    pub hints: Hints,
    /// Slices of this host, offered in plans.
    pub local: LocalBackend,
}

/// Room for the multipart framing around an upload of the largest allowed size.
const MULTIPART_OVERHEAD: usize = 64 * 1024;

/// All routes of the server.
pub fn router(state: AppState) -> Router {
    let api = Router::new()
        .route("/server/get_info", post(server::get_info))
        .route("/users/get_my_user", post(users::get_my_user))
        .route("/users/list", post(users::list))
        .route("/users/get_user", post(users::get_user))
        .route("/users/create", post(users::create))
        .route("/users/update", post(users::update))
        .route("/users/refresh_token", post(users::refresh_token))
        .route("/users/delete", post(users::delete))
        .route("/projects/list", post(projects::list))
        .route("/projects/create", post(projects::create))
        .route("/projects/delete", post(projects::delete))
        .route("/projects/{project_name}/get", post(projects::get))
        .route(
            "/projects/{project_name}/set_members",
            post(projects::set_members),
        )
        .route(
            "/projects/{project_name}/add_members",
            post(projects::add_members),
        )
        .route(
            "/projects/{project_name}/remove_members",
            post(projects::remove_members),
        )
        .route("/projects/{project_name}/update", post(projects::update))
        .route("/backends/list_types", post(backends::list_types))
        .route("/project/{project_name}/secrets/list", post(secrets::list))
        .route("/project/{project_name}/secrets/get", post(secrets::get))
        .route(
            "/project/{project_name}/secrets/create_or_update",
            post(secrets::create_or_update),
        )
        .route(
            "/project/{project_name}/secrets/delete",
            post(secrets::delete),
        )
        .route("/events/list", post(events::list))
        .route(
            "/project/{project_name}/templates/list",
            post(templates::list),
        )
        .route(
            "/project/{project_name}/exports/create",
            post(exports::create),
        )
        .route(
            "/project/{project_name}/exports/update",
            post(exports::update),
        )
        .route(
            "/project/{project_name}/exports/delete",
            post(exports::delete),
        )
        .route("/project/{project_name}/exports/list", post(exports::list))
        .route(
            "/project/{project_name}/imports/list",
            post(exports::list_imports),
        )
        .route(
            "/project/{project_name}/imports/delete",
            post(exports::delete_import),
        )
        .route("/sshproxy/get_upstream", post(sshproxy::get_upstream))
        .route(
            "/project/{project_name}/backends/create",
            post(backends::create),
        )
        .route(
            "/project/{project_name}/backends/update",
            post(backends::update),
        )
        .route(
            "/project/{project_name}/backends/create_yaml",
            post(backends::create_yaml),
        )
        .route(
            "/project/{project_name}/backends/update_yaml",
            post(backends::update_yaml),
        )
        .route(
            "/project/{project_name}/backends/delete",
            post(backends::delete),
        )
        .route(
            "/project/{project_name}/backends/{backend_name}/config_info",
            post(backends::config_info),
        )
        .route(
            "/project/{project_name}/backends/{backend_name}/get_yaml",
            post(backends::get_yaml),
        )
        .route("/users/public_keys/list", post(public_keys::list))
        .route("/users/public_keys/add", post(public_keys::add))
        .route("/users/public_keys/delete", post(public_keys::delete))
        .route("/users/refresh_ssh_key", post(users::refresh_ssh_key))
        .route("/project/{project_name}/repos/list", post(repos::list))
        .route("/project/{project_name}/repos/get", post(repos::get))
        .route("/project/{project_name}/repos/init", post(repos::init))
        .route("/project/{project_name}/repos/delete", post(repos::delete))
        .route(
            "/files/get_archive_by_hash",
            post(files::get_archive_by_hash),
        )
        .route("/project/{project_name}/logs/poll", post(logs::poll))
        .route(
            "/project/{project_name}/metrics/job/{run_name}",
            get(metrics::job),
        )
        .route("/runs/list", post(runs::list))
        .route("/project/{project_name}/runs/get", post(runs::get))
        .route(
            "/project/{project_name}/runs/get_plan",
            post(runs::get_plan),
        )
        .route("/project/{project_name}/runs/apply", post(runs::apply))
        .route("/project/{project_name}/runs/submit", post(runs::apply))
        .route("/project/{project_name}/runs/stop", post(runs::stop))
        .route("/project/{project_name}/runs/delete", post(runs::delete))
        .route("/fleets/list", post(fleets::list))
        .route(
            "/project/{project_name}/fleets/list",
            post(fleets::list_project),
        )
        .route("/project/{project_name}/fleets/get", post(fleets::get))
        .route(
            "/project/{project_name}/fleets/get_plan",
            post(fleets::get_plan),
        )
        .route("/project/{project_name}/fleets/apply", post(fleets::apply))
        .route(
            "/project/{project_name}/fleets/delete",
            post(fleets::delete),
        )
        .route(
            "/project/{project_name}/fleets/delete_instances",
            post(fleets::delete_instances),
        )
        .route("/project/{project_name}/gpus/list", post(gpus::list))
        .route("/volumes/list", post(volumes::list))
        .route(
            "/project/{project_name}/volumes/list",
            post(volumes::list_project),
        )
        .route("/project/{project_name}/volumes/get", post(volumes::get))
        .route(
            "/project/{project_name}/volumes/create",
            post(volumes::create),
        )
        .route(
            "/project/{project_name}/volumes/delete",
            post(volumes::delete),
        )
        .route(
            "/project/{project_name}/gateways/list",
            post(gateways::list),
        )
        .route("/project/{project_name}/gateways/get", post(gateways::get))
        .route(
            "/project/{project_name}/gateways/get_plan",
            post(gateways::get_plan),
        )
        .route(
            "/project/{project_name}/gateways/apply",
            post(gateways::apply),
        )
        .route(
            "/project/{project_name}/gateways/create",
            post(gateways::create),
        )
        .route(
            "/project/{project_name}/gateways/delete",
            post(gateways::delete),
        )
        .route(
            "/project/{project_name}/gateways/set_default",
            post(gateways::set_default),
        )
        .route(
            "/project/{project_name}/gateways/set_wildcard_domain",
            post(gateways::set_wildcard_domain),
        )
        .route("/instances/list", post(instances::list))
        .route(
            "/project/{project_name}/instances/get",
            post(instances::get),
        )
        .layer(middleware::from_fn(version::check_client_version))
        .layer(middleware::from_fn(body::read_whole_body));
    // Uploads read their own (larger) bodies, so they sit outside `read_whole_body`.
    let limit = state.code_upload_limit;
    let body_limit = match usize::try_from(limit) {
        Ok(0) | Err(_) => DefaultBodyLimit::disable(),
        Ok(limit) => DefaultBodyLimit::max(limit.saturating_add(MULTIPART_OVERHEAD)),
    };
    let uploads = Router::new()
        .route(
            "/project/{project_name}/repos/upload_code",
            post(repos::upload_code),
        )
        .route("/files/upload_archive", post(files::upload_archive))
        .layer(body_limit)
        .layer(middleware::from_fn(version::check_client_version))
        .layer(middleware::from_fn_with_state(
            limit,
            uploads::check_upload_size,
        ));
    let api = api.merge(uploads);
    Router::new()
        .route("/healthcheck", get(server::healthcheck))
        .route("/metrics", get(prometheus::get))
        .nest("/api", api)
        .fallback(|request: Request| {
            body::refuse_after_reading(request, ServerError::RouteNotFound)
        })
        .method_not_allowed_fallback(|request: Request| {
            body::refuse_after_reading(request, ServerError::MethodNotAllowed)
        })
        .with_state(state)
}
