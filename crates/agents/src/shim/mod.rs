//! The dstack-shim HTTP API (port 10998 on the host): its wire types and a typed client.
//!
//! - [`tasks`]: the v2 tasks API: [`TaskSubmitRequest`], [`TaskInfoResponse`],
//!   [`TaskStatus`] with its allowed transitions, [`TaskTerminateRequest`].
//! - [`instance`]: healthcheck, instance info and health, components, shutdown, and the
//!   `host_info.json` file of SSH fleets ([`HostInfo`]).
//! - [`reason`]: a termination reason that travels as `""` when there is none.
//! - [`client`]: [`ShimClient`], one method per protocol step.

pub mod client;
pub mod instance;
pub mod reason;
pub mod tasks;

pub use client::{ShimClient, ShimClientError};
pub use instance::{
    ComponentInfo, ComponentInstallRequest, ComponentName, ComponentStatus, ComponentsResponse,
    DcgmHealth, DcgmIncident, GpuVendor, HealthcheckResponse, HostGpuSummary, HostInfo,
    InstanceHealthResponse, InstanceInfoResponse, ShimRuntime, ShutdownRequest,
};
pub use tasks::{
    GpuDevice, ImagePullProgress, InstanceMountPoint, NetworkMode, PortMapping, TaskInfoResponse,
    TaskListItem, TaskListResponse, TaskStatus, TaskSubmitRequest, TaskTerminateRequest,
    VolumeInfo, VolumeMountPoint,
};

/// The port the shim listens on, on the host's loopback.
pub const DEFAULT_SHIM_HTTP_PORT: u16 = 10998;

/// The `service` field of the shim's healthcheck.
pub const SHIM_SERVICE_NAME: &str = "dstack-shim";
