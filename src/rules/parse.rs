//! Parsing: JSON text → [`RuleDocument`]. Only syntax is checked here; columns, types and
//! value counts are [`validate`](super::validate)'s job.
//!
//! Condition grammar:
//! `expr := part ("||" part)*`, `part := cond ("&&" cond)*`, `cond := OP values`,
//! `values := value (";" value)*`. A backslash makes the next character literal; unescaped
//! white space around operators, separators and values is ignored.
//!
//! Why one file of about 480 lines: the grammar above is one recursive-descent parser whose
//! functions call each other; split, each part would need the others' private helpers.

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value as Json};

use super::ast::{
    ColumnName, Cond, Grant, Op, Operand, Piece, Related, RuleDocument, Search, Term,
};
use super::{Right, RuleError, RuleErrorKind};

/// Parses a rule document.
///
/// ```
/// use rowguard::rules::{parse_document, Grant, Right};
///
/// let doc = parse_document(r#"{"create":"*","read":{"search":{"id":"=1;2;3"}}}"#).unwrap();
/// assert_eq!(doc.grant(Right::Create), Some(&Grant::Everything));
/// assert!(doc.grant(Right::Delete).is_none());
///
/// let err = parse_document(r#"{"reed":"*"}"#).unwrap_err();
/// assert_eq!(err.to_string(), "reed: unknown right; expected create, read, update, delete, deny or columns");
///
/// // A deny refuses what the grants allow (here: archived rows, and every delete).
/// let doc = parse_document(r#"{"read":"*","deny":{"read":{"search":{"status":"=archived"}},"delete":"*"}}"#).unwrap();
/// assert_eq!(doc.deny(Right::Delete), Some(&Grant::Everything));
/// ```
pub fn parse_document(json: &str) -> Result<RuleDocument, RuleError> {
    let StrictJson(value) = serde_json::from_str(json)
        .map_err(|e| RuleError::new(RuleErrorKind::Json, "", format!("invalid JSON: {e}")))?;
    parse_json(&value)
}

/// Parses a rule document that is already JSON. Duplicate keys cannot be detected here;
/// prefer [`parse_document`] for text.
pub fn parse_json(value: &Json) -> Result<RuleDocument, RuleError> {
    let Json::Object(rights) = value else {
        return Err(RuleError::new(
            RuleErrorKind::Shape,
            "",
            format!(
                "a rule document is a JSON object like {{\"read\": \"*\"}}, found {}",
                kind_of(value)
            ),
        ));
    };
    let mut doc = RuleDocument::default();
    for (key, grant) in rights {
        match key.as_str() {
            "deny" => {
                parse_denies(grant, &mut doc)?;
                continue;
            }
            "columns" => {
                parse_columns(grant, &mut doc)?;
                continue;
            }
            _ => {}
        }
        let right = Right::from_key(key).ok_or_else(|| {
            RuleError::new(
                RuleErrorKind::UnknownRight,
                key,
                "unknown right; expected create, read, update, delete, deny or columns",
            )
        })?;
        doc.set(right, parse_grant(key, grant)?);
    }
    Ok(doc)
}

/// Whether a rule document that does not validate might deny something: it is not a JSON
/// object (not JSON, a list, a JSON string holding a document…), or its text mentions
/// "deny" in any case (`"Deny"`, `"denies"`). Such a row refuses everything, since what it
/// would deny is unknown; any other invalid row only grants nothing.
///
/// ```
/// use rowguard::rules::may_deny;
///
/// assert!(may_deny(r#"{"read":"*","deny":{"read":{"search":{"stauts":"=x"}}}}"#));
/// assert!(may_deny(r#"{"read":"*","Deny":{"read":"*"}}"#));
/// assert!(may_deny(r#"{"read":"*", oops"#));
/// assert!(may_deny(r#""{\"deny\":{\"read\":\"*\"}}""#)); // encoded twice
/// assert!(may_deny(r#"{"read":"*","\u0064eny":{"read":"*"},"x":1,"x":2}"#)); // escaped
/// assert!(!may_deny(r#"{"read":{"search":{"stauts":"=x"}}}"#));
/// ```
pub fn may_deny(json: &str) -> bool {
    !matches!(strict_json(json), Ok(Json::Object(_))) || mentions_deny(json)
}

