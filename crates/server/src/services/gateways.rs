//! Gateways: plans, applies, reads, deletes and the project's default (api.md §2.16,
//! lifecycle.md §1.6). Gateways are stored as `submitted`; provisioning comes with the
//! pipelines.

use chrono::Utc;
use dstack_core::api::common::ApplyAction;
use dstack_core::api::gateways::{ApplyGatewayPlanRequest, Gateway, GatewayPlan, GatewaySpec};
use dstack_core::configuration::gateway::GatewayConfiguration;
use dstack_core::status::GatewayStatus;
use serde_json::Value;
use sqlx::AnyPool;
use uuid::Uuid;

use super::events::{self, EventTarget, TargetType, upper};
use super::projects::ProjectAccess;
use super::users::Caller;
use super::{ServiceError, names};
use crate::db::gateways::{self as gateway_rows, GatewayRow, NewGateway};
use crate::db::{self, DbError, parse_json};

/// Configuration fields an apply may change in place.
const UPDATABLE: &[&str] = &["domain", "default", "replicas"];

fn not_found() -> ServiceError {
    ServiceError::NotFound("Resource not found".to_owned())
}

fn project_id(access: &ProjectAccess) -> String {
    access.project.id.to_string()
}

fn to_gateway(row: &GatewayRow) -> Result<Gateway, ServiceError> {
    let mut configuration: GatewayConfiguration =
        parse_json("gateways.configuration", &row.configuration)?;
    configuration.default = Some(row.is_default);
    Ok(Gateway {
        id: row.id,
        name: row.name.clone(),
        project_name: row.project_name.clone(),
        configuration,
        created_at: row.created_at,
        status: row.status,
        status_message: row.status_message.clone(),
        hostname: row.hostname.clone(),
        wildcard_domain: row.wildcard_domain.clone(),
        default: row.is_default,
        replicas: Vec::new(),
        backend: None,
        region: None,
        ip_address: None,
        instance_id: None,
    })
}

async fn find(
    pool: &AnyPool,
    access: &ProjectAccess,
    name: &str,
) -> Result<GatewayRow, ServiceError> {
    gateway_rows::find_by_name(pool, &project_id(access), name)
        .await?
        .ok_or_else(not_found)
}

/// `gateways/list`: the project's live gateways.
pub async fn list(pool: &AnyPool, access: &ProjectAccess) -> Result<Vec<Gateway>, ServiceError> {
    gateway_rows::list_live(pool, &project_id(access))
        .await?
        .iter()
        .map(to_gateway)
        .collect()
}

/// `gateways/get`: a live gateway by name.
pub async fn get(
    pool: &AnyPool,
    access: &ProjectAccess,
    name: &str,
) -> Result<Gateway, ServiceError> {
    to_gateway(&find(pool, access, name).await?)
}

fn validate(configuration: &GatewayConfiguration) -> Result<(), ServiceError> {
    configuration
        .check()
        .map_err(|v| ServiceError::Invalid(format!("{}: {}", v.path, v.message)))
}

/// Refuses to touch a gateway being deleted or failed.
fn check_updatable_state(row: &GatewayRow) -> Result<(), ServiceError> {
    if row.to_be_deleted {
        return Err(ServiceError::Invalid(format!(
            "Gateway {:?} is being deleted. Try again later.",
            row.name
        )));
    }
    if row.status == GatewayStatus::Failed {
        return Err(ServiceError::Invalid(format!(
            "Gateway {:?} is in FAILED status and cannot be updated in-place. Delete it and \
             re-apply.",
            row.name
        )));
    }
    Ok(())
}

fn to_value<T: serde::Serialize>(value: &T) -> Value {
    serde_json::to_value(value).unwrap_or(Value::Null)
}

/// Whether only the updatable fields differ between the configurations.
fn updatable_in_place(current: &GatewayConfiguration, new: &GatewayConfiguration) -> bool {
    let (current, new) = (to_value(current), to_value(new));
    let empty = serde_json::Map::new();
    let (current, new) = (
        current.as_object().unwrap_or(&empty),
        new.as_object().unwrap_or(&empty),
    );
    current
        .keys()
        .chain(new.keys())
        .filter(|key| current.get(*key) != new.get(*key))
        .all(|key| UPDATABLE.contains(&key.as_str()))
}

