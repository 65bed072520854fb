//! How long the runner lives (agents.md §3.2): it waits for a job to be started, then for the
//! job to end, then for the server to pull the last events, and then exits.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use crate::agent::Agent;
use crate::state::RunnerState;

/// How long the runner waits for `POST /api/run`, and then for the final pull.
pub const RUN_WAIT: Duration = Duration::from_secs(5 * 60);
pub const FINAL_PULL_WAIT: Duration = Duration::from_secs(5 * 60);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LifecycleError {
    #[error("no job submitted within {} s", .0.as_secs())]
    NoJobSubmitted(Duration),
    #[error("interrupted before a job ran")]
    Interrupted,
}

/// Returns when the runner may exit. `interrupt` resolves on SIGINT, SIGTERM or SIGQUIT: it
/// ends the wait for a job, or stops the running one.
pub async fn run_lifecycle(
    agent: Arc<Agent>,
    interrupt: impl Future<Output = ()>,
    run_wait: Duration,
) -> Result<(), LifecycleError> {
    let mut interrupt = std::pin::pin!(interrupt);
    let mut state = agent.watch_state();
    tokio::select! {
        started = tokio::time::timeout(run_wait, state.wait_for(|state| state.job_started())) => {
            if started.is_err() {
                return Err(LifecycleError::NoJobSubmitted(run_wait));
            }
        }
        () = &mut interrupt => return Err(LifecycleError::Interrupted),
    }
    let ended = |state: &RunnerState| *state == RunnerState::WaitLogsFinished;
    let interrupted = tokio::select! {
        _ = state.wait_for(ended) => false,
        () = &mut interrupt => true,
    };
    if interrupted {
        tracing::info!("interrupted: stopping the job");
        agent.stop();
        let _ = state.wait_for(ended).await;
    }
    let mut pulled = agent.watch_final_pull();
    if tokio::time::timeout(FINAL_PULL_WAIT, pulled.wait_for(|pulled| *pulled))
        .await
        .is_err()
    {
        tracing::warn!("the job's last events were not pulled; exiting anyway");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::config::RunnerConfig;

    fn agent() -> Arc<Agent> {
        Agent::new(RunnerConfig {
            temp_dir: PathBuf::from("/nonexistent/runner"),
            etc_dir: PathBuf::from("/nonexistent/etc"),
            dstack_dir: PathBuf::from("/nonexistent/dstack"),
            job_launcher: PathBuf::from("/nonexistent/dstack-runner"),
            etc_profile: PathBuf::from("/nonexistent/etc/profile"),
            job_home_dir: None,
            ssh_port: 0,
        })
    }

    #[tokio::test]
    async fn no_job_within_the_wait_is_an_error() {
        let wait = Duration::from_millis(20);
        let result = run_lifecycle(agent(), std::future::pending(), wait).await;
        assert_eq!(result, Err(LifecycleError::NoJobSubmitted(wait)));
    }

    #[tokio::test]
    async fn a_signal_before_a_job_ends_the_runner_with_an_error() {
        let result = run_lifecycle(agent(), std::future::ready(()), RUN_WAIT).await;
        assert_eq!(result, Err(LifecycleError::Interrupted));
    }

    #[tokio::test]
    async fn a_stop_before_a_job_ends_the_runner_after_the_last_pull() {
        let agent = agent();
        let lifecycle = tokio::spawn(run_lifecycle(
            agent.clone(),
            std::future::pending(),
            RUN_WAIT,
        ));
        agent.stop();
        assert!(!agent.pull(0).has_more);
        assert_eq!(lifecycle.await.ok(), Some(Ok(())));
    }
}
