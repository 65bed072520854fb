//! [`Agent`]: the runner's shared state behind the HTTP API: the API state, the submitted
//! job, its recorded events, and the switches the lifecycle waits on.
//!
//! State and history change together under one lock, so a pull never sees the job ended
//! without its final output.

use std::io;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use dstack_agents::runner::{JobInfo, LogEvent, PullResponse, SubmitBody};
use tokio::sync::watch;

use crate::ansi::AnsiStripper;
use crate::config::RunnerConfig;
use crate::connections::ConnectionTracker;
use crate::executor::{self, PreparedJob};
use crate::history::{History, JobOutcome};
use crate::quota::LogQuota;
use crate::state::{NotAllowed, RunnerAction, RunnerState};

#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    #[error(transparent)]
    NotAllowed(#[from] NotAllowed),
    #[error("cannot store {path}: {source}")]
    Store { path: PathBuf, source: io::Error },
    #[error("no job has been submitted")]
    NotSubmitted,
}

#[derive(Debug)]
struct Inner {
    state: RunnerState,
    submission: Option<SubmitBody>,
    history: History,
    quota: Option<LogQuota>,
    submitted_at: Instant,
    stripper: AnsiStripper,
    connections: ConnectionTracker,
}

#[derive(Debug)]
pub struct Agent {
    config: RunnerConfig,
    inner: Mutex<Inner>,
    state: watch::Sender<RunnerState>,
    stop: watch::Sender<bool>,
    quota_exceeded: watch::Sender<bool>,
    final_pull: watch::Sender<bool>,
    /// Bumped whenever job output is recorded or the job ends, for log streams.
    output_changed: watch::Sender<u64>,
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| i64::try_from(elapsed.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or_default()
}

impl Agent {
    pub fn new(config: RunnerConfig) -> Arc<Self> {
        Arc::new(Self {
            config,
            inner: Mutex::new(Inner {
                state: RunnerState::WaitSubmit,
                submission: None,
                history: History::default(),
                quota: None,
                submitted_at: Instant::now(),
                stripper: AnsiStripper::default(),
                connections: ConnectionTracker::default(),
            }),
            state: watch::Sender::new(RunnerState::WaitSubmit),
            stop: watch::Sender::new(false),
            quota_exceeded: watch::Sender::new(false),
            final_pull: watch::Sender::new(false),
            output_changed: watch::Sender::new(0),
        })
    }

    pub fn config(&self) -> &RunnerConfig {
        &self.config
    }

    /// Follows the API state, for the lifecycle.
    pub fn watch_state(&self) -> watch::Receiver<RunnerState> {
        self.state.subscribe()
    }

    /// Turns true once a pull has been answered after the job ended.
    pub fn watch_final_pull(&self) -> watch::Receiver<bool> {
        self.final_pull.subscribe()
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves plain data behind; serving it is better
        // than failing every later call.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn set_state(&self, inner: &mut Inner, state: RunnerState) {
        inner.state = state;
        self.state.send_replace(state);
    }

    pub fn submit(&self, body: SubmitBody) -> Result<(), AgentError> {
        let mut inner = self.lock();
        inner.state.check(RunnerAction::Submit)?;
        if inner.submission.is_some() {
            tracing::warn!("a job was submitted again; the new one replaces it");
        }
        inner.quota = LogQuota::new(body.log_quota_hour);
        inner.submitted_at = Instant::now();
        inner.submission = Some(body);
        self.set_state(&mut inner, RunnerState::WaitRun);
        Ok(())
    }

    pub fn store_archive(&self, id: uuid::Uuid, archive: &[u8]) -> Result<(), AgentError> {
        self.lock().state.check(RunnerAction::Upload)?;
        store(self.config.archive_path(id), archive)
    }

    pub fn store_code(&self, code: &[u8]) -> Result<(), AgentError> {
        let repo_id = {
            let inner = self.lock();
            inner.state.check(RunnerAction::Upload)?;
            let submission = inner.submission.as_ref().ok_or(AgentError::NotSubmitted)?;
            submission.run.run_spec.repo_id.clone().unwrap_or_default()
        };
        store(self.config.code_path(&repo_id), code)
    }

