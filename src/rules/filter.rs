//! The typed, validated form of a search: a boolean tree of tests on columns. It is what
//! gets merged, rendered to SQL ([`sql`](super::sql)) and evaluated in memory
//! ([`eval`](super::eval)), so those two always start from the same thing.
//!
//! Why one file of about 540 lines: the tree, its constructors from a validated document and
//! its simplification are one type's implementation; SQL and evaluation already live apart.

use std::collections::HashSet;
use std::fmt;
use std::hash::BuildHasher;
use std::sync::Arc;

use super::ast::Piece;
use super::relation::{Relation, RelationKind};
use super::{ColumnType, Value, ValueRef};

/// A boolean tree over tests on columns.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Filter {
    /// Every row.
    True,
    /// No row.
    False,
    /// All children hold.
    And(Vec<Filter>),
    /// Any child holds.
    Or(Vec<Filter>),
    /// SQL `NOT` (three-valued: NOT NULL is NULL).
    Not(Box<Filter>),
    /// A condition that uses `$subject.*` variables. If one is missing (or does not parse as
    /// the column's type), the condition as a whole is false, even under `!=` (true under a
    /// `NOT`, as in a deny): fail closed.
    Scoped(Box<Filter>),
    /// A test on one column.
    Test(Test),
    /// Some related row matches: a correlated `EXISTS` (see [`Exists`]). In memory it is
    /// unknown: [`Filter::eval`] counts it as NULL, so callers decide it in the database
    /// first ([`Filter::decide_relations`]).
    Exists(Box<Exists>),
}

/// `EXISTS (SELECT 1 FROM target WHERE target.target_column = outer.local_column AND filter)`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Exists {
    /// The relation's name, for explanations.
    pub relation: Arc<str>,
    /// The relation's kind.
    pub kind: RelationKind,
    /// The outer model's table (qualifies `local_column` when the caller gives no table).
    pub outer_table: Arc<str>,
    /// The outer model's column.
    pub local_column: Arc<str>,
    /// Its position in the outer model's columns (to read it from a row).
    pub local_index: usize,
    /// The related model's name.
    pub target_model: Arc<str>,
    /// The related model's table.
    pub target_table: Arc<str>,
    /// The related model's column equal to `local_column`.
    pub target_column: Arc<str>,
    /// Its type.
    pub target_type: ColumnType,
    /// What the related row must satisfy, on the related model's columns: the rule's
    /// conditions and, once protected, the related model's own read rule for the subject.
    pub filter: Filter,
}

impl Exists {
    /// The `EXISTS` of `relation`, from the model stored in `owner_table` (whose column
    /// `relation.local_column` is at `local_index` in the columns the filter is compiled
    /// against) to the model stored in `target_table` (where `relation.target_column` has
    /// type `target_type`), with `filter` on the related row.
    pub fn of(
        relation: &Relation,
        owner_table: &str,
        local_index: usize,
        target_table: &str,
        target_type: ColumnType,
        filter: Filter,
    ) -> Self {
        Self {
            relation: Arc::from(relation.name.as_str()),
            kind: relation.kind,
            outer_table: Arc::from(owner_table),
            local_column: Arc::from(relation.local_column.as_str()),
            local_index,
            target_model: Arc::from(relation.target_model.as_str()),
            target_table: Arc::from(target_table),
            target_column: Arc::from(relation.target_column.as_str()),
            target_type,
            filter,
        }
    }
}

/// A test on one column.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Test {
    /// The column name (a declared, identifier-shaped name).
    pub column: Arc<str>,
    /// The column's position in the model's [`Columns`](super::Columns).
    pub index: usize,
    /// The column's type.
    pub ty: ColumnType,
    /// What is tested.
    pub kind: TestKind,
}

/// What a [`Test`] checks.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum TestKind {
    /// `column IN (…)`: equal to one of the operands.
    In(Vec<Operand>),
    /// `column < operand` and friends.
    Compare(CmpOp, Operand),
    /// `column BETWEEN low AND high` (inclusive).
    Between(Operand, Operand),
    /// A `%` pattern (case-sensitive, `_` literal).
    Like(Pattern),
    /// `column IS NULL`.
    IsNull,
}

