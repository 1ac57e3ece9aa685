//! SemVer order against node-semver (npm's own implementation, in
//! /var/cache/strata-peers/node): our npm ordering must refuse what its `SemVer`
//! constructor refuses and order the rest as its `compare` does; strict SemVer (crates.io)
//! must agree wherever the string has no `v` or surrounding whitespace.

mod common;

use common::{Rng, answer, check, check_total, generated_pairs, installed_pairs, run_oracle};
use scan::version::semver;

const NODE_SEMVER: &str = "/var/cache/strata-peers/node/node_modules/semver";
const INSTALL: &str =
    "npm install --prefix /var/cache/strata-peers/node semver@7.7.2 (scripts/install-peers.sh)";

const ORACLE: &str = r#"
const semver = require(process.argv[1]);
const lines = require("fs").readFileSync(0, "utf8").split("\n").slice(0, -1);
const out = lines.map((line) => {
  const [a, b] = line.split("\t");
  let x, y;
  try { x = new semver.SemVer(a); y = new semver.SemVer(b); } catch (e) { return "E"; }
  return String(semver.compare(x, y));
});
process.stdout.write(out.join("\n") + "\n");
"#;

const IDS: &[&str] = &[
    "alpha", "beta", "rc", "0", "1", "2", "10", "x-y", "a1", "1a", "-", "pre", "dev", "01",
    "Alpha", "20200101",
];
const EXTRAS: &[&str] = &[
    "-0",
    "-alpha",
    ".1",
    "+build",
    "-rc.1",
    "+001",
    ".0",
    "-",
    "+",
    "-01",
    "v",
    " ",
    "=",
    "a",
    "-x.7.z.92",
];

fn version(rng: &mut Rng) -> String {
    let mut v = String::new();
    if rng.chance(10) {
        v += rng.pick(&["v", " ", "V", "="]);
    }
    v += &format!("{}.{}.{}", rng.number(), rng.number(), rng.number());
    if rng.chance(45) {
        v += "-";
        v += rng.pick(IDS);
        for _ in 0..rng.below(3) {
            v += ".";
            v += rng.pick(IDS);
        }
    }
    if rng.chance(20) {
        v += "+";
        v += rng.pick(IDS);
    }
    v
}

/// Versions from the `package.json` files of the node packages installed here (a bounded
/// walk), so real-world versions are compared too.
const LIST_INSTALLED: &str = r#"
const fs = require("fs"), path = require("path");
const out = new Set();
function walk(dir, depth) {
  if (depth > 6) return;
  let entries;
  try { entries = fs.readdirSync(dir, { withFileTypes: true }); } catch (e) { return; }
  for (const e of entries) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) walk(p, depth + 1);
    else if (e.name === "package.json") {
      try { const v = JSON.parse(fs.readFileSync(p, "utf8")).version; if (typeof v === "string") out.add(v); } catch (e) {}
    }
  }
}
for (const root of process.argv.slice(1)) walk(root, 0);
process.stdout.write([...out].sort().join("\n") + "\n");
"#;

fn installed_versions() -> Vec<String> {
    let out = std::process::Command::new("node")
        .args([
            "-e",
            LIST_INSTALLED,
            "/usr/lib/node_modules",
            "/usr/share/nodejs",
            "/var/cache/strata-peers/node",
        ])
        .output()
        .expect("node runs: apt-get install nodejs");
    let versions: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|v| !v.is_empty() && !v.contains('\t'))
        .map(str::to_owned)
        .collect();
    assert!(
        versions.len() >= 20,
        "only {} installed npm versions found",
        versions.len()
    );
    versions
}

#[test]
fn generated_versions_agree_with_node_semver() {
    assert!(
        std::path::Path::new(NODE_SEMVER)
            .join("package.json")
            .exists(),
        "node-semver is missing: {INSTALL}"
    );
    let mut rng = Rng::new(0x5e3e4);
    let mut pairs = generated_pairs(&mut rng, 6000, version, EXTRAS, 0, version);
    let installed = installed_versions();
    pairs.extend(installed_pairs(&mut rng, &installed, 1000));
    let oracle = run_oracle(
        "node",
        &["-e", ORACLE, NODE_SEMVER],
        "apt-get install nodejs",
        &pairs,
    );
    let npm = |a: &str, b: &str| {
        answer(
            semver::parse_loose(a),
            semver::parse_loose(b),
            semver::compare_loose(a, b),
        )
    };
    check(
        "npm semver vs node-semver",
        &pairs,
        &oracle,
        npm,
        |_, _, _| None,
    );

    // Strict SemVer where node-semver's spelling allowances do not apply.
    let plain = |s: &str| s.trim() == s && !s.starts_with('v');
    let strict: Vec<(String, String)> = pairs
        .iter()
        .filter(|(a, b)| plain(a) && plain(b))
        .cloned()
        .collect();
    let strict_oracle: Vec<String> = pairs
        .iter()
        .zip(&oracle)
        .filter(|((a, b), _)| plain(a) && plain(b))
        .map(|(_, o)| o.clone())
        .collect();
    let crates =
        |a: &str, b: &str| answer(semver::parse(a), semver::parse(b), semver::compare(a, b));
    check_total(&pairs, 300, semver::compare_loose);
    check_total(&pairs, 300, semver::compare);
    let agreed = check(
        "crates.io semver vs node-semver",
        &strict,
        &strict_oracle,
        crates,
        |_, _, _| None,
    );
    assert!(agreed > 5000, "only {agreed} strict pairs");
}
