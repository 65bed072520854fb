//! Job metrics (api.md §2.13): series derived from a submission's samples, latest first. CPU
//! use is the CPU time between two samples over the time between them, so `n` samples give
//! `n - 1` points.

use dstack_core::api::jobs::{JobProvisioningData, JobRuntimeData};
use dstack_core::api::metrics::{JobMetrics, JobMetricsQuery, Metric};
use serde_json::Value;

use super::ServiceError;
use super::projects::ProjectAccess;
use crate::db::metrics::{self as point_rows, MetricsPoint};
use crate::db::{Database, DbError, from_micros, jobs, parse_json, runs, to_micros};

const MIB: u64 = 1024 * 1024;
const GIB: f64 = 1024.0 * 1024.0 * 1024.0;

fn no_job() -> ServiceError {
    ServiceError::NotFound("Found no job with given parameters".to_owned())
}

/// What the job got: CPUs, memory in bytes, and each GPU's memory in bytes.
struct Capacity {
    cpus: u64,
    memory_bytes: u64,
    gpu_memory_bytes: Vec<u64>,
}

fn capacity(
    provisioning: Option<&JobProvisioningData>,
    runtime: Option<&JobRuntimeData>,
) -> Capacity {
    let resources = provisioning.map(|data| &data.instance_type.resources);
    let gpu_memory_bytes: Vec<u64> = resources
        .map(|r| r.gpus.iter().map(|gpu| gpu.memory_mib * MIB).collect())
        .unwrap_or_default();
    let gpus = runtime
        .and_then(|data| data.gpu)
        .map_or(gpu_memory_bytes.len(), |count| count as usize);
    Capacity {
        cpus: runtime
            .and_then(|data| data.cpu)
            .map(|cpu| cpu as u64)
            .or(resources.map(|r| u64::from(r.cpus)))
            .unwrap_or(0),
        memory_bytes: runtime
            .and_then(|data| data.memory.as_ref())
            .map(|memory| (memory.gb() * GIB) as u64)
            .or(resources.map(|r| r.memory_mib * MIB))
            .unwrap_or(0),
        gpu_memory_bytes: gpu_memory_bytes.into_iter().take(gpus).collect(),
    }
}

fn json_list(column: &'static str, text: &str) -> Result<Vec<Value>, DbError> {
    parse_json(column, text)
}

/// `metrics/job/{run_name}`: the latest samples of a job's last submission.
pub async fn job_metrics(
    db: &Database,
    access: &ProjectAccess,
    run_name: &str,
    query: &JobMetricsQuery,
) -> Result<JobMetrics, ServiceError> {
    let project_id = access.project.id;
    let run = match query.run_id {
        Some(id) => runs::find_by_id(db.pool(), project_id, &id.to_string()).await?,
        None => runs::find_by_name(db.pool(), project_id, run_name).await?,
    }
    .ok_or_else(no_job)?;
    let job = jobs::list_for_runs(db.pool(), &[run.id])
        .await?
        .into_iter()
        .filter(|job| {
            job.replica_num == i64::from(query.replica_num)
                && job.job_num == i64::from(query.job_num)
        })
        .max_by_key(|job| job.submission_num)
        .ok_or_else(no_job)?;
    // One sample more than asked for: each point needs the one before it.
    let points = point_rows::latest(
        db.pool(),
        &job.id.to_string(),
        query.after.map(to_micros),
        query.before.map(to_micros),
        query.limit.map(|limit| i64::from(limit) + 1),
    )
    .await?;
    if points.len() < 2 {
        return Ok(JobMetrics {
            metrics: Vec::new(),
        });
    }
    let provisioning: Option<JobProvisioningData> = job
        .job_provisioning_data
        .as_deref()
        .map(|text| parse_json("jobs.job_provisioning_data", text))
        .transpose()?;
    let runtime: Option<JobRuntimeData> = job
        .job_runtime_data
        .as_deref()
        .map(|text| parse_json("jobs.job_runtime_data", text))
        .transpose()?;
    Ok(JobMetrics {
        metrics: series(&points, &capacity(provisioning.as_ref(), runtime.as_ref()))?,
    })
}

fn series(points: &[MetricsPoint], capacity: &Capacity) -> Result<Vec<Metric>, DbError> {
    let pairs: Vec<(&MetricsPoint, &MetricsPoint)> =
        points.windows(2).map(|pair| (&pair[0], &pair[1])).collect();
    let timestamps = pairs
        .iter()
        .map(|(point, _)| from_micros("job_metrics_points.timestamp", point.timestamp))
        .collect::<Result<Vec<_>, _>>()?;
    let metric = |name: &str, values: Vec<Value>| Metric {
        name: name.to_owned(),
        timestamps: timestamps.clone(),
        values,
    };
    let constant = |value: u64| vec![Value::from(value); pairs.len()];
    let mut metrics = vec![
        metric("cpus_detected_num", constant(capacity.cpus)),
        metric(
            "cpu_usage_percent",
            pairs
                .iter()
                .map(|(point, previous)| {
                    let elapsed = (point.timestamp - previous.timestamp).max(1) as f64;
                    let used = (point.cpu_usage_micro - previous.cpu_usage_micro).max(0) as f64;
                    Value::from(used / elapsed * 100.0)
                })
                .collect(),
        ),
        metric("memory_total_bytes", constant(capacity.memory_bytes)),
        metric(
            "memory_usage_bytes",
            pairs
                .iter()
                .map(|(p, _)| Value::from(p.memory_usage_bytes))
                .collect(),
        ),
        metric(
            "memory_working_set_bytes",
            pairs
                .iter()
                .map(|(p, _)| Value::from(p.memory_working_set_bytes))
                .collect(),
        ),
        metric(
            "gpus_detected_num",
            constant(capacity.gpu_memory_bytes.len() as u64),
        ),
    ];
    if let Some(total) = capacity.gpu_memory_bytes.first() {
        metrics.push(metric("gpu_memory_total_bytes", constant(*total)));
    }
    let per_gpu = |column: &'static str, pick: fn(&MetricsPoint) -> &str| {
        pairs
            .iter()
            .map(|(point, _)| json_list(column, pick(point)))
            .collect::<Result<Vec<_>, _>>()
    };
    let memory = per_gpu("job_metrics_points.gpus_memory_usage_bytes", |p| {
        &p.gpus_memory_usage_bytes
    })?;
    let util = per_gpu("job_metrics_points.gpus_util_percent", |p| {
        &p.gpus_util_percent
    })?;
    for index in 0..capacity.gpu_memory_bytes.len() {
        let column = |lists: &[Vec<Value>]| {
            lists
                .iter()
                .map(|list| list.get(index).cloned().unwrap_or(Value::from(0)))
                .collect()
        };
        metrics.push(metric(
            &format!("gpu_memory_usage_bytes_gpu{index}"),
            column(&memory),
        ));
        metrics.push(metric(
            &format!("gpu_util_percent_gpu{index}"),
            column(&util),
        ));
    }
    Ok(metrics)
}
