//! dstack configuration files (`.dstack.yml`) and their JSON form in API bodies.
//!
//! - [`parse_configuration`]: YAML text to a checked [`AnyConfiguration`], or a [`ConfigError`]
//!   with file, line, column, field path and message.
//! - [`AnyConfiguration`], [`AnyRunConfiguration`]: unions over `type`; they serialize to
//!   the JSON dstack 0.22.5 sends and deserialize from it.
//! - [`configuration_json_schema`]: a JSON schema of configuration files, for editors.
//! - [`parse_profiles`], [`ProfilesConfig`]: `profiles.yml`; `apply_profile` on a run
//!   configuration merges a profile underneath it.
//! - [`interpolation`]: `${{ namespace.name }}` references.
//! - One module per type (`task`, `dev_environment`, `service`, `fleet`, `volume`, `gateway`),
//!   the shared field sets (`run`, `profile`) and the small value types they use.

mod any;
pub mod dev_environment;
pub mod error;
pub mod files;
pub mod fleet;
mod forms;
pub mod gateway;
pub mod interpolation;
mod literal;
mod locate;
pub mod names;
mod parse;
pub mod probes;
pub mod profile;
pub mod rate_limits;
pub mod references;
pub mod replica_group;
pub mod repos;
pub mod retry;
pub mod run;
pub mod scaling;
pub mod schedule;
mod schema;
pub mod selectors;
pub mod service;
pub mod service_model;
pub mod ssh;
pub mod tags;
pub mod task;
pub mod volume;

pub use any::{AnyConfiguration, AnyRunConfiguration, RUN_TYPE_NAMES, TYPE_NAMES};
pub use error::{ConfigError, ConfigErrorKind, FieldPath, PathSegment, RuleViolation};
pub use parse::{parse_configuration, parse_profiles};
pub use profile::{Profile, ProfilesConfig};
pub use schema::configuration_json_schema;
