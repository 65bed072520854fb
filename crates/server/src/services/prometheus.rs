//! The gauges of `GET /metrics`, read from the database at each scrape.

use sqlx::AnyPool;

use super::ServiceError;
use crate::db::projects::{self as project_rows, ProjectFilter};
use crate::db::users::{self as user_rows, UserFilter};

/// One Prometheus gauge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Gauge {
    /// The metric name.
    pub name: &'static str,
    /// Its `# HELP` text.
    pub help: &'static str,
    /// The value now.
    pub value: i64,
}

/// The server's gauges: how many users and projects exist.
pub async fn gauges(pool: &AnyPool) -> Result<Vec<Gauge>, ServiceError> {
    let users = user_rows::count(
        pool,
        &UserFilter {
            only_id: None,
            name_contains: None,
        },
    )
    .await?;
    let projects = project_rows::count(
        pool,
        &ProjectFilter {
            member_id: None,
            with_public: false,
            name_contains: None,
        },
    )
    .await?;
    Ok(vec![
        Gauge {
            name: "dstack_users",
            help: "Users that are not deleted.",
            value: users,
        },
        Gauge {
            name: "dstack_projects",
            help: "Projects that are not deleted.",
            value: projects,
        },
    ])
}
