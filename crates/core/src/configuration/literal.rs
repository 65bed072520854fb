//! Single-value string enums for the literal fields of dstack's models (`type: task`,
//! `metric: rps`, ...): they accept and write exactly one string.

/// Declares a unit-like enum that accepts and serializes exactly `$value`.
macro_rules! literal {
    ($(#[$meta:meta])* $name:ident = $value:literal) => {
        $(#[$meta])*
        #[derive(
            Debug, Clone, Copy, Default, PartialEq, Eq,
            serde::Serialize, serde::Deserialize, schemars::JsonSchema,
        )]
        pub enum $name {
            #[default]
            #[serde(rename = $value)]
            Value,
        }
    };
}
pub(crate) use literal;
