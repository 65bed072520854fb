//! [`GpuLock`]: which of the host's GPUs are taken by a task.

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
/// free or taken.
#[derive(Debug, Default)]
pub struct GpuLock {
    taken: Mutex<BTreeMap<String, bool>>,
}

impl GpuLock {
    /// All GPUs free.
    pub fn new(ids: impl IntoIterator<Item = String>) -> Self {
        Self {
            taken: Mutex::new(ids.into_iter().map(|id| (id, false)).collect()),
        }
    }

    /// Takes `count` free GPUs, or with `-1` every GPU that is free now (maybe none). When
    /// there are too few, nothing is taken.
    pub fn acquire(&self, count: i32) -> Result<Vec<String>, GpuLockError> {
        let mut taken = self.lock();
        let free: Vec<String> = taken
            .iter()
            .filter(|(_, busy)| !**busy)
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
            taken.insert(id.clone(), true);
        }
        Ok(chosen)
    }

    /// Marks GPUs taken (a task found running at startup); returns the ids that changed.
    /// Unknown ids are ignored.
    pub fn lock_ids(&self, ids: &[String]) -> Vec<String> {
        self.set(ids, true)
    }

    /// Frees GPUs; returns the ids that changed. Unknown or already free ids are ignored.
    pub fn release(&self, ids: &[String]) -> Vec<String> {
        self.set(ids, false)
    }

    fn set(&self, ids: &[String], busy: bool) -> Vec<String> {
        let mut taken = self.lock();
        ids.iter()
            .filter(|id| {
                taken
                    .get_mut(id.as_str())
                    .is_some_and(|state| std::mem::replace(state, busy) != busy)
            })
            .cloned()
            .collect()
    }

    fn lock(&self) -> MutexGuard<'_, BTreeMap<String, bool>> {
        // Plain flags: a panic elsewhere cannot leave them half-written.
        self.taken
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
        assert_eq!(lock.acquire(0), Err(GpuLockError::InvalidCount(0)));
        assert_eq!(lock.acquire(-2), Err(GpuLockError::InvalidCount(-2)));
    }

    #[test]
    fn all_free_takes_every_free_gpu_and_never_fails() {
        let lock = lock_of(&["a", "b"]);
        assert_eq!(lock.acquire(-1).unwrap(), ["a", "b"]);
        assert_eq!(lock.acquire(-1).unwrap(), Vec::<String>::new());
        assert_eq!(lock_of(&[]).acquire(-1).unwrap(), Vec::<String>::new());
    }

    #[test]
    fn too_many_takes_nothing() {
        let lock = lock_of(&["a", "b"]);
        assert_eq!(lock.acquire(1).unwrap().len(), 1);
        let error = lock.acquire(2).unwrap_err();
        assert_eq!(
            error.to_string(),
            "no capacity: 2 GPUs requested, 1 available"
        );
        assert_eq!(lock.acquire(1).unwrap().len(), 1);
    }

    #[test]
    fn lock_and_release_report_only_changes() {
        let lock = lock_of(&["a", "b"]);
        let ids = vec!["a".to_string(), "zzz".to_string()];
        assert_eq!(lock.lock_ids(&ids), ["a"]);
        assert_eq!(lock.lock_ids(&ids), Vec::<String>::new());
        assert_eq!(lock.release(&ids), ["a"]);
        assert_eq!(lock.release(&ids), Vec::<String>::new());
    }
}
