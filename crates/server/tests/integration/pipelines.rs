//! The pipeline machinery on both engines, over a scratch table with the lease columns:
//! exactly-once processing by two concurrent pipelines (two replicas), lease take-over after
//! expiry with the late write discarded, wake-up by hint, and leases kept alive while a slow
//! worker runs.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use dstack_server::db::Database;
use dstack_server::pipelines::hints::{Hints, Kind};
use dstack_server::pipelines::lease::{self, Claimed, Table};
use dstack_server::pipelines::worker::{self, PipelineSpec, Reconciler};
use sqlx::Row;
use tokio::sync::Notify;

use crate::per_engine;
use crate::support::{Engine, Storage};

const NEW_ROWS: Table = Table {
    name: "lease_test",
    eligible: "status = 'new'",
    order: "last_processed_at ASC",
};

async fn scratch_db(engine: Engine) -> (Storage, Database) {
    let storage = Storage::new(engine).await;
    let settings = storage.settings();
    let url = settings.database_url.as_ref().map(|url| url.0.clone());
    let db = Database::open(url.as_deref(), &settings.server_dir())
        .await
        .expect("database opens");
    sqlx::query(
        "CREATE TABLE lease_test (id TEXT PRIMARY KEY, status TEXT NOT NULL, \
         lock_token TEXT, lock_expires_at BIGINT, last_processed_at BIGINT NOT NULL)",
    )
    .execute(db.pool())
    .await
    .expect("scratch table");
    (storage, db)
}

async fn insert_rows(db: &Database, count: usize) -> Vec<String> {
    let mut ids = Vec::new();
    for n in 0..count {
        let id = uuid::Uuid::new_v4().to_string();
        sqlx::query(
            "INSERT INTO lease_test (id, status, last_processed_at) VALUES ($1, 'new', $2)",
        )
        .bind(&id)
        .bind(i64::try_from(n).expect("small"))
        .execute(db.pool())
        .await
        .expect("insert");
        ids.push(id);
    }
    ids
}

async fn done_count(db: &Database) -> i64 {
    sqlx::query("SELECT COUNT(*) AS n FROM lease_test WHERE status = 'done'")
        .fetch_one(db.pool())
        .await
        .expect("count")
        .get("n")
}

