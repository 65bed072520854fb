//! Every status and reason enum against the wire values the spec lists: exact strings in
//! order, JSON round trip, `FromStr`, strict rejection of anything else, and the JSON schema.

use std::fmt::{Debug, Display};
use std::str::FromStr;

use schemars::JsonSchema;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::*;

/// `spec` is the `a|b|c` list from api-models-0.22.5.md, or the reason list of lifecycle.md.
fn check_wire<T>(all: &[T], spec: &str)
where
    T: Copy + PartialEq + Debug + Display + Serialize + DeserializeOwned + JsonSchema,
    T: FromStr<Err = UnknownValue>,
{
    let wire: Vec<String> = all.iter().map(ToString::to_string).collect();
    assert_eq!(wire.join("|"), spec);

    for (&value, text) in all.iter().zip(&wire) {
        let json = serde_json::to_string(&value).unwrap();
        assert_eq!(json, format!("\"{text}\""));
        assert_eq!(serde_json::from_str::<T>(&json).unwrap(), value);
        assert_eq!(text.parse::<T>(), Ok(value));

        let shouted = text.to_uppercase();
        assert!(serde_json::from_str::<T>(&format!("\"{shouted}\"")).is_err());
        let error = shouted.parse::<T>().unwrap_err();
        assert_eq!(error.value, shouted);
    }
    assert!(serde_json::from_str::<T>("\"no-such-value\"").is_err());
    assert!(serde_json::from_str::<T>("null").is_err());
    assert!("".parse::<T>().is_err());

    let mut in_schema = Vec::new();
    collect_schema_strings(
        &serde_json::to_value(schemars::schema_for!(T)).unwrap(),
        &mut in_schema,
    );
    in_schema.sort();
    let mut expected = wire.clone();
    expected.sort();
    assert_eq!(in_schema, expected);
}

/// The strings a schema allows, whether it lists them as `enum` or as `oneOf` of `const`s.
fn collect_schema_strings(schema: &serde_json::Value, found: &mut Vec<String>) {
    match schema {
        serde_json::Value::Object(map) => {
            for (key, value) in map {
                match (key.as_str(), value) {
                    ("const", serde_json::Value::String(text)) => found.push(text.clone()),
                    ("enum", serde_json::Value::Array(items)) => found.extend(
                        items
                            .iter()
                            .filter_map(|item| item.as_str().map(str::to_owned)),
                    ),
                    _ => collect_schema_strings(value, found),
                }
            }
        }
        serde_json::Value::Array(items) => {
            items
                .iter()
                .for_each(|item| collect_schema_strings(item, found));
        }
        _ => {}
    }
}

#[test]
fn run_status() {
    check_wire(
        RunStatus::ALL,
        "pending|submitted|provisioning|running|terminating|terminated|failed|done",
    );
}

#[test]
fn run_termination_reason() {
    check_wire(
        RunTerminationReason::ALL,
        "all_jobs_done|job_failed|retry_limit_exceeded|stopped_by_user|aborted_by_user|\
         server_error|gateway_error",
    );
}

#[test]
fn job_status() {
    check_wire(
        JobStatus::ALL,
        "submitted|provisioning|pulling|running|terminating|terminated|aborted|failed|done",
    );
}

#[test]
fn job_termination_reason() {
    check_wire(
        JobTerminationReason::ALL,
        "failed_to_start_due_to_no_capacity|interrupted_by_no_capacity|instance_unreachable|\
         instance_access_revoked|waiting_instance_limit_exceeded|waiting_runner_limit_exceeded|\
         volume_error|gateway_error|terminated_by_user|scaled_down|done_by_runner|\
         aborted_by_user|terminated_by_server|inactivity_duration_exceeded|\
         terminated_due_to_utilization_policy|container_exited_with_error|ports_binding_failed|\
         creating_container_error|executor_error|max_duration_exceeded|log_quota_exceeded",
    );
}

#[test]
fn instance_status() {
    check_wire(
        InstanceStatus::ALL,
        "pending|provisioning|idle|busy|terminating|terminated",
    );
}

