//! [`TaskStore`]: every task of the shim, changed only through the status rules.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use dstack_agents::shim::{TaskListItem, TaskStatus};

use super::{Task, Termination};

/// A change the store refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TaskStoreError {
    #[error("task {0} already exists")]
    AlreadyExists(String),
    #[error("task {0} not found")]
    NotFound(String),
    #[error("task {id}: {from} -> {to} transition not allowed")]
    Transition {
        id: String,
        from: TaskStatus,
        to: TaskStatus,
    },
}

/// The tasks of the shim, by id. Every method takes the lock for a moment and never across
/// an await, so the store can be shared by the API and the tasks' pipelines.
#[derive(Debug, Default)]
pub struct TaskStore {
    tasks: Mutex<HashMap<String, Task>>,
}

impl TaskStore {
    /// Adds a new task; an id that is already known is refused and the store is unchanged.
    pub fn insert(&self, task: Task) -> Result<Task, TaskStoreError> {
        let mut tasks = self.lock();
        let id = task.config.id.clone();
        if tasks.contains_key(&id) {
            return Err(TaskStoreError::AlreadyExists(id));
        }
        tasks.insert(id, task.clone());
        Ok(task)
    }

    /// A copy of the task.
    pub fn get(&self, id: &str) -> Result<Task, TaskStoreError> {
        self.lock()
            .get(id)
            .cloned()
            .ok_or_else(|| TaskStoreError::NotFound(id.to_owned()))
    }

    /// Every task's id and status, terminated ones included, in no particular order.
    pub fn list(&self) -> Vec<TaskListItem> {
        self.lock()
            .values()
            .map(|task| TaskListItem {
                id: task.config.id.clone(),
                status: task.status,
            })
            .collect()
    }

    /// Moves the task to `next`, if its status allows, and applies `update` in the same step.
    /// Use [`Self::finish`] to terminate.
    pub fn advance(
        &self,
        id: &str,
        next: TaskStatus,
        update: impl FnOnce(&mut Task),
    ) -> Result<(), TaskStoreError> {
        self.with_task(id, |task| {
            if next == TaskStatus::Terminated || !task.status.can_move_to(next) {
                return Err(TaskStoreError::Transition {
                    id: id.to_owned(),
                    from: task.status,
                    to: next,
                });
            }
            task.status = next;
            update(task);
            Ok(())
        })
    }

    /// Changes fields of the task other than its status.
    pub fn modify(&self, id: &str, update: impl FnOnce(&mut Task)) -> Result<(), TaskStoreError> {
        self.with_task(id, |task| {
            update(task);
            Ok(())
        })
    }

    /// Records why the task is being terminated before its container is stopped; the first
    /// request wins.
    pub fn request_termination(
        &self,
        id: &str,
        termination: Termination,
    ) -> Result<(), TaskStoreError> {
        self.modify(id, |task| {
            task.requested_termination.get_or_insert(termination);
        })
    }

    /// Terminates the task. The first reason wins: a task already terminated with a reason
    /// keeps it, and a requested termination takes precedence over `termination`.
    pub fn finish(&self, id: &str, termination: Termination) -> Result<Task, TaskStoreError> {
        self.with_task(id, |task| {
            let has_reason = task
                .termination
                .as_ref()
                .is_some_and(|kept| kept.reason.is_some());
            if !(task.status == TaskStatus::Terminated && has_reason) {
                let chosen = task.requested_termination.clone().unwrap_or(termination);
                task.termination = Some(chosen);
            }
            task.status = TaskStatus::Terminated;
            Ok(task.clone())
        })
    }

    /// Forgets a task.
    pub fn remove(&self, id: &str) -> Result<Task, TaskStoreError> {
        self.lock()
            .remove(id)
            .ok_or_else(|| TaskStoreError::NotFound(id.to_owned()))
    }