    /// Prepares the job and starts it. `None` when it could not be prepared; its failure is
    /// then recorded as the job's final state.
    pub fn run(self: &Arc<Self>) -> Result<Option<JobInfo>, AgentError> {
        let body = {
            let mut inner = self.lock();
            inner.state.check(RunnerAction::Run)?;
            let body = inner.submission.clone().ok_or(AgentError::NotSubmitted)?;
            self.set_state(&mut inner, RunnerState::ServeLogs);
            body
        };
        let job: PreparedJob = match executor::prepare(&self.config, body) {
            Ok(job) => job,
            Err(error) => {
                tracing::warn!(%error, "the job cannot start");
                self.runner_log(&format!("the job cannot start: {error}"));
                self.finish(error.outcome());
                return Ok(None);
            }
        };
        let info = job.info();
        let agent = self.clone();
        let stop = self.stop.subscribe();
        tokio::spawn(async move {
            let outcome = executor::execute(agent.clone(), job, stop).await;
            agent.finish(outcome);
        });
        Ok(Some(info))
    }

    /// Stops the job if it runs; the runner then ends once its events are pulled. Before a
    /// job runs, this ends the runner's wait for one.
    ///
    /// dstack's runner enters `wait_logs_finished` at once, so a pull can say `has_more:
    /// false` before the job's final state is recorded; here the state changes only with
    /// that final state.
    pub fn stop(&self) {
        let mut inner = self.lock();
        match inner.state {
            RunnerState::ServeLogs => {
                self.stop.send_replace(true);
            }
            RunnerState::WaitSubmit | RunnerState::WaitRun => {
                self.set_state(&mut inner, RunnerState::WaitLogsFinished);
                self.output_changed.send_modify(|count| *count += 1);
            }
            RunnerState::WaitLogsFinished => {}
        }
    }

    /// Events newer than `since`. A pull after the job ended is the last one the lifecycle
    /// waits for.
    pub fn pull(&self, since: i64) -> PullResponse {
        let inner = self.lock();
        let mut response = inner.history.newer_than(since);
        response.has_more = inner.state != RunnerState::WaitLogsFinished;
        response.no_connections_secs = inner.connections.no_connections_secs();
        if !response.has_more {
            self.final_pull.send_replace(true);
        }
        response
    }

    /// Records the SSH connections open at `now`.
    pub fn observe_connections(&self, now: Instant, open: Vec<String>) {
        self.lock().connections.observe(now, open);
    }

    pub fn record_running(&self) {
        self.lock().history.push_running(now_ms());
    }

    /// Records job output. The quota counts the text without escape sequences; output over
    /// it is dropped and ends the job.
    pub fn record_output(&self, bytes: &[u8]) {
        let mut inner = self.lock();
        let text = inner.stripper.strip(bytes);
        let since_submit = inner.submitted_at.elapsed();
        if let Some(quota) = &mut inner.quota
            && !quota.admit(text.len(), since_submit)
        {
            self.quota_exceeded.send_replace(true);
            return;
        }
        let now = now_ms();
        inner.history.push_raw_job_output(bytes, now);
        if !text.is_empty() {
            inner.history.push_job_output(&text, now);
        }
        self.output_changed.send_modify(|count| *count += 1);
    }

    /// Changes whenever new job output is recorded or the job ends.
    pub fn watch_output(&self) -> watch::Receiver<u64> {
        self.output_changed.subscribe()
    }

    /// Raw job output newer than `since`, and whether the job has ended (so no more will
    /// come).
    pub fn raw_output_newer_than(&self, since: i64) -> (Vec<LogEvent>, bool) {
        let inner = self.lock();
        let ended = inner.state == RunnerState::WaitLogsFinished;
        (inner.history.raw_job_logs_newer_than(since), ended)
    }

    /// Turns true when the job's output went over its hourly quota.
    pub fn watch_quota_exceeded(&self) -> watch::Receiver<bool> {
        self.quota_exceeded.subscribe()
    }

    /// The hourly log quota in bytes, if there is one.
    pub fn log_quota(&self) -> Option<u64> {
        self.lock().quota.as_ref().map(LogQuota::limit)
    }

    pub fn runner_log(&self, message: &str) {
        tracing::info!("{message}");
        self.lock().history.push_runner_log(message, now_ms());
    }

    fn finish(&self, outcome: JobOutcome) {
        tracing::info!(state = %outcome.state, message = %outcome.message, "the job ended");
        let mut inner = self.lock();
        if !inner.history.has_outcome() {
            inner.history.push_outcome(outcome, now_ms());
        }
        self.set_state(&mut inner, RunnerState::WaitLogsFinished);
        self.output_changed.send_modify(|count| *count += 1);
    }
}

fn store(path: PathBuf, contents: &[u8]) -> Result<(), AgentError> {
    let write = || {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&path, contents)
    };
    write().map_err(|source| AgentError::Store {
        path: path.clone(),
        source,
    })
}
