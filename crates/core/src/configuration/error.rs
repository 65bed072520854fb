//! Configuration errors.
//!
//! - [`ConfigError`]: what a user sees: file, line, column, field path and message.
//! - [`ConfigErrorKind`]: why the configuration was rejected.
//! - [`FieldPath`]: the dotted path of a field (`resources.gpu`, `volumes[0].path`).
//! - [`RuleViolation`]: a broken rule across fields, before it is given a location.

use std::fmt;

/// One step of a [`FieldPath`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathSegment {
    /// A mapping key.
    Key(String),
    /// A position in a sequence.
    Index(usize),
}

/// The path of a field inside a configuration, printed as `resources.gpu` or `groups[1].name`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldPath(pub Vec<PathSegment>);

impl FieldPath {
    /// The root of the document.
    pub fn root() -> Self {
        Self::default()
    }

    /// A path made of mapping keys only.
    pub fn keys(keys: &[&str]) -> Self {
        Self(
            keys.iter()
                .map(|key| PathSegment::Key((*key).to_owned()))
                .collect(),
        )
    }

    /// This path followed by a mapping key.
    pub fn key(mut self, key: &str) -> Self {
        self.0.push(PathSegment::Key(key.to_owned()));
        self
    }

    /// This path followed by a sequence index.
    pub fn index(mut self, index: usize) -> Self {
        self.0.push(PathSegment::Index(index));
        self
    }

    /// Whether the path names the document itself.
    pub fn is_root(&self) -> bool {
        self.0.is_empty()
    }

    pub(crate) fn from_serde_path(path: &serde_path_to_error::Path) -> Self {
        use serde_path_to_error::Segment;
        Self(
            path.iter()
                .filter_map(|segment| match segment {
                    Segment::Seq { index } => Some(PathSegment::Index(*index)),
                    Segment::Map { key } => Some(PathSegment::Key(key.clone())),
                    Segment::Enum { variant } => Some(PathSegment::Key(variant.clone())),
                    Segment::Unknown => None,
                })
                .collect(),
        )
    }
}

impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (position, segment) in self.0.iter().enumerate() {
            match segment {
                PathSegment::Key(key) if position == 0 => f.write_str(key)?,
                PathSegment::Key(key) => write!(f, ".{key}")?,
                PathSegment::Index(index) => write!(f, "[{index}]")?,
            }
        }
        Ok(())
    }
}

/// A rule across fields that a configuration breaks, found after it was deserialized.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleViolation {
    /// The field the rule is about.
    pub path: FieldPath,
    /// What is wrong and what is expected.
    pub message: String,
}

impl RuleViolation {
    /// A violation about the field at `path`.
    pub fn new(path: FieldPath, message: impl Into<String>) -> Self {
        Self {
            path,
            message: message.into(),
        }
    }

    /// The same violation seen from a parent: `prefix` is put in front of the path.
    pub fn within(mut self, prefix: &FieldPath) -> Self {
        let mut segments = prefix.0.clone();
        segments.append(&mut self.path.0);
        self.path = FieldPath(segments);
        self
    }
}

/// Why a configuration was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigErrorKind {
    /// The text is not YAML, or not a single YAML document.
    #[error("invalid YAML: {0}")]
    InvalidYaml(String),
    /// The document has no `type` field.
    #[error(
        "missing field `type`, expected one of {}",
        super::any::list_names(super::any::TYPE_NAMES)
    )]
    MissingType,
    /// The `type` field names no known configuration type.
    #[error(
        "unknown configuration type `{given}`, expected one of {}",
        super::any::list_names(super::any::TYPE_NAMES)
    )]
    UnknownType {
        /// The `type` that was given.
        given: String,
    },
    /// A field has a value of the wrong shape, or a field is unknown or missing.
    #[error("{0}")]
    InvalidValue(String),
    /// A rule across fields is broken.
    #[error("{0}")]
    RuleViolated(String),
}

/// A rejected configuration file, with where and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.render())]
pub struct ConfigError {
    /// The file name given to the parser.
    pub file: String,
    /// Line and column (1-based) of the offending node, when known.
    pub location: Option<(u64, u64)>,
    /// The offending field; the root when the whole document is at fault.
    pub path: FieldPath,
    /// What went wrong.
    pub kind: ConfigErrorKind,
}

impl ConfigError {
    fn render(&self) -> String {
        let mut out = self.file.clone();
        if let Some((line, column)) = self.location {
            out.push_str(&format!(":{line}:{column}"));
        }
        out.push_str(": ");
        if !self.path.is_root() {
            out.push_str(&format!("{}: ", self.path));
        }
        out.push_str(&self.kind.to_string());
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_print_dotted_with_indexes() {
        let path = FieldPath::keys(&["groups"]).index(1).key("name");
        assert_eq!(path.to_string(), "groups[1].name");
        assert_eq!(FieldPath::root().to_string(), "");
    }

    #[test]
    fn error_renders_location_path_and_message() {
        let error = ConfigError {
            file: "task.dstack.yml".into(),
            location: Some((4, 11)),
            path: FieldPath::keys(&["resources", "gpu"]),
            kind: ConfigErrorKind::InvalidValue("count given twice".into()),
        };
        assert_eq!(
            error.to_string(),
            "task.dstack.yml:4:11: resources.gpu: count given twice"
        );
    }

    #[test]
    fn violation_within_prefixes_the_path() {
        let violation = RuleViolation::new(FieldPath::keys(&["name"]), "bad")
            .within(&FieldPath::keys(&["groups"]).index(0));
        assert_eq!(violation.path.to_string(), "groups[0].name");
    }
}
