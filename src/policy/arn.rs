//! Amazon-style resource names: `arn:<partition>:<service>:<region>:<account>:<resource>`,
//! where the resource is `<type>` (the resource type itself, for checks such as "list") or
//! `<type>/<id or sub-path>` (one resource, or a path inside one).

use std::fmt;

use super::error::cut;
use super::glob;
use super::PolicyError;

/// A resource name as checks use it: no wildcards.
///
/// ```
/// use rowguard::policy::Arn;
///
/// let arn: Arn = "arn:rowguard:default:local:123:disk/etc/hosts".parse()?;
/// assert_eq!(arn.account(), "123");
/// assert_eq!(arn.resource_type(), "disk");
/// assert_eq!(arn.id(), Some("etc/hosts"));
/// assert_eq!(Arn::new("rowguard", "crm", "eu", "7", "contacts", Some("17"))?.to_string(),
///            "arn:rowguard:crm:eu:7:contacts/17");
/// assert!("arn:rowguard:default:local:123:server/*".parse::<Arn>().is_err());
/// # Ok::<(), rowguard::policy::PolicyError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Arn {
    text: String,
    /// Where each of partition, service, region, account and resource starts in `text`.
    starts: [usize; 5],
}

/// An ARN in a statement's `Resource`: like [`Arn`], but each part may hold `*` (any run of
/// characters) and `?` (one character); `*` alone matches every resource. A wildcard in the
/// partition, service, region or account stays inside that part; one in the resource may span
/// `/`, so `disk/etc/*` matches `disk/etc/hosts` and `disk/etc/` but not `disk/etc`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArnPattern {
    text: String,
    /// `None` for `*`, which matches every resource.
    parts: Option<[glob::Pattern; 5]>,
}

const PART_NAMES: [&str; 5] = ["partition", "service", "region", "account", "resource"];

/// The longest ARN or resource pattern accepted (IAM's limit): it bounds the work of one
/// wildcard match, whatever a statement or a request holds.
pub const MAX_ARN_LEN: usize = 2048;

/// The five parts after `arn:`, or what is wrong. The resource keeps any further `:`.
fn split(text: &str) -> Result<[&str; 5], PolicyError> {
    let bad = |why: String| PolicyError::Arn {
        text: cut(text),
        why,
    };
    if text.len() > MAX_ARN_LEN {
        return Err(bad(format!("it is longer than {MAX_ARN_LEN} bytes")));
    }
    let rest = text
        .strip_prefix("arn:")
        .ok_or_else(|| bad("it must start with \"arn:\"".to_owned()))?;
    let parts: Vec<&str> = rest.splitn(5, ':').collect();
    let parts: [&str; 5] = parts.try_into().map_err(|parts: Vec<&str>| {
        bad(format!(
            "it has {} of the 5 parts after \"arn:\" (partition:service:region:account:type[/id])",
            parts.len()
        ))
    })?;
    for (part, name) in parts.iter().zip(PART_NAMES) {
        if part.is_empty() {
            return Err(bad(format!("its {name} is empty")));
        }
        if part.chars().any(unseen) {
            return Err(bad(format!(
                "its {name} holds white space, a control character or a bidirectional mark"
            )));
        }
    }
    if parts[4].starts_with('/') {
        return Err(bad(
            "its resource type (before the first \"/\") is empty".to_owned()
        ));
    }
    Ok(parts)
}

/// Whether a check's resource is in its one normal form: no empty segment except a last one
/// (`disk/etc/` names the folder), no `.` or `..` segment. Otherwise `server//1` or
/// `disk/etc/./shadow` would name a resource that a `Deny` of `server/1` or `disk/etc/shadow`
/// does not match.
fn normal_path(text: &str, resource: &str, pattern: bool) -> Result<(), PolicyError> {
    let segments: Vec<&str> = resource.split('/').collect();
    let last = segments.len() - 1;
    for (i, segment) in segments.iter().enumerate() {
        let why = match *segment {
            "" if i < last => "an empty segment (\"//\")",
            "." | ".." => "a \".\" or \"..\" segment",
            _ => continue,
        };
        let so = if pattern {
            "a check's resource never has one, so this pattern could never match"
        } else {
            "name each resource one way"
        };
        return Err(PolicyError::Arn {
            text: cut(text),
            why: format!("its resource path has {why}: {so}"),
        });
    }
    Ok(())
}

impl Arn {
    /// The ARN of `resource_type` in `account` (`id`: `None` for the type itself, as checks
    /// of "list" or "create" use it; `Some` for one resource or a sub-path). The parts are
    /// checked as [`Arn::parse`] checks them, and none of the first five may hold `:`, so data
    /// such as a team's name cannot reach into another part.
    ///
    /// ```
    /// use rowguard::policy::{Arn, PolicyError};
    ///
    /// assert!(Arn::new("rowguard", "crm", "eu", "123:server/9", "server", None).is_err());
    /// assert!(matches!(
    ///     Arn::new("rowguard", "crm", "eu", "123", "server", Some("*")),
    ///     Err(PolicyError::WildcardCheck { .. })
    /// ));
    /// ```
    pub fn new(
        partition: &str,
        service: &str,
        region: &str,
        account: &str,
        resource_type: &str,
        id: Option<&str>,
    ) -> Result<Arn, PolicyError> {
        let mut text = format!("arn:{partition}:{service}:{region}:{account}:{resource_type}");
        if let Some(id) = id {
            text.push('/');
            text.push_str(id);
        }
        if id == Some("") {
            return Err(PolicyError::Arn {
                text: cut(&text),
                why: "its id is empty (None names the resource type itself)".to_owned(),
            });
        }
        let named = [partition, service, region, account, resource_type];
        if let Some((_, name)) = named
            .iter()
            .zip(PART_NAMES)
            .find(|(p, _)| p.contains([':', '/']))
        {
            return Err(PolicyError::Arn {
                text: cut(&text),
                why: format!("its {name} holds \":\" or \"/\""),
            });
        }
        Arn::parse(&text)
    }

