//! `gpus/list`: the offers for a run spec's requirements, grouped by GPU and optionally by
//! backend, region and GPU count (api.md §2.11; `dstack offer --group-by`).

use dstack_core::api::gpus::{
    GpuGroup, GpuGroupBy, GpuGroups, ListGpusRequest, PriceRange, SpotKind,
};
use dstack_core::api::runs::RunSpec;
use dstack_core::backend::BackendType;
use dstack_core::configuration::AnyRunConfiguration;
use dstack_core::configuration::profile::SpotPolicy;
use dstack_core::offers::{InstanceOfferWithAvailability, Requirements};
use dstack_core::range::Range;
use dstack_core::resources::GpuVendor;
use dstack_core::resources::defaults::ImageSource;

use super::ServiceError;
use super::offers::offers_for_requirements;
use super::projects::ProjectAccess;
use crate::db::Database;

/// The requirements of a run's jobs: the configuration's resources with the server's
/// defaults, and its price and spot limits over the profile's.
pub fn requirements_of(spec: &RunSpec) -> Requirements {
    macro_rules! with_profile {
        ($configuration:expr) => {{
            let mut configuration = $configuration.clone();
            if let Some(profile) = &spec.profile {
                configuration.apply_profile(profile);
            }
            let image = match (&configuration.image, configuration.docker) {
                (Some(_), _) => ImageSource::Custom,
                (None, Some(true)) => ImageSource::Docker,
                (None, _) => ImageSource::Default,
            };
            let mut resources = configuration.resources.clone();
            resources.apply_server_defaults(image);
            (
                resources,
                configuration.spot_policy,
                configuration.max_price,
            )
        }};
    }
    let (resources, spot_policy, max_price) = match &spec.configuration {
        AnyRunConfiguration::Task(c) => with_profile!(c),
        AnyRunConfiguration::Service(c) => with_profile!(c),
        AnyRunConfiguration::DevEnvironment(c) => with_profile!(c),
    };
    Requirements {
        resources,
        max_price,
        spot: match spot_policy.unwrap_or(SpotPolicy::OnDemand) {
            SpotPolicy::Spot => Some(true),
            SpotPolicy::OnDemand => Some(false),
            SpotPolicy::Auto => None,
        },
        reservation: None,
        multinode: None,
        backend_options: None,
    }
}

/// What makes two offers' GPUs one group.
#[derive(Debug, Clone, PartialEq)]
struct GroupKey {
    name: String,
    memory_mib: u64,
    vendor: GpuVendor,
    backend: Option<BackendType>,
    region: Option<String>,
    count: Option<u32>,
}

fn push_unique<T: PartialEq>(items: &mut Vec<T>, item: T) {
    if !items.contains(&item) {
        items.push(item);
    }
}

fn widen(range: &mut PriceRange, price: f64) {
    range.min = Some(range.min.map_or(price, |min| min.min(price)));
    range.max = Some(range.max.map_or(price, |max| max.max(price)));
}

/// Groups the GPU offers; offers without GPUs are left out. Prices are per GPU.
pub fn group_offers(offers: &[InstanceOfferWithAvailability], by: &[GpuGroupBy]) -> Vec<GpuGroup> {
    let by_backend = by.contains(&GpuGroupBy::Backend);
    let by_region = by.contains(&GpuGroupBy::Region);
    let by_count = by.contains(&GpuGroupBy::Count);
    let mut groups: Vec<(GroupKey, GpuGroup)> = Vec::new();
    for offer in offers {
        let gpus = &offer.instance.resources.gpus;
        let Some(gpu) = gpus.first() else {
            continue;
        };
        let count = u32::try_from(gpus.len()).unwrap_or(u32::MAX);
        let key = GroupKey {
            name: gpu.name.clone(),
            memory_mib: gpu.memory_mib,
            vendor: gpu.vendor.unwrap_or(GpuVendor::Nvidia),
            backend: by_backend.then_some(offer.backend),
            region: by_region.then(|| offer.region.clone()),
            count: by_count.then_some(count),
        };
        let index = match groups.iter().position(|(k, _)| *k == key) {
            Some(index) => index,
            None => {
                let group = GpuGroup {
                    name: key.name.clone(),
                    memory_mib: key.memory_mib,
                    vendor: key.vendor,
                    availability: Vec::new(),
                    spot: Vec::new(),
                    count: Range {
                        min: Some(count),
                        max: Some(count),
                    },
                    price: PriceRange {
                        min: None,
                        max: None,
                    },
                    offer_price: None,
                    backends: (!by_backend).then(Vec::new),
                    backend: key.backend,
                    regions: (by_backend && !by_region).then(Vec::new),
                    region: key.region.clone(),
                };
                groups.push((key, group));
                groups.len() - 1
            }
        };
        let group = &mut groups[index].1;
        push_unique(&mut group.availability, offer.availability);
        let spot = if offer.instance.resources.spot {
            SpotKind::Spot
        } else {
            SpotKind::OnDemand
        };
        push_unique(&mut group.spot, spot);
        if let Some(backends) = &mut group.backends {
            push_unique(backends, offer.backend);
        }
        if let Some(regions) = &mut group.regions {
            push_unique(regions, offer.region.clone());
        }
        group.count.min = group.count.min.map(|min| min.min(count));
        group.count.max = group.count.max.map(|max| max.max(count));
        widen(&mut group.price, offer.price / f64::from(count));
    }
    let mut groups: Vec<GpuGroup> = groups.into_iter().map(|(_, group)| group).collect();
    groups.sort_by(|a, b| {
        let unusable = |g: &GpuGroup| g.availability.iter().all(|a| a.is_unavailable());
        unusable(a)
            .cmp(&unusable(b))
            .then(
                a.price
                    .min
                    .unwrap_or_default()
                    .total_cmp(&b.price.min.unwrap_or_default()),
            )
            .then(
                a.price
                    .max
                    .unwrap_or_default()
                    .total_cmp(&b.price.max.unwrap_or_default()),
            )
            .then(a.name.cmp(&b.name))
            .then(a.memory_mib.cmp(&b.memory_mib))
    });
    groups
}

/// `gpus/list`: the project's offers for the run spec, grouped.
pub async fn list(
    db: &Database,
    access: &ProjectAccess,
    request: &ListGpusRequest,
) -> Result<GpuGroups, ServiceError> {
    let by = request.group_by.as_deref().unwrap_or_default();
    if by.contains(&GpuGroupBy::Region) && !by.contains(&GpuGroupBy::Backend) {
        return Err(ServiceError::Invalid(
            "Cannot group by 'region' without also grouping by 'backend'".to_owned(),
        ));
    }
    let requirements = requirements_of(&request.run_spec);
    let project = access.project.id.as_uuid();
    let (offers, _) = offers_for_requirements(db, project, &requirements, None).await?;
    Ok(GpuGroups {
        gpus: group_offers(&offers, by),
    })
}