/// `gateways/get_plan`: what applying the spec would do.
pub async fn get_plan(
    pool: &AnyPool,
    access: &ProjectAccess,
    caller: &Caller,
    spec: GatewaySpec,
) -> Result<GatewayPlan, ServiceError> {
    validate(&spec.configuration)?;
    let mut action = ApplyAction::Create;
    let mut current_resource = None;
    if let Some(name) = spec.configuration.name()
        && let Some(row) = gateway_rows::find_by_name(pool, &project_id(access), name).await?
    {
        check_updatable_state(&row)?;
        let current = to_gateway(&row)?;
        if updatable_in_place(&current.configuration, &spec.configuration) {
            action = ApplyAction::Update;
        }
        current_resource = Some(current);
    }
    Ok(GatewayPlan {
        project_name: access.project.name.clone(),
        user: caller.user.name.clone(),
        effective_spec: spec.clone(),
        spec,
        current_resource,
        action,
    })
}

fn gateway_target(access: &ProjectAccess, id: Uuid, name: &str) -> EventTarget {
    EventTarget::in_project(TargetType::Gateway, access.project.id, id, name)
}

/// `gateways/create` and the create side of `apply`: stores the gateway as `submitted`. It
/// becomes the default when asked to, or when the project has none and `default` is unset.
pub async fn create(
    pool: &AnyPool,
    access: &ProjectAccess,
    caller: &Caller,
    configuration: &GatewayConfiguration,
    configuration_path: Option<&str>,
) -> Result<Gateway, ServiceError> {
    validate(configuration)?;
    let project = project_id(access);
    let id = names::insert_named(configuration.name(), |name| {
        let mut configuration = configuration.clone();
        let project = project.clone();
        async move {
            configuration.name = Some(name.clone());
            let id = Uuid::new_v4();
            let mut tx = pool.begin().await?;
            let inserted = gateway_rows::insert(
                &mut *tx,
                &NewGateway {
                    id,
                    project_id: &project,
                    name: &name,
                    configuration: &to_value(&configuration).to_string(),
                    configuration_path,
                    wildcard_domain: configuration.domain.as_deref(),
                    now_micros: db::to_micros(Utc::now()),
                },
            )
            .await;
            match inserted {
                Err(DbError::UniqueViolation) => {
                    return Err(ServiceError::AlreadyExists("Resource exists".to_owned()));
                }
                other => other?,
            }
            let message = format!(
                "Gateway created. Status: {}",
                upper(GatewayStatus::Submitted)
            );
            let target = [gateway_target(access, id, &name)];
            events::record(&mut tx, Some(caller.user.id), &message, &target).await?;
            let has_default = gateway_rows::list_live(&mut *tx, &project)
                .await?
                .iter()
                .any(|g| g.is_default);
            if configuration.default == Some(true)
                || (!has_default && configuration.default.is_none())
            {
                gateway_rows::clear_default(&mut *tx, &project).await?;
                gateway_rows::mark_default(&mut *tx, id).await?;
            }
            tx.commit().await?;
            Ok(name)
        }
    })
    .await?;
    get(pool, access, &id).await
}

