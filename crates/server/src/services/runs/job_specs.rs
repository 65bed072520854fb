//! The job specs of a run: what each container runs and needs, built from the effective run
//! spec as dstack 0.22.5 builds them (api.md §3.4).
//!
//! [`build`] gives every job of a new run; [`plan_jobs`] the jobs a plan shows (replica 0 of
//! each replica group).

use std::collections::BTreeMap;

use dstack_core::api::jobs::{AppSpec, JobRetry, JobSpec, ProbeSpec, UnixUser};
use dstack_core::api::runs::RunSpec;
use dstack_core::configuration::AnyRunConfiguration;
use dstack_core::configuration::dev_environment::{DevEnvironmentConfiguration, Ide};
use dstack_core::configuration::probes::{ProbeConfig, ProbeMethod};
use dstack_core::configuration::profile::SpotPolicy;
use dstack_core::configuration::repos::RepoExistsAction;
use dstack_core::configuration::retry::{Retry, RetryEvent};
use dstack_core::duration::OffOrDuration;
use dstack_core::env::EnvValue;
use dstack_core::offers::Requirements;
use dstack_core::ports::PortMapping;
use dstack_core::resources::{ImageSource, ResourcesSpec};

use crate::services::ServiceError;

/// The image of runs that set neither `image` nor `docker`.
const BASE_IMAGE: &str = "dstackai/base:0.16-base-ubuntu24.04";
/// The same with the CUDA toolkit (`nvcc: true`).
const BASE_IMAGE_DEVEL: &str = "dstackai/base:0.16-devel-ubuntu24.04";
/// The image of `docker: true` runs.
const DIND_IMAGE: &str = "dstackai/dind";
/// The Python of the base image's venv when `python` is unset: the reference server uses its
/// own interpreter's version, which was 3.11 in the recorded traffic.
const DEFAULT_PYTHON: &str = "3.11";
/// Seconds a job gets to stop gracefully unless `stop_duration` says otherwise.
const DEFAULT_STOP_DURATION: u64 = 300;
/// Seconds during which a failed job is resubmitted under `retry: true`.
const DEFAULT_RETRY_DURATION: u64 = 3600;
/// The default repo directory in the container.
const DEFAULT_REPO_DIR: &str = "/workflow";

/// The profile parameters and base fields every run type shares, after the run's profile is
/// merged underneath its configuration.
struct Common<'a> {
    spec: &'a RunSpec,
    configuration: AnyRunConfiguration,
}

/// One job to create: its place in the run and its resources.
struct Slot {
    replica_num: u32,
    job_num: u32,
    jobs_per_replica: u32,
    replica_group: String,
    node_group_index: u32,
    node_group_name: String,
    node_group_job_index: u32,
    resources: ResourcesSpec,
    spot_policy: Option<SpotPolicy>,
    commands: Option<Vec<String>>,
    ports: Option<Vec<PortMapping>>,
}

impl Slot {
    fn single(resources: ResourcesSpec) -> Self {
        Self {
            replica_num: 0,
            job_num: 0,
            jobs_per_replica: 1,
            replica_group: "0".to_owned(),
            node_group_index: 0,
            node_group_name: "0".to_owned(),
            node_group_job_index: 0,
            resources,
            spot_policy: None,
            commands: None,
            ports: None,
        }
    }
}

/// Every job of a new run named `run_name`.
pub fn build(spec: &RunSpec, run_name: &str) -> Result<Vec<JobSpec>, ServiceError> {
    let common = Common::new(spec);
    let slots = common.slots(false);
    slots
        .into_iter()
        .map(|slot| common.job_spec(run_name, slot))
        .collect()
}

/// The jobs a plan shows: one per job of the first replica of each replica group.
pub fn plan_jobs(spec: &RunSpec, run_name: &str) -> Result<Vec<JobSpec>, ServiceError> {
    let common = Common::new(spec);
    let slots = common.slots(true);
    slots
        .into_iter()
        .map(|slot| common.job_spec(run_name, slot))
        .collect()
}

