//! Values written in several forms: a shorthand scalar or a full object.
//!
//! dstack accepts, for example, a gateway as `true`, `name`, `project/name` or
//! `{project, name}`. [`Forms`] lists which forms a type takes and how each becomes the type;
//! [`impl_deserialize_forms!`] derives `Deserialize` from it with a visitor, so errors keep their
//! YAML location and field path (`#[serde(untagged)]` would lose both).

use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, DeserializeOwned, MapAccess, SeqAccess, Unexpected, Visitor};

/// How a scalar form was turned down.
pub(crate) enum FormError {
    /// The type has no such form.
    Unsupported,
    /// The form is known but the value is invalid.
    Invalid(String),
}

impl From<String> for FormError {
    fn from(message: String) -> Self {
        Self::Invalid(message)
    }
}

/// The object form of a type that has none: it cannot be built, so `from_object` is
/// `match object {}`, and a mapping is turned down before anything is read.
pub(crate) enum NoObject {}

impl<'de> serde::Deserialize<'de> for NoObject {
    fn deserialize<D: serde::Deserializer<'de>>(_: D) -> Result<Self, D::Error> {
        Err(de::Error::custom("a mapping is not allowed here"))
    }
}

/// The forms a value may take. Every form is turned down unless the type overrides it.
pub(crate) trait Forms: Sized {
    /// The full object form, a struct with `deny_unknown_fields`, or [`NoObject`].
    type Object: DeserializeOwned;
    /// Whether a mapping is accepted, as `Object`.
    const HAS_OBJECT: bool = true;
    /// What the forms are, for error messages.
    const EXPECTING: &'static str;

    fn from_object(object: Self::Object) -> Result<Self, String>;

    fn from_str(_value: &str) -> Result<Self, FormError> {
        Err(FormError::Unsupported)
    }
    fn from_bool(_value: bool) -> Result<Self, FormError> {
        Err(FormError::Unsupported)
    }
    fn from_i64(_value: i64) -> Result<Self, FormError> {
        Err(FormError::Unsupported)
    }
    fn from_f64(_value: f64) -> Result<Self, FormError> {
        Err(FormError::Unsupported)
    }
    /// The sequence form, when the type has one.
    fn from_seq<'de, A: SeqAccess<'de>>(seq: A) -> Result<Result<Self, FormError>, A::Error> {
        let _ = seq;
        Ok(Err(FormError::Unsupported))
    }
}

pub(crate) struct FormsVisitor<T>(PhantomData<T>);

impl<T> FormsVisitor<T> {
    pub(crate) fn new() -> Self {
        Self(PhantomData)
    }
}

fn finish<T: Forms, E: de::Error>(
    result: Result<T, FormError>,
    unexpected: Unexpected<'_>,
    visitor: &FormsVisitor<T>,
) -> Result<T, E> {
    match result {
        Ok(value) => Ok(value),
        Err(FormError::Unsupported) => Err(E::invalid_type(unexpected, visitor)),
        Err(FormError::Invalid(message)) => Err(E::custom(message)),
    }
}

impl<'de, T: Forms> Visitor<'de> for FormsVisitor<T> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(T::EXPECTING)
    }

    fn visit_str<E: de::Error>(self, value: &str) -> Result<T, E> {
        finish(T::from_str(value), Unexpected::Str(value), &self)
    }

    fn visit_bool<E: de::Error>(self, value: bool) -> Result<T, E> {
        finish(T::from_bool(value), Unexpected::Bool(value), &self)
    }

    fn visit_i64<E: de::Error>(self, value: i64) -> Result<T, E> {
        finish(T::from_i64(value), Unexpected::Signed(value), &self)
    }

    fn visit_u64<E: de::Error>(self, value: u64) -> Result<T, E> {
        match i64::try_from(value) {
            Ok(signed) => self.visit_i64(signed),
            Err(_) => Err(E::invalid_value(Unexpected::Unsigned(value), &self)),
        }
    }

    fn visit_f64<E: de::Error>(self, value: f64) -> Result<T, E> {
        finish(T::from_f64(value), Unexpected::Float(value), &self)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<T, A::Error> {
        let result = T::from_seq(seq)?;
        finish(result, Unexpected::Seq, &self)
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
        if !T::HAS_OBJECT {
            return Err(de::Error::invalid_type(Unexpected::Map, &self));
        }
        let object: T::Object =
            serde::Deserialize::deserialize(de::value::MapAccessDeserializer::new(map))?;
        T::from_object(object).map_err(de::Error::custom)
    }
}

/// Derives `Deserialize` for a type that implements [`Forms`].
macro_rules! impl_deserialize_forms {
    ($type:ty) => {
        impl<'de> serde::Deserialize<'de> for $type {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                deserializer.deserialize_any($crate::configuration::forms::FormsVisitor::new())
            }
        }
    };
}
pub(crate) use impl_deserialize_forms;

/// Derives a JSON schema `anyOf` the given scalar schemas and the object form's schema.
macro_rules! impl_schema_forms {
    ($type:ty, $name:literal, [$($scalar:tt),*]) => {
        impl schemars::JsonSchema for $type {
            fn schema_name() -> std::borrow::Cow<'static, str> {
                $name.into()
            }
            fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
                let object = generator.subschema_for::<<$type as $crate::configuration::forms::Forms>::Object>();
                schemars::json_schema!({
                    "description": <$type as $crate::configuration::forms::Forms>::EXPECTING,
                    "anyOf": [$($scalar,)* object]
                })
            }
        }
    };
}
pub(crate) use impl_schema_forms;
