//! The effective run spec (api.md §2.8.1): the client's spec with the server's defaults and
//! checks, and which differences between two specs an active run can take in place
//! (api.md §2.8.3).

use dstack_core::api::repos::RunRepoData;
use dstack_core::api::runs::RunSpec;
use dstack_core::configuration::{AnyRunConfiguration, RuleViolation};
use serde_json::Value;

use crate::services::ServiceError;

/// The repo id of runs without a repo.
pub const VIRTUAL_REPO_ID: &str = "none";

/// The longest run name after its first letter.
const MAX_NAME_TAIL: usize = 40;

/// Whether `name` fits dstack's run name rule `^[a-z][a-z0-9-]{1,40}$`.
fn is_valid_run_name(name: &str) -> bool {
    let mut chars = name.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_lowercase());
    let tail = &name[name.len().min(1)..];
    first_ok
        && (1..=MAX_NAME_TAIL).contains(&tail.len())
        && tail
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

/// The spec as the plan echoes it back: the client's values, with a task's `nodes` filled.
pub fn echoed(spec: &RunSpec) -> RunSpec {
    let mut spec = spec.clone();
    if let AnyRunConfiguration::Task(task) = &mut spec.configuration
        && task.nodes.is_none()
        && task.groups.is_none()
    {
        task.nodes = Some(1);
    }
    spec
}

/// The spec with the server's defaults: the virtual repo, priority 0, one node, and the
/// submitter's public key. Refuses specs that break a rule.
pub fn effective(spec: &RunSpec, ssh_public_key: Option<&str>) -> Result<RunSpec, ServiceError> {
    let mut spec = echoed(spec);
    if let Some(name) = &spec.run_name
        && !is_valid_run_name(name)
    {
        return Err(ServiceError::Invalid(format!(
            "Run name {name:?} is invalid: it must start with a lowercase letter and have 2 to \
             41 lowercase letters, digits or `-`"
        )));
    }
    match (&spec.repo_id, &spec.repo_data) {
        (None, None) => {
            spec.repo_id = Some(VIRTUAL_REPO_ID.to_owned());
            spec.repo_data = Some(RunRepoData::Virtual);
        }
        (Some(_), Some(_)) => {}
        _ => {
            return Err(ServiceError::Invalid(
                "repo_id and repo_data must be set together".to_owned(),
            ));
        }
    }
    let refused = |at: &str, violation: RuleViolation| {
        ServiceError::Invalid(format!("{at}.{}: {}", violation.path, violation.message))
    };
    spec.configuration
        .check()
        .map_err(|violation| refused("configuration", violation))?;
    if let Some(profile) = &spec.profile {
        profile
            .check()
            .map_err(|violation| refused("profile", violation))?;
    }
    field!(&mut spec.configuration, c => {
        c.priority.get_or_insert(0);
    });
    let key = ssh_public_key.ok_or_else(|| {
        ServiceError::Invalid("The user has no SSH public key; refresh the user's SSH key".into())
    })?;
    spec.ssh_key_pub = Some(key.to_owned());
    Ok(spec)
}

/// The configuration's priority.
pub fn priority(spec: &RunSpec) -> i64 {
    i64::from(field!(&spec.configuration, c => c.priority).unwrap_or(0))
}

/// Spec fields that may change in place for every run type.
const UPDATABLE_SPEC_FIELDS: &[&str] = &["configuration_path", "configuration"];
/// More spec fields that may change in place for services.
const UPDATABLE_SERVICE_SPEC_FIELDS: &[&str] = &[
    "repo_data",
    "repo_code_hash",
    "file_archives",
    "working_dir",
];
/// Configuration fields that may change in place for services.
const UPDATABLE_SERVICE_FIELDS: &[&str] = &[
    "replicas",
    "groups",
    "scaling",
    "port",
    "probes",
    "resources",
    "volumes",
    "docker",
    "files",
    "image",
    "user",
    "privileged",
    "entrypoint",
    "working_dir",
    "python",
    "nvcc",
    "single_branch",
    "env",
    "shell",
    "commands",
];

/// The keys whose values differ between two JSON objects.
fn changed_keys(old: &Value, new: &Value) -> Vec<String> {
    let (Some(old), Some(new)) = (old.as_object(), new.as_object()) else {
        return vec![String::new()];
    };
    let mut keys: Vec<String> = old
        .keys()
        .chain(new.keys())
        .filter(|key| old.get(*key) != new.get(*key))
        .cloned()
        .collect();
    keys.sort();
    keys.dedup();
    keys
}

/// The dotted paths of the fields that differ between two specs, for the "Run updated"
/// event: top-level fields, and inside `configuration` and `profile` their own fields.
pub fn changed_fields(current: &RunSpec, new: &RunSpec) -> Vec<String> {
    let (Ok(old), Ok(fresh)) = (serde_json::to_value(current), serde_json::to_value(new)) else {
        return Vec::new();
    };
    let mut fields = Vec::new();
    for key in changed_keys(&old, &fresh) {
        let nested = ["configuration", "profile"].contains(&key.as_str())
            && old[&key].is_object()
            && fresh[&key].is_object();
        if nested {
            let inner = changed_keys(&old[&key], &fresh[&key]);
            fields.extend(inner.into_iter().map(|field| format!("{key}.{field}")));
        } else {
            fields.push(key);
        }
    }
    fields
}

