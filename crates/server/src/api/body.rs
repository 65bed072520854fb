//! Request bodies: [`JsonBody`] for endpoints that need one, [`OptionalBody`] for those where
//! no body means defaults (api.md §1.2). Both name the offending field on bad input;
//! [`QueryParams`] does the same for query strings.

use axum::body::{Body, Bytes};
use axum::extract::{FromRequest, FromRequestParts, Query, Request};
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::Response;
use serde::de::DeserializeOwned;
use serde_json::Value;
use serde_path_to_error::Segment;

use super::error::ServerError;

/// A JSON body that must be present.
#[derive(Debug)]
pub struct JsonBody<T>(pub T);

/// A JSON body that may be absent or empty, then read as `T::default()`.
#[derive(Debug)]
pub struct OptionalBody<T>(pub T);

async fn read_bytes<S: Send + Sync>(request: Request, state: &S) -> Result<Bytes, ServerError> {
    Bytes::from_request(request, state)
        .await
        .map_err(|rejection| ServerError::InvalidBody {
            kind: "body_unreadable",
            loc: vec!["body".to_owned()],
            msg: rejection.body_text(),
        })
}

/// The largest request body the API reads.
const MAX_BODY_BYTES: usize = 2 * 1024 * 1024;

/// Reads the whole request body before the handler runs, so that a body sent to an endpoint
/// that takes none is consumed too: hyper closes a connection whose request body was left
/// unread, and a client still writing it would get a broken pipe instead of the answer, or
/// would send its next request into a connection the server is closing.
pub async fn read_whole_body(request: Request, next: Next) -> Result<Response, ServerError> {
    let (parts, body) = request.into_parts();
    let bytes = axum::body::to_bytes(body, MAX_BODY_BYTES)
        .await
        .map_err(|_| ServerError::InvalidBody {
            kind: "body_unreadable",
            loc: vec!["body".to_owned()],
            msg: format!("the request body could not be read or is over {MAX_BODY_BYTES} bytes"),
        })?;
    Ok(next
        .run(Request::from_parts(parts, Body::from(bytes)))
        .await)
}

/// Answers `error` once the request's body is read (see [`read_whole_body`]): for requests no
/// handler takes, such as an unknown path or a wrong method.
pub async fn refuse_after_reading(request: Request, error: ServerError) -> ServerError {
    discard(request).await;
    error
}

/// Reads and drops the request's body, up to [`MAX_BODY_BYTES`]; a longer one is left for
/// hyper to close the connection on.
pub async fn discard(request: Request) {
    let _ = axum::body::to_bytes(request.into_body(), MAX_BODY_BYTES).await;
}

fn is_blank(bytes: &[u8]) -> bool {
    bytes.iter().all(u8::is_ascii_whitespace)
}

/// How many unknown keys one body may carry before it is refused; bounds the retries below.
const MAX_IGNORED_KEYS: usize = 256;

/// Parses `bytes` as `T`, keeping the path of the field that failed.
///
/// Parsing is lenient as dstack's is: the CLI sends large nested objects, and keys this server
/// does not know (newer clients, fields we do not model) are dropped, while a known key with a
/// bad value is still refused with its path. Our configuration types reject unknown keys (a
/// YAML file with a typo must fail), so each unknown key reported is removed and the value
/// parsed again.
fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ServerError> {
    let mut value: Value =
        serde_json::from_slice(bytes).map_err(|error| invalid(vec!["body".to_owned()], error))?;
    for _ in 0..=MAX_IGNORED_KEYS {
        let error = match serde_path_to_error::deserialize::<_, T>(&value) {
            Ok(parsed) => return Ok(parsed),
            Err(error) => error,
        };
        let path: Vec<String> = error
            .path()
            .iter()
            .filter_map(|segment| match segment {
                Segment::Seq { index } => Some(index.to_string()),
                Segment::Map { key } => Some(key.clone()),
                Segment::Enum { variant } => Some(variant.clone()),
                Segment::Unknown => None,
            })
            .collect();
        let removed = unknown_field(&error.inner().to_string()).is_some_and(|(field, expected)| {
            remove_unknown(&mut value, &path, &field, &expected)
                || path.split_last().is_some_and(|(_, parent)| {
                    remove_unknown(&mut value, parent, &field, &expected)
                })
        });
        if !removed {
            let mut loc = vec!["body".to_owned()];
            loc.extend(path);
            return Err(invalid(loc, error.into_inner()));
        }
    }
    Err(ServerError::InvalidBody {
        kind: "value_error",
        loc: vec!["body".to_owned()],
        msg: format!("the body has over {MAX_IGNORED_KEYS} unknown fields"),
    })
}

/// The unknown key of serde's "unknown field `x`, expected one of `a`, `b`" error, and the
/// keys it expected there.
fn unknown_field(message: &str) -> Option<(String, Vec<String>)> {
    let rest = message.strip_prefix("unknown field `")?;
    let (name, expected) = rest.split_once('`')?;
    let expected = expected
        .split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_owned)
        .collect();
    Some((name.to_owned(), expected))
}

/// Removes the unknown `field` under `path`, and whether it was found.
///
/// Inside internally tagged enums (a configuration's `type`) serde loses the path, so the
/// error may point at an ancestor: then the key is taken from the object below it that holds
/// it and shares the most keys with those serde expected.
fn remove_unknown(value: &mut Value, path: &[String], field: &str, expected: &[String]) -> bool {
    let pointer: String = path.iter().map(|key| format!("/{}", escape(key))).collect();
    let Some(root) = value.pointer_mut(&pointer) else {
        return false;
    };
    let mut best: Option<(usize, String)> = None;
    find_holders(root, String::new(), field, expected, &mut best);
    match best {
        Some((_, holder)) => root
            .pointer_mut(&holder)
            .and_then(Value::as_object_mut)
            .is_some_and(|object| object.remove(field).is_some()),
        None => false,
    }
}

