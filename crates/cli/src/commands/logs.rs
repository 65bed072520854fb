//! `dstack logs`: a job's stored logs through `logs/poll`, and with `-f` the new ones until
//! the run finishes. `apply` streams a run's logs with [`stream`].

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use base64::Engine;
use chrono::{DateTime, Utc};
use clap::Args;
use dstack_core::api::common::{Limit, Uuid4};
use dstack_core::api::logs::PollLogsRequest;
use dstack_core::api::runs::Run;

use super::since::parse_since;
use super::{ProjectArg, block_on};
use crate::api::{ApiError, ProjectClient};

#[derive(Debug, Args)]
pub struct LogsArgs {
    #[command(flatten)]
    project: ProjectArg,
    /// The run.
    run_name: String,
    /// Show the runner's diagnostic logs instead of the job's output.
    #[arg(short = 'd', long)]
    diagnose: bool,
    /// The replica.
    #[arg(long, default_value_t = 0)]
    replica: u32,
    /// The job within the replica.
    #[arg(long, default_value_t = 0)]
    job: u32,
    /// Only logs after this: a duration ago (`10s`, `5m`, `1d`) or an RFC 3339 time.
    #[arg(long, value_name = "TIME")]
    since: Option<String>,
    /// Keep printing new logs until the run finishes.
    #[arg(short = 'f', long)]
    follow: bool,
}

/// How long `-f` waits between polls once it has caught up.
const FOLLOW_INTERVAL: Duration = Duration::from_secs(2);

pub fn run(args: LogsArgs) -> anyhow::Result<ExitCode> {
    let client = args.project.client()?;
    let since = args
        .since
        .as_deref()
        .map(|given| parse_since(given, Utc::now()))
        .transpose()?;
    block_on(async {
        let run = get_run(&client, &args.run_name).await?;
        let submission = submission_of(&run, args.replica, args.job)?;
        let source = LogSource {
            run_name: &args.run_name,
            submission,
            diagnose: args.diagnose,
        };
        let mut cursor = Cursor { start_time: since };
        if args.follow {
            follow(&client, &source, &mut cursor).await?;
        } else {
            drain(&client, &source, &mut cursor).await?;
        }
        Ok::<_, anyhow::Error>(ExitCode::SUCCESS)
    })?
}

/// `runs/get`, with "Run X not found" for a missing run.
pub async fn get_run(client: &ProjectClient, name: &str) -> anyhow::Result<Run> {
    match client.get_run(name).await {
        Err(ApiError::NotFound(_)) => anyhow::bail!("Run {name} not found"),
        other => Ok(other?),
    }
}

/// The latest submission of the job `job` of replica `replica`.
pub fn submission_of(run: &Run, replica: u32, job: u32) -> anyhow::Result<Uuid4> {
    run.jobs
        .iter()
        .find(|candidate| {
            candidate.job_spec.replica_num == replica && candidate.job_spec.job_num == job
        })
        .and_then(|job| job.job_submissions.last())
        .map(|submission| submission.id)
        .ok_or_else(|| {
            anyhow::anyhow!(
                "Run {} has no job matching replica={replica} job={job}",
                run.run_spec.run_name.as_deref().unwrap_or_default()
            )
        })
}

/// Whose logs to read.
pub struct LogSource<'a> {
    /// The run.
    pub run_name: &'a str,
    /// The job submission.
    pub submission: Uuid4,
    /// Runner logs instead of job output.
    pub diagnose: bool,
}

/// Where reading stopped: the time of the last event printed.
#[derive(Debug, Default)]
pub struct Cursor {
    /// Events after this time are new.
    pub start_time: Option<DateTime<Utc>>,
}

/// Prints every stored event after the cursor, page by page, and moves the cursor.
pub async fn drain(
    client: &ProjectClient,
    source: &LogSource<'_>,
    cursor: &mut Cursor,
) -> Result<(), ApiError> {
    let mut next_token = None;
    loop {
        let request = PollLogsRequest {
            run_name: source.run_name.to_owned(),
            job_submission_id: source.submission,
            start_time: cursor.start_time,
            end_time: None,
            descending: false,
            next_token: next_token.take(),
            limit: Limit(1000),
            diagnose: source.diagnose,
        };
        let page = client.poll_logs(&request).await?;
        let mut stdout = std::io::stdout().lock();
        for event in &page.logs {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(&event.message)
                .unwrap_or_else(|_| event.message.clone().into_bytes());
            // A closed pipe (`dstack logs | head`) is not an error worth reporting.
            let _ = stdout.write_all(&bytes);
            cursor.start_time = Some(event.timestamp);
        }
        let _ = stdout.flush();
        match page.next_token {
            Some(token) if !page.logs.is_empty() => next_token = Some(token),
            _ => return Ok(()),
        }
    }
}

/// Prints new events until the run is finished, then the last ones.
pub async fn follow(
    client: &ProjectClient,
    source: &LogSource<'_>,
    cursor: &mut Cursor,
) -> anyhow::Result<Run> {
    loop {
        drain(client, source, cursor).await?;
        let run = get_run(client, source.run_name).await?;
        if run.status.is_finished() {
            drain(client, source, cursor).await?;
            return Ok(run);
        }
        tokio::time::sleep(FOLLOW_INTERVAL).await;
    }
}
