//! The submitted-jobs pipeline (lifecycle.md §3.2): places each new job on an idle instance
//! of the project's fleets, else on a new local slice in a fleet of its own, else ends it for
//! lack of capacity, or keeps it waiting, with the reason, while the host is busy.
//!
//! A new fleet gets a generated unique name, never the run's: two runs of the same name that
//! need different slices get two fleets, each deletable by its own name.

use std::collections::HashSet;

use chrono::Utc;
use dstack_core::api::jobs::JobSpec;
use dstack_core::api::runs::RunSpec;
use dstack_core::offers::{InstanceOfferWithAvailability, offer_satisfies};
use dstack_core::status::{FleetStatus, InstanceStatus, JobStatus, JobTerminationReason};
use uuid::Uuid;

use super::context::Scheduler;
use super::jobs::{self, load, parse_stored, release};
use super::lease::{self, Claimed, Table};
use super::worker::Reconciler;
use crate::backends::local::{Held, LOCAL_REGION};
use crate::db::fleets::{self as fleet_rows, NewFleet};
use crate::db::instances::{self as instance_rows, InstanceRow, NewInstance};
use crate::db::jobs::{self as job_rows, JobRow};
use crate::db::runs::RunRow;
use crate::db::{DbError, scheduling, to_micros};
use crate::pipelines::hints::Kind;
use crate::services::events::{self, EventTarget, TargetType};
use crate::services::runs::spec::{Scheduling, scheduling as scheduling_of};
use crate::services::{ServiceError, names};

/// New jobs at once, a waiting job again every second; runs of higher priority first.
pub const TABLE: Table = Table {
    name: "jobs",
    eligible: "status = 'submitted' \
               AND (last_processed_at = submitted_at OR last_processed_at <= $1 - 1000000)",
    order: "(SELECT r.priority FROM runs r WHERE r.id = jobs.run_id) DESC, \
            last_processed_at ASC",
};

/// How often a generated fleet name is drawn again when taken.
const NAME_ATTEMPTS: usize = 16;

/// Places submitted jobs.
pub struct SubmittedJobs(pub Scheduler);

impl Reconciler for SubmittedJobs {
    async fn process(&self, claimed: Claimed) {
        if let Err(error) = self.place(claimed).await {
            jobs::log_failure("submitted jobs", claimed, &error);
        }
    }
}

/// What became of a job.
enum Placement {
    /// It got an existing instance.
    Assigned,
    /// It got a new local slice.
    Created,
    /// It waits, for this reason.
    Waiting(String),
    /// It cannot run; end it for lack of capacity.
    NoCapacity(String),
}

impl SubmittedJobs {
    async fn place(&self, claimed: Claimed) -> Result<(), ServiceError> {
        let db = &self.0.db;
        let Some((job, run)) = load(db, claimed).await? else {
            return release(db, &TABLE, claimed).await;
        };
        if job.status != JobStatus::Submitted || run.status.is_finished() {
            return release(db, &TABLE, claimed).await;
        }
        let spec: JobSpec = parse_stored(&job.job_spec)?;
        let run_spec: RunSpec = parse_stored(&run.run_spec)?;
        let scheduling = scheduling_of(&run_spec);
        let outcome = self
            .find_place(claimed, &job, &run, &spec, &scheduling)
            .await?;
        match outcome {
            Placement::Assigned | Placement::Created => {
                self.0.wake(&[Kind::Jobs, Kind::Runs, Kind::Instances]);
                Ok(())
            }
            Placement::Waiting(reason) => {
                let mut tx = db.pool().begin().await?;
                if lease::finish(&mut *tx, &TABLE, claimed).await? {
                    scheduling::set_job_waiting(&mut *tx, job.id, &reason).await?;
                    tx.commit().await?;
                }
                Ok(())
            }
            Placement::NoCapacity(message) => {
                let mut tx = db.pool().begin().await?;
                if lease::finish(&mut *tx, &TABLE, claimed).await?
                    && jobs::end(
                        &mut tx,
                        &job,
                        &run,
                        JobStatus::Terminating,
                        JobTerminationReason::FailedToStartDueToNoCapacity,
                        Some(&message),
                    )
                    .await?
                {
                    tx.commit().await?;
                    self.0.wake(&[Kind::Jobs, Kind::Runs]);
                }
                Ok(())
            }
        }
    }

