//! Debian's version order, as `dpkg --compare-versions` implements it (dpkg's
//! `lib/dpkg/parsehelp.c` `parseversion` and `lib/dpkg/version.c` `verrevcmp`, Debian
//! Policy §5.6.12): `[epoch:]upstream[-revision]`, epochs numerically, then upstream and
//! revision alternately by non-digit runs (`~` before everything, even the end; letters
//! before other characters) and digit runs (numerically).
//!
//! Strings dpkg refuses with an error (empty, embedded spaces, a bad epoch, nothing after
//! the colon, an empty upstream or revision) fail [`parse`] and, in [`compare`], sort
//! before every valid version (dpkg itself exits with an error there). Strings dpkg only
//! warns about (upstream not starting with a digit, characters outside the policy set)
//! parse and compare exactly as dpkg compares them after its warning. As on dpkg's command
//! line, `""` and `"<unknown>"` are the blank version, before every other.

use std::cmp::Ordering;

use super::{Ecosystem, VersionError, cmp_parsed};

/// A Debian version split into its three parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Version<'a> {
    /// The epoch, `0` when absent.
    pub epoch: u32,
    /// The upstream version.
    pub upstream: &'a str,
    /// The Debian revision, `""` when absent (which orders like `"0"`).
    pub revision: &'a str,
}

fn err(version: &str, reason: &'static str) -> VersionError {
    VersionError::invalid(Ecosystem::Debian, version, reason)
}

/// Splits a version as dpkg's `parseversion` does, refusing what dpkg refuses with an error.
pub fn parse(version: &str) -> Result<Version<'_>, VersionError> {
    if version.is_empty() {
        return Err(err(version, "version string is empty"));
    }
    // dpkg trims blanks (space and tab only) on both ends and refuses any inside.
    let trimmed = version.trim_matches([' ', '\t']);
    if trimmed.contains([' ', '\t']) {
        return Err(err(version, "version string has embedded spaces"));
    }
    let (epoch, rest) = match trimmed.split_once(':') {
        Some((epoch, rest)) => (parse_epoch(version, epoch)?, rest),
        None => (0, trimmed),
    };
    if trimmed.contains(':') && rest.is_empty() {
        return Err(err(version, "nothing after colon in version number"));
    }
    let (upstream, revision) = match rest.rsplit_once('-') {
        Some((_, "")) => return Err(err(version, "revision number is empty")),
        Some((upstream, revision)) => (upstream, revision),
        None => (rest, ""),
    };
    if upstream.is_empty() {
        return Err(err(version, "version number is empty"));
    }
    Ok(Version {
        epoch,
        upstream,
        revision,
    })
}

/// The epoch as C's `strtol` reads it (an optional sign, digits), which dpkg then bounds.
fn parse_epoch(version: &str, epoch: &str) -> Result<u32, VersionError> {
    // strtol skips C's whitespace (more than the blanks dpkg trimmed) before the number.
    let epoch = epoch.trim_start_matches([' ', '\t', '\n', '\x0b', '\x0c', '\r']);
    let (negative, digits) = match epoch.as_bytes().first() {
        Some(b'-') => (true, &epoch[1..]),
        Some(b'+') => (false, &epoch[1..]),
        _ => (false, epoch),
    };
    if digits.is_empty() {
        return Err(err(version, "epoch in version is empty"));
    }
    if !digits.bytes().all(|c| c.is_ascii_digit()) {
        // strtol stopped before the colon (or read nothing, which dpkg reports as empty).
        return Err(if digits.as_bytes()[0].is_ascii_digit() {
            err(version, "epoch in version is not number")
        } else {
            err(version, "epoch in version is empty")
        });
    }
    let value = digits.trim_start_matches('0');
    if negative && !value.is_empty() {
        return Err(err(version, "epoch in version is negative"));
    }
    match value.parse::<u64>() {
        _ if value.is_empty() => Ok(0),
        Ok(n) if n <= i32::MAX as u64 => Ok(n as u32),
        _ => Err(err(version, "epoch in version is too big")),
    }
}

/// Orders two Debian versions as `dpkg --compare-versions` does; see the module doc for
/// strings dpkg refuses.
pub fn compare(a: &str, b: &str) -> Ordering {
    match (is_blank(a), is_blank(b)) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Less,
        (false, true) => Ordering::Greater,
        (false, false) => cmp_parsed((a, parse(a)), (b, parse(b)), cmp_versions),
    }
}

/// dpkg's command line takes `""` and `"<unknown>"` as the blank version (what a package
/// that is not installed has), older than every version, `~` ones included.
fn is_blank(version: &str) -> bool {
    version.is_empty() || version == "<unknown>"
}

/// Orders two parsed versions: epoch, then upstream, then revision.
pub fn cmp_versions(a: &Version<'_>, b: &Version<'_>) -> Ordering {
    a.epoch
        .cmp(&b.epoch)
        .then_with(|| verrevcmp(a.upstream, b.upstream))
        .then_with(|| verrevcmp(a.revision, b.revision))
}

