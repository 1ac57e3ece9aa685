//! CVSS scores and ratings checked against Red Hat's `cvss` Python library (PyPI `cvss`,
//! installed by `scripts/install-peers.sh` install_match_oracles) on generated base
//! vectors of every version OSV records carry: CVSS 2.0, 3.0, 3.1 and 4.0.
//!
//! Ratings compare with the library's qualitative rating, except that CVSS's "None" (a
//! 0.0 score) is LOW in strata (a record still calls it a vulnerability; see
//! `matching::severity`).

mod common;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use common::Rng;
use scan::matching::severity::{self, Severity};

const PYTHON: &str = "/var/cache/strata-peers/py-match/bin/python";

/// Base metrics and their values per version, in vector order.
const V2: &[(&str, &[&str])] = &[
    ("AV", &["L", "A", "N"]),
    ("AC", &["H", "M", "L"]),
    ("Au", &["M", "S", "N"]),
    ("C", &["N", "P", "C"]),
    ("I", &["N", "P", "C"]),
    ("A", &["N", "P", "C"]),
];
const V3: &[(&str, &[&str])] = &[
    ("AV", &["N", "A", "L", "P"]),
    ("AC", &["L", "H"]),
    ("PR", &["N", "L", "H"]),
    ("UI", &["N", "R"]),
    ("S", &["U", "C"]),
    ("C", &["H", "L", "N"]),
    ("I", &["H", "L", "N"]),
    ("A", &["H", "L", "N"]),
];
const V4: &[(&str, &[&str])] = &[
    ("AV", &["N", "A", "L", "P"]),
    ("AC", &["L", "H"]),
    ("AT", &["N", "P"]),
    ("PR", &["N", "L", "H"]),
    ("UI", &["N", "P", "A"]),
    ("VC", &["H", "L", "N"]),
    ("VI", &["H", "L", "N"]),
    ("VA", &["H", "L", "N"]),
    ("SC", &["H", "L", "N"]),
    ("SI", &["H", "L", "N"]),
    ("SA", &["H", "L", "N"]),
];

fn vector(rng: &mut Rng, prefix: &str, metrics: &[(&str, &[&str])]) -> String {
    let parts: Vec<String> = metrics
        .iter()
        .map(|(m, values)| format!("{m}:{}", values[rng.below(values.len())]))
        .collect();
    format!("{prefix}{}", parts.join("/"))
}

/// The oracle: one `score RATING` line per vector line.
const ORACLE: &str = r#"
import sys
from cvss import CVSS2, CVSS3, CVSS4
for line in sys.stdin:
    v = line.strip()
    if v.startswith("CVSS:4"):
        c = CVSS4(v); print(c.base_score, c.severity)
    elif v.startswith("CVSS:3"):
        c = CVSS3(v); print(c.base_score, c.severities()[0])
    else:
        c = CVSS2(v); print(c.base_score, c.severities()[0])
"#;

#[test]
fn scores_and_ratings_agree_with_the_cvss_library() {
    assert!(
        Path::new(PYTHON).exists(),
        "{PYTHON} is missing: run scripts/install-peers.sh (install_match_oracles)"
    );
    let mut rng = Rng::new(0x5eed_c555);
    let mut vectors = Vec::new();
    for _ in 0..1500 {
        vectors.push(vector(&mut rng, "", V2));
        vectors.push(vector(&mut rng, "CVSS:3.0/", V3));
        vectors.push(vector(&mut rng, "CVSS:3.1/", V3));
        vectors.push(vector(&mut rng, "CVSS:4.0/", V4));
    }
    let mut child = Command::new(PYTHON)
        .args(["-c", ORACLE])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let input = vectors.join("\n") + "\n";
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    assert!(out.status.success(), "the cvss oracle failed");
    let answers: Vec<String> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    assert_eq!(answers.len(), vectors.len());
    let mut disagreements = Vec::new();
    for (v, answer) in vectors.iter().zip(&answers) {
        let (score, rating) = answer.split_once(' ').unwrap();
        let want_score: f64 = score.parse().unwrap();
        let want_rating = match rating {
            "None" => Severity::Low,
            other => other.parse::<Severity>().unwrap(),
        };
        let (got_score, got_rating, _) = severity::cvss(v).unwrap();
        if format!("{got_score:.1}") != format!("{want_score:.1}") || got_rating != want_rating {
            disagreements.push(format!(
                "{v}: strata {got_score} {got_rating}, cvss {want_score} {want_rating}"
            ));
        }
    }
    assert!(
        disagreements.is_empty(),
        "{} of {} vectors disagree:\n{}",
        disagreements.len(),
        vectors.len(),
        disagreements[..disagreements.len().min(20)].join("\n")
    );
}
