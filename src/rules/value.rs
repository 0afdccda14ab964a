//! Typed values: what rule values and row cells are parsed into.

use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};

use chrono::{NaiveDate, NaiveDateTime};

use super::ColumnType;

/// A typed value of a column, or NULL.
///
/// ```
/// use rowguard::rules::{ColumnType, Value};
///
/// assert_eq!(Value::parse(ColumnType::Integer, "42"), Ok(Value::Int(42)));
/// assert!(Value::parse(ColumnType::Integer, "x").unwrap_err().contains("not an integer"));
/// ```
#[derive(Debug, Clone)]
pub enum Value {
    /// SQL NULL.
    Null,
    /// `integer` and `bigint` columns.
    Int(i64),
    /// `float` columns (never NaN).
    Float(f64),
    /// `text` columns.
    Text(String),
    /// `bool` columns.
    Bool(bool),
    /// `date` columns.
    Date(NaiveDate),
    /// `timestamp` columns.
    Timestamp(NaiveDateTime),
    /// `uuid` columns, lowercase hyphenated.
    Uuid(String),
}

impl Value {
    /// Parses `text` as a value of `ty`; the error says what was expected.
    pub fn parse(ty: ColumnType, text: &str) -> Result<Value, String> {
        ValueRef::parse(ty, text).map(ValueRef::to_value)
    }

    /// A borrowed view of this value (no copy of its text).
    #[inline]
    pub fn borrowed(&self) -> ValueRef<'_> {
        match self {
            Value::Null => ValueRef::Null,
            Value::Int(v) => ValueRef::Int(*v),
            Value::Float(v) => ValueRef::Float(*v),
            Value::Text(v) => ValueRef::Text(v),
            Value::Bool(v) => ValueRef::Bool(*v),
            Value::Date(v) => ValueRef::Date(*v),
            Value::Timestamp(v) => ValueRef::Timestamp(*v),
            Value::Uuid(v) => ValueRef::Uuid(v),
        }
    }

    /// Whether this is NULL.
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// SQL comparison: `None` when either side is NULL or the types differ.
    #[inline]
    pub fn sql_cmp(&self, other: &Value) -> Option<Ordering> {
        self.borrowed().sql_cmp(other.borrowed())
    }
}

