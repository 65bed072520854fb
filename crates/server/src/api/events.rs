//! Events: `POST /api/events/list` (api.md §2.17). The shape rules of the request (one
//! `target_*`, one `within_*`, 1 to 16 ids each, a limit of 1 to 100) are checked here and
//! refused with 422, as dstack's request model does.

use axum::Json;
use axum::extract::State;
use dstack_core::api::events::{Event, ListEventsRequest, TARGET_TYPES};

use super::AppState;
use super::auth::Authenticated;
use super::body::OptionalBody;
use super::error::ServerError;
use crate::services::events;

/// The most ids one filter may list.
const MAX_FILTER_IDS: usize = 16;

fn invalid(kind: &'static str, loc: &[&str], msg: String) -> ServerError {
    let mut path = vec!["body".to_owned()];
    path.extend(loc.iter().map(|segment| (*segment).to_owned()));
    ServerError::InvalidBody {
        kind,
        loc: path,
        msg,
    }
}

/// Checks that a set filter lists 1 to 16 items.
fn check_len(field: &str, len: Option<usize>) -> Result<(), ServerError> {
    match len {
        Some(0) => Err(invalid(
            "too_short",
            &[field],
            "List should have at least 1 item after validation, not 0".to_owned(),
        )),
        Some(n) if n > MAX_FILTER_IDS => Err(invalid(
            "too_long",
            &[field],
            format!("List should have at most {MAX_FILTER_IDS} items after validation, not {n}"),
        )),
        _ => Ok(()),
    }
}

/// At most one of `fields` may be set.
fn check_at_most_one(group: &str, fields: &[(&str, Option<usize>)]) -> Result<(), ServerError> {
    for (field, len) in fields {
        check_len(field, *len)?;
    }
    let set: Vec<&str> = fields
        .iter()
        .filter(|(_, len)| len.is_some())
        .map(|(field, _)| *field)
        .collect();
    if set.len() > 1 {
        return Err(invalid(
            "value_error",
            &[],
            format!(
                "Value error, at most one {group}_* filter can be set, got {}",
                set.join(", ")
            ),
        ));
    }
    Ok(())
}

/// Refuses requests dstack's model would refuse.
fn check_request(request: &ListEventsRequest) -> Result<(), ServerError> {
    let len = |list: &Option<Vec<uuid::Uuid>>| list.as_ref().map(Vec::len);
    check_at_most_one(
        "target",
        &[
            ("target_projects", len(&request.target_projects)),
            ("target_users", len(&request.target_users)),
            ("target_fleets", len(&request.target_fleets)),
            ("target_instances", len(&request.target_instances)),
            ("target_runs", len(&request.target_runs)),
            ("target_jobs", len(&request.target_jobs)),
            ("target_volumes", len(&request.target_volumes)),
            ("target_gateways", len(&request.target_gateways)),
            (
                "target_gateway_replicas",
                len(&request.target_gateway_replicas),
            ),
            ("target_secrets", len(&request.target_secrets)),
            ("target_presets", len(&request.target_presets)),
        ],
    )?;
    check_at_most_one(
        "within",
        &[
            ("within_projects", len(&request.within_projects)),
            ("within_fleets", len(&request.within_fleets)),
            ("within_runs", len(&request.within_runs)),
            ("within_gateways", len(&request.within_gateways)),
        ],
    )?;
    check_len("actors", request.actors.as_ref().map(Vec::len))?;
    if let Some(types) = &request.include_target_types {
        check_len("include_target_types", Some(types.len()))?;
        for (index, kind) in types.iter().enumerate() {
            if !TARGET_TYPES.contains(&kind.as_str()) {
                return Err(invalid(
                    "enum",
                    &["include_target_types", &index.to_string()],
                    format!(
                        "Input should be one of {}, got {kind:?}",
                        TARGET_TYPES.join(", ")
                    ),
                ));
            }
        }
    }
    let limit = request.limit.0;
    if !(1..=100).contains(&limit) {
        let (kind, msg) = if limit < 1 {
            (
                "greater_than_equal",
                "Input should be greater than or equal to 1",
            )
        } else {
            (
                "less_than_equal",
                "Input should be less than or equal to 100",
            )
        };
        return Err(invalid(kind, &["limit"], msg.to_owned()));
    }
    Ok(())
}

/// `list`: one page of the events the caller may see.
pub async fn list(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    OptionalBody(request): OptionalBody<ListEventsRequest>,
) -> Result<Json<Vec<Event>>, ServerError> {
    check_request(&request)?;
    Ok(Json(
        events::list(state.db.pool(), &caller, &request).await?,
    ))
}
