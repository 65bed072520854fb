//! Reconcilers: one pipeline per resource kind moves rows from status to status.
//!
//! - [`lease`]: claiming rows with a lease (`lock_token`, `lock_expires_at`), extending it,
//!   and the guarded write that only lands while the lease is still held.
//! - [`hints`]: in-process wake-ups, so a change is picked up at once, not at the next sweep.
//! - [`worker`]: the loop every pipeline runs: claim a batch, process each row outside any
//!   transaction, sleep until a hint or the sweep.
//! - [`context`]: what the reconcilers share, and reaching an instance's agents.
//! - The reconcilers: [`jobs_submitted`], [`jobs_running`], [`jobs_terminating`], [`runs`],
//!   [`instances`], [`fleets`]; [`start`] runs them all.

pub mod context;
pub mod fleets;
pub mod hints;
pub mod instances;
mod jobs;
pub mod jobs_running;
pub mod jobs_submitted;
pub mod jobs_terminating;
pub mod lease;
pub mod runs;
pub mod worker;

use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinHandle;

use self::context::Scheduler;
use self::hints::Kind;
use self::lease::Table;
use self::worker::{PipelineSpec, Reconciler};

/// How long a claim lasts unless its worker keeps it alive.
const LEASE: Duration = Duration::from_secs(30);

/// The running pipelines; dropping this stops them (their leases then lapse and a restarted
/// server takes the rows again where they were).
pub struct Pipelines(Vec<JoinHandle<()>>);

impl Drop for Pipelines {
    fn drop(&mut self) {
        for handle in &self.0 {
            handle.abort();
        }
    }
}

/// Starts every pipeline.
pub fn start(scheduler: &Scheduler) -> Pipelines {
    let sweep = Duration::from_millis(200);
    let spec = |table: Table, kind: Kind, workers: usize| PipelineSpec {
        table,
        kind,
        workers,
        lease: LEASE,
        sweep,
    };
    let handles = vec![
        spawn(
            scheduler,
            spec(jobs_submitted::TABLE, Kind::Jobs, 8),
            jobs_submitted::SubmittedJobs(scheduler.clone()),
        ),
        spawn(
            scheduler,
            spec(jobs_running::TABLE, Kind::Jobs, 16),
            jobs_running::RunningJobs(scheduler.clone()),
        ),
        spawn(
            scheduler,
            spec(jobs_terminating::TABLE, Kind::Jobs, 8),
            jobs_terminating::TerminatingJobs(scheduler.clone()),
        ),
        spawn(
            scheduler,
            spec(runs::TABLE, Kind::Runs, 4),
            runs::Runs(scheduler.clone()),
        ),
        spawn(
            scheduler,
            spec(instances::TABLE, Kind::Instances, 8),
            instances::Instances(scheduler.clone()),
        ),
        spawn(
            scheduler,
            spec(fleets::TABLE, Kind::Fleets, 2),
            fleets::Fleets(scheduler.clone()),
        ),
    ];
    Pipelines(handles)
}

fn spawn<R: Reconciler>(
    scheduler: &Scheduler,
    spec: PipelineSpec,
    reconciler: R,
) -> JoinHandle<()> {
    worker::spawn(
        scheduler.db.clone(),
        &scheduler.hints,
        spec,
        Arc::new(reconciler),
    )
}
