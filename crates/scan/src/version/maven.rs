//! Maven's version order, as Maven 3.8.7's `ComparableVersion` implements it
//! (`org.apache.maven.artifact.versioning.ComparableVersion` in maven-artifact, the
//! reference checked by `tests/diff_maven.rs`): the lowercased string splits at `.`, `-` and
//! digit/letter boundaries into numbers, qualifiers and nested lists (a `-`, a switch
//! between letters and digits, or a qualifier after other items opens a sub-list); trailing
//! "null" items (`0`, `""`, `final`, `ga`, `release`, empty lists) are dropped.
//!
//! Qualifiers order `alpha` < `beta` < `milestone` < `rc` (= `cr`) < `snapshot` < release
//! < `sp`, then unknown qualifiers alphabetically; `a1`, `b1`, `m1` mean `alpha-1`,
//! `beta-1`, `milestone-1`. A number beats a qualifier and a sub-list at the same place.
//! Maven compares every string, so [`compare`] has no invalid inputs.
//!
//! Maven's order is not transitive on odd strings (`0` < `sp0a0` < `.00a1` < `0`, as
//! maven-artifact itself answers), and [`compare`] answers exactly as Maven does, so do not
//! sort Maven versions with it (Rust's sort may panic on an intransitive order); judge
//! ranges pair by pair, as OSV matching does.

use std::cmp::Ordering;

use super::cmp_digits;

/// One item of a parsed version.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Item {
    /// A number, leading zeros stripped.
    Number(String),
    /// A qualifier, aliases resolved (`cr` is `rc`; `ga`, `final`, `release` are `""`).
    Qualifier(String),
    /// A sub-list, opened by `-` or a letter/digit switch.
    List(Vec<Item>),
}

const QUALIFIERS: [&str; 7] = ["alpha", "beta", "milestone", "rc", "snapshot", "", "sp"];
/// The position of the release (the empty qualifier) in [`QUALIFIERS`].
const RELEASE: usize = 5;

/// The string Maven sorts a qualifier by: its rank among the known ones, or after them
/// all (`"7-"` + name) for an unknown one.
fn qualifier_key(q: &str) -> String {
    match QUALIFIERS.iter().position(|k| *k == q) {
        Some(i) => i.to_string(),
        None => format!("{}-{q}", QUALIFIERS.len()),
    }
}

fn qualifier(value: &str, followed_by_digit: bool) -> Item {
    let value = match value {
        "a" if followed_by_digit => "alpha",
        "b" if followed_by_digit => "beta",
        "m" if followed_by_digit => "milestone",
        "ga" | "final" | "release" => "",
        "cr" => "rc",
        other => other,
    };
    Item::Qualifier(value.to_owned())
}

/// The innermost open list.
fn top(stack: &mut [Vec<Item>]) -> &mut Vec<Item> {
    stack.last_mut().expect("the root list stays open")
}

fn item(is_digit: bool, text: &str) -> Item {
    if is_digit {
        let stripped = text.trim_start_matches('0');
        Item::Number(if stripped.is_empty() { "0" } else { stripped }.to_owned())
    } else {
        qualifier(text, false)
    }
}

impl Item {
    /// Whether the item equals "nothing" and may be dropped from the end of a list.
    fn is_null(&self) -> bool {
        match self {
            Item::Number(n) => n == "0",
            Item::Qualifier(q) => q.is_empty(),
            Item::List(items) => items.is_empty(),
        }
    }

    /// Compares with the item at the same place in the other version (`None`: it ended).
    fn cmp_to(&self, other: Option<&Item>) -> Ordering {
        use Item::*;
        match (self, other) {
            (Number(n), None) => {
                if n == "0" {
                    Ordering::Equal
                } else {
                    Ordering::Greater
                }
            }
            (Number(a), Some(Number(b))) => cmp_digits(a, b),
            (Number(_), Some(_)) => Ordering::Greater,
            (Qualifier(q), None) => qualifier_key(q).as_str().cmp(RELEASE.to_string().as_str()),
            (Qualifier(_), Some(Number(_) | List(_))) => Ordering::Less,
            (Qualifier(a), Some(Qualifier(b))) => qualifier_key(a).cmp(&qualifier_key(b)),
            // Against nothing, the whole list counts (MNG-6964), not just its first item.
            (List(items), None) => items
                .iter()
                .map(|item| item.cmp_to(None))
                .find(|o| o.is_ne())
                .unwrap_or(Ordering::Equal),
            (List(_), Some(Number(_))) => Ordering::Less,
            (List(_), Some(Qualifier(_))) => Ordering::Greater,
            (List(a), Some(List(b))) => cmp_lists(a, b),
        }
    }
}

fn cmp_lists(a: &[Item], b: &[Item]) -> Ordering {
    for i in 0..a.len().max(b.len()) {
        let order = match (a.get(i), b.get(i)) {
            (Some(left), right) => left.cmp_to(right),
            (None, Some(right)) => right.cmp_to(None).reverse(),
            (None, None) => Ordering::Equal,
        };
        if order.is_ne() {
            return order;
        }
    }
    Ordering::Equal
}