/// Ordering comparisons.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CmpOp {
    /// `<`
    Lt,
    /// `>`
    Gt,
    /// `<=`
    Le,
    /// `>=`
    Ge,
}

impl CmpOp {
    /// The SQL symbol.
    pub fn sql(self) -> &'static str {
        match self {
            CmpOp::Lt => "<",
            CmpOp::Gt => ">",
            CmpOp::Le => "<=",
            CmpOp::Ge => ">=",
        }
    }
}

/// A value in a test: known, or a subject attribute filled in by [`Filter::resolve`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Operand {
    /// A typed value.
    Value(Value),
    /// `$subject.NAME`.
    Var(String),
}

/// A `%` pattern, with its SQL forms prepared once.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Pattern {
    pieces: Vec<Piece>,
    like: String,
    glob: String,
}

/// The escape character of rendered `LIKE` patterns. Not a backslash: MySQL string literals
/// treat backslashes specially, `!` means the same on every backend.
pub const LIKE_ESCAPE: char = '!';

impl Pattern {
    /// A pattern from its pieces.
    pub fn new(pieces: Vec<Piece>) -> Self {
        let mut like = String::new();
        let mut glob = String::new();
        for piece in &pieces {
            match piece {
                Piece::Wildcard => {
                    like.push('%');
                    glob.push('*');
                }
                Piece::Text(text) => {
                    for c in text.chars() {
                        if matches!(c, '%' | '_' | LIKE_ESCAPE) {
                            like.push(LIKE_ESCAPE);
                        }
                        like.push(c);
                        match c {
                            '*' | '?' | '[' => {
                                glob.push('[');
                                glob.push(c);
                                glob.push(']');
                            }
                            _ => glob.push(c),
                        }
                    }
                }
            }
        }
        Self { pieces, like, glob }
    }

    /// Text containing `needle`.
    pub fn contains(needle: &str) -> Self {
        Self::new(vec![
            Piece::Wildcard,
            Piece::Text(needle.into()),
            Piece::Wildcard,
        ])
    }

    /// Text starting with `prefix`.
    pub fn starts_with(prefix: &str) -> Self {
        Self::new(vec![Piece::Text(prefix.into()), Piece::Wildcard])
    }

    /// Text ending with `suffix`.
    pub fn ends_with(suffix: &str) -> Self {
        Self::new(vec![Piece::Wildcard, Piece::Text(suffix.into())])
    }

    /// The pieces.
    pub fn pieces(&self) -> &[Piece] {
        &self.pieces
    }

    /// The `LIKE … ESCAPE '!'` form (PostgreSQL, MySQL).
    pub fn like(&self) -> &str {
        &self.like
    }

    /// The `GLOB` form (SQLite, whose `LIKE` ignores ASCII case).
    pub fn glob(&self) -> &str {
        &self.glob
    }

    /// Whether `text` matches, byte for byte.
    pub fn matches(&self, text: &str) -> bool {
        let mut rest = text;
        let mut anchored = true; // no wildcard seen yet: the next text must come first
        for (i, piece) in self.pieces.iter().enumerate() {
            match piece {
                Piece::Wildcard => anchored = false,
                Piece::Text(t) => {
                    let last = i + 1 == self.pieces.len();
                    if last && !anchored {
                        return rest.ends_with(t.as_str());
                    }
                    if anchored {
                        match rest.strip_prefix(t.as_str()) {
                            Some(r) => rest = r,
                            None => return false,
                        }
                    } else {
                        match rest.find(t.as_str()) {
                            Some(at) => rest = &rest[at + t.len()..],
                            None => return false,
                        }
                    }
                }
            }
        }
        !anchored || rest.is_empty()
    }
}

