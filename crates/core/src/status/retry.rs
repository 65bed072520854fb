//! `RetryEvent`: the failure classes a `retry.on_events` list can name.

use super::wire_enum::wire_enum;

wire_enum! {
    /// A class of job failure that a run's retry policy may cover.
    pub enum RetryEvent {
        /// No offer or idle instance could take the job.
        NoCapacity = "no-capacity",
        /// A spot instance was lost while the job ran.
        Interruption = "interruption",
        /// Any other failure of the job.
        Error = "error",
    }
}
