//! Alpine's version order, as apk-tools 2.14 implements it (`src/version.c` on the
//! `2.14-stable` branch, `apk_version_compare_blob`; Debian ships no apk-tools to test
//! against, so the tables below are written from its rules): a
//! Gentoo-style `{digits}{.digits}…{letter}{_suffix{digits}}…{-r{digits}}` read token by
//! token. Pre-release suffixes (`_alpha` < `_beta` < `_pre` < `_rc`) sort before the bare
//! version, post-release ones (`_cvs`, `_svn`, `_git`, `_hg`, `_p`) after; a component
//! after a `.` with leading zeros sorts as a fraction (`1.02` < `1.1`).
//!
//! apk-tools 3 (Alpine 3.23 on) added a `~hash` commit component (`1.0~1234-r1`) and
//! compares a digit run with a leading zero as text (`8.2.0` < `8.2.001`; 2.14 sorts it
//! the other way): [`super::apk3`] follows it. The two orders differ only there.
//!
//! apk compares any string, valid or not: where a version stops being valid it compares
//! what it has read so far and treats the invalid rest as below a continuation. [`compare`]
//! does exactly that; [`validate`] says whether apk would accept the string
//! (`apk_version_validate`).

use std::cmp::Ordering;

use super::{Ecosystem, VersionError};

/// What the next token is, in apk's order: the enum order matters (a later kind may only
/// follow an earlier one, and at the end the shorter version's next kind decides).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    Invalid,
    DigitOrZero,
    Digit,
    Letter,
    Suffix,
    SuffixNo,
    RevisionNo,
    End,
}

const PRE_SUFFIXES: [&str; 4] = ["alpha", "beta", "pre", "rc"];
const POST_SUFFIXES: [&str; 5] = ["cvs", "svn", "git", "hg", "p"];

/// A cursor over a version string, yielding (kind, value) tokens as apk-tools does.
struct Tokens<'a> {
    rest: &'a [u8],
    kind: Kind,
}

impl<'a> Tokens<'a> {
    fn new(version: &'a str) -> Self {
        // A NUL ends the version for apk (it works on C strings).
        let bytes = version.as_bytes();
        let end = bytes.iter().position(|&c| c == 0).unwrap_or(bytes.len());
        Tokens {
            rest: &bytes[..end],
            kind: Kind::Digit,
        }
    }

    /// Reads the separator after a token and decides the next token's kind.
    fn next_kind(&mut self) {
        let prev = self.kind;
        let mut next = Kind::Invalid;
        match self.rest.first() {
            None => next = Kind::End,
            Some(c)
                if matches!(prev, Kind::Digit | Kind::DigitOrZero) && c.is_ascii_lowercase() =>
            {
                next = Kind::Letter
            }
            Some(c) if prev == Kind::Letter && c.is_ascii_digit() => next = Kind::Digit,
            Some(c) if prev == Kind::Suffix && c.is_ascii_digit() => next = Kind::SuffixNo,
            Some(c) => {
                match c {
                    b'.' => next = Kind::DigitOrZero,
                    b'_' => next = Kind::Suffix,
                    b'-' if self.rest.get(1) == Some(&b'r') => {
                        next = Kind::RevisionNo;
                        self.rest = &self.rest[1..];
                    }
                    _ => {}
                }
                self.rest = &self.rest[1..];
            }
        }
        // Kinds only move forward, except: another component after a digit, another
        // suffix after a suffix number, digits after a letter.
        if next < prev
            && !matches!(
                (next, prev),
                (Kind::DigitOrZero, Kind::Digit)
                    | (Kind::Suffix, Kind::SuffixNo)
                    | (Kind::Digit, Kind::Letter)
            )
        {
            next = Kind::Invalid;
        }
        self.kind = next;
    }

    /// Reads one token's value and moves to the next kind.
    fn token(&mut self) -> i64 {
        if self.rest.is_empty() {
            self.kind = Kind::End;
            return 0;
        }
        let mut forced = None;
        let (value, used) = match self.kind {
            Kind::DigitOrZero if self.rest[0] == b'0' => {
                // Leading zeros after a dot: each zero but the last lowers the value (a
                // decimal fraction: `1.002` < `1.02` < `1.1`); the last one is read as
                // the start of the digits that follow.
                let zeros = self.rest.iter().take_while(|&&c| c == b'0').count();
                forced = Some(Kind::Digit);
                (-((zeros - 1) as i64), zeros - 1)
            }
            Kind::DigitOrZero | Kind::Digit | Kind::SuffixNo | Kind::RevisionNo => {
                let n = self.rest.iter().take_while(|c| c.is_ascii_digit()).count();
                // apk refuses numbers of 18 digits or more (they would overflow its i64).
                if n >= 18 {
                    self.kind = Kind::Invalid;
                    return -1;
                }
                let value = self.rest[..n]
                    .iter()
                    .fold(0i64, |v, &c| v * 10 + i64::from(c - b'0'));
                (value, n)
            }
            Kind::Letter => (i64::from(self.rest[0]), 1),
            Kind::Suffix => match suffix(self.rest) {
                Some(found) => found,
                None => {
                    self.kind = Kind::Invalid;
                    return -1;
                }
            },
            Kind::Invalid | Kind::End => {
                self.kind = Kind::Invalid;
                return -1;
            }
        };
        self.rest = &self.rest[used..];
        if self.rest.is_empty() {
            self.kind = Kind::End;
        } else if let Some(kind) = forced {
            self.kind = kind;
        } else {
            self.next_kind();
        }
        value
    }
}

