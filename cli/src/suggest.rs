//! "Did you mean …" for names that match nothing.

/// The candidate closest to `name`, if it is close enough to be a typo of it.
pub fn closest<'a, I>(name: &str, candidates: I) -> Option<&'a str>
where
    I: IntoIterator<Item = &'a str>,
{
    candidates
        .into_iter()
        .map(|c| (strsim::jaro_winkler(name, c), c))
        .filter(|(score, _)| *score >= 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

/// ` (did you mean "x"?)`, or nothing.
pub fn hint<'a, I>(name: &str, candidates: I) -> String
where
    I: IntoIterator<Item = &'a str>,
{
    closest(name, candidates)
        .map(|c| format!(" (did you mean \"{c}\"?)"))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typos_find_their_name_and_strangers_find_none() {
        assert_eq!(closest("rolez", ["roles", "groups", "id"]), Some("roles"));
        assert_eq!(
            closest("suport", ["support", "devops", "admin"]),
            Some("support")
        );
        assert_eq!(
            closest("contact", ["contacts", "job_executions"]),
            Some("contacts")
        );
        assert_eq!(closest("zzz", ["roles", "groups"]), None);
        assert_eq!(hint("zzz", ["roles"]), "");
    }
}
