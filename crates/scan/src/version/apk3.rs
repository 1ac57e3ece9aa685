//! Alpine's version order as apk-tools 3 implements it (Alpine 3.23 on; `src/version.c` on
//! apk-tools' master branch; the tables below are written from its rules). The grammar
//! is 2.14's (see [`super::apk`]) plus a `~hash` commit component before the revision,
//! and two rule changes: a digit run after a dot that has a leading zero (in either
//! version) compares as text (`8.2.0` < `8.2.001`), and suffix names must match exactly.
//!
//! Like apk, [`compare`] takes any string: where a version stops being valid, what was read
//! so far decides. [`validate`] says whether apk-tools 3 accepts the string.

use std::cmp::Ordering;

use super::{Ecosystem, VersionError};

/// Token kinds in apk-tools 3's order (a version is a sequence of them, in this order).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    InitialDigit,
    Digit,
    Letter,
    Suffix,
    SuffixNo,
    CommitHash,
    RevisionNo,
    End,
    Invalid,
}

/// Suffix ranks: pre-releases below [`NONE`], post-releases above.
const SUFFIXES: [&str; 10] = [
    "alpha", "beta", "pre", "rc", "", "cvs", "svn", "git", "hg", "p",
];
/// The rank of "no suffix", between pre- and post-releases.
const NONE: usize = 4;

/// The current token: its kind, the text it covers, and its number or suffix rank.
struct Token<'a> {
    kind: Kind,
    text: &'a [u8],
    number: u64,
    suffix: usize,
}

/// Reads a digit run as apk's `apk_blob_pull_uint` does (wrapping like its `uint64_t`).
fn digits<'a>(t: &mut Token<'a>, rest: &mut &'a [u8]) {
    let n = rest.iter().take_while(|c| c.is_ascii_digit()).count();
    t.text = &rest[..n];
    t.number = t.text.iter().fold(0u64, |v, &c| {
        v.wrapping_mul(10).wrapping_add(u64::from(c - b'0'))
    });
    *rest = &rest[n..];
    if n == 0 {
        t.kind = Kind::Invalid;
    }
}

fn first<'a>(rest: &mut &'a [u8]) -> Token<'a> {
    let mut t = Token {
        kind: Kind::InitialDigit,
        text: &[],
        number: 0,
        suffix: 0,
    };
    digits(&mut t, rest);
    t
}

/// Moves to the next token, checking that its kind may follow the current one.
fn next<'a>(t: &mut Token<'a>, rest: &mut &'a [u8]) {
    let Some(&c) = rest.first() else {
        t.kind = Kind::End;
        return;
    };
    let invalid = |t: &mut Token<'a>| t.kind = Kind::Invalid;
    match c {
        b'a'..=b'z' => {
            if t.kind > Kind::Digit {
                return invalid(t);
            }
            t.text = &rest[..1];
            t.kind = Kind::Letter;
            *rest = &rest[1..];
        }
        b'.' | b'0'..=b'9' => {
            if c == b'.' {
                if t.kind > Kind::Digit {
                    return invalid(t);
                }
                *rest = &rest[1..];
            }
            t.kind = match t.kind {
                Kind::InitialDigit | Kind::Digit => Kind::Digit,
                Kind::Suffix => Kind::SuffixNo,
                _ => return invalid(t),
            };
            digits(t, rest);
        }
        b'_' => {
            if t.kind > Kind::SuffixNo {
                return invalid(t);
            }
            let n = rest[1..]
                .iter()
                .take_while(|c| c.is_ascii_lowercase())
                .count();
            t.text = &rest[1..1 + n];
            *rest = &rest[1 + n..];
            // The empty name is "no suffix", not a suffix one may write.
            match SUFFIXES
                .iter()
                .position(|s| !s.is_empty() && s.as_bytes() == t.text)
            {
                Some(rank) => {
                    t.suffix = rank;
                    t.kind = Kind::Suffix;
                }
                None => invalid(t),
            }
        }
        b'~' => {
            if t.kind >= Kind::CommitHash {
                return invalid(t);
            }
            let n = rest[1..]
                .iter()
                .take_while(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f'))
                .count();
            if n == 0 {
                return invalid(t);
            }
            t.text = &rest[1..1 + n];
            *rest = &rest[1 + n..];
            t.kind = Kind::CommitHash;
        }
        b'-' => {
            if t.kind >= Kind::RevisionNo || rest.get(1) != Some(&b'r') {
                return invalid(t);
            }
            *rest = &rest[2..];
            t.kind = Kind::RevisionNo;
            digits(t, rest);
        }
        _ => invalid(t),
    }
}