/// Finds the object under `value` that holds `field` and best matches `expected`.
fn find_holders(
    value: &Value,
    at: String,
    field: &str,
    expected: &[String],
    best: &mut Option<(usize, String)>,
) {
    match value {
        Value::Object(object) => {
            if object.contains_key(field) {
                let score = object.keys().filter(|key| expected.contains(key)).count();
                if best.as_ref().is_none_or(|(top, _)| score > *top) {
                    *best = Some((score, at.clone()));
                }
            }
            for (key, child) in object {
                find_holders(
                    child,
                    format!("{at}/{}", escape(key)),
                    field,
                    expected,
                    best,
                );
            }
        }
        Value::Array(items) => {
            for (index, child) in items.iter().enumerate() {
                find_holders(child, format!("{at}/{index}"), field, expected, best);
            }
        }
        _ => {}
    }
}

/// Escapes a key for a JSON pointer (RFC 6901).
fn escape(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

fn invalid(loc: Vec<String>, error: serde_json::Error) -> ServerError {
    // serde_json reports some wrong types (an enum given a number) as syntax errors, so a
    // failure inside a field counts as a bad value too.
    let kind = if error.is_data() || loc.len() > 1 {
        "value_error"
    } else {
        "json_invalid"
    };
    ServerError::InvalidBody {
        kind,
        loc,
        msg: error.to_string(),
    }
}

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = ServerError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = read_bytes(request, state).await?;
        if is_blank(&bytes) {
            return Err(ServerError::InvalidBody {
                kind: "missing",
                loc: vec!["body".to_owned()],
                msg: "Field required".to_owned(),
            });
        }
        decode(&bytes).map(Self)
    }
}

impl<S: Send + Sync, T: DeserializeOwned + Default> FromRequest<S> for OptionalBody<T> {
    type Rejection = ServerError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = read_bytes(request, state).await?;
        if is_blank(&bytes) || bytes.as_ref() == b"null" {
            return Ok(Self(T::default()));
        }
        decode(&bytes).map(Self)
    }
}

/// Refuses a numeric field outside `min..=max` with FastAPI's 422, as the reference server's
/// request models do.
pub fn check_bounds(
    field: &str,
    value: Option<u32>,
    min: u32,
    max: u32,
) -> Result<(), ServerError> {
    let (kind, msg) = match value {
        Some(value) if value < min => (
            "greater_than_equal",
            format!("Input should be greater than or equal to {min}"),
        ),
        Some(value) if value > max => (
            "less_than_equal",
            format!("Input should be less than or equal to {max}"),
        ),
        _ => return Ok(()),
    };
    Err(ServerError::InvalidBody {
        kind,
        loc: vec!["body".to_owned(), field.to_owned()],
        msg,
    })
}

/// A query string decoded as `T`; a bad one is a 422 naming `query`, as JSON like every
/// other error (axum's own rejection is plain text, which the CLI cannot read).
#[derive(Debug)]
pub struct QueryParams<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for QueryParams<T> {
    type Rejection = ServerError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Query::<T>::from_request_parts(parts, state)
            .await
            .map(|Query(value)| Self(value))
            .map_err(|rejection| ServerError::InvalidBody {
                kind: "value_error",
                loc: vec!["query".to_owned()],
                msg: rejection.body_text(),
            })
    }
}

#[cfg(test)]
mod tests {
    use dstack_core::api::runs::RunSpec;
    use dstack_core::api::users::CreateUserRequest;

    use super::*;

    fn failure<T: DeserializeOwned + std::fmt::Debug>(body: &str) -> (String, Vec<String>) {
        match decode::<T>(body.as_bytes()) {
            Err(ServerError::InvalidBody { kind, loc, .. }) => (kind.to_owned(), loc),
            other => panic!("expected an invalid body, got {other:?}"),
        }
    }

    #[test]
    fn a_wrong_type_names_the_field() {
        let (kind, loc) = failure::<CreateUserRequest>(r#"{"username": "a", "global_role": 5}"#);
        assert_eq!(kind, "value_error");
        assert_eq!(loc, ["body", "global_role"]);
    }

    #[test]
    fn unknown_keys_are_dropped_at_any_depth() {
        let request: CreateUserRequest = decode(
            br#"{"username": "a", "global_role": "user", "future": {"x": 1}, "email": null}"#,
        )
        .expect("unknown top-level key ignored");
        assert_eq!(request.username, "a");

        let spec: RunSpec = decode(
            br#"{"configuration": {"type": "task", "commands": ["echo hi"], "new_knob": 3,
                 "resources": {"cpu": 2, "tpu_fancy": true}}, "client_extra": [1]}"#,
        )
        .expect("unknown nested keys ignored");
        assert_eq!(spec.configuration.type_name(), "task");
    }

    #[test]
    fn a_bad_value_inside_a_configuration_is_refused_with_its_path() {
        let (kind, loc) = failure::<RunSpec>(
            r#"{"configuration": {"type": "task", "commands": ["x"], "nodes": "many"}}"#,
        );
        assert_eq!(kind, "value_error");
        assert_eq!(loc.first().map(String::as_str), Some("body"));
        assert!(
            loc.iter().any(|segment| segment == "configuration"),
            "{loc:?}"
        );
    }

    #[test]
    fn broken_json_and_trailing_text_are_json_errors() {
        assert_eq!(failure::<CreateUserRequest>("{").0, "json_invalid");
        assert_eq!(
            failure::<CreateUserRequest>(r#"{"username":"a","global_role":"user"} x"#).0,
            "json_invalid"
        );
    }
}
