//! dstack-core: the domain of dstack with no I/O.
//!
//! Configuration files and their validation, the resource grammar, offer matching, statuses
//! and termination reasons, and the wire models of the server's HTTP API.

pub mod api;
pub mod backend;
pub mod configuration;
pub mod duration;
pub mod env;
pub mod fleet_specs;
pub mod memory;
pub mod mounts;
pub mod offers;
pub mod ports;
pub mod range;
pub mod resources;
pub mod status;
