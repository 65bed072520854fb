//! The audit log: services [`record`] what they did, in their own transaction, and
//! `events/list` reads it back to those who may see it.
//!
//! - [`EventTarget`]: what an event is about, built with [`EventTarget::user`],
//!   [`EventTarget::project`] or [`EventTarget::in_project`].
//! - [`record`]: writes one event on a connection or transaction.
//! - [`list`]: one page of events, filtered, for a caller.

use chrono::Utc;
use dstack_core::api::common::Uuid4;
use dstack_core::api::events::{Event, EventTarget as WireTarget, ListEventsRequest};
use sqlx::{AnyConnection, AnyPool};
use uuid::Uuid;

use super::ServiceError;
use super::users::Caller;
use crate::db::events::{self as event_rows, EventFilter, EventRow, RecordedAtCursor, TargetRow};
use crate::db::projects::ProjectRow;
use crate::db::users::UserRow;
use crate::db::{self, DbError, from_micros};

/// The kinds of things an event can be about, spelled as on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TargetType {
    /// A project.
    Project,
    /// A user.
    User,
    /// A fleet.
    Fleet,
    /// An instance of a fleet.
    Instance,
    /// A run.
    Run,
    /// A job of a run.
    Job,
    /// A volume.
    Volume,
    /// A gateway.
    Gateway,
    /// A project secret.
    Secret,
}

impl TargetType {
    /// The wire name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Project => "project",
            Self::User => "user",
            Self::Fleet => "fleet",
            Self::Instance => "instance",
            Self::Run => "run",
            Self::Job => "job",
            Self::Volume => "volume",
            Self::Gateway => "gateway",
            Self::Secret => "secret",
        }
    }
}

/// What an event is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventTarget {
    /// The kind.
    pub target_type: TargetType,
    /// The project it belongs to; `None` only for users.
    pub project_id: Option<Uuid>,
    /// Its id.
    pub id: Uuid,
    /// Its name now.
    pub name: String,
    /// The run it belongs to (runs and jobs), for `within_runs`.
    pub run_id: Option<Uuid>,
    /// The fleet it belongs to (fleets and instances), for `within_fleets`.
    pub fleet_id: Option<Uuid>,
}

impl EventTarget {
    /// A user.
    pub fn user(user: &UserRow) -> Self {
        Self::user_with_id(user.id, &user.name)
    }

    /// A user known by id and name only (one just deleted).
    pub fn user_with_id(id: Uuid4, name: &str) -> Self {
        Self {
            target_type: TargetType::User,
            project_id: None,
            id: id.into(),
            name: name.to_owned(),
            run_id: None,
            fleet_id: None,
        }
    }

    /// A project.
    pub fn project(project: &ProjectRow) -> Self {
        Self::in_project(
            TargetType::Project,
            project.id,
            project.id.into(),
            &project.name,
        )
    }

    /// Something inside `project_id`; add the run or fleet it belongs to with
    /// [`Self::within_run`] or [`Self::within_fleet`].
    pub fn in_project(target_type: TargetType, project_id: Uuid4, id: Uuid, name: &str) -> Self {
        Self {
            target_type,
            project_id: Some(project_id.into()),
            id,
            name: name.to_owned(),
            run_id: None,
            fleet_id: None,
        }
    }

    /// The same target, inside run `run_id`.
    pub fn within_run(self, run_id: Uuid) -> Self {
        Self {
            run_id: Some(run_id),
            ..self
        }
    }

    /// The same target, inside fleet `fleet_id`.
    pub fn within_fleet(self, fleet_id: Uuid) -> Self {
        Self {
            fleet_id: Some(fleet_id),
            ..self
        }
    }

    fn to_row(&self) -> TargetRow {
        TargetRow {
            entity_type: self.target_type.as_str().to_owned(),
            project_id: self.project_id.map(|id| id.to_string()),
            id: self.id.to_string(),
            name: self.name.clone(),
            run_id: self.run_id.map(|id| id.to_string()),
            fleet_id: self.fleet_id.map(|id| id.to_string()),
        }
    }
}

/// Records that `actor` (or the system, when `None`) did what `message` says to `targets`.
///
/// Runs on `conn`, so passing `&mut *tx` makes the event part of the caller's transaction:
/// it is kept exactly when the change it describes is. Messages are past tense, one line,
/// without the names of the actor or targets, which the event carries.
pub async fn record(
    conn: &mut AnyConnection,
    actor: Option<Uuid4>,
    message: &str,
    targets: &[EventTarget],
) -> Result<(), ServiceError> {
    let message = message.trim().trim_end_matches('.').replace('\n', " ");
    tracing::info!(
        actor = ?actor,
        targets = ?targets.iter().map(|t| (t.target_type.as_str(), t.name.as_str())).collect::<Vec<_>>(),
        "event: {message}"
    );
    let row = event_rows::NewEvent {
        id: Uuid::new_v4().to_string(),
        message: &message,
        recorded_at: db::to_micros(Utc::now()),
        actor_user_id: actor.map(|id| id.to_string()),
    };
    let targets: Vec<TargetRow> = targets.iter().map(EventTarget::to_row).collect();
    event_rows::insert(conn, &row, &targets).await?;
    Ok(())
}

