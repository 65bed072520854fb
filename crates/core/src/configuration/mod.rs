//! dstack configuration files (`.dstack.yml`) and their JSON form in API bodies.

pub mod dev_environment;
pub mod error;
pub mod files;
mod forms;
mod literal;
pub mod names;
pub mod profile;
pub mod references;
pub mod repos;
pub mod retry;
pub mod run;
pub mod schedule;
pub mod selectors;
pub mod tags;
pub mod task;
pub mod values;

/// The configuration types, as listed in error messages.
pub const TYPE_NAMES_LIST: &str =
    "`dev-environment`, `task`, `service`, `fleet`, `volume`, `gateway`";
