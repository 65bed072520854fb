//! `FleetStatus`. Only `active → terminating → terminated` is used; the others are reserved.

use super::wire_enum::wire_enum;

wire_enum! {
    /// The status of a fleet.
    pub enum FleetStatus {
        /// Reserved: fleets are created active.
        Submitted = "submitted",
        /// The fleet accepts runs and keeps its instances.
        Active = "active",
        /// Deletion requested; its instances are being terminated.
        Terminating = "terminating",
        /// Every instance is gone and the fleet is deleted.
        Terminated = "terminated",
        /// Reserved: nothing sets it.
        Failed = "failed",
    }
}
