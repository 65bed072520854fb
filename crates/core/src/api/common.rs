//! Wire building blocks shared by every resource group.
//!
//! - [`utc`]: serde helper for `DateTime<Utc>` in dstack's form (`...T06:33:53.994833Z`).
//! - [`Uuid4`]: an id the 0.22.5 client validates as a version-4 UUID.
//! - [`ErrorBody`], [`ErrorDetail`], [`ErrorItem`], [`ErrorCode`]: dstack's error bodies.
//! - [`ApplyAction`]: whether a plan creates or updates its resource.
//! - [`Limit`], [`null_as_default`]: lenient defaults for request bodies.

use std::fmt;

use chrono::{DateTime, Utc};
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

/// Keyset pagination by creation time (api.md §1.8), flattened into list requests.
///
/// Newest first: the next page holds items created before `prev_created_at`, or at that time
/// with an id after `prev_id`; ascending reverses both orders.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CreatedAtPage<const LIMIT: u32> {
    /// The `created_at` of the last item of the previous page.
    #[serde(with = "utc::option", default)]
    pub prev_created_at: Option<DateTime<Utc>>,
    /// The id of the last item of the previous page.
    #[serde(default)]
    pub prev_id: Option<Uuid>,
    /// The page size.
    #[serde(default, deserialize_with = "null_as_default")]
    pub limit: Limit<LIMIT>,
    /// Oldest first instead of newest first.
    #[serde(default, deserialize_with = "null_as_default")]
    pub ascending: bool,
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

#[cfg(test)]
mod tests {
    use chrono::{DateTime, TimeZone, Timelike, Utc};
    use serde::{Deserialize, Serialize};
    use serde_json::json;

    use super::*;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Stamped {
        #[serde(with = "utc")]
        at: DateTime<Utc>,
        #[serde(with = "utc::option", default)]
        maybe: Option<DateTime<Utc>>,
        #[serde(with = "utc::list", default)]
        many: Vec<DateTime<Utc>>,
    }

    fn at(text: &str) -> DateTime<Utc> {
        utc::parse(text).expect("valid datetime")
    }

    #[test]
    fn datetimes_are_written_with_microseconds_and_z() {
        let value = at("2026-11-23T06:33:53.994833Z");
        assert_eq!(utc::format(&value), "2026-11-23T06:33:53.994833Z");
        let padded = at("2026-11-23T06:40:00.123Z");
        assert_eq!(utc::format(&padded), "2026-11-23T06:40:00.123000Z");
    }

    #[test]
    fn whole_seconds_are_written_without_a_fraction() {
        let value = Utc
            .with_ymd_and_hms(2026, 11, 23, 6, 40, 0)
            .single()
            .expect("valid date");
        assert_eq!(utc::format(&value), "2026-11-23T06:40:00Z");
    }

    #[test]
    fn nanoseconds_are_truncated_to_microseconds() {
        let value = at("2026-11-23T06:40:00Z")
            .with_nanosecond(123_456_789)
            .expect("valid nanos");
        assert_eq!(utc::format(&value), "2026-11-23T06:40:00.123456Z");
    }

    #[test]
    fn other_offsets_are_converted_to_utc() {
        let value = at("2026-11-23T08:33:53.5+02:00");
        assert_eq!(utc::format(&value), "2026-11-23T06:33:53.500000Z");
    }

    #[test]
    fn naive_datetimes_are_rejected() {
        let body = json!({"at": "2026-11-23T06:33:53.994833"});
        let err = serde_json::from_value::<Stamped>(body).expect_err("no offset");
        assert!(err.to_string().contains("invalid datetime"), "{err}");
    }

    #[test]
    fn optional_and_listed_datetimes_round_trip() {
        let body = json!({
            "at": "2026-11-23T06:33:53.994833Z",
            "maybe": null,
            "many": ["2026-11-23T06:33:54.000001Z", "2026-11-23T06:33:55Z"],
        });
        let stamped: Stamped = serde_json::from_value(body.clone()).expect("valid body");
        assert_eq!(stamped.maybe, None);
        assert_eq!(stamped.many.len(), 2);
        assert_eq!(serde_json::to_value(&stamped).expect("serializes"), body);
    }

    #[test]
    fn uuid4_accepts_version_4_only() {
        let v4 = "3e6b55b7-895e-4f26-a3a2-897bbdcdc9bd";
        let parsed: Uuid4 = serde_json::from_value(json!(v4)).expect("a v4 uuid");
        assert_eq!(parsed.to_string(), v4);

        let v7 = Uuid::from_u128(0x0190_1234_5678_7abc_8def_0123_4567_89ab);
        let err = serde_json::from_value::<Uuid4>(json!(v7.to_string())).expect_err("a v7 uuid");
        assert!(err.to_string().contains("is not version 4"), "{err}");
        assert_eq!(Uuid4::try_from(v7), Err(NotVersion4(v7)));
    }

    #[test]
    fn fresh_ids_are_version_4() {
        let id = Uuid4::new_random();
        assert_eq!(id.as_uuid().get_version_num(), 4);
        assert_ne!(id, Uuid4::new_random());
    }

    #[test]
    fn business_errors_have_only_msg_and_code() {
        let body = ErrorBody::business(ErrorCode::ResourceNotExists, "Run not found");
        assert_eq!(
            serde_json::to_value(&body).expect("serializes"),
            json!({"detail": [{"msg": "Run not found", "code": "resource_not_exists"}]})
        );
    }

    #[test]
    fn every_error_body_shape_is_read() {
        let single: ErrorBody =
            serde_json::from_value(json!({"detail": {"msg": "Not found", "code": null}}))
                .expect("object detail");
        assert!(matches!(
            single.detail,
            ErrorDetail::Single(ErrorItem { code: None, .. })
        ));

        let text: ErrorBody =
            serde_json::from_value(json!({"detail": "Not authenticated"})).expect("text detail");
        assert_eq!(text.detail, ErrorDetail::Text("Not authenticated".into()));

        let validation: ErrorBody = serde_json::from_value(json!({"detail": [{
            "type": "missing", "loc": ["body"], "msg": "Field required", "input": null
        }]}))
        .expect("422 detail");
        let ErrorDetail::List(items) = validation.detail else {
            panic!("expected a list");
        };
        assert_eq!(items.len(), 1);
        assert_eq!(
            items.first().map(|item| item.msg.as_str()),
            Some("Field required")
        );
    }

    #[test]
    fn unknown_error_codes_are_rejected() {
        let body = json!({"detail": [{"msg": "x", "code": "teapot"}]});
        assert!(serde_json::from_value::<ErrorBody>(body).is_err());
    }

    #[derive(Debug, Deserialize)]
    struct Page {
        #[serde(default, deserialize_with = "null_as_default")]
        limit: Limit<100>,
        #[serde(default, deserialize_with = "null_as_default")]
        ascending: bool,
    }

    #[test]
    fn absent_and_null_limits_take_the_default() {
        let absent: Page = serde_json::from_value(json!({})).expect("empty body");
        assert_eq!((absent.limit, absent.ascending), (Limit(100), false));
        let null: Page =
            serde_json::from_value(json!({"limit": null, "ascending": null})).expect("null fields");
        assert_eq!((null.limit, null.ascending), (Limit(100), false));
        let given: Page =
            serde_json::from_value(json!({"limit": 5, "ascending": true})).expect("given fields");
        assert_eq!((given.limit, given.ascending), (Limit(5), true));
    }
}
