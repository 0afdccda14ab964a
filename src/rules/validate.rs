//! Validation: a parsed [`RuleDocument`] + a model's [`Columns`] (and, for relation
//! conditions, its [`Schema`]) → typed [`Filter`]s.
//! Every value is parsed into its column's type here, once, when the rule is loaded.

use std::sync::Arc;

use super::ast::{
    ColumnName, Cond, Grant, Op, Operand as AstOperand, Related, RuleDocument, Search, Term,
};
use super::filter::{CmpOp, Exists, Filter, Operand, Pattern, Test, TestKind};
use super::{
    parse_document, ColumnType, Columns, Right, RuleError, RuleErrorKind, Schema, Value,
    MAX_RELATION_DEPTH,
};

/// What one right of a validated document grants.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Access {
    /// `"*"`: every row.
    Everything,
    /// The rows the filter accepts.
    Rows(Filter),
}

/// A validated rule document for one model.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CompiledRules {
    access: [Option<Access>; 4],
    denied: [Option<Access>; 4],
    columns: [Option<Vec<usize>>; 4],
}

impl CompiledRules {
    /// What the document grants for `right` (`None`: nothing).
    pub fn access(&self, right: Right) -> Option<&Access> {
        self.access[right as usize].as_ref()
    }

    /// What the document denies for `right` (`None`: nothing): these rows are refused
    /// whatever any rule grants.
    ///
    /// ```
    /// use rowguard::rules::{compile_document, Access, ColumnType, Columns, Right};
    ///
    /// let cols = Columns::new([("id", ColumnType::Integer), ("status", ColumnType::Text)]).unwrap();
    /// let doc = r#"{"read":"*","deny":{"read":{"search":{"status":"=archived"}}}}"#;
    /// let rules = compile_document(doc, &cols).unwrap();
    /// let Some(Access::Rows(denied)) = rules.deny(Right::Read) else { panic!() };
    /// assert_eq!(denied.to_string(), "status = 'archived'");
    /// ```
    pub fn deny(&self, right: Right) -> Option<&Access> {
        self.denied[right as usize].as_ref()
    }

    /// The columns `right` may touch, as positions in the model's columns, ascending
    /// (`None`: the document does not limit them).
    ///
    /// ```
    /// use rowguard::rules::{compile_document, ColumnType, Columns, Right};
    ///
    /// let cols = Columns::new([("id", ColumnType::Integer), ("salary", ColumnType::Integer)]).unwrap();
    /// let rules = compile_document(r#"{"read":"*","columns":{"read":["id"]}}"#, &cols).unwrap();
    /// assert_eq!(rules.columns(Right::Read), Some(&[0][..]));
    /// assert_eq!(rules.columns(Right::Update), None);
    /// let err = compile_document(r#"{"read":"*","columns":{"read":["id","salry"]}}"#, &cols).unwrap_err();
    /// assert_eq!(err.to_string(), r#"columns.read[1]: unknown column "salry"; the model's columns are: id, salary"#);
    /// ```
    pub fn columns(&self, right: Right) -> Option<&[usize]> {
        self.columns[right as usize].as_deref()
    }

    /// The filter of `right`: `Filter::True` for `"*"`, `None` when not granted.
    pub fn filter(&self, right: Right) -> Option<Filter> {
        self.access(right).map(|a| match a {
            Access::Everything => Filter::True,
            Access::Rows(f) => f.clone(),
        })
    }
}

/// Parses and validates a rule document for a model in one step. Relation conditions
/// need the related models: see [`compile_document_in`].
///
/// ```
/// use rowguard::rules::{compile_document, ColumnType, Columns};
///
/// let cols = Columns::new([("id", ColumnType::Integer)]).unwrap();
/// let err = compile_document(r#"{"read":{"search":{"id":"=1;x"}}}"#, &cols).unwrap_err();
/// assert_eq!(err.to_string(), r#"read.search.id: "=1;x": "x" is not an integer (32-bit)"#);
/// ```
pub fn compile_document(json: &str, columns: &Columns) -> Result<CompiledRules, RuleError> {
    validate(&parse_document(json)?, columns)
}

