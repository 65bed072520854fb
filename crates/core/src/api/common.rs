//! Wire building blocks shared by every resource group.
//!
//! - [`utc`]: serde helper for `DateTime<Utc>` in dstack's form (`...T06:33:53.994833Z`).
//! - [`Uuid4`]: an id the 0.22.5 client validates as a version-4 UUID.
//! - [`ErrorBody`], [`ErrorDetail`], [`ErrorItem`], [`ErrorCode`]: dstack's error bodies.
//! - [`ApplyAction`]: whether a plan creates or updates its resource.
//! - [`Limit`], [`null_as_default`]: lenient defaults for request bodies.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize};
use uuid::Uuid;

/// Serde helper for `DateTime<Utc>` fields: `#[serde(with = "utc")]`.
///
/// Writes UTC with a `Z` suffix and microseconds, as pydantic does: the fraction is left out
/// when it is zero. Reads any RFC 3339 datetime with an offset and converts it to UTC; a
/// datetime without an offset is rejected, because the client crashes on one later.
pub mod utc {
    use chrono::{DateTime, SecondsFormat, Utc};
    use serde::{Deserialize, Deserializer, Serializer};

    /// Renders a datetime the way dstack 0.22.5 sends it.
    pub fn format(value: &DateTime<Utc>) -> String {
        let micros = value.timestamp_subsec_micros();
        let whole = value.to_rfc3339_opts(SecondsFormat::Secs, true);
        if micros == 0 {
            return whole;
        }
        // `whole` ends with `Z`; the fraction goes before it.
        let seconds = whole.trim_end_matches('Z');
        format!("{seconds}.{micros:06}Z")
    }

    /// Parses an RFC 3339 datetime that carries a UTC offset.
    pub fn parse(text: &str) -> Result<DateTime<Utc>, chrono::ParseError> {
        DateTime::parse_from_rfc3339(text).map(|value| value.with_timezone(&Utc))
    }

    /// Serializes with [`format`].
    pub fn serialize<S: Serializer>(
        value: &DateTime<Utc>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&format(value))
    }

    /// Deserializes with [`parse`].
    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<DateTime<Utc>, D::Error> {
        let text = String::deserialize(deserializer)?;
        parse(&text).map_err(|err| {
            serde::de::Error::custom(format_args!("invalid datetime {text:?}: {err}"))
        })
    }

    /// The same for `Option<DateTime<Utc>>`: `#[serde(with = "utc::option", default)]`.
    pub mod option {
        use chrono::{DateTime, Utc};
        use serde::{Deserialize, Deserializer, Serialize, Serializer};

        #[derive(Serialize, Deserialize)]
        struct Wrapped(#[serde(with = "super")] DateTime<Utc>);

        /// Serializes `None` as `null`.
        pub fn serialize<S: Serializer>(
            value: &Option<DateTime<Utc>>,
            serializer: S,
        ) -> Result<S::Ok, S::Error> {
            value.map(Wrapped).serialize(serializer)
        }

        /// Deserializes `null` as `None`.
        pub fn deserialize<'de, D: Deserializer<'de>>(
            deserializer: D,
        ) -> Result<Option<DateTime<Utc>>, D::Error> {
            Ok(Option::<Wrapped>::deserialize(deserializer)?.map(|Wrapped(value)| value))
        }
    }

    /// The same for `Vec<DateTime<Utc>>`: `#[serde(with = "utc::list")]`.
    pub mod list {
        use chrono::{DateTime, Utc};
        use serde::{Deserialize, Deserializer, Serialize, Serializer};

        #[derive(Serialize, Deserialize)]
        struct Wrapped(#[serde(with = "super")] DateTime<Utc>);

        /// Serializes every element with [`super::format`].
        pub fn serialize<S: Serializer>(
            values: &[DateTime<Utc>],
            serializer: S,
        ) -> Result<S::Ok, S::Error> {
            serializer.collect_seq(values.iter().copied().map(Wrapped))
        }

        /// Deserializes every element with [`super::parse`].
        pub fn deserialize<'de, D: Deserializer<'de>>(
            deserializer: D,
        ) -> Result<Vec<DateTime<Utc>>, D::Error> {
            let wrapped = Vec::<Wrapped>::deserialize(deserializer)?;
            Ok(wrapped.into_iter().map(|Wrapped(value)| value).collect())
        }
    }
}

/// A UUID that is known to be version 4.
///
/// The 0.22.5 client rejects other versions for user, project, run, run fleet and job
/// submission ids, so those fields use this type and refuse anything else on input too.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct Uuid4(Uuid);

/// A UUID of another version where a version-4 UUID is required.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("uuid {0} is not version 4")]
pub struct NotVersion4(pub Uuid);

impl Uuid4 {
    /// A fresh random id.
    pub fn new_random() -> Self {
        Self(Uuid::new_v4())
    }

    /// The plain UUID.
    pub fn as_uuid(&self) -> Uuid {
        self.0
    }
}

impl TryFrom<Uuid> for Uuid4 {
    type Error = NotVersion4;

    fn try_from(value: Uuid) -> Result<Self, Self::Error> {
        if value.get_version_num() == 4 {
            Ok(Self(value))
        } else {
            Err(NotVersion4(value))
        }
    }
}

impl From<Uuid4> for Uuid {
    fn from(value: Uuid4) -> Self {
        value.0
    }
}

impl fmt::Display for Uuid4 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl<'de> Deserialize<'de> for Uuid4 {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = Uuid::deserialize(deserializer)?;
        Self::try_from(value).map_err(serde::de::Error::custom)
    }
}