    async fn find_place(
        &self,
        claimed: Claimed,
        job: &JobRow,
        run: &RunRow,
        spec: &JobSpec,
        scheduling: &Scheduling,
    ) -> Result<Placement, ServiceError> {
        let db = &self.0.db;
        let siblings = replica_jobs(db, job).await?;
        let master = siblings.iter().find(|sibling| sibling.job_num == 0);
        let master_fleet = match master {
            Some(master) if job.job_num != 0 => {
                let Some(instance_id) = &master.instance_id else {
                    return Ok(Placement::Waiting(
                        "waiting for the master job to get an instance".to_owned(),
                    ));
                };
                instance_rows::find_any(db.pool(), instance_id)
                    .await?
                    .map(|instance| instance.fleet_id)
            }
            _ => None,
        };
        let taken: HashSet<&str> = siblings
            .iter()
            .filter(|sibling| sibling.id != job.id && !sibling.status.is_finished())
            .filter_map(|sibling| sibling.instance_id.as_deref())
            .collect();
        let mut candidates: Vec<(f64, InstanceRow)> =
            instance_rows::list_usable(db.pool(), &run.project_id.to_string())
                .await?
                .into_iter()
                .filter(|instance| {
                    !instance.unreachable
                        && instance.health_status.accepts_jobs()
                        && !taken.contains(instance.id.to_string().as_str())
                        && master_fleet.is_none_or(|fleet| instance.fleet_id == fleet)
                        && scheduling
                            .fleets
                            .as_ref()
                            .is_none_or(|names| names.contains(&instance.fleet_name))
                        && instance
                            .total_blocks
                            .is_some_and(|total| instance.busy_blocks < total)
                })
                .filter_map(|instance| {
                    let offer: InstanceOfferWithAvailability =
                        serde_json::from_str(instance.offer.as_deref()?).ok()?;
                    offer_satisfies(&spec.requirements, &offer).ok()?;
                    Some((offer.price, instance))
                })
                .collect();
        candidates.sort_by(|a, b| a.0.total_cmp(&b.0));
        for (_, instance) in &candidates {
            if self.assign(claimed, job, run, instance).await? {
                return Ok(Placement::Assigned);
            }
        }
        if !scheduling.may_create {
            return Ok(Placement::NoCapacity(
                "no idle instance fits the job, and the creation policy is reuse".to_owned(),
            ));
        }
        if spec.jobs_per_replica > 1 {
            return Ok(Placement::NoCapacity(format!(
                "no fleet has {} idle instances that fit this multi-node task; multi-node tasks \
                 run on SSH fleets with enough hosts",
                spec.jobs_per_replica
            )));
        }
        if let Some(fleets) = &scheduling.fleets {
            return Ok(Placement::NoCapacity(format!(
                "none of the fleets {} has an idle instance that fits the job",
                fleets.join(", ")
            )));
        }
        let slice = match self.0.local.slice(&spec.requirements) {
            Ok(slice) => slice,
            Err(never) => {
                return Ok(Placement::NoCapacity(format!(
                    "no fleet has an idle instance that fits the job, and {never}"
                )));
            }
        };
        let held = Held::of_offers(&scheduling::local_offers(db.pool(), LOCAL_REGION).await?);
        if let Err(busy) = self.0.local.fits_now(&slice, held) {
            return Ok(Placement::Waiting(busy.to_string()));
        }
        self.create(claimed, job, run, scheduling, &slice).await?;
        Ok(Placement::Created)
    }

