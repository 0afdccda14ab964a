//! The subject: who is asking. Its authorizable sets (`roles`, `groups`, `id`, …) select rule
//! rows; its attributes fill `$subject.*` variables.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use crate::rules::Attributes;

/// Who is asking: authorizable sets and attributes.
///
/// ```
/// use rowguard::Subject;
///
/// let agent = Subject::new()
///     .with_set("roles", ["agent", "support"])
///     .with_set("id", [17])              // numbers are accepted and converted
///     .with_attribute("id", 17);
/// assert_eq!(agent.set("roles").count(), 2);
/// assert_eq!(agent.attributes().get("id"), Some(&["17".to_string()][..]));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Subject {
    sets: BTreeMap<String, BTreeSet<String>>,
    attributes: Attributes,
}

impl Subject {
    /// A subject with no sets (it gets only the universal role's rules).
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds values to a set type (`roles`, `groups`, `id`, or any in `authorizable_set_types`).
    pub fn with_set<V: ToString>(
        mut self,
        set_type: impl Into<String>,
        values: impl IntoIterator<Item = V>,
    ) -> Self {
        self.add_set(set_type, values);
        self
    }

    /// Adds values to a set type in place.
    pub fn add_set<V: ToString>(
        &mut self,
        set_type: impl Into<String>,
        values: impl IntoIterator<Item = V>,
    ) {
        self.sets
            .entry(set_type.into())
            .or_default()
            .extend(values.into_iter().map(|v| v.to_string()));
    }

    /// Sets a single-valued attribute for `$subject.NAME`.
    pub fn with_attribute(mut self, name: impl Into<String>, value: impl ToString) -> Self {
        self.attributes.insert(name, vec![value.to_string()]);
        self
    }

    /// Sets a multi-valued attribute (expands inside `=` / `!=` lists).
    pub fn with_attribute_list<V: ToString>(
        mut self,
        name: impl Into<String>,
        values: impl IntoIterator<Item = V>,
    ) -> Self {
        self.attributes
            .insert(name, values.into_iter().map(|v| v.to_string()).collect());
        self
    }

    /// The values of one set type.
    pub fn set<'a>(&'a self, set_type: &str) -> impl Iterator<Item = &'a str> + 'a {
        self.sets
            .get(set_type)
            .into_iter()
            .flat_map(|values| values.iter().map(String::as_str))
    }

    /// Every `(set type, values)`.
    pub fn sets(&self) -> impl Iterator<Item = (&str, &BTreeSet<String>)> {
        self.sets.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// The attributes.
    pub fn attributes(&self) -> &Attributes {
        &self.attributes
    }

    /// A canonical text of the sets (not the attributes): subjects with the same sets share
    /// cached rules.
    pub fn sets_key(&self) -> String {
        let mut key = String::new();
        for (set_type, values) in &self.sets {
            let _ = write!(key, "{}:{}|", set_type.len(), set_type);
            for v in values {
                let _ = write!(key, "{}:{},", v.len(), v);
            }
            key.push(';');
        }
        key
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sets_key_is_canonical_and_unambiguous() {
        let a = Subject::new().with_set("roles", ["b", "a"]);
        let b = Subject::new()
            .with_set("roles", ["a"])
            .with_set("roles", ["b"]);
        assert_eq!(a.sets_key(), b.sets_key());
        let c = Subject::new().with_set("roles", ["a,b"]);
        let d = Subject::new().with_set("roles", ["a", "b"]);
        assert_ne!(c.sets_key(), d.sets_key());
    }
}
