//! Column types and the column list of a model: what rules may refer to.

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::RuleError;

/// The type of a column rules may use. Stored in `authorizable_models.columns`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ColumnType {
    /// 32-bit integer.
    Integer,
    /// 64-bit integer.
    Bigint,
    /// Double-precision float.
    Float,
    /// Text, compared byte by byte (see the README's rule-language section).
    Text,
    /// Boolean: `true`/`false` (or `1`/`0`).
    Bool,
    /// Date, `YYYY-MM-DD`.
    Date,
    /// Timestamp without time zone, `YYYY-MM-DD HH:MM:SS[.fff]` (a `T` may replace the space).
    Timestamp,
    /// UUID, stored natively on PostgreSQL and as lowercase hyphenated text elsewhere.
    Uuid,
}

impl ColumnType {
    /// Every type, in documentation order.
    pub const ALL: [ColumnType; 8] = [
        ColumnType::Integer,
        ColumnType::Bigint,
        ColumnType::Float,
        ColumnType::Text,
        ColumnType::Bool,
        ColumnType::Date,
        ColumnType::Timestamp,
        ColumnType::Uuid,
    ];

    /// The name used in JSON and messages.
    pub fn name(self) -> &'static str {
        match self {
            ColumnType::Integer => "integer",
            ColumnType::Bigint => "bigint",
            ColumnType::Float => "float",
            ColumnType::Text => "text",
            ColumnType::Bool => "bool",
            ColumnType::Date => "date",
            ColumnType::Timestamp => "timestamp",
            ColumnType::Uuid => "uuid",
        }
    }

    /// Whether `<`, `>`, `<=`, `>=`, `<>` and `!<>` apply.
    pub fn is_ordered(self) -> bool {
        !matches!(self, ColumnType::Bool | ColumnType::Uuid)
    }
}

impl fmt::Display for ColumnType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for ColumnType {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        ColumnType::ALL
            .into_iter()
            .find(|t| t.name() == s)
            .ok_or_else(|| {
                format!(
                    "unknown column type \"{s}\"; expected one of integer, bigint, float, text, \
                     bool, date, timestamp, uuid"
                )
            })
    }
}

/// The columns of a model that rules may use, in a fixed order (rows are given in it).
///
/// ```
/// use rowguard::rules::{ColumnType, Columns};
///
/// let cols = Columns::from_json(r#"{"id":"integer","name":"text"}"#).unwrap();
/// assert_eq!(cols.get("name"), Some((1, ColumnType::Text)));
/// assert!(Columns::from_json(r#"{"id":"int"}"#).is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Columns {
    names: Vec<String>,
    types: Vec<ColumnType>,
    index: HashMap<String, usize>,
}

impl Columns {
    /// Builds the list from `(name, type)` pairs; names must be unique identifiers.
    pub fn new<N: Into<String>>(
        columns: impl IntoIterator<Item = (N, ColumnType)>,
    ) -> Result<Self, RuleError> {
        let mut out = Columns::default();
        for (name, ty) in columns {
            let name = name.into();
            if !is_identifier(&name) {
                return Err(RuleError::schema(format!(
                    "column name \"{}\" is not an identifier (letters, digits, _; not starting \
                     with a digit; at most 64 characters)",
                    name.escape_debug()
                )));
            }
            if out.index.insert(name.clone(), out.names.len()).is_some() {
                return Err(RuleError::schema(format!(
                    "column \"{name}\" is declared twice"
                )));
            }
            out.names.push(name);
            out.types.push(ty);
        }
        Ok(out)
    }

    /// Parses the JSON stored in `authorizable_models.columns`: `{"name": "type", …}`.
    pub fn from_json(json: &str) -> Result<Self, RuleError> {
        let map: serde_json::Map<String, serde_json::Value> = serde_json::from_str(json)
            .map_err(|e| RuleError::schema(format!("columns are not a JSON object: {e}")))?;
        let mut pairs = Vec::with_capacity(map.len());
        for (name, ty) in map {
            let ty = ty
                .as_str()
                .ok_or_else(|| {
                    RuleError::schema(format!("column \"{name}\": type must be a string"))
                })?
                .parse::<ColumnType>()
                .map_err(|e| RuleError::schema(format!("column \"{name}\": {e}")))?;
            pairs.push((name, ty));
        }
        Self::new(pairs)
    }

    /// The JSON form stored in `authorizable_models.columns`.
    pub fn to_json(&self) -> String {
        let map: serde_json::Map<String, serde_json::Value> = self
            .iter()
            .map(|(n, t)| (n.to_owned(), serde_json::Value::from(t.name())))
            .collect();
        serde_json::Value::Object(map).to_string()
    }

    /// Index and type of a column.
    pub fn get(&self, name: &str) -> Option<(usize, ColumnType)> {
        self.index.get(name).map(|&i| (i, self.types[i]))
    }

    /// Name of the column at `index`.
    pub fn name(&self, index: usize) -> &str {
        &self.names[index]
    }

    /// Type of the column at `index`.
    pub fn column_type(&self, index: usize) -> ColumnType {
        self.types[index]
    }

    /// Number of columns.
    pub fn len(&self) -> usize {
        self.names.len()
    }

    /// True when there are no columns.
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// `(name, type)` in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, ColumnType)> {
        self.names
            .iter()
            .map(String::as_str)
            .zip(self.types.iter().copied())
    }

    /// The declared names, comma-separated (for "expected one of" messages).
    pub fn names_list(&self) -> String {
        self.names.join(", ")
    }
}

/// SQL identifiers rowguard accepts for tables and columns. Quoting makes any name safe,
/// but a strict shape keeps DBA mistakes and injection attempts out of the metadata.
pub fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && name.len() <= 64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_are_strict() {
        for good in ["id", "_x", "owner_id", "A1"] {
            assert!(is_identifier(good), "{good}");
        }
        for bad in ["", "1a", "a b", "a\"b", "a`b", "x;DROP", "a\0", "é"] {
            assert!(!is_identifier(bad), "{bad:?}");
        }
    }

    #[test]
    fn columns_reject_bad_names_and_types() {
        let err = Columns::from_json(r#"{"id\"; DROP TABLE x; --":"integer"}"#).unwrap_err();
        assert!(err.to_string().contains("not an identifier"), "{err}");
        let err = Columns::from_json(r#"{"id":"number"}"#).unwrap_err();
        assert!(
            err.to_string().contains("unknown column type \"number\""),
            "{err}"
        );
        let err = Columns::from_json("[1]").unwrap_err();
        assert!(err.to_string().contains("not a JSON object"), "{err}");
    }

    #[test]
    fn columns_round_trip_through_json() {
        let cols =
            Columns::new([("id", ColumnType::Bigint), ("at", ColumnType::Timestamp)]).unwrap();
        assert_eq!(Columns::from_json(&cols.to_json()).unwrap(), cols);
    }
}
