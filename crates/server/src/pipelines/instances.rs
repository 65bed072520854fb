//! The instances pipeline (lifecycle.md §1.3): provisions pending instances (a local slice
//! starts its shim; an SSH host gets the shim deployed), waits for their shim, terminates
//! instances idle past their idle time, and finishes terminating ones (a local slice's shim is
//! stopped; an SSH host keeps its shim, as with dstack).

use std::time::{Duration, Instant};

use chrono::Utc;
use dstack_core::api::jobs::JobProvisioningData;
use dstack_core::backend::BackendType;
use dstack_core::configuration::fleet::{AutoBlocks, Blocks};
use dstack_core::offers::InstanceOfferWithAvailability;
use dstack_core::status::{InstanceStatus, InstanceTerminationReason};

use super::context::{Scheduler, is_local, local_shim, project_uuid, remote_connection};
use super::hints::Kind;
use super::lease::{self, Claimed, Table};
use super::worker::Reconciler;
use crate::connect::provision::{HostLayout, HostToProvision, provision_host};
use crate::db::instances::{self as instance_rows, InstanceRow};
use crate::db::projects as project_rows;
use crate::db::scheduling::{self, Provisioned};
use crate::db::to_micros;
use crate::services::ServiceError;
use crate::services::events::{self, EventTarget, TargetType, status_changed};

/// Instances on their way up or down at once; idle and busy ones every ten seconds.
pub const TABLE: Table = Table {
    name: "instances",
    eligible: "deleted = 0 AND (\
               (status IN ('pending', 'provisioning', 'terminating') \
                AND last_processed_at <= $1 - 200000) \
               OR (status IN ('idle', 'busy') AND last_processed_at <= $1 - 10000000))",
    order: "last_processed_at ASC",
};

/// How long a new instance may take to come up.
const PROVISIONING_TIMEOUT: Duration = Duration::from_secs(600);
/// How long one pass waits for a new shim to answer.
const SHIM_WAIT: Duration = Duration::from_secs(5);
/// How often it asks meanwhile.
const POLL: Duration = Duration::from_millis(50);

/// Brings instances up and down.
pub struct Instances(pub Scheduler);

impl Reconciler for Instances {
    async fn process(&self, claimed: Claimed) {
        if let Err(error) = self.advance(claimed).await {
            tracing::warn!(id = %claimed.id, "instance pass failed, will retry: {error}");
        }
    }
}

/// What a pass decided.
enum Next {
    /// Nothing to write.
    Wait,
    /// Provisioned: record how to reach it.
    Provisioned {
        to: InstanceStatus,
        provisioning_data: String,
        hostname: String,
    },
    /// Move from one status to another.
    Step(InstanceStatus),
    /// Start terminating, or end at once.
    End {
        reason: InstanceTerminationReason,
        message: String,
        at_once: bool,
    },
    /// An SSH host is ready: record it with what it has.
    Deployed {
        provisioning_data: String,
        offer: String,
        hostname: String,
        total_blocks: u32,
    },
    /// The shim is gone: mark it terminated and deleted.
    Finished,
    /// The shim answered or not.
    Reachable(bool),
}

impl Instances {
    async fn advance(&self, claimed: Claimed) -> Result<(), ServiceError> {
        let db = &self.0.db;
        let Some(instance) = instance_rows::find_any(db.pool(), &claimed.id.to_string()).await?
        else {
            lease::finish(db.pool(), &TABLE, claimed).await?;
            return Ok(());
        };
        let next = match instance.status {
            InstanceStatus::Pending if is_local(&instance) => self.launch(&instance),
            InstanceStatus::Pending if instance.remote_connection_info.is_some() => {
                self.provision_ssh_host(&instance).await
            }
            InstanceStatus::Pending => Next::End {
                reason: InstanceTerminationReason::NoOffers,
                message: "no backend offers a machine that fits the fleet: the local \
                          backend's slices are too small for its resources or disabled, and no \
                          other backend is configured"
                    .to_owned(),
                at_once: true,
            },
            InstanceStatus::Provisioning => self.check_up(&instance).await,
            InstanceStatus::Idle | InstanceStatus::Busy => self.check_idle(&instance).await,
            InstanceStatus::Terminating => {
                if let Some(shim) = local_shim(&instance).filter(|_| is_local(&instance)) {
                    self.0.local.terminate(instance.id, shim).await;
                }
                Next::Finished
            }
            InstanceStatus::Terminated => Next::Wait,
        };
        self.write(claimed, &instance, next).await
    }

