//! Where new instances come from. Today one backend: [`local`], slices of the server's own
//! host, each served by a shim of its own.

pub mod local;
