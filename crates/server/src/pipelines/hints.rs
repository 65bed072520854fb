//! Wake-ups between the API, the services and the pipelines of one process.
//!
//! A hint is a stored permit ([`tokio::sync::Notify::notify_one`]): a pipeline busy when the
//! hint arrives still sees it the next time it waits, so no change is missed between a fetch
//! and the wait that follows it.

use std::sync::Arc;

use tokio::sync::Notify;

/// The kinds of rows pipelines reconcile.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// `runs`.
    Runs,
    /// `jobs`: all job pipelines share this hint.
    Jobs,
    /// `instances`.
    Instances,
    /// `fleets`.
    Fleets,
    /// `volumes`.
    Volumes,
    /// `gateways`.
    Gateways,
}

/// The pipelines registered so far, each with the kind of row it watches.
type Watchers = Vec<(Kind, Arc<Notify>)>;

/// One waiter per pipeline, found by the kind of row it watches.
#[derive(Debug, Clone, Default)]
pub struct Hints {
    registered: Arc<std::sync::Mutex<Watchers>>,
}

impl Hints {
    /// A new, empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers a pipeline that watches `kind`; it waits on the returned notifier.
    pub fn subscribe(&self, kind: Kind) -> Arc<Notify> {
        let notify = Arc::new(Notify::new());
        self.lock().push((kind, notify.clone()));
        notify
    }

    /// Wakes every pipeline that watches `kind`.
    pub fn hint(&self, kind: Kind) {
        for (watched, notify) in self.lock().iter() {
            if *watched == kind {
                notify.notify_one();
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Watchers> {
        // A panic while holding this lock leaves the list intact; keep using it.
        self.registered
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn a_hint_sent_before_the_wait_is_kept() {
        let hints = Hints::new();
        let jobs = hints.subscribe(Kind::Jobs);
        hints.hint(Kind::Jobs);
        tokio::time::timeout(Duration::from_secs(5), jobs.notified())
            .await
            .expect("the stored permit wakes the waiter");
    }

    #[tokio::test]
    async fn a_hint_wakes_only_its_kind() {
        let hints = Hints::new();
        let jobs = hints.subscribe(Kind::Jobs);
        let runs = hints.subscribe(Kind::Runs);
        hints.hint(Kind::Runs);
        tokio::time::timeout(Duration::from_secs(5), runs.notified())
            .await
            .expect("runs woken");
        let jobs_woken = std::pin::pin!(jobs.notified()).enable();
        assert!(!jobs_woken, "a runs hint must not wake the jobs pipeline");
    }
}
