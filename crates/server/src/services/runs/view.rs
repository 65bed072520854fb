//! Rows to the `Run` the API answers with: jobs grouped by replica and job number, their
//! submissions oldest first, status texts and cost as dstack derives them (api.md §3.2, §3.3).

use chrono::Utc;
use dstack_core::api::jobs::{Job, JobProvisioningData, JobSubmission};
use dstack_core::api::runs::{Run, RunFleet, ServiceSpec};
use dstack_core::status::{JobStatus, JobTerminationReason, RunStatus};
use serde::de::DeserializeOwned;
use serde_json::value::RawValue;

use crate::db::jobs::JobRow;
use crate::db::runs::RunRow;
use crate::db::{DbError, from_micros, parse_json};

/// How much of each job's history a response carries.
#[derive(Debug, Clone, Copy)]
pub struct JobsShown {
    /// Whether jobs are included at all.
    pub include: bool,
    /// The last this many submissions of each job; `None` for all.
    pub submissions: Option<usize>,
}

impl JobsShown {
    /// Every job with every submission, as `runs/get` answers.
    pub const ALL: Self = Self {
        include: true,
        submissions: None,
    };
}

/// A run as the API answers it: the stored run and job specs pass through as their JSON text,
/// which they were written as, so listing runs does not parse and re-encode every spec.
pub type RunView = Run<Box<RawValue>, Box<RawValue>>;

/// The `Run` of `row` with its submissions `jobs` (any order); the specs are parsed as `S`
/// and `J` (typed, or [`RawValue`] for [`RunView`]).
pub fn to_run<S: DeserializeOwned, J: DeserializeOwned>(
    row: &RunRow,
    mut jobs: Vec<JobRow>,
    shown: JobsShown,
) -> Result<Run<S, J>, DbError> {
    jobs.sort_by_key(|job| (job.replica_num, job.job_num, job.submission_num));
    let mut grouped: Vec<(J, Vec<JobSubmission>)> = Vec::new();
    let mut key = None;
    let mut cost = 0.0;
    let mut latest_statuses = Vec::new();
    for job in &jobs {
        let submission = to_submission(job)?;
        cost += submission_cost(&submission);
        let spec: J = parse_json("jobs.job_spec", &job.job_spec)?;
        if key == Some((job.replica_num, job.job_num)) {
            if let Some((last_spec, submissions)) = grouped.last_mut() {
                *last_spec = spec;
                submissions.push(submission);
            }
        } else {
            key = Some((job.replica_num, job.job_num));
            grouped.push((spec, vec![submission]));
        }
    }
    for (_, submissions) in &grouped {
        if let Some(last) = submissions.last() {
            latest_statuses.push(last.status);
        }
    }
    let latest_job_submission = match shown.include {
        true => grouped
            .first()
            .and_then(|(_, submissions)| submissions.last().cloned()),
        false => None,
    };
    let jobs = match shown.include {
        true => grouped
            .into_iter()
            .map(|(job_spec, mut job_submissions)| {
                if let Some(keep) = shown.submissions {
                    let skip = job_submissions.len().saturating_sub(keep);
                    job_submissions.drain(..skip);
                }
                Job {
                    job_spec,
                    job_submissions,
                    job_connection_info: None,
                }
            })
            .collect(),
        false => Vec::new(),
    };
    let run_spec: S = parse_json("runs.run_spec", &row.run_spec)?;
    let service: Option<ServiceSpec> = row
        .service_spec
        .as_deref()
        .map(|text| parse_json("runs.service_spec", text))
        .transpose()?;
    Ok(Run {
        id: row.id,
        project_name: row.project_name.clone(),
        user: row.user_name.clone(),
        fleet: row.fleet.as_ref().map(|(id, name)| RunFleet {
            id: *id,
            name: name.clone(),
        }),
        submitted_at: from_micros("runs.submitted_at", row.submitted_at)?,
        last_processed_at: from_micros("runs.last_processed_at", row.last_processed_at)?,
        status: row.status,
        status_message: run_status_message(row.status, &latest_statuses),
        termination_reason: row.termination_reason,
        run_spec,
        jobs,
        latest_job_submission,
        cost: (cost * 10_000.0).round() / 10_000.0,
        service,
        deployment_num: u32::try_from(row.deployment_num).unwrap_or_default(),
        error: None,
        deleted: Some(row.deleted),
        next_triggered_at: row
            .next_triggered_at
            .map(|micros| from_micros("runs.next_triggered_at", micros))
            .transpose()?,
    })
}

