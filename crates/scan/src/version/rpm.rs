//! RPM's version order, as rpm implements it (`rpmio/rpmvercmp.c` `rpmvercmp`, and the
//! Python binding's `rpm.labelCompare` for `[epoch:]version[-release]` labels): runs of
//! ASCII letters or digits compared one by one (digits numerically, letters by bytes, a
//! digit run newer than a letter run), anything else only a separator; `~` sorts before
//! everything (even the end), `^` after the end but before any other continuation.
//!
//! rpm compares any string, so [`compare`] is total with no special cases. A label is split
//! like `rpm.labelCompare`'s callers do: the epoch before the first `:` (absent is `0`), the
//! release after the last `-`; a label without a release sorts before the same version
//! with any release (labelCompare's `None` release). [`parse`] refuses what an RPM header
//! could not hold: an empty version or a non-numeric epoch.

use std::cmp::Ordering;

use super::{Ecosystem, VersionError};

/// An RPM label split into its parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Label<'a> {
    /// The epoch as written (`None` when absent, which compares like `"0"`).
    pub epoch: Option<&'a str>,
    /// The version.
    pub version: &'a str,
    /// The release, if the label has one.
    pub release: Option<&'a str>,
}

/// Splits a label without judging it: epoch before the first `:`, release after the last `-`.
pub fn split(label: &str) -> Label<'_> {
    let (epoch, rest) = match label.split_once(':') {
        Some((epoch, rest)) => (Some(epoch), rest),
        None => (None, label),
    };
    let (version, release) = match rest.rsplit_once('-') {
        Some((version, release)) => (version, Some(release)),
        None => (rest, None),
    };
    Label {
        epoch,
        version,
        release,
    }
}

/// Splits a label and refuses an empty version or an epoch that is not a number.
pub fn parse(label: &str) -> Result<Label<'_>, VersionError> {
    let parsed = split(label);
    let err = |reason| Err(VersionError::invalid(Ecosystem::RedHat, label, reason));
    if parsed
        .epoch
        .is_some_and(|e| e.is_empty() || !e.bytes().all(|c| c.is_ascii_digit()))
    {
        return err("epoch is not a number");
    }
    if parsed.version.is_empty() {
        return err("version is empty");
    }
    if parsed.release == Some("") {
        return err("release is empty");
    }
    Ok(parsed)
}

/// Orders two labels as `rpm.labelCompare` orders their (epoch, version, release).
pub fn compare(a: &str, b: &str) -> Ordering {
    let (a, b) = (split(a), split(b));
    rpmvercmp(a.epoch.unwrap_or("0"), b.epoch.unwrap_or("0"))
        .then_with(|| rpmvercmp(a.version, b.version))
        .then_with(|| match (a.release, b.release) {
            (Some(x), Some(y)) => rpmvercmp(x, y),
            (x, y) => x.is_some().cmp(&y.is_some()),
        })
}

