//! The job's environment (agents.md §3.5): the runner's own, then the `DSTACK_*` variables,
//! then secrets, then the job's `env`, which wins over everything. Exported bash functions
//! are dropped, and `HOME` is the job user's.
//!
//! Also the MPI hostfile that `DSTACK_MPI_HOSTFILE` points to.

use std::collections::BTreeMap;

use dstack_agents::runner::{ClusterInfo, SubmitBody};

/// Where the job's processes run and as whom; the parts of the environment that are not in
/// the submit body.
#[derive(Debug, Clone, Copy)]
pub struct JobPlace<'a> {
    pub repo_dir: &'a str,
    pub working_dir: &'a str,
    pub home: &'a str,
    pub mpi_hostfile: &'a str,
}

/// Builds the job's environment from the runner's own (`inherited`) and the submit body.
pub fn build_job_env(
    inherited: impl IntoIterator<Item = (String, String)>,
    body: &SubmitBody,
    place: JobPlace<'_>,
) -> BTreeMap<String, String> {
    let mut env: BTreeMap<String, String> = inherited.into_iter().collect();
    env.extend(dstack_vars(body, place));
    env.extend(body.secrets.clone());
    env.extend(body.job_spec.env.clone());
    env.retain(|name, _| !is_bash_function(name));
    env.insert("HOME".to_owned(), place.home.to_owned());
    env
}

fn dstack_vars(body: &SubmitBody, place: JobPlace<'_>) -> Vec<(String, String)> {
    let spec = &body.job_spec;
    let cluster = &body.cluster_info;
    let run_spec = &body.run.run_spec;
    let vars = [
        ("DSTACK_RUN_ID", body.run.id.to_string()),
        ("DSTACK_JOB_ID", body.job_submission.id.to_string()),
        (
            "DSTACK_RUN_NAME",
            run_spec.run_name.clone().unwrap_or_default(),
        ),
        (
            "DSTACK_REPO_ID",
            run_spec.repo_id.clone().unwrap_or_default(),
        ),
        ("DSTACK_REPO_DIR", place.repo_dir.to_owned()),
        ("DSTACK_WORKING_DIR", place.working_dir.to_owned()),
        ("DSTACK_NODES_IPS", cluster.job_ips.join("\n")),
        ("DSTACK_MASTER_NODE_IP", cluster.master_job_ip.clone()),
        ("DSTACK_NODE_RANK", spec.job_num.to_string()),
        ("DSTACK_NODES_NUM", spec.jobs_per_replica.to_string()),
        ("DSTACK_GPUS_PER_NODE", cluster.gpus_per_job.to_string()),
        (
            "DSTACK_GPUS_NUM",
            gpus_num(cluster, spec.jobs_per_replica).to_string(),
        ),
        ("DSTACK_MPI_HOSTFILE", place.mpi_hostfile.to_owned()),
    ];
    vars.into_iter()
        .map(|(name, value)| (name.to_owned(), value))
        .collect()
}

/// All GPUs of the job's nodes: the per-node counts when known, else nodes × GPUs per job.
fn gpus_num(cluster: &ClusterInfo, nodes: u32) -> u64 {
    if cluster.gpus_per_node.is_empty() {
        u64::from(nodes) * u64::from(cluster.gpus_per_job)
    } else {
        cluster
            .gpus_per_node
            .iter()
            .map(|&gpus| u64::from(gpus))
            .sum()
    }
}

/// bash exports functions as `BASH_FUNC_name%%` (or `()` in old versions); passed on, they
/// would run in the job's shell.
fn is_bash_function(name: &str) -> bool {
    name.starts_with("BASH_FUNC_") && (name.ends_with("%%") || name.ends_with("()"))
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("gpus_per_node lists {slots} nodes but job_ips lists {ips}")]
pub struct HostfileMismatch {
    pub slots: usize,
    pub ips: usize,
}