/// A suffix's value (pre-releases negative, in order; post-releases from 0) and length.
fn suffix(rest: &[u8]) -> Option<(i64, usize)> {
    if let Some(i) = PRE_SUFFIXES
        .iter()
        .position(|s| rest.starts_with(s.as_bytes()))
    {
        return Some((i as i64 - PRE_SUFFIXES.len() as i64, PRE_SUFFIXES[i].len()));
    }
    POST_SUFFIXES
        .iter()
        .position(|s| rest.starts_with(s.as_bytes()))
        .map(|i| (i as i64, POST_SUFFIXES[i].len()))
}

/// Orders two Alpine versions as apk-tools does, valid or not (see the module doc).
pub fn compare(a: &str, b: &str) -> Ordering {
    let (mut ta, mut tb) = (Tokens::new(a), Tokens::new(b));
    let (mut av, mut bv) = (0, 0);
    while ta.kind == tb.kind && !matches!(ta.kind, Kind::End | Kind::Invalid) && av == bv {
        av = ta.token();
        bv = tb.token();
    }
    if av != bv {
        return av.cmp(&bv);
    }
    if ta.kind == tb.kind {
        return Ordering::Equal;
    }
    // Equal so far and one goes on: it is newer unless what follows is a pre-release.
    if ta.kind == Kind::Suffix && peek_suffix(&ta) < 0 {
        return Ordering::Less;
    }
    if tb.kind == Kind::Suffix && peek_suffix(&tb) < 0 {
        return Ordering::Greater;
    }
    // The kind further along the enum is the shorter version (End is last): older.
    tb.kind.cmp(&ta.kind)
}

/// The value of the suffix `tokens` is at, without moving it (-1 for an unknown suffix).
fn peek_suffix(tokens: &Tokens<'_>) -> i64 {
    let mut copy = Tokens {
        rest: tokens.rest,
        kind: tokens.kind,
    };
    copy.token()
}

/// Whether apk-tools accepts `version` (`apk_version_validate`).
pub fn validate(version: &str) -> Result<(), VersionError> {
    let mut tokens = Tokens::new(version);
    // Each token consumes input or ends, so this stops within len+1 steps.
    while !matches!(tokens.kind, Kind::End | Kind::Invalid) {
        tokens.token();
    }
    if tokens.kind == Kind::End {
        Ok(())
    } else {
        Err(VersionError::invalid(
            Ecosystem::Alpine,
            version,
            "not a {digits}{.digits}...{letter}{_suffix{digits}}...{-r{digits}} version",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suffixes_and_revisions() {
        use Ordering::*;
        for (a, b, want) in [
            ("1.0_alpha", "1.0_beta", Less),
            ("1.0_beta", "1.0_pre", Less),
            ("1.0_pre", "1.0_rc", Less),
            ("1.0_rc", "1.0", Less),
            ("1.0", "1.0_cvs", Less),
            ("1.0_git", "1.0_p", Less),
            ("1.0_p1", "1.0_p1-r1", Less),
            ("1.0-r1", "1.0-r10", Less),
            ("1.0a", "1.0b", Less),
            ("1.02", "1.1", Less),
            ("1.002", "1.02", Less),
            ("1.0", "1.00", Greater),
            ("1.0", "1.0-r0", Less),
        ] {
            assert_eq!(compare(a, b), want, "{a} vs {b}");
        }
    }

    #[test]
    fn validate_follows_apk() {
        for ok in [
            "1",
            "1.2.3",
            "1.2a",
            "1.0_rc1-r2",
            "1.0_alpha_pre2",
            "0.1_p3_git20200101-r0",
        ] {
            assert_eq!(validate(ok), Ok(()), "{ok}");
        }
        // apk accepts more than its pattern suggests: "", "a", "1..0" and "1.0-r" pass.
        for ok in ["", "a", "1..0", "1.0-r"] {
            assert_eq!(validate(ok), Ok(()), "{ok}");
        }
        for bad in [
            "1.0bc",
            "1.0_foo",
            "1.0-1",
            "1.0_rc1a",
            "1.0-r1.1",
            "1.123456789012345678",
        ] {
            let err = validate(bad).unwrap_err();
            assert!(err.to_string().contains(&format!("{bad:?}")), "{err}");
        }
    }
}
