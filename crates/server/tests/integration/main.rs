//! Integration tests: the real server over real SQLite and PostgreSQL, driven over HTTP the
//! way the dstack 0.22.5 CLI drives it. One binary, so the crate links once.

mod auth;
mod backends;
mod bodies;
mod events;
mod first_start;
mod fleets;
mod gateways;
mod logs;
mod offers;
mod pipelines;
mod projects;
mod public_keys;
mod replay;
mod repos;
mod resource_events;
mod runs;
mod secrets;
mod small_endpoints;
mod support;
mod users;
mod volumes;
