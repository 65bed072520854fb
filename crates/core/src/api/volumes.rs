//! Volumes: `/api/volumes/list` and `/api/project/{p}/volumes/*`.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::common::{CreatedAtPage, NameRequest, NamesRequest, default_true, null_as_default, utc};
use crate::backend::BackendType;
use crate::configuration::volume::VolumeConfiguration;
use crate::status::VolumeStatus;

/// A network volume.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Volume {
    /// The volume id.
    pub id: Uuid,
    /// The volume name.
    pub name: String,
    /// The creator's user name.
    pub user: String,
    /// The project.
    pub project_name: String,
    /// What was asked.
    pub configuration: VolumeConfiguration,
    /// Whether the volume existed before dstack registered it.
    pub external: bool,
    /// When it was created.
    #[serde(with = "utc")]
    pub created_at: DateTime<Utc>,
    /// When the server last processed it.
    #[serde(with = "utc")]
    pub last_processed_at: DateTime<Utc>,
    /// The volume status.
    pub status: VolumeStatus,
    /// A status text.
    #[serde(default)]
    pub status_message: Option<String>,
    /// Whether it was deleted.
    pub deleted: bool,
    /// When it was deleted.
    #[serde(with = "utc::option", default)]
    pub deleted_at: Option<DateTime<Utc>>,
    /// The cloud volume id.
    #[serde(default)]
    pub volume_id: Option<String>,
    /// What the backend created.
    #[serde(default)]
    pub provisioning_data: Option<VolumeProvisioningData>,
    /// USD spent so far.
    #[serde(default)]
    pub cost: f64,
    /// The instances it is attached to.
    #[serde(default)]
    pub attachments: Option<Vec<VolumeAttachment>>,
    /// Deprecated: the attachment of the only instance.
    #[serde(default)]
    pub attachment_data: Option<VolumeAttachmentData>,
}

/// What the backend created for a volume.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VolumeProvisioningData {
    /// The backend.
    #[serde(default)]
    pub backend: Option<BackendType>,
    /// The cloud volume id.
    pub volume_id: String,
    /// The size in GB.
    pub size_gb: Option<u64>,
    /// The availability zone.
    #[serde(default)]
    pub availability_zone: Option<String>,
    /// USD per hour.
    #[serde(default)]
    pub price: Option<f64>,
    /// Whether it can be attached to a running instance.
    #[serde(default = "default_true")]
    pub attachable: bool,
    /// Whether it can be detached from a running instance.
    #[serde(default = "default_true")]
    pub detachable: bool,
    /// Backend-specific JSON.
    #[serde(default)]
    pub backend_data: Option<String>,
}

/// An instance a volume is attached to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VolumeAttachment {
    /// The instance.
    pub instance: VolumeInstance,
    /// How it is attached.
    #[serde(default)]
    pub attachment_data: Option<VolumeAttachmentData>,
}

/// The instance side of a volume attachment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VolumeInstance {
    /// The instance name.
    pub name: String,
    /// The fleet name.
    #[serde(default)]
    pub fleet_name: Option<String>,
    /// The index within the fleet.
    pub instance_num: u32,
    /// The cloud instance id.
    #[serde(default)]
    pub instance_id: Option<String>,
}

/// How a volume is attached.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VolumeAttachmentData {
    /// The device on the instance.
    #[serde(default)]
    pub device_name: Option<String>,
}

/// `POST /api/volumes/list` request.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ListVolumesRequest {
    /// Only this project.
    #[serde(default)]
    pub project_name: Option<String>,
    /// Leave out deleted volumes.
    #[serde(default, deserialize_with = "null_as_default")]
    pub only_active: bool,
    /// The page, by creation time.
    #[serde(flatten)]
    pub page: CreatedAtPage<100>,
}

/// `volumes/get` request.
pub type GetVolumeRequest = NameRequest;

/// `volumes/create` request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CreateVolumeRequest {
    /// The volume configuration.
    pub configuration: VolumeConfiguration,
}

/// `volumes/delete` request.
pub type DeleteVolumesRequest = NamesRequest;
