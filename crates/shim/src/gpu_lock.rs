//! [`GpuLock`]: which of the host's GPUs each task holds.

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard};

/// A GPU request that cannot be met.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GpuLockError {
    #[error("invalid GPU count {0}: expected -1 (all free GPUs) or a positive number")]
    InvalidCount(i32),
    #[error("no capacity: {requested} GPUs requested, {available} available")]
    NoCapacity { requested: usize, available: usize },
}

/// The host's GPUs by lock id (the `GPU-<uuid>` for NVIDIA, the render node for AMD), each
/// free or held by one task. Releasing goes by task, so a task's GPUs can be released by
/// both its terminate request and its pipeline without freeing GPUs another task took since.
#[derive(Debug, Default)]
pub struct GpuLock {
    holders: Mutex<BTreeMap<String, Option<String>>>,
}

impl GpuLock {
    /// All GPUs free.
    pub fn new(ids: impl IntoIterator<Item = String>) -> Self {
        Self {
            holders: Mutex::new(ids.into_iter().map(|id| (id, None)).collect()),
        }
    }

    /// Gives `task` `count` free GPUs, or with `-1` every GPU that is free now (maybe none).
    /// When there are too few, nothing is taken.
    pub fn acquire(&self, task: &str, count: i32) -> Result<Vec<String>, GpuLockError> {
        let mut holders = self.lock();
        let free: Vec<String> = holders
            .iter()
            .filter(|(_, holder)| holder.is_none())
            .map(|(id, _)| id.clone())
            .collect();
        let wanted = match count {
            -1 => free.len(),
            n if n > 0 => n.unsigned_abs() as usize,
            n => return Err(GpuLockError::InvalidCount(n)),
        };
        if wanted > free.len() {
            return Err(GpuLockError::NoCapacity {
                requested: wanted,
                available: free.len(),
            });
        }
        let chosen: Vec<String> = free.into_iter().take(wanted).collect();
        for id in &chosen {
            holders.insert(id.clone(), Some(task.to_owned()));
        }
        Ok(chosen)
    }

    /// Gives `task` the listed GPUs that are free (a task found running at startup); returns
    /// those it got. Unknown ids are ignored.
    pub fn lock_ids(&self, task: &str, ids: &[String]) -> Vec<String> {
        let mut holders = self.lock();
        ids.iter()
            .filter(|id| match holders.get_mut(id.as_str()) {
                Some(holder @ None) => {
                    *holder = Some(task.to_owned());
                    true
                }
                _ => false,
            })
            .cloned()
            .collect()
    }

    /// Frees every GPU `task` holds; returns them. Releasing again frees nothing.
    pub fn release(&self, task: &str) -> Vec<String> {
        let mut holders = self.lock();
        holders
            .iter_mut()
            .filter(|(_, holder)| holder.as_deref() == Some(task))
            .map(|(id, holder)| {
                *holder = None;
                id.clone()
            })
            .collect()
    }

    fn lock(&self) -> MutexGuard<'_, BTreeMap<String, Option<String>>> {
        // Plain assignments: a panic elsewhere cannot leave them half-written.
        self.holders
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lock_of(ids: &[&str]) -> GpuLock {
        GpuLock::new(ids.iter().map(|id| id.to_string()))
    }

    #[test]
    fn zero_and_negative_counts_are_errors() {
        let lock = lock_of(&["a"]);
        assert_eq!(lock.acquire("t", 0), Err(GpuLockError::InvalidCount(0)));
        assert_eq!(lock.acquire("t", -2), Err(GpuLockError::InvalidCount(-2)));
    }

    #[test]
    fn all_free_takes_every_free_gpu_and_never_fails() {
        let lock = lock_of(&["a", "b"]);
        assert_eq!(lock.acquire("t1", -1).unwrap(), ["a", "b"]);
        assert_eq!(lock.acquire("t2", -1).unwrap(), Vec::<String>::new());
        assert_eq!(lock_of(&[]).acquire("t", -1).unwrap(), Vec::<String>::new());
    }

    #[test]
    fn too_many_takes_nothing() {
        let lock = lock_of(&["a", "b"]);
        assert_eq!(lock.acquire("t1", 1).unwrap().len(), 1);
        let error = lock.acquire("t2", 2).unwrap_err();
        assert_eq!(
            error.to_string(),
            "no capacity: 2 GPUs requested, 1 available"
        );
        assert_eq!(lock.acquire("t2", 1).unwrap().len(), 1);
    }

    #[test]
    fn release_frees_only_the_tasks_own_gpus_once() {
        let lock = lock_of(&["a", "b"]);
        assert_eq!(lock.acquire("t1", 1).unwrap(), ["a"]);
        assert_eq!(lock.release("t1"), ["a"]);
        assert_eq!(lock.acquire("t2", 1).unwrap(), ["a"]);
        // A late second release by t1 must not free what t2 holds now.
        assert_eq!(lock.release("t1"), Vec::<String>::new());
        assert_eq!(
            lock.acquire("t3", 2),
            Err(GpuLockError::NoCapacity {
                requested: 2,
                available: 1
            })
        );
    }

    #[test]
    fn lock_ids_takes_only_free_known_gpus() {
        let lock = lock_of(&["a", "b"]);
        lock.acquire("t1", 1).unwrap();
        let ids = vec!["a".to_string(), "b".to_string(), "zzz".to_string()];
        assert_eq!(lock.lock_ids("t2", &ids), ["b"]);
        assert_eq!(lock.release("t2"), ["b"]);
    }
}