/// Whether `text` says "deny" in any case: in its raw text (a key given twice, which a
/// parser would drop, still counts) or in any of its strings and keys with escapes read
/// (`\u0044eny`).
pub(crate) fn mentions_deny(text: &str) -> bool {
    let says = |text: &str| text.to_ascii_lowercase().contains("deny");
    fn any_string(json: &Json, says: &dyn Fn(&str) -> bool) -> bool {
        match json {
            Json::String(s) => says(s),
            Json::Array(list) => list.iter().any(|v| any_string(v, says)),
            Json::Object(fields) => fields.iter().any(|(k, v)| says(k) || any_string(v, says)),
            _ => false,
        }
    }
    says(text) || serde_json::from_str::<Json>(text).is_ok_and(|json| any_string(&json, &says))
}

/// `"columns": {"create" | "read" | "update": ["name", …], …}`.
fn parse_columns(value: &Json, doc: &mut RuleDocument) -> Result<(), RuleError> {
    let Json::Object(rights) = value else {
        return Err(RuleError::new(
            RuleErrorKind::Shape,
            "columns",
            format!(
                "\"columns\" is a JSON object like {{\"read\": [\"id\", \"name\"]}}, found {}",
                kind_of(value)
            ),
        ));
    };
    for (key, list) in rights {
        let path = format!("columns.{key}");
        let right = match Right::from_key(key) {
            Some(Right::Delete) => {
                return Err(RuleError::new(
                    RuleErrorKind::Shape,
                    &path,
                    "a delete removes whole rows; columns apply to create, read and update",
                ))
            }
            Some(right) => right,
            None => {
                return Err(RuleError::new(
                    RuleErrorKind::UnknownRight,
                    &path,
                    "unknown right; expected create, read or update",
                ))
            }
        };
        let Json::Array(items) = list else {
            return Err(RuleError::new(
                RuleErrorKind::Shape,
                &path,
                format!("a list of column names, found {}", kind_of(list)),
            ));
        };
        let mut names = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            let item_path = format!("{path}[{i}]");
            let Json::String(name) = item else {
                return Err(RuleError::new(
                    RuleErrorKind::Shape,
                    &item_path,
                    format!("a column name is a string, found {}", kind_of(item)),
                ));
            };
            names.push(ColumnName {
                name: name.clone(),
                path: item_path,
            });
        }
        doc.set_columns(right, names);
    }
    Ok(())
}

/// `"deny": {right: "*" | {"search": …}, …}`.
fn parse_denies(value: &Json, doc: &mut RuleDocument) -> Result<(), RuleError> {
    let Json::Object(rights) = value else {
        return Err(RuleError::new(
            RuleErrorKind::Shape,
            "deny",
            format!(
                "\"deny\" is a JSON object like {{\"delete\": \"*\"}}, found {}",
                kind_of(value)
            ),
        ));
    };
    for (key, deny) in rights {
        let path = format!("deny.{key}");
        let right = Right::from_key(key).ok_or_else(|| {
            RuleError::new(
                RuleErrorKind::UnknownRight,
                &path,
                "unknown right; expected create, read, update or delete",
            )
        })?;
        doc.set_deny(right, parse_grant(&path, deny)?);
    }
    Ok(())
}

fn parse_grant(path: &str, value: &Json) -> Result<Grant, RuleError> {
    let shape_error = || {
        RuleError::new(
            RuleErrorKind::Shape,
            path,
            format!(
                "expected \"*\" or {{\"search\": {{…}}}}, found {}",
                kind_of(value)
            ),
        )
    };
    match value {
        Json::String(s) if s == "*" => Ok(Grant::Everything),
        Json::Object(map) => {
            let Some(search) = map.get("search") else {
                return Err(shape_error());
            };
            if let Some(extra) = map.keys().find(|k| *k != "search") {
                return Err(RuleError::new(
                    RuleErrorKind::Shape,
                    &format!("{path}.{extra}"),
                    "unexpected key; a right holds only \"search\"",
                ));
            }
            let path = format!("{path}.search");
            let Json::Object(members) = search else {
                return Err(RuleError::new(
                    RuleErrorKind::Shape,
                    &path,
                    format!("a search is a JSON object, found {}", kind_of(search)),
                ));
            };
            parse_members(members, &path, Search::All).map(Grant::Search)
        }
        _ => Err(shape_error()),
    }
}

/// The members of one search object, combined with `combine` (AND normally, OR directly
/// under `||`).
fn parse_members(
    members: &Map<String, Json>,
    path: &str,
    combine: fn(Vec<Search>) -> Search,
) -> Result<Search, RuleError> {
    if members.is_empty() {
        return Err(RuleError::new(
            RuleErrorKind::Shape,
            path,
            "empty search; use \"*\" to grant every row",
        ));
    }
    let mut parts = Vec::with_capacity(members.len());
    for (key, value) in members {
        let member_path = format!("{path}.{key}");
        let part = match key.as_str() {
            "&&" => parse_group(value, &member_path, Search::All)?,
            "||" => parse_group(value, &member_path, Search::Any)?,
            key => parse_keyed(key, value, &member_path)?,
        };
        parts.push(part);
    }
    Ok(single_or(parts, combine))
}

