//! A service's `probes:` (spec §7): HTTP checks of each replica's readiness.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::error::{FieldPath, RuleViolation};
use super::literal::literal;
use crate::duration::Duration;

literal!(
    /// `type: http`, the only probe type.
    HttpProbeTag = "http"
);

/// The HTTP method of a probe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
#[allow(missing_docs)]
pub enum ProbeMethod {
    Get,
    Post,
    Put,
    Delete,
    Patch,
    Head,
}

/// A header a probe sends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HttpHeaderSpec {
    /// The header name, 1 to 256 characters.
    pub name: String,
    /// The header value, 1 to 2048 characters.
    pub value: String,
}

/// An HTTP readiness probe; unset fields take the server's defaults.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProbeConfig {
    /// Always `http`.
    #[serde(rename = "type")]
    pub kind: HttpProbeTag,
    /// The path to request, starting with `/`; `/` when unset.
    #[serde(default)]
    pub url: Option<String>,
    /// The method; `get` when unset.
    #[serde(default)]
    pub method: Option<ProbeMethod>,
    /// Headers to send, at most 16.
    #[serde(default)]
    pub headers: Vec<HttpHeaderSpec>,
    /// The request body; not allowed with `get` or `head`.
    #[serde(default)]
    pub body: Option<String>,
    /// How long to wait for an answer; 10s when unset.
    #[serde(default)]
    pub timeout: Option<Duration>,
    /// How often to probe; 15s when unset.
    #[serde(default)]
    pub interval: Option<Duration>,
    /// How many successes in a row make the replica ready; 1 when unset.
    #[serde(default)]
    pub ready_after: Option<u32>,
    /// Whether probing stops once the replica is ready.
    #[serde(default)]
    pub until_ready: Option<bool>,
}

/// The most probes a job may have (`DSTACK_SERVER_MAX_PROBES_PER_JOB`).
pub const MAX_PROBES: usize = 10;
const MAX_HEADERS: usize = 16;

fn length_between(text: &str, low: usize, high: usize) -> bool {
    (low..=high).contains(&text.chars().count())
}

impl ProbeConfig {
    /// Checks one probe; paths are relative to the probe.
    pub fn check(&self) -> Result<(), RuleViolation> {
        let at = |key: &str| FieldPath::keys(&[key]);
        if let Some(url) = &self.url
            && !(url.starts_with('/') && url.len() <= 2048 && url.chars().all(|c| !c.is_control()))
        {
            return Err(RuleViolation::new(
                at("url"),
                format!("must be a path starting with `/`, got \"{url}\""),
            ));
        }
        if self.headers.len() > MAX_HEADERS {
            return Err(RuleViolation::new(
                at("headers"),
                format!("at most {MAX_HEADERS} headers are allowed"),
            ));
        }
        for (index, header) in self.headers.iter().enumerate() {
            if !length_between(&header.name, 1, 256) || !length_between(&header.value, 1, 2048) {
                return Err(RuleViolation::new(
                    at("headers").index(index),
                    "header names need 1 to 256 characters and values 1 to 2048",
                ));
            }
        }
        if let Some(body) = &self.body {
            if !length_between(body, 1, 2048) {
                return Err(RuleViolation::new(
                    at("body"),
                    "must have 1 to 2048 characters",
                ));
            }
            if matches!(
                self.method,
                None | Some(ProbeMethod::Get | ProbeMethod::Head)
            ) {
                return Err(RuleViolation::new(
                    at("body"),
                    "a body is not allowed with the `get` or `head` method",
                ));
            }
        }
        for (key, duration) in [("timeout", self.timeout), ("interval", self.interval)] {
            if duration.is_some_and(|d| d.as_secs() < 1) {
                return Err(RuleViolation::new(at(key), "must be at least 1s"));
            }
        }
        if self.ready_after == Some(0) {
            return Err(RuleViolation::new(at("ready_after"), "must be at least 1"));
        }
        Ok(())
    }
}

/// Checks the probe list: count, uniqueness and each probe.
pub fn check_probes(probes: &[ProbeConfig]) -> Result<(), RuleViolation> {
    let path = FieldPath::keys(&["probes"]);
    if probes.len() > MAX_PROBES {
        return Err(RuleViolation::new(
            path,
            format!("at most {MAX_PROBES} probes are allowed"),
        ));
    }
    for (index, probe) in probes.iter().enumerate() {
        let at = path.clone().index(index);
        probe.check().map_err(|v| v.within(&at))?;
        if probes.iter().take(index).any(|earlier| earlier == probe) {
            return Err(RuleViolation::new(at, "probes must be unique"));
        }
    }
    Ok(())
}
