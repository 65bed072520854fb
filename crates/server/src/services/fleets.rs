//! Fleets: plans, applies (create, in-place update), reads and deletes (api.md §2.9, §4.7;
//! lifecycle.md §1.4).
//!
//! Nothing is provisioned here: an apply stores the fleet and its instances as `pending`
//! (one per SSH host, `nodes.target` for a cloud fleet), and the pipelines take them from
//! there. SSH private keys stay in the stored spec and the instances' connection info; no
//! response carries them, except the plan's `spec`, which is the caller's own request sent
//! back for `fleets/apply`.

use chrono::Utc;
use dstack_core::api::common::ApplyAction;
use dstack_core::api::fleets::{
    ApplyFleetPlanRequest, Fleet, FleetPlan, FleetSpec, GetFleetRequest, ListFleetsRequest,
};
use dstack_core::backend::BackendType;
use dstack_core::configuration::fleet::{Blocks, Placement};
use dstack_core::configuration::profile::SpotPolicy;
use dstack_core::configuration::ssh::SshHost;
use dstack_core::fleet_specs::{self, check_can_update, host_changes, without_keys};
use dstack_core::offers::{
    Disk, InstanceOfferWithAvailability, InstanceType, Requirements, Resources,
};
use dstack_core::status::{FleetStatus, InstanceStatus, InstanceTerminationReason};
use serde::Serialize;
use sqlx::{Any, AnyPool, Transaction};
use uuid::Uuid;

use super::events::{self, EventTarget, TargetType, status_changed, upper};
use super::instances::to_instance;
use super::offers::{self, Source};
use super::projects::ProjectAccess;
use super::users::Caller;
use super::{ServiceError, names};
use crate::backends::local::LocalBackend;
use crate::connect::RemoteConnectionInfo;
use crate::db::fleets::{self as fleet_rows, FleetRow, NewFleet};
use crate::db::instances::{self as instance_rows, InstanceRow, NewInstance};
use crate::db::runs as run_rows;
use crate::db::{self, CreatedAtCursor, Database, DbError, ProjectScope, parse_json};

/// At most this many offers in a plan.
const MAX_PLAN_OFFERS: usize = 50;

fn not_found() -> ServiceError {
    ServiceError::NotFound("Resource not found".to_owned())
}

fn resource_exists() -> ServiceError {
    ServiceError::AlreadyExists("Resource exists".to_owned())
}

fn parse_spec(row: &FleetRow) -> Result<FleetSpec, ServiceError> {
    Ok(parse_json("fleets.spec", &row.spec)?)
}

fn to_json<T: Serialize>(value: &T) -> Result<String, ServiceError> {
    serde_json::to_string(value)
        .map_err(|error| ServiceError::Invalid(format!("cannot store the fleet: {error}")))
}

/// A fleet with its live instances, keys stripped.
async fn to_fleet(pool: &AnyPool, row: &FleetRow) -> Result<Fleet, ServiceError> {
    let instances = instance_rows::list_live_of_fleet(pool, row.id).await?;
    Ok(Fleet {
        id: row.id,
        name: row.name.clone(),
        project_name: row.project_name.clone(),
        spec: without_keys(&parse_spec(row)?),
        created_at: row.created_at,
        status: row.status,
        status_message: row.status_message.clone(),
        instances: instances
            .iter()
            .map(to_instance)
            .collect::<Result<_, _>>()?,
    })
}

fn fleet_target(access: &ProjectAccess, id: Uuid, name: &str) -> EventTarget {
    EventTarget::in_project(TargetType::Fleet, access.project.id, id, name).within_fleet(id)
}

fn instance_target(access: &ProjectAccess, fleet_id: Uuid, id: Uuid, name: &str) -> EventTarget {
    EventTarget::in_project(TargetType::Instance, access.project.id, id, name)
        .within_fleet(fleet_id)
}

/// Records that the caller created `instance` (`on` says when: fleet submission or update).
async fn record_instance_created(
    tx: &mut Transaction<'static, Any>,
    access: &ProjectAccess,
    caller: &Caller,
    instance: &NewInstance,
    on: &str,
) -> Result<(), ServiceError> {
    let message = format!(
        "Instance created on {on}. Status: {}",
        upper(instance.status.unwrap_or(InstanceStatus::Pending))
    );
    let target = [instance_target(
        access,
        instance.fleet_id,
        instance.id,
        &instance.name,
    )];
    events::record(tx, Some(caller.user.id), &message, &target).await
}

