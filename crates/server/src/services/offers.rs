//! SEAM: offers for a job's requirements.
//!
//! This placeholder answers with no offers. The fleets work provides the real module (offers
//! from the idle instances of the project's fleets and from its backends) with this exact
//! signature; at merge that version replaces this file.

use dstack_core::api::common::Uuid4;
use dstack_core::offers::{InstanceOfferWithAvailability, Requirements};

use super::ServiceError;
use crate::db::Database;

/// The best `max_offers` offers for `requirements` in the project, available first, and how
/// many there are in all.
pub async fn offers_for_requirements(
    _db: &Database,
    _project_id: Uuid4,
    _requirements: &Requirements,
    _max_offers: usize,
) -> Result<(Vec<InstanceOfferWithAvailability>, usize), ServiceError> {
    Ok((Vec::new(), 0))
}
