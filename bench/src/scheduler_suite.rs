//! The scheduler: submit-to-running latency of a task on an idle local instance, and the time
//! to place a queue of jobs on idle instances.
//!
//! - **Submit to running**: a server with the local backend runs a warm-up task (creating a
//!   slice whose instance stays idle afterwards), then, one at a time, submits a task with the
//!   same resources through `runs/apply` and polls `runs/get` every 5 ms until the job is
//!   `running` (the runner has started the commands). Each run is then aborted and the next
//!   one waits until the instance is idle again. The image is present locally.
//! - **Placement**: `--jobs` runs are submitted to an API-only server; `--instances` idle
//!   instances of one fleet are then written straight into its database, each cut into enough
//!   blocks to hold the queue (simulated agents: the instances are never contacted while
//!   placing; the jobs stop at `provisioning`, since no shim answers). A server with the
//!   pipelines (and no local backend) then starts on the same state, and the time from its
//!   start to the last job leaving `submitted` is the placement time.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::{Value, json};
use sqlx::Row;

use crate::seed::{PROJECT, post};
use crate::server_process::{ADMIN_TOKEN, ServerProcess};

#[derive(Debug, clap::Args)]
pub struct Options {
    /// The `dstack` binary [default: this workspace's release build].
    #[arg(long)]
    dstack: Option<PathBuf>,
    /// The shim the local backend starts.
    #[arg(long, env = "DSTACK_TEST_SHIM")]
    shim: PathBuf,
    /// The static runner the shim puts into containers.
    #[arg(long, env = "DSTACK_TEST_STATIC_RUNNER")]
    runner: PathBuf,
    /// The image of the measured tasks; it must be present locally.
    #[arg(
        long,
        env = "DSTACK_TEST_BUSYBOX_IMAGE",
        default_value = "dstack-test/busybox"
    )]
    image: String,
    /// Submissions measured for submit-to-running.
    #[arg(long, default_value_t = 20)]
    submissions: usize,
    /// Queued jobs to place.
    #[arg(long, default_value_t = 1000)]
    jobs: usize,
    /// Idle instances they are placed on.
    #[arg(long, default_value_t = 100)]
    instances: usize,
}

pub async fn run(options: Options) -> anyhow::Result<()> {
    let dstack = options
        .dstack
        .clone()
        .unwrap_or_else(crate::default_dstack_binary);
    let latencies = submit_to_running(&dstack, &options).await?;
    let placement = place_queue(&dstack, &options).await?;
    println!("| measure | value |");
    println!("|---|---|");
    println!(
        "| submit → running, idle local instance, image present ({} runs) | p50 {:.0} ms, p95 {:.0} ms, max {:.0} ms |",
        latencies.len(),
        percentile(&latencies, 50.0),
        percentile(&latencies, 95.0),
        percentile(&latencies, 100.0)
    );
    println!(
        "| place {} queued jobs on {} idle instances | {:.2} s |",
        options.jobs,
        options.instances,
        placement.as_secs_f64()
    );
    Ok(())
}

/// Milliseconds from `runs/apply` to the job's `running`, per submission.
async fn submit_to_running(dstack: &Path, options: &Options) -> anyhow::Result<Vec<f64>> {
    let home = tempfile::tempdir()?;
    let shim = options.shim.display().to_string();
    let runner = options.runner.display().to_string();
    let server = ServerProcess::start_at(
        dstack,
        home.path(),
        &[
            ("DSTACK_SERVER_SHIM_BINARY", shim.as_str()),
            ("DSTACK_SERVER_RUNNER_BINARY", runner.as_str()),
        ],
    )?;
    let api = Api::new(&server.url);
    api.init_repo().await?;
    api.apply("warm-up", &options.image, "true").await?;
    api.wait_for_job("warm-up", |status| status == "done")
        .await?;
    let mut latencies = Vec::new();
    for n in 0..options.submissions {
        let name = format!("measured-{n}");
        api.wait_for_idle_instance().await?;
        let submitted = Instant::now();
        api.apply(&name, &options.image, "sleep 60").await?;
        api.wait_for_job(&name, |status| status == "running")
            .await?;
        latencies.push(submitted.elapsed().as_secs_f64() * 1000.0);
        post(
            &api.http,
            &api.url("runs/stop"),
            ADMIN_TOKEN,
            json!({"runs_names": [name], "abort": true}),
        )
        .await?;
        api.wait_for_job(&name, |status| {
            status == "aborted" || status == "terminated"
        })
        .await?;
    }
    Ok(latencies)
}