/// Compares two tokens of the same kind.
fn token_cmp(a: &Token<'_>, b: &Token<'_>) -> Ordering {
    match a.kind {
        // A leading zero on either side: Gentoo's rule, compare the digits as text.
        Kind::Digit if a.text.first() == Some(&b'0') || b.text.first() == Some(&b'0') => {
            a.text.cmp(b.text)
        }
        Kind::InitialDigit | Kind::Digit | Kind::SuffixNo | Kind::RevisionNo => {
            a.number.cmp(&b.number)
        }
        Kind::Letter => a.text.cmp(b.text),
        Kind::Suffix => a.suffix.cmp(&b.suffix),
        _ => a.text.cmp(b.text),
    }
}

/// Where a NUL ends the version (apk works on C strings).
fn bytes(version: &str) -> &[u8] {
    let b = version.as_bytes();
    &b[..b.iter().position(|&c| c == 0).unwrap_or(b.len())]
}

/// Orders two Alpine versions as apk-tools 3 does, valid or not.
pub fn compare(a: &str, b: &str) -> Ordering {
    let (mut ra, mut rb) = (bytes(a), bytes(b));
    let (mut ta, mut tb) = (first(&mut ra), first(&mut rb));
    // Each step consumes input or ends, so this stops within len+1 steps.
    while ta.kind == tb.kind && ta.kind < Kind::End {
        let order = token_cmp(&ta, &tb);
        if order.is_ne() {
            return order;
        }
        next(&mut ta, &mut ra);
        next(&mut tb, &mut rb);
    }
    if ta.kind == tb.kind {
        return Ordering::Equal;
    }
    // Equal so far and one goes on: it is newer unless it goes on with a pre-release.
    if ta.kind == Kind::Suffix && ta.suffix < NONE {
        return Ordering::Less;
    }
    if tb.kind == Kind::Suffix && tb.suffix < NONE {
        return Ordering::Greater;
    }
    tb.kind.cmp(&ta.kind)
}

/// Whether apk-tools 3 accepts `version` (`apk_version_validate`).
pub fn validate(version: &str) -> Result<(), VersionError> {
    let mut rest = bytes(version);
    let mut t = first(&mut rest);
    while t.kind < Kind::End {
        next(&mut t, &mut rest);
    }
    if t.kind == Kind::End {
        Ok(())
    } else {
        Err(VersionError::invalid(
            Ecosystem::Alpine,
            version,
            "not a digit{.digit}...{letter}{_suf{#}}...{~hash}{-r#} version",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commit_hash_and_leading_zeros() {
        use Ordering::*;
        assert_eq!(compare("8.2.0", "8.2.001"), Less);
        assert_eq!(compare("1.0~1234-r1", "1.0~2345-r0"), Less);
        assert_eq!(compare("1.0~abc", "1.0"), Greater);
        assert_eq!(compare("1.0_rc1~abc", "1.0"), Less);
        assert!(validate("1.0_rc1~deadbeef-r2").is_ok());
        for bad in ["1.0~", "1.0~xyz", "1.0_", "1.0_alph", "1.0-r1~ab", "a1"] {
            let err = validate(bad).unwrap_err();
            assert!(err.to_string().contains(&format!("{bad:?}")), "{err}");
        }
    }

    #[test]
    fn validity_follows_the_grammar() {
        for good in [
            "1",
            "1.0",
            "1.0a",
            "1.0_rc1",
            "1.0_p2-r3",
            "1.0~abc123-r1",
            "2.14.0_git20240101",
        ] {
            assert_eq!(validate(good), Ok(()), "{good:?}");
        }
        for bad in ["", "a1", "1..0", "1.0-r", "1.0_", "1.0-rx", "1.0 "] {
            assert!(validate(bad).is_err(), "{bad:?} should be refused");
        }
    }
}
