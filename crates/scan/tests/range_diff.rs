//! Range evaluation checked against osv.dev's own code: the `osv` package on PyPI (0.1.3,
//! osv.dev's library, archived) orders versions per ecosystem (`osv.ecosystems`, its
//! `sort_key`s) and expands an `affected[]` range into its affected versions with
//! `_get_affected_versions`, one `introduced`…`fixed`/`last_affected` window at a time,
//! as osv.dev does when it fills a record's `versions` list. The oracle below walks the
//! sorted events into windows as `osv.impact.enumerate_versions` does (that function's
//! module needs Google Cloud, so its ~15-line walk is restated here) and asks osv.dev's
//! code whether the one installed version falls in any window.
//!
//! Versions: every event version of every hand-written fixture record, and small edits of
//! each (a digit bumped, a suffix added: the boundaries' neighbours), those strata's order
//! accepts. A difference fails the test unless [`explained`] gives its reason.
//!
//! osv 0.1.3 declares Python 3.13 (for `warnings.deprecated`) and Google Cloud
//! dependencies; `scripts/install-peers.sh` (install_match_oracles) installs it without
//! them into a venv of Debian's Python 3.11, and the oracle stubs `warnings.deprecated` and
//! `osv.repos` (pygit2, for Alpine's git-based version listing, not used here).

mod match_fixtures;

mod common;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use common::{Rng, mutate};
use match_fixtures::records;
use osv::schema::{Affected, RangeType};
use scan::matching::Order;
use scan::matching::range::{self, Verdict};
use scan::version::Ecosystem;
use serde_json::json;

const PYTHON: &str = "/var/cache/strata-peers/py-match/bin/python";

const ORACLE: &str = r#"
import importlib.util, json, os, sys, types, warnings
if not hasattr(warnings, "deprecated"):
    warnings.deprecated = lambda msg, **kw: (lambda f: f)
root = os.path.dirname(importlib.util.find_spec("osv").origin)
package = types.ModuleType("osv"); package.__path__ = [root]; sys.modules["osv"] = package
sys.modules["osv.repos"] = types.ModuleType("osv.repos")
import osv.ecosystems as E
from osv.third_party.univers.alpine import AlpineLinuxVersion
from osv.third_party.univers.debian import Version as DebianVersion

class Window:
    """osv.dev's EnumerableEcosystem window logic over any ordered ecosystem."""
    def __init__(self, eco): self.sort_key = eco.sort_key
    def _before_limits(self, v, limits): return E.EnumerableEcosystem._before_limits(self, v, limits)
    def affected(self, *a): return E.EnumerableEcosystem._get_affected_versions(self, *a)

def in_range(eco, events, version):
    # osv.impact.enumerate_versions: "0" first, others sorted, windows walked in order.
    w = Window(eco)
    zero, others, limits = None, [], []
    for e in events:
        (kind, v), = e.items()
        if kind == "introduced" and v == "0": zero = e
        elif kind == "limit": limits.append(v)
        else: others.append(e)
    others.sort(key=lambda e: eco.sort_key(next(iter(e.values()))))
    if zero: others.insert(0, zero)
    hit, start = False, None
    for e in others:
        (kind, v), = e.items()
        if kind == "introduced" and start is None: start = v
        if start is not None and kind == "fixed":
            hit |= bool(w.affected([version], start, v, None, limits)); start = None
        if start is not None and kind == "last_affected":
            hit |= bool(w.affected([version], start, None, v, limits)); start = None
    if start is not None:
        hit |= bool(w.affected([version], start, None, None, limits))
    return hit

for line in sys.stdin:
    q = json.loads(line)
    entry, version = q["entry"], q["version"]
    eco = E.get(entry["package"]["ecosystem"])
    hit = version in (entry.get("versions") or [])
    for r in entry.get("ranges") or []:
        if r["type"] == "ECOSYSTEM": hit |= in_range(eco, r["events"], version)
        elif r["type"] == "SEMVER": hit |= in_range(E.get("npm"), r["events"], version)
    # osv.dev's Alpine and Debian orders sort what their parsers refuse last, as "999999".
    name = entry["package"]["ecosystem"]
    refused = (name.startswith("Alpine") and not AlpineLinuxVersion.is_valid(version)) or \
        (name.startswith(("Debian", "Ubuntu")) and not DebianVersion.is_valid(version))
    print(1 if hit else 0, "refused" if refused else "valid")