/// rpm's `rpmvercmp` on one field.
pub fn rpmvercmp(a: &str, b: &str) -> Ordering {
    if a == b {
        return Ordering::Equal;
    }
    let (mut one, mut two) = (a.as_bytes(), b.as_bytes());
    let separator = |c: &u8| !c.is_ascii_alphanumeric() && *c != b'~' && *c != b'^';
    while !one.is_empty() || !two.is_empty() {
        one = &one[one.iter().take_while(|c| separator(c)).count()..];
        two = &two[two.iter().take_while(|c| separator(c)).count()..];
        let (c1, c2) = (one.first(), two.first());
        if c1 == Some(&b'~') || c2 == Some(&b'~') {
            if c1 != Some(&b'~') {
                return Ordering::Greater;
            }
            if c2 != Some(&b'~') {
                return Ordering::Less;
            }
            (one, two) = (&one[1..], &two[1..]);
            continue;
        }
        if c1 == Some(&b'^') || c2 == Some(&b'^') {
            match (c1, c2) {
                (None, _) => return Ordering::Less,
                (_, None) => return Ordering::Greater,
                (Some(x), _) if *x != b'^' => return Ordering::Greater,
                (_, Some(y)) if *y != b'^' => return Ordering::Less,
                _ => {}
            }
            (one, two) = (&one[1..], &two[1..]);
            continue;
        }
        if one.is_empty() || two.is_empty() {
            break;
        }
        let numeric = one[0].is_ascii_digit();
        let in_run = |c: &u8| {
            if numeric {
                c.is_ascii_digit()
            } else {
                c.is_ascii_alphabetic()
            }
        };
        let (n1, n2) = (
            one.iter().take_while(|c| in_run(c)).count(),
            two.iter().take_while(|c| in_run(c)).count(),
        );
        // Different kinds of run: a number is newer than letters.
        if n2 == 0 {
            return if numeric {
                Ordering::Greater
            } else {
                Ordering::Less
            };
        }
        let (s1, s2) = (&one[..n1], &two[..n2]);
        let order = if numeric {
            // Both runs are ASCII digits, so these are valid UTF-8.
            super::cmp_digits(
                std::str::from_utf8(s1).unwrap_or_default(),
                std::str::from_utf8(s2).unwrap_or_default(),
            )
        } else {
            s1.cmp(s2)
        };
        if order != Ordering::Equal {
            return order;
        }
        (one, two) = (&one[n1..], &two[n2..]);
    }
    match (one.is_empty(), two.is_empty()) {
        (true, true) => Ordering::Equal,
        (false, _) => Ordering::Greater,
        (true, false) => Ordering::Less,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Ordering::*;

    /// Cases from rpm's own test suite (tests/rpmvercmp.at).
    #[test]
    fn rpm_test_suite_cases() {
        for (a, b, want) in [
            ("1.0", "1.0", Equal),
            ("1.0", "2.0", Less),
            ("2.0.1", "2.0.1a", Less),
            ("5.5p1", "5.5p10", Less),
            ("10xyz", "10.1xyz", Less),
            ("xyz10", "xyz10.1", Less),
            ("xyz.4", "8", Less),
            ("5.5p2", "5.6p1", Less),
            ("6.0.rc1", "6.0", Greater),
            ("10b2", "10a1", Greater),
            ("1.0aa", "1.0a", Greater),
            ("10.0001", "10.1", Equal),
            ("10.0001", "10.0039", Less),
            ("4.999.9", "5.0", Less),
            ("20101121", "20101122", Less),
            ("2_0", "2_0", Equal),
            ("2.0", "2_0", Equal),
            ("a", "a", Equal),
            ("a+", "a_", Equal),
            ("+a", "_a", Equal),
            ("+_", "_+", Equal),
            ("+", "_", Equal),
            ("1.0~rc1", "1.0", Less),
            ("1.0~rc1", "1.0~rc2", Less),
            ("1.0~rc1~git123", "1.0~rc1", Less),
            ("1.0^", "1.0", Greater),
            ("1.0^git1", "1.0^git2", Less),
            ("1.0^git1", "1.01", Less),
            ("1.0^20160101", "1.0.1", Less),
            ("1.0~rc1^git1", "1.0~rc1", Greater),
            ("1.0^git1~pre", "1.0^git1", Less),
        ] {
            assert_eq!(rpmvercmp(a, b), want, "{a} vs {b}");
            assert_eq!(rpmvercmp(b, a), want.reverse(), "{b} vs {a}");
        }
    }

    #[test]
    fn labels_compare_epoch_version_release() {
        assert_eq!(compare("1:1.0-1", "2.0-1"), Greater);
        assert_eq!(compare("0:1.0-1", "1.0-1"), Equal);
        assert_eq!(compare("1.0-1.el8", "1.0-1.el8_2"), Less);
        assert_eq!(compare("1.0", "1.0-1"), Less);
        assert_eq!(compare("1.0-1-2", "1.0-1-3"), Less);
    }

    #[test]
    fn parse_refuses_bad_labels() {
        for bad in ["x:1.0", ":1.0", "1:", "-1", "1.0-"] {
            let err = parse(bad).unwrap_err();
            assert!(err.to_string().contains(&format!("{bad:?}")), "{err}");
        }
        let label = parse("2:1.0-3.el9").unwrap();
        assert_eq!(
            (label.epoch, label.version, label.release),
            (Some("2"), "1.0", Some("3.el9"))
        );
    }
}
