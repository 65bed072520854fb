//! Reads of the SQLite file on the calling thread, for the few queries that return many large
//! rows.
//!
//! sqlx runs each SQLite connection on a worker thread and hands every row to the async task
//! through a channel, copying each value twice on the way (into the row, then into `Any`'s
//! row). For a page of 100 runs with their specs (about 480 KB) that was about 70 thread wake-ups
//! and most of the page's allocations. Here the statement runs in place
//! ([`tokio::task::block_in_place`]: a read is a millisecond of CPU and never waits on a lock
//! in WAL mode) and columns are read from SQLite's own buffers.

use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};
use tokio::runtime::{Handle, RuntimeFlavor};
use tokio::sync::Semaphore;

use super::DbError;

/// Read-only connections to the server's SQLite file, opened as reads need them and kept.
#[derive(Debug)]
pub struct SqliteReads {
    path: PathBuf,
    /// Bounds the concurrent reads, hence the open connections (each with its page cache)
    /// and the threads `block_in_place` hands the runtime's other tasks to.
    permits: Semaphore,
    idle: Mutex<Vec<Connection>>,
}

impl SqliteReads {
    /// Reads of the file at `path`, which sqlx has created and migrated, `concurrent` at a
    /// time.
    pub fn new(path: PathBuf, concurrent: usize) -> Self {
        Self {
            path,
            permits: Semaphore::new(concurrent),
            idle: Mutex::new(Vec::new()),
        }
    }

    /// Runs `read` on a connection, on this thread, once fewer than `concurrent` others run.
    pub async fn read<T>(
        &self,
        read: impl FnOnce(&Connection) -> Result<T, DbError>,
    ) -> Result<T, DbError> {
        let _permit = self
            .permits
            .acquire()
            .await
            .expect("the semaphore is never closed");
        let in_place = || {
            let connection = match self.lock_idle().pop() {
                Some(connection) => connection,
                None => self.open()?,
            };
            let result = read(&connection);
            self.lock_idle().push(connection);
            result
        };
        match Handle::current().runtime_flavor() {
            // A single-threaded runtime (tests) has no thread to hand its other tasks to.
            RuntimeFlavor::CurrentThread => in_place(),
            _ => tokio::task::block_in_place(in_place),
        }
    }

    fn lock_idle(&self) -> std::sync::MutexGuard<'_, Vec<Connection>> {
        self.idle
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn open(&self) -> Result<Connection, DbError> {
        let connection = Connection::open_with_flags(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        connection.busy_timeout(Duration::from_secs(5))?;
        connection.pragma_update(None, "query_only", true)?;
        Ok(connection)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    fn database_with_a_row(concurrent: usize) -> (tempfile::TempDir, Arc<SqliteReads>) {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let path = dir.path().join("test.db");
        let writer = Connection::open(&path).expect("a database");
        writer
            .execute_batch(
                "PRAGMA journal_mode = WAL; CREATE TABLE t (v TEXT); INSERT INTO t VALUES ('x');",
            )
            .expect("a table");
        (dir, Arc::new(SqliteReads::new(path, concurrent)))
    }

    async fn read_value(reads: &SqliteReads) -> Result<String, DbError> {
        reads
            .read(|connection| Ok(connection.query_row("SELECT v FROM t", [], |row| row.get(0))?))
            .await
    }

    #[test]
    fn reads_run_on_either_runtime() {
        let (_dir, reads) = database_with_a_row(2);
        let current = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("a runtime");
        assert_eq!(current.block_on(read_value(&reads)).expect("a read"), "x");
        let multi = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .build()
            .expect("a runtime");
        assert_eq!(multi.block_on(read_value(&reads)).expect("a read"), "x");
    }

    #[tokio::test]
    async fn reads_cannot_write() {
        let (_dir, reads) = database_with_a_row(2);
        let written = reads
            .read(|connection| Ok(connection.execute("DELETE FROM t", [])?))
            .await;
        assert!(
            matches!(written, Err(DbError::SqliteRead(_))),
            "{written:?}"
        );
        assert_eq!(read_value(&reads).await.expect("a read"), "x");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_reads_share_the_bounded_connections() {
        let (_dir, reads) = database_with_a_row(2);
        let in_read = reads
            .read(|_| Ok(reads.permits.available_permits()))
            .await
            .expect("a read");
        assert_eq!(in_read, 1, "a read holds a permit");
        let tasks: Vec<_> = (0..16)
            .map(|_| {
                let reads = reads.clone();
                tokio::spawn(async move { read_value(&reads).await })
            })
            .collect();
        for task in tasks {
            assert_eq!(task.await.expect("a task").expect("a read"), "x");
        }
        let kept = reads.lock_idle().len();
        assert!((1..=2).contains(&kept), "{kept} connections kept");
    }
}