/// Parses and validates a rule document for `model` of `schema`, whose relation conditions
/// may reach the related models. `columns` are the ones the filter's positions refer to
/// (the model's declared columns, or its stored ones).
///
/// ```
/// use rowguard::rules::{compile_document_in, ColumnType, Columns, Relation, Right, Schema};
///
/// let mut schema = Schema::new();
/// let cols = |c: &[(&str, ColumnType)]| Columns::new(c.iter().copied()).unwrap();
/// schema.add_model("contact_types", "contact_types", "id",
///     cols(&[("id", ColumnType::Integer), ("name", ColumnType::Text)]));
/// let contacts = cols(&[("id", ColumnType::Integer), ("contact_type_id", ColumnType::Integer)]);
/// schema.add_model("contacts", "contacts", "id", contacts.clone());
/// schema.add_relation("contacts",
///     Relation::belongs_to("contact_type", "contact_type_id", "contact_types", "id")).unwrap();
///
/// let doc = r#"{"read":{"search":{"contact_type.name":"=customer"}}}"#;
/// let rules = compile_document_in(doc, &contacts, &schema, "contacts").unwrap();
/// assert_eq!(
///     rules.filter(Right::Read).unwrap().to_string(),
///     "EXISTS contact_type(name = 'customer')"
/// );
/// let bad = r#"{"read":{"search":{"kind.name":"=customer"}}}"#;
/// let err = compile_document_in(bad, &contacts, &schema, "contacts").unwrap_err();
/// assert_eq!(
///     err.to_string(),
///     "read.search.kind.name: unknown relation \"kind\"; the relations of contacts are: contact_type"
/// );
/// ```
pub fn compile_document_in(
    json: &str,
    columns: &Columns,
    schema: &Schema,
    model: &str,
) -> Result<CompiledRules, RuleError> {
    validate_in(&parse_document(json)?, columns, schema, model)
}

/// Validates a parsed document against the model's columns (no relations).
pub fn validate(doc: &RuleDocument, columns: &Columns) -> Result<CompiledRules, RuleError> {
    validate_with(doc, &Ctx::plain(columns))
}

/// Validates a parsed document for `model` of `schema` (see [`compile_document_in`]).
pub fn validate_in(
    doc: &RuleDocument,
    columns: &Columns,
    schema: &Schema,
    model: &str,
) -> Result<CompiledRules, RuleError> {
    validate_with(
        doc,
        &Ctx {
            columns,
            model: Some((schema, model)),
            depth: 0,
        },
    )
}

/// Where a search is compiled: the columns its tests are on, and (for relations) the model
/// in its schema and how many relations deep the search already is.
struct Ctx<'a> {
    columns: &'a Columns,
    model: Option<(&'a Schema, &'a str)>,
    depth: usize,
}

impl<'a> Ctx<'a> {
    fn plain(columns: &'a Columns) -> Self {
        Self {
            columns,
            model: None,
            depth: 0,
        }
    }
}

fn validate_with(doc: &RuleDocument, ctx: &Ctx<'_>) -> Result<CompiledRules, RuleError> {
    let mut out = CompiledRules::default();
    for right in Right::ALL {
        out.access[right as usize] = compile_grant(doc.grant(right), ctx)?;
        if let Some(Grant::Search(search)) = doc.deny(right) {
            if let Some(related) = first_related(search) {
                return Err(RuleError::new(
                    RuleErrorKind::RelationInDeny,
                    &related.path,
                    "a deny takes the model's own columns: it must refuse whatever the related \
                     rows are, and a relation condition only sees the rows the subject may read",
                ));
            }
        }
        out.denied[right as usize] = compile_grant(doc.deny(right), ctx)?;
        out.columns[right as usize] = doc
            .columns(right)
            .map(|names| column_positions(names, ctx.columns))
            .transpose()?;
    }
    Ok(out)
}

/// The positions of the named columns, ascending, each once.
fn column_positions(names: &[ColumnName], columns: &Columns) -> Result<Vec<usize>, RuleError> {
    let mut positions = Vec::with_capacity(names.len());
    for name in names {
        let Some((index, _)) = columns.get(&name.name) else {
            return Err(RuleError::new(
                RuleErrorKind::UnknownColumn,
                &name.path,
                format!(
                    "unknown column \"{}\"; the model's columns are: {}",
                    name.name.escape_debug(),
                    columns.names_list()
                ),
            ));
        };
        positions.push(index);
    }
    positions.sort_unstable();
    positions.dedup();
    Ok(positions)
}

