//! `gpus/list`: the offers for a run spec's requirements, grouped by GPU and optionally by
//! backend, region and GPU count (api.md §2.11; `dstack offer --group-by`).

use dstack_core::api::gpus::{GpuGroupBy, GpuGroups, ListGpusRequest, group_offers};
use dstack_core::api::runs::RunSpec;
use dstack_core::configuration::AnyRunConfiguration;
use dstack_core::configuration::profile::SpotPolicy;
use dstack_core::offers::Requirements;
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
