//! Backends: `/api/backends/list_types` and `/api/project/{p}/backends/*`.
//!
//! Backend configurations are kept as JSON objects: this server implements no cloud
//! backends, and the client accepts any object tagged with `type`.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::backend::BackendType;

/// A backend configuration, with or without credentials, tagged by `type`.
pub type BackendConfig = Map<String, Value>;

/// A backend of a project.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BackendInfo {
    /// The backend name.
    pub name: String,
    /// Its configuration without credentials.
    pub config: BackendConfig,
}

/// `POST /api/backends/list_types` response.
pub type BackendTypes = Vec<BackendType>;

/// `POST /api/project/{p}/backends/delete` request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeleteBackendsRequest {
    /// The backends to remove.
    pub backends_names: Vec<BackendType>,
}

/// `POST /api/project/{p}/backends/create_yaml` and `update_yaml` request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackendYamlRequest {
    /// The backend configuration as YAML.
    pub config_yaml: String,
}

/// `POST /api/project/{p}/backends/{b}/get_yaml` response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackendYaml {
    /// The backend name.
    pub name: String,
    /// Its configuration as YAML.
    pub config_yaml: String,
}
