//! Volumes: list, get, create (as `submitted`; the pipeline provisions) and delete, refused
//! while attached (api.md §2.15, lifecycle.md §1.5).

use chrono::Utc;
use dstack_core::api::volumes::{
    ListVolumesRequest, Volume, VolumeAttachment, VolumeAttachmentData, VolumeInstance,
};
use dstack_core::configuration::volume::VolumeConfiguration;
use dstack_core::status::VolumeStatus;
use serde_json::Value;
use sqlx::AnyPool;
use uuid::Uuid;

use super::events::{self, EventTarget, TargetType, upper};
use super::projects::ProjectAccess;
use super::users::Caller;
use super::{ServiceError, names};
use crate::db::volumes::{self as volume_rows, NewVolume, VolumeRow};
use crate::db::{self, CreatedAtCursor, DbError, ProjectScope, parse_json};

fn not_found() -> ServiceError {
    ServiceError::NotFound("Resource not found".to_owned())
}

async fn to_volume(pool: &AnyPool, row: &VolumeRow) -> Result<Volume, ServiceError> {
    let attachments = volume_rows::attachments(pool, row.id)
        .await?
        .into_iter()
        .map(|a| {
            let attachment_data: Option<VolumeAttachmentData> = a
                .attachment_data
                .as_deref()
                .map(|text| parse_json("volume_attachments.attachment_data", text))
                .transpose()?;
            Ok(VolumeAttachment {
                instance: VolumeInstance {
                    name: a.instance_name,
                    fleet_name: Some(a.fleet_name),
                    instance_num: u32::try_from(a.instance_num).unwrap_or_default(),
                    instance_id: Some(a.instance_id),
                },
                attachment_data,
            })
        })
        .collect::<Result<Vec<_>, DbError>>()?;
    Ok(Volume {
        id: row.id,
        name: row.name.clone(),
        user: row.user_name.clone(),
        project_name: row.project_name.clone(),
        configuration: parse_json("volumes.configuration", &row.configuration)?,
        external: row.external,
        created_at: row.created_at,
        last_processed_at: row.last_processed_at,
        status: row.status,
        status_message: row.status_message.clone(),
        deleted: row.deleted,
        deleted_at: row.deleted_at,
        volume_id: row.volume_id.clone(),
        provisioning_data: row
            .provisioning_data
            .as_deref()
            .map(|text| parse_json("volumes.provisioning_data", text))
            .transpose()?,
        cost: 0.0,
        attachment_data: attachments.first().and_then(|a| a.attachment_data.clone()),
        attachments: Some(attachments),
    })
}

/// `volumes/list` (global): volumes of the caller's projects (all for global admins).
pub async fn list(
    pool: &AnyPool,
    caller: &Caller,
    request: ListVolumesRequest,
) -> Result<Vec<Volume>, ServiceError> {
    let page = request.page;
    super::check_page_limit(page.limit.0, 100)?;
    let filter = ProjectScope {
        member_id: (!caller.is_admin()).then(|| caller.user.id.to_string()),
        project_name: request.project_name,
        only_active: request.only_active,
    };
    let cursor = CreatedAtCursor::from(&page);
    let mut volumes = Vec::new();
    for row in volume_rows::list_page(pool, &filter, &cursor).await? {
        volumes.push(to_volume(pool, &row).await?);
    }
    Ok(volumes)
}

/// `volumes/list` (project): the live volumes.
pub async fn list_project(
    pool: &AnyPool,
    access: &ProjectAccess,
) -> Result<Vec<Volume>, ServiceError> {
    let mut volumes = Vec::new();
    for row in volume_rows::list_live(pool, &access.project.id.to_string()).await? {
        volumes.push(to_volume(pool, &row).await?);
    }
    Ok(volumes)
}

