//! dstack-core: the domain of dstack with no I/O.
//!
//! Configuration files and their validation, the resource grammar, offer matching, statuses
//! and termination reasons, and the wire models of the server's HTTP API.
pub mod configuration;