fn project_id(access: &ProjectAccess) -> String {
    access.project.id.to_string()
}

/// `fleets/list` (global): fleets of the caller's projects (every project for global
/// admins), newest first.
pub async fn list(
    pool: &AnyPool,
    caller: &Caller,
    request: ListFleetsRequest,
) -> Result<Vec<Fleet>, ServiceError> {
    let page = request.page;
    super::check_page_limit(page.limit.0, 100)?;
    let filter = ProjectScope {
        member_id: (!caller.is_admin()).then(|| caller.user.id.to_string()),
        project_name: request.project_name,
        only_active: request.only_active,
    };
    let cursor = CreatedAtCursor::from(&page);
    let mut fleets = Vec::new();
    for row in fleet_rows::list_page(pool, &filter, &cursor).await? {
        fleets.push(to_fleet(pool, &row).await?);
    }
    Ok(fleets)
}

/// `fleets/list` (project): the project's live fleets. Imports are not supported yet, so
/// `include_imported` adds nothing.
pub async fn list_project(
    pool: &AnyPool,
    access: &ProjectAccess,
) -> Result<Vec<Fleet>, ServiceError> {
    let mut fleets = Vec::new();
    for row in fleet_rows::list_live(pool, &project_id(access)).await? {
        fleets.push(to_fleet(pool, &row).await?);
    }
    Ok(fleets)
}

/// `fleets/get`: a live fleet by name, or any fleet by id.
pub async fn get(
    pool: &AnyPool,
    access: &ProjectAccess,
    request: &GetFleetRequest,
) -> Result<Fleet, ServiceError> {
    let project = project_id(access);
    let row = match (&request.name, request.id) {
        (_, Some(id)) => fleet_rows::find_by_id(pool, &project, id).await?,
        (Some(name), None) => fleet_rows::find_by_name(pool, &project, name).await?,
        (None, None) => {
            return Err(ServiceError::Invalid(
                "name or id must be specified".to_owned(),
            ));
        }
    };
    to_fleet(pool, &row.ok_or_else(not_found)?).await
}

/// Checks the spec and that none of its SSH hosts is in another live fleet.
async fn check_spec(
    pool: &AnyPool,
    spec: &FleetSpec,
    current: Option<Uuid>,
) -> Result<(), ServiceError> {
    fleet_specs::validate(spec).map_err(ServiceError::Invalid)?;
    let Some(ssh) = &spec.configuration.ssh_config else {
        return Ok(());
    };
    let wanted: Vec<String> = ssh.hosts.iter().map(|h| h.hostname().to_owned()).collect();
    let taken = instance_rows::remote_hosts_in_use(pool, &wanted, current).await?;
    if taken.is_empty() {
        Ok(())
    } else {
        Err(ServiceError::Invalid(format!(
            "Instances [{}] are already assigned to a fleet.",
            taken.join(", ")
        )))
    }
}

/// SSH fleets need the project's `can_manage_ssh_fleets` permission.
fn check_can_manage_ssh_fleets(access: &ProjectAccess) -> Result<(), ServiceError> {
    if access.can_manage_ssh_fleets() {
        Ok(())
    } else {
        Err(ServiceError::Forbidden)
    }
}

/// What a job on a new instance of this cloud fleet needs.
fn fleet_requirements(spec: &FleetSpec) -> Requirements {
    let configuration = &spec.configuration;
    let profile = &spec.profile;
    let spot_policy = configuration.spot_policy.or(profile.spot_policy);
    Requirements {
        resources: configuration.resources.clone().unwrap_or_default(),
        max_price: configuration.max_price.or(profile.max_price),
        spot: match spot_policy.unwrap_or(SpotPolicy::OnDemand) {
            SpotPolicy::Spot => Some(true),
            SpotPolicy::OnDemand => Some(false),
            SpotPolicy::Auto => None,
        },
        reservation: configuration.reservation.clone(),
        multinode: Some(configuration.placement == Some(Placement::Cluster)),
        backend_options: None,
    }
}