/// `volumes/get`: a live volume by name.
pub async fn get(
    pool: &AnyPool,
    access: &ProjectAccess,
    name: &str,
) -> Result<Volume, ServiceError> {
    let row = volume_rows::find_by_name(pool, &access.project.id.to_string(), name)
        .await?
        .ok_or_else(not_found)?;
    to_volume(pool, &row).await
}

/// Whether the configuration registers an existing volume rather than creating one.
fn is_external(configuration: &Value) -> bool {
    ["volume_id", "claim_name"]
        .iter()
        .any(|key| configuration.get(key).is_some_and(|v| !v.is_null()))
}

fn volume_target(access: &ProjectAccess, id: Uuid, name: &str) -> EventTarget {
    EventTarget::in_project(TargetType::Volume, access.project.id, id, name)
}

/// `volumes/create`: stores the volume as `submitted`, under the given or a generated name.
pub async fn create(
    pool: &AnyPool,
    access: &ProjectAccess,
    caller: &Caller,
    configuration: &VolumeConfiguration,
) -> Result<Volume, ServiceError> {
    configuration
        .check()
        .map_err(|v| ServiceError::Invalid(format!("{}: {}", v.path, v.message)))?;
    let project_id = access.project.id.to_string();
    let user_id = caller.user.id.to_string();
    let stored = serde_json::to_value(configuration)
        .map_err(|error| ServiceError::Invalid(format!("cannot store the volume: {error}")))?;
    let external = is_external(&stored);
    let id = names::insert_named(configuration.name(), |name| {
        let mut stored = stored.clone();
        let (project_id, user_id) = (project_id.clone(), user_id.clone());
        async move {
            stored["name"] = Value::String(name.clone());
            let id = Uuid::new_v4();
            let mut tx = pool.begin().await?;
            let inserted = volume_rows::insert(
                &mut *tx,
                &NewVolume {
                    id,
                    project_id: &project_id,
                    user_id: &user_id,
                    name: &name,
                    configuration: &stored.to_string(),
                    external,
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
            let message = format!("Volume created. Status: {}", upper(VolumeStatus::Submitted));
            let target = [volume_target(access, id, &name)];
            events::record(&mut tx, Some(caller.user.id), &message, &target).await?;
            tx.commit().await?;
            Ok(id)
        }
    })
    .await?;
    let row = volume_rows::list_live(pool, &project_id)
        .await?
        .into_iter()
        .find(|row| row.id == id)
        .ok_or_else(not_found)?;
    to_volume(pool, &row).await
}

/// `volumes/delete`: all or none. A volume attached to an instance refuses the call. One that
/// was never provisioned has nothing in a cloud and goes at once; the pipeline deletes the
/// others' cloud volumes first.
pub async fn delete(
    pool: &AnyPool,
    access: &ProjectAccess,
    caller: &Caller,
    names: &[String],
) -> Result<(), ServiceError> {
    let project_id = access.project.id.to_string();
    let mut tx = pool.begin().await?;
    for name in names {
        let Some(volume) = volume_rows::find_by_name(&mut *tx, &project_id, name).await? else {
            return Err(ServiceError::NotFound(format!("Volume {name} not found")));
        };
        if !volume_rows::attachments(&mut *tx, volume.id)
            .await?
            .is_empty()
        {
            return Err(ServiceError::Invalid(format!(
                "Failed to delete volume {name}: it is attached to an instance"
            )));
        }
        let target = [volume_target(access, volume.id, &volume.name)];
        let actor = Some(caller.user.id);
        events::record(&mut tx, actor, "Volume marked for deletion", &target).await?;
        if volume.provisioning_data.is_none() && volume.volume_id.is_none() {
            volume_rows::mark_deleted(&mut *tx, volume.id, Utc::now()).await?;
            // What the pipeline would record once done; there is no cloud volume to wait for.
            events::record(&mut tx, None, "Volume deleted", &target).await?;
        } else {
            volume_rows::mark_to_be_deleted(&mut *tx, volume.id).await?;
        }
    }
    tx.commit().await?;
    Ok(())
}