/// The MPI hostfile: one `<ip> slots=<gpus>` line per node (a bare `<ip>` for a node without
/// GPUs). Empty when any node's address is unknown yet.
pub fn mpi_hostfile(cluster: &ClusterInfo) -> Result<String, HostfileMismatch> {
    if cluster.job_ips.iter().any(String::is_empty) {
        return Ok(String::new());
    }
    let slots = if cluster.gpus_per_node.is_empty() {
        vec![cluster.gpus_per_job; cluster.job_ips.len()]
    } else {
        cluster.gpus_per_node.clone()
    };
    if slots.len() != cluster.job_ips.len() {
        return Err(HostfileMismatch {
            slots: slots.len(),
            ips: cluster.job_ips.len(),
        });
    }
    let lines = cluster
        .job_ips
        .iter()
        .zip(slots)
        .map(|(ip, slots)| match slots {
            0 => format!("{ip}\n"),
            slots => format!("{ip} slots={slots}\n"),
        });
    Ok(lines.collect())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn body() -> SubmitBody {
        serde_json::from_value(json!({
            "run": {"id": "0b2f5a39-42a9-4f64-8e36-5d2b5b0d7a11",
                    "run_spec": {"run_name": "my-run", "repo_id": "repo-1", "configuration": {}}},
            "job_spec": {"job_num": 1, "jobs_per_replica": 2, "commands": ["true"],
                         "env": {"FOO": "job", "DSTACK_NODE_RANK": "overridden"}},
            "job_submission": {"id": "5d0e2c41-1a8c-4c7b-9d3e-3f5a7b9c1d2e"},
            "cluster_info": {"job_ips": ["10.0.0.1", "10.0.0.2"], "master_job_ip": "10.0.0.1",
                             "gpus_per_job": 8, "gpus_per_node": []},
            "secrets": {"FOO": "secret", "TOKEN": "s3"}
        }))
        .unwrap()
    }

    const PLACE: JobPlace<'static> = JobPlace {
        repo_dir: "/workflow",
        working_dir: "/workflow/src",
        home: "/home/alice",
        mpi_hostfile: "/dstack/mpi/hostfile",
    };

    fn inherited() -> Vec<(String, String)> {
        [
            ("PATH", "/usr/bin"),
            ("FOO", "runner"),
            ("HOME", "/root"),
            ("BASH_FUNC_greet%%", "() { echo hi; }"),
            ("BASH_FUNC_old()", "() { :; }"),
            ("BASH_FUNCTIONS", "kept"),
        ]
        .into_iter()
        .map(|(name, value)| (name.to_owned(), value.to_owned()))
        .collect()
    }

    #[test]
    fn sets_every_dstack_variable() {
        let env = build_job_env(Vec::new(), &body(), PLACE);
        let expected = [
            ("DSTACK_RUN_ID", "0b2f5a39-42a9-4f64-8e36-5d2b5b0d7a11"),
            ("DSTACK_JOB_ID", "5d0e2c41-1a8c-4c7b-9d3e-3f5a7b9c1d2e"),
            ("DSTACK_RUN_NAME", "my-run"),
            ("DSTACK_REPO_ID", "repo-1"),
            ("DSTACK_REPO_DIR", "/workflow"),
            ("DSTACK_WORKING_DIR", "/workflow/src"),
            ("DSTACK_NODES_IPS", "10.0.0.1\n10.0.0.2"),
            ("DSTACK_MASTER_NODE_IP", "10.0.0.1"),
            ("DSTACK_NODES_NUM", "2"),
            ("DSTACK_GPUS_PER_NODE", "8"),
            ("DSTACK_GPUS_NUM", "16"),
            ("DSTACK_MPI_HOSTFILE", "/dstack/mpi/hostfile"),
        ];
        for (name, value) in expected {
            assert_eq!(env.get(name).map(String::as_str), Some(value), "{name}");
        }
    }

    #[test]
    fn job_env_wins_then_secrets_then_dstack_then_inherited() {
        let env = build_job_env(inherited(), &body(), PLACE);
        assert_eq!(env["FOO"], "job");
        assert_eq!(env["TOKEN"], "s3");
        assert_eq!(env["DSTACK_NODE_RANK"], "overridden");
        assert_eq!(env["PATH"], "/usr/bin");
    }

    #[test]
    fn drops_bash_functions_and_sets_home_last() {
        let env = build_job_env(inherited(), &body(), PLACE);
        assert!(!env.contains_key("BASH_FUNC_greet%%"));
        assert!(!env.contains_key("BASH_FUNC_old()"));
        assert_eq!(env["BASH_FUNCTIONS"], "kept");
        assert_eq!(env["HOME"], "/home/alice");
    }

    #[test]
    fn gpus_num_sums_per_node_counts_when_given() {
        let mut cluster = body().cluster_info;
        cluster.gpus_per_node = vec![8, 4];
        assert_eq!(gpus_num(&cluster, 2), 12);
    }

    #[test]
    fn hostfile_lines() {
        let mut cluster = body().cluster_info;
        assert_eq!(
            mpi_hostfile(&cluster),
            Ok("10.0.0.1 slots=8\n10.0.0.2 slots=8\n".to_owned())
        );
        cluster.gpus_per_node = vec![4, 0];
        assert_eq!(
            mpi_hostfile(&cluster),
            Ok("10.0.0.1 slots=4\n10.0.0.2\n".to_owned())
        );
        cluster.gpus_per_node = vec![4];
        assert_eq!(
            mpi_hostfile(&cluster).map_err(|error| error.to_string()),
            Err("gpus_per_node lists 1 nodes but job_ips lists 2".to_owned())
        );
        cluster.job_ips[1].clear();
        assert_eq!(mpi_hostfile(&cluster), Ok(String::new()));
    }
}
