//! The subject: who is asking. Its authorizable sets (`roles`, `groups`, `id`, …) select rule
//! rows; its attributes fill `$subject.*` variables.

use std::collections::hash_map::DefaultHasher;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

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
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subject {
    sets: BTreeMap<String, BTreeSet<String>>,
    attributes: Attributes,
    /// [`Subject::sets_key`] and its hash, kept up to date by every change of the sets so
    /// that a rule-cache lookup builds nothing.
    key: Arc<str>,
    key_hash: u64,
    /// Granted by an RBAC permission ([`crate::rbac::ABSOLUTE_RIGHTS`]); see
    /// [`Subject::with_absolute_rights`].
    absolute_rights: bool,
}

impl Default for Subject {
    fn default() -> Self {
        let mut subject = Self {
            sets: BTreeMap::new(),
            attributes: Attributes::default(),
            key: Arc::from(""),
            key_hash: 0,
            absolute_rights: false,
        };
        subject.rekey();
        subject
    }
}

impl Subject {
    /// A subject with no sets (it gets only the universal role's rules).
    ///
    /// ```
    /// use rowguard::Subject;
    ///
    /// let nobody = Subject::new();
    /// assert_eq!(nobody.sets().count(), 0);
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    fn rekey(&mut self) {
        let mut key = String::new();
        for (set_type, values) in &self.sets {
            let _ = write!(key, "{}:{}|", set_type.len(), set_type);
            for v in values {
                let _ = write!(key, "{}:{},", v.len(), v);
            }
            key.push(';');
        }
        let mut hasher = DefaultHasher::new();
        key.hash(&mut hasher);
        self.key_hash = hasher.finish();
        self.key = Arc::from(key);
    }

    /// Adds values to a set type (`roles`, `groups`, `id`, or any in `authorizable_set_types`).
    ///
    /// ```
    /// use rowguard::Subject;
    ///
    /// let s = Subject::new().with_set("roles", ["agent"]).with_set("roles", ["sales"]);
    /// assert_eq!(s.set("roles").collect::<Vec<_>>(), ["agent", "sales"]);
    /// ```
    pub fn with_set<V: ToString>(
        mut self,
        set_type: impl Into<String>,
        values: impl IntoIterator<Item = V>,
    ) -> Self {
        self.add_set(set_type, values);
        self
    }

    /// Adds values to a set type in place.
    ///
    /// ```
    /// use rowguard::Subject;
    ///
    /// let mut s = Subject::new();
    /// s.add_set("groups", ["emea"]);
    /// assert_eq!(s.set("groups").collect::<Vec<_>>(), ["emea"]);
    /// ```
    pub fn add_set<V: ToString>(
        &mut self,
        set_type: impl Into<String>,
        values: impl IntoIterator<Item = V>,
    ) {
        self.sets
            .entry(set_type.into())
            .or_default()
            .extend(values.into_iter().map(|v| v.to_string()));
        self.rekey();
    }

    /// Sets a single-valued attribute for `$subject.NAME`.
    ///
    /// ```
    /// use rowguard::Subject;
    ///
    /// let s = Subject::new().with_attribute("id", 17);
    /// assert_eq!(s.attributes().get("id"), Some(&["17".to_string()][..]));
    /// ```
    pub fn with_attribute(mut self, name: impl Into<String>, value: impl ToString) -> Self {
        self.attributes.insert(name, vec![value.to_string()]);
        self
    }

    /// Sets a multi-valued attribute (expands inside `=` / `!=` lists).
    ///
    /// ```
    /// use rowguard::Subject;
    ///
    /// // `{"team_id":"=$subject.teams"}` then matches team 3 or 4.
    /// let s = Subject::new().with_attribute_list("teams", [3, 4]);
    /// assert_eq!(s.attributes().get("teams").map(<[String]>::len), Some(2));
    /// ```
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
    ///
    /// ```
    /// use rowguard::Subject;
    ///
    /// let s = Subject::new().with_set("id", [17]);
    /// assert_eq!(s.set("id").collect::<Vec<_>>(), ["17"]);
    /// assert_eq!(s.set("roles").count(), 0);
    /// ```
    pub fn set<'a>(&'a self, set_type: &str) -> impl Iterator<Item = &'a str> + 'a {
        self.sets
            .get(set_type)
            .into_iter()
            .flat_map(|values| values.iter().map(String::as_str))
    }

    /// Every `(set type, values)`.
    ///
    /// ```
    /// use rowguard::Subject;
    ///
    /// let s = Subject::new().with_set("roles", ["agent"]).with_set("id", [17]);
    /// let types: Vec<&str> = s.sets().map(|(t, _)| t).collect();
    /// assert_eq!(types, ["id", "roles"]);
    /// ```
    pub fn sets(&self) -> impl Iterator<Item = (&str, &BTreeSet<String>)> {
        self.sets.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// The attributes.
    ///
    /// ```
    /// use rowguard::Subject;
    ///
    /// let s = Subject::new().with_attribute("region", "emea");
    /// assert!(s.attributes().get("region").is_some());
    /// ```
    pub fn attributes(&self) -> &Attributes {
        &self.attributes
    }

    /// A canonical text of the sets (not the attributes): subjects with the same sets share
    /// cached rules.
    ///
    /// ```
    /// use rowguard::Subject;
    ///
    /// let a = Subject::new().with_set("roles", ["a", "b"]).with_attribute("id", 1);
    /// let b = Subject::new().with_set("roles", ["b", "a"]).with_attribute("id", 2);
    /// assert_eq!(a.sets_key(), b.sets_key()); // attributes are not part of it
    /// ```
    pub fn sets_key(&self) -> &Arc<str> {
        &self.key
    }

    /// The subject bypasses every rule, as a member of a `[absolute_rights]` set does. What
    /// [`crate::rbac::Rbac::subject`] sets for a subject whose roles hold the permission
    /// [`crate::rbac::ABSOLUTE_RIGHTS`] (granted by name; `"*"` alone does not hold it). Subjects are
    /// built by the application, which is trusted with this as with any role name.
    ///
    /// ```
    /// use rowguard::{Authorizer, Bypass, Config, Subject};
    ///
    /// let auth = Authorizer::new(Config::default());
    /// let root = Subject::new().with_set("id", ["root"]).with_absolute_rights();
    /// assert!(root.has_absolute_rights());
    /// assert_eq!(auth.bypass(&root), Some(Bypass::AbsoluteRights));
    /// ```
    pub fn with_absolute_rights(mut self) -> Self {
        self.absolute_rights = true;
        self
    }

    /// Whether [`Subject::with_absolute_rights`] was called.
    ///
    /// ```
    /// assert!(!rowguard::Subject::new().has_absolute_rights());
    /// ```
    pub fn has_absolute_rights(&self) -> bool {
        self.absolute_rights
    }

    /// A hash of [`Subject::sets_key`].
    ///
    /// ```
    /// use rowguard::Subject;
    ///
    /// let a = Subject::new().with_set("roles", ["a"]);
    /// assert_eq!(a.sets_hash(), Subject::new().with_set("roles", ["a"]).sets_hash());
    /// assert_ne!(a.sets_hash(), Subject::new().with_set("roles", ["b"]).sets_hash());
    /// ```
    pub fn sets_hash(&self) -> u64 {
        self.key_hash
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
        assert_eq!(a.sets_hash(), b.sets_hash());
        assert_eq!(a, b);
        let c = Subject::new().with_set("roles", ["a,b"]);
        let d = Subject::new().with_set("roles", ["a", "b"]);
        assert_ne!(c.sets_key(), d.sets_key());
    }
}
