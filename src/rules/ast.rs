//! The syntax tree of a rule document, as written (untyped). [`validate`](super::validate)
//! turns it into a typed [`Filter`](super::Filter) for one model.

use std::fmt;

/// The four rights a rule document grants.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Right {
    /// Insert rows.
    Create,
    /// See rows.
    Read,
    /// Change rows.
    Update,
    /// Remove rows.
    Delete,
}

impl Right {
    /// All rights, in document order.
    pub const ALL: [Right; 4] = [Right::Create, Right::Read, Right::Update, Right::Delete];

    /// The JSON key: `create`, `read`, `update`, `delete`.
    pub fn key(self) -> &'static str {
        match self {
            Right::Create => "create",
            Right::Read => "read",
            Right::Update => "update",
            Right::Delete => "delete",
        }
    }

    /// Parses a JSON key.
    pub fn from_key(key: &str) -> Option<Right> {
        Right::ALL.into_iter().find(|r| r.key() == key)
    }
}

impl fmt::Display for Right {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.key())
    }
}

/// A parsed rule document: for each right, what it grants (nothing, everything, or a
/// search), what it denies (`"deny": {right: …}`, the same shapes), and which columns it may
/// touch (`"columns": {right: [names]}`; absent: all).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RuleDocument {
    grants: [Option<Grant>; 4],
    denies: [Option<Grant>; 4],
    columns: [Option<Vec<ColumnName>>; 4],
}

/// A column named in a `"columns"` list, with where it is (`columns.read[2]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnName {
    /// The name as written.
    pub name: String,
    /// Where it is in the document.
    pub path: String,
}

impl RuleDocument {
    /// The grant for `right`, if the document has one.
    pub fn grant(&self, right: Right) -> Option<&Grant> {
        self.grants[right as usize].as_ref()
    }

    /// The deny for `right` (under `"deny"`), if the document has one.
    pub fn deny(&self, right: Right) -> Option<&Grant> {
        self.denies[right as usize].as_ref()
    }

    /// The columns `right` may touch (under `"columns"`), if the document limits them.
    pub fn columns(&self, right: Right) -> Option<&[ColumnName]> {
        self.columns[right as usize].as_deref()
    }

    pub(crate) fn set_columns(&mut self, right: Right, columns: Vec<ColumnName>) {
        self.columns[right as usize] = Some(columns);
    }

    pub(crate) fn set(&mut self, right: Right, grant: Grant) {
        self.grants[right as usize] = Some(grant);
    }

    pub(crate) fn set_deny(&mut self, right: Right, deny: Grant) {
        self.denies[right as usize] = Some(deny);
    }
}

/// What a right grants (or, under `"deny"`, refuses).
#[derive(Debug, Clone, PartialEq)]
pub enum Grant {
    /// `"*"`: every row.
    Everything,
    /// `{"search": …}`: the rows the search selects.
    Search(Search),
}

/// The boolean structure of a search.
#[derive(Debug, Clone, PartialEq)]
pub enum Search {
    /// All of them (`&&`, or the members of one object).
    All(Vec<Search>),
    /// Any of them (`||`).
    Any(Vec<Search>),
    /// One condition on one column.
    Cond(Cond),
    /// A search on related rows (`"contact_type.name": …`, `"!contacts": {…}`).
    Related(Related),
}

/// A search that reaches through relations: some related row (through every relation of
/// `relations`, in order) matches `search`, or, when `negated`, none does.
#[derive(Debug, Clone, PartialEq)]
pub struct Related {
    /// The relation names, outermost first: `["contact_type", "category"]`.
    pub relations: Vec<String>,
    /// Written with a leading `!`: no related row matches.
    pub negated: bool,
    /// What the related row must satisfy (all of it on the same row).
    pub search: Box<Search>,
    /// Where it is: `read.search.contact_type.name`.
    pub path: String,
}

/// One condition: `column` `op` `values`, e.g. `status` `=` `open;pend%`.
#[derive(Debug, Clone, PartialEq)]
pub struct Cond {
    /// The column name as written.
    pub column: String,
    /// The operator.
    pub op: Op,
    /// The values, in order.
    pub values: Vec<Operand>,
    /// Where the condition is: `read.search.status`.
    pub path: String,
    /// The whole condition string it came from, for messages.
    pub text: String,
}

/// Operators, written as a prefix of the condition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Op {
    /// `=`: equals one of the values (or matches a `%` pattern), and none of the `!` values.
    Eq,
    /// `!=`: the negation of the same list under `=`.
    NotEq,
    /// `<`
    Lt,
    /// `>`
    Gt,
    /// `<=`
    Le,
    /// `>=`
    Ge,
    /// `<>`: between two values, inclusive.
    Between,
    /// `!<>`: not between two values.
    NotBetween,
    /// `contains`: the text contains one of the values.
    Contains,
    /// `starts_with`: the text starts with one of the values.
    StartsWith,
    /// `ends_with`: the text ends with one of the values.
    EndsWith,
}

impl Op {
    /// Every operator, longest symbol first (the order the parser tries them in).
    pub const ALL: [Op; 11] = [
        Op::NotBetween,
        Op::NotEq,
        Op::Between,
        Op::Le,
        Op::Ge,
        Op::Eq,
        Op::Lt,
        Op::Gt,
        Op::Contains,
        Op::StartsWith,
        Op::EndsWith,
    ];

    /// How the operator is written.
    pub fn symbol(self) -> &'static str {
        match self {
            Op::Eq => "=",
            Op::NotEq => "!=",
            Op::Lt => "<",
            Op::Gt => ">",
            Op::Le => "<=",
            Op::Ge => ">=",
            Op::Between => "<>",
            Op::NotBetween => "!<>",
            Op::Contains => "contains",
            Op::StartsWith => "starts_with",
            Op::EndsWith => "ends_with",
        }
    }

    /// Word operators need whitespace before their values.
    pub fn is_word(self) -> bool {
        matches!(self, Op::Contains | Op::StartsWith | Op::EndsWith)
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.symbol())
    }
}

/// One value of a condition's list.
#[derive(Debug, Clone, PartialEq)]
pub struct Operand {
    /// Written with a leading `!` (an exclusion in `=` / `!=` lists).
    pub negated: bool,
    /// What the value is.
    pub term: Term,
    /// The value as written (after unescaping), for messages.
    pub text: String,
}

/// The kinds of value.
#[derive(Debug, Clone, PartialEq)]
pub enum Term {
    /// `null`
    Null,
    /// `$subject.NAME`
    Var(String),
    /// A literal, escapes removed.
    Literal(String),
    /// A `%` pattern.
    Pattern(Vec<Piece>),
}

/// A piece of a `%` pattern.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Piece {
    /// Literal text.
    Text(String),
    /// `%`: any run of characters, possibly empty.
    Wildcard,
}
