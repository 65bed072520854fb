//! `gpus/list`: the offers for a run spec's requirements, grouped by GPU and optionally by
//! backend, region and GPU count (api.md §2.11; `dstack offer --group-by`).

use dstack_core::api::gpus::{GpuGroupBy, GpuGroups, ListGpusRequest, group_offers};

use super::ServiceError;
use super::offers::offers_for_requirements;
use super::projects::ProjectAccess;
use super::runs::job_specs;
use crate::backends::local::LocalBackend;
use crate::db::Database;

/// `gpus/list`: the project's offers for the requirements of the run spec's first job,
/// grouped.
pub async fn list(
    db: &Database,
    local: &LocalBackend,
    access: &ProjectAccess,
    request: &ListGpusRequest,
) -> Result<GpuGroups, ServiceError> {
    let by = request.group_by.as_deref().unwrap_or_default();
    if by.contains(&GpuGroupBy::Region) && !by.contains(&GpuGroupBy::Backend) {
        return Err(ServiceError::Invalid(
            "Cannot group by 'region' without also grouping by 'backend'".to_owned(),
        ));
    }
    let requirements = job_specs::first_job_requirements(&request.run_spec)?;
    let project = access.project.id.as_uuid();
    let (offers, _) = offers_for_requirements(db, local, project, &requirements, None).await?;
    Ok(GpuGroups {
        gpus: group_offers(&offers, by),
    })
}
