//! Request bodies: [`JsonBody`] for endpoints that need one, [`OptionalBody`] for those where
//! no body means defaults (api.md §1.2). Both name the offending field on bad input.

use axum::body::{Body, Bytes};
use axum::extract::{FromRequest, Request};
use axum::middleware::Next;
use axum::response::Response;
use serde::de::DeserializeOwned;
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
/// unread, and a client still writing it would get a broken pipe instead of the answer.
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

fn is_blank(bytes: &[u8]) -> bool {
    bytes.iter().all(u8::is_ascii_whitespace)
}

/// Parses `bytes` as `T`, keeping the path of the field that failed.
fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ServerError> {
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut deserializer).map_err(|error| {
        let mut loc = vec!["body".to_owned()];
        loc.extend(error.path().iter().filter_map(|segment| match segment {
            Segment::Seq { index } => Some(index.to_string()),
            Segment::Map { key } => Some(key.clone()),
            Segment::Enum { variant } => Some(variant.clone()),
            Segment::Unknown => None,
        }));
        invalid(loc, error.into_inner())
    })?;
    deserializer
        .end()
        .map_err(|error| invalid(vec!["body".to_owned()], error))?;
    Ok(value)
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

#[cfg(test)]
mod tests {
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
    fn broken_json_and_trailing_text_are_json_errors() {
        assert_eq!(failure::<CreateUserRequest>("{").0, "json_invalid");
        assert_eq!(
            failure::<CreateUserRequest>(r#"{"username":"a","global_role":"user"} x"#).0,
            "json_invalid"
        );
    }
}
