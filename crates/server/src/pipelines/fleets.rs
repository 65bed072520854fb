//! The fleets pipeline (lifecycle.md §1.4): deletes a terminating fleet once its instances
//! are gone, and a fleet made for a run once its last instance has been terminated (after
//! idling past its idle duration) and no active run uses it.

use chrono::Utc;
use dstack_core::status::FleetStatus;

use super::context::Scheduler;
use super::lease::{self, Claimed, Table};
use super::worker::Reconciler;
use crate::db::fleets as fleet_rows;
use crate::db::runs as run_rows;
use crate::db::scheduling;
use crate::pipelines::context::project_uuid;
use crate::services::ServiceError;
use crate::services::events::{self, EventTarget, TargetType};

/// Terminating fleets and fleets made for runs, every two seconds.
pub const TABLE: Table = Table {
    name: "fleets",
    eligible: "deleted = 0 AND (status = 'terminating' OR autocreated = 1) \
               AND last_processed_at <= $1 - 2000000",
    order: "last_processed_at ASC",
};

/// Deletes fleets that are done.
pub struct Fleets(pub Scheduler);

impl Reconciler for Fleets {
    async fn process(&self, claimed: Claimed) {
        if let Err(error) = self.advance(claimed).await {
            tracing::warn!(id = %claimed.id, "fleet pass failed, will retry: {error}");
        }
    }
}

impl Fleets {
    async fn advance(&self, claimed: Claimed) -> Result<(), ServiceError> {
        let db = &self.0.db;
        let fleet = fleet_rows::find_any(db.pool(), claimed.id).await?;
        let mut tx = db.pool().begin().await?;
        if !lease::finish(&mut *tx, &TABLE, claimed).await? {
            return Ok(());
        }
        let Some(fleet) = fleet else {
            return Ok(());
        };
        let id = fleet.id.to_string();
        let empty = scheduling::live_instances_of_fleet(&mut *tx, &id).await? == 0;
        let in_use = run_rows::active_in_fleet(&mut *tx, fleet.id).await?;
        if empty && !in_use && (fleet.status == FleetStatus::Terminating || fleet.autocreated) {
            fleet_rows::mark_deleted(&mut *tx, fleet.id, Utc::now()).await?;
            let target = EventTarget::in_project(
                TargetType::Fleet,
                project_uuid(&fleet.project_id)?,
                fleet.id,
                &fleet.name,
            )
            .within_fleet(fleet.id);
            events::record(&mut tx, None, "Fleet deleted", &[target]).await?;
        }
        tx.commit().await?;
        Ok(())
    }
}
