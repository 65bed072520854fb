//! The runs table of `dstack ps` and `dstack apply` (config-cli.md §15.4).

use chrono::{DateTime, Utc};
use comfy_table::{Cell, Table};
use dstack_core::api::jobs::{Job, JobSubmission};
use dstack_core::api::runs::Run;

use super::offers_table::backend_place;
use crate::output::{format_price, grey, pretty_date, table};

/// How dates are shown.
#[derive(Debug, Clone, Copy)]
pub enum Dates {
    /// `now`, `2 mins ago`, ...
    Relative(DateTime<Utc>),
}

impl Dates {
    fn show(self, time: DateTime<Utc>) -> String {
        match self {
            Self::Relative(now) => pretty_date(time, now),
        }
    }
}

/// The runs as rows: a merged row for a run with one job, otherwise a run row and grey job
/// rows. `verbose` adds RESOURCES, INSTANCE TYPE, PROBES and ERROR.
pub fn runs_table(runs: &[Run], verbose: bool, dates: Dates) -> Table {
    let headers: &[&'static str] = if verbose {
        &[
            "NAME",
            "BACKEND",
            "RESOURCES",
            "INSTANCE TYPE",
            "PRICE",
            "STATUS",
            "PROBES",
            "SUBMITTED",
            "ERROR",
        ]
    } else {
        &["NAME", "BACKEND", "GPU", "PRICE", "STATUS", "SUBMITTED"]
    };
    let mut rows = table(headers.iter().copied());
    for run in runs {
        let name = run.run_spec.run_name.clone().unwrap_or_default();
        let run_status = if run.status_message.is_empty() {
            run.status.to_string()
        } else {
            run.status_message.clone()
        };
        let run_error = run.error.clone().unwrap_or_default();
        if let [job] = run.jobs.as_slice() {
            let submission = job.job_submissions.last();
            // A merged row shows the job's status, which says why (`no fleets`, `exited (1)`).
            let status = submission.map_or(run_status, job_status);
            rows.add_row(row(
                name,
                submission,
                status,
                run.submitted_at,
                run_error,
                verbose,
                dates,
            ));
            continue;
        }
        rows.add_row(row(
            name,
            None,
            run_status,
            run.submitted_at,
            run_error,
            verbose,
            dates,
        ));
        let mut jobs: Vec<&Job> = run.jobs.iter().collect();
        jobs.sort_by_key(|job| (job.job_spec.replica_num, job.job_spec.job_num));
        for job in jobs {
            let Some(submission) = job.job_submissions.last() else {
                continue;
            };
            let mut label = format!("   replica={}", job.job_spec.replica_num);
            if job.job_spec.jobs_per_replica > 1 {
                label.push_str(&format!(" job={}", job.job_spec.job_num));
            }
            let cells = row(
                label,
                Some(submission),
                job_status(submission),
                submission.submitted_at,
                submission.error.clone().unwrap_or_default(),
                verbose,
                dates,
            );
            rows.add_row(cells.into_iter().map(|cell| grey(cell.content())));
        }
    }
    rows
}

fn job_status(submission: &JobSubmission) -> String {
    if submission.status_message.is_empty() {
        submission.status.to_string()
    } else {
        submission.status_message.clone()
    }
}

fn row(
    name: String,
    submission: Option<&JobSubmission>,
    status: String,
    submitted_at: DateTime<Utc>,
    error: String,
    verbose: bool,
    dates: Dates,
) -> Vec<Cell> {
    let provisioning = submission.and_then(|s| s.job_provisioning_data.as_ref());
    let backend = provisioning
        .map(|p| backend_place(p.backend.as_str(), &p.region))
        .unwrap_or_default();
    let price = provisioning.map_or_else(
        || "-".to_owned(),
        |p| {
            let spot = if p.instance_type.resources.spot {
                " (spot)"
            } else {
                ""
            };
            format!("{}{spot}", format_price(p.price))
        },
    );
    let submitted = dates.show(submitted_at);
    let mut cells = vec![name, backend];
    if verbose {
        cells.push(
            provisioning.map_or_else(|| "-".to_owned(), |p| p.instance_type.resources.to_string()),
        );
        cells.push(
            provisioning
                .map(|p| p.instance_type.name.clone())
                .unwrap_or_default(),
        );
        cells.extend([price, status, String::new(), submitted, error]);
    } else {
        let gpu = provisioning
            .and_then(|p| {
                let gpus = &p.instance_type.resources.gpus;
                gpus.first().map(|gpu| {
                    format!(
                        "gpu={}:{}GB:{}",
                        gpu.name,
                        gpu.memory_mib / 1024,
                        gpus.len()
                    )
                })
            })
            .unwrap_or_else(|| "-".to_owned());
        cells.extend([gpu, price, status, submitted]);
    }
    cells.into_iter().map(Cell::new).collect()
}
