//! `host_info.json` as the server reads it: the shim's [`HostInfo`] and the runtime the shim
//! runs jobs with.

use dstack_agents::shim::HostInfo;
use serde::{Deserialize, Serialize};

/// How the shim on a host runs jobs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HostRuntime {
    /// In Docker containers, as dstack does.
    #[default]
    Docker,
    /// As processes on the host, where Docker is unavailable or the fleet's `env` sets
    /// `DSTACK_SHIM_RUNTIME=process`.
    Process,
}

/// What the shim wrote about its host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostReport {
    /// Resources and addresses.
    pub info: HostInfo,
    /// `runtime`; shims that do not write it run Docker.
    pub runtime: HostRuntime,
}

/// Just the runtime field; read apart from [`HostInfo`], which may or may not list it.
#[derive(Deserialize)]
struct RuntimeField {
    #[serde(default)]
    runtime: HostRuntime,
}

impl HostReport {
    /// Parses the text of `host_info.json`.
    pub fn parse(text: &str) -> Result<Self, serde_json::Error> {
        let value: serde_json::Value = serde_json::from_str(text)?;
        let RuntimeField { runtime } = serde_json::from_value(value.clone())?;
        let info = serde_json::from_value(value)?;
        Ok(Self { info, runtime })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOST_INFO: &str = r#"{"gpu_vendor":"none","gpu_name":"","gpu_memory":0,
        "gpu_count":0,"addresses":["10.0.0.5/24"],"disk_size":1,"cpus":2,"memory":3"#;

    #[test]
    fn runtime_is_docker_unless_the_shim_says_otherwise() {
        let report = HostReport::parse(&format!("{HOST_INFO}}}")).unwrap();
        assert_eq!(report.runtime, HostRuntime::Docker);
        assert_eq!(report.info.cpus, 2);
        let report = HostReport::parse(&format!(r#"{HOST_INFO},"runtime":"process"}}"#)).unwrap();
        assert_eq!(report.runtime, HostRuntime::Process);
        assert!(HostReport::parse(&format!(r#"{HOST_INFO},"runtime":"vm"}}"#)).is_err());
        assert!(HostReport::parse(HOST_INFO).is_err(), "truncated");
    }
}
