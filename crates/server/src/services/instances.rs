//! Instances of fleets: `instances/list` across the caller's projects and `instances/get`.
//! Rows are written by the fleets service and, later, the pipelines.

use dstack_core::api::instances::{Instance, ListInstancesRequest};
use dstack_core::api::jobs::JobProvisioningData;
use dstack_core::offers::{InstanceOfferWithAvailability, InstanceType};
use sqlx::AnyPool;
use uuid::Uuid;

use super::ServiceError;
use super::projects::ProjectAccess;
use super::users::Caller;
use crate::db::instances::{self as instance_rows, InstanceFilter, InstanceRow};
use crate::db::{CreatedAtCursor, DbError, parse_json};

/// The offer an instance was made from, if known.
pub(crate) fn offer_of(
    row: &InstanceRow,
) -> Result<Option<InstanceOfferWithAvailability>, DbError> {
    row.offer
        .as_deref()
        .map(|text| parse_json("instances.offer", text))
        .transpose()
}

/// An instance as the API shows it.
pub fn to_instance(row: &InstanceRow) -> Result<Instance, ServiceError> {
    let provisioning: Option<JobProvisioningData> = row
        .job_provisioning_data
        .as_deref()
        .map(|text| parse_json("instances.job_provisioning_data", text))
        .transpose()?;
    let instance_type: Option<InstanceType> = match &provisioning {
        Some(data) => Some(data.instance_type.clone()),
        None => offer_of(row)?.map(|offer| offer.instance),
    };
    let backend = row
        .backend
        .as_deref()
        .map(|name| parse_json("instances.backend", &format!("\"{name}\"")))
        .transpose()?;
    Ok(Instance {
        id: row.id,
        project_name: row.project_name.clone(),
        backend,
        instance_type,
        name: row.name.clone(),
        fleet_id: Some(row.fleet_id),
        fleet_name: Some(row.fleet_name.clone()),
        instance_num: row.instance_num,
        job_name: None,
        hostname: row.hostname.clone(),
        status: row.status,
        unreachable: row.unreachable,
        health_status: row.health_status,
        termination_reason: row.termination_reason,
        termination_reason_message: row.termination_reason_message.clone(),
        created: row.created_at,
        finished_at: row.finished_at,
        region: row.region.clone(),
        availability_zone: row.availability_zone.clone(),
        price: row.price,
        total_blocks: row.total_blocks,
        busy_blocks: row.busy_blocks,
        gpu_driver: provisioning.and_then(|data| data.gpu_driver),
    })
}

/// `instances/list`: instances of every project the caller is a member of (all projects for
/// global admins), newest first.
pub async fn list(
    pool: &AnyPool,
    caller: &Caller,
    request: ListInstancesRequest,
) -> Result<Vec<Instance>, ServiceError> {
    let page = request.page;
    let filter = InstanceFilter {
        member_id: (!caller.is_admin()).then(|| caller.user.id.to_string()),
        project_names: request.project_names,
        fleet_ids: request.fleet_ids,
        only_active: request.only_active,
    };
    let cursor = CreatedAtCursor::from(&page);
    let rows = instance_rows::list_page(pool, &filter, &cursor).await?;
    rows.iter().map(to_instance).collect()
}

/// `instances/get`: one instance of the project.
pub async fn get(
    pool: &AnyPool,
    access: &ProjectAccess,
    id: Uuid,
) -> Result<Instance, ServiceError> {
    let row = instance_rows::find(pool, &access.project.id.to_string(), id)
        .await?
        .ok_or_else(|| ServiceError::NotFound("Instance not found".to_owned()))?;
    to_instance(&row)
}
