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

use super::DbError;

/// Idle connections kept open; more concurrent reads open their own and close them after.
const KEPT_CONNECTIONS: usize = 2;

/// Read-only connections to the server's SQLite file.
#[derive(Debug)]
pub struct SqliteReads {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
}

impl SqliteReads {
    /// Reads of the file at `path`, which sqlx has created and migrated.
    pub fn new(path: PathBuf) -> Self {
        Self {
            path,
            idle: Mutex::new(Vec::new()),
        }
    }

    /// Runs `read` on a connection, on this thread.
    pub fn read<T>(
        &self,
        read: impl FnOnce(&Connection) -> Result<T, DbError>,
    ) -> Result<T, DbError> {
        let in_place = || {
            let connection = match self.take_idle() {
                Some(connection) => connection,
                None => self.open()?,
            };
            let result = read(&connection);
            let mut idle = self
                .idle
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            if idle.len() < KEPT_CONNECTIONS {
                idle.push(connection);
            }
            result
        };
        match tokio::runtime::Handle::try_current().map(|handle| handle.runtime_flavor()) {
            Ok(tokio::runtime::RuntimeFlavor::MultiThread) => tokio::task::block_in_place(in_place),
            // A single-threaded runtime (tests) cannot hand its tasks to another thread.
            _ => in_place(),
        }
    }

    fn take_idle(&self) -> Option<Connection> {
        self.idle
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .pop()
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
    use super::*;

    fn database_with_a_row() -> (tempfile::TempDir, SqliteReads) {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let path = dir.path().join("test.db");
        let writer = Connection::open(&path).expect("a database");
        writer
            .execute_batch(
                "PRAGMA journal_mode = WAL; CREATE TABLE t (v TEXT); INSERT INTO t VALUES ('x');",
            )
            .expect("a table");
        (dir, SqliteReads::new(path))
    }

    fn read_value(reads: &SqliteReads) -> Result<String, DbError> {
        reads.read(|connection| Ok(connection.query_row("SELECT v FROM t", [], |row| row.get(0))?))
    }

    #[test]
    fn reads_run_on_either_runtime_and_outside_one() {
        let (_dir, reads) = database_with_a_row();
        assert_eq!(read_value(&reads).expect("a read outside a runtime"), "x");
        let current = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("a runtime");
        assert_eq!(
            current
                .block_on(async { read_value(&reads) })
                .expect("a read"),
            "x"
        );
        let multi = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .build()
            .expect("a runtime");
        assert_eq!(
            multi
                .block_on(async { read_value(&reads) })
                .expect("a read"),
            "x"
        );
    }

    #[test]
    fn reads_cannot_write() {
        let (_dir, reads) = database_with_a_row();
        let written = reads.read(|connection| Ok(connection.execute("DELETE FROM t", [])?));
        assert!(
            matches!(written, Err(DbError::SqliteRead(_))),
            "{written:?}"
        );
        assert_eq!(read_value(&reads).expect("a read"), "x");
    }

    #[test]
    fn connections_are_reused_up_to_the_kept_number() {
        let (_dir, reads) = database_with_a_row();
        read_value(&reads).expect("a read");
        read_value(&reads).expect("a read");
        assert_eq!(reads.idle.lock().expect("the lock").len(), 1);
        let nested = reads.read(|_| {
            reads.read(|_| read_value(&reads).map(|_| ()))?;
            Ok(())
        });
        nested.expect("nested reads");
        assert_eq!(reads.idle.lock().expect("the lock").len(), KEPT_CONNECTIONS);
    }
}
