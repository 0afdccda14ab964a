//! Merging the rules of all of a subject's set values for one right (a union).

use super::filter::Filter;
use super::validate::Access;

/// The merged access of a subject to a model for one right.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Merged {
    /// No rule grants anything: reads see no rows (`1=0`), writes are denied.
    Nothing,
    /// Some rule grants `"*"`: every row, no filter.
    Everything,
    /// The rows any of the rules' searches selects.
    Rows(Filter),
}

/// Merges the accesses granted by several rule rows: any `"*"` wins; otherwise the searches
/// are ORed (duplicates removed, `=` lists on one column joined into one `IN`); no access
/// means nothing.
///
/// ```
/// use rowguard::rules::{compile_document, merge, ColumnType, Columns, Merged, Right};
///
/// let cols = Columns::new([("id", ColumnType::Integer)]).unwrap();
/// let a = compile_document(r#"{"read":{"search":{"id":"=1;2;3"}}}"#, &cols).unwrap();
/// let b = compile_document(r#"{"read":{"search":{"id":"=3;4"}}}"#, &cols).unwrap();
/// let merged = merge([a.access(Right::Read), b.access(Right::Read)].into_iter().flatten());
/// let Merged::Rows(filter) = merged else { panic!() };
/// assert_eq!(filter.to_string(), "id IN (1, 2, 3, 4)");
/// ```
pub fn merge<'a>(accesses: impl IntoIterator<Item = &'a Access>) -> Merged {
    let mut filters = Vec::new();
    for access in accesses {
        match access {
            Access::Everything => return Merged::Everything,
            Access::Rows(filter) => filters.push(filter.clone()),
        }
    }
    if filters.is_empty() {
        return Merged::Nothing;
    }
    match Filter::Or(filters).simplify() {
        Filter::True => Merged::Everything,
        Filter::False => Merged::Nothing,
        filter => Merged::Rows(filter),
    }
}

/// The rows a right reaches: what the grants allow (`allow`, merged) and no deny (`deny`,
/// merged the same way) matches or might match: `(allow) AND NOT (deny TRUE or NULL)`.
///
/// ```
/// use rowguard::rules::{allowed, compile_document, merge, ColumnType, Columns, Right};
///
/// let cols = Columns::new([("id", ColumnType::Integer), ("status", ColumnType::Text)]).unwrap();
/// let doc = r#"{"read":{"search":{"id":"<10"}},"deny":{"read":{"search":{"status":"=archived"}}}}"#;
/// let rules = compile_document(doc, &cols).unwrap();
/// let filter = allowed(&merge(rules.access(Right::Read)), &merge(rules.deny(Right::Read)));
/// assert_eq!(
///     filter.to_string(),
///     "(id < 10 AND NOT (status = 'archived' OR status IS NULL))"
/// );
/// ```
pub fn allowed(allow: &Merged, deny: &Merged) -> Filter {
    match deny {
        Merged::Nothing => allow.to_filter(),
        Merged::Everything => Filter::False,
        Merged::Rows(denied) => Filter::And(vec![
            allow.to_filter(),
            Filter::Not(Box::new(denied.true_or_unknown())),
        ])
        .simplify(),
    }
}

impl Merged {
    /// The merged access as one filter (`True` for everything, `False` for nothing).
    pub fn to_filter(&self) -> Filter {
        match self {
            Merged::Nothing => Filter::False,
            Merged::Everything => Filter::True,
            Merged::Rows(f) => f.clone(),
        }
    }
}