/// The codes the 0.22 client maps to its exception classes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// A generic business error; the CLI prints `msg`.
    Error,
    /// A name is taken.
    ResourceExists,
    /// The resource is not found; the CLI relies on it instead of HTTP 404.
    ResourceNotExists,
    /// Backend credentials are invalid.
    InvalidCredentials,
    /// The backend is not available.
    BackendNotAvailable,
    /// The repo is unknown.
    RepoDoesNotExist,
    /// A gateway failed.
    GatewayError,
}

/// One error of an error body.
///
/// Only `msg`, `code` and `fields` may be sent: any other key crashes the client when the
/// code is known. Extra keys of other shapes (FastAPI's 422 items) are ignored on input.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorItem {
    /// The human message.
    pub msg: String,
    /// The error class; `null` for access and version errors.
    #[serde(default)]
    pub code: Option<ErrorCode>,
    /// The path of the offending field, when the error names one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fields: Option<Vec<String>>,
}

/// The `detail` of an error body, in each form dstack sends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ErrorDetail {
    /// 400 business errors: a list, usually of one item.
    List(Vec<ErrorItem>),
    /// 403 and 404 from the permission checks: one object.
    Single(ErrorItem),
    /// FastAPI's own errors: `"Not authenticated"`, `"Not Found"`.
    Text(String),
}

/// An error response body: `{"detail": ...}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// What went wrong.
    pub detail: ErrorDetail,
}

impl ErrorBody {
    /// The 400 body the client turns into the exception class of `code`.
    pub fn business(code: ErrorCode, msg: impl Into<String>) -> Self {
        Self {
            detail: ErrorDetail::List(vec![ErrorItem {
                msg: msg.into(),
                code: Some(code),
                fields: None,
            }]),
        }
    }
}

/// Whether applying a plan creates a resource or updates the current one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ApplyAction {
    /// A new resource (or a re-created one).
    Create,
    /// An in-place update of the current resource.
    Update,
}

/// A page size whose default is `DEFAULT` when the field is absent or `null`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Limit<const DEFAULT: u32>(pub u32);

impl<const DEFAULT: u32> Default for Limit<DEFAULT> {
    fn default() -> Self {
        Self(DEFAULT)
    }
}

/// Reads `null` as the field's default, for request fields that the reference server gives a
/// default: `#[serde(default, deserialize_with = "null_as_default")]`.
pub fn null_as_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

/// Serde default for fields that default to `true`.
pub(crate) fn default_true() -> bool {
    true
}

/// A request naming one resource: `volumes/get`, `gateways/get`, `secrets/get`, ...
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NameRequest {
    /// The resource name.
    pub name: String,
}

/// A request naming several resources: `fleets/delete`, `volumes/delete`, ...
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NamesRequest {
    /// The resource names.
    pub names: Vec<String>,
}
