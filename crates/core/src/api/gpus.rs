//! GPU offers grouped for `dstack offer --group-by`: `/api/project/{p}/gpus/list`.
//!
//! Unlike every other endpoint, the reference server leaves out `null` fields here.
//!
//! [`group_offers`] turns offers into the groups, with prices per GPU.

use serde::{Deserialize, Serialize};

use super::common::null_as_default;
use super::runs::RunSpec;
use crate::backend::BackendType;
use crate::offers::{InstanceAvailability, InstanceOfferWithAvailability};
use crate::range::Range;
use crate::resources::GpuVendor;

/// A key to group GPU offers by, besides the GPU itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GpuGroupBy {
    /// One group per backend.
    Backend,
    /// One group per region (implies backend).
    Region,
    /// One group per GPU count.
    Count,
}

/// Whether an offer is a spot instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SpotKind {
    /// Interruptible.
    Spot,
    /// On demand.
    OnDemand,
}

/// A range of prices per hour (`Range[float]`), only ever written by the server.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PriceRange {
    /// The lowest price.
    #[serde(default)]
    pub min: Option<f64>,
    /// The highest price.
    #[serde(default)]
    pub max: Option<f64>,
}

/// `gpus/list` request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ListGpusRequest {
    /// The run whose requirements select the offers.
    pub run_spec: RunSpec,
    /// Extra grouping keys.
    #[serde(default)]
    pub group_by: Option<Vec<GpuGroupBy>>,
    /// Whether to list every offer of an instance type.
    #[serde(default, deserialize_with = "null_as_default")]
    pub full_offers: bool,
    /// Whether to list the unallocated share of busy instances.
    #[serde(default, deserialize_with = "null_as_default")]
    pub unallocated_resources: bool,
    /// Most expensive first. Left out when false, as the CLI does: servers before 0.22.5
    /// reject the field.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "std::ops::Not::not"
    )]
    pub reverse: bool,
}

/// One group of GPU offers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GpuGroup {
    /// The GPU name.
    pub name: String,
    /// GPU memory in MiB.
    pub memory_mib: u64,
    /// The vendor.
    pub vendor: GpuVendor,
    /// The availabilities seen in the group.
    pub availability: Vec<InstanceAvailability>,
    /// The spot kinds seen in the group.
    pub spot: Vec<SpotKind>,
    /// GPU counts per offer.
    pub count: Range<u32>,
    /// Prices per hour.
    pub price: PriceRange,
    /// Prices of the offer as a whole.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offer_price: Option<PriceRange>,
    /// The backends, when not grouped by backend.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backends: Option<Vec<BackendType>>,
    /// The backend, when grouped by it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backend: Option<BackendType>,
    /// The regions, when not grouped by region.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub regions: Option<Vec<String>>,
    /// The region, when grouped by it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
}

/// `gpus/list` response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GpuGroups {
    /// The groups.
    pub gpus: Vec<GpuGroup>,
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

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn offer(
        backend: &str,
        region: &str,
        gpus: usize,
        price: f64,
    ) -> InstanceOfferWithAvailability {
        let gpu = json!({"name": "A100", "memory_mib": 81920, "vendor": "nvidia"});
        serde_json::from_value(json!({
            "backend": backend, "region": region, "price": price, "availability": "available",
            "instance": {"name": "x", "resources": {"cpus": 8, "memory_mib": 1024,
                "gpus": vec![gpu; gpus], "spot": false}},
        }))
        .expect("offer")
    }

    #[test]
    fn offers_group_by_gpu_with_prices_per_gpu() {
        let offers = [
            offer("aws", "us", 2, 4.0),
            offer("gcp", "eu", 1, 3.0),
            offer("aws", "eu", 0, 0.1),
        ];
        let groups = group_offers(&offers, &[]);
        assert_eq!(groups.len(), 1, "offers without GPUs are left out");
        let group = &groups[0];
        assert_eq!((group.count.min, group.count.max), (Some(1), Some(2)));
        assert_eq!((group.price.min, group.price.max), (Some(2.0), Some(3.0)));
        assert_eq!(
            group.backends,
            Some(vec![BackendType::Aws, BackendType::Gcp])
        );
        assert_eq!(group.regions, None);

        let by_backend = group_offers(&offers, &[GpuGroupBy::Backend]);
        assert_eq!(by_backend.len(), 2);
        assert_eq!(
            by_backend[0].backend,
            Some(BackendType::Aws),
            "cheapest per GPU first"
        );
        assert_eq!(by_backend[0].regions, Some(vec!["us".to_owned()]));
        let by_count = group_offers(&offers, &[GpuGroupBy::Count]);
        assert_eq!(by_count.len(), 2);
    }

    #[test]
    fn gpu_groups_leave_out_null_fields() {
        let body = json!({
            "name": "A100", "memory_mib": 81920, "vendor": "nvidia",
            "availability": ["available"], "spot": ["on-demand"],
            "count": {"min": 1, "max": 8}, "price": {"min": 1.5, "max": 12.0},
            "backend": "aws",
        });
        let group: GpuGroup = serde_json::from_value(body.clone()).expect("gpu group");
        assert_eq!(group.backends, None);
        assert_eq!(serde_json::to_value(&group).expect("serializes"), body);
    }
}