/// The requirements of the first job a plan for `spec` shows, which `gpus/list` offers for.
pub fn first_job_requirements(spec: &RunSpec) -> Result<Requirements, ServiceError> {
    let common = Common::new(spec);
    let slot = common
        .slots(true)
        .into_iter()
        .next()
        .ok_or_else(|| ServiceError::Invalid("The run configuration has no jobs".to_owned()))?;
    Ok(common.job_spec("", slot)?.requirements)
}

impl<'a> Common<'a> {
    fn new(spec: &'a RunSpec) -> Self {
        let mut configuration = spec.configuration.clone();
        if let Some(profile) = &spec.profile {
            field!(&mut configuration, c => c.apply_profile(profile));
        }
        Self {
            spec,
            configuration,
        }
    }

    /// Where each job goes: nodes of a task, replicas of a service.
    fn slots(&self, plan_only: bool) -> Vec<Slot> {
        match &self.configuration {
            AnyRunConfiguration::DevEnvironment(c) => vec![Slot::single(c.resources.clone())],
            AnyRunConfiguration::Task(c) => match &c.groups {
                Some(groups) => {
                    let total: u32 = groups.iter().map(|g| g.nodes).sum();
                    let mut slots = Vec::new();
                    let mut job_num = 0;
                    for (index, group) in (0u32..).zip(groups) {
                        for node in 0..group.nodes {
                            slots.push(Slot {
                                job_num,
                                jobs_per_replica: total,
                                node_group_index: index,
                                node_group_name: group.name.clone().unwrap_or(index.to_string()),
                                node_group_job_index: node,
                                commands: Some(group.commands.clone()),
                                ports: Some(group.ports.clone()),
                                ..Slot::single(group.resources.clone())
                            });
                            job_num += 1;
                        }
                    }
                    slots
                }
                None => {
                    let nodes = c.nodes.unwrap_or(1);
                    (0..nodes)
                        .map(|job_num| Slot {
                            job_num,
                            jobs_per_replica: nodes,
                            node_group_job_index: job_num,
                            ..Slot::single(c.resources.clone())
                        })
                        .collect()
                }
            },
            AnyRunConfiguration::Service(c) => match &c.groups {
                Some(groups) => {
                    let mut slots = Vec::new();
                    let mut replica_num = 0;
                    for (index, group) in (0u32..).zip(groups) {
                        let replicas = if plan_only {
                            1
                        } else {
                            group.replicas.min.unwrap_or(1)
                        };
                        for _ in 0..replicas {
                            slots.push(Slot {
                                replica_num,
                                replica_group: group.name.clone().unwrap_or(index.to_string()),
                                spot_policy: group.spot_policy,
                                ..Slot::single(group.resources.clone())
                            });
                            replica_num += 1;
                        }
                    }
                    slots
                }
                None => {
                    let replicas = match (&c.replicas, plan_only) {
                        (_, true) | (None, _) => 1,
                        (Some(range), false) => range.min.unwrap_or(1),
                    };
                    (0..replicas)
                        .map(|replica_num| Slot {
                            replica_num,
                            ..Slot::single(c.resources.clone())
                        })
                        .collect()
                }
            },
        }
    }

    fn image_source(&self) -> ImageSource {
        let (image, docker) = field!(&self.configuration, c => (c.image.is_some(), c.docker));
        match (image, docker) {
            (true, _) => ImageSource::Custom,
            (false, Some(true)) => ImageSource::Docker,
            (false, _) => ImageSource::Default,
        }
    }

    fn image_name(&self) -> String {
        let (image, nvcc) = field!(&self.configuration, c => (c.image.clone(), c.nvcc));
        match (image, self.image_source()) {
            (Some(image), _) => image,
            (None, ImageSource::Docker) => DIND_IMAGE.to_owned(),
            (None, _) if nvcc == Some(true) => BASE_IMAGE_DEVEL.to_owned(),
            (None, _) => BASE_IMAGE.to_owned(),
        }
    }