fn to_submission(job: &JobRow) -> Result<JobSubmission, DbError> {
    let provisioning: Option<JobProvisioningData> = job
        .job_provisioning_data
        .as_deref()
        .map(|text| parse_json("jobs.job_provisioning_data", text))
        .transpose()?;
    Ok(JobSubmission {
        id: job.id,
        submission_num: u32::try_from(job.submission_num).unwrap_or_default(),
        deployment_num: u32::try_from(job.deployment_num).unwrap_or_default(),
        submitted_at: from_micros("jobs.submitted_at", job.submitted_at)?,
        last_processed_at: from_micros("jobs.last_processed_at", job.last_processed_at)?,
        finished_at: job
            .finished_at
            .map(|micros| from_micros("jobs.finished_at", micros))
            .transpose()?,
        inactivity_secs: job.inactivity_secs.and_then(|s| u64::try_from(s).ok()),
        status: job.status,
        status_message: job_status_message(job),
        termination_reason: job.termination_reason,
        termination_reason_message: job.termination_reason_message.clone(),
        exit_status: job.exit_status.and_then(|code| i32::try_from(code).ok()),
        job_provisioning_data: provisioning,
        job_runtime_data: job
            .job_runtime_data
            .as_deref()
            .map(|text| parse_json("jobs.job_runtime_data", text))
            .transpose()?,
        error: job.error.clone(),
        probes: Vec::new(),
        image_pull_progress: None,
    })
}

/// What the CLI's table shows for a submission: how it ended, else its status.
fn job_status_message(job: &JobRow) -> String {
    use JobTerminationReason as Reason;
    match (job.status, job.termination_reason) {
        (JobStatus::Done, _) => "exited (0)".to_owned(),
        (JobStatus::Failed, Some(Reason::ContainerExitedWithError)) => {
            format!("exited ({})", job.exit_status.unwrap_or(1))
        }
        (JobStatus::Failed, Some(Reason::FailedToStartDueToNoCapacity)) => {
            let no_fleets = job
                .termination_reason_message
                .as_deref()
                .is_some_and(|message| message.starts_with("No matching fleet"));
            if no_fleets { "no fleets" } else { "no offers" }.to_owned()
        }
        (JobStatus::Failed, Some(Reason::InterruptedByNoCapacity)) => "interrupted".to_owned(),
        (JobStatus::Failed, _) => "error".to_owned(),
        (JobStatus::Terminated, Some(Reason::TerminatedByUser)) => "stopped".to_owned(),
        (JobStatus::Terminated | JobStatus::Aborted, Some(Reason::AbortedByUser)) => {
            "aborted".to_owned()
        }
        (status, _) => status.as_str().to_owned(),
    }
}

fn run_status_message(status: RunStatus, latest: &[JobStatus]) -> String {
    match status {
        RunStatus::Pending if !latest.is_empty() => "retrying".to_owned(),
        RunStatus::Provisioning if latest.contains(&JobStatus::Pulling) => "pulling".to_owned(),
        other => other.as_str().to_owned(),
    }
}

/// Price per hour times the hours the submission held its instance.
fn submission_cost(submission: &JobSubmission) -> f64 {
    let Some(provisioning) = &submission.job_provisioning_data else {
        return 0.0;
    };
    let end = submission.finished_at.unwrap_or_else(Utc::now);
    let seconds = (end - submission.submitted_at).num_milliseconds().max(0) as f64 / 1000.0;
    provisioning.price * seconds / 3600.0
}