/// A member other than `&&` / `||`: `column: "cond"`, `rel.column: "cond"`,
/// `!rel.column: "cond"`, or the object form `rel: {…}` / `!rel: {…}` (all on one related row).
fn parse_keyed(key: &str, value: &Json, path: &str) -> Result<Search, RuleError> {
    let (negated, name) = match key.strip_prefix('!') {
        Some(rest) => (true, rest),
        None => (false, key),
    };
    let segments: Vec<&str> = name.split('.').collect();
    if segments.iter().any(|s| s.is_empty()) {
        return Err(RuleError::new(
            RuleErrorKind::Syntax,
            path,
            format!(
                "\"{}\" has an empty name; write column, relation.column or !relation.column",
                key.escape_debug()
            ),
        ));
    }
    let related = |relations: &[&str], search: Search| {
        Search::Related(Related {
            relations: relations.iter().map(|s| (*s).to_owned()).collect(),
            negated,
            search: Box::new(search),
            path: path.to_owned(),
        })
    };
    match value {
        Json::String(text) => {
            let (column, relations) = segments.split_last().unwrap_or((&name, &[]));
            match (relations, negated) {
                ([], false) => parse_condition(column, text, path),
                ([], true) => Err(RuleError::new(
                    RuleErrorKind::Syntax,
                    path,
                    format!(
                        "\"{}\": a leading ! negates a relation (\"!contacts.status\"); for a \
                         column use != in the condition",
                        key.escape_debug()
                    ),
                )),
                _ => Ok(related(relations, parse_condition(column, text, path)?)),
            }
        }
        Json::Object(members) => Ok(related(
            &segments,
            parse_members(members, path, Search::All)?,
        )),
        other => Err(RuleError::new(
            RuleErrorKind::Shape,
            path,
            format!(
                "a condition is a string like \"=1;2\" (or, on a relation, an object of \
                 conditions), found {}",
                kind_of(other)
            ),
        )),
    }
}

/// The value of a `&&` / `||` key: an object (its members combined) or a list of objects
/// (each a group whose members are ANDed).
fn parse_group(
    value: &Json,
    path: &str,
    combine: fn(Vec<Search>) -> Search,
) -> Result<Search, RuleError> {
    match value {
        Json::Object(members) => parse_members(members, path, combine),
        Json::Array(items) if !items.is_empty() => {
            let mut groups = Vec::with_capacity(items.len());
            for (i, item) in items.iter().enumerate() {
                let item_path = format!("{path}[{i}]");
                let Json::Object(members) = item else {
                    return Err(RuleError::new(
                        RuleErrorKind::Shape,
                        &item_path,
                        format!("a group is a JSON object, found {}", kind_of(item)),
                    ));
                };
                groups.push(parse_members(members, &item_path, Search::All)?);
            }
            Ok(single_or(groups, combine))
        }
        other => Err(RuleError::new(
            RuleErrorKind::Shape,
            path,
            format!(
                "expected an object or a non-empty list of objects, found {}",
                kind_of(other)
            ),
        )),
    }
}

fn single_or(mut parts: Vec<Search>, combine: fn(Vec<Search>) -> Search) -> Search {
    if parts.len() == 1 {
        parts.remove(0)
    } else {
        combine(parts)
    }
}

/// A character of a condition string and whether a backslash escaped it.
#[derive(Clone, Copy)]
struct Ch {
    c: char,
    escaped: bool,
}

fn is_plain(chars: &[Ch], text: &str) -> bool {
    chars.len() == text.chars().count()
        && chars
            .iter()
            .zip(text.chars())
            .all(|(ch, c)| !ch.escaped && ch.c == c)
}

fn collect(chars: &[Ch]) -> String {
    chars.iter().map(|ch| ch.c).collect()
}