/// `gateways/apply`: creates the gateway, or updates its domain, default or replicas.
pub async fn apply(
    pool: &AnyPool,
    access: &ProjectAccess,
    caller: &Caller,
    request: ApplyGatewayPlanRequest,
) -> Result<Gateway, ServiceError> {
    let spec = request.plan.spec;
    let configuration = &spec.configuration;
    validate(configuration)?;
    let existing = match configuration.name() {
        Some(name) => gateway_rows::find_by_name(pool, &project_id(access), name).await?,
        None => None,
    };
    let Some(row) = existing else {
        return create(
            pool,
            access,
            caller,
            configuration,
            spec.configuration_path.as_deref(),
        )
        .await;
    };
    check_updatable_state(&row)?;
    let current = to_gateway(&row)?;
    if !request.force {
        let Some(seen) = &request.plan.current_resource else {
            return Err(ServiceError::AlreadyExists("Resource exists".to_owned()));
        };
        if seen.id != current.id || seen.configuration != current.configuration {
            return Err(ServiceError::Invalid(
                "Failed to apply plan. Resource has been changed. Try again or use force apply."
                    .to_owned(),
            ));
        }
    }
    if !updatable_in_place(&current.configuration, configuration) {
        return Err(ServiceError::Invalid(format!(
            "Gateway {:?} cannot be updated in-place. Delete it and re-apply.",
            row.name
        )));
    }
    let project = project_id(access);
    let mut tx = pool.begin().await?;
    let mut stored = configuration.clone();
    stored.name = Some(row.name.clone());
    gateway_rows::update_configuration(
        &mut *tx,
        row.id,
        &to_value(&stored).to_string(),
        configuration.domain.as_deref(),
    )
    .await?;
    match configuration.default {
        Some(true) => {
            gateway_rows::clear_default(&mut *tx, &project).await?;
            gateway_rows::mark_default(&mut *tx, row.id).await?;
        }
        Some(false) if row.is_default => gateway_rows::clear_default(&mut *tx, &project).await?,
        _ => {}
    }
    tx.commit().await?;
    get(pool, access, &row.name).await
}

/// `gateways/delete`: all or none. A gateway never provisioned goes at once; others wait for
/// the pipeline to tear their replicas down.
pub async fn delete(
    pool: &AnyPool,
    access: &ProjectAccess,
    caller: &Caller,
    names: &[String],
) -> Result<(), ServiceError> {
    let project = project_id(access);
    let mut tx = pool.begin().await?;
    for name in names {
        let Some(row) = gateway_rows::find_by_name(&mut *tx, &project, name).await? else {
            return Err(ServiceError::NotFound(format!("Gateway {name} not found")));
        };
        let target = [gateway_target(access, row.id, &row.name)];
        let actor = Some(caller.user.id);
        events::record(&mut tx, actor, "Gateway marked for deletion", &target).await?;
        if row.status == GatewayStatus::Submitted {
            gateway_rows::mark_deleted(&mut *tx, row.id, Utc::now()).await?;
            // What the pipeline would record once done; nothing was provisioned to wait for.
            events::record(&mut tx, None, "Gateway deleted", &target).await?;
        } else {
            gateway_rows::mark_to_be_deleted(&mut *tx, row.id).await?;
        }
    }
    tx.commit().await?;
    Ok(())
}

/// `gateways/set_default`: makes the named gateway the project's default.
pub async fn set_default(
    pool: &AnyPool,
    access: &ProjectAccess,
    name: &str,
) -> Result<(), ServiceError> {
    let row = find(pool, access, name).await?;
    if row.to_be_deleted {
        return Err(ServiceError::Invalid(
            "Cannot set gateway marked for deletion as default".to_owned(),
        ));
    }
    let mut tx = pool.begin().await?;
    gateway_rows::clear_default(&mut *tx, &project_id(access)).await?;
    gateway_rows::mark_default(&mut *tx, row.id).await?;
    tx.commit().await?;
    Ok(())
}

/// `gateways/set_wildcard_domain` (deprecated): sets the domain services get names under.
pub async fn set_wildcard_domain(
    pool: &AnyPool,
    access: &ProjectAccess,
    name: &str,
    wildcard_domain: &str,
) -> Result<Gateway, ServiceError> {
    let row = find(pool, access, name).await?;
    let mut configuration: GatewayConfiguration =
        parse_json("gateways.configuration", &row.configuration)?;
    configuration.domain = Some(wildcard_domain.to_owned());
    gateway_rows::update_configuration(
        pool,
        row.id,
        &to_value(&configuration).to_string(),
        Some(wildcard_domain),
    )
    .await?;
    get(pool, access, name).await
}
