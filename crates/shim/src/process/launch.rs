//! [`RunnerLaunchSpec`]: how the runner is started as a host process (pure: no I/O), the
//! counterpart of the container's command line in [`crate::docker::command`].
//!
//! The runner listens on a loopback port of its own, starts no sshd (`--ssh-port 0`: the
//! host's sshd is there), and keeps its files in the task's directories. Its environment is
//! built from scratch, as a container's would be from its image: `PATH`, `HOME`, the
//! variables the shim passes into containers (`--pass-env`, `PJRT_DEVICE`), and the task's
//! NVIDIA GPUs as `CUDA_VISIBLE_DEVICES`. CPU and memory limits are not enforced.

use std::ffi::OsString;

use dstack_agents::shim::GpuVendor;

use super::dirs::TaskDirs;
use crate::docker::command::RunnerLaunch;

/// `PATH` when the shim has none.
const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Everything needed to start one task's runner.
#[derive(Debug, Clone, Copy)]
pub struct RunnerLaunchSpec<'a> {
    pub launch: &'a RunnerLaunch,
    pub dirs: &'a TaskDirs,
    /// The loopback port the runner's API listens on.
    pub http_port: u16,
    /// `NAME=value` pairs passed into every container.
    pub pass_env: &'a [String],
    /// The shim's `PATH`, if it has one.
    pub path: Option<&'a str>,
    pub gpu_vendor: GpuVendor,
    /// The GPUs the task holds.
    pub gpu_ids: &'a [String],
}

impl RunnerLaunchSpec<'_> {
    /// The runner's arguments after its program.
    pub fn args(&self) -> Vec<OsString> {
        vec![
            "--log-level".into(),
            self.launch.log_level.clone().into(),
            "start".into(),
            "--temp-dir".into(),
            self.dirs.temp().into(),
            "--http-address".into(),
            "localhost".into(),
            "--http-port".into(),
            self.http_port.to_string().into(),
            "--ssh-port".into(),
            "0".into(),
            "--dstack-dir".into(),
            self.dirs.dstack().into(),
            "--etc-profile".into(),
            self.dirs.etc_profile().into(),
            "--job-home-dir".into(),
            self.dirs.home().into(),
        ]
    }

    /// The runner's whole environment.
    pub fn env(&self) -> Vec<(String, String)> {
        let mut env = vec![
            (
                "PATH".to_owned(),
                self.path.unwrap_or(DEFAULT_PATH).to_owned(),
            ),
            ("HOME".to_owned(), self.dirs.home().display().to_string()),
        ];
        env.extend(self.pass_env.iter().filter_map(|pair| {
            let (name, value) = pair.split_once('=')?;
            Some((name.to_owned(), value.to_owned()))
        }));
        if self.gpu_vendor == GpuVendor::Nvidia {
            // As in a container, a task sees only its own GPUs, and none when it holds none.
            env.push(("CUDA_VISIBLE_DEVICES".to_owned(), self.gpu_ids.join(",")));
        }
        env
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    fn launch() -> RunnerLaunch {
        RunnerLaunch {
            log_level: "debug".into(),
            http_port: 10999,
            ssh_port: 10022,
            ssh_log_level: String::new(),
        }
    }

    fn spec<'a>(launch: &'a RunnerLaunch, dirs: &'a TaskDirs) -> RunnerLaunchSpec<'a> {
        RunnerLaunchSpec {
            launch,
            dirs,
            http_port: 40123,
            pass_env: &[],
            path: None,
            gpu_vendor: GpuVendor::None,
            gpu_ids: &[],
        }
    }

    #[test]
    fn the_runner_listens_on_loopback_without_sshd_and_keeps_to_its_dirs() {
        let dirs = TaskDirs::new(Path::new("/shim/tasks"), "t1");
        let launch = launch();
        let args: Vec<String> = spec(&launch, &dirs)
            .args()
            .into_iter()
            .map(|arg| arg.into_string().unwrap())
            .collect();
        assert_eq!(
            args.join(" "),
            "--log-level debug start --temp-dir /shim/tasks/t1/runner \
             --http-address localhost --http-port 40123 --ssh-port 0 \
             --dstack-dir /shim/tasks/t1/dstack --etc-profile /shim/tasks/t1/etc-profile \
             --job-home-dir /shim/tasks/t1/home"
        );
    }

    #[test]
    fn the_environment_is_built_from_scratch_with_the_tasks_gpus() {
        let dirs = TaskDirs::new(Path::new("/shim/tasks"), "t1");
        let launch = launch();
        let pass_env = ["https_proxy=http://proxy:3128".to_owned()];
        let gpu_ids = ["GPU-a".to_owned(), "GPU-b".to_owned()];
        let env = RunnerLaunchSpec {
            pass_env: &pass_env,
            path: Some("/usr/bin:/bin"),
            gpu_vendor: GpuVendor::Nvidia,
            gpu_ids: &gpu_ids,
            ..spec(&launch, &dirs)
        }
        .env();
        let pairs: Vec<(&str, &str)> = env.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
        assert_eq!(
            pairs,
            [
                ("PATH", "/usr/bin:/bin"),
                ("HOME", "/shim/tasks/t1/home"),
                ("https_proxy", "http://proxy:3128"),
                ("CUDA_VISIBLE_DEVICES", "GPU-a,GPU-b"),
            ]
        );
        let without_gpus = spec(&launch, &dirs).env();
        assert_eq!(
            without_gpus[0],
            ("PATH".to_owned(), DEFAULT_PATH.to_owned())
        );
        assert!(
            without_gpus
                .iter()
                .all(|(name, _)| name != "CUDA_VISIBLE_DEVICES")
        );
    }
}