/// A value of a column, or NULL, borrowed: what rows hand to the in-memory evaluator, so a
/// check copies no text. [`Value::borrowed`] and [`ValueRef::to_value`] convert.
///
/// ```
/// use rowguard::rules::{ColumnType, Value, ValueRef};
///
/// let name = String::from("Ann");
/// let cell = ValueRef::Text(&name);
/// assert_eq!(cell.sql_cmp(ValueRef::Text("Bob")), Some(std::cmp::Ordering::Less));
/// assert_eq!(ValueRef::parse(ColumnType::Integer, "7"), Ok(ValueRef::Int(7)));
/// assert_eq!(cell.to_value(), Value::Text("Ann".into()));
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ValueRef<'a> {
    /// SQL NULL.
    Null,
    /// `integer` and `bigint` columns.
    Int(i64),
    /// `float` columns (never NaN).
    Float(f64),
    /// `text` columns.
    Text(&'a str),
    /// `bool` columns.
    Bool(bool),
    /// `date` columns.
    Date(NaiveDate),
    /// `timestamp` columns.
    Timestamp(NaiveDateTime),
    /// `uuid` columns (hyphenated; compared ignoring ASCII case).
    Uuid(&'a str),
}

impl<'a> ValueRef<'a> {
    /// Parses `text` as a value of `ty` without copying it; the error says what was expected.
    pub fn parse(ty: ColumnType, text: &'a str) -> Result<ValueRef<'a>, String> {
        let fail = |what: &str| Err(format!("\"{}\" is not {what}", text.escape_debug()));
        match ty {
            ColumnType::Integer => match text.parse::<i32>() {
                Ok(v) => Ok(ValueRef::Int(v.into())),
                Err(_) => fail("an integer (32-bit)"),
            },
            ColumnType::Bigint => match text.parse::<i64>() {
                Ok(v) => Ok(ValueRef::Int(v)),
                Err(_) => fail("an integer (64-bit)"),
            },
            ColumnType::Float => match text.parse::<f64>() {
                Ok(v) if v.is_finite() && !has_letters(text) => Ok(ValueRef::Float(v)),
                _ => fail("a finite number"),
            },
            ColumnType::Text => {
                if text.contains('\0') {
                    Err("text values cannot contain NUL bytes".to_owned())
                } else {
                    Ok(ValueRef::Text(text))
                }
            }
            ColumnType::Bool => match text {
                "true" | "1" => Ok(ValueRef::Bool(true)),
                "false" | "0" => Ok(ValueRef::Bool(false)),
                _ => fail("a bool (true, false, 1 or 0)"),
            },
            ColumnType::Date => match NaiveDate::parse_from_str(text, "%Y-%m-%d") {
                Ok(d) if text.len() == 10 => Ok(ValueRef::Date(d)),
                _ => fail("a date (YYYY-MM-DD)"),
            },
            ColumnType::Timestamp => parse_timestamp(text)
                .map(ValueRef::Timestamp)
                .ok_or(())
                .or_else(|()| fail("a timestamp (YYYY-MM-DD HH:MM:SS[.fff], or with T)")),
            ColumnType::Uuid if is_uuid(text) => Ok(ValueRef::Uuid(text)),
            ColumnType::Uuid => fail("a UUID (8-4-4-4-12 hex digits)"),
        }
    }

    /// Whether this is NULL.
    #[inline]
    pub fn is_null(self) -> bool {
        matches!(self, ValueRef::Null)
    }

    /// SQL comparison: `None` when either side is NULL or the types differ.
    #[inline]
    pub fn sql_cmp(self, other: ValueRef<'_>) -> Option<Ordering> {
        match (self, other) {
            (ValueRef::Int(a), ValueRef::Int(b)) => Some(a.cmp(&b)),
            (ValueRef::Float(a), ValueRef::Float(b)) => a.partial_cmp(&b),
            // Byte order: the meaning rowguard renders on every backend.
            (ValueRef::Text(a), ValueRef::Text(b)) => Some(a.as_bytes().cmp(b.as_bytes())),
            (ValueRef::Bool(a), ValueRef::Bool(b)) => Some(a.cmp(&b)),
            (ValueRef::Date(a), ValueRef::Date(b)) => Some(a.cmp(&b)),
            (ValueRef::Timestamp(a), ValueRef::Timestamp(b)) => Some(a.cmp(&b)),
            // Stored UUIDs are lowercase; a subject attribute may not be.
            (ValueRef::Uuid(a), ValueRef::Uuid(b)) => Some(
                a.bytes()
                    .map(|c| c.to_ascii_lowercase())
                    .cmp(b.bytes().map(|c| c.to_ascii_lowercase())),
            ),
            _ => None,
        }
    }

    /// [`ValueRef::sql_cmp`] against an owned value, matched in place (the evaluator's
    /// hot path: rule operands are owned, row cells borrowed).
    #[inline]
    pub fn sql_cmp_value(self, other: &Value) -> Option<Ordering> {
        match (self, other) {
            (ValueRef::Int(a), Value::Int(b)) => Some(a.cmp(b)),
            (ValueRef::Text(a), Value::Text(b)) => Some(a.as_bytes().cmp(b.as_bytes())),
            _ => self.sql_cmp(other.borrowed()),
        }
    }

    /// An owned copy (UUIDs in their stored lowercase form).
    pub fn to_value(self) -> Value {
        match self {
            ValueRef::Null => Value::Null,
            ValueRef::Int(v) => Value::Int(v),
            ValueRef::Float(v) => Value::Float(v),
            ValueRef::Text(v) => Value::Text(v.to_owned()),
            ValueRef::Bool(v) => Value::Bool(v),
            ValueRef::Date(v) => Value::Date(v),
            ValueRef::Timestamp(v) => Value::Timestamp(v),
            ValueRef::Uuid(v) => Value::Uuid(v.to_ascii_lowercase()),
        }
    }
}

/// A Rust field type a model's column can be read from without copying
/// (what [`authorizable!`](crate::authorizable) uses for [`Row`](super::Row)).
pub trait AsValueRef {
    /// The value, borrowed.
    fn as_value_ref(&self) -> ValueRef<'_>;
}

macro_rules! as_value_ref {
    ($($ty:ty => |$v:ident| $e:expr),+ $(,)?) => {$(
        impl AsValueRef for $ty {
            #[inline]
            fn as_value_ref(&self) -> ValueRef<'_> {
                let $v = self;
                $e
            }
        }
    )+};
}

as_value_ref!(
    i64 => |v| ValueRef::Int(*v),
    i32 => |v| ValueRef::Int((*v).into()),
    i16 => |v| ValueRef::Int((*v).into()),
    f64 => |v| ValueRef::Float(*v),
    f32 => |v| ValueRef::Float((*v).into()),
    bool => |v| ValueRef::Bool(*v),
    String => |v| ValueRef::Text(v),
    str => |v| ValueRef::Text(v),
    NaiveDate => |v| ValueRef::Date(*v),
    NaiveDateTime => |v| ValueRef::Timestamp(*v),
    Value => |v| v.borrowed(),
);

impl<T: AsValueRef> AsValueRef for Option<T> {
    #[inline]
    fn as_value_ref(&self) -> ValueRef<'_> {
        self.as_ref().map_or(ValueRef::Null, T::as_value_ref)
    }
}

/// Rust's float parser accepts `inf`, `NaN` and `1e5`; rules take plain decimals and exponents.
fn has_letters(text: &str) -> bool {
    text.chars()
        .any(|c| c.is_ascii_alphabetic() && c != 'e' && c != 'E')
}

fn parse_timestamp(text: &str) -> Option<NaiveDateTime> {
    ["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f"]
        .iter()
        .find_map(|f| NaiveDateTime::parse_from_str(text, f).ok())
}