/// A non-digit character's weight: `~` below the end of the string, letters by their
/// code, anything else after all letters. Bytes above ASCII weigh as C's signed `char`
/// plus 256 does in dpkg, which lands them between letters and punctuation.
fn order(c: Option<u8>) -> i32 {
    match c {
        None => 0,
        Some(c) if c.is_ascii_digit() => 0,
        Some(c) if c.is_ascii_alphabetic() => i32::from(c),
        Some(b'~') => -1,
        Some(c) => i32::from(c as i8) + 256,
    }
}

/// dpkg's `verrevcmp`: alternating non-digit and digit runs.
fn verrevcmp(a: &str, b: &str) -> Ordering {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let (mut i, mut j) = (0, 0);
    let digit = |s: &[u8], k: usize| s.get(k).is_some_and(u8::is_ascii_digit);
    while i < a.len() || j < b.len() {
        while (i < a.len() && !digit(a, i)) || (j < b.len() && !digit(b, j)) {
            let (ac, bc) = (order(a.get(i).copied()), order(b.get(j).copied()));
            if ac != bc {
                return ac.cmp(&bc);
            }
            i += 1;
            j += 1;
        }
        while a.get(i) == Some(&b'0') {
            i += 1;
        }
        while b.get(j) == Some(&b'0') {
            j += 1;
        }
        let mut first_diff = Ordering::Equal;
        while digit(a, i) && digit(b, j) {
            if first_diff == Ordering::Equal {
                first_diff = a[i].cmp(&b[j]);
            }
            i += 1;
            j += 1;
        }
        if digit(a, i) {
            return Ordering::Greater;
        }
        if digit(b, j) {
            return Ordering::Less;
        }
        if first_diff != Ordering::Equal {
            return first_diff;
        }
    }
    Ordering::Equal
}

#[cfg(test)]
mod tests {
    use super::*;
    use Ordering::*;

    #[test]
    fn policy_examples() {
        for (a, b, want) in [
            ("1.0~rc1", "1.0", Less),
            ("1.0~~", "1.0~", Less),
            ("1.0~", "1.0", Less),
            ("1.0", "1.0a", Less),
            ("1.0a", "1.0+", Less),
            ("1.0", "1.0-0", Equal),
            ("1.0-1", "1.0-01", Equal),
            ("1:0.1", "2.0", Greater),
            ("0:2.0", "2.0", Equal),
            ("2.10", "2.9", Greater),
            ("1.0-1~bpo1", "1.0-1", Less),
            ("1.2.3+dfsg-1", "1.2.3-1", Greater),
            ("7.6p2-4", "7.6-0", Greater),
            ("1:2:3-4", "1:2:3-5", Less),
            ("1.0-a-b", "1.0-a-c", Less),
            ("001", "1", Equal),
        ] {
            assert_eq!(compare(a, b), want, "{a} vs {b}");
            assert_eq!(compare(b, a), want.reverse(), "{b} vs {a}");
        }
    }

    #[test]
    fn parse_splits_epoch_upstream_revision() {
        let v = parse(" 2:1.0-a-3 ").unwrap();
        assert_eq!((v.epoch, v.upstream, v.revision), (2, "1.0-a", "3"));
        assert_eq!(parse("+1:2").unwrap().epoch, 1);
        assert_eq!(parse("00:2").unwrap().epoch, 0);
    }

    #[test]
    fn parse_refuses_what_dpkg_refuses() {
        for (v, reason) in [
            ("", "version string is empty"),
            ("   ", "version number is empty"),
            ("1 2", "version string has embedded spaces"),
            (":1", "epoch in version is empty"),
            ("a:1", "epoch in version is empty"),
            ("1a:1", "epoch in version is not number"),
            ("-1:1", "epoch in version is negative"),
            ("99999999999:1", "epoch in version is too big"),
            ("1:", "nothing after colon in version number"),
            ("1.0-", "revision number is empty"),
            ("-1", "version number is empty"),
            ("1:-1", "version number is empty"),
        ] {
            match parse(v) {
                Err(VersionError::Invalid {
                    reason: r, version, ..
                }) => {
                    assert_eq!((r, version.as_str()), (reason, v))
                }
                Ok(p) => panic!("{v:?} parsed as {p:?}"),
            }
        }
    }

    #[test]
    fn warnings_still_compare_like_dpkg() {
        // dpkg warns ("does not start with digit", "invalid character") but compares.
        assert!(parse("a1.0").is_ok());
        assert_eq!(compare("a1.0", "b1.0"), Less);
        assert_eq!(compare("1.0_1", "1.0.1"), Greater);
    }

    #[test]
    fn blank_version_is_before_everything() {
        // dpkg --compare-versions '' lt 0~ and '<unknown>' lt 0~ are both true.
        for blank in ["", "<unknown>"] {
            assert_eq!(compare(blank, "0~"), Less);
            assert_eq!(compare("0~", blank), Greater);
        }
        assert_eq!(compare("", "<unknown>"), Equal);
    }

    #[test]
    fn refused_versions_sort_first() {
        assert_eq!(compare("1:", "0"), Less);
        assert_eq!(compare("0~", "1 2"), Greater);
        assert_eq!(compare("1:", "1:"), Equal);
    }
}
