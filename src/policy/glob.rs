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

    proptest! {
        #[test]
        fn agrees_with_the_naive_recursion(p in "[ab*?/é]{0,8}", t in "[ab/é]{0,10}") {
            let (pc, tc): (Vec<char>, Vec<char>) = (p.chars().collect(), t.chars().collect());
            prop_assert_eq!(matches(&p, &t, false), naive(&pc, &tc));
        }
    }
}
