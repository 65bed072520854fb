//! Fields dstack's client leaves out of some request bodies, so that older servers, which
//! reject fields they do not know, accept them (dstack's per-endpoint "excludes").

use serde_json::Value;

/// `nodes` and `groups` are sent only when set.
pub fn run_spec(spec: &mut Value) {
    let Some(configuration) = spec.get_mut("configuration").and_then(Value::as_object_mut) else {
        return;
    };
    for key in ["nodes", "groups"] {
        remove_if(configuration, key, &Value::Null);
    }
}

/// The run the plan saw goes back without its jobs' connection info, without node-group
/// fields left at their defaults, and with its own spec trimmed like the new one.
pub fn current_run(run: &mut Value) {
    let Some(object) = run.as_object_mut() else {
        return;
    };
    if let Some(spec) = object.get_mut("run_spec") {
        run_spec(spec);
    }
    if let Some(jobs) = object.get_mut("jobs").and_then(Value::as_array_mut) {
        for job in jobs {
            if let Some(job) = job.as_object_mut() {
                job.remove("job_connection_info");
                if let Some(spec) = job.get_mut("job_spec").and_then(Value::as_object_mut) {
                    remove_if(spec, "node_group_index", &Value::from(0));
                    remove_if(spec, "node_group_job_index", &Value::from(0));
                    remove_if(spec, "node_group_name", &Value::from("0"));
                }
            }
        }
    }
}

fn remove_if(object: &mut serde_json::Map<String, Value>, key: &str, default: &Value) {
    if object.get(key) == Some(default) {
        object.remove(key);
    }
}

/// A fleet spec's `autocreated` is sent only when true.
pub fn fleet_spec(spec: &mut Value) {
    if let Some(spec) = spec.as_object_mut() {
        remove_if(spec, "autocreated", &Value::Bool(false));
    }
}
