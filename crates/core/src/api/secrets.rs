//! Secrets: `/api/project/{p}/secrets/*`.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::common::NameRequest;

/// A secret; `value` is `null` in lists.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Secret {
    /// The secret id.
    pub id: Uuid,
    /// The secret name.
    pub name: String,
    /// The value, when asked for by name.
    #[serde(default)]
    pub value: Option<String>,
}

/// `secrets/get` request.
pub type GetSecretRequest = NameRequest;

/// `secrets/create_or_update` request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateOrUpdateSecretRequest {
    /// The secret name.
    pub name: String,
    /// The value.
    pub value: String,
}

/// `secrets/delete` request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeleteSecretsRequest {
    /// The secret names.
    pub secrets_names: Vec<String>,
}
