//! dpkg's version order against the real implementations: libapt's
//! (`apt_pkg.version_compare`, python3-apt) on thousands of generated and installed-package
//! pairs, and `dpkg --compare-versions` itself on a few hundred, nasty and invalid ones
//! included (which also checks libapt agrees with dpkg where both accept the versions).

mod common;

use common::{Rng, answer, check, check_total, mutate, need_python_module, run_oracle};
use scan::version::dpkg;

const APT_INSTALL: &str = "apt-get install python3-apt";

/// libapt's comparison, one answer per stdin pair.
const APT_ORACLE: &str = r#"
import sys, apt_pkg
apt_pkg.init_system()
out = []
for line in sys.stdin.read().split("\n")[:-1]:
    a, b = line.split("\t")
    r = apt_pkg.version_compare(a, b)
    out.append("-1" if r < 0 else "1" if r > 0 else "0")
print("\n".join(out))
"#;

/// dpkg itself: exit 0 true, 1 false, anything else a refused version.
const DPKG_ORACLE: &str = r#"
while IFS="$(printf '\t')" read -r a b; do
  dpkg --compare-versions "$a" lt "$b" 2>/dev/null; rc=$?
  if [ "$rc" = 0 ]; then echo -1
  elif [ "$rc" = 1 ]; then
    if dpkg --compare-versions "$a" eq "$b" 2>/dev/null; then echo 0; else echo 1; fi
  else echo E; fi
done
"#;

const WORDS: &[&str] = &[
    "a", "b", "rc", "beta", "alpha", "dfsg", "ds", "git", "svn", "p", "pre", "z", "Z", "A",
    "really", "bpo", "deb", "ubuntu", "build",
];
const UPSTREAM_SEPS: &[&str] = &[".", ".", ".", "+", "~", "", "-"];
const EXTRAS: &[&str] = &[
    "~", "~rc1", "~~", "+b1", ".0", "a", "+", "-1", "-0", "~bpo12+1", ".1", "+dfsg", "1", "0", "Z",
];

/// A valid Debian version: optional epoch, upstream starting with a digit, optional revision.
fn version(rng: &mut Rng) -> String {
    let mut v = String::new();
    if rng.chance(15) {
        v += &format!("{}:", rng.pick(&["0", "1", "2", "00", "10"]));
    }
    let upstream_has_hyphen = rng.chance(10);
    v += &rng.number();
    for _ in 0..rng.below(5) {
        let sep = rng.pick(UPSTREAM_SEPS);
        if sep == "-" && !upstream_has_hyphen {
            continue;
        }
        v += sep;
        if rng.chance(60) {
            v += &rng.number();
        } else {
            v += rng.pick(WORDS);
        }
    }
    if upstream_has_hyphen || rng.chance(60) {
        v += "-";
        let len = 1 + rng.below(2);
        v += &rng.word("0123456789", len);
        for _ in 0..rng.below(3) {
            v += rng.pick(&["+", ".", "~", "", "deb12u", "ubuntu", "build"]);
            v += &rng.word("0123456789", 1);
        }
    }
    v
}

/// Independent of the code under test: Debian policy's syntax for a version (`version
/// number does not start with digit` and `invalid character` are only warnings in dpkg, but
/// libapt is only asked about policy-conforming versions).
fn policy_valid(v: &str) -> bool {
    let (epoch, rest) = v.split_once(':').unwrap_or(("0", v));
    let (up, rev) = rest.rsplit_once('-').unwrap_or((rest, "1"));
    !epoch.is_empty()
        && epoch.bytes().all(|c| c.is_ascii_digit())
        && up.starts_with(|c: char| c.is_ascii_digit())
        && up
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || ".+~-:".contains(c))
        && !rev.is_empty()
        && rev
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || ".+~".contains(c))
}

/// Versions of the packages installed on this machine.
fn installed_versions() -> Vec<String> {
    let out = std::process::Command::new("dpkg-query")
        .args(["-W", "-f", "${Version}\n"])
        .output()
        .expect("dpkg-query runs (this test needs a Debian host: apt-get install dpkg)");
    let mut versions: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect();
    versions.sort();
    versions.dedup();
    assert!(
        versions.len() > 50,
        "dpkg-query listed only {} versions",
        versions.len()
    );
    versions
}

fn pairs(rng: &mut Rng, n: usize, pool: &[String]) -> Vec<(String, String)> {
    let mut pairs = Vec::with_capacity(n);
    while pairs.len() < n {
        let a = if !pool.is_empty() && rng.chance(40) {
            pool[rng.below(pool.len())].clone()
        } else {
            version(rng)
        };
        let b = match rng.below(3) {
            0 => mutate(rng, &a, EXTRAS),
            1 if !pool.is_empty() => pool[rng.below(pool.len())].clone(),
            _ => version(rng),
        };
        if policy_valid(&a) && policy_valid(&b) {
            pairs.push((a, b));
        }
    }
    pairs
}

