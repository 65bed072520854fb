//! The loop of one pipeline: claim as many rows as there are free workers, process each in a
//! task of its own, keep the leases alive while they run, and wait for a hint, a finished
//! worker or the sweep before claiming again.

use std::collections::HashSet;
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::{Notify, Semaphore};
use tokio::task::JoinHandle;

use super::hints::{Hints, Kind};
use super::lease::{self, Claimed, Table};
use crate::db::Database;

/// What a pipeline does with one claimed row.
pub trait Reconciler: Send + Sync + 'static {
    /// Processes `claimed`: slow work first, then one transaction that starts with
    /// [`lease::finish`] and is rolled back when that returns `false`. Errors are the
    /// reconciler's to log; the lease then expires and the row is tried again.
    fn process(&self, claimed: Claimed) -> impl Future<Output = ()> + Send;
}

/// How one pipeline runs.
#[derive(Debug, Clone, Copy)]
pub struct PipelineSpec {
    /// The rows it takes.
    pub table: Table,
    /// The hint that wakes it.
    pub kind: Kind,
    /// Rows processed at once.
    pub workers: usize,
    /// How long a claim lasts unless extended; extended every third of it while processing.
    pub lease: Duration,
    /// The safety net: how long it waits for a hint before looking anyway.
    pub sweep: Duration,
}

/// Starts the pipeline; it runs until the handle is aborted. Leases of rows in flight when
/// it stops expire and another worker (or this server after a restart) takes them again.
pub fn spawn<R: Reconciler>(
    db: Database,
    hints: &Hints,
    spec: PipelineSpec,
    reconciler: Arc<R>,
) -> JoinHandle<()> {
    let hinted = hints.subscribe(spec.kind);
    tokio::spawn(run(db, hinted, spec, reconciler))
}

type InFlight = Arc<Mutex<HashSet<Claimed>>>;

async fn run<R: Reconciler>(
    db: Database,
    hinted: Arc<Notify>,
    spec: PipelineSpec,
    reconciler: Arc<R>,
) {
    let workers = Arc::new(Semaphore::new(spec.workers.max(1)));
    let finished = Arc::new(Notify::new());
    let in_flight: InFlight = Arc::default();
    let heartbeat = tokio::spawn(keep_alive(db.clone(), spec, in_flight.clone()));
    let _stop_heartbeat = AbortOnDrop(heartbeat);
    loop {
        let free = workers.available_permits();
        let mut claimed_all = false;
        if free > 0 {
            match lease::claim(&db, &spec.table, spec.lease, free).await {
                Ok(batch) => {
                    claimed_all = batch.len() == free;
                    for claimed in batch {
                        let Ok(permit) = workers.clone().acquire_owned().await else {
                            return;
                        };
                        lock(&in_flight).insert(claimed);
                        let (reconciler, in_flight, finished) =
                            (reconciler.clone(), in_flight.clone(), finished.clone());
                        tokio::spawn(async move {
                            reconciler.process(claimed).await;
                            lock(&in_flight).remove(&claimed);
                            drop(permit);
                            finished.notify_one();
                        });
                    }
                }
                Err(error) => tracing::warn!(table = spec.table.name, "cannot claim rows: {error}"),
            }
        }
        if claimed_all {
            // The batch filled every free worker: there may be more, claim again when one
            // frees up.
            finished.notified().await;
            continue;
        }
        tokio::select! {
            () = hinted.notified() => {}
            () = finished.notified() => {}
            () = tokio::time::sleep(spec.sweep) => {}
        }
    }
}

/// Extends the leases of rows in flight every third of the lease.
async fn keep_alive(db: Database, spec: PipelineSpec, in_flight: InFlight) {
    let mut ticks = tokio::time::interval(spec.lease / 3);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        let held: Vec<Claimed> = lock(&in_flight).iter().copied().collect();
        for claimed in held {
            match lease::extend(&db, &spec.table, claimed, spec.lease).await {
                Ok(true) => {}
                Ok(false) => {
                    lock(&in_flight).remove(&claimed);
                }
                Err(error) => tracing::warn!(
                    table = spec.table.name,
                    id = %claimed.id,
                    "cannot extend a lease: {error}"
                ),
            }
        }
    }
}

fn lock(in_flight: &InFlight) -> std::sync::MutexGuard<'_, HashSet<Claimed>> {
    in_flight.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Aborts a task when the loop that owns it ends (or is aborted itself).
struct AbortOnDrop(JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