fn compile_grant(grant: Option<&Grant>, ctx: &Ctx<'_>) -> Result<Option<Access>, RuleError> {
    Ok(match grant {
        None => None,
        Some(Grant::Everything) => Some(Access::Everything),
        Some(Grant::Search(search)) => Some(Access::Rows(compile_search(search, ctx)?.simplify())),
    })
}

/// The first relation condition of `search`, if it has one.
fn first_related(search: &Search) -> Option<&Related> {
    match search {
        Search::All(parts) | Search::Any(parts) => parts.iter().find_map(first_related),
        Search::Cond(_) => None,
        Search::Related(related) => Some(related),
    }
}

fn compile_search(search: &Search, ctx: &Ctx<'_>) -> Result<Filter, RuleError> {
    match search {
        Search::All(parts) => parts
            .iter()
            .map(|p| compile_search(p, ctx))
            .collect::<Result<_, _>>()
            .map(Filter::And),
        Search::Any(parts) => parts
            .iter()
            .map(|p| compile_search(p, ctx))
            .collect::<Result<_, _>>()
            .map(Filter::Or),
        Search::Cond(cond) => compile_cond(cond, ctx.columns).map_err(|e| {
            // A relation's name written as a column: say how to reach through it.
            let relation = ctx
                .model
                .and_then(|(schema, model)| schema.model(model))
                .is_some_and(|m| m.relation(&cond.column).is_some());
            if e.kind == RuleErrorKind::UnknownColumn && relation {
                let mut e = e;
                e.message = format!(
                    "{}; \"{c}\" is a relation: write \"{c}.COLUMN\" or {{\"{c}\": {{…}}}}",
                    e.message,
                    c = cond.column
                );
                e
            } else {
                e
            }
        }),
        Search::Related(related) => compile_related(related, &related.relations, ctx),
    }
}

/// `relations[0]` of the current model, and the rest of the path inside it.
fn compile_related(
    related: &Related,
    relations: &[String],
    ctx: &Ctx<'_>,
) -> Result<Filter, RuleError> {
    let Some((name, rest)) = relations.split_first() else {
        // The end of the path: the search applies to the related row.
        return compile_search(&related.search, ctx);
    };
    let err = |kind, message: String| RuleError::new(kind, &related.path, message);
    let Some((schema, model)) = ctx.model else {
        return Err(err(
            RuleErrorKind::UnknownRelation,
            format!(
                "\"{name}\" is not a column, and relations are not known here; the columns are: {}",
                ctx.columns.names_list()
            ),
        ));
    };
    let owner = schema.model(model).ok_or_else(|| {
        err(
            RuleErrorKind::UnknownRelation,
            format!("model \"{model}\" is not in the schema"),
        )
    })?;
    if let Some((_, why)) = owner.unusable.iter().find(|(n, _)| n == name) {
        return Err(err(
            RuleErrorKind::UnknownRelation,
            format!(
                "relation \"{name}\" of {model} is stored but cannot be used ({why}); \
                 rules check lists it, sync-models repairs it"
            ),
        ));
    }
    let relation = owner.relation(name).ok_or_else(|| {
        let hint = if owner.columns.get(name).is_some() {
            format!(" (\"{name}\" is a column, not a relation)")
        } else {
            String::new()
        };
        err(
            RuleErrorKind::UnknownRelation,
            format!(
                "unknown relation \"{}\"; the relations of {model} are: {}{hint}",
                name.escape_debug(),
                owner.relation_names()
            ),
        )
    })?;
    if ctx.depth + 1 > MAX_RELATION_DEPTH {
        return Err(err(
            RuleErrorKind::RelationDepth,
            format!(
                "the path crosses more than {MAX_RELATION_DEPTH} relations (at \"{name}\"); \
                 rowguard stops there so a rule stays a few indexed lookups"
            ),
        ));
    }
    let target = schema.model(&relation.target_model).ok_or_else(|| {
        err(
            RuleErrorKind::UnknownRelation,
            format!(
                "relation \"{name}\" of {model} leads to model \"{}\", which is not registered",
                relation.target_model
            ),
        )
    })?;
    let (local_index, _) = ctx.columns.get(&relation.local_column).ok_or_else(|| {
        err(
            RuleErrorKind::UnknownRelation,
            format!(
                "relation \"{name}\" of {model} uses column \"{}\", which the model does not list",
                relation.local_column
            ),
        )
    })?;
    let (_, target_type) = target.columns.get(&relation.target_column).ok_or_else(|| {
        err(
            RuleErrorKind::UnknownRelation,
            format!(
                "relation \"{name}\" of {model} uses column \"{}\" of {}, which it does not list",
                relation.target_column, relation.target_model
            ),
        )
    })?;
    let inner_ctx = Ctx {
        columns: &target.columns,
        model: Some((schema, &relation.target_model)),
        depth: ctx.depth + 1,
    };
    // The rest of the path is not negated: only the outermost relation is.
    let inner_related = Related {
        negated: false,
        ..related.clone()
    };
    let inner = compile_related(&inner_related, rest, &inner_ctx).map_err(|mut e| {
        // Name the related model whose columns the message lists.
        if e.kind == RuleErrorKind::UnknownColumn {
            e.message = e.message.replace(
                "the model's columns are",
                &format!("the columns of {} are", relation.target_model),
            );
        }
        e
    })?;
    let exists = Filter::Exists(Box::new(Exists::of(
        relation,
        &owner.table,
        local_index,
        &target.table,
        target_type,
        inner,
    )));
    Ok(if related.negated {
        // A `$subject` variable that cannot be bound makes the whole negated condition false
        // (as under `!=`), not just the part inside the subquery: `NOT EXISTS (… AND FALSE)`
        // would grant every row.
        let uses_vars = exists.has_vars();
        let not = Filter::Not(Box::new(exists));
        if uses_vars {
            Filter::Scoped(Box::new(not))
        } else {
            not
        }
    } else {
        exists
    })
}