    /// Gives the job a block of `instance`; false when the instance filled up meanwhile.
    async fn assign(
        &self,
        claimed: Claimed,
        job: &JobRow,
        run: &RunRow,
        instance: &InstanceRow,
    ) -> Result<bool, ServiceError> {
        let mut tx = self.0.db.pool().begin().await?;
        if !lease::finish(&mut *tx, &TABLE, claimed).await?
            || !scheduling::take_block(&mut *tx, instance.id).await?
            || !scheduling::assign_job(
                &mut *tx,
                job.id,
                instance.id,
                instance.job_provisioning_data.as_deref(),
                to_micros(Utc::now()),
            )
            .await?
        {
            return Ok(false);
        }
        scheduling::set_run_fleet(&mut *tx, run.id, instance.fleet_id).await?;
        jobs::record_step(&mut tx, job, run, JobStatus::Provisioning).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Makes a fleet with one pending local instance for the job and assigns it.
    async fn create(
        &self,
        claimed: Claimed,
        job: &JobRow,
        run: &RunRow,
        scheduling: &Scheduling,
        offer: &InstanceOfferWithAvailability,
    ) -> Result<(), ServiceError> {
        let project_id = run.project_id.to_string();
        let offer_json = to_json(offer)?;
        for _ in 0..NAME_ATTEMPTS {
            let name = names::generate();
            let fleet_id = Uuid::new_v4();
            let instance_id = Uuid::new_v4();
            let now = to_micros(Utc::now());
            let mut tx = self.0.db.pool().begin().await?;
            if !lease::finish(&mut *tx, &TABLE, claimed).await? {
                return Ok(());
            }
            let fleet = NewFleet {
                id: fleet_id,
                project_id: &project_id,
                name: &name,
                spec: &autocreated_spec(&name, offer)?,
                status: FleetStatus::Active,
                autocreated: true,
                now_micros: now,
            };
            match fleet_rows::insert(&mut *tx, &fleet).await {
                Err(DbError::UniqueViolation) => continue,
                other => other?,
            }
            let instance_name = format!("{name}-0");
            let instance = NewInstance {
                id: instance_id,
                project_id: project_id.clone(),
                fleet_id,
                instance_num: 0,
                name: instance_name.clone(),
                status: Some(InstanceStatus::Pending),
                backend: Some(offer.backend.as_str().to_owned()),
                region: Some(offer.region.clone()),
                price: Some(offer.price),
                offer: Some(offer_json.clone()),
                total_blocks: Some(1),
                busy_blocks: 1,
                termination_idle_time: scheduling.idle_secs,
                now_micros: now,
                ..NewInstance::default()
            };
            instance_rows::insert(&mut *tx, &instance).await?;
            if !scheduling::assign_job(&mut *tx, job.id, instance_id, None, now).await? {
                return Ok(());
            }
            scheduling::set_run_fleet(&mut *tx, run.id, fleet_id).await?;
            let fleet_target =
                EventTarget::in_project(TargetType::Fleet, run.project_id, fleet_id, &name)
                    .within_fleet(fleet_id);
            events::record(&mut tx, None, "Fleet created for a run", &[fleet_target]).await?;
            let instance_target = EventTarget::in_project(
                TargetType::Instance,
                run.project_id,
                instance_id,
                &instance_name,
            )
            .within_fleet(fleet_id);
            events::record(&mut tx, None, "Instance created", &[instance_target]).await?;
            jobs::record_step(&mut tx, job, run, JobStatus::Provisioning).await?;
            tx.commit().await?;
            return Ok(());
        }
        Err(ServiceError::Invalid(
            "cannot generate a free fleet name".to_owned(),
        ))
    }
}

/// The latest submission of every job in `job`'s replica.
async fn replica_jobs(db: &crate::db::Database, job: &JobRow) -> Result<Vec<JobRow>, DbError> {
    let all = job_rows::list_for_runs(db.pool(), &[job.run_id]).await?;
    let mut latest: Vec<JobRow> = Vec::new();
    for row in all
        .into_iter()
        .filter(|row| row.replica_num == job.replica_num)
    {
        match latest.iter_mut().find(|kept| kept.job_num == row.job_num) {
            Some(kept) if kept.submission_num < row.submission_num => *kept = row,
            Some(_) => {}
            None => latest.push(row),
        }
    }
    Ok(latest)
}

/// The spec of a fleet made for a run: one slice, kept while idle as the run says.
fn autocreated_spec(
    name: &str,
    offer: &InstanceOfferWithAvailability,
) -> Result<String, ServiceError> {
    let resources = &offer.instance.resources;
    let spec = serde_json::json!({
        "configuration": {
            "type": "fleet",
            "name": name,
            "nodes": {"min": 0, "max": 1},
            "resources": {
                "cpu": resources.cpus,
                "memory": format!("{}GB", resources.memory_mib as f64 / 1024.0),
            },
        },
        "profile": {"name": "default"},
        "autocreated": true,
    });
    Ok(spec.to_string())
}

fn to_json<T: serde::Serialize>(value: &T) -> Result<String, ServiceError> {
    serde_json::to_string(value).map_err(|error| ServiceError::Invalid(error.to_string()))
}