/// `fleets/get_plan`: what applying `spec` would do, with the offers for a cloud fleet.
pub async fn get_plan(
    db: &Database,
    local: &LocalBackend,
    access: &ProjectAccess,
    caller: &Caller,
    spec: FleetSpec,
) -> Result<FleetPlan, ServiceError> {
    let pool = db.pool();
    let mut action = ApplyAction::Create;
    let mut current = None;
    if let Some(name) = spec.configuration.name()
        && let Some(row) = fleet_rows::find_by_name(pool, &project_id(access), name).await?
    {
        if check_can_update(&parse_spec(&row)?, &spec).is_ok() {
            action = ApplyAction::Update;
        }
        current = Some(row);
    }
    check_spec(pool, &spec, current.as_ref().map(|row| row.id)).await?;
    let (offers, total_offers) = if spec.configuration.ssh_config.is_none() {
        // A new fleet instance comes from a backend, never from another fleet.
        let requirements = fleet_requirements(&spec);
        let project = access.project.id.as_uuid();
        let sources = &[Source::Backends];
        offers::offers_from(
            db,
            local,
            project,
            &requirements,
            sources,
            Some(MAX_PLAN_OFFERS),
        )
        .await?
    } else {
        (Vec::new(), 0)
    };
    let current_resource = match &current {
        Some(row) => Some(to_fleet(pool, row).await?),
        None => None,
    };
    Ok(FleetPlan {
        project_name: access.project.name.clone(),
        user: caller.user.name.clone(),
        effective_spec: Some(without_keys(&spec)),
        spec,
        current_resource,
        max_offer_price: offers.iter().map(|offer| offer.price).reduce(f64::max),
        offers,
        total_offers: total_offers as u64,
        action: Some(action),
    })
}

/// `fleets/apply`: creates the fleet, or updates the live fleet of that name in place.
pub async fn apply(
    pool: &AnyPool,
    local: &LocalBackend,
    access: &ProjectAccess,
    caller: &Caller,
    request: ApplyFleetPlanRequest,
) -> Result<Fleet, ServiceError> {
    let spec = request.plan.spec;
    let is_ssh = spec.configuration.ssh_config.is_some();
    if is_ssh {
        check_can_manage_ssh_fleets(access)?;
    }
    let project = project_id(access);
    let existing = match spec.configuration.name() {
        Some(name) => fleet_rows::find_by_name(pool, &project, name).await?,
        None => None,
    };
    let Some(row) = existing else {
        check_spec(pool, &spec, None).await?;
        return create(pool, local, access, caller, spec).await;
    };
    check_spec(pool, &spec, Some(row.id)).await?;
    if row.is_locked(db::to_micros(Utc::now())) {
        return Err(ServiceError::Invalid(
            "Failed to update fleet: fleet is being processed currently. Try again later."
                .to_owned(),
        ));
    }
    let stored = parse_spec(&row)?;
    if !request.force {
        // The plan saw no fleet of this name, so the caller meant to create one: someone
        // else's create came first.
        let Some(seen) = request.plan.current_resource.as_ref() else {
            return Err(resource_exists());
        };
        if seen.id != row.id || without_keys(&seen.spec) != without_keys(&stored) {
            return Err(ServiceError::Invalid(
                "Failed to apply plan. Resource has been changed. Try again or use force apply."
                    .to_owned(),
            ));
        }
    }
    check_can_update(&stored, &spec).map_err(ServiceError::Invalid)?;
    update(pool, access, caller, &row, &stored, &spec).await?;
    let row = fleet_rows::find_by_id(pool, &project, row.id)
        .await?
        .ok_or_else(not_found)?;
    to_fleet(pool, &row).await
}

