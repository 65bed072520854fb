//! Parsers for what the runner reads to answer `GET /api/metrics`.
//!
//! - [`cgroup`]: cgroup v1 and v2 file contents into a [`cgroup::CgroupSample`].
//! - [`cgroup_location`]: where the runner's cgroup is, from `/proc/self/mounts` and
//!   `/proc/self/cgroup`.
//! - [`gpu`]: the nvidia-smi metrics query.
//! - [`collect`]: one sample of the runner's cgroup and GPUs, read from the system.

pub mod cgroup;
pub mod cgroup_location;
pub mod collect;
pub mod gpu;