/// Whether an active run with `current` can take `new` in place.
pub fn is_updatable(current: &RunSpec, new: &RunSpec) -> bool {
    let (Ok(old), Ok(fresh)) = (serde_json::to_value(current), serde_json::to_value(new)) else {
        return false;
    };
    let is_service = matches!(new.configuration, AnyRunConfiguration::Service(_));
    if current.configuration.type_name() != new.configuration.type_name() {
        return false;
    }
    let spec_ok = changed_keys(&old, &fresh).iter().all(|key| {
        UPDATABLE_SPEC_FIELDS.contains(&key.as_str())
            || (is_service && UPDATABLE_SERVICE_SPEC_FIELDS.contains(&key.as_str()))
    });
    let configuration_ok = changed_keys(&old["configuration"], &fresh["configuration"])
        .iter()
        .all(|key| {
            key == "priority"
                || (key == "inactivity_duration"
                    && matches!(new.configuration, AnyRunConfiguration::DevEnvironment(_)))
                || (is_service && UPDATABLE_SERVICE_FIELDS.contains(&key.as_str()))
        });
    spec_ok && configuration_ok
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_names_follow_the_dstack_rule() {
        assert!(is_valid_run_name("hello"));
        assert!(is_valid_run_name("a1-b"));
        assert!(!is_valid_run_name("a"));
        assert!(!is_valid_run_name("1abc"));
        assert!(!is_valid_run_name("Hello"));
        assert!(!is_valid_run_name(&format!("a{}", "b".repeat(41))));
    }

    fn task(body: Value) -> RunSpec {
        serde_json::from_value(serde_json::json!({"configuration": body})).expect("a spec")
    }

    #[test]
    fn only_priority_changes_a_task_in_place() {
        let base = task(serde_json::json!({"type": "task", "commands": ["a"]}));
        let priority = task(serde_json::json!({"type": "task", "commands": ["a"], "priority": 5}));
        let commands = task(serde_json::json!({"type": "task", "commands": ["b"]}));
        assert!(is_updatable(&base, &base));
        assert!(is_updatable(&base, &priority));
        assert!(!is_updatable(&base, &commands));
    }
}

/// How long an instance a run creates is kept idle when the run does not say: 5 minutes.
const DEFAULT_RUN_IDLE_SECS: i64 = 300;

/// What the scheduler reads from a run spec: the configuration's profile parameters, else the
/// profile's, else dstack's defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scheduling {
    /// Whether the run may create instances.
    pub may_create: bool,
    /// The names of the fleets the run may use; any when `None`.
    pub fleets: Option<Vec<String>>,
    /// Seconds an instance the run creates is kept idle; `None` keeps it.
    pub idle_secs: Option<i64>,
    /// Whether the run ends once its master job is done.
    pub stop_on_master_done: bool,
    /// The crontab lines of `schedule`; empty for a run that starts at once.
    pub schedule: Vec<String>,
}

/// The scheduling parameters of `spec`.
pub fn scheduling(spec: &RunSpec) -> Scheduling {
    use dstack_core::configuration::profile::{CreationPolicy, StopCriteria};
    use dstack_core::configuration::schedule::CronSpec;
    let profile = spec.profile.as_ref();
    let creation_policy = field!(&spec.configuration, c => c.creation_policy)
        .or_else(|| profile.and_then(|p| p.creation_policy));
    let fleets = field!(&spec.configuration, c => c.fleets.clone())
        .or_else(|| profile.and_then(|p| p.fleets.clone()))
        .map(|fleets| {
            fleets
                .iter()
                .filter_map(|fleet| fleet.reference().ok().map(|reference| reference.name))
                .collect()
        });
    let idle_duration = field!(&spec.configuration, c => c.idle_duration)
        .or_else(|| profile.and_then(|p| p.idle_duration));
    let schedule = field!(&spec.configuration, c => c.schedule.clone())
        .or_else(|| profile.and_then(|p| p.schedule.clone()));
    let stop_criteria = field!(&spec.configuration, c => c.stop_criteria)
        .or_else(|| profile.and_then(|p| p.stop_criteria));
    Scheduling {
        may_create: creation_policy != Some(CreationPolicy::Reuse),
        fleets,
        idle_secs: match idle_duration {
            Some(idle) if idle.is_off() => None,
            Some(idle) => Some(idle.0.as_secs()),
            None => Some(DEFAULT_RUN_IDLE_SECS),
        },
        stop_on_master_done: stop_criteria == Some(StopCriteria::MasterDone),
        schedule: match schedule.map(|schedule| schedule.cron) {
            Some(CronSpec::One(line)) => vec![line],
            Some(CronSpec::Many(lines)) => lines,
            None => Vec::new(),
        },
    }
}