async fn wait_until_done(db: &Database, expected: i64) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while done_count(db).await < expected {
        assert!(Instant::now() < deadline, "rows not processed within 30 s");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Marks rows done under the lease and counts how often each row was processed; it can be
/// held at a gate to play a slow worker.
struct MarkDone {
    db: Database,
    processed: Mutex<HashMap<uuid::Uuid, usize>>,
    gate: Option<Arc<Notify>>,
}

impl MarkDone {
    fn new(db: &Database, gate: Option<Arc<Notify>>) -> Arc<Self> {
        Arc::new(Self {
            db: db.clone(),
            processed: Mutex::default(),
            gate,
        })
    }
}

impl Reconciler for MarkDone {
    async fn process(&self, claimed: Claimed) {
        *self
            .processed
            .lock()
            .expect("counts")
            .entry(claimed.id)
            .or_default() += 1;
        if let Some(gate) = &self.gate {
            gate.notified().await;
        }
        let mut tx = self.db.pool().begin().await.expect("begin");
        if !lease::finish(&mut *tx, &NEW_ROWS, claimed)
            .await
            .expect("finish")
        {
            return;
        }
        sqlx::query("UPDATE lease_test SET status = 'done' WHERE id = $1")
            .bind(claimed.id.to_string())
            .execute(&mut *tx)
            .await
            .expect("update");
        tx.commit().await.expect("commit");
    }
}

fn spec(lease: Duration) -> PipelineSpec {
    PipelineSpec {
        table: NEW_ROWS,
        kind: Kind::Jobs,
        workers: 4,
        lease,
        // Long enough that only hints and finished workers drive these tests.
        sweep: Duration::from_secs(3600),
    }
}

async fn two_pipelines_process_each_row_exactly_once(engine: Engine) {
    let (_storage, db) = scratch_db(engine).await;
    insert_rows(&db, 120).await;
    let hints = Hints::new();
    let reconciler = MarkDone::new(&db, None);
    let replicas: Vec<_> = (0..2)
        .map(|_| {
            worker::spawn(
                db.clone(),
                &hints,
                spec(Duration::from_secs(30)),
                reconciler.clone(),
            )
        })
        .collect();
    wait_until_done(&db, 120).await;
    for replica in replicas {
        replica.abort();
    }
    let processed = reconciler.processed.lock().expect("counts");
    assert_eq!(processed.len(), 120);
    assert!(processed.values().all(|&times| times == 1), "{processed:?}");
}

async fn an_expired_lease_is_taken_over_and_the_late_write_is_discarded(engine: Engine) {
    let (_storage, db) = scratch_db(engine).await;
    insert_rows(&db, 1).await;
    let first = lease::claim(&db, &NEW_ROWS, Duration::from_millis(1), 10)
        .await
        .expect("claim");
    assert_eq!(first.len(), 1);
    let deadline = Instant::now() + Duration::from_secs(10);
    let second = loop {
        let batch = lease::claim(&db, &NEW_ROWS, Duration::from_secs(30), 10)
            .await
            .expect("claim");
        if let Some(claimed) = batch.first() {
            break *claimed;
        }
        assert!(
            Instant::now() < deadline,
            "the expired lease was never taken over"
        );
    };
    assert_eq!(second.id, first[0].id);
    assert_ne!(second.token, first[0].token);
    assert!(
        !lease::finish(db.pool(), &NEW_ROWS, first[0])
            .await
            .expect("finish")
    );
    assert!(
        lease::finish(db.pool(), &NEW_ROWS, second)
            .await
            .expect("finish")
    );
}

async fn a_hint_wakes_an_idle_pipeline_at_once(engine: Engine) {
    let (_storage, db) = scratch_db(engine).await;
    let hints = Hints::new();
    let pipeline = worker::spawn(
        db.clone(),
        &hints,
        spec(Duration::from_secs(30)),
        MarkDone::new(&db, None),
    );
    // The pipeline found nothing and now waits for an hour-long sweep, or a hint.
    insert_rows(&db, 3).await;
    hints.hint(Kind::Jobs);
    wait_until_done(&db, 3).await;
    pipeline.abort();
}

async fn a_slow_worker_keeps_its_lease(engine: Engine) {
    let (_storage, db) = scratch_db(engine).await;
    insert_rows(&db, 1).await;
    let gate = Arc::new(Notify::new());
    let lease_time = Duration::from_millis(300);
    let hints = Hints::new();
    let reconciler = MarkDone::new(&db, Some(gate.clone()));
    let pipeline = worker::spawn(db.clone(), &hints, spec(lease_time), reconciler.clone());
    let deadline = Instant::now() + Duration::from_secs(10);
    while reconciler.processed.lock().expect("counts").is_empty() {
        assert!(Instant::now() < deadline, "the row was never claimed");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // For several lease lengths, nobody else can claim the row: the heartbeat extends it.
    let held_until = Instant::now() + lease_time * 4;
    while Instant::now() < held_until {
        let stolen = lease::claim(&db, &NEW_ROWS, Duration::from_secs(30), 10)
            .await
            .expect("claim");
        assert!(stolen.is_empty(), "a lease in use expired");
        tokio::time::sleep(lease_time / 10).await;
    }
    gate.notify_one();
    wait_until_done(&db, 1).await;
    pipeline.abort();
    assert_eq!(reconciler.processed.lock().expect("counts").len(), 1);
}

per_engine!(
    two_pipelines_process_each_row_exactly_once,
    an_expired_lease_is_taken_over_and_the_late_write_is_discarded,
    a_hint_wakes_an_idle_pipeline_at_once,
    a_slow_worker_keeps_its_lease,
);
