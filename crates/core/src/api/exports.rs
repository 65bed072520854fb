//! Cross-project sharing of fleets and gateways: `/api/project/{p}/exports/*`, `imports/*`.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::common::{NameRequest, null_as_default};

/// A fleet or gateway named in an export.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportedResource {
    /// Its id.
    pub id: Uuid,
    /// Its name.
    pub name: String,
}

/// A project importing an export.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportImport {
    /// The importing project.
    pub project_name: String,
}

/// An export of a project.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Export {
    /// The export id.
    pub id: Uuid,
    /// The export name.
    pub name: String,
    /// Whether every project may import it.
    #[serde(default)]
    pub is_global: bool,
    /// The importing projects.
    pub imports: Vec<ExportImport>,
    /// The shared fleets.
    pub exported_fleets: Vec<ExportedResource>,
    /// The shared gateways.
    #[serde(default)]
    pub exported_gateways: Vec<ExportedResource>,
}

/// The export side of an import.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportExport {
    /// The export id.
    pub id: Uuid,
    /// The export name.
    pub name: String,
    /// The exporting project.
    pub project_name: String,
    /// The shared fleets.
    pub exported_fleets: Vec<ExportedResource>,
    /// The shared gateways.
    #[serde(default)]
    pub exported_gateways: Vec<ExportedResource>,
}

/// An import into a project.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Import {
    /// The import id.
    pub id: Uuid,
    /// What is imported.
    pub export: ImportExport,
}

/// `exports/list` response: an object for clients from 0.22.0, a bare list before.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ExportsList {
    /// For clients from 0.22.0.
    WithWarnings {
        /// The exports.
        exports: Vec<Export>,
        /// Problems to show the user.
        #[serde(default)]
        warnings: Vec<String>,
    },
    /// For older clients.
    Bare(Vec<Export>),
}

/// `imports/list` response: an object for clients from 0.22.0, a bare list before.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ImportsList {
    /// For clients from 0.22.0.
    WithWarnings {
        /// The imports.
        imports: Vec<Import>,
        /// Problems to show the user.
        #[serde(default)]
        warnings: Vec<String>,
    },
    /// For older clients.
    Bare(Vec<Import>),
}

/// `exports/create` request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateExportRequest {
    /// The export name.
    pub name: String,
    /// Whether every project may import it.
    #[serde(default, deserialize_with = "null_as_default")]
    pub is_global: bool,
    /// The projects that may import it.
    #[serde(default, deserialize_with = "null_as_default")]
    pub importer_projects: Vec<String>,
    /// The fleets to share.
    #[serde(default, deserialize_with = "null_as_default")]
    pub exported_fleets: Vec<String>,
    /// The gateways to share.
    #[serde(default, deserialize_with = "null_as_default")]
    pub exported_gateways: Vec<String>,
}

/// `exports/update` request.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpdateExportRequest {
    /// The export name.
    pub name: String,
    /// Make it global.
    #[serde(default, deserialize_with = "null_as_default")]
    pub set_global: bool,
    /// Make it not global.
    #[serde(default, deserialize_with = "null_as_default")]
    pub unset_global: bool,
    /// Projects to allow.
    #[serde(default, deserialize_with = "null_as_default")]
    pub add_importer_projects: Vec<String>,
    /// Projects to disallow.
    #[serde(default, deserialize_with = "null_as_default")]
    pub remove_importer_projects: Vec<String>,
    /// Fleets to share.
    #[serde(default, deserialize_with = "null_as_default")]
    pub add_exported_fleets: Vec<String>,
    /// Fleets to stop sharing.
    #[serde(default, deserialize_with = "null_as_default")]
    pub remove_exported_fleets: Vec<String>,
    /// Gateways to share.
    #[serde(default, deserialize_with = "null_as_default")]
    pub add_exported_gateways: Vec<String>,
    /// Gateways to stop sharing.
    #[serde(default, deserialize_with = "null_as_default")]
    pub remove_exported_gateways: Vec<String>,
}

/// `exports/delete` request.
pub type DeleteExportRequest = NameRequest;

/// `imports/delete` request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeleteImportRequest {
    /// The export.
    pub export_name: String,
    /// The project that owns the export.
    pub export_project_name: String,
}