    async fn write(
        &self,
        claimed: Claimed,
        instance: &InstanceRow,
        next: Next,
    ) -> Result<(), ServiceError> {
        let mut tx = self.0.db.pool().begin().await?;
        if !lease::finish(&mut *tx, &TABLE, claimed).await? {
            return Ok(());
        }
        let now = to_micros(Utc::now());
        let changed_to = match next {
            Next::Wait => None,
            Next::Reachable(reachable) => {
                if reachable == instance.unreachable {
                    scheduling::set_unreachable(&mut *tx, instance.id, !reachable).await?;
                }
                None
            }
            Next::Provisioned {
                to,
                provisioning_data,
                hostname,
            } => {
                let provisioned = Provisioned {
                    from: instance.status,
                    to,
                    provisioning_data: &provisioning_data,
                    offer: None,
                    hostname: &hostname,
                    total_blocks: None,
                    now,
                };
                scheduling::set_provisioned(&mut *tx, instance.id, provisioned)
                    .await?
                    .then_some(to)
            }
            Next::Deployed {
                provisioning_data,
                offer,
                hostname,
                total_blocks,
            } => {
                let provisioned = Provisioned {
                    from: instance.status,
                    to: InstanceStatus::Idle,
                    provisioning_data: &provisioning_data,
                    offer: Some(&offer),
                    hostname: &hostname,
                    total_blocks: Some(total_blocks),
                    now,
                };
                scheduling::set_provisioned(&mut *tx, instance.id, provisioned)
                    .await?
                    .then_some(InstanceStatus::Idle)
            }
            Next::Step(to) => scheduling::step_instance(&mut *tx, instance.id, instance.status, to)
                .await?
                .then_some(to),
            Next::End {
                reason,
                message,
                at_once,
            } => {
                let ended =
                    scheduling::end_instance(&mut *tx, instance.id, reason, &message, at_once)
                        .await?;
                let to = if at_once {
                    InstanceStatus::Terminated
                } else {
                    InstanceStatus::Terminating
                };
                ended.then_some(to)
            }
            Next::Finished => {
                scheduling::finish_instance(&mut *tx, instance.id, now).await?;
                Some(InstanceStatus::Terminated)
            }
        };
        if let Some(to) = changed_to {
            let target = EventTarget::in_project(
                TargetType::Instance,
                project_uuid(&instance.project_id)?,
                instance.id,
                &instance.name,
            )
            .within_fleet(instance.fleet_id);
            let message = status_changed("Instance", instance.status, to);
            events::record(&mut tx, None, &message, &[target]).await?;
        }
        tx.commit().await?;
        if changed_to.is_some() {
            self.0.wake(&[Kind::Instances, Kind::Jobs, Kind::Fleets]);
        }
        Ok(())
    }

    /// Deploys the shim to an SSH fleet host. Failures that may pass (the host is down, the
    /// shim is slow) keep the instance pending until [`PROVISIONING_TIMEOUT`] after its
    /// creation; the others end it at once.
    async fn provision_ssh_host(&self, instance: &InstanceRow) -> Next {
        let connection = match remote_connection(instance) {
            Ok(connection) => connection,
            Err(error) => return fatal(error.to_string()),
        };
        let agents = match self.0.agent_binaries().await {
            Ok(agents) => agents,
            Err(error) => return fatal(error),
        };
        let project_key = self.project_public_key(instance).await;
        let blocks = match instance.total_blocks {
            Some(count) => Blocks::Count(count),
            None => Blocks::Auto(AutoBlocks::Value),
        };
        let host = HostToProvision {
            connection: &connection,
            blocks,
            project_public_key: project_key.as_deref().unwrap_or_default(),
            agents: &agents,
            layout: &HostLayout::default(),
        };
        match provision_host(&self.0.ssh, &host).await {
            Ok(provisioned) => {
                let offer = serde_json::to_string(&provisioned.offer);
                let data = serde_json::to_string(&provisioned.job_provisioning_data);
                match (offer, data) {
                    (Ok(offer), Ok(provisioning_data)) => Next::Deployed {
                        provisioning_data,
                        offer,
                        hostname: connection.host.clone(),
                        total_blocks: provisioned.total_blocks,
                    },
                    (Err(error), _) | (_, Err(error)) => fatal(error.to_string()),
                }
            }
            Err(error) if !error.is_retryable() => fatal(error.to_string()),
            Err(error) => {
                let age = (Utc::now() - instance.created_at)
                    .to_std()
                    .unwrap_or_default();
                if age > PROVISIONING_TIMEOUT {
                    return Next::End {
                        reason: InstanceTerminationReason::ProvisioningTimeout,
                        message: format!("the host was not provisioned within 10 minutes: {error}"),
                        at_once: true,
                    };
                }
                tracing::info!(instance = %instance.name, "provisioning will be retried: {error}");
                Next::Wait
            }
        }
    }

