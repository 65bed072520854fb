//! References to named entities: `name`, `project/name` or `{project, name}` (spec §2.11).
//!
//! - [`EntityReference`]: always written as an object on the wire.
//! - [`NameOrReference`]: kept in the form the user chose, as dstack's `EntityReference | str`
//!   fields (profile `fleets`, service `gateway`) send it back.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::forms::{FormError, Forms, impl_deserialize_forms, impl_schema_forms};

const INVALID_REFERENCE: &str =
    "invalid entity reference, only `<name>` or `<project>/<name>` formats are allowed";

/// A named entity, possibly in another project.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EntityReference {
    /// The owning project; the current project when unset.
    pub project: Option<String>,
    /// The entity's name.
    pub name: String,
}

/// The object form of [`EntityReference`].
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EntityReferenceObject {
    #[serde(default)]
    project: Option<String>,
    name: String,
}

impl EntityReference {
    /// Parses `name` or `project/name`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let non_empty = |part: &str| !part.is_empty() && !part.contains('/');
        match text.split_once('/') {
            None if non_empty(text) => Ok(Self {
                project: None,
                name: text.to_owned(),
            }),
            Some((project, name)) if non_empty(project) && non_empty(name) => Ok(Self {
                project: Some(project.to_owned()),
                name: name.to_owned(),
            }),
            _ => Err(format!("{INVALID_REFERENCE}: \"{text}\"")),
        }
    }
}

impl Forms for EntityReference {
    type Object = EntityReferenceObject;
    const EXPECTING: &'static str = "`name`, `project/name` or {project, name}";

    fn from_object(object: EntityReferenceObject) -> Result<Self, String> {
        Ok(Self {
            project: object.project,
            name: object.name,
        })
    }

    fn from_str(value: &str) -> Result<Self, FormError> {
        Ok(Self::parse(value)?)
    }
}
impl_deserialize_forms!(EntityReference);
impl_schema_forms!(EntityReference, "EntityReference", [{"type": "string"}]);

/// A reference kept in its original form: a `name`/`project/name` string or an object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum NameOrReference {
    /// `name` or `project/name`, checked but kept as written.
    Name(String),
    /// `{project, name}`.
    Reference(EntityReference),
}

impl NameOrReference {
    /// The entity this names.
    pub fn reference(&self) -> Result<EntityReference, String> {
        match self {
            Self::Name(text) => EntityReference::parse(text),
            Self::Reference(reference) => Ok(reference.clone()),
        }
    }
}

impl Forms for NameOrReference {
    type Object = EntityReferenceObject;
    const EXPECTING: &'static str = EntityReference::EXPECTING;

    fn from_object(object: EntityReferenceObject) -> Result<Self, String> {
        EntityReference::from_object(object).map(Self::Reference)
    }

    fn from_str(value: &str) -> Result<Self, FormError> {
        EntityReference::parse(value)?;
        Ok(Self::Name(value.to_owned()))
    }
}
impl_deserialize_forms!(NameOrReference);
impl_schema_forms!(NameOrReference, "NameOrReference", [{"type": "string"}]);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_short_forms() {
        assert_eq!(
            EntityReference::parse("main/gw").ok(),
            Some(EntityReference {
                project: Some("main".into()),
                name: "gw".into()
            })
        );
        assert_eq!(EntityReference::parse("gw").map(|r| r.project), Ok(None));
        for bad in ["", "a/b/c", "/b", "a/"] {
            assert!(EntityReference::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn keeps_the_written_form_on_the_wire() {
        let short: NameOrReference = serde_json::from_str("\"main/fleet\"").unwrap();
        assert_eq!(serde_json::to_string(&short).unwrap(), "\"main/fleet\"");
        let object: NameOrReference = serde_json::from_str(r#"{"name":"fleet"}"#).unwrap();
        assert_eq!(
            serde_json::to_string(&object).unwrap(),
            r#"{"project":null,"name":"fleet"}"#
        );
        assert!(serde_json::from_str::<NameOrReference>(r#"{"nam":"x"}"#).is_err());
    }
}