fn is_uuid(text: &str) -> bool {
    let shape = [8, 4, 4, 4, 12];
    let mut groups = 0;
    for (i, group) in text.split('-').enumerate() {
        groups += 1;
        if shape.get(i) != Some(&group.len()) || !group.bytes().all(|c| c.is_ascii_hexdigit()) {
            return false;
        }
    }
    groups == shape.len()
}

// Equality and hashing are structural (floats by bits) so merged rules can be deduplicated.
impl PartialEq for Value {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Value::Float(a), Value::Float(b)) => a.to_bits() == b.to_bits(),
            (Value::Null, Value::Null) => true,
            (Value::Int(a), Value::Int(b)) => a == b,
            (Value::Text(a), Value::Text(b)) | (Value::Uuid(a), Value::Uuid(b)) => a == b,
            (Value::Bool(a), Value::Bool(b)) => a == b,
            (Value::Date(a), Value::Date(b)) => a == b,
            (Value::Timestamp(a), Value::Timestamp(b)) => a == b,
            _ => false,
        }
    }
}

impl Eq for Value {}

impl Hash for Value {
    fn hash<H: Hasher>(&self, state: &mut H) {
        std::mem::discriminant(self).hash(state);
        match self {
            Value::Null => {}
            Value::Int(v) => v.hash(state),
            Value::Float(v) => v.to_bits().hash(state),
            Value::Text(v) | Value::Uuid(v) => v.hash(state),
            Value::Bool(v) => v.hash(state),
            Value::Date(v) => v.hash(state),
            Value::Timestamp(v) => v.hash(state),
        }
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Null => f.write_str("NULL"),
            Value::Int(v) => write!(f, "{v}"),
            Value::Float(v) => write!(f, "{v:?}"),
            Value::Text(v) | Value::Uuid(v) => write!(f, "'{}'", v.replace('\'', "''")),
            Value::Bool(v) => write!(f, "{v}"),
            Value::Date(v) => write!(f, "'{v}'"),
            Value::Timestamp(v) => write!(f, "'{}'", v.format("%Y-%m-%d %H:%M:%S%.f")),
        }
    }
}

impl From<i64> for Value {
    fn from(v: i64) -> Self {
        Value::Int(v)
    }
}

impl From<i32> for Value {
    fn from(v: i32) -> Self {
        Value::Int(v.into())
    }
}

impl From<f64> for Value {
    fn from(v: f64) -> Self {
        Value::Float(v)
    }
}

impl From<bool> for Value {
    fn from(v: bool) -> Self {
        Value::Bool(v)
    }
}

impl From<&str> for Value {
    fn from(v: &str) -> Self {
        Value::Text(v.to_owned())
    }
}

impl From<String> for Value {
    fn from(v: String) -> Self {
        Value::Text(v)
    }
}

impl From<NaiveDate> for Value {
    fn from(v: NaiveDate) -> Self {
        Value::Date(v)
    }
}

impl From<NaiveDateTime> for Value {
    fn from(v: NaiveDateTime) -> Self {
        Value::Timestamp(v)
    }
}

impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Self {
        v.map_or(Value::Null, Into::into)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_type_parses_and_rejects() {
        let cases: &[(ColumnType, &str, bool)] = &[
            (ColumnType::Integer, "-2147483648", true),
            (ColumnType::Integer, "2147483648", false),
            (ColumnType::Bigint, "9223372036854775807", true),
            (ColumnType::Bigint, "1.5", false),
            (ColumnType::Float, "1.5e3", true),
            (ColumnType::Float, "inf", false),
            (ColumnType::Float, "NaN", false),
            (ColumnType::Text, "anything at all", true),
            (ColumnType::Text, "nul\0byte", false),
            (ColumnType::Bool, "true", true),
            (ColumnType::Bool, "yes", false),
            (ColumnType::Date, "2024-02-29", true),
            (ColumnType::Date, "2023-02-29", false),
            (ColumnType::Date, "2024-2-1", false),
            (ColumnType::Timestamp, "2024-01-02 03:04:05", true),
            (ColumnType::Timestamp, "2024-01-02T03:04:05.25", true),
            (ColumnType::Timestamp, "2024-01-02", false),
            (
                ColumnType::Uuid,
                "67E55044-10B1-426F-9247-BB680E5FE0C8",
                true,
            ),
            (ColumnType::Uuid, "67e55044-10b1-426f-9247", false),
        ];
        for &(ty, text, ok) in cases {
            assert_eq!(Value::parse(ty, text).is_ok(), ok, "{ty} {text:?}");
        }
        assert_eq!(
            Value::parse(ColumnType::Uuid, "67E55044-10B1-426F-9247-BB680E5FE0C8"),
            Ok(Value::Uuid("67e55044-10b1-426f-9247-bb680e5fe0c8".into()))
        );
    }

    #[test]
    fn text_compares_by_bytes() {
        let a = Value::from("B");
        let b = Value::from("a");
        assert_eq!(a.sql_cmp(&b), Some(Ordering::Less));
        assert_eq!(Value::Null.sql_cmp(&a), None);
    }
}