    async fn project_public_key(&self, instance: &InstanceRow) -> Option<String> {
        let project = project_rows::find_by_name(self.0.db.pool(), &instance.project_name)
            .await
            .ok()??;
        project.owner.ssh_public_key
    }

    /// Starts the shim of a local slice.
    fn launch(&self, instance: &InstanceRow) -> Next {
        let offer: Option<InstanceOfferWithAvailability> = instance
            .offer
            .as_deref()
            .and_then(|offer| serde_json::from_str(offer).ok());
        let Some(offer) = offer else {
            return Next::End {
                reason: InstanceTerminationReason::Error,
                message: "the instance has no offer to provision".to_owned(),
                at_once: true,
            };
        };
        match self.0.local.launch(instance.id) {
            Ok(shim) => {
                let data = JobProvisioningData {
                    backend: BackendType::Remote,
                    base_backend: None,
                    instance_type: offer.instance.clone(),
                    instance_id: instance.id.to_string(),
                    hostname: Some("127.0.0.1".to_owned()),
                    internal_ip: Some("127.0.0.1".to_owned()),
                    public_ip_enabled: false,
                    instance_network: None,
                    region: offer.region.clone(),
                    availability_zone: None,
                    reservation: None,
                    price: offer.price,
                    username: "root".to_owned(),
                    ssh_port: None,
                    dockerized: true,
                    ssh_proxy: None,
                    backend_data: serde_json::to_string(&shim).ok(),
                    gpu_driver: None,
                };
                match serde_json::to_string(&data) {
                    Ok(provisioning_data) => Next::Provisioned {
                        to: InstanceStatus::Provisioning,
                        provisioning_data,
                        hostname: "127.0.0.1".to_owned(),
                    },
                    Err(error) => Next::End {
                        reason: InstanceTerminationReason::Error,
                        message: error.to_string(),
                        at_once: true,
                    },
                }
            }
            Err(error) => Next::End {
                reason: InstanceTerminationReason::Error,
                message: error.to_string(),
                at_once: true,
            },
        }
    }

    /// Waits a little for the new shim; idle or busy once it answers.
    async fn check_up(&self, instance: &InstanceRow) -> Next {
        let Ok(shim) = self.0.shim(instance) else {
            return Next::Wait;
        };
        let deadline = Instant::now() + SHIM_WAIT;
        loop {
            if shim.healthcheck().await.is_ok() {
                let to = if instance.busy_blocks > 0 {
                    InstanceStatus::Busy
                } else {
                    InstanceStatus::Idle
                };
                return Next::Step(to);
            }
            if Instant::now() >= deadline {
                break;
            }
            tokio::time::sleep(POLL).await;
        }
        let age = Utc::now() - instance.created_at;
        if age.to_std().unwrap_or_default() > PROVISIONING_TIMEOUT {
            return Next::End {
                reason: InstanceTerminationReason::ProvisioningTimeout,
                message: "the instance's shim did not answer within 10 minutes".to_owned(),
                at_once: false,
            };
        }
        Next::Wait
    }

    /// Terminates an instance idle past its idle time; else checks its shim still answers.
    async fn check_idle(&self, instance: &InstanceRow) -> Next {
        if instance.status == InstanceStatus::Idle
            && let Some(idle_secs) = instance.termination_idle_time
        {
            let idle_since = instance
                .last_job_processed_at
                .unwrap_or_else(|| to_micros(instance.created_at));
            let idle_for = to_micros(Utc::now()).saturating_sub(idle_since) / 1_000_000;
            if idle_for >= idle_secs {
                return Next::End {
                    reason: InstanceTerminationReason::IdleTimeout,
                    message: format!("idle for {idle_for} s, longer than its idle duration"),
                    at_once: false,
                };
            }
        }
        let reachable = match self.0.shim(instance) {
            Ok(shim) => shim.healthcheck().await.is_ok(),
            Err(_) => false,
        };
        Next::Reachable(reachable)
    }
}

/// A provisioning failure that trying again will not fix.
fn fatal(message: String) -> Next {
    Next::End {
        reason: InstanceTerminationReason::Error,
        message,
        at_once: true,
    }
}