/// Subject attributes for `$subject.NAME`: each a list of strings (one value for most).
///
/// ```
/// use rowguard::rules::Attributes;
///
/// let attrs = Attributes::new().with("id", "17").with_all("teams", ["3", "4"]);
/// assert_eq!(attrs.get("teams").map(|v| v.len()), Some(2));
/// assert!(attrs.get("email").is_none());
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Attributes(
    // Sorted by name: a subject has a handful of attributes, and a check looks one up per
    // variable, so a binary search beats hashing the name.
    Vec<(String, Vec<String>)>,
);

impl Attributes {
    /// No attributes.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a single-valued attribute.
    pub fn with(mut self, name: impl Into<String>, value: impl ToString) -> Self {
        self.insert(name, vec![value.to_string()]);
        self
    }

    /// Adds a multi-valued attribute (usable in `=` / `!=` lists).
    pub fn with_all<V: ToString>(
        mut self,
        name: impl Into<String>,
        values: impl IntoIterator<Item = V>,
    ) -> Self {
        self.insert(name, values.into_iter().map(|v| v.to_string()).collect());
        self
    }

    /// Sets an attribute (replacing its values if it exists).
    pub fn insert(&mut self, name: impl Into<String>, values: Vec<String>) {
        let name = name.into();
        match self.0.binary_search_by(|(n, _)| n.as_str().cmp(&name)) {
            Ok(i) => self.0[i].1 = values,
            Err(i) => self.0.insert(i, (name, values)),
        }
    }

    /// Every attribute with its values, by name.
    ///
    /// ```
    /// use rowguard::rules::Attributes;
    /// let attrs = Attributes::new().with("team", "3").with("id", "17");
    /// let names: Vec<&str> = attrs.iter().map(|(name, _)| name).collect();
    /// assert_eq!(names, ["id", "team"]);
    /// ```
    pub fn iter(&self) -> impl Iterator<Item = (&str, &[String])> {
        self.0.iter().map(|(n, v)| (n.as_str(), v.as_slice()))
    }

    /// The values of an attribute.
    pub fn get(&self, name: &str) -> Option<&[String]> {
        self.0
            .binary_search_by(|(n, _)| n.as_str().cmp(name))
            .ok()
            .map(|i| self.0[i].1.as_slice())
    }

    /// What `$subject.NAME` binds to as a single operand (`<`, `<>`, …) of a `ty` column:
    /// exactly one value that parses. `None` makes the condition fail closed. The one home of
    /// this rule, for [`Filter::resolve`] and [`Filter::eval_with`] alike.
    pub(crate) fn bind_one(&self, name: &str, ty: ColumnType) -> Option<ValueRef<'_>> {
        match self.get(name)? {
            [v] => ValueRef::parse(ty, v).ok(),
            _ => None,
        }
    }

    /// What `$subject.NAME` binds to inside an `=` list of a `ty` column: all its values, if
    /// there is at least one and every one parses. `None` makes the condition fail closed.
    pub(crate) fn bind_list(
        &self,
        name: &str,
        ty: ColumnType,
    ) -> Option<impl Iterator<Item = ValueRef<'_>> + '_> {
        let values = self.get(name).filter(|v| !v.is_empty())?;
        values
            .iter()
            .all(|v| ValueRef::parse(ty, v).is_ok())
            .then(|| {
                values
                    .iter()
                    .filter_map(move |v| ValueRef::parse(ty, v).ok())
            })
    }
}

