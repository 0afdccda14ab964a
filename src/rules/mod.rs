//! The rule language (README: *The rule language*): one job per module.
//!
//! - [`parse`](parse_document): JSON text → syntax tree ([`ast`]).
//! - [`validate`](compile_document): syntax tree + the model's [`Columns`] (and, for relation
//!   conditions, the [`Schema`] of related models) → typed [`Filter`]s.
//! - [`merge`]: the union of several rule rows for one right.
//! - [`SqlFilter`]: a filter as SQL with bound values, per backend.
//! - [`Filter::eval`]: the same filter in memory, with SQL's three-valued logic.

pub mod ast;
mod columns;
mod error;
mod eval;
mod filter;
mod keys;
mod merge;
mod parse;
pub(crate) use self::parse::deserialize_strict;
mod relation;
mod sql;
mod validate;
mod value;

pub use self::ast::{
    ColumnName, Cond, Grant, Op, Piece, Related, Right, RuleDocument, Search, Term,
};
pub use self::columns::{is_identifier, ColumnType, Columns};
pub use self::error::{RuleError, RuleErrorKind};
pub use self::eval::Row;
pub use self::filter::{
    Attributes, CmpOp, Exists, Filter, Operand, Pattern, Test, TestKind, LIKE_ESCAPE,
};
pub use self::keys::{AnyRowQuery, KeysQuery};
pub use self::merge::{allowed, merge, merge_columns, ColumnAccess, Merged};
pub(crate) use self::parse::mentions_deny;
pub use self::parse::{
    escape_value, may_deny, parse_condition, parse_document, parse_json, strict_json,
};
pub use self::relation::{
    Relation, RelationKind, Schema, SchemaModel, MAX_PROTECTED_DEPTH, MAX_PROTECTED_EXISTS,
    MAX_RELATION_DEPTH,
};
pub use self::sql::{Dialect, SqlFilter, LONG_LIST};
pub use self::validate::{
    compile_document, compile_document_in, validate, validate_in, Access, CompiledRules,
};
pub use self::value::{AsValueRef, Value, ValueRef};

#[cfg(test)]
mod relation_tests;
#[cfg(test)]
mod tests;
