//! Wildcard matching for actions and ARNs: `*` is any run of characters (empty too), `?`
//! exactly one, everything else itself.

/// Whether `text` matches `pattern`. Greedy with one backtrack point, so linear in practice
/// and never worse than `pattern.len() * text.len()` steps, whatever a statement holds.
/// `ignore_case` folds ASCII letters only (as IAM does for actions).
pub(crate) fn matches(pattern: &str, text: &str, ignore_case: bool) -> bool {
    if pattern.is_ascii() && text.is_ascii() {
        // Bytes are characters here: no allocation on the common path.
        return matches_units(pattern.as_bytes(), text.as_bytes(), b'*', b'?', |a, b| {
            a == b || (ignore_case && a.eq_ignore_ascii_case(&b))
        });
    }
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    matches_units(&p, &t, '*', '?', |a, b| {
        a == b || (ignore_case && a.eq_ignore_ascii_case(&b))
    })
}

fn matches_units<T: Copy + PartialEq>(
    p: &[T],
    t: &[T],
    star_unit: T,
    one_unit: T,
    same: impl Fn(T, T) -> bool,
) -> bool {
    let (mut pi, mut ti) = (0, 0);
    // Where the last `*` was, and the text position it currently stands for up to.
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        match p.get(pi) {
            Some(&c) if c == star_unit => {
                star = Some((pi, ti));
                pi += 1;
            }
            Some(&c) if c == one_unit || same(c, t[ti]) => {
                pi += 1;
                ti += 1;
            }
            _ => match star {
                // Let the last `*` take one more unit and try again after it.
                Some((sp, st)) => {
                    pi = sp + 1;
                    ti = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    p[pi..].iter().all(|&c| c == star_unit)
}

/// A pattern kept with whether it holds a wildcard: most parts of a statement's ARNs are
/// literal, and a literal compares with `==` (one `memcmp`), not step by step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Pattern {
    text: String,
    literal: bool,
}

impl Pattern {
    pub(crate) fn new(text: &str) -> Pattern {
        Pattern {
            text: text.to_owned(),
            literal: !has_wildcard(text),
        }
    }

    /// [`matches`] of this pattern.
    #[inline]
    pub(crate) fn matches(&self, text: &str, ignore_case: bool) -> bool {
        match (self.literal, ignore_case) {
            (true, false) => self.text == text,
            (true, true) => self.text.eq_ignore_ascii_case(text),
            (false, _) => matches(&self.text, text, ignore_case),
        }
    }

    pub(crate) fn as_str(&self) -> &str {
        &self.text
    }
}

/// Whether `text` holds a wildcard character.
pub(crate) fn has_wildcard(text: &str) -> bool {
    text.contains(['*', '?'])
}

#[cfg(test)]
mod tests {
    use super::matches;
    use proptest::prelude::*;

    #[test]
    fn stars_and_question_marks() {
        assert!(matches("server:*", "server:List", false));
        assert!(matches("*", "", false));
        assert!(matches("disk/etc/*", "disk/etc/", false));
        assert!(matches("disk/etc/*", "disk/etc/hosts", false));
        assert!(!matches("disk/etc/*", "disk/etc", false));
        assert!(matches("a*b*c", "aXXbYYc", false));
        assert!(!matches("a*b*c", "aXXbYY", false));
        assert!(matches("s?rver", "server", false));
        assert!(!matches("s?rver", "srver", false));
        assert!(matches("Server:list", "server:List", true));
        assert!(!matches("Server:list", "server:List", false));
    }

    /// The definition, by recursion (exponential, fine for short strings).
    fn naive(p: &[char], t: &[char]) -> bool {
        match p.split_first() {
            None => t.is_empty(),
            Some(('*', rest)) => (0..=t.len()).any(|i| naive(rest, &t[i..])),
            Some((&c, rest)) => {
                t.first().is_some_and(|&x| c == '?' || c == x) && naive(rest, &t[1..])
            }
        }
    }

    #[test]
    fn literal_patterns_compare_whole() {
        use super::Pattern;
        assert!(Pattern::new("server").matches("server", false));
        assert!(!Pattern::new("server").matches("servers", false));
        assert!(!Pattern::new("Server").matches("server", false));
        assert!(Pattern::new("Server:List").matches("server:list", true));
        assert!(Pattern::new("s*").matches("server", false));
    }

    proptest! {
        #[test]
        fn a_kept_pattern_matches_as_the_function_does(p in "[aB*?]{0,5}", t in "[abAB]{0,6}", fold: bool) {
            prop_assert_eq!(super::Pattern::new(&p).matches(&t, fold), matches(&p, &t, fold));
        }

        #[test]
        fn agrees_with_the_naive_recursion(p in "[ab*?/é]{0,8}", t in "[ab/é]{0,10}") {
            let (pc, tc): (Vec<char>, Vec<char>) = (p.chars().collect(), t.chars().collect());
            prop_assert_eq!(matches(&p, &t, false), naive(&pc, &tc));
        }
    }
}
