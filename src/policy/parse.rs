//! Policy documents from JSON, validated field by field: an error names the statement, the
//! field (a list's element by its position) and the text at fault.

use serde_json::{Map, Value as Json};

use super::error::cut;
use super::{ActionPattern, ArnPattern, Effect, Policy, PolicyError, Statement};

/// The fields a statement may have. IAM's `NotAction`, `NotResource`, `Principal`,
/// `NotPrincipal` and `Condition` are refused by name rather than ignored: ignoring one would
/// grant more than its author meant.
const FIELDS: [&str; 4] = ["Sid", "Effect", "Action", "Resource"];

/// The policy language versions IAM defines (both mean the same here).
const VERSIONS: [&str; 2] = ["2012-10-17", "2008-10-17"];

/// The largest policy document accepted: a check's work grows with the statements a
/// subject's policies hold, so their size is bounded (IAM's own limit is smaller: 6,144
/// characters for a managed policy).
pub const MAX_POLICY_BYTES: usize = 65_536;

/// Whether a policy document that does not parse may hold a `Deny`: text that is not JSON
/// at all, or the word `deny` in any case anywhere in it (` Deny`, `Denied`, `\u0044eny`,
/// and a key given twice, which a JSON reader would drop, all count). A broken policy that
/// may deny refuses every check of its subjects; any other only grants nothing.
///
/// ```
/// use rowguard::policy::may_deny;
///
/// assert!(may_deny(r#"[{"Effect": "Deny"}]"#));
/// assert!(may_deny(r#"{"Statement": [{"Effect": "Deny", "Action": "x:*", "Resource": "*"}], "Statement": []}"#));
/// assert!(may_deny(r#"[{"Effect": "\u0044eny"}]"#));
/// assert!(may_deny(r#"[{"Effect": "\u0044eny", "Effect": "Allow", "Action": "x:y", "Resource": "*"}]"#));
/// assert!(may_deny("[{oops"));
/// assert!(!may_deny(r#"[{"Effect": "Allow", "Action": "x:y"}]"#));
/// ```
pub fn may_deny(document: &str) -> bool {
    // A key given twice (which strict reading refuses) may hide a Deny, even an escaped one.
    crate::rules::strict_json(document).is_err() || crate::rules::mentions_deny(document)
}

pub(super) fn parse(text: &str) -> Result<Policy, PolicyError> {
    if text.len() > MAX_POLICY_BYTES {
        return Err(PolicyError::Statement {
            statement: None,
            field: None,
            why: format!("the document is longer than {MAX_POLICY_BYTES} bytes"),
        });
    }
    // A key given twice is an error: serde_json alone keeps the last one, so a reviewer
    // reading `"Effect": "Deny"` first would not see the `"Effect": "Allow"` that counts.
    let json = crate::rules::strict_json(text).map_err(|e| PolicyError::Json(e.to_string()))?;
    let doc_error = |field: Option<&str>, why: String| PolicyError::Statement {
        statement: None,
        field: field.map(str::to_owned),
        why,
    };
    let statements = match json {
        Json::Array(list) => list,
        Json::Object(mut doc) => {
            match doc.remove("Version") {
                None => {}
                Some(Json::String(v)) if VERSIONS.contains(&v.as_str()) => {}
                Some(other) => {
                    let why = format!(
                        "expected \"2012-10-17\" or \"2008-10-17\", found {}",
                        short(&other)
                    );
                    return Err(doc_error(Some("Version"), why));
                }
            }
            // IAM's optional name of the policy.
            if let Some(id) = doc.remove("Id") {
                if !id.is_string() {
                    let why = format!("expected a string, found {}", short(&id));
                    return Err(doc_error(Some("Id"), why));
                }
            }
            let statements = doc.remove("Statement").ok_or_else(|| {
                let why = "expected {\"Statement\": [...]} or a list of statements";
                doc_error(None, why.to_owned())
            })?;
            if let Some(other) = doc.keys().next() {
                let why = "unknown field (a policy has Version, Id and Statement)";
                return Err(doc_error(Some(&cut(other)), why.to_owned()));
            }
            match statements {
                Json::Array(list) => list,
                one @ Json::Object(_) => vec![one],
                _ => {
                    let why = "expected a statement or a list of statements";
                    return Err(doc_error(Some("Statement"), why.to_owned()));
                }
            }
        }
        _ => {
            let why = "expected a list of statements or {\"Statement\": [...]}";
            return Err(doc_error(None, why.to_owned()));
        }
    };
    let statements = statements
        .into_iter()
        .enumerate()
        .map(|(i, s)| statement(i, s))
        .collect::<Result<_, _>>()?;
    Ok(Policy { statements })
}

