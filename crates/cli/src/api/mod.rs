//! The typed client of the dstack server API.
//!
//! [`ApiClient`] is the transport (headers, retries, error bodies); [`ProjectClient`] has one
//! method per endpoint the CLI calls, sending the bodies dstack's CLI sends.

mod client;
pub(crate) mod excludes;
mod project;

pub use client::{API_VERSION, ApiClient, ApiError, Body};
pub use project::ProjectClient;
