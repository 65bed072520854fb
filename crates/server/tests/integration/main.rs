//! Integration tests: the real server over real SQLite and PostgreSQL, driven over HTTP the
//! way the dstack 0.22.5 CLI drives it. One binary, so the crate links once.

mod auth;
mod bodies;
mod first_start;
mod fleets;
mod gateways;
mod offers;
mod projects;
mod replay;
mod secrets;
mod support;
mod users;
mod volumes;