/// Drops trailing null items, looking past non-null sub-lists as Maven does (so
/// `1.0-1` is `1-1`).
fn normalize(items: &mut Vec<Item>) {
    let mut i = items.len();
    while i > 0 {
        i -= 1;
        if items[i].is_null() {
            items.remove(i);
        } else if !matches!(items[i], Item::List(_)) {
            break;
        }
    }
}

/// Parses a version into Maven's item tree.
fn parse(version: &str) -> Vec<Item> {
    let version = version.to_lowercase();
    let chars: Vec<(usize, char)> = version.char_indices().collect();
    // Open lists, innermost last; each is the last item of the one before it, so it is
    // attached to its parent when closed (after it is normalized, as Maven does).
    let mut stack: Vec<Vec<Item>> = vec![Vec::new()];
    let mut is_digit = false;
    let mut start = 0;
    for &(i, c) in &chars {
        match c {
            '.' | '-' => {
                let part = if i == start {
                    Item::Number("0".to_owned())
                } else {
                    item(is_digit, &version[start..i])
                };
                top(&mut stack).push(part);
                start = i + 1;
                if c == '-' {
                    stack.push(Vec::new());
                }
            }
            c if c.is_ascii_digit() => {
                if !is_digit && i > start {
                    // Letters then digits (`rc1`): the qualifier opens a sub-list unless it
                    // starts the list, and the digits go in a sub-list of their own.
                    if !top(&mut stack).is_empty() {
                        stack.push(Vec::new());
                    }
                    top(&mut stack).push(qualifier(&version[start..i], true));
                    start = i;
                    stack.push(Vec::new());
                }
                is_digit = true;
            }
            _ => {
                if is_digit && i > start {
                    top(&mut stack).push(item(true, &version[start..i]));
                    start = i;
                    stack.push(Vec::new());
                }
                is_digit = false;
            }
        }
    }
    if version.len() > start {
        // A trailing qualifier after other items opens a sub-list too.
        if !is_digit && !top(&mut stack).is_empty() {
            stack.push(Vec::new());
        }
        top(&mut stack).push(item(is_digit, &version[start..]));
    }
    loop {
        let mut list = stack.pop().expect("the root list stays open");
        normalize(&mut list);
        match stack.last_mut() {
            Some(parent) => parent.push(Item::List(list)),
            None => return list,
        }
    }
}

/// Orders two Maven versions as `ComparableVersion.compareTo` does.
pub fn compare(a: &str, b: &str) -> Ordering {
    cmp_lists(&parse(a), &parse(b))
}

#[cfg(test)]
mod tests {
    use super::*;
    use Ordering::*;

    #[test]
    fn maven_test_suite_order() {
        // Pairs from Maven's ComparableVersionTest, answers confirmed with maven-artifact 3.8.7.
        for (a, b, want) in [
            ("1", "1.1", Less),
            ("1-snapshot", "1", Less),
            ("1", "1-sp", Less),
            ("1-foo2", "1-foo10", Less),
            ("1.foo", "1-foo", Equal),
            ("1-foo", "1-1", Less),
            ("1-1", "1.1", Less),
            ("1.0-alpha-1", "1.0", Less),
            ("1.0-alpha-1", "1.0-alpha-2", Less),
            ("1.0-alpha-1", "1.0-beta-1", Less),
            ("1.0-beta-1", "1.0-snapshot", Less),
            ("1.0-snapshot", "1.0", Less),
            ("1.0-alpha-1-snapshot", "1.0-alpha-1", Less),
            ("1.0", "1.0-1", Less),
            ("1.0-1", "1.0-2", Less),
            ("1.0.0", "1.0-1", Less),
            ("2.0-1", "2.0.1", Less),
            ("2.0.1-klm", "2.0.1-lmn", Less),
            ("2.0.1", "2.0.1-xyz", Less),
            ("2.0.1", "2.0.1-123", Less),
            ("2.0.1-xyz", "2.0.1-123", Less),
            ("1.0RC1", "1.0-rc-1", Equal),
            ("1.0CR1", "1.0rc1", Equal),
            ("1a1", "1-alpha-1", Equal),
            ("1.0.0.ga", "1", Equal),
            ("1-final", "1", Equal),
            ("1-release", "1.0.0", Equal),
            ("1.0.0.X1", "1.0.0-X1", Equal),
            ("0001", "1", Equal),
            ("1.12345678901234567890", "1.12345678901234567891", Less),
        ] {
            assert_eq!(compare(a, b), want, "{a} vs {b}");
            assert_eq!(compare(b, a), want.reverse(), "{b} vs {a}");
        }
    }

    /// Maven's own cycle (maven-artifact 3.8.7 answers the same three comparisons), kept
    /// so nobody "fixes" the order into disagreeing with Maven.
    #[test]
    fn maven_order_is_not_transitive_on_odd_strings() {
        assert_eq!(compare("0", "sp0a0"), Less);
        assert_eq!(compare("sp0a0", ".00a1"), Less);
        assert_eq!(compare(".00a1", "0"), Less);
    }
}
