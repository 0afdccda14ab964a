//! Actions: `service:Verb`, such as `server:Delete` or `contacts:Read`. Statements may use
//! wildcards (`server:*`, `server:Get*`, `*`); checks may not. Actions compare without regard
//! to ASCII case, as in IAM.

use std::fmt;

use super::error::cut;
use super::glob;
use super::PolicyError;

/// A statement's action pattern.
///
/// ```
/// use rowguard::policy::ActionPattern;
///
/// let all_servers = ActionPattern::parse("server:*")?;
/// assert!(all_servers.matches("server:Delete"));
/// assert!(all_servers.matches("Server:delete")); // case does not matter
/// assert!(!all_servers.matches("container:Delete"));
/// assert!(ActionPattern::parse("Delete").is_err()); // no service
/// # Ok::<(), rowguard::policy::PolicyError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActionPattern(glob::Pattern);

/// The longest action or action pattern accepted (IAM's limit).
pub const MAX_ACTION_LEN: usize = 128;

/// What is wrong with `text` as `service:Verb`, if anything (`wildcards`: may they appear).
fn check(text: &str, wildcards: bool) -> Result<(), String> {
    if wildcards && text == "*" {
        return Ok(());
    }
    if text.len() > MAX_ACTION_LEN {
        return Err(format!("longer than {MAX_ACTION_LEN} bytes"));
    }
    let Some((service, verb)) = text.split_once(':') else {
        return Err("expected service:Verb, such as server:Delete".to_owned());
    };
    let allowed =
        |c: char| c.is_ascii_alphanumeric() || "-_.".contains(c) || (wildcards && "*?".contains(c));
    for (part, name) in [(service, "service"), (verb, "verb")] {
        if part.is_empty() {
            return Err(format!("the {name} is empty"));
        }
        if let Some(c) = part.chars().find(|&c| !allowed(c)) {
            return Err(format!(
                "the {name} holds {c:?} (letters, digits, - _ . only)"
            ));
        }
    }
    Ok(())
}

impl ActionPattern {
    /// Parses `service:Verb`, `service:*`, `*` and the like.
    pub fn parse(text: &str) -> Result<ActionPattern, PolicyError> {
        check(text, true).map_err(|why| PolicyError::Action {
            text: cut(text),
            why,
        })?;
        Ok(ActionPattern(glob::Pattern::new(text)))
    }

    /// Whether `action` (already checked with [`check_action`]) is one this pattern names.
    pub fn matches(&self, action: &str) -> bool {
        self.0.matches(action, true)
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }
}

impl fmt::Display for ActionPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.as_str())
    }
}

/// Checks the action of a check: `service:Verb`, no wildcard ([`PolicyError::WildcardCheck`]).
///
/// ```
/// use rowguard::policy::{check_action, PolicyError};
///
/// assert!(check_action("server:List").is_ok());
/// assert!(matches!(check_action("server:*"), Err(PolicyError::WildcardCheck { .. })));
/// assert!(matches!(check_action("server"), Err(PolicyError::Action { .. })));
/// ```
pub fn check_action(action: &str) -> Result<(), PolicyError> {
    if glob::has_wildcard(action) {
        return Err(PolicyError::WildcardCheck {
            what: "action",
            text: cut(action),
        });
    }
    check(action, false).map_err(|why| PolicyError::Action {
        text: cut(action),
        why,
    })
}