/// Parses one condition string of `column` into a search (several when it uses `||`/`&&`).
///
/// ```
/// use rowguard::rules::{parse_condition, Search};
///
/// let s = parse_condition("status", "=open;pend% || =null", "read.search.status").unwrap();
/// assert!(matches!(s, Search::Any(ref parts) if parts.len() == 2));
/// ```
pub fn parse_condition(column: &str, text: &str, path: &str) -> Result<Search, RuleError> {
    let err = |kind, message: String| RuleError::new(kind, path, message).in_text(text);
    let mut chars = Vec::with_capacity(text.len());
    let mut it = text.chars();
    while let Some(c) = it.next() {
        if c == '\\' {
            match it.next() {
                Some(next) => chars.push(Ch {
                    c: next,
                    escaped: true,
                }),
                None => {
                    return Err(err(
                        RuleErrorKind::Syntax,
                        "a trailing backslash escapes nothing; write \\\\ for a backslash".into(),
                    ))
                }
            }
        } else {
            chars.push(Ch { c, escaped: false });
        }
    }
    let mut alternatives = Vec::new();
    for part in split_unescaped(&chars, "||") {
        let mut conds = Vec::new();
        for cond in split_unescaped(part, "&&") {
            conds.push(Search::Cond(parse_cond(column, cond, path, text)?));
        }
        alternatives.push(single_or(conds, Search::All));
    }
    Ok(single_or(alternatives, Search::Any))
}

fn split_unescaped<'a>(chars: &'a [Ch], sep: &str) -> Vec<&'a [Ch]> {
    let sep: Vec<char> = sep.chars().collect();
    let mut parts = Vec::new();
    let mut start = 0;
    let mut i = 0;
    while i + sep.len() <= chars.len() {
        if chars[i..i + sep.len()]
            .iter()
            .zip(&sep)
            .all(|(ch, c)| !ch.escaped && ch.c == *c)
        {
            parts.push(&chars[start..i]);
            i += sep.len();
            start = i;
        } else {
            i += 1;
        }
    }
    parts.push(&chars[start..]);
    parts
}

fn trim(mut chars: &[Ch]) -> &[Ch] {
    while let Some((first, rest)) = chars.split_first() {
        if first.escaped || !first.c.is_whitespace() {
            break;
        }
        chars = rest;
    }
    while let Some((last, rest)) = chars.split_last() {
        if last.escaped || !last.c.is_whitespace() {
            break;
        }
        chars = rest;
    }
    chars
}

fn parse_cond(column: &str, chars: &[Ch], path: &str, text: &str) -> Result<Cond, RuleError> {
    let err = |kind, message: String| RuleError::new(kind, path, message).in_text(text);
    let chars = trim(chars);
    if chars.is_empty() {
        return Err(err(
            RuleErrorKind::Syntax,
            "empty condition (check for a doubled or trailing || or &&)".into(),
        ));
    }
    let op = Op::ALL
        .into_iter()
        .find(|op| {
            let n = op.symbol().chars().count();
            chars.len() >= n
                && is_plain(&chars[..n], op.symbol())
                && (!op.is_word()
                    || chars
                        .get(n)
                        .is_some_and(|ch| !ch.escaped && ch.c.is_whitespace()))
        })
        .ok_or_else(|| {
            let shown: String = collect(chars).chars().take(20).collect();
            err(
                RuleErrorKind::UnknownOperator,
                format!(
                    "unknown operator at \"{shown}\"; a condition starts with one of \
                     = != < > <= >= <> !<> contains starts_with ends_with \
                     (word operators are followed by a space)"
                ),
            )
        })?;
    let rest = &chars[op.symbol().chars().count()..];
    let mut values = Vec::new();
    for raw in split_unescaped(rest, ";") {
        values.push(parse_operand(trim(raw), op, path, text)?);
    }
    Ok(Cond {
        column: column.to_owned(),
        op,
        values,
        path: path.to_owned(),
        text: text.to_owned(),
    })
}