"#;

/// Why strata and osv.dev's code may differ on `version` for `entry`, if they may.
fn explained(
    ecosystem: &str,
    entry: &Affected,
    version: &str,
    osv_refused: bool,
) -> Option<&'static str> {
    let listed = entry.versions.iter().flatten();
    if ecosystem == "PyPI" {
        let equal = |v: &&String| scan::version::compare(Ecosystem::PyPI, v, version).is_eq();
        if !listed.clone().any(|v| v == version) && listed.clone().any(|v| equal(&v)) {
            return Some(
                "strata matches a PyPI versions entry by PEP 440 equality (1.0 is 1.0.0), osv.dev's list by exact string",
            );
        }
    }
    if osv_refused {
        // e.g. dpkg itself (with a warning) orders 1:~deb12u110.11.4-1 below 1:10.11.4-1.
        return Some(
            "osv.dev's (univers') Alpine or Debian parser refuses the version and sorts it last; strata's order compares it (for Debian as dpkg does, with a warning)",
        );
    }
    if ecosystem.starts_with("Rocky Linux") && version.matches('-').count() > 1 {
        return Some(
            "an rpm label with more than one '-' (rpm stores none in a version or release): strata splits the release off at the last '-' as rpm's labelCompare callers do, osv.dev's RpmVersion elsewhere",
        );
    }
    if ecosystem == "Maven" && version.contains("--") {
        // maven-artifact 3.8.7 itself: 2.0-beta9 < 2.0--alpha1beta9 < 2.15.0 (an empty
        // list item between the dashes), which version::maven follows (tests/diff_maven.rs).
        return Some(
            "a doubled '-' in a Maven version: strata follows maven-artifact's ComparableVersion, osv.dev's own Maven order differs",
        );
    }
    None
}

/// strata's order for an OSV ecosystem string the oracle knows, with edits to try.
fn order_of(ecosystem: &str) -> Option<(Order, &'static [&'static str])> {
    let prefix = ecosystem.split(':').next().unwrap_or(ecosystem);
    Some(match prefix {
        "Debian" | "Ubuntu" => (
            Order::Version(Ecosystem::Debian),
            &["~rc1", "+b1", "-1", ".1", "~deb12u1"][..],
        ),
        "Alpine" => (
            Order::Version(Ecosystem::Alpine),
            &["-r1", "_rc1", "_p1", ".1"][..],
        ),
        "Rocky Linux" => (
            Order::Version(Ecosystem::RedHat),
            &[".el9", "_1", "-1", "~rc1"][..],
        ),
        "PyPI" => (
            Order::Version(Ecosystem::PyPI),
            &["rc1", ".post1", ".dev0", "a1", ".0"][..],
        ),
        "npm" => (
            Order::Version(Ecosystem::Npm),
            &["-beta.1", "-0", "+build"][..],
        ),
        "Go" => (
            Order::Version(Ecosystem::Go),
            &["-0", "-rc.1", "+incompatible"][..],
        ),
        "crates.io" => (Order::Version(Ecosystem::CratesIo), &["-alpha", "-0"][..]),
        "Maven" => (
            Order::Version(Ecosystem::Maven),
            &["-beta1", "-alpha1", ".1", "-SNAPSHOT"][..],
        ),
        _ => return None,
    })
}