/// A short version over the characters dpkg orders specially (`~`, `+`, `.`, `-`, letters
/// of both cases, leading zeros).
fn dense(rng: &mut Rng) -> String {
    let len = rng.below(7);
    format!(
        "{}{}",
        rng.pick(&["0", "1", "00", "9"]),
        rng.word("0019aZz~+.-", len)
    )
}

fn ours(a: &str, b: &str) -> String {
    answer(dpkg::parse(a), dpkg::parse(b), dpkg::compare(a, b))
}

#[test]
fn generated_and_installed_pairs_agree_with_libapt() {
    need_python_module("apt_pkg", "python3-apt");
    let installed = installed_versions();
    let mut rng = Rng::new(0x5ca1_ab1e);
    let mut all = pairs(&mut rng, 6000, &installed);
    // A dense batch over the characters verrevcmp treats specially.
    while all.len() < 10000 {
        let (a, b) = (dense(&mut rng), dense(&mut rng));
        if policy_valid(&a) && policy_valid(&b) {
            all.push((a, b));
        }
    }
    // Every installed version against its neighbours in byte order, too.
    all.extend(installed.windows(2).map(|w| (w[0].clone(), w[1].clone())));
    let oracle = run_oracle("/usr/bin/python3", &["-c", APT_ORACLE], APT_INSTALL, &all);
    check_total(&all, 300, dpkg::compare);
    let agreed = check("dpkg vs libapt", &all, &oracle, ours, |_, _, _| None);
    assert!(agreed >= 10000, "only {agreed} pairs compared");
}

/// Nasty strings dpkg refuses or warns about, each paired with valid ones.
const NASTY: &[&str] = &[
    "1:",
    ":1",
    "a:1",
    "1a:1",
    "-1:1",
    "99999999999:1",
    "1.0-",
    "-1",
    "1:-1",
    "1 2",
    " 1.0 ",
    "1.0_1",
    "a1.0",
    "1.0-1-",
    "1:2:3",
    "0:0",
    "1.0-a-b",
    "1.0~-1",
    "~",
    "1.0-~",
    "1.0@",
    "+1:1",
    "00:1.0",
    "2147483647:1",
    "2147483648:1",
    "1.0-1~",
    "<unknown>",
    "1.0=1",
];

#[test]
fn dpkg_compare_versions_agrees_including_refused_versions() {
    need_python_module("apt_pkg", "python3-apt");
    let mut rng = Rng::new(0xdeb1a9);
    let installed = installed_versions();
    let mut sample = pairs(&mut rng, 240, &installed);
    for (i, nasty) in NASTY.iter().enumerate() {
        let other = version(&mut rng);
        if i % 2 == 0 {
            sample.push((nasty.to_string(), other));
        } else {
            sample.push((other, nasty.to_string()));
        }
        sample.push((nasty.to_string(), mutate(&mut rng, nasty, EXTRAS)));
    }
    // Short strings over dpkg's special characters, unfiltered: bad epochs, empty parts,
    // blanks and `~` in every position.
    for _ in 0..160 {
        let (la, lb) = (1 + rng.below(7), 1 + rng.below(7));
        sample.push((rng.word("0019aZ~+.-: ", la), rng.word("0019aZ~+.-: ", lb)));
    }
    let dpkg = run_oracle(
        "/bin/sh",
        &["-c", DPKG_ORACLE],
        "apt-get install dpkg",
        &sample,
    );
    check(
        "dpkg vs dpkg --compare-versions",
        &sample,
        &dpkg,
        ours,
        |_, _, _| None,
    );

    // libapt is Debian's other implementation: where dpkg accepts both, it must agree.
    let valid: Vec<(String, String)> = sample
        .iter()
        .zip(&dpkg)
        .filter(|(_, d)| *d != "E")
        .map(|(p, _)| p.clone())
        .filter(|(a, b)| policy_valid(a) && policy_valid(b))
        .collect();
    let apt = run_oracle("/usr/bin/python3", &["-c", APT_ORACLE], APT_INSTALL, &valid);
    let dpkg_valid: Vec<String> = sample
        .iter()
        .zip(&dpkg)
        .filter(|((a, b), d)| *d != "E" && policy_valid(a) && policy_valid(b))
        .map(|(_, d)| d.clone())
        .collect();
    assert_eq!(
        apt, dpkg_valid,
        "libapt and dpkg disagree on valid versions"
    );
    assert!(
        valid.len() >= 200,
        "only {} valid pairs cross-checked",
        valid.len()
    );
}
