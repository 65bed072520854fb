//! Reconcilers: one pipeline per resource kind moves rows from status to status.
//!
//! - [`lease`]: claiming rows with a lease (`lock_token`, `lock_expires_at`), extending it,
//!   and the guarded write that only lands while the lease is still held.
//! - [`hints`]: in-process wake-ups, so a change is picked up at once, not at the next sweep.
//! - [`worker`]: the loop every pipeline runs: claim a batch, process each row outside any
//!   transaction, sleep until a hint or the sweep.

pub mod hints;
pub mod lease;
pub mod worker;
