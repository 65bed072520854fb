//! UI templates read from a project's templates repo: `/api/project/{p}/templates/list`.
//!
//! Only the web UI reads them, and their parameters and configuration are whatever the repo
//! holds, so both stay JSON objects here.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// A run template offered by the UI.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UiTemplate {
    /// Always `template`.
    #[serde(rename = "type")]
    pub template_type: String,
    /// The template name.
    pub name: String,
    /// The title shown.
    pub title: String,
    /// A longer description.
    #[serde(default)]
    pub description: Option<String>,
    /// The fields the UI asks for, each tagged by `type`.
    pub parameters: Vec<Map<String, Value>>,
    /// The configuration the answers are merged into.
    pub configuration: Map<String, Value>,
}
