//! OSV's range evaluation (ossf.github.io/osv-schema, "Evaluation"), pure.
//!
//! A version is affected by an `affected[]` entry when it is in the entry's `versions`
//! list or in any of its ranges. A range holds when the version is below one of its
//! `limit`s (no limit, or `"*"`, is no bound), and walking its events sorted by version
//! (`introduced: "0"` first) the last one that applies says so: `introduced` at or below
//! the version makes it affected, `fixed` at or below it unaffected, `last_affected`
//! strictly below it unaffected. Events of equal version keep the record's order (a stable
//! sort), which decides nothing in well-formed data.
//!
//! Range types: `ECOSYSTEM` compares with the ecosystem's order; `SEMVER` with SemVer 2.0
//! precedence whatever the ecosystem, after dropping one leading `v` from either side (Go
//! writes `v1.2.3` where OSV's Go records write `1.2.3`); `GIT` ranges name commits, which
//! an installed package does not carry, so they are skipped (their versions are in the
//! `versions` list osv.dev expands them into).

use std::cmp::Ordering;

use osv::schema::{Affected, Event, RangeType};

use super::ecosystem::Order;
use crate::version::semver;

/// One event of a range, by kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `introduced`.
    Introduced,
    /// `fixed`.
    Fixed,
    /// `last_affected`.
    LastAffected,
    /// `limit`.
    Limit,
}

/// How a range's versions are compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compare {
    /// The ecosystem's own order (`ECOSYSTEM` ranges).
    Ecosystem(Order),
    /// SemVer 2.0 precedence (`SEMVER` ranges).
    Semver,
}

impl Compare {
    fn cmp(self, a: &str, b: &str) -> Ordering {
        match self {
            Compare::Ecosystem(order) => order.compare(a, b),
            Compare::Semver => semver::compare(strip_v(a), strip_v(b)),
        }
    }

    /// Why `v` cannot be compared, if it cannot.
    fn check(self, v: &str) -> Result<(), String> {
        match self {
            Compare::Ecosystem(order) => order.validate(v).map_err(|e| e.to_string()),
            Compare::Semver => semver::parse(strip_v(v))
                .map(drop)
                .map_err(|_| format!("{v:?} is not a SemVer 2.0 version (a SEMVER range)")),
        }
    }
}

fn strip_v(v: &str) -> &str {
    v.strip_prefix('v').unwrap_or(v)
}

/// The events of an OSV range as (kind, version) pairs, in record order.
pub fn events(events: &[Event]) -> Vec<(Kind, &str)> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Introduced(v) => Some((Kind::Introduced, v.as_str())),
            Event::Fixed(v) => Some((Kind::Fixed, v.as_str())),
            Event::LastAffected(v) => Some((Kind::LastAffected, v.as_str())),
            Event::Limit(v) => Some((Kind::Limit, v.as_str())),
            // A kind a later schema adds: unknown meaning, no effect.
            _ => None,
        })
        .collect()
}

/// Whether `version` is in the range made of `events`, by OSV's `IncludedInRanges` for one
/// range (the caller has checked the versions are comparable).
pub fn includes(events: &[(Kind, &str)], version: &str, cmp: Compare) -> bool {
    let limits: Vec<&str> = events
        .iter()
        .filter(|(k, _)| *k == Kind::Limit)
        .map(|(_, v)| *v)
        .collect();
    let before_limits = limits.is_empty()
        || limits
            .iter()
            .any(|l| l.contains('*') || cmp.cmp(version, l) == Ordering::Less);
    if !before_limits {
        return false;
    }
    let mut sorted: Vec<(Kind, &str)> = events
        .iter()
        .filter(|(k, _)| *k != Kind::Limit)
        .copied()
        .collect();
    sorted.sort_by(|a, b| match (is_zero(a), is_zero(b)) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Less,
        (false, true) => Ordering::Greater,
        (false, false) => cmp.cmp(a.1, b.1),
    });
    let mut vulnerable = false;
    for (kind, at) in sorted {
        let order = cmp.cmp(version, at);
        match kind {
            Kind::Introduced if at == "0" || order != Ordering::Less => vulnerable = true,
            Kind::Fixed if order != Ordering::Less => vulnerable = false,
            Kind::LastAffected if order == Ordering::Greater => vulnerable = false,
            _ => {}
        }
    }
    vulnerable
}