#[test]
fn instance_termination_reason() {
    check_wire(
        InstanceTerminationReason::ALL,
        "terminated_by_user|idle_timeout|provisioning_timeout|error|job_finished|unreachable|\
         no_offers|master_failed|max_instances_limit|fleet_spec_mismatch|no_balance",
    );
}

#[test]
fn health_status() {
    check_wire(HealthStatus::ALL, "healthy|warning|failure");
}

#[test]
fn fleet_status() {
    check_wire(
        FleetStatus::ALL,
        "submitted|active|terminating|terminated|failed",
    );
}

#[test]
fn volume_status() {
    check_wire(VolumeStatus::ALL, "submitted|provisioning|active|failed");
}

#[test]
fn gateway_status() {
    check_wire(GatewayStatus::ALL, "submitted|provisioning|running|failed");
}

#[test]
fn gateway_replica_status() {
    check_wire(
        GatewayReplicaStatus::ALL,
        "submitted|provisioning|running|terminating|terminated",
    );
}

#[test]
fn retry_event() {
    check_wire(RetryEvent::ALL, "no-capacity|interruption|error");
}

#[test]
fn unknown_value_names_the_enum_and_the_text() {
    let error = "sleeping".parse::<JobStatus>().unwrap_err();
    assert_eq!(error.to_string(), "unknown JobStatus value: \"sleeping\"");
}

/// Recorded dstack 0.22.5 traffic: every run and job submission in it has a status and
/// termination reason we parse, and a finished one's status is what its reason maps to.
#[test]
fn recorded_runs_and_jobs_agree_with_the_reason_mappings() {
    const TRAFFIC: &str = include_str!("../../tests/fixtures/api-traffic-0.22.5.jsonl");
    let mut checked = Checked::default();
    for line in TRAFFIC.lines() {
        let exchange: serde_json::Value = serde_json::from_str(line).unwrap();
        for body in ["req_body", "resp_body"] {
            let parsed = exchange[body]
                .as_str()
                .and_then(|text| serde_json::from_str(text).ok());
            if let Some(value) = parsed {
                check_recorded(&value, &mut checked);
            }
        }
    }
    assert!(checked.runs > 0 && checked.jobs > 0, "{checked:?}");
    assert!(checked.finished > 0, "{checked:?}");
}

#[derive(Debug, Default)]
struct Checked {
    runs: usize,
    jobs: usize,
    finished: usize,
}

fn check_recorded(value: &serde_json::Value, checked: &mut Checked) {
    match value {
        serde_json::Value::Object(map) => {
            if map.contains_key("submission_num") {
                checked.jobs += 1;
                check_status_and_reason::<JobStatus, JobTerminationReason>(
                    value,
                    JobStatus::is_finished,
                    JobTerminationReason::to_status,
                    checked,
                );
            } else if map.contains_key("run_spec") && map.contains_key("jobs") {
                checked.runs += 1;
                check_status_and_reason::<RunStatus, RunTerminationReason>(
                    value,
                    RunStatus::is_finished,
                    RunTerminationReason::to_status,
                    checked,
                );
            }
            map.values()
                .for_each(|child| check_recorded(child, checked));
        }
        serde_json::Value::Array(items) => {
            items.iter().for_each(|item| check_recorded(item, checked))
        }
        _ => {}
    }
}

fn check_status_and_reason<S, R>(
    value: &serde_json::Value,
    is_finished: fn(S) -> bool,
    to_status: fn(R) -> S,
    checked: &mut Checked,
) where
    S: DeserializeOwned + PartialEq + Debug + Copy,
    R: DeserializeOwned + Debug + Copy,
{
    let status: S = serde_json::from_value(value["status"].clone()).unwrap();
    let reason: Option<R> = serde_json::from_value(value["termination_reason"].clone()).unwrap();
    if is_finished(status) {
        checked.finished += 1;
        let reason = reason.unwrap_or_else(|| panic!("finished {status:?} without a reason"));
        assert_eq!(to_status(reason), status, "{reason:?}");
    }
}
