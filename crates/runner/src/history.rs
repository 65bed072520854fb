//! What the runner records about a job: state changes, job output (without escape
//! sequences for pulls, raw for the WebSocket stream) and its own messages, each with a
//! timestamp, kept in memory for `GET /api/pull` and `/logs_ws`.
//!
//! Timestamps are milliseconds since the epoch, made strictly increasing: an event gets the
//! wall clock, or one more than the previous event when the clock has not moved on. dstack's
//! runner counts at most 999 events per second and then repeats timestamps, which loses
//! events for a client that pulls "newer than T"; this scheme never repeats one.

use dstack_agents::runner::{JobStateEvent, LogEvent, PullResponse};
use dstack_core::status::{JobStatus, JobTerminationReason};

/// Issues strictly increasing millisecond timestamps.
#[derive(Debug, Default)]
pub struct Timestamps {
    last: i64,
}

impl Timestamps {
    /// The timestamp of an event that happens at `now_ms`.
    pub fn issue(&mut self, now_ms: i64) -> i64 {
        self.last = now_ms.max(self.last + 1);
        self.last
    }

    pub fn last(&self) -> i64 {
        self.last
    }
}

/// The final state of a job, as the executor reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobOutcome {
    pub state: JobStatus,
    pub reason: Option<JobTerminationReason>,
    pub message: String,
    pub exit_status: Option<i32>,
}

/// The three event streams of one job.
#[derive(Debug, Default)]
pub struct History {
    clock: Timestamps,
    job_states: Vec<JobStateEvent>,
    job_logs: Vec<LogEvent>,
    job_ws_logs: Vec<LogEvent>,
    runner_logs: Vec<LogEvent>,
}

impl History {
    pub fn push_running(&mut self, now_ms: i64) {
        let timestamp = self.clock.issue(now_ms);
        self.job_states.push(JobStateEvent {
            state: JobStatus::Running,
            timestamp,
            termination_reason: None,
            termination_message: String::new(),
            exit_status: None,
        });
    }

    pub fn push_outcome(&mut self, outcome: JobOutcome, now_ms: i64) {
        let timestamp = self.clock.issue(now_ms);
        self.job_states.push(JobStateEvent {
            state: outcome.state,
            timestamp,
            termination_reason: outcome.reason,
            termination_message: outcome.message,
            exit_status: outcome.exit_status,
        });
    }

    /// Job output for pulls, escape sequences removed.
    pub fn push_job_output(&mut self, bytes: &[u8], now_ms: i64) {
        let timestamp = self.clock.issue(now_ms);
        self.job_logs.push(LogEvent {
            message: bytes.to_vec(),
            timestamp,
        });
    }

    /// Job output as the process wrote it, for the WebSocket stream.
    pub fn push_raw_job_output(&mut self, bytes: &[u8], now_ms: i64) {
        let timestamp = self.clock.issue(now_ms);
        self.job_ws_logs.push(LogEvent {
            message: bytes.to_vec(),
            timestamp,
        });
    }

    /// A runner message about the job; a newline is added.
    pub fn push_runner_log(&mut self, message: &str, now_ms: i64) {
        let timestamp = self.clock.issue(now_ms);
        self.runner_logs.push(LogEvent {
            message: format!("{message}\n").into_bytes(),
            timestamp,
        });
    }

    /// Whether the job has reached a final state.
    pub fn has_outcome(&self) -> bool {
        self.job_states
            .last()
            .is_some_and(|event| event.state.is_finished())
    }

    /// The raw job output events newer than `since`.
    pub fn raw_job_logs_newer_than(&self, since: i64) -> Vec<LogEvent> {
        newer(&self.job_ws_logs, since, |event| event.timestamp)
    }

    /// Every event newer than `since`. `has_more` is the caller's to set.
    pub fn newer_than(&self, since: i64) -> PullResponse {
        PullResponse {
            job_states: newer(&self.job_states, since, |event| event.timestamp),
            job_logs: newer(&self.job_logs, since, |event| event.timestamp),
            runner_logs: newer(&self.runner_logs, since, |event| event.timestamp),
            last_updated: self.clock.last(),
            no_connections_secs: 0,
            has_more: true,
        }
    }
}

/// The events after `since`; each stream is sorted by timestamp, so a binary search finds
/// the first one.
fn newer<T: Clone>(events: &[T], since: i64, timestamp: impl Fn(&T) -> i64) -> Vec<T> {
    let first = events.partition_point(|event| timestamp(event) <= since);
    events[first..].to_vec()
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn timestamps_follow_the_clock_and_never_repeat() {
        let mut clock = Timestamps::default();
        assert_eq!(clock.issue(1000), 1000);
        assert_eq!(clock.issue(1000), 1001);
        assert_eq!(clock.issue(999), 1002);
        assert_eq!(clock.issue(5000), 5000);
        assert_eq!(clock.last(), 5000);
    }

    #[test]
    fn pulls_return_only_newer_events_across_streams() {
        let mut history = History::default();
        history.push_runner_log("starting", 10);
        history.push_running(10);
        history.push_job_output(b"a\n", 10);
        let first = history.newer_than(0);
        assert_eq!(first.runner_logs.len(), 1);
        assert_eq!(first.job_states.len(), 1);
        assert_eq!(first.job_logs[0].message, b"a\n");
        assert_eq!(first.last_updated, 12);
        history.push_job_output(b"b\n", 11);
        let second = history.newer_than(first.last_updated);
        assert_eq!(second.job_logs.len(), 1);
        assert_eq!(second.job_logs[0].message, b"b\n");
        assert!(second.job_states.is_empty() && second.runner_logs.is_empty());
        assert!(history.newer_than(second.last_updated).job_logs.is_empty());
    }

    #[test]
    fn outcome_is_final() {
        let mut history = History::default();
        history.push_running(1);
        assert!(!history.has_outcome());
        history.push_outcome(
            JobOutcome {
                state: JobStatus::Done,
                reason: None,
                message: String::new(),
                exit_status: Some(0),
            },
            2,
        );
        assert!(history.has_outcome());
    }

    proptest! {
        /// Pulling with the last seen `last_updated` at any points never loses or repeats
        /// an event.
        #[test]
        fn incremental_pulls_see_every_event_once(
            clock in proptest::collection::vec(0_i64..50, 1..60),
            pulls in proptest::collection::vec(any::<bool>(), 60),
        ) {
            let mut history = History::default();
            let mut seen = Vec::new();
            let mut since = 0;
            for (index, now) in clock.iter().enumerate() {
                history.push_job_output(index.to_string().as_bytes(), *now);
                if pulls[index] {
                    let response = history.newer_than(since);
                    seen.extend(response.job_logs.into_iter().map(|event| event.message));
                    since = response.last_updated;
                }
            }
            seen.extend(history.newer_than(since).job_logs.into_iter().map(|event| event.message));
            let expected: Vec<Vec<u8>> =
                (0..clock.len()).map(|index| index.to_string().into_bytes()).collect();
            prop_assert_eq!(seen, expected);
        }
    }
}