    fn with_task<T>(
        &self,
        id: &str,
        change: impl FnOnce(&mut Task) -> Result<T, TaskStoreError>,
    ) -> Result<T, TaskStoreError> {
        let mut tasks = self.lock();
        let task = tasks
            .get_mut(id)
            .ok_or_else(|| TaskStoreError::NotFound(id.to_owned()))?;
        change(task)
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, Task>> {
        // A panic while holding the lock leaves plain data behind, still consistent: every
        // change above is a handful of field assignments.
        self.tasks
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use dstack_agents::shim::TaskSubmitRequest;
    use dstack_core::status::JobTerminationReason as Reason;

    use super::*;

    fn store_with(id: &str) -> TaskStore {
        let store = TaskStore::default();
        store
            .insert(Task::new(TaskSubmitRequest {
                id: id.into(),
                name: "vllm-0-0".into(),
                image_name: "busybox".into(),
                ..Default::default()
            }))
            .unwrap();
        store
    }

    fn walk_to(store: &TaskStore, id: &str, last: TaskStatus) {
        for status in &TaskStatus::ALL[1..] {
            store.advance(id, *status, |_| ()).unwrap();
            if *status == last {
                return;
            }
        }
    }

    #[test]
    fn new_task_is_pending_with_its_container_name() {
        let store = store_with("66a886db-86db-4cf9-8c06-8984ad15dde2");
        let task = store.get("66a886db-86db-4cf9-8c06-8984ad15dde2").unwrap();
        assert_eq!(task.status, TaskStatus::Pending);
        assert_eq!(task.container_name, "vllm-0-0-cff1b8da");
    }

    #[test]
    fn duplicate_id_is_refused_and_the_store_is_unchanged() {
        let store = store_with("a");
        store.advance("a", TaskStatus::Preparing, |_| ()).unwrap();
        let duplicate = Task::new(TaskSubmitRequest {
            id: "a".into(),
            ..Default::default()
        });
        assert_eq!(
            store.insert(duplicate).unwrap_err(),
            TaskStoreError::AlreadyExists("a".into())
        );
        assert_eq!(store.get("a").unwrap().status, TaskStatus::Preparing);
    }

    #[test]
    fn unknown_id_is_not_found() {
        let store = TaskStore::default();
        assert_eq!(
            store.advance("x", TaskStatus::Preparing, |_| ()),
            Err(TaskStoreError::NotFound("x".into()))
        );
        assert!(store.get("x").is_err());
        assert!(store.remove("x").is_err());
    }

    #[test]
    fn disallowed_transition_is_refused_and_leaves_the_task_alone() {
        let store = store_with("a");
        let error = store
            .advance("a", TaskStatus::Running, |task| {
                task.container_id = "c".into()
            })
            .unwrap_err();
        assert_eq!(
            error.to_string(),
            "task a: pending -> running transition not allowed"
        );
        let task = store.get("a").unwrap();
        assert_eq!(task.status, TaskStatus::Pending);
        assert_eq!(task.container_id, "");
    }

    #[test]
    fn a_task_walks_the_whole_pipeline_and_running_may_repeat() {
        let store = store_with("a");
        walk_to(&store, "a", TaskStatus::Running);
        store
            .advance("a", TaskStatus::Running, |task| task.ports = Some(vec![]))
            .unwrap();
        assert_eq!(store.get("a").unwrap().ports, Some(vec![]));
    }

    #[test]
    fn the_first_reason_is_kept() {
        let store = store_with("a");
        walk_to(&store, "a", TaskStatus::Running);
        store
            .finish("a", Termination::new(Reason::TerminatedByUser, "stopped"))
            .unwrap();
        let task = store
            .finish(
                "a",
                Termination::new(Reason::ContainerExitedWithError, "exit 137"),
            )
            .unwrap();
        assert_eq!(
            task.termination,
            Some(Termination::new(Reason::TerminatedByUser, "stopped"))
        );
        assert_eq!(task.status, TaskStatus::Terminated);
    }

    #[test]
    fn a_terminated_task_without_a_reason_takes_the_next_one() {
        let store = store_with("a");
        store
            .finish(
                "a",
                Termination {
                    reason: None,
                    message: String::new(),
                },
            )
            .unwrap();
        let task = store
            .finish(
                "a",
                Termination::new(Reason::TerminatedByServer, "dangling"),
            )
            .unwrap();
        assert_eq!(
            task.termination.unwrap().reason,
            Some(Reason::TerminatedByServer)
        );
    }

    #[test]
    fn a_requested_termination_wins_over_the_exit_it_causes() {
        let store = store_with("a");
        walk_to(&store, "a", TaskStatus::Running);
        store
            .request_termination("a", Termination::new(Reason::TerminatedByUser, "bye"))
            .unwrap();
        let task = store
            .finish(
                "a",
                Termination::new(Reason::ContainerExitedWithError, "exit 137"),
            )
            .unwrap();
        assert_eq!(
            task.termination.unwrap().reason,
            Some(Reason::TerminatedByUser)
        );
    }

    #[test]
    fn a_terminated_task_cannot_move_on() {
        let store = store_with("a");
        store
            .finish("a", Termination::new(Reason::ExecutorError, "boom"))
            .unwrap();
        assert!(store.advance("a", TaskStatus::Preparing, |_| ()).is_err());
        assert!(store.advance("a", TaskStatus::Terminated, |_| ()).is_err());
    }

    #[test]
    fn list_and_remove() {
        let store = store_with("a");
        assert_eq!(
            store.list(),
            [TaskListItem {
                id: "a".into(),
                status: TaskStatus::Pending
            }]
        );
        store.remove("a").unwrap();
        assert!(store.list().is_empty());
    }
}