impl Filter {
    /// Flattens nested AND/OR, folds constants, removes duplicates, and merges `IN` lists on
    /// the same column inside an OR (so 1,000 roles with id lists render one `IN`).
    pub fn simplify(self) -> Filter {
        match self {
            Filter::And(children) => {
                let mut out: Vec<Filter> = Vec::with_capacity(children.len());
                let mut seen = HashSet::new();
                for child in children.into_iter().map(Filter::simplify) {
                    match child {
                        Filter::True => {}
                        Filter::False => return Filter::False,
                        Filter::And(grand) => {
                            for g in grand {
                                if seen.insert(g.clone()) {
                                    out.push(g);
                                }
                            }
                        }
                        other => {
                            if seen.insert(other.clone()) {
                                out.push(other);
                            }
                        }
                    }
                }
                collapse(out, Filter::True, Filter::And)
            }
            Filter::Or(children) => {
                let mut flat: Vec<Filter> = Vec::with_capacity(children.len());
                for child in children.into_iter().map(Filter::simplify) {
                    match child {
                        Filter::False => {}
                        Filter::True => return Filter::True,
                        Filter::Or(grand) => flat.extend(grand),
                        other => flat.push(other),
                    }
                }
                collapse(merge_in_lists(flat), Filter::False, Filter::Or)
            }
            Filter::Not(inner) => match inner.simplify() {
                Filter::True => Filter::False,
                Filter::False => Filter::True,
                // NOT NOT x == x holds in three-valued logic too.
                Filter::Not(x) => *x,
                other => Filter::Not(Box::new(other)),
            },
            Filter::Scoped(inner) => match inner.simplify() {
                constant @ (Filter::True | Filter::False) => constant,
                other => Filter::Scoped(Box::new(other)),
            },
            Filter::Exists(mut exists) => {
                let inner = std::mem::replace(&mut exists.filter, Filter::True).simplify();
                if inner == Filter::False {
                    return Filter::False;
                }
                exists.filter = inner;
                Filter::Exists(exists)
            }
            leaf => leaf,
        }
    }

    /// Whether any test of the filter is on a column `pick` accepts (by its index).
    pub fn tests_any_column(&self, pick: &impl Fn(usize) -> bool) -> bool {
        match self {
            Filter::True | Filter::False => false,
            Filter::And(c) | Filter::Or(c) => c.iter().any(|f| f.tests_any_column(pick)),
            Filter::Not(x) | Filter::Scoped(x) => x.tests_any_column(pick),
            Filter::Test(t) => pick(t.index),
            // The related side's columns are another model's.
            Filter::Exists(e) => pick(e.local_index),
        }
    }

    /// The models its relation conditions reach (nested ones included), in order, once each.
    pub fn relation_targets(&self) -> Vec<Arc<str>> {
        fn walk(f: &Filter, out: &mut Vec<Arc<str>>) {
            match f {
                Filter::Exists(e) => {
                    if !out.contains(&e.target_model) {
                        out.push(e.target_model.clone());
                    }
                    walk(&e.filter, out);
                }
                Filter::And(c) | Filter::Or(c) => c.iter().for_each(|x| walk(x, out)),
                Filter::Not(x) | Filter::Scoped(x) => walk(x, out),
                _ => {}
            }
        }
        let mut out = Vec::new();
        walk(self, &mut out);
        out
    }

    /// Whether the filter has relation conditions (which only the database can decide).
    pub fn has_relations(&self) -> bool {
        match self {
            Filter::Exists(_) => true,
            Filter::And(c) | Filter::Or(c) => c.iter().any(Filter::has_relations),
            Filter::Not(x) | Filter::Scoped(x) => x.has_relations(),
            _ => false,
        }
    }

    /// Rewrites every relation condition of the outermost level (not those nested inside
    /// another) with `f`: how relations are protected, and decided for one row.
    pub fn map_relations<E>(
        &self,
        f: &mut impl FnMut(&Exists) -> Result<Filter, E>,
    ) -> Result<Filter, E> {
        Ok(match self {
            Filter::Exists(e) => f(e)?,
            Filter::And(c) => Filter::And(
                c.iter()
                    .map(|x| x.map_relations(f))
                    .collect::<Result<_, _>>()?,
            ),
            Filter::Or(c) => Filter::Or(
                c.iter()
                    .map(|x| x.map_relations(f))
                    .collect::<Result<_, _>>()?,
            ),
            Filter::Not(x) => Filter::Not(Box::new(x.map_relations(f)?)),
            Filter::Scoped(x) => Filter::Scoped(Box::new(x.map_relations(f)?)),
            other => other.clone(),
        })
    }

