//! `VolumeStatus`. Deletion is a flag on the row, not a status.

use super::wire_enum::wire_enum;

wire_enum! {
    /// The status of a volume.
    pub enum VolumeStatus {
        /// Waiting to be created or registered in its backend.
        Submitted = "submitted",
        /// Reserved: nothing sets it.
        Provisioning = "provisioning",
        /// Created and usable.
        Active = "active",
        /// Creation failed; the volume will not be retried.
        Failed = "failed",
    }
}
