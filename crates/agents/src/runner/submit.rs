//! `POST /api/submit`: what the server tells the runner about the job (agents.md §3.4).
//!
//! The server sends only part of its job and run models; these types hold that part. Fields
//! the runner does not use are read leniently and unknown fields are ignored, so any server
//! version can submit. The leaf types (user, repo data, credentials, archives) are the
//! server API's own, from `dstack-core`.

use std::collections::BTreeMap;

use dstack_core::api::files::FileArchiveMapping;
use dstack_core::api::jobs::{JobSshKey, UnixUser};
use dstack_core::api::repos::{RemoteRepoCreds, RunRepoData};
use dstack_core::configuration::repos::RepoExistsAction;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The whole submit body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SubmitBody {
    pub run: SubmitRun,
    pub job_spec: SubmitJobSpec,
    pub job_submission: SubmitSubmission,
    #[serde(default)]
    pub cluster_info: ClusterInfo,
    /// Always `{}` from dstack: the server interpolates secrets itself.
    #[serde(default)]
    pub secrets: BTreeMap<String, String>,
    #[serde(default)]
    pub repo_credentials: Option<RemoteRepoCreds>,
    /// Bytes of job output allowed per hour; `null` or 0 is unlimited.
    #[serde(default)]
    pub log_quota_hour: Option<u64>,
    /// A deprecated copy of `run.run_spec`, sent for old runners.
    #[serde(default)]
    pub run_spec: Option<SubmitRunSpec>,
}

/// The run the job belongs to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SubmitRun {
    pub id: Uuid,
    pub run_spec: SubmitRunSpec,
}

/// The part of the run spec the runner reads.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SubmitRunSpec {
    #[serde(default)]
    pub run_name: Option<String>,
    #[serde(default)]
    pub repo_id: Option<String>,
    /// Only for jobs submitted before 0.19.17; `job_spec.repo_data` wins.
    #[serde(default)]
    pub repo_data: Option<RunRepoData>,
    /// The run configuration, kept as sent: the runner reads only its `image`, and must not
    /// refuse a job over a configuration field it does not know.
    #[serde(default)]
    pub configuration: serde_json::Value,
    #[serde(default)]
    pub configuration_path: Option<String>,
}

impl SubmitRunSpec {
    /// The `image` of the run configuration, when it names one.
    pub fn configured_image(&self) -> Option<&str> {
        self.configuration.get("image")?.as_str()
    }
}

/// The part of the job spec the runner reads.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SubmitJobSpec {
    #[serde(default)]
    pub replica_num: u32,
    #[serde(default)]
    pub job_num: u32,
    #[serde(default = "one")]
    pub jobs_per_replica: u32,
    /// `null`: the runner's own user (root).
    #[serde(default)]
    pub user: Option<UnixUser>,
    /// The full argv; `commands[0]` is executed with the rest as its arguments.
    pub commands: Vec<String>,
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    #[serde(default)]
    pub single_branch: Option<bool>,
    /// Seconds; `null` or 0 is no limit.
    #[serde(default)]
    pub max_duration: Option<u64>,
    /// Seconds between the stop signal and SIGKILL. dstack does not send it to runners;
    /// without it the runner waits 10 s, as dstack's runner does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_duration: Option<u64>,
    /// The image the job runs in. dstack does not send it to runners; when present it names
    /// the image in errors such as an unknown user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_name: Option<String>,
    #[serde(default)]
    pub ssh_key: Option<JobSshKey>,
    /// `null`: the image's working directory.
    #[serde(default)]
    pub working_dir: Option<String>,
    #[serde(default)]
    pub repo_dir: Option<String>,
    #[serde(default)]
    pub repo_data: Option<RunRepoData>,
    /// `null` means `skip`, as before 0.19.
    #[serde(default)]
    pub repo_exists_action: Option<RepoExistsAction>,
    #[serde(default)]
    pub file_archives: Vec<FileArchiveMapping>,
}

fn one() -> u32 {
    1
}

/// The job's submission.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubmitSubmission {
    pub id: Uuid,
}

