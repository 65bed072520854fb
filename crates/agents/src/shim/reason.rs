//! Serde helper for `termination_reason` fields: the agents send `""` for "no reason".

use dstack_core::status::JobTerminationReason;
use serde::{Deserialize, Deserializer, Serializer};

/// Writes `None` as `""` and a reason as its wire string.
pub fn serialize<S: Serializer>(
    value: &Option<JobTerminationReason>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(value.map_or("", JobTerminationReason::as_str))
}

/// Reads `""` or `null` as `None`, any other text as a known reason. The server's enum names
/// every reason an agent or a server may send, so an unknown text is a client error.
pub fn deserialize<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<JobTerminationReason>, D::Error> {
    let text = Option::<String>::deserialize(deserializer)?.unwrap_or_default();
    if text.is_empty() {
        return Ok(None);
    }
    text.parse().map(Some).map_err(serde::de::Error::custom)
}