fn compile_cond(cond: &Cond, columns: &Columns) -> Result<Filter, RuleError> {
    let err = |kind, message: String| RuleError::new(kind, &cond.path, message).in_text(&cond.text);
    let (index, ty) = columns.get(&cond.column).ok_or_else(|| {
        err(
            RuleErrorKind::UnknownColumn,
            format!(
                "unknown column \"{}\"; the model's columns are: {}",
                cond.column.escape_debug(),
                columns.names_list()
            ),
        )
    })?;
    let test = |kind| {
        Filter::Test(Test {
            column: Arc::from(cond.column.as_str()),
            index,
            ty,
            kind,
        })
    };
    let op = cond.op;
    let n = cond.values.len();
    let count_error = |expected: &str| {
        err(
            RuleErrorKind::ValueCount,
            format!("{op} takes {expected}, found {n}"),
        )
    };
    if matches!(
        op,
        Op::Lt | Op::Gt | Op::Le | Op::Ge | Op::Between | Op::NotBetween
    ) && !ty.is_ordered()
    {
        return Err(err(
            RuleErrorKind::OperatorType,
            format!("{op} does not apply to {ty} columns; use = or !="),
        ));
    }
    if op.is_word() && ty != ColumnType::Text {
        return Err(err(
            RuleErrorKind::OperatorType,
            format!(
                "{op} applies to text columns only; \"{}\" is {ty}",
                cond.column
            ),
        ));
    }
    let filter = match op {
        Op::Eq | Op::NotEq => {
            let eq = compile_eq(&cond.values, ty, &test, &err)?;
            if op == Op::NotEq {
                Filter::Not(Box::new(eq))
            } else {
                eq
            }
        }
        Op::Lt | Op::Gt | Op::Le | Op::Ge => {
            let [value] = cond.values.as_slice() else {
                return Err(count_error("exactly one value"));
            };
            let cmp = match op {
                Op::Lt => CmpOp::Lt,
                Op::Gt => CmpOp::Gt,
                Op::Le => CmpOp::Le,
                _ => CmpOp::Ge,
            };
            test(TestKind::Compare(cmp, scalar(value, op, ty, &err)?))
        }
        Op::Between | Op::NotBetween => {
            let [low, high] = cond.values.as_slice() else {
                return Err(count_error("exactly two values (low;high)"));
            };
            let between = test(TestKind::Between(
                scalar(low, op, ty, &err)?,
                scalar(high, op, ty, &err)?,
            ));
            if op == Op::NotBetween {
                Filter::Not(Box::new(between))
            } else {
                between
            }
        }
        Op::Contains | Op::StartsWith | Op::EndsWith => {
            let mut alternatives = Vec::with_capacity(n);
            for value in &cond.values {
                let Term::Literal(text) = &value.term else {
                    return Err(err(
                        RuleErrorKind::OperatorType,
                        format!(
                            "\"{}\": {op} takes literal text (no null, % or variables)",
                            value.text
                        ),
                    ));
                };
                Value::parse(ColumnType::Text, text).map_err(|m| err(RuleErrorKind::Value, m))?;
                let pattern = match op {
                    Op::Contains => Pattern::contains(text),
                    Op::StartsWith => Pattern::starts_with(text),
                    _ => Pattern::ends_with(text),
                };
                alternatives.push(test(TestKind::Like(pattern)));
            }
            Filter::Or(alternatives)
        }
    };
    let uses_vars = cond.values.iter().any(|v| matches!(v.term, Term::Var(_)));
    Ok(if uses_vars {
        Filter::Scoped(Box::new(filter))
    } else {
        filter
    })
}