    /// Whether the filter uses `$subject.*` variables.
    pub fn has_vars(&self) -> bool {
        match self {
            Filter::Scoped(_) => true,
            Filter::And(c) | Filter::Or(c) => c.iter().any(Filter::has_vars),
            Filter::Not(x) => x.has_vars(),
            Filter::Exists(e) => e.filter.has_vars(),
            _ => false,
        }
    }

    /// Fills in `$subject.*` variables from `attrs`. A condition whose variable is missing,
    /// or does not parse as its column's type, becomes false as a whole — or, where it sits
    /// under a negation (only inside a related model's read rule that protection added), true:
    /// either way the filter grants less, never more. (Not simplified again: this runs per
    /// check, and a constant leaf means the same to SQL and `eval`.)
    pub fn resolve(&self, attrs: &Attributes) -> Filter {
        if !self.has_vars() {
            return self.clone();
        }
        self.resolve_inner(attrs, true)
    }

    fn resolve_inner(&self, attrs: &Attributes, positive: bool) -> Filter {
        match self {
            Filter::And(c) => {
                Filter::And(c.iter().map(|f| f.resolve_inner(attrs, positive)).collect())
            }
            Filter::Or(c) => {
                Filter::Or(c.iter().map(|f| f.resolve_inner(attrs, positive)).collect())
            }
            Filter::Not(x) => Filter::Not(Box::new(x.resolve_inner(attrs, !positive))),
            Filter::Scoped(x) => x.substitute(attrs).unwrap_or(if positive {
                Filter::False
            } else {
                Filter::True
            }),
            // EXISTS is monotone in its subquery: the polarity carries inside.
            Filter::Exists(e) => Filter::Exists(Box::new(Exists {
                filter: e.filter.resolve_inner(attrs, positive),
                ..(**e).clone()
            })),
            other => other.clone(),
        }
    }

    /// Replaces variables inside one scoped condition; `None` if any is unusable.
    fn substitute(&self, attrs: &Attributes) -> Option<Filter> {
        Some(match self {
            Filter::And(c) => Filter::And(
                c.iter()
                    .map(|f| f.substitute(attrs))
                    .collect::<Option<_>>()?,
            ),
            Filter::Or(c) => Filter::Or(
                c.iter()
                    .map(|f| f.substitute(attrs))
                    .collect::<Option<_>>()?,
            ),
            Filter::Not(x) => Filter::Not(Box::new(x.substitute(attrs)?)),
            Filter::Scoped(x) => x.substitute(attrs)?,
            Filter::Exists(e) => Filter::Exists(Box::new(Exists {
                filter: e.filter.substitute(attrs)?,
                ..(**e).clone()
            })),
            Filter::Test(t) => {
                let one = |op: &Operand| -> Option<Operand> {
                    match op {
                        Operand::Var(name) => {
                            Some(Operand::Value(attrs.bind_one(name, t.ty)?.to_value()))
                        }
                        known => Some(known.clone()),
                    }
                };
                let kind = match &t.kind {
                    TestKind::In(ops) => {
                        let mut out = Vec::with_capacity(ops.len());
                        for op in ops {
                            match op {
                                Operand::Var(name) => out.extend(
                                    attrs
                                        .bind_list(name, t.ty)?
                                        .map(|v| Operand::Value(v.to_value())),
                                ),
                                known => out.push(known.clone()),
                            }
                        }
                        TestKind::In(out)
                    }
                    TestKind::Compare(op, x) => TestKind::Compare(*op, one(x)?),
                    TestKind::Between(lo, hi) => TestKind::Between(one(lo)?, one(hi)?),
                    other => other.clone(),
                };
                Filter::Test(Test { kind, ..t.clone() })
            }
            constant => constant.clone(),
        })
    }
}

fn collapse(
    mut children: Vec<Filter>,
    empty: Filter,
    combine: fn(Vec<Filter>) -> Filter,
) -> Filter {
    match children.len() {
        0 => empty,
        1 => children.remove(0),
        _ => combine(children),
    }
}