    fn job_spec(&self, run_name: &str, slot: Slot) -> Result<JobSpec, ServiceError> {
        let c = &self.configuration;
        let image_source = self.image_source();
        let mut resources = slot.resources.clone();
        resources.apply_server_defaults(image_source);
        resources
            .check_image(image_source)
            .map_err(|error| ServiceError::Invalid(error.to_string()))?;
        resources.cpu.arch = resources.requirements_cpu_arch(image_source);
        let spot_policy = slot
            .spot_policy
            .or(field!(c, c => c.spot_policy))
            .unwrap_or(SpotPolicy::OnDemand);
        let multinode = matches!(c, AnyRunConfiguration::Task(_)) && slot.jobs_per_replica > 1;
        let requirements = Requirements {
            resources,
            max_price: field!(c, c => c.max_price),
            spot: match spot_policy {
                SpotPolicy::Spot => Some(true),
                SpotPolicy::OnDemand => Some(false),
                SpotPolicy::Auto => None,
            },
            reservation: field!(c, c => c.reservation.clone()),
            multinode: Some(multinode),
            backend_options: field!(c, c => c.backend_options.as_ref())
                .map(|options| {
                    options
                        .iter()
                        .map(serde_json::to_value)
                        .collect::<Result<Vec<_>, _>>()
                })
                .transpose()
                .map_err(|error| ServiceError::Invalid(error.to_string()))?,
        };
        let repo = field!(c, c => c.repos.first().cloned());
        let ports = slot
            .ports
            .clone()
            .unwrap_or_else(|| self.configuration_ports());
        Ok(JobSpec {
            replica_num: slot.replica_num,
            job_num: slot.job_num,
            job_name: format!("{run_name}-{}-{}", slot.job_num, slot.replica_num),
            jobs_per_replica: slot.jobs_per_replica,
            replica_group: slot.replica_group.clone(),
            app_specs: Some(app_specs(&ports)),
            user: field!(c, c => c.user.as_deref()).map(unix_user),
            commands: self.commands(slot.commands.as_deref())?,
            env: field!(c, c => c.env.iter())
                .filter_map(|(key, value)| match value {
                    EnvValue::Value(text) => Some((key.to_owned(), text.clone())),
                    EnvValue::Placeholder => None,
                })
                .collect::<BTreeMap<_, _>>(),
            home_dir: Some(field!(c, c => c.home_dir.clone())),
            image_name: self.image_name(),
            privileged: field!(c, c => c.privileged) || image_source == ImageSource::Docker,
            single_branch: Some(
                field!(c, c => c.single_branch)
                    .unwrap_or(!matches!(c, AnyRunConfiguration::DevEnvironment(_))),
            ),
            max_duration: match field!(c, c => c.max_duration) {
                Some(OffOrDuration::After(duration)) => u64::try_from(duration.as_secs()).ok(),
                _ => None,
            },
            stop_duration: match field!(c, c => c.stop_duration) {
                Some(OffOrDuration::Off) => None,
                Some(OffOrDuration::After(duration)) => u64::try_from(duration.as_secs()).ok(),
                None => Some(DEFAULT_STOP_DURATION),
            },
            utilization_policy: field!(c, c => c.utilization_policy.clone()),
            registry_auth: field!(c, c => c.registry_auth.clone()),
            requirements,
            retry: field!(c, c => c.retry.as_ref()).and_then(job_retry),
            volumes: Some(field!(c, c => c.volumes.clone())),
            ssh_key: None,
            working_dir: field!(c, c => c.working_dir.clone()),
            repo_data: self.spec.repo_data.clone(),
            repo_code_hash: self.spec.repo_code_hash.clone(),
            repo_dir: self
                .spec
                .repo_dir
                .clone()
                .or_else(|| repo.as_ref().map(|r| r.path.clone()).filter(|p| p != "."))
                .unwrap_or_else(|| DEFAULT_REPO_DIR.to_owned()),
            repo_exists_action: repo.as_ref().map(|r| match r.if_exists {
                RepoExistsAction::Error => RepoExistsAction::Error,
                RepoExistsAction::Skip => RepoExistsAction::Skip,
            }),
            file_archives: self.spec.file_archives.clone(),
            service_port: match c {
                AnyRunConfiguration::Service(s) => Some(s.port.0.container_port),
                _ => None,
            },
            probes: match c {
                AnyRunConfiguration::Service(s) => s
                    .probes
                    .as_deref()
                    .unwrap_or_default()
                    .iter()
                    .map(probe_spec)
                    .collect(),
                _ => Vec::new(),
            },
            node_group_index: slot.node_group_index,
            node_group_name: slot.node_group_name,
            node_group_job_index: slot.node_group_job_index,
        })
    }