    /// Parses a check's ARN: all five parts non-empty, the resource path in its normal form,
    /// no wildcard anywhere (a wildcard is a [`PolicyError::WildcardCheck`]).
    pub fn parse(text: &str) -> Result<Arn, PolicyError> {
        let parts = split(text)?;
        if glob::has_wildcard(text) {
            return Err(PolicyError::WildcardCheck {
                what: "resource",
                text: cut(text),
            });
        }
        normal_path(text, parts[4], false)?;
        let mut starts = [0; 5];
        for (start, part) in starts.iter_mut().zip(parts) {
            *start = part.as_ptr() as usize - text.as_ptr() as usize;
        }
        Ok(Arn {
            text: text.to_owned(),
            starts,
        })
    }

    fn part(&self, i: usize) -> &str {
        let end = self.starts.get(i + 1).map_or(self.text.len(), |&s| s - 1);
        &self.text[self.starts[i]..end]
    }

    /// The partition (the project or deployment; `rowguard` by default).
    pub fn partition(&self) -> &str {
        self.part(0)
    }

    /// The service the resource belongs to.
    pub fn service(&self) -> &str {
        self.part(1)
    }

    /// The region.
    pub fn region(&self) -> &str {
        self.part(2)
    }

    /// The account (a tenant, a team: whoever owns the resource).
    pub fn account(&self) -> &str {
        self.part(3)
    }

    /// `<type>[/<id>]`, as written.
    pub fn resource(&self) -> &str {
        self.part(4)
    }

    /// The resource type (before the first `/`).
    pub fn resource_type(&self) -> &str {
        let resource = self.resource();
        resource.split_once('/').map_or(resource, |(t, _)| t)
    }

    /// The id or sub-path after the first `/`; `None` for the type itself.
    pub fn id(&self) -> Option<&str> {
        self.resource().split_once('/').map(|(_, id)| id)
    }

    /// The whole ARN.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl std::str::FromStr for Arn {
    type Err = PolicyError;

    fn from_str(text: &str) -> Result<Arn, PolicyError> {
        Arn::parse(text)
    }
}

impl fmt::Display for Arn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl ArnPattern {
    /// Parses a statement's resource: `*`, or an ARN whose parts may hold wildcards.
    ///
    /// ```
    /// use rowguard::policy::{Arn, ArnPattern};
    ///
    /// let etc = ArnPattern::parse("arn:rowguard:default:local:123:disk/etc/*")?;
    /// assert!(etc.matches(&"arn:rowguard:default:local:123:disk/etc/hosts".parse()?));
    /// assert!(etc.matches(&"arn:rowguard:default:local:123:disk/etc/".parse()?));
    /// assert!(!etc.matches(&"arn:rowguard:default:local:123:disk/etc".parse()?));
    /// // A wildcard in the account stays inside the account.
    /// let any = ArnPattern::parse("arn:rowguard:default:local:*:server")?;
    /// assert!(any.matches(&"arn:rowguard:default:local:9:server".parse()?));
    /// assert!(!any.matches(&"arn:rowguard:default:local:9:server/1".parse()?));
    /// # Ok::<(), rowguard::policy::PolicyError>(())
    /// ```
    pub fn parse(text: &str) -> Result<ArnPattern, PolicyError> {
        if text == "*" {
            return Ok(ArnPattern {
                text: text.to_owned(),
                parts: None,
            });
        }
        let parts = split(text)?;
        normal_path(text, parts[4], true)?;
        let parts = parts.map(glob::Pattern::new);
        Ok(ArnPattern {
            text: text.to_owned(),
            parts: Some(parts),
        })
    }

    /// The five part patterns (`None` for `*`, which names every resource).
    pub(crate) fn parts(&self) -> Option<&[glob::Pattern; 5]> {
        self.parts.as_ref()
    }

    /// Whether `arn` is one of the resources this pattern names.
    pub fn matches(&self, arn: &Arn) -> bool {
        let Some(parts) = &self.parts else {
            return true;
        };
        parts
            .iter()
            .enumerate()
            .all(|(i, pattern)| pattern.matches(arn.part(i), false))
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl fmt::Display for ArnPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// Characters an ARN may not hold: white space, control characters, and the bidirectional
/// marks and overrides that reorder what a reader sees (`\u{202e}`), so that an ARN shown in
/// a terminal or a page reads as it compares.
pub(crate) fn unseen(c: char) -> bool {
    c.is_whitespace()
        || c.is_control()
        || matches!(c, '\u{061c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}
