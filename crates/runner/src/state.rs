//! The runner's API state machine (agents.md §3.3): which calls each state accepts.
//!
//! `wait_submit → wait_run → serve_logs → wait_logs_finished`. A submit may be repeated until
//! the job runs; uploads and run need a submitted job; once the job has ended the runner only
//! serves what it recorded.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunnerState {
    /// Nothing submitted yet.
    WaitSubmit,
    /// Submitted; code and archives may be uploaded, then the job started.
    WaitRun,
    /// The job is being prepared or runs.
    ServeLogs,
    /// The job has ended (or was stopped before it ran); only pulls remain.
    WaitLogsFinished,
}

/// A call the runner accepts only in some states.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunnerAction {
    Submit,
    Upload,
    Run,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("cannot {action} while the runner is in state {state}")]
pub struct NotAllowed {
    pub action: RunnerAction,
    pub state: RunnerState,
}

impl RunnerState {
    pub fn allows(self, action: RunnerAction) -> bool {
        match action {
            RunnerAction::Submit => matches!(self, Self::WaitSubmit | Self::WaitRun),
            RunnerAction::Upload | RunnerAction::Run => self == Self::WaitRun,
        }
    }

    /// `Ok(())` when `action` is allowed, so callers can write `state.check(action)?`.
    pub fn check(self, action: RunnerAction) -> Result<(), NotAllowed> {
        if self.allows(action) {
            Ok(())
        } else {
            Err(NotAllowed {
                action,
                state: self,
            })
        }
    }

    /// Whether a job has started (or ended) and no submit can happen any more.
    pub fn job_started(self) -> bool {
        matches!(self, Self::ServeLogs | Self::WaitLogsFinished)
    }
}

impl fmt::Display for RunnerState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::WaitSubmit => "wait_submit",
            Self::WaitRun => "wait_run",
            Self::ServeLogs => "serve_logs",
            Self::WaitLogsFinished => "wait_logs_finished",
        })
    }
}

impl fmt::Display for RunnerAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Submit => "submit a job",
            Self::Upload => "upload files",
            Self::Run => "run the job",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::RunnerAction::*;
    use super::RunnerState::*;

    #[test]
    fn each_state_allows_exactly_its_actions() {
        let table = [
            (WaitSubmit, [true, false, false]),
            (WaitRun, [true, true, true]),
            (ServeLogs, [false, false, false]),
            (WaitLogsFinished, [false, false, false]),
        ];
        for (state, allowed) in table {
            for (action, expected) in [Submit, Upload, Run].into_iter().zip(allowed) {
                assert_eq!(state.allows(action), expected, "{state} {action}");
            }
        }
    }

    #[test]
    fn refusal_names_the_action_and_the_state() {
        assert_eq!(
            ServeLogs.check(Submit).map_err(|error| error.to_string()),
            Err("cannot submit a job while the runner is in state serve_logs".to_owned())
        );
        assert_eq!(WaitRun.check(Run), Ok(()));
    }
}
