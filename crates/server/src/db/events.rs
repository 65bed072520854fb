//! The `events` and `event_targets` tables: the audit log. Events are written once and never
//! changed.

use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use super::DbError;

/// An event to insert, ids and times in stored form.
#[derive(Debug, Clone)]
pub struct NewEvent<'a> {
    /// The event id.
    pub id: String,
    /// What happened.
    pub message: &'a str,
    /// Microseconds since the epoch.
    pub recorded_at: i64,
    /// The acting user, or `None` for the system.
    pub actor_user_id: Option<String>,
}

/// A target as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetRow {
    /// `project`, `user`, `run`, ...
    pub entity_type: String,
    /// The project the target belongs to; `None` for users.
    pub project_id: Option<String>,
    /// The target's id.
    pub id: String,
    /// The target's name when the event was recorded.
    pub name: String,
    /// The run the target belongs to (runs and jobs).
    pub run_id: Option<String>,
    /// The fleet the target belongs to (fleets and instances).
    pub fleet_id: Option<String>,
}

/// Inserts an event and its targets, in order; both statements run on `conn`, so a caller's
/// transaction covers them.
pub async fn insert(
    conn: &mut AnyConnection,
    event: &NewEvent<'_>,
    targets: &[TargetRow],
) -> Result<(), DbError> {
    sqlx::query(
        "INSERT INTO events (id, message, recorded_at, actor_user_id) VALUES ($1, $2, $3, $4)",
    )
    .bind(&event.id)
    .bind(event.message)
    .bind(event.recorded_at)
    .bind(&event.actor_user_id)
    .execute(&mut *conn)
    .await?;
    for (position, target) in (0_i64..).zip(targets) {
        sqlx::query(
            "INSERT INTO event_targets (event_id, position, entity_type, entity_project_id, \
             entity_id, entity_name, entity_run_id, entity_fleet_id) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(&event.id)
        .bind(position)
        .bind(&target.entity_type)
        .bind(&target.project_id)
        .bind(&target.id)
        .bind(&target.name)
        .bind(&target.run_id)
        .bind(&target.fleet_id)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// The column a `within_*` filter matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Within {
    /// `entity_project_id`.
    Project,
    /// `entity_fleet_id`.
    Fleet,
    /// `entity_run_id`.
    Run,
}

impl Within {
    fn column(self) -> &'static str {
        match self {
            Self::Project => "t.entity_project_id",
            Self::Fleet => "t.entity_fleet_id",
            Self::Run => "t.entity_run_id",
        }
    }
}

/// Which events a page holds; every id in stored form.
#[derive(Debug, Clone, Default)]
pub struct EventFilter {
    /// For non-admins: only events with a target in a project this user belongs to, or about
    /// this user.
    pub visible_to: Option<String>,
    /// Only events with a target of this type and one of these ids.
    pub target: Option<(&'static str, Vec<String>)>,
    /// Only events with a target inside one of these projects, fleets or runs.
    pub within: Option<(Within, Vec<String>)>,
    /// Only events with a target of one of these types.
    pub target_types: Option<Vec<String>>,
    /// Only events by these users, or by the system when the flag is set.
    pub actors: Option<(bool, Vec<String>)>,
}

/// Keyset pagination over `(recorded_at, id)` (api.md §1.8).
#[derive(Debug, Clone)]
pub struct RecordedAtCursor {
    /// Microseconds of the last event's `recorded_at`, if a page came before.
    pub prev_recorded_at: Option<i64>,
    /// The last event's id.
    pub prev_id: Option<String>,
    /// The page size.
    pub limit: i64,
    /// Oldest first.
    pub ascending: bool,
}

/// An event as read, with its actor's name.
#[derive(Debug, Clone)]
pub struct EventRow {
    /// The id.
    pub id: String,
    /// What happened.
    pub message: String,
    /// Microseconds since the epoch.
    pub recorded_at: i64,
    /// The acting user.
    pub actor_user_id: Option<String>,
    /// Their name.
    pub actor_name: Option<String>,
    /// Whether they have been deleted since.
    pub actor_deleted: Option<bool>,
    /// The targets, in the order they were recorded.
    pub targets: Vec<ReadTarget>,
}

/// A target as read, with its project's name.
#[derive(Debug, Clone)]
pub struct ReadTarget {
    /// The stored target.
    pub row: TargetRow,
    /// The name of its project.
    pub project_name: Option<String>,
    /// Whether that project has been deleted.
    pub project_deleted: Option<bool>,
}

/// A query whose placeholders are numbered as text values are bound.
#[derive(Debug, Default)]
struct Sql {
    text: String,
    binds: Vec<Option<String>>,
}

impl Sql {
    fn push(&mut self, text: &str) {
        self.text.push_str(text);
    }

    fn bind(&mut self, value: Option<String>) {
        self.binds.push(value);
        self.text.push_str(&format!("${}", self.binds.len()));
    }

    fn bind_list(&mut self, values: &[String]) {
        self.push("(");
        for (index, value) in values.iter().enumerate() {
            if index > 0 {
                self.push(", ");
            }
            self.bind(Some(value.clone()));
        }
        self.push(")");
    }
}

/// Adds ` AND EXISTS (a target of the event that matches every condition)`.
fn push_target_exists(sql: &mut Sql, conditions: &[&dyn Fn(&mut Sql)]) {
    sql.push(" AND EXISTS (SELECT 1 FROM event_targets t WHERE t.event_id = e.id");
    for condition in conditions {
        sql.push(" AND ");
        condition(sql);
    }
    sql.push(")");
}

/// The query of one page of events, without their targets.
fn page_query(filter: &EventFilter, cursor: &RecordedAtCursor) -> Sql {
    let mut sql = Sql::default();
    sql.push(
        "SELECT e.id, e.message, e.recorded_at, e.actor_user_id, u.name AS actor_name, \
         u.deleted AS actor_deleted FROM events e LEFT JOIN users u ON u.id = e.actor_user_id \
         WHERE 1 = 1",
    );
    if let Some((system, users)) = &filter.actors {
        sql.push(" AND (");
        sql.push(if *system {
            "e.actor_user_id IS NULL"
        } else {
            "1 = 0"
        });
        if !users.is_empty() {
            sql.push(" OR e.actor_user_id IN ");
            sql.bind_list(users);
        }
        sql.push(")");
    }
    // The filters the caller asked for must all hold for one target; visibility is checked
    // on any target, as one visible target shows the whole event.
    let mut wanted: Vec<&dyn Fn(&mut Sql)> = Vec::new();
    let by_target = |sql: &mut Sql| {
        if let Some((entity_type, ids)) = &filter.target {
            sql.push("t.entity_type = ");
            sql.bind(Some((*entity_type).to_owned()));
            sql.push(" AND t.entity_id IN ");
            sql.bind_list(ids);
        }
    };
    let by_within = |sql: &mut Sql| {
        if let Some((within, ids)) = &filter.within {
            sql.push(within.column());
            sql.push(" IN ");
            sql.bind_list(ids);
        }
    };
    let by_type = |sql: &mut Sql| {
        if let Some(types) = &filter.target_types {
            sql.push("t.entity_type IN ");
            sql.bind_list(types);
        }
    };
    if filter.target.is_some() {
        wanted.push(&by_target);
    }
    if filter.within.is_some() {
        wanted.push(&by_within);
    }
    if filter.target_types.is_some() {
        wanted.push(&by_type);
    }
    if !wanted.is_empty() {
        push_target_exists(&mut sql, &wanted);
    }
    if let Some(user_id) = &filter.visible_to {
        let visible = |sql: &mut Sql| {
            sql.push(
                "(t.entity_project_id IN (SELECT m.project_id FROM members m WHERE m.user_id = ",
            );
            sql.bind(Some(user_id.clone()));
            sql.push(
                ") OR (t.entity_project_id IS NULL AND t.entity_type = 'user' AND t.entity_id = ",
            );
            sql.bind(Some(user_id.clone()));
            sql.push("))");
        };
        push_target_exists(&mut sql, &[&visible]);
    }
    let (after, id_after, order, id_order) = if cursor.ascending {
        (">", "<", "ASC", "DESC")
    } else {
        ("<", ">", "DESC", "ASC")
    };
    if let Some(at) = cursor.prev_recorded_at {
        let at = at.to_string();
        sql.push(&format!(" AND (e.recorded_at {after} "));
        sql.push(&at);
        if let Some(id) = &cursor.prev_id {
            sql.push(&format!(" OR (e.recorded_at = {at} AND e.id {id_after} "));
            sql.bind(Some(id.clone()));
            sql.push(")");
        }
        sql.push(")");
    }
    sql.push(&format!(
        " ORDER BY e.recorded_at {order}, e.id {id_order} LIMIT {}",
        cursor.limit
    ));
    sql
}

/// One page of events, each with its targets.
pub async fn list_page(
    conn: &mut AnyConnection,
    filter: &EventFilter,
    cursor: &RecordedAtCursor,
) -> Result<Vec<EventRow>, DbError> {
    let sql = page_query(filter, cursor);
    let mut query = sqlx::query(&sql.text);
    for value in &sql.binds {
        query = query.bind(value);
    }
    let rows = query.fetch_all(&mut *conn).await?;
    let mut events = rows
        .iter()
        .map(event_from_row)
        .collect::<Result<Vec<_>, _>>()?;
    if events.is_empty() {
        return Ok(events);
    }
    let ids: Vec<String> = events.iter().map(|event| event.id.clone()).collect();
    let mut targets_sql = Sql::default();
    targets_sql.push(
        "SELECT t.event_id, t.entity_type, t.entity_project_id, t.entity_id, t.entity_name, \
         t.entity_run_id, t.entity_fleet_id, p.name AS project_name, \
         p.deleted AS project_deleted FROM event_targets t \
         LEFT JOIN projects p ON p.id = t.entity_project_id WHERE t.event_id IN ",
    );
    targets_sql.bind_list(&ids);
    targets_sql.push(" ORDER BY t.event_id, t.position");
    let mut query = sqlx::query(&targets_sql.text);
    for value in &targets_sql.binds {
        query = query.bind(value);
    }
    for row in query.fetch_all(&mut *conn).await? {
        let event_id: String = row.try_get("event_id")?;
        let target = target_from_row(&row)?;
        if let Some(event) = events.iter_mut().find(|event| event.id == event_id) {
            event.targets.push(target);
        }
    }
    Ok(events)
}

fn flag(row: &AnyRow, column: &str) -> Result<Option<bool>, DbError> {
    let value: Option<i64> = row.try_get(column)?;
    Ok(value.map(|value| value != 0))
}

fn event_from_row(row: &AnyRow) -> Result<EventRow, DbError> {
    Ok(EventRow {
        id: row.try_get("id")?,
        message: row.try_get("message")?,
        recorded_at: row.try_get("recorded_at")?,
        actor_user_id: row.try_get("actor_user_id")?,
        actor_name: row.try_get("actor_name")?,
        actor_deleted: flag(row, "actor_deleted")?,
        targets: Vec::new(),
    })
}

fn target_from_row(row: &AnyRow) -> Result<ReadTarget, DbError> {
    Ok(ReadTarget {
        row: TargetRow {
            entity_type: row.try_get("entity_type")?,
            project_id: row.try_get("entity_project_id")?,
            id: row.try_get("entity_id")?,
            name: row.try_get("entity_name")?,
            run_id: row.try_get("entity_run_id")?,
            fleet_id: row.try_get("entity_fleet_id")?,
        },
        project_name: row.try_get("project_name")?,
        project_deleted: flag(row, "project_deleted")?,
    })
}