/// `=` lists: any of the plain values (literals, variables, patterns, null), and none of the
/// `!` values.
fn compile_eq(
    values: &[AstOperand],
    ty: ColumnType,
    test: &dyn Fn(TestKind) -> Filter,
    err: &dyn Fn(RuleErrorKind, String) -> RuleError,
) -> Result<Filter, RuleError> {
    let mut include_in = Vec::new();
    let mut include_other = Vec::new();
    let mut exclude = Vec::new();
    for value in values {
        let (filter_in, filter) = match &value.term {
            Term::Null => (None, Some(test(TestKind::IsNull))),
            Term::Var(name) => (Some(Operand::Var(name.clone())), None),
            Term::Literal(text) => (
                Some(Operand::Value(
                    Value::parse(ty, text).map_err(|m| err(RuleErrorKind::Value, m))?,
                )),
                None,
            ),
            Term::Pattern(pieces) => {
                if ty != ColumnType::Text {
                    return Err(err(
                        RuleErrorKind::OperatorType,
                        format!(
                            "\"{}\": % patterns apply to text columns only; write \\% for a \
                             literal %",
                            value.text
                        ),
                    ));
                }
                let pattern = Pattern::new(pieces.clone());
                for piece in pattern.pieces() {
                    if let super::ast::Piece::Text(t) = piece {
                        Value::parse(ColumnType::Text, t)
                            .map_err(|m| err(RuleErrorKind::Value, m))?;
                    }
                }
                (None, Some(test(TestKind::Like(pattern))))
            }
        };
        match (value.negated, filter_in, filter) {
            (false, Some(op), _) => include_in.push(op),
            (false, None, Some(f)) => include_other.push(f),
            (true, Some(op), _) => {
                exclude.push(Filter::Not(Box::new(test(TestKind::In(vec![op])))))
            }
            (true, None, Some(f)) => exclude.push(Filter::Not(Box::new(f))),
            (_, None, None) => {}
        }
    }
    let mut parts = Vec::with_capacity(1 + exclude.len());
    if !include_in.is_empty() || !include_other.is_empty() {
        let mut any = Vec::with_capacity(1 + include_other.len());
        if !include_in.is_empty() {
            any.push(test(TestKind::In(include_in)));
        }
        any.extend(include_other);
        parts.push(Filter::Or(any));
    }
    parts.extend(exclude);
    Ok(Filter::And(parts))
}

/// A single value for a comparison operator: a literal or a variable.
fn scalar(
    value: &AstOperand,
    op: Op,
    ty: ColumnType,
    err: &dyn Fn(RuleErrorKind, String) -> RuleError,
) -> Result<Operand, RuleError> {
    match &value.term {
        Term::Literal(text) => Value::parse(ty, text)
            .map(Operand::Value)
            .map_err(|m| err(RuleErrorKind::Value, m)),
        Term::Var(name) => Ok(Operand::Var(name.clone())),
        Term::Null => Err(err(
            RuleErrorKind::OperatorType,
            format!("{op} cannot compare with null; use =null or =!null"),
        )),
        Term::Pattern(_) => Err(err(
            RuleErrorKind::OperatorType,
            format!(
                "\"{}\": {op} takes no % pattern; write \\% for a literal %",
                value.text
            ),
        )),
    }
}