/// The time a fresh scheduler takes to place `options.jobs` queued jobs.
async fn place_queue(dstack: &Path, options: &Options) -> anyhow::Result<Duration> {
    let home = tempfile::tempdir()?;
    let api_only = [
        ("DSTACK_SERVER_BACKGROUND_PROCESSING_DISABLED", "1"),
        ("DSTACK_SERVER_LOCAL_BACKEND_DISABLED", "1"),
    ];
    {
        let server = ServerProcess::start_at(dstack, home.path(), &api_only)?;
        let api = Api::new(&server.url);
        api.init_repo().await?;
        for n in 0..options.jobs {
            api.apply(&format!("queued-{n}"), &options.image, "true")
                .await?;
        }
    }
    let database = home.path().join(".dstack/server/data/sqlite.db");
    let url = format!("sqlite://{}", database.display());
    sqlx::any::install_default_drivers();
    let db = sqlx::AnyPool::connect(&url).await?;
    insert_idle_instances(&db, options).await?;
    let started = Instant::now();
    let _server = ServerProcess::start_at(
        dstack,
        home.path(),
        &[("DSTACK_SERVER_LOCAL_BACKEND_DISABLED", "1")],
    )?;
    let deadline = started + Duration::from_secs(600);
    loop {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM jobs WHERE status = 'submitted'")
            .fetch_one(&db)
            .await?;
        let waiting: i64 = row.try_get("n")?;
        if waiting == 0 {
            return Ok(started.elapsed());
        }
        if Instant::now() > deadline {
            bail!("{waiting} jobs were still submitted after 10 minutes");
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// One fleet of idle instances, each with room for its share of the queue.
async fn insert_idle_instances(db: &sqlx::AnyPool, options: &Options) -> anyhow::Result<()> {
    let project: String = sqlx::query("SELECT id FROM projects WHERE name = $1")
        .bind(PROJECT)
        .fetch_one(db)
        .await?
        .try_get("id")?;
    let blocks = options.jobs.div_ceil(options.instances) as i64;
    let fleet = uuid_v4();
    let now = chrono_micros();
    let spec = json!({
        "configuration": {"type": "fleet", "name": "bench-fleet",
                          "ssh_config": {"user": "root", "hosts": ["10.0.0.1"]}},
        "profile": {"name": "default"},
    });
    sqlx::query(
        "INSERT INTO fleets (id, project_id, name, spec, status, created_at, last_processed_at) \
         VALUES ($1, $2, 'bench-fleet', $3, 'active', $4, $4)",
    )
    .bind(&fleet)
    .bind(&project)
    .bind(spec.to_string())
    .bind(now)
    .execute(db)
    .await?;
    let offer = json!({
        "backend": "remote", "region": "remote", "price": 0.0, "availability": "idle",
        "instance": {"name": "bench", "resources": {
            "cpus": blocks * 2, "memory_mib": blocks * 2048, "gpus": [], "spot": false,
            "disk": {"size_mib": 1_048_576}}},
        "blocks": 1, "total_blocks": blocks,
    });
    for n in 0..options.instances {
        sqlx::query(
            "INSERT INTO instances (id, project_id, fleet_id, instance_num, name, status, \
             backend, region, price, offer, total_blocks, busy_blocks, created_at, \
             last_processed_at) VALUES ($1, $2, $3, $4, $5, 'idle', 'remote', 'remote', 0, \
             $6, $7, 0, $8, $8)",
        )
        .bind(uuid_v4())
        .bind(&project)
        .bind(&fleet)
        .bind(n as i64)
        .bind(format!("bench-fleet-{n}"))
        .bind(offer.to_string())
        .bind(blocks)
        .bind(now)
        .execute(db)
        .await?;
    }
    Ok(())
}

/// Calls of one server's API as the admin.
struct Api {
    http: reqwest::Client,
    base: String,
}

impl Api {
    fn new(base: &str) -> Self {
        Self {
            http: dstack_agents::http::plain_client(),
            base: base.to_owned(),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}/api/project/{PROJECT}/{path}", self.base)
    }

    async fn init_repo(&self) -> anyhow::Result<()> {
        let body = json!({"repo_id": "none", "repo_info": {"repo_type": "virtual"}});
        post(&self.http, &self.url("repos/init"), ADMIN_TOKEN, body).await?;
        Ok(())
    }

    /// Submits a one-CPU task running `command` in `image`, kept idle for an hour after.
    async fn apply(&self, name: &str, image: &str, command: &str) -> anyhow::Result<()> {
        let body = json!({
            "plan": {
                "run_spec": {
                    "run_name": name, "repo_id": "none", "repo_data": {"repo_type": "virtual"},
                    "configuration_path": "bench.dstack.yml",
                    "configuration": {
                        "type": "task", "name": name, "image": image,
                        "commands": [command],
                        "resources": {"cpu": 1, "memory": "512MB"},
                        "idle_duration": "1h",
                    },
                    "profile": {"name": "default"},
                },
                "current_resource": null,
            },
            "force": false,
        });
        post(&self.http, &self.url("runs/apply"), ADMIN_TOKEN, body).await?;
        Ok(())
    }

    /// Polls `runs/get` every 5 ms until the latest job's status satisfies `done`.
    async fn wait_for_job(&self, name: &str, done: impl Fn(&str) -> bool) -> anyhow::Result<()> {
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let run = post(
                &self.http,
                &self.url("runs/get"),
                ADMIN_TOKEN,
                json!({"run_name": name}),
            )
            .await?;
            let status = latest_job_status(&run).unwrap_or_default();
            if done(status) {
                return Ok(());
            }
            if matches!(status, "failed" | "terminated" | "aborted" | "done") && !done(status) {
                bail!("run {name} ended {status}: {run}");
            }
            if Instant::now() > deadline {
                bail!("run {name} is still {status} after 2 minutes");
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// Polls `instances/list` until an instance is idle.
    async fn wait_for_idle_instance(&self) -> anyhow::Result<()> {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let body = json!({"project_names": [PROJECT]});
            let url = format!("{}/api/instances/list", self.base);
            let instances = post(&self.http, &url, ADMIN_TOKEN, body).await?;
            let idle = instances
                .as_array()
                .context("instances")?
                .iter()
                .any(|instance| instance["status"] == "idle");
            if idle {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!("no instance became idle: {instances}");
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

fn latest_job_status(run: &Value) -> Option<&str> {
    run["jobs"][0]["job_submissions"].as_array()?.last()?["status"].as_str()
}

fn percentile(values: &[f64], percent: f64) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let rank = ((percent / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn uuid_v4() -> String {
    uuid::Uuid::new_v4().to_string()
}

fn chrono_micros() -> i64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(now.as_micros()).unwrap_or(i64::MAX)
}
