//! JSON text assembled in SQL, written once for both engines: a run's submissions come back
//! as one value of the run's row instead of one row each, which SQLite's driver would hand
//! across threads one at a time. Stored JSON columns are spliced in as they are.

use std::borrow::Cow;

use serde::{Deserialize, Deserializer};
use serde_json::value::RawValue;

use super::Engine;

/// How a column's value becomes JSON.
#[derive(Debug, Clone, Copy)]
pub enum Kind {
    /// Text, quoted; NULL is `null`.
    Text,
    /// An integer; NULL is `null`.
    Int,
    /// Stored JSON text, spliced in unchanged; NULL is `null`.
    Json,
}

/// The SQL of a JSON object with one member per `(column, kind)` of the row aliased `alias`,
/// named as the column.
pub fn object(engine: Engine, alias: &str, columns: &[(&str, Kind)]) -> String {
    let members: Vec<String> = columns
        .iter()
        .enumerate()
        .map(|(n, (column, kind))| {
            let separator = if n == 0 { '{' } else { ',' };
            let value = value(engine, &format!("{alias}.{column}"), *kind);
            format!("'{separator}\"{column}\":', {value}")
        })
        .collect();
    // One `concat` call builds the text once; a chain of `||` would copy it per member.
    format!("concat({}, '}}')", members.join(", "))
}

fn value(engine: Engine, expression: &str, kind: Kind) -> String {
    match (kind, engine) {
        (Kind::Text, Engine::Sqlite) => format!("json_quote({expression})"),
        (Kind::Text, Engine::Postgres) => format!("COALESCE(to_json({expression})::text, 'null')"),
        (Kind::Int, _) => format!("COALESCE(CAST({expression} AS TEXT), 'null')"),
        (Kind::Json, _) => format!("COALESCE({expression}, 'null')"),
    }
}

/// The SQL of the aggregate that joins the group's `item`s (JSON texts), ordered by `order`,
/// into a JSON array; an empty group is `[]`.
pub fn array(engine: Engine, item: &str, order: &str) -> String {
    let concat = match engine {
        Engine::Sqlite => "group_concat",
        Engine::Postgres => "string_agg",
    };
    format!("'[' || COALESCE({concat}({item}, ',' ORDER BY {order}), '') || ']'")
}

/// Deserializes a spliced-in JSON value as its text, borrowed from the document.
pub fn raw_text<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Cow<'de, str>, D::Error> {
    let raw: &'de RawValue = Deserialize::deserialize(deserializer)?;
    Ok(Cow::Borrowed(raw.get()))
}

/// [`raw_text`] for a nullable column.
pub fn raw_text_opt<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Cow<'de, str>>, D::Error> {
    let raw: Option<&'de RawValue> = Deserialize::deserialize(deserializer)?;
    Ok(raw.map(|raw| Cow::Borrowed(raw.get())))
}