    fn configuration_ports(&self) -> Vec<PortMapping> {
        match &self.configuration {
            AnyRunConfiguration::Task(c) => c.ports.clone(),
            AnyRunConfiguration::DevEnvironment(c) => c.ports.clone(),
            AnyRunConfiguration::Service(_) => Vec::new(),
        }
    }

    /// The container's argv: the entrypoint and commands, or the commands run by a shell.
    fn commands(&self, group_commands: Option<&[String]>) -> Result<Vec<String>, ServiceError> {
        let c = &self.configuration;
        let mut user_commands: Vec<String> = match (c, group_commands) {
            (_, Some(commands)) => commands.to_vec(),
            (AnyRunConfiguration::Task(t), None) => t.commands.clone(),
            (AnyRunConfiguration::Service(s), None) => s.commands.clone(),
            (AnyRunConfiguration::DevEnvironment(d), None) => dev_environment_commands(d),
        };
        if let Some(entrypoint) = field!(c, c => c.entrypoint.as_deref()) {
            let mut argv = shell_words(entrypoint).ok_or_else(|| {
                ServiceError::Invalid(format!("entrypoint {entrypoint:?} is not valid shell"))
            })?;
            argv.append(&mut user_commands);
            return Ok(argv);
        }
        let base_image = self.image_source() != ImageSource::Custom;
        if user_commands.is_empty() {
            return Err(ServiceError::Invalid(
                "commands are required: this server cannot read the image's entrypoint from \
                 a registry; set `commands` or `entrypoint`"
                    .to_owned(),
            ));
        }
        let shell = match field!(c, c => c.shell.as_deref()) {
            Some("bash") => "/bin/bash".to_owned(),
            Some("sh") => "/bin/sh".to_owned(),
            Some(path) => path.to_owned(),
            None if base_image => "/bin/bash".to_owned(),
            None => "/bin/sh".to_owned(),
        };
        let mut steps = Vec::new();
        if self.image_source() == ImageSource::Default {
            let python = field!(c, c => c.python)
                .and_then(|version| serde_json::to_value(version).ok())
                .and_then(|value| value.as_str().map(str::to_owned))
                .unwrap_or_else(|| DEFAULT_PYTHON.to_owned());
            steps.push(venv_prelude(&python));
        }
        steps.append(&mut user_commands);
        Ok(vec![
            shell,
            "-i".to_owned(),
            "-c".to_owned(),
            steps.join(" && "),
        ])
    }
}