/// Inside an OR: `a IN (1,2) OR a IN (2,3)` → `a IN (1,2,3)`; identical children once.
fn merge_in_lists(children: Vec<Filter>) -> Vec<Filter> {
    // (test with the merged list, positions of its values by hash), in order of first
    // appearance. Columns are few: found by a scan, not hashed. Values are found through the
    // table by their position in the list, so none is cloned to be remembered.
    let mut lists: Vec<(Test, hashbrown::HashTable<usize>)> = Vec::new();
    let mut others: Vec<Filter> = Vec::new();
    let mut seen: hashbrown::HashSet<Filter> = hashbrown::HashSet::new();
    let hasher = hashbrown::DefaultHashBuilder::default();
    for child in children {
        match child {
            Filter::Test(test) if matches!(test.kind, TestKind::In(_)) => {
                let slot = match lists.iter().position(|(t, _)| t.column == test.column) {
                    Some(slot) => slot,
                    None => {
                        let empty = Test {
                            kind: TestKind::In(Vec::new()),
                            ..test.clone()
                        };
                        lists.push((empty, hashbrown::HashTable::new()));
                        lists.len() - 1
                    }
                };
                let (merged, positions) = &mut lists[slot];
                if let (TestKind::In(target), TestKind::In(ops)) = (&mut merged.kind, test.kind) {
                    for op in ops {
                        let hash = hasher.hash_one(&op);
                        let found = positions.find(hash, |&i| target[i] == op).is_some();
                        if !found {
                            positions.insert_unique(hash, target.len(), |&i| {
                                hasher.hash_one(&target[i])
                            });
                            target.push(op);
                        }
                    }
                }
            }
            other => {
                if !seen.contains(&other) {
                    seen.insert(other.clone());
                    others.push(other);
                }
            }
        }
    }
    lists
        .into_iter()
        .map(|(test, _)| Filter::Test(test))
        .chain(others)
        .collect()
}

impl fmt::Display for Filter {
    /// A readable, SQL-like form with values inline (for `explain`; never executed).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let join = |f: &mut fmt::Formatter<'_>, children: &[Filter], sep: &str| {
            f.write_str("(")?;
            for (i, c) in children.iter().enumerate() {
                if i > 0 {
                    f.write_str(sep)?;
                }
                write!(f, "{c}")?;
            }
            f.write_str(")")
        };
        match self {
            Filter::True => f.write_str("TRUE"),
            Filter::False => f.write_str("FALSE"),
            Filter::And(c) => join(f, c, " AND "),
            Filter::Or(c) => join(f, c, " OR "),
            Filter::Not(x) => match **x {
                Filter::And(_) | Filter::Or(_) => write!(f, "NOT {x}"),
                _ => write!(f, "NOT ({x})"),
            },
            Filter::Scoped(x) => write!(f, "{x}"),
            Filter::Exists(e) => {
                write!(f, "EXISTS {}(", e.relation)?;
                match &e.filter {
                    Filter::True => f.write_str("any")?,
                    inner => write!(f, "{inner}")?,
                }
                f.write_str(")")
            }
            Filter::Test(t) => {
                let col = &t.column;
                match &t.kind {
                    TestKind::In(ops) if ops.len() == 1 => write!(f, "{col} = {}", ops[0]),
                    TestKind::In(ops) => {
                        write!(f, "{col} IN (")?;
                        for (i, op) in ops.iter().enumerate() {
                            if i > 0 {
                                f.write_str(", ")?;
                            }
                            write!(f, "{op}")?;
                        }
                        f.write_str(")")
                    }
                    TestKind::Compare(op, x) => write!(f, "{col} {} {x}", op.sql()),
                    TestKind::Between(lo, hi) => write!(f, "{col} BETWEEN {lo} AND {hi}"),
                    TestKind::Like(p) => write!(f, "{col} LIKE '{}'", p.like().replace('\'', "''")),
                    TestKind::IsNull => write!(f, "{col} IS NULL"),
                }
            }
        }
    }
}

impl fmt::Display for Operand {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Operand::Value(v) => write!(f, "{v}"),
            Operand::Var(name) => write!(f, "$subject.{name}"),
        }
    }
}
