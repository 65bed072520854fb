//! Service autoscaling (spec §7): `replicas` as a count or range, and `scaling` by requests
//! per second.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::error::{FieldPath, RuleViolation};
use super::literal::literal;
use crate::duration::Duration;
use crate::range::Range;

literal!(
    /// `metric: rps`, the only scaling metric.
    RpsMetric = "rps"
);

/// The scaling windows dstack supports, in seconds.
const SCALING_WINDOWS: [i64; 3] = [30, 60, 300];

fn default_scale_up_delay() -> Duration {
    Duration::from_secs(300)
}

fn default_scale_down_delay() -> Duration {
    Duration::from_secs(600)
}

/// Autoscaling by requests per second.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ScalingSpec {
    /// Always `rps`.
    pub metric: RpsMetric,
    /// The requests per second each replica should get.
    pub target: f64,
    /// The window the rate is averaged over: 30s, 60s or 300s; 60s when unset.
    #[serde(default)]
    pub window: Option<Duration>,
    /// How long the rate must stay high before scaling up.
    #[serde(default = "default_scale_up_delay")]
    pub scale_up_delay: Duration,
    /// How long the rate must stay low before scaling down.
    #[serde(default = "default_scale_down_delay")]
    pub scale_down_delay: Duration,
}

impl ScalingSpec {
    pub(crate) fn check(&self, path: FieldPath) -> Result<(), RuleViolation> {
        if self.target.is_nan() || self.target <= 0.0 {
            return Err(RuleViolation::new(
                path.key("target"),
                format!("must be greater than 0, got {}", self.target),
            ));
        }
        if let Some(window) = self.window
            && !SCALING_WINDOWS.contains(&window.as_secs())
        {
            return Err(RuleViolation::new(
                path.key("window"),
                format!("must be 30s, 60s or 300s, got {}s", window.as_secs()),
            ));
        }
        for (key, delay) in [
            ("scale_up_delay", self.scale_up_delay),
            ("scale_down_delay", self.scale_down_delay),
        ] {
            if delay.as_secs() < 0 {
                return Err(RuleViolation::new(
                    path.clone().key(key),
                    "cannot be negative",
                ));
            }
        }
        Ok(())
    }
}

/// `replicas` of a service: a count or range like everywhere, with a clear error for the legacy
/// list of replica groups, which dstack 0.22 moved to `groups`.
pub(crate) fn deserialize_service_replicas<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Range<u32>>, D::Error> {
    use serde::de::{self, IntoDeserializer, value::MapAccessDeserializer};

    struct ReplicasVisitor;
    impl<'de> de::Visitor<'de> for ReplicasVisitor {
        type Value = Option<Range<u32>>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a replica count or a range such as `1..4`")
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_u64<E: de::Error>(self, value: u64) -> Result<Self::Value, E> {
            Range::deserialize(value.into_deserializer()).map(Some)
        }
        fn visit_i64<E: de::Error>(self, value: i64) -> Result<Self::Value, E> {
            Range::deserialize(value.into_deserializer()).map(Some)
        }
        fn visit_str<E: de::Error>(self, value: &str) -> Result<Self::Value, E> {
            Range::deserialize(value.into_deserializer()).map(Some)
        }
        fn visit_map<A: de::MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
            Range::deserialize(MapAccessDeserializer::new(map)).map(Some)
        }
        fn visit_seq<A: de::SeqAccess<'de>>(self, _: A) -> Result<Self::Value, A::Error> {
            Err(de::Error::custom(
                "a list of replica groups belongs under `groups`, `replicas` takes a count or a range",
            ))
        }
    }
    deserializer.deserialize_any(ReplicasVisitor)
}

/// `replicas` must have a max, and `scaling` is required exactly when it is a real range.
pub(crate) fn check_replicas_and_scaling(
    replicas: Range<u32>,
    scaling: Option<&ScalingSpec>,
    path: &FieldPath,
) -> Result<(), RuleViolation> {
    let Some(max) = replicas.max else {
        return Err(RuleViolation::new(
            path.clone().key("replicas"),
            "the maximum number of replicas is required",
        ));
    };
    let is_range = replicas.min.unwrap_or(0) != max;
    match scaling {
        None if is_range => Err(RuleViolation::new(
            path.clone().key("replicas"),
            "when `replicas` is a range, `scaling` must be set",
        )),
        Some(_) if !is_range => Err(RuleViolation::new(
            path.clone().key("scaling"),
            "to use `scaling`, `replicas` must be a range",
        )),
        Some(scaling) => scaling.check(path.clone().key("scaling")),
        None => Ok(()),
    }
}
