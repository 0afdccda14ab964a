//! Merging the rules of all of a subject's set values for one right (a union).

use super::filter::Filter;
use super::validate::{Access, CompiledRules};
use super::Right;

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
/// merged the same way) matches: `(allow) AND NOT (deny)`. Where a deny condition is unknown
/// (a NULL column), `NOT` of it is unknown too, and only TRUE passes (a `WHERE`, and
/// [`Filter::matches`]): a NULL never lets a row through. The filter is meant for that use
/// only; under a further `NOT` it would mean something else.
///
/// ```
/// use rowguard::rules::{allowed, compile_document, merge, ColumnType, Columns, Right, Value};
///
/// let cols = Columns::new([("id", ColumnType::Integer), ("status", ColumnType::Text)]).unwrap();
/// let doc = r#"{"read":{"search":{"id":"<10"}},"deny":{"read":{"search":{"status":"=archived"}}}}"#;
/// let rules = compile_document(doc, &cols).unwrap();
/// let filter = allowed(&merge(rules.access(Right::Read)), &merge(rules.deny(Right::Read)));
/// assert_eq!(filter.to_string(), "(id < 10 AND NOT (status = 'archived'))");
/// assert!(filter.matches(&[Value::Int(1), Value::from("open")][..]));
/// assert!(!filter.matches(&[Value::Int(1), Value::Null][..])); // unknown: refused
/// ```
pub fn allowed(allow: &Merged, deny: &Merged) -> Filter {
    match deny {
        Merged::Nothing => allow.to_filter(),
        Merged::Everything => Filter::False,
        Merged::Rows(denied) => Filter::And(vec![
            allow.to_filter(),
            Filter::Not(Box::new(denied.clone())),
        ])
        .simplify(),
    }
}

impl Merged {
    /// Both accesses together, as two rule rows merge: any `"*"` wins, searches are ORed.
    ///
    /// ```
    /// use rowguard::rules::{Filter, Merged};
    ///
    /// assert_eq!(Merged::Nothing.union(&Merged::Everything), Merged::Everything);
    /// assert_eq!(Merged::Nothing.union(&Merged::Nothing), Merged::Nothing);
    /// ```
    pub fn union(&self, other: &Merged) -> Merged {
        match (self, other) {
            (Merged::Everything, _) | (_, Merged::Everything) => Merged::Everything,
            (Merged::Nothing, x) | (x, Merged::Nothing) => x.clone(),
            (Merged::Rows(a), Merged::Rows(b)) => {
                match Filter::Or(vec![a.clone(), b.clone()]).simplify() {
                    Filter::True => Merged::Everything,
                    Filter::False => Merged::Nothing,
                    filter => Merged::Rows(filter),
                }
            }
        }
    }

    /// The merged access as one filter (`True` for everything, `False` for nothing).
    pub fn to_filter(&self) -> Filter {
        match self {
            Merged::Nothing => Filter::False,
            Merged::Everything => Filter::True,
            Merged::Rows(f) => f.clone(),
        }
    }
}

/// The columns a subject may touch for one right: all of them, or only these (positions in
/// the model's columns, ascending).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ColumnAccess {
    /// Every column (no rule row that grants the right limits them).
    All,
    /// Only these.
    Only(Vec<usize>),
}

impl ColumnAccess {
    /// Whether the column at `index` is included.
    pub fn includes(&self, index: usize) -> bool {
        match self {
            ColumnAccess::All => true,
            ColumnAccess::Only(list) => list.binary_search(&index).is_ok(),
        }
    }

    /// The columns both include.
    pub fn intersect(&self, other: &ColumnAccess) -> ColumnAccess {
        match (self, other) {
            (ColumnAccess::All, x) | (x, ColumnAccess::All) => x.clone(),
            (ColumnAccess::Only(a), ColumnAccess::Only(b)) => {
                ColumnAccess::Only(a.iter().copied().filter(|i| b.contains(i)).collect())
            }
        }
    }
}

/// The columns `right` may touch, over the rule rows that grant it: the union of their
/// lists, or all columns when one of them has none. When no row grants the right, all: no
/// row is reachable, so there is nothing to hide.
///
/// ```
/// use rowguard::rules::{compile_document, merge_columns, ColumnAccess, ColumnType, Columns, Right};
///
/// let cols = Columns::new([("id", ColumnType::Integer), ("name", ColumnType::Text),
///     ("salary", ColumnType::Integer)]).unwrap();
/// let a = compile_document(r#"{"read":"*","columns":{"read":["id"]}}"#, &cols).unwrap();
/// let b = compile_document(r#"{"read":"*","columns":{"read":["name"]}}"#, &cols).unwrap();
/// let c = compile_document(r#"{"update":"*"}"#, &cols).unwrap(); // grants no read
/// assert_eq!(merge_columns([&a, &b, &c], Right::Read), ColumnAccess::Only(vec![0, 1]));
/// assert_eq!(merge_columns([&a, &c], Right::Update), ColumnAccess::All);
/// assert_eq!(merge_columns([&a], Right::Update), ColumnAccess::All); // nothing granted
/// ```
pub fn merge_columns<'a>(
    rules: impl IntoIterator<Item = &'a CompiledRules>,
    right: Right,
) -> ColumnAccess {
    let mut union: Vec<usize> = Vec::new();
    let mut granted = false;
    for rules in rules {
        if rules.access(right).is_none() {
            continue;
        }
        granted = true;
        match rules.columns(right) {
            None => return ColumnAccess::All,
            Some(list) => union.extend_from_slice(list),
        }
    }
    if !granted {
        return ColumnAccess::All;
    }
    union.sort_unstable();
    union.dedup();
    ColumnAccess::Only(union)
}
