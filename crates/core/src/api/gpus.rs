//! GPU offers grouped for `dstack offer --group-by`: `/api/project/{p}/gpus/list`.
//!
//! Unlike every other endpoint, the reference server leaves out `null` fields here.

use serde::{Deserialize, Serialize};

use super::common::null_as_default;
use super::runs::RunSpec;
use crate::backend::BackendType;
use crate::offers::InstanceAvailability;
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

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

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