fn statement(index: usize, json: Json) -> Result<Statement, PolicyError> {
    let error = |field: &str, why: String| PolicyError::Statement {
        statement: Some(index),
        field: Some(field.to_owned()),
        why,
    };
    let Json::Object(fields) = json else {
        return Err(PolicyError::Statement {
            statement: Some(index),
            field: None,
            why: format!(
                "expected an object with Effect, Action and Resource, found {}",
                short(&json)
            ),
        });
    };
    if let Some(unknown) = fields.keys().find(|k| !FIELDS.contains(&k.as_str())) {
        let why = match unknown.as_str() {
            "NotAction" | "NotResource" | "Principal" | "NotPrincipal" | "Condition" => {
                "not supported by rowguard (refused, not ignored)".to_owned()
            }
            _ => format!("unknown field (a statement has {})", FIELDS.join(", ")),
        };
        return Err(error(&cut(unknown), why));
    }
    let sid = match fields.get("Sid") {
        None => None,
        // IAM's alphabet, so that a name shown in an explanation or a log is only a name.
        Some(Json::String(s)) if !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric()) => {
            Some(s.clone())
        }
        Some(other) => {
            let why = format!("expected letters and digits only, found {}", short(other));
            return Err(error("Sid", why));
        }
    };
    let effect = match fields.get("Effect") {
        Some(Json::String(e)) if e == "Allow" => Effect::Allow,
        Some(Json::String(e)) if e == "Deny" => Effect::Deny,
        Some(other) => {
            let why = format!("expected \"Allow\" or \"Deny\", found {}", short(other));
            return Err(error("Effect", why));
        }
        None => {
            return Err(error(
                "Effect",
                "missing (\"Allow\" or \"Deny\")".to_owned(),
            ))
        }
    };
    let actions =
        patterns(&fields, "Action", ActionPattern::parse).map_err(|(f, why)| error(&f, why))?;
    let resources =
        patterns(&fields, "Resource", ArnPattern::parse).map_err(|(f, why)| error(&f, why))?;
    Ok(Statement {
        sid,
        effect,
        actions,
        resources,
    })
}

/// A field that holds one pattern or a non-empty list of them, each read by `parse`. An error
/// names the field, or the list's element by position (`Action[2]`), and why.
fn patterns<T>(
    fields: &Map<String, Json>,
    name: &str,
    parse: impl Fn(&str) -> Result<T, PolicyError>,
) -> Result<Vec<T>, (String, String)> {
    let whole = |why: String| (name.to_owned(), why);
    match fields.get(name) {
        None => Err(whole("missing (one string or a list of them)".to_owned())),
        Some(Json::String(s)) => Ok(vec![parse(s).map_err(|e| whole(e.to_string()))?]),
        Some(Json::Array(list)) if list.is_empty() => {
            Err(whole("an empty list names nothing".to_owned()))
        }
        Some(Json::Array(list)) => list
            .iter()
            .enumerate()
            .map(|(i, v)| {
                let at = |why: String| (format!("{name}[{i}]"), why);
                let s = v
                    .as_str()
                    .ok_or_else(|| at(format!("expected a string, found {}", short(v))))?;
                parse(s).map_err(|e| at(e.to_string()))
            })
            .collect(),
        Some(other) => Err(whole(format!(
            "expected a string or a list of strings, found {}",
            short(other)
        ))),
    }
}

/// A JSON value for an error message, cut short.
fn short(json: &Json) -> String {
    cut(&json.to_string())
}
