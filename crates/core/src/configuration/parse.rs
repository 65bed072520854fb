//! The entry point for configuration files: [`parse_configuration`].
//!
//! serde's internally tagged enums buffer their input and lose YAML locations, so a file is
//! read in passes: its syntax, then only `type` (and a volume's `backend`), then the text
//! straight into the struct of that type, then the rules across fields.

use serde::Deserialize;
use serde_saphyr::MessageFormatter;

use super::any::{AnyConfiguration, list_names};
use super::dev_environment::DevEnvironmentConfiguration;
use super::error::{ConfigError, ConfigErrorKind, FieldPath, RuleViolation};
use super::fleet::FleetConfiguration;
use super::gateway::GatewayConfiguration;
use super::locate::locate;
use super::profile::ProfilesConfig;
use super::service::ServiceConfiguration;
use super::task::TaskConfiguration;
use super::volume::{VOLUME_BACKENDS, VolumeConfiguration};

/// The fields read before the type is known; every other field is ignored in this pass.
#[derive(Default, Deserialize)]
struct Header {
    #[serde(rename = "type", default)]
    kind: Option<String>,
    #[serde(default)]
    backend: Option<String>,
}

/// The location and plain message of a serde-saphyr error.
fn describe(error: &serde_saphyr::Error) -> (Option<(u64, u64)>, String) {
    let location = error
        .location()
        .filter(|location| location.line() > 0)
        .map(|location| (location.line(), location.column()));
    let message = match error.without_snippet() {
        // The parser names the YAML event it wanted; say which kind of value instead.
        serde_saphyr::Error::Unexpected { expected, .. } => match *expected {
            "sequence start" => "invalid type, expected a list".to_owned(),
            "mapping start" => "invalid type, expected a mapping".to_owned(),
            "string scalar" | "scalar" => "invalid type, expected a single value".to_owned(),
            other => format!("invalid value, expected {other}"),
        },
        other => serde_saphyr::UserMessageFormatter
            .format_message(other)
            .into_owned(),
    };
    (location, message)
}

struct Parser<'a> {
    file: &'a str,
    yaml: &'a str,
}

impl Parser<'_> {
    fn error(
        &self,
        location: Option<(u64, u64)>,
        path: FieldPath,
        kind: ConfigErrorKind,
    ) -> ConfigError {
        ConfigError {
            file: self.file.to_owned(),
            location,
            path,
            kind,
        }
    }

    fn header(&self) -> Result<Header, ConfigError> {
        serde_saphyr::from_str::<serde::de::IgnoredAny>(self.yaml).map_err(|error| {
            let (location, message) = describe(&error);
            self.error(
                location,
                FieldPath::root(),
                ConfigErrorKind::InvalidYaml(message),
            )
        })?;
        let header = self.read_as::<Option<Header>>().map_err(|mut error| {
            if let (true, ConfigErrorKind::InvalidValue(message)) =
                (error.path.is_root(), &mut error.kind)
            {
                *message =
                    format!("a configuration must be a mapping with a `type` field: {message}");
            }
            error
        })?;
        Ok(header.unwrap_or_default())
    }

    /// Deserializes the whole text with `read`, keeping the failing field's path.
    fn read<T>(
        &self,
        read: impl for<'de, 'e> FnOnce(
            serde_path_to_error::Deserializer<serde_saphyr::Deserializer<'de, 'e>>,
        ) -> Result<T, serde_saphyr::Error>,
    ) -> Result<T, ConfigError> {
        let mut failed_path = None;
        let result = serde_saphyr::with_deserializer_from_str(self.yaml, |deserializer| {
            let mut track = serde_path_to_error::Track::new();
            let tracked = serde_path_to_error::Deserializer::new(deserializer, &mut track);
            read(tracked).inspect_err(|_| {
                failed_path = Some(FieldPath::from_serde_path(&track.path()));
            })
        });
        result.map_err(|error| {
            let (location, message) = describe(&error);
            self.error(
                location,
                failed_path.unwrap_or_default(),
                ConfigErrorKind::InvalidValue(message),
            )
        })
    }

    fn read_as<T: for<'de> Deserialize<'de>>(&self) -> Result<T, ConfigError> {
        self.read(|deserializer| T::deserialize(deserializer))
    }

    fn read_volume(&self, backend: Option<&str>) -> Result<VolumeConfiguration, ConfigError> {
        let backends = list_names(VOLUME_BACKENDS);
        let backend_error = |message: String| {
            let path = FieldPath::keys(&["backend"]);
            let location = locate(self.yaml, &path);
            self.error(location, path, ConfigErrorKind::InvalidValue(message))
        };
        let backend = match backend {
            None => {
                return Err(backend_error(format!(
                    "missing field `backend`, expected one of {backends}"
                )));
            }
            Some(known) if VOLUME_BACKENDS.contains(&known) => known,
            Some(unknown) => {
                return Err(backend_error(format!(
                    "unknown volume backend `{unknown}`, expected one of {backends}"
                )));
            }
        };
        self.read(|deserializer| {
            VolumeConfiguration::deserialize_for_backend(backend, deserializer)
                .unwrap_or_else(|| Err(serde::de::Error::custom("unknown volume backend")))
        })
    }

    fn parse(&self) -> Result<AnyConfiguration, ConfigError> {
        let header = self.header()?;
        let type_path = FieldPath::keys(&["type"]);
        let Some(kind) = header.kind else {
            return Err(self.error(
                locate(self.yaml, &FieldPath::root()),
                FieldPath::root(),
                ConfigErrorKind::MissingType,
            ));
        };
        let configuration = match kind.as_str() {
            "dev-environment" => {
                AnyConfiguration::DevEnvironment(self.read_as::<DevEnvironmentConfiguration>()?)
            }
            "task" => AnyConfiguration::Task(self.read_as::<TaskConfiguration>()?),
            "service" => AnyConfiguration::Service(self.read_as::<ServiceConfiguration>()?),
            "fleet" => AnyConfiguration::Fleet(self.read_as::<FleetConfiguration>()?),
            "volume" => AnyConfiguration::Volume(self.read_volume(header.backend.as_deref())?),
            "gateway" => AnyConfiguration::Gateway(self.read_as::<GatewayConfiguration>()?),
            _ => {
                return Err(self.error(
                    locate(self.yaml, &type_path),
                    type_path,
                    ConfigErrorKind::UnknownType { given: kind },
                ));
            }
        };
        configuration
            .check()
            .map_err(|violation| self.rule_error(violation))?;
        Ok(configuration)
    }

    fn rule_error(&self, violation: RuleViolation) -> ConfigError {
        self.error(
            locate(self.yaml, &violation.path),
            violation.path,
            ConfigErrorKind::RuleViolated(violation.message),
        )
    }

    fn parse_profiles(&self) -> Result<ProfilesConfig, ConfigError> {
        let profiles = self
            .read_as::<Option<ProfilesConfig>>()?
            .unwrap_or_default();
        profiles
            .check()
            .map_err(|violation| self.rule_error(violation))?;
        Ok(profiles)
    }
}

/// Parses and validates a `profiles.yml` file. `file_name` only labels errors.
pub fn parse_profiles(file_name: &str, yaml: &str) -> Result<ProfilesConfig, ConfigError> {
    Parser {
        file: file_name,
        yaml,
    }
    .parse_profiles()
}

/// Parses and validates a configuration file. `file_name` only labels errors.
pub fn parse_configuration(file_name: &str, yaml: &str) -> Result<AnyConfiguration, ConfigError> {
    Parser {
        file: file_name,
        yaml,
    }
    .parse()
}
