//! PEP 440 order against Python's `packaging` (python3-packaging, what pip uses) on
//! thousands of generated versions in every spelling PEP 440 normalises, and invalid ones:
//! both must refuse the same strings and order the rest the same.

mod common;

use common::{
    Rng, answer, check, check_total, generated_pairs, installed_pairs, need_python_module,
    run_oracle,
};
use scan::version::pep440;

/// `packaging.version.Version` per pair; `E` when it refuses either.
const ORACLE: &str = r#"
import sys
from packaging.version import Version, InvalidVersion
out = []
for line in sys.stdin.read().split("\n")[:-1]:
    a, b = line.split("\t")
    try:
        x, y = Version(a), Version(b)
    except InvalidVersion:
        out.append("E")
        continue
    out.append("-1" if x < y else "1" if x > y else "0")
print("\n".join(out))
"#;

const PRE: &[&str] = &[
    "a", "alpha", "b", "beta", "c", "rc", "pre", "preview", "A", "RC", "Beta",
];
const POST: &[&str] = &["post", "rev", "r", "POST"];
const SEPS: &[&str] = &["", "", ".", "-", "_"];
const EXTRAS: &[&str] = &[
    "a1", ".post1", ".dev0", "+local", "+1.2", "-1", "rc", ".0", "!", "..", "+", "-", "b", "dev",
    "+a-b_c", "v", " ",
];

fn version(rng: &mut Rng) -> String {
    let mut v = String::new();
    if rng.chance(10) {
        v += rng.pick(&["v", "V", " "]);
    }
    if rng.chance(10) {
        v += &format!("{}!", rng.pick(&["0", "1", "2", "01"]));
    }
    v += &rng.number();
    for _ in 0..rng.below(4) {
        v += ".";
        v += &rng.number();
    }
    if rng.chance(35) {
        v += rng.pick(SEPS);
        v += rng.pick(PRE);
        if rng.chance(70) {
            v += rng.pick(SEPS);
            v += &rng.number();
        }
    }
    if rng.chance(25) {
        if rng.chance(30) {
            v += &format!("-{}", rng.number());
        } else {
            v += rng.pick(SEPS);
            v += rng.pick(POST);
            if rng.chance(70) {
                v += rng.pick(SEPS);
                v += &rng.number();
            }
        }
    }
    if rng.chance(25) {
        v += rng.pick(SEPS);
        v += rng.pick(&["dev", "DEV"]);
        if rng.chance(70) {
            v += rng.pick(SEPS);
            v += &rng.number();
        }
    }
    if rng.chance(20) {
        v += "+";
        let len = 1 + rng.below(2);
        v += &rng.word("abcxyzABC0123456789", len);
        for _ in 0..rng.below(3) {
            v += rng.pick(&[".", "-", "_"]);
            let len = 1 + rng.below(3);
            v += &rng.word("abcz0123456789", len);
        }
    }
    v
}

fn ours(a: &str, b: &str) -> String {
    answer(pep440::parse(a), pep440::parse(b), pep440::compare(a, b))
}

/// A version assembled from PEP 440's pieces in any order, so pre, post, dev and local
/// parts meet in every combination (valid and not).
fn dense(rng: &mut Rng) -> String {
    const PIECES: &[&str] = &[
        "1", "0", "2", "01", ".", ".", "a", "b", "rc", "post", "dev", "-", "_", "+", "!", "1", "x",
        "r", "c",
    ];
    let mut v = String::from(rng.pick(&["1", "0", "2", "1.0"]));
    for _ in 0..rng.below(7) {
        v += rng.pick(PIECES);
    }
    v
}

/// Versions of the Python distributions installed here (Debian's python3 and any other
/// `python3` on PATH), sorted, so real-world spellings are compared too.
fn installed_versions() -> Vec<String> {
    const LIST: &str =
        "import importlib.metadata as m\nfor d in m.distributions(): print(d.version)";
    let mut versions = Vec::new();
    for python in ["/usr/bin/python3", "python3"] {
        if let Ok(out) = std::process::Command::new(python)
            .args(["-c", LIST])
            .output()
        {
            versions.extend(
                String::from_utf8_lossy(&out.stdout)
                    .lines()
                    .map(str::to_owned),
            );
        }
    }
    versions.retain(|v| !v.contains(['\t', '\n']));
    versions.sort();
    versions.dedup();
    assert!(
        versions.len() >= 20,
        "only {} installed Python versions found",
        versions.len()
    );
    versions
}

#[test]
fn generated_versions_agree_with_packaging() {
    need_python_module("packaging", "python3-packaging");
    let mut rng = Rng::new(0x9e9440);
    let mut pairs = generated_pairs(&mut rng, 8000, version, EXTRAS, 4000, dense);
    let installed = installed_versions();
    pairs.extend(installed_pairs(&mut rng, &installed, 1000));
    let oracle = run_oracle(
        "/usr/bin/python3",
        &["-c", ORACLE],
        "apt-get install python3-packaging",
        &pairs,
    );
    let refused = oracle.iter().filter(|o| *o == "E").count();
    assert!(
        refused > 200 && refused < pairs.len() * 2 / 3,
        "{refused} refused pairs: the generator lost its balance"
    );
    check_total(&pairs, 300, pep440::compare);
    check("pep440 vs packaging", &pairs, &oracle, ours, |_, _, _| None);
}
