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
pub mod fleets;
pub mod gateways;
pub mod gpus;
pub mod instances;
pub mod projects;
pub mod secrets;
pub mod server;
pub mod users;
pub mod version;
pub mod volumes;

use axum::Router;
use axum::middleware;
use axum::routing::{get, post};

use self::error::ServerError;
use crate::db::Database;
use crate::services::encryption::Encryption;

/// What every handler shares.
#[derive(Debug, Clone)]
pub struct AppState {
    /// The database.
    pub db: Database,
    /// The keys that encrypt secrets.
    pub encryption: Encryption,
}

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
    Router::new()
        .route("/healthcheck", get(server::healthcheck))
        .nest("/api", api)
        .fallback(|| async { ServerError::RouteNotFound })
        .method_not_allowed_fallback(|| async { ServerError::MethodNotAllowed })
        .with_state(state)
}
