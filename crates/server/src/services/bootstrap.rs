//! First start: the `admin` user and the `main` project.

use dstack_core::api::users::{CreateUserRequest, GlobalRole};
use sqlx::AnyPool;

use super::users::{self, Caller};
use super::{ServiceError, hash_token, new_token, projects};
use crate::db::users as user_rows;

/// The admin's name, as in dstack.
pub const ADMIN_NAME: &str = "admin";
/// The project every server starts with.
pub const MAIN_PROJECT: &str = "main";

/// The admin after start-up.
#[derive(Debug, Clone)]
pub struct Admin {
    /// The admin, acting as the caller that owns what start-up creates.
    pub caller: Caller,
    /// Whether this start created the admin.
    pub created: bool,
    /// Whether the token is known: made now, or given and matching. Tokens are stored hashed,
    /// so a restart without the token cannot show it again.
    pub token_known: bool,
}

/// Creates the admin unless it exists, with `token` or a fresh one; then the `main` project.
/// An existing admin's token is known again when `token` or one of `candidates` (such as the
/// one in `~/.dstack/config.yml`) matches its hash.
pub async fn ensure_admin_and_main(
    pool: &AnyPool,
    token: Option<&str>,
    candidates: &[String],
) -> Result<Admin, ServiceError> {
    let admin = match user_rows::find_by_name(pool, ADMIN_NAME).await? {
        Some(row) => {
            let mut matching = None;
            for candidate in token
                .into_iter()
                .chain(candidates.iter().map(String::as_str))
            {
                let found = user_rows::find_by_token_hash(pool, &hash_token(candidate)).await?;
                if found.is_some_and(|found| found.id == row.id) {
                    matching = Some(candidate.to_owned());
                    break;
                }
            }
            Admin {
                token_known: matching.is_some(),
                caller: Caller {
                    user: row,
                    token: matching.unwrap_or_default(),
                },
                created: false,
            }
        }
        None => {
            let token = token.map_or_else(new_token, str::to_owned);
            let request = CreateUserRequest {
                username: ADMIN_NAME.to_owned(),
                global_role: GlobalRole::Admin,
                email: None,
                active: true,
            };
            let row = users::create_with_token(pool, None, &request, &token).await?;
            Admin {
                caller: Caller { user: row, token },
                created: true,
                token_known: true,
            }
        }
    };
    projects::ensure(pool, &admin.caller, MAIN_PROJECT).await?;
    Ok(admin)
}
