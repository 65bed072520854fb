//! A service's `rate_limits:` (spec §7): requests per second by path prefix and client key.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::error::{FieldPath, RuleViolation};

/// What requests are counted together.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum RateLimitKey {
    /// By client IP address.
    #[default]
    IpAddress,
    /// By the value of a request header.
    Header {
        /// The header name.
        header: String,
    },
}

fn default_prefix() -> String {
    "/".into()
}

/// A rate limit on requests whose path starts with `prefix`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RateLimit {
    /// The path prefix; the longest matching prefix wins.
    #[serde(default = "default_prefix")]
    pub prefix: String,
    /// How requests are grouped.
    #[serde(default)]
    pub key: RateLimitKey,
    /// Requests per second, at least 1/60.
    pub rps: f64,
    /// Requests allowed above the rate in a burst.
    #[serde(default)]
    pub burst: u32,
}

fn prefix_is_valid(prefix: &str) -> bool {
    prefix.starts_with('/')
        && prefix.len() <= 4094
        && !prefix
            .chars()
            .any(|c| c.is_whitespace() || "\\{}".contains(c))
}

fn header_is_valid(header: &str) -> bool {
    !header.is_empty()
        && header.len() <= 500
        && header
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// Checks each rate limit and that prefixes are unique.
pub fn check_rate_limits(limits: &[RateLimit]) -> Result<(), RuleViolation> {
    for (index, limit) in limits.iter().enumerate() {
        let at = FieldPath::keys(&["rate_limits"]).index(index);
        if !prefix_is_valid(&limit.prefix) {
            return Err(RuleViolation::new(
                at.key("prefix"),
                format!(
                    "invalid prefix \"{}\": must start with `/` and have no spaces, `\\`, `{{` or `}}`",
                    limit.prefix
                ),
            ));
        }
        if limit.rps.is_nan() || limit.rps < 1.0 / 60.0 {
            return Err(RuleViolation::new(
                at.key("rps"),
                format!("must be at least 1/60, got {}", limit.rps),
            ));
        }
        if let RateLimitKey::Header { header } = &limit.key
            && !header_is_valid(header)
        {
            return Err(RuleViolation::new(
                at.key("key").key("header"),
                format!("invalid header name \"{header}\""),
            ));
        }
        if limits.iter().take(index).any(|l| l.prefix == limit.prefix) {
            return Err(RuleViolation::new(
                at.key("prefix"),
                format!(
                    "duplicate prefix \"{}\", prefixes must be unique",
                    limit.prefix
                ),
            ));
        }
    }
    Ok(())
}
