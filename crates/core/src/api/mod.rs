//! Wire models of the server's HTTP API, as dstack 0.22.5 sends and accepts them.
//!
//! One module per resource group. Every response type serializes to exactly the JSON the
//! reference server sends (every field present, `null` where null); every request type reads
//! leniently (unknown fields ignored, defaults for absent fields) and writes every field, as
//! the CLI does. `common` holds the datetime helper, ids and error bodies; `pending` holds
//! stand-ins for types other modules of the crate will provide.

pub mod backends;
pub mod common;
pub mod events;
pub mod exports;
pub mod files;
pub mod fleets;
pub mod gateways;
pub mod gpus;
pub mod instances;
pub mod jobs;
pub mod logs;
pub mod metrics;
pub mod pending;
pub mod projects;
pub mod repos;
pub mod runs;
pub mod secrets;
pub mod server;
pub mod sshproxy;
pub mod users;
pub mod volumes;