/// Where the nodes of a multi-node job are.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterInfo {
    #[serde(default)]
    pub job_ips: Vec<String>,
    #[serde(default)]
    pub master_job_ip: String,
    #[serde(default)]
    pub gpus_per_job: u32,
    /// Empty when every node has `gpus_per_job`.
    #[serde(default)]
    pub gpus_per_node: Vec<u32>,
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// The example body of agents.md §3.4, with the parts elided there filled in.
    fn spec_example() -> serde_json::Value {
        json!({
          "run": {"id": "0b2f5a39-42a9-4f64-8e36-5d2b5b0d7a11", "run_spec": {
                  "run_name": "my-run", "repo_id": "r1",
                  "repo_data": {"repo_type": "remote", "repo_name": "github.com/o/r",
                                "repo_branch": "main", "repo_hash": "2b83",
                                "repo_config_name": "Dev", "repo_config_email": "dev@x"},
                  "configuration": {"type": "task", "image": "debian:12", "commands": ["x"]},
                  "configuration_path": ".dstack.yml"}},
          "job_spec": {
            "replica_num": 0, "job_num": 1, "jobs_per_replica": 2,
            "user": {"uid": null, "gid": null, "username": "ubuntu", "groupname": null},
            "commands": ["/bin/sh", "-i", "-c", "python train.py"],
            "env": {"FOO": "bar"}, "single_branch": false, "max_duration": 72000,
            "ssh_key": {"private": "-----BEGIN", "public": "ssh-ed25519 AAAA"},
            "working_dir": null, "repo_dir": "/workflow",
            "repo_data": {"repo_type": "virtual"},
            "repo_exists_action": "error",
            "file_archives": [{"id": "9c4f1e0e-5a34-4bf4-9f6c-3d1b8f9a0e21", "path": "~/.aws"}],
            "gateway": null
          },
          "job_submission": {"id": "5d0e2c41-1a8c-4c7b-9d3e-3f5a7b9c1d2e"},
          "cluster_info": {"job_ips": ["10.0.0.1", "10.0.0.2"], "master_job_ip": "10.0.0.1",
                           "gpus_per_job": 8, "gpus_per_node": [8, 8]},
          "secrets": {},
          "repo_credentials": {"clone_url": "https://github.com/o/r.git", "private_key": null,
                               "oauth_token": "gho_x"},
          "log_quota_hour": 52428800
        })
    }

    #[test]
    fn reads_the_spec_example() {
        let body: SubmitBody = serde_json::from_value(spec_example()).unwrap();
        assert_eq!(body.job_spec.commands[3], "python train.py");
        assert_eq!(body.job_spec.max_duration, Some(72000));
        assert_eq!(
            body.job_spec.repo_exists_action,
            Some(RepoExistsAction::Error)
        );
        assert_eq!(body.cluster_info.gpus_per_node, vec![8, 8]);
        assert_eq!(body.run.run_spec.configured_image(), Some("debian:12"));
        assert_eq!(body.log_quota_hour, Some(52_428_800));
    }

    #[test]
    fn round_trips_through_json() {
        let body: SubmitBody = serde_json::from_value(spec_example()).unwrap();
        let again: SubmitBody =
            serde_json::from_value(serde_json::to_value(&body).unwrap()).unwrap();
        assert_eq!(again, body);
    }

    #[test]
    fn a_minimal_body_is_enough() {
        let body: SubmitBody = serde_json::from_value(json!({
            "run": {"id": "0b2f5a39-42a9-4f64-8e36-5d2b5b0d7a11", "run_spec": {}},
            "job_spec": {"commands": ["true"]},
            "job_submission": {"id": "5d0e2c41-1a8c-4c7b-9d3e-3f5a7b9c1d2e"}
        }))
        .unwrap();
        assert_eq!(body.job_spec.jobs_per_replica, 1);
        assert_eq!(body.cluster_info, ClusterInfo::default());
        assert_eq!(body.run.run_spec.configured_image(), None);
    }
}
