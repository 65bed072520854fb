//! The filters of `dstack event`: which targets, within what, of which types. Names resolve
//! to ids through each kind's `get` endpoint, as dstack's CLI does; without a target or
//! within filter the events are those within the current project.

use clap::Args;
use clap::builder::PossibleValuesParser;
use dstack_core::api::events::{ListEventsRequest, TARGET_TYPES};
use uuid::Uuid;

use crate::api::{ApiError, ProjectClient};

/// The filter flags. At most one `--target-*` kind and one `--within-*` kind, as the server
/// accepts; each may repeat.
#[derive(Debug, Clone, Args)]
pub struct FilterArgs {
    /// Only events about this fleet (`NAME` or `PROJECT/NAME`); repeatable.
    #[arg(long = "target-fleet", value_name = "NAME", group = "target")]
    target_fleets: Vec<String>,
    /// Only events about this run; repeatable.
    #[arg(long = "target-run", value_name = "NAME", group = "target")]
    target_runs: Vec<String>,
    /// Only events about this volume; repeatable.
    #[arg(long = "target-volume", value_name = "NAME", group = "target")]
    target_volumes: Vec<String>,
    /// Only events about this gateway (`NAME` or `PROJECT/NAME`); repeatable.
    #[arg(long = "target-gateway", value_name = "NAME", group = "target")]
    target_gateways: Vec<String>,
    /// Only events about this secret; repeatable.
    #[arg(long = "target-secret", value_name = "NAME", group = "target")]
    target_secrets: Vec<String>,
    /// Only events about this fleet or its instances (`NAME` or `PROJECT/NAME`); repeatable.
    #[arg(long = "within-fleet", value_name = "NAME", group = "within")]
    within_fleets: Vec<String>,
    /// Only events about this run or its jobs; repeatable.
    #[arg(long = "within-run", value_name = "NAME", group = "within")]
    within_runs: Vec<String>,
    /// Only events about this gateway or its replicas (`NAME` or `PROJECT/NAME`); repeatable.
    #[arg(long = "within-gateway", value_name = "NAME", group = "within")]
    within_gateways: Vec<String>,
    /// Only events with a target of this type; repeatable.
    #[arg(
        long = "include-target-type",
        value_name = "TYPE",
        value_parser = PossibleValuesParser::new(TARGET_TYPES)
    )]
    include_target_types: Vec<String>,
}

/// Why the filters could not become a request.
#[derive(Debug, thiserror::Error)]
pub enum FilterError {
    /// A named resource is not on the server.
    #[error("{kind} {name} does not exist")]
    NotFound {
        /// `Fleet`, `Run`, ...
        kind: &'static str,
        /// The name as given.
        name: String,
    },
    /// A `PROJECT/NAME` reference with an empty or extra part.
    #[error("Invalid reference {0}: only NAME or PROJECT/NAME is allowed")]
    BadReference(String),
    /// Any other failure of a call.
    #[error(transparent)]
    Api(#[from] ApiError),
}

/// The kinds of resource a filter names.
#[derive(Debug, Clone, Copy)]
enum Kind {
    Fleet,
    Run,
    Volume,
    Gateway,
    Secret,
}

impl Kind {
    fn label(self) -> &'static str {
        match self {
            Self::Fleet => "Fleet",
            Self::Run => "Run",
            Self::Volume => "Volume",
            Self::Gateway => "Gateway",
            Self::Secret => "Secret",
        }
    }

    /// Fleets and gateways can be imported from other projects, so they take `PROJECT/NAME`.
    fn crosses_projects(self) -> bool {
        matches!(self, Self::Fleet | Self::Gateway)
    }

    /// The id of `name` in `client`'s project.
    async fn id_of(self, client: &ProjectClient, name: &str) -> Result<Uuid, ApiError> {
        match self {
            Self::Fleet => client.get_fleet(name).await.map(|fleet| fleet.id),
            Self::Run => client.get_run(name).await.map(|run| run.id.as_uuid()),
            Self::Volume => client.get_volume(name).await.map(|volume| volume.id),
            Self::Gateway => client.get_gateway(name).await.map(|gateway| gateway.id),
            Self::Secret => client.get_secret(name).await.map(|secret| secret.id),
        }
    }
}

/// Where a filter's ids go in the request.
type Field = fn(&mut ListEventsRequest) -> &mut Option<Vec<Uuid>>;

impl FilterArgs {
    /// The filters with their kinds and request fields, in flag order.
    fn filters(&self) -> [(Kind, &[String], Field); 8] {
        [
            (Kind::Fleet, &self.target_fleets, |r| &mut r.target_fleets),
            (Kind::Run, &self.target_runs, |r| &mut r.target_runs),
            (Kind::Volume, &self.target_volumes, |r| {
                &mut r.target_volumes
            }),
            (Kind::Gateway, &self.target_gateways, |r| {
                &mut r.target_gateways
            }),
            (Kind::Secret, &self.target_secrets, |r| {
                &mut r.target_secrets
            }),
            (Kind::Fleet, &self.within_fleets, |r| &mut r.within_fleets),
            (Kind::Run, &self.within_runs, |r| &mut r.within_runs),
            (Kind::Gateway, &self.within_gateways, |r| {
                &mut r.within_gateways
            }),
        ]
    }

    /// A first-page request with the filters' ids; `within_projects` is the project's id
    /// when no target or within filter is given.
    pub async fn to_request(
        &self,
        client: &ProjectClient,
    ) -> Result<ListEventsRequest, FilterError> {
        let mut request = ListEventsRequest::default();
        let mut narrowed = false;
        for (kind, names, field) in self.filters() {
            if names.is_empty() {
                continue;
            }
            let mut ids = Vec::with_capacity(names.len());
            for name in names {
                ids.push(resolve(client, kind, name).await?);
            }
            *field(&mut request) = Some(ids);
            narrowed = true;
        }
        if !narrowed {
            let project = client.get_project().await?;
            request.within_projects = Some(vec![project.project_id.as_uuid()]);
        }
        if !self.include_target_types.is_empty() {
            request.include_target_types = Some(self.include_target_types.clone());
        }
        Ok(request)
    }
}

/// The id of the `kind` that `reference` names: `NAME`, or `PROJECT/NAME` where the kind
/// crosses projects.
async fn resolve(client: &ProjectClient, kind: Kind, reference: &str) -> Result<Uuid, FilterError> {
    let (project, name) = match reference.split_once('/') {
        Some((project, name)) if kind.crosses_projects() => (project, name),
        _ => (client.project(), reference),
    };
    if project.is_empty() || name.is_empty() || name.contains('/') {
        return Err(FilterError::BadReference(reference.to_owned()));
    }
    let other;
    let client = if project == client.project() {
        client
    } else {
        other = ProjectClient::new(client.api().clone(), project);
        &other
    };
    kind.id_of(client, name).await.map_err(|error| match error {
        ApiError::NotFound(_) => FilterError::NotFound {
            kind: kind.label(),
            name: reference.to_owned(),
        },
        error => error.into(),
    })
}
