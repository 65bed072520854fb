//! The `dstack` command-line interface: argument parsing, the commands, and the typed client
//! of the server API they share.

pub mod api;
mod commands;
pub mod context;
mod output;
mod paths;
pub mod repo;

pub use commands::{Cli, run};