fn parse_operand(chars: &[Ch], op: Op, path: &str, text: &str) -> Result<Operand, RuleError> {
    let err = |kind, message: String| RuleError::new(kind, path, message).in_text(text);
    let negated = chars.first().is_some_and(|ch| !ch.escaped && ch.c == '!');
    let body = if negated { &chars[1..] } else { chars };
    let shown = collect(chars);
    if negated && !matches!(op, Op::Eq | Op::NotEq) {
        return Err(err(
            RuleErrorKind::OperatorType,
            format!("\"{shown}\": ! (exclusion) only applies in = and != lists; write \\! for a literal !"),
        ));
    }
    if body.is_empty() {
        return Err(err(
            RuleErrorKind::Syntax,
            format!("empty value after {op}{}", if negated { " !" } else { "" }),
        ));
    }
    let term = if is_plain(body, "null") {
        Term::Null
    } else if !body[0].escaped && body[0].c == '$' {
        let name = is_plain(&body[..body.len().min(9)], "$subject.")
            .then(|| collect(&body[9..]))
            .filter(|name| {
                !name.is_empty()
                    && body[9..].iter().all(|ch| !ch.escaped)
                    && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            })
            .ok_or_else(|| {
                err(
                    RuleErrorKind::Syntax,
                    format!(
                        "\"{shown}\" is not a variable; variables are $subject.NAME \
                         (letters, digits, _); write \\$ for a literal $"
                    ),
                )
            })?;
        Term::Var(name)
    } else if body.iter().any(|ch| !ch.escaped && ch.c == '%') {
        let mut pieces = Vec::new();
        let mut literal = String::new();
        for ch in body {
            if !ch.escaped && ch.c == '%' {
                if !literal.is_empty() {
                    pieces.push(Piece::Text(std::mem::take(&mut literal)));
                }
                if pieces.last() != Some(&Piece::Wildcard) {
                    pieces.push(Piece::Wildcard);
                }
            } else {
                literal.push(ch.c);
            }
        }
        if !literal.is_empty() {
            pieces.push(Piece::Text(literal));
        }
        Term::Pattern(pieces)
    } else {
        Term::Literal(collect(body))
    };
    Ok(Operand {
        negated,
        term,
        text: shown,
    })
}

/// Escapes `text` so that it parses back as exactly one literal value: the inverse of the
/// value syntax, for tools that write rules.
///
/// ```
/// use rowguard::rules::escape_value;
///
/// assert_eq!(escape_value("50%;off"), r"50\%\;off");
/// assert_eq!(escape_value("null"), r"\null");
/// assert_eq!(escape_value(" x"), r"\ x");
/// ```
pub fn escape_value(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    let last = text.chars().count().saturating_sub(1);
    for (i, c) in text.chars().enumerate() {
        let edge_space = c.is_whitespace() && (i == 0 || i == last);
        if matches!(c, '\\' | ';' | '%' | '!' | '$' | '|' | '&')
            || edge_space
            || (i == 0 && text == "null")
        {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

fn kind_of(value: &Json) -> String {
    match value {
        Json::Null => "null".into(),
        Json::Bool(b) => b.to_string(),
        Json::Number(n) => format!("the number {n}"),
        Json::String(s) => format!("the string \"{}\"", s.escape_debug()),
        Json::Array(_) => "a list".into(),
        Json::Object(_) => "an object".into(),
    }
}

/// JSON read strictly: a key written twice in one object is an error (serde_json would
/// silently keep the last one, hiding a DBA's mistake). Shared with the policy language and
/// the service's checks.
///
/// ```
/// use rowguard::rules::strict_json;
///
/// assert!(strict_json(r#"{"read": "*"}"#).is_ok());
/// let err = strict_json(r#"{"read": "*", "read": {"search": {"id": "=1"}}}"#).unwrap_err();
/// assert!(err.to_string().contains(r#"key "read" appears twice"#));
/// ```
pub fn strict_json(text: &str) -> Result<Json, serde_json::Error> {
    serde_json::from_str(text).map(|StrictJson(json)| json)
}

/// [`strict_json`] for a field of a larger document (the seeder's rules and policies), with
/// `#[serde(deserialize_with = …)]`.
pub(crate) fn deserialize_strict<'de, D: Deserializer<'de>>(d: D) -> Result<Json, D::Error> {
    StrictJson::deserialize(d).map(|StrictJson(json)| json)
}

/// [`strict_json`]'s reader.
struct StrictJson(Json);

impl<'de> Deserialize<'de> for StrictJson {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(StrictVisitor).map(StrictJson)
    }
}

struct StrictVisitor;

impl<'de> Visitor<'de> for StrictVisitor {
    type Value = Json;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("JSON")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Json, E> {
        Ok(Json::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Json, E> {
        Ok(Json::from(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Json, E> {
        Ok(Json::from(v))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Json, E> {
        Ok(Json::from(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Json, E> {
        Ok(Json::String(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Json, E> {
        Ok(Json::String(v))
    }
    fn visit_unit<E>(self) -> Result<Json, E> {
        Ok(Json::Null)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Json, A::Error> {
        let mut items = Vec::new();
        while let Some(StrictJson(item)) = seq.next_element()? {
            items.push(item);
        }
        Ok(Json::Array(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Json, A::Error> {
        let mut out = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            let StrictJson(value) = map.next_value()?;
            if out.insert(key.clone(), value).is_some() {
                return Err(de::Error::custom(format!("key \"{key}\" appears twice")));
            }
        }
        Ok(Json::Object(out))
    }
}