/// A status or reason as dstack's messages spell it: the wire name in capitals.
pub fn upper(value: impl std::fmt::Display) -> String {
    value.to_string().to_uppercase()
}

/// "`kind` status changed OLD -> NEW", the message of every status change.
pub fn status_changed(
    kind: &str,
    old: impl std::fmt::Display,
    new: impl std::fmt::Display,
) -> String {
    format!("{kind} status changed {} -> {}", upper(old), upper(new))
}

fn ids(list: &[Uuid]) -> Vec<String> {
    list.iter().map(Uuid::to_string).collect()
}

/// The one `target_*` filter of a request (the API has checked there is at most one).
fn target_filter(request: &ListEventsRequest) -> Option<(&'static str, Vec<String>)> {
    let filters = [
        (TargetType::Project, &request.target_projects),
        (TargetType::User, &request.target_users),
        (TargetType::Fleet, &request.target_fleets),
        (TargetType::Instance, &request.target_instances),
        (TargetType::Run, &request.target_runs),
        (TargetType::Job, &request.target_jobs),
        (TargetType::Volume, &request.target_volumes),
        (TargetType::Gateway, &request.target_gateways),
        (TargetType::Secret, &request.target_secrets),
    ];
    let by_type = filters.into_iter().find_map(|(target_type, list)| {
        list.as_deref()
            .map(|list| (target_type.as_str(), ids(list)))
    });
    // Kinds this server records nothing about yet still filter: they just match nothing.
    by_type
        .or_else(|| {
            request
                .target_gateway_replicas
                .as_deref()
                .map(|l| ("gateway-replica", ids(l)))
        })
        .or_else(|| {
            request
                .target_presets
                .as_deref()
                .map(|l| ("preset", ids(l)))
        })
}

/// The one `within_*` filter of a request.
fn within_filter(request: &ListEventsRequest) -> Option<(event_rows::Within, Vec<String>)> {
    use event_rows::Within;
    [
        (Within::Project, &request.within_projects),
        (Within::Fleet, &request.within_fleets),
        (Within::Run, &request.within_runs),
    ]
    .into_iter()
    .find_map(|(within, list)| list.as_deref().map(|list| (within, ids(list))))
}

/// `events/list`: one page of events, newest first unless `ascending`. Admins see every
/// event; others those with a target in one of their projects or about themselves.
pub async fn list(
    pool: &AnyPool,
    caller: &Caller,
    request: &ListEventsRequest,
) -> Result<Vec<Event>, ServiceError> {
    if request.within_gateways.is_some() {
        // Gateway replicas, the only targets inside a gateway, are not recorded here.
        return Ok(Vec::new());
    }
    let filter = EventFilter {
        visible_to: (!caller.is_admin()).then(|| caller.user.id.to_string()),
        target: target_filter(request),
        within: within_filter(request),
        target_types: request.include_target_types.clone(),
        actors: request.actors.as_ref().map(|actors| {
            let system = actors.iter().any(Option::is_none);
            (
                system,
                actors.iter().flatten().map(Uuid::to_string).collect(),
            )
        }),
    };
    let cursor = RecordedAtCursor {
        prev_recorded_at: request.prev_recorded_at.map(db::to_micros),
        prev_id: request.prev_id.map(|id| id.to_string()),
        limit: i64::from(request.limit.0),
        ascending: request.ascending,
    };
    let mut conn = pool.acquire().await?;
    let rows = event_rows::list_page(&mut conn, &filter, &cursor).await?;
    rows.into_iter()
        .map(|row| to_event(row).map_err(ServiceError::from))
        .collect()
}

fn parse_uuid(column: &'static str, text: &str) -> Result<Uuid, DbError> {
    Uuid::parse_str(text).map_err(|_| DbError::Corrupt {
        column,
        value: text.to_owned(),
    })
}

fn to_event(row: EventRow) -> Result<Event, DbError> {
    let targets = row
        .targets
        .into_iter()
        .map(|target| {
            Ok(WireTarget {
                target_type: target.row.entity_type,
                project_id: target
                    .row
                    .project_id
                    .as_deref()
                    .map(|id| parse_uuid("event_targets.entity_project_id", id))
                    .transpose()?,
                project_name: target.project_name,
                is_project_deleted: target.project_deleted,
                id: parse_uuid("event_targets.entity_id", &target.row.id)?,
                name: target.row.name,
            })
        })
        .collect::<Result<_, DbError>>()?;
    Ok(Event {
        id: parse_uuid("events.id", &row.id)?,
        message: row.message,
        recorded_at: from_micros("events.recorded_at", row.recorded_at)?,
        actor_user_id: row
            .actor_user_id
            .as_deref()
            .map(|id| parse_uuid("events.actor_user_id", id))
            .transpose()?,
        actor_user: row.actor_name,
        is_actor_user_deleted: row.actor_deleted,
        targets,
    })
}