/// Inserts the fleet and its first instances in one transaction, under the given or a
/// generated name.
async fn create(
    pool: &AnyPool,
    local: &LocalBackend,
    access: &ProjectAccess,
    caller: &Caller,
    spec: FleetSpec,
) -> Result<Fleet, ServiceError> {
    let project = project_id(access);
    let given = spec.configuration.name().map(str::to_owned);
    let id = names::insert_named(given.as_deref(), |name| {
        let mut spec = spec.clone();
        let project = project.clone();
        async move {
            spec.configuration.name = Some(name.clone());
            let id = Uuid::new_v4();
            let now = db::to_micros(Utc::now());
            let mut tx = pool.begin().await?;
            let inserted = fleet_rows::insert(
                &mut *tx,
                &NewFleet {
                    id,
                    project_id: &project,
                    name: &name,
                    spec: &to_json(&spec)?,
                    status: FleetStatus::Active,
                    autocreated: spec.autocreated,
                    now_micros: now,
                },
            )
            .await;
            match inserted {
                Err(DbError::UniqueViolation) => return Err(resource_exists()),
                other => other?,
            }
            let message = format!("Fleet created. Status: {}", upper(FleetStatus::Active));
            let target = [fleet_target(access, id, &name)];
            events::record(&mut tx, Some(caller.user.id), &message, &target).await?;
            let new_instances = match &spec.configuration.ssh_config {
                Some(ssh) => ssh
                    .hosts
                    .iter()
                    .zip(0..)
                    .map(|(host, num)| ssh_instance(&project, id, &name, num, &spec, host, now))
                    .collect::<Result<Vec<_>, _>>()?,
                None => {
                    let slice = local.slice(&fleet_requirements(&spec)).ok();
                    (0..nodes_to_provision(&spec))
                        .map(|num| {
                            let mut instance = cloud_instance(&project, id, &name, num, &spec, now);
                            if let Some(slice) = &slice {
                                from_local_slice(&mut instance, slice)?;
                            }
                            Ok(instance)
                        })
                        .collect::<Result<Vec<_>, ServiceError>>()?
                }
            };
            for instance in &new_instances {
                instance_rows::insert(&mut *tx, instance).await?;
                record_instance_created(&mut tx, access, caller, instance, "fleet submission")
                    .await?;
            }
            tx.commit().await?;
            Ok(id)
        }
    })
    .await?;
    let row = fleet_rows::find_by_id(pool, &project, id)
        .await?
        .ok_or_else(not_found)?;
    to_fleet(pool, &row).await
}

/// How many instances a new cloud fleet starts with: `nodes.target`, which is `min` unless
/// set.
fn nodes_to_provision(spec: &FleetSpec) -> u32 {
    spec.configuration
        .nodes
        .map_or(0, |nodes| nodes.target.unwrap_or(nodes.min))
}

fn blocks_count(blocks: Blocks) -> Option<u32> {
    match blocks {
        Blocks::Count(count) => Some(count),
        // One block per GPU: known once the host's GPUs are.
        Blocks::Auto(_) => None,
    }
}

fn cloud_instance(
    project_id: &str,
    fleet_id: Uuid,
    fleet_name: &str,
    num: u32,
    spec: &FleetSpec,
    now_micros: i64,
) -> NewInstance {
    NewInstance {
        id: Uuid::new_v4(),
        project_id: project_id.to_owned(),
        fleet_id,
        instance_num: num,
        name: format!("{fleet_name}-{num}"),
        total_blocks: blocks_count(spec.configuration.blocks),
        now_micros,
        ..NewInstance::default()
    }
}

/// Makes a new cloud-fleet instance a slice of this host, which the instances pipeline starts.
fn from_local_slice(
    instance: &mut NewInstance,
    slice: &InstanceOfferWithAvailability,
) -> Result<(), ServiceError> {
    instance.backend = Some(slice.backend.as_str().to_owned());
    instance.region = Some(slice.region.clone());
    instance.price = Some(slice.price);
    instance.offer = Some(to_json(slice)?);
    instance.total_blocks = Some(1);
    Ok(())
}

/// What an SSH host looks like before it is deployed: dstack shows a placeholder type named
/// `ssh` until the shim reports the real resources.
fn ssh_placeholder_offer() -> InstanceOfferWithAvailability {
    let instance = InstanceType {
        name: "ssh".to_owned(),
        resources: Resources {
            cpus: 2,
            memory_mib: 8,
            gpus: Vec::new(),
            spot: false,
            disk: Disk::default(),
            cpu_arch: None,
            description: String::new(),
        },
    };
    InstanceOfferWithAvailability::remote(instance, "remote", 1)
}

