//! Offers for a job's requirements, gathered from every [`Source`] and ordered as dstack
//! orders them (usable first, then cheapest).
//!
//! The offers are the project's fleet instances that can take a job (idle ones, and instances
//! cut into blocks that still have room) and, from [`Source::Backends`], a new slice of this
//! host from the local backend.

use dstack_core::offers::{
    InstanceAvailability, InstanceOfferWithAvailability, Requirements, Resources, offer_satisfies,
    sort_offers,
};
use dstack_core::status::{HealthStatus, InstanceStatus};
use uuid::Uuid;

use super::ServiceError;
use super::instances::offer_of;
use crate::backends::local::{Held, LOCAL_REGION, LocalBackend};
use crate::db::instances::{self as instance_rows, InstanceRow};
use crate::db::{Database, scheduling};

/// Where offers come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// Instances of the project's fleets that can take the job now.
    FleetInstances,
    /// Backends that can provision a new instance: a slice of this host.
    Backends,
}

/// Every source: what a run's plan shows.
pub const ALL_SOURCES: &[Source] = &[Source::FleetInstances, Source::Backends];

/// The offers for `requirements` in the project: at most `max_offers` of them (all when
/// `None`), best first, and how many there are in all.
pub async fn offers_for_requirements(
    db: &Database,
    local: &LocalBackend,
    project_id: Uuid,
    requirements: &Requirements,
    max_offers: Option<usize>,
) -> Result<(Vec<InstanceOfferWithAvailability>, usize), ServiceError> {
    offers_from(db, local, project_id, requirements, ALL_SOURCES, max_offers).await
}

/// The offers of the given sources, as [`offers_for_requirements`].
pub async fn offers_from(
    db: &Database,
    local: &LocalBackend,
    project_id: Uuid,
    requirements: &Requirements,
    sources: &[Source],
    max_offers: Option<usize>,
) -> Result<(Vec<InstanceOfferWithAvailability>, usize), ServiceError> {
    let mut offers = Vec::new();
    for source in sources {
        match source {
            Source::FleetInstances => {
                offers.extend(fleet_offers(db, project_id, requirements).await?);
            }
            Source::Backends => offers.extend(local_offer(db, local, requirements).await?),
        }
    }
    sort_offers(&mut offers);
    let total = offers.len();
    if let Some(max) = max_offers {
        offers.truncate(max);
    }
    Ok((offers, total))
}

/// A new slice of this host, unavailable while the host is too busy for it.
async fn local_offer(
    db: &Database,
    local: &LocalBackend,
    requirements: &Requirements,
) -> Result<Option<InstanceOfferWithAvailability>, ServiceError> {
    let Ok(mut slice) = local.slice(requirements) else {
        return Ok(None);
    };
    let held = Held::of_offers(&scheduling::local_offers(db.pool(), LOCAL_REGION).await?);
    if local.fits_now(&slice, held).is_err() {
        slice.availability = InstanceAvailability::NotAvailable;
    }
    Ok(Some(slice))
}

async fn fleet_offers(
    db: &Database,
    project_id: Uuid,
    requirements: &Requirements,
) -> Result<Vec<InstanceOfferWithAvailability>, ServiceError> {
    let rows = instance_rows::list_usable(db.pool(), &project_id.to_string()).await?;
    let mut offers = Vec::new();
    for row in &rows {
        if let Some(offer) = instance_offer(row, requirements)? {
            offers.push(offer);
        }
    }
    Ok(offers)
}

/// `blocks` of an instance cut into `total` blocks: that share of its CPUs, memory and GPUs.
fn shared_resources(full: &Resources, blocks: u32, total: u32) -> Resources {
    let gpus_per_block = full.gpus.len() / total as usize;
    Resources {
        cpus: full.cpus / total * blocks,
        memory_mib: full.memory_mib / u64::from(total) * u64::from(blocks),
        gpus: full.gpus[..gpus_per_block * blocks as usize].to_vec(),
        ..full.clone()
    }
}

/// The offer of one instance for `requirements`: the fewest blocks that satisfy them, idle if
/// that many blocks are free, busy otherwise; `None` when no share of it fits.
fn instance_offer(
    row: &InstanceRow,
    requirements: &Requirements,
) -> Result<Option<InstanceOfferWithAvailability>, ServiceError> {
    let (Some(offer), Some(total)) = (offer_of(row)?, row.total_blocks) else {
        return Ok(None);
    };
    if row.unreachable || row.health_status == HealthStatus::Failure || total == 0 {
        return Ok(None);
    }
    let free = total.saturating_sub(row.busy_blocks);
    if total == 1 {
        let idle = row.status == InstanceStatus::Idle && free == 1;
        let offer = InstanceOfferWithAvailability {
            availability: if idle {
                InstanceAvailability::Idle
            } else {
                InstanceAvailability::Busy
            },
            blocks: 1,
            total_blocks: 1,
            ..offer
        };
        return Ok(offer_satisfies(requirements, &offer)
            .is_ok()
            .then_some(offer));
    }
    // A multi-node job takes whole instances.
    let fewest = if requirements.multinode == Some(true) {
        total
    } else {
        1
    };
    for blocks in fewest..=total {
        let mut shared = offer.clone();
        shared.instance.resources = shared_resources(&offer.instance.resources, blocks, total);
        shared.blocks = blocks;
        shared.total_blocks = total;
        if offer_satisfies(requirements, &shared).is_ok() {
            shared.availability = if blocks <= free {
                InstanceAvailability::Idle
            } else {
                InstanceAvailability::Busy
            };
            return Ok(Some(shared));
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use dstack_core::offers::{Disk, Gpu};

    use super::*;

    #[test]
    fn a_block_gets_its_share_of_cpus_memory_and_gpus() {
        let gpu = Gpu {
            name: "A100".to_owned(),
            memory_mib: 81920,
            vendor: None,
        };
        let full = Resources {
            cpus: 32,
            memory_mib: 256 * 1024,
            gpus: vec![gpu; 8],
            spot: false,
            disk: Disk::default(),
            cpu_arch: None,
            description: String::new(),
        };
        let two_of_four = shared_resources(&full, 2, 4);
        assert_eq!(two_of_four.cpus, 16);
        assert_eq!(two_of_four.memory_mib, 128 * 1024);
        assert_eq!(two_of_four.gpus.len(), 4);
        assert_eq!(two_of_four.disk, full.disk);
    }
}