fn is_zero(event: &(Kind, &str)) -> bool {
    event.0 == Kind::Introduced && event.1 == "0"
}

/// The smallest `fixed` version above `version` among `events`.
pub fn next_fixed<'a>(events: &[(Kind, &'a str)], version: &str, cmp: Compare) -> Option<&'a str> {
    events
        .iter()
        .filter(|(k, v)| *k == Kind::Fixed && cmp.cmp(v, version) == Ordering::Greater)
        .map(|(_, v)| *v)
        .min_by(|a, b| cmp.cmp(a, b))
}

/// What one `affected[]` entry says of a version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Affected; the smallest fix above the version, if the ranges name one.
    Affected {
        /// The version to upgrade to.
        fixed: Option<String>,
    },
    /// Not affected.
    NotAffected,
    /// The entry cannot be evaluated for this version (why).
    Unjudged(String),
}

/// Judges `version` (already accepted by `order`) against one `affected[]` entry: its
/// `versions` list (exact strings; PEP 440 equality for PyPI, where `1.0` is `1.0.0`) and
/// its `ECOSYSTEM` and `SEMVER` ranges. A range whose versions its comparison refuses is
/// not silently skipped: the verdict is [`Verdict::Unjudged`] unless another range or the
/// list already says affected.
pub fn judge(affected: &Affected, version: &str, order: Order) -> Verdict {
    let listed =
        affected.versions.iter().flatten().any(|v| {
            v == version || (order.is_pypi() && order.compare(v, version) == Ordering::Equal)
        });
    let mut hit = listed;
    let mut fixes: Vec<String> = Vec::new();
    let mut problem = None;
    for range in affected.ranges.iter().flatten() {
        let cmp = match range.range_type {
            RangeType::Ecosystem => Compare::Ecosystem(order),
            RangeType::Semver => Compare::Semver,
            // GIT (commits) and unknown types cannot be evaluated for a package version.
            _ => continue,
        };
        let evs = events(&range.events);
        let bad = std::iter::once(version)
            .chain(
                evs.iter()
                    .filter(|(k, v)| !is_special(*k, v))
                    .map(|(_, v)| *v),
            )
            .find_map(|v| cmp.check(v).err());
        if let Some(reason) = bad {
            problem.get_or_insert(reason);
            continue;
        }
        if includes(&evs, version, cmp) {
            hit = true;
            if let Some(f) = next_fixed(&evs, version, cmp) {
                fixes.push(f.to_owned());
            }
        }
    }
    if hit {
        let fixed = fixes.into_iter().min_by(|a, b| order.compare(a, b));
        return Verdict::Affected { fixed };
    }
    match problem {
        Some(reason) => Verdict::Unjudged(reason),
        None => Verdict::NotAffected,
    }
}