fn ssh_instance(
    project_id: &str,
    fleet_id: Uuid,
    fleet_name: &str,
    num: u32,
    spec: &FleetSpec,
    host: &SshHost,
    now_micros: i64,
) -> Result<NewInstance, ServiceError> {
    let configuration = &spec.configuration;
    let ssh = configuration
        .ssh_config
        .as_ref()
        .ok_or_else(|| ServiceError::Invalid("ssh_config is required".to_owned()))?;
    let params = match host {
        SshHost::Hostname(_) => None,
        SshHost::Params(params) => Some(params.as_ref()),
    };
    let missing = |what: &str| {
        ServiceError::Invalid(format!(
            "No ssh {what} specified for host {}",
            host.hostname()
        ))
    };
    let key = params
        .and_then(|p| p.ssh_key.clone())
        .or_else(|| ssh.ssh_key.clone())
        .ok_or_else(|| missing("key"))?;
    let user = params
        .and_then(|p| p.user.clone())
        .or_else(|| ssh.user.clone())
        .ok_or_else(|| missing("user"))?;
    let connection = RemoteConnectionInfo {
        host: host.hostname().to_owned(),
        port: params.and_then(|p| p.port).or(ssh.port).unwrap_or(22),
        ssh_user: user,
        ssh_keys: vec![key],
        ssh_proxy: params
            .and_then(|p| p.proxy_jump.clone())
            .or_else(|| ssh.proxy_jump.clone()),
        internal_ip: params.and_then(|p| p.internal_ip.clone()),
        network: ssh.network.clone(),
        env: configuration.env.clone(),
    };
    let blocks = params
        .and_then(|p| p.blocks)
        .unwrap_or(configuration.blocks);
    Ok(NewInstance {
        id: Uuid::new_v4(),
        project_id: project_id.to_owned(),
        fleet_id,
        instance_num: num,
        name: format!("{fleet_name}-{num}"),
        backend: Some(BackendType::Remote.as_str().to_owned()),
        region: Some("remote".to_owned()),
        hostname: Some(host.hostname().to_owned()),
        price: Some(0.0),
        offer: Some(to_json(&ssh_placeholder_offer())?),
        remote_connection_info: Some(to_json(&connection)?),
        total_blocks: blocks_count(blocks),
        now_micros,
        ..NewInstance::default()
    })
}

/// Stores the new spec; for an SSH fleet, adds instances for new hosts and terminates those
/// of removed hosts.
async fn update(
    pool: &AnyPool,
    access: &ProjectAccess,
    caller: &Caller,
    row: &FleetRow,
    stored: &FleetSpec,
    spec: &FleetSpec,
) -> Result<(), ServiceError> {
    let mut spec = spec.clone();
    spec.configuration.name = Some(row.name.clone());
    let mut tx = pool.begin().await?;
    fleet_rows::update_spec(&mut *tx, row.id, &to_json(&spec)?).await?;
    if let (Some(current_ssh), Some(new_ssh)) = (
        &stored.configuration.ssh_config,
        &spec.configuration.ssh_config,
    ) {
        let changes = host_changes(current_ssh, new_ssh);
        let live = instance_rows::list_live_of_fleet(&mut *tx, row.id).await?;
        for instance in live.iter().filter(|i| {
            i.hostname
                .as_ref()
                .is_some_and(|host| changes.removed.contains(host))
        }) {
            terminate(&mut tx, access, caller, instance).await?;
        }
        let mut taken: Vec<u32> = live.iter().map(|i| i.instance_num).collect();
        let now = db::to_micros(Utc::now());
        for host in new_ssh
            .hosts
            .iter()
            .filter(|h| changes.added.iter().any(|added| added == h.hostname()))
        {
            let num = (0..).find(|n| !taken.contains(n)).unwrap_or_default();
            taken.push(num);
            let instance = ssh_instance(
                &project_id(access),
                row.id,
                &row.name,
                num,
                &spec,
                host,
                now,
            )?;
            instance_rows::insert(&mut *tx, &instance).await?;
            record_instance_created(&mut tx, access, caller, &instance, "fleet update").await?;
        }
    }
    tx.commit().await?;
    Ok(())
}

/// Ends an instance at the user's request: a terminated one is marked deleted, any other goes
/// to `terminating` for the pipeline to finish.
async fn terminate(
    tx: &mut Transaction<'static, Any>,
    access: &ProjectAccess,
    caller: &Caller,
    instance: &InstanceRow,
) -> Result<(), ServiceError> {
    if instance.status == InstanceStatus::Terminated {
        instance_rows::mark_deleted(&mut **tx, instance.id, Utc::now()).await?;
        return Ok(());
    }
    let reason = InstanceTerminationReason::TerminatedByUser;
    instance_rows::set_terminating(&mut **tx, instance.id, reason).await?;
    if instance.status != InstanceStatus::Terminating {
        let message = format!(
            "{}. Termination reason: {}",
            status_changed("Instance", instance.status, InstanceStatus::Terminating),
            upper(reason)
        );
        let target = [instance_target(
            access,
            instance.fleet_id,
            instance.id,
            &instance.name,
        )];
        events::record(tx, Some(caller.user.id), &message, &target).await?;
    }
    Ok(())
}

