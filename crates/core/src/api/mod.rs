//! Wire models of the server's HTTP API, as dstack 0.22.5 sends and accepts them.
//!
//! One module per resource group. Every response type serializes to exactly the JSON the
//! reference server sends (every field present, `null` where null); every request type reads
//! leniently (unknown fields ignored, defaults for absent fields) and writes every field, as
//! the CLI does. `common` holds the datetime helper, ids and error bodies; the statuses,
//! configurations, resources and offers inside these models are the crate's own types.

pub mod backends;
pub mod common;
pub mod events;
pub mod exports;
pub mod files;
pub mod fleets;
pub mod gateways;
pub mod gpus;
pub mod instances;
pub mod jobs;
pub mod logs;
pub mod metrics;
pub mod projects;
pub mod repos;
pub mod runs;
pub mod secrets;
pub mod server;
pub mod sshproxy;
pub mod templates;
pub mod users;
pub mod volumes;

#[cfg(test)]
mod wire_names {
    use serde::Serialize;
    use serde::de::DeserializeOwned;

    use super::common::{ApplyAction, ErrorCode};
    use super::gpus::{GpuGroupBy, SpotKind};
    use super::jobs::NetworkMode;
    use super::logs::LogEventSource;
    use super::projects::ProjectRole;
    use super::users::GlobalRole;

    fn assert_wire_name<T>(value: T, name: &str)
    where
        T: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug,
    {
        let json = serde_json::Value::String(name.to_owned());
        assert_eq!(
            serde_json::to_value(&value).ok(),
            Some(json.clone()),
            "{value:?}"
        );
        assert_eq!(
            serde_json::from_value::<T>(json).ok(),
            Some(value),
            "{name}"
        );
    }

    /// Checks each variant's wire name both ways, and that an unknown name is refused.
    macro_rules! wire_names {
        ($($enum:ident { $($variant:ident => $name:literal),+ $(,)? })+) => {$(
            $(assert_wire_name($enum::$variant, $name);)+
            assert!(serde_json::from_str::<$enum>("\"no-such-value\"").is_err());
        )+};
    }

    #[test]
    fn enums_use_dstack_wire_names() {
        wire_names! {
            GlobalRole { Admin => "admin", User => "user" }
            ProjectRole { Admin => "admin", Manager => "manager", User => "user" }
            ApplyAction { Create => "create", Update => "update" }
            ErrorCode {
                Error => "error",
                ResourceExists => "resource_exists",
                ResourceNotExists => "resource_not_exists",
                InvalidCredentials => "invalid_credentials",
                BackendNotAvailable => "backend_not_available",
                RepoDoesNotExist => "repo_does_not_exist",
                GatewayError => "gateway_error",
            }
            NetworkMode { Host => "host", Bridge => "bridge" }
            LogEventSource { Stdout => "stdout", Stderr => "stderr" }
            SpotKind { Spot => "spot", OnDemand => "on-demand" }
            GpuGroupBy { Backend => "backend", Region => "region", Count => "count" }
        }
    }
}