/// Creates the venv of the base image and activates it from `/dstack/profile`; the runner
/// reads that file, so later `ssh` sessions get the same venv.
fn venv_prelude(python: &str) -> String {
    [
        "eval $(echo 'export DSTACK_VENV_DIR=/dstack/venv' | sudo tee -a /dstack/profile)",
        "sudo rm -rf $DSTACK_VENV_DIR",
        "sudo mkdir $DSTACK_VENV_DIR",
        "sudo chown $(id -u):$(id -g) $DSTACK_VENV_DIR",
        &format!(
            "(if UV_PYTHON_INSTALL_DIR=/opt/uv/python uv python find {python} > /dev/null 2>&1; \
             then export UV_PYTHON_INSTALL_DIR=/opt/uv/python UV_PYTHON_DOWNLOADS=never; fi; \
             uv venv -q --prompt dstack -p {python} --seed $DSTACK_VENV_DIR)"
        ),
        VENV_PRELUDE_LAST_STEP,
    ]
    .join(" && ")
}

/// The last step of [`venv_prelude`], which ends it in a command line.
const VENV_PRELUDE_LAST_STEP: &str =
    "eval $(echo '. $DSTACK_VENV_DIR/bin/activate' | sudo tee -a /dstack/profile)";

/// `commands` without the base image's venv prelude. A job run as a host process (the shim's
/// process runtime) gets no image, so no `uv` and no `/dstack`: only the user's commands run.
pub fn without_venv_prelude(commands: &[String]) -> Vec<String> {
    let mut commands = commands.to_vec();
    if let [_, interactive, c, line] = commands.as_mut_slice()
        && (interactive.as_str(), c.as_str()) == ("-i", "-c")
        && let Some((_, user)) = line.split_once(&format!("{VENV_PRELUDE_LAST_STEP} && "))
    {
        *line = user.to_owned();
    }
    commands
}

/// A dev environment installs ipykernel, runs `init`, prints how to connect and waits.
fn dev_environment_commands(c: &DevEnvironmentConfiguration) -> Vec<String> {
    let name = c.name.as_deref().unwrap_or("dev");
    let mut commands = vec![
        "(echo 'uv pip install ipykernel...' && uv pip install -q --no-cache-dir ipykernel \
         2> /dev/null) || (echo 'pip install ipykernel...' && pip install -q --no-cache-dir \
         ipykernel 2> /dev/null) || echo 'no uv or pip found, ipykernel was not installed'"
            .to_owned(),
    ];
    commands.extend(c.init.iter().cloned());
    let ide = match c.ide {
        Some(Ide::Vscode) => Some(("VS Code", "vscode")),
        Some(Ide::Cursor) => Some(("Cursor", "cursor")),
        Some(Ide::Windsurf) => Some(("Windsurf", "windsurf")),
        Some(Ide::Zed) | None => None,
    };
    if let Some((title, scheme)) = ide {
        commands.push("echo".to_owned());
        commands.push(format!("echo 'To open in {title}, use link below:'"));
        commands.push("echo".to_owned());
        commands.push(format!(
            "echo \"  {scheme}://vscode-remote/ssh-remote+{name}$DSTACK_WORKING_DIR\""
        ));
    }
    commands.extend([
        "echo".to_owned(),
        format!("echo 'To connect via SSH, use: `ssh {name}`'"),
        "echo".to_owned(),
        "echo -n 'To exit, press Ctrl+C.'".to_owned(),
        "tail -f /dev/null".to_owned(),
    ]);
    commands
}

fn app_specs(ports: &[PortMapping]) -> Vec<AppSpec> {
    ports
        .iter()
        .enumerate()
        .map(|(index, port)| AppSpec {
            port: port.container_port,
            map_to_port: port.local_port,
            app_name: format!("app_{index}"),
            url_path: None,
            url_query_params: None,
        })
        .collect()
}

/// `user: name[:group]`, where each part may be a numeric id.
fn unix_user(user: &str) -> UnixUser {
    let (name, group) = match user.split_once(':') {
        Some((name, group)) => (name, Some(group)),
        None => (user, None),
    };
    let (uid, username) = match name.parse::<u32>() {
        Ok(id) => (Some(id), None),
        Err(_) => (None, Some(name.to_owned())),
    };
    let (gid, groupname) = match group.map(|g| (g, g.parse::<u32>())) {
        Some((_, Ok(id))) => (Some(id), None),
        Some((g, Err(_))) => (None, Some(g.to_owned())),
        None => (None, None),
    };
    UnixUser {
        uid,
        gid,
        username,
        groupname,
    }
}