/// `introduced: "0"` and `limit: "*"` are not versions to validate.
fn is_special(kind: Kind, v: &str) -> bool {
    (kind == Kind::Introduced && v == "0") || (kind == Kind::Limit && v.contains('*'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::version::Ecosystem;
    use Kind::*;

    const DPKG: Compare = Compare::Ecosystem(Order::Version(Ecosystem::Debian));
    const PEP: Compare = Compare::Ecosystem(Order::Version(Ecosystem::PyPI));

    /// (events, version, affected?, why) — each written from the spec's pseudocode.
    #[test]
    fn includes_follows_the_spec() {
        type Case<'a> = (&'a [(Kind, &'a str)], &'a str, bool, &'a str);
        let cases: &[Case] = &[
            (
                &[(Introduced, "0")],
                "0.0.1",
                true,
                "introduced 0: every version",
            ),
            (
                &[(Introduced, "0"), (Fixed, "1.0.2")],
                "1.0.1",
                true,
                "below the fix",
            ),
            (
                &[(Introduced, "0"), (Fixed, "1.0.2")],
                "1.0.2",
                false,
                "the fix itself",
            ),
            (
                &[(Introduced, "1.0"), (Fixed, "2.0")],
                "0.9",
                false,
                "before introduced",
            ),
            (
                &[(Introduced, "1.0"), (Fixed, "2.0")],
                "1.0",
                true,
                "introduced is inclusive",
            ),
            (
                &[(Introduced, "0"), (LastAffected, "2.1")],
                "2.1",
                true,
                "last_affected inclusive",
            ),
            (
                &[(Introduced, "0"), (LastAffected, "2.1")],
                "2.1-1",
                false,
                "above last_affected",
            ),
            // Two windows in one range, listed out of order: sorting puts them right.
            (
                &[
                    (Fixed, "3.2.5"),
                    (Introduced, "3.0.0"),
                    (Introduced, "1.0.0"),
                    (Fixed, "1.0.2"),
                ],
                "2.0",
                false,
                "between windows",
            ),
            (
                &[
                    (Fixed, "3.2.5"),
                    (Introduced, "3.0.0"),
                    (Introduced, "1.0.0"),
                    (Fixed, "1.0.2"),
                ],
                "3.1",
                true,
                "second window",
            ),
            // Limits: below some limit is required; "*" is infinity.
            (
                &[(Introduced, "0"), (Limit, "2.0")],
                "1.5",
                true,
                "below the limit",
            ),
            (
                &[(Introduced, "0"), (Limit, "2.0")],
                "2.0",
                false,
                "at the limit",
            ),
            (
                &[(Introduced, "0"), (Limit, "2.0"), (Limit, "3.0")],
                "2.5",
                true,
                "below one of two limits",
            ),
            (
                &[(Introduced, "0"), (Limit, "*")],
                "99",
                true,
                "limit * is no bound",
            ),
            // dpkg's order: epoch and tilde.
            (
                &[(Introduced, "0"), (Fixed, "1:1.0-1")],
                "2.0-1",
                true,
                "an epoch outranks the version",
            ),
            (
                &[(Introduced, "0"), (Fixed, "1.0-1")],
                "1.0~rc1-1",
                true,
                "~ sorts before the release",
            ),
            (
                &[(Introduced, "0"), (Fixed, "1.0-1~deb12u1")],
                "1.0-1",
                false,
                "a stable update ~deb12u1 is below -1",
            ),
        ];
        for (evs, version, want, why) in cases {
            assert_eq!(
                includes(evs, version, DPKG),
                *want,
                "{why}: {version} in {evs:?}"
            );
        }
    }

    #[test]
    fn semver_ranges_use_semver_precedence_and_drop_v() {
        let evs = [(Introduced, "0"), (Fixed, "1.2.3")];
        assert!(includes(&evs, "v1.2.3-rc.1", Compare::Semver));
        assert!(!includes(&evs, "v1.2.3+incompatible", Compare::Semver));
        // PEP 440 would put 1.2.3rc1 below 1.2.3 too, but 1.10.0 vs 1.9.0 shows numbers.
        assert!(!includes(
            &[(Introduced, "0"), (Fixed, "1.9.0")],
            "1.10.0",
            Compare::Semver
        ));
    }

    #[test]
    fn next_fixed_is_the_smallest_fix_above() {
        let evs = [
            (Introduced, "0"),
            (Fixed, "1.5"),
            (Introduced, "2.0"),
            (Fixed, "2.3"),
            (Fixed, "2.1"),
        ];
        assert_eq!(next_fixed(&evs, "2.0", PEP), Some("2.1"));
        assert_eq!(next_fixed(&evs, "1.0", PEP), Some("1.5"));
        assert_eq!(next_fixed(&evs, "3.0", PEP), None);
    }
}