fn in_use(instance: &InstanceRow) -> bool {
    instance.busy_blocks > 0 || instance.status == InstanceStatus::Busy
}

/// `fleets/delete`: each named live fleet goes with its instances, unless an instance is busy
/// or an active run uses the fleet ("Fleet is in use"). A fleet whose instances are
/// all gone (or never were) is deleted at once; otherwise it and its instances go to
/// `terminating`. Names that match no live fleet are skipped, as dstack does.
pub async fn delete(
    pool: &AnyPool,
    access: &ProjectAccess,
    caller: &Caller,
    names: &[String],
) -> Result<(), ServiceError> {
    let project = project_id(access);
    let now = Utc::now();
    let mut tx = pool.begin().await?;
    for name in names {
        let Some(fleet) = fleet_rows::find_by_name(&mut *tx, &project, name).await? else {
            continue;
        };
        check_deletable(&fleet, now)?;
        if parse_spec(&fleet)?.configuration.ssh_config.is_some() {
            check_can_manage_ssh_fleets(access)?;
        }
        let instances = instance_rows::list_live_of_fleet(&mut *tx, fleet.id).await?;
        if instances.iter().any(in_use) || run_rows::active_in_fleet(&mut *tx, fleet.id).await? {
            return Err(ServiceError::Invalid(format!(
                "Failed to delete fleet {name}. Fleet is in use."
            )));
        }
        for instance in &instances {
            terminate(&mut tx, access, caller, instance).await?;
        }
        let target = [fleet_target(access, fleet.id, &fleet.name)];
        if fleet.status != FleetStatus::Terminating {
            let message = status_changed("Fleet", fleet.status, FleetStatus::Terminating);
            events::record(&mut tx, Some(caller.user.id), &message, &target).await?;
        }
        if instances
            .iter()
            .all(|i| i.status == InstanceStatus::Terminated)
        {
            // What the fleet pipeline would do next, at once: there is nothing to wait for.
            fleet_rows::mark_deleted(&mut *tx, fleet.id, now).await?;
            let message =
                status_changed("Fleet", FleetStatus::Terminating, FleetStatus::Terminated);
            events::record(&mut tx, None, &message, &target).await?;
        } else {
            fleet_rows::set_terminating(&mut *tx, fleet.id).await?;
        }
    }
    tx.commit().await?;
    Ok(())
}

fn check_deletable(fleet: &FleetRow, now: chrono::DateTime<Utc>) -> Result<(), ServiceError> {
    if fleet.is_locked(db::to_micros(now)) {
        Err(ServiceError::Invalid(
            "Failed to delete fleets: fleets are being processed currently. Try again later."
                .to_owned(),
        ))
    } else {
        Ok(())
    }
}

/// `fleets/delete_instances`: terminates the fleet's instances with these numbers; the fleet
/// stays.
pub async fn delete_instances(
    pool: &AnyPool,
    access: &ProjectAccess,
    caller: &Caller,
    name: &str,
    instance_nums: &[u32],
) -> Result<(), ServiceError> {
    let project = project_id(access);
    let mut tx = pool.begin().await?;
    let fleet = fleet_rows::find_by_name(&mut *tx, &project, name)
        .await?
        .ok_or_else(not_found)?;
    check_deletable(&fleet, Utc::now())?;
    if parse_spec(&fleet)?.configuration.ssh_config.is_some() {
        check_can_manage_ssh_fleets(access)?;
    }
    let chosen: Vec<InstanceRow> = instance_rows::list_live_of_fleet(&mut *tx, fleet.id)
        .await?
        .into_iter()
        .filter(|i| instance_nums.contains(&i.instance_num))
        .collect();
    if chosen.iter().any(in_use) {
        return Err(ServiceError::Invalid(format!(
            "Failed to delete fleet {name} instances {instance_nums:?}. Fleet instances are in use."
        )));
    }
    for instance in &chosen {
        terminate(&mut tx, access, caller, instance).await?;
    }
    tx.commit().await?;
    Ok(())
}