/// The versions to judge against one entry: its event and listed versions and edits of
/// them, in the order's accepted form (Go's with the `v` its order needs).
fn candidates(entry: &Affected, order: Order, edits: &[&str], rng: &mut Rng) -> Vec<String> {
    let mut seeds: Vec<String> = entry.versions.clone().unwrap_or_default();
    for r in entry.ranges.iter().flatten() {
        for (_, v) in range::events(&r.events) {
            if v != "0" && !v.contains('*') {
                seeds.push(v.to_owned());
            }
        }
    }
    let go = order == Order::Version(Ecosystem::Go);
    let mut out = Vec::new();
    for seed in seeds {
        let seed = if go && !seed.starts_with('v') {
            format!("v{seed}")
        } else {
            seed
        };
        out.push(seed.clone());
        // One and two edits away: the boundary's neighbours on both sides.
        for _ in 0..100 {
            let once = mutate(rng, &seed, edits);
            out.push(mutate(rng, &once, edits));
            out.push(once);
        }
    }
    out.sort();
    out.dedup();
    out.retain(|v| order.validate(v).is_ok());
    out
}

#[test]
fn range_verdicts_agree_with_osv_dev() {
    assert!(
        Path::new(PYTHON).exists(),
        "{PYTHON} is missing: run scripts/install-peers.sh (install_match_oracles)"
    );
    let mut rng = Rng::new(0x05e1_d0e0);
    // (ecosystem, entry, version, strata's verdict), and the oracle's query per line.
    let mut cases: Vec<(String, Affected, String, bool)> = Vec::new();
    let mut queries = String::new();
    for record in records() {
        for entry in record.affected.iter().flatten() {
            let Some(package) = &entry.package else {
                continue;
            };
            let ecosystem = serde_json::to_value(&package.ecosystem).unwrap();
            let ecosystem = ecosystem.as_str().unwrap();
            let Some((order, edits)) = order_of(ecosystem) else {
                continue;
            };
            // osv.dev's range code reads ECOSYSTEM and SEMVER ranges like strata; entries
            // whose ranges strata cannot evaluate (a refused event version) are left out.
            let evaluable = entry.ranges.iter().flatten().all(|r| {
                !matches!(r.range_type, RangeType::Ecosystem)
                    || range::events(&r.events)
                        .iter()
                        .all(|(_, v)| *v == "0" || order.validate(v).is_ok())
            });
            if !evaluable {
                continue;
            }
            for version in candidates(entry, order, edits, &mut rng) {
                let ours = match range::judge(entry, &version, order) {
                    Verdict::Affected { .. } => true,
                    Verdict::NotAffected => false,
                    Verdict::Unjudged(_) => continue,
                };
                let query = json!({"entry": entry, "version": version});
                queries.push_str(&query.to_string());
                queries.push('\n');
                cases.push((ecosystem.to_owned(), entry.clone(), version, ours));
            }
        }
    }
    assert!(cases.len() > 1000, "only {} cases", cases.len());
    let mut child = Command::new(PYTHON)
        .args(["-c", ORACLE])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || stdin.write_all(queries.as_bytes()));
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    assert!(out.status.success(), "the osv.dev oracle failed");
    let answers: Vec<(bool, bool)> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| (l.starts_with('1'), l.ends_with("refused")))
        .collect();
    assert_eq!(answers.len(), cases.len());
    let mut unexplained = Vec::new();
    let mut reasons = std::collections::BTreeMap::new();
    for ((eco, entry, version, ours), (theirs, refused)) in cases.iter().zip(&answers) {
        if ours == theirs {
            continue;
        }
        match explained(eco, entry, version, *refused) {
            Some(why) => *reasons.entry(why).or_insert(0) += 1,
            None => unexplained.push(format!(
                "{eco} {} {version}: strata {ours}, osv.dev {theirs}",
                entry.package.as_ref().unwrap().name
            )),
        }
    }
    assert!(
        unexplained.is_empty(),
        "{} of {} verdicts differ from osv.dev's:\n{}",
        unexplained.len(),
        cases.len(),
        unexplained.join("\n")
    );
    eprintln!(
        "{} verdicts compared with osv.dev's; the explained differences: {reasons:#?}",
        cases.len()
    );
    // Both verdicts are well represented (boundaries seen from both sides).
    let affected = cases.iter().filter(|c| c.3).count();
    assert!(
        affected > 100 && cases.len() - affected > 100,
        "{affected} of {} affected",
        cases.len()
    );
}
