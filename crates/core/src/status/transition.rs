//! Allowed status changes and the error an operation returns when a row is in the wrong state.

use std::fmt::Display;

/// A status change that the state machine does not allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("cannot move from status {current} to {wanted}")]
pub struct IncorrectStatus<S: Display> {
    /// The status the row is in.
    pub current: S,
    /// The status the caller wanted to move it to.
    pub wanted: S,
}

/// A status whose allowed changes are a fixed table.
pub trait Transitions: Copy + Display {
    /// Whether a row in `self` may move to `next`. Staying in the same status is not a
    /// transition and answers `false`.
    fn can_transition_to(self, next: Self) -> bool;

    /// `Ok(next)` when the move is allowed, so callers can write `status.check_transition(next)?`.
    fn check_transition(self, next: Self) -> Result<Self, IncorrectStatus<Self>> {
        if self.can_transition_to(next) {
            Ok(next)
        } else {
            Err(IncorrectStatus {
                current: self,
                wanted: next,
            })
        }
    }
}