fn job_retry(retry: &Retry) -> Option<JobRetry> {
    let all = || {
        vec![
            RetryEvent::NoCapacity,
            RetryEvent::Interruption,
            RetryEvent::Error,
        ]
    };
    match retry {
        Retry::Enabled(false) => None,
        Retry::Enabled(true) => Some(JobRetry {
            on_events: all(),
            duration: DEFAULT_RETRY_DURATION,
        }),
        Retry::Policy(policy) => Some(JobRetry {
            on_events: policy.on_events.clone().unwrap_or_else(all),
            duration: policy
                .duration
                .and_then(|d| u64::try_from(d.as_secs()).ok())
                .unwrap_or(DEFAULT_RETRY_DURATION),
        }),
    }
}

fn probe_spec(probe: &ProbeConfig) -> ProbeSpec {
    let secs = |d: Option<dstack_core::duration::Duration>, default: u64| {
        d.and_then(|d| u64::try_from(d.as_secs()).ok())
            .unwrap_or(default)
    };
    ProbeSpec {
        probe_type: "http".to_owned(),
        url: probe.url.clone().unwrap_or_else(|| "/".to_owned()),
        method: probe.method.unwrap_or(ProbeMethod::Get),
        headers: probe.headers.clone(),
        body: probe.body.clone(),
        timeout: secs(probe.timeout, 10),
        interval: secs(probe.interval, 15),
        ready_after: probe.ready_after.unwrap_or(1),
        until_ready: probe.until_ready.unwrap_or(false),
    }
}

/// Splits `text` as a POSIX shell would split words (quotes and backslashes, no expansion);
/// `None` on an unclosed quote.
fn shell_words(text: &str) -> Option<Vec<String>> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                in_word = true;
                loop {
                    match chars.next()? {
                        '\'' => break,
                        other => word.push(other),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next()? {
                        '"' => break,
                        '\\' => word.push(chars.next()?),
                        other => word.push(other),
                    }
                }
            }
            '\\' => {
                in_word = true;
                word.push(chars.next()?);
            }
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            other => {
                in_word = true;
                word.push(other);
            }
        }
    }
    if in_word {
        words.push(word);
    }
    Some(words)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entrypoints_split_like_a_shell() {
        assert_eq!(
            shell_words(r#"python -c 'print("a b")' "x y" z\ w"#),
            Some(vec![
                "python".to_owned(),
                "-c".to_owned(),
                "print(\"a b\")".to_owned(),
                "x y".to_owned(),
                "z w".to_owned()
            ])
        );
        assert_eq!(shell_words("'open"), None);
    }

    #[test]
    fn host_processes_run_the_commands_without_the_venv_prelude() {
        let argv = |line: &str| -> Vec<String> {
            ["/bin/bash", "-i", "-c", line].map(str::to_owned).to_vec()
        };
        let with_prelude = argv(&format!("{} && echo a && echo b", venv_prelude("3.12")));
        assert_eq!(
            without_venv_prelude(&with_prelude),
            argv("echo a && echo b")
        );
        let plain = argv("echo a");
        assert_eq!(without_venv_prelude(&plain), plain);
        let entrypoint = ["python", "-m", "x"].map(str::to_owned).to_vec();
        assert_eq!(without_venv_prelude(&entrypoint), entrypoint);
    }

    #[test]
    fn users_with_names_and_ids() {
        let user = unix_user("1000:docker");
        assert_eq!((user.uid, user.gid), (Some(1000), None));
        assert_eq!(user.groupname.as_deref(), Some("docker"));
        assert_eq!(unix_user("root").username.as_deref(), Some("root"));
    }
}
