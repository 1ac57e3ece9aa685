//! moby/patternmatcher's tables (`conformance/dockerignore` at the repository root) as
//! table tests.

use std::path::Path;

use dockerfile::ignore::{MatchInfo, PatternMatcher, matches, read_ignore_file};
use serde_json::Value;

fn cases() -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../conformance/dockerignore/patternmatcher_cases.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn strings(v: &Value) -> Vec<String> {
    serde_json::from_value(v.clone()).unwrap()
}

#[test]
fn matches_table() {
    let v = cases();
    let mut checked = 0;
    for c in v["matches"].as_array().unwrap() {
        let patterns = strings(&c["patterns"]);
        let path = c["path"].as_str().unwrap();
        let want = c["match"].as_bool().unwrap();
        let pm = PatternMatcher::new(&patterns).unwrap();
        assert_eq!(
            pm.matches_or_parent_matches(path),
            want,
            "{patterns:?} {path}"
        );
        // No parent context: same answer.
        let (got, _) = pm.matches_using_parent_results(path, &MatchInfo::default());
        assert_eq!(got, want, "{patterns:?} {path} without parent info");
        // Walking the parents first, as a context walker does.
        let parent = path
            .rfind('/')
            .map(|i| dockerfile::ignore::clean(&path[..=i]));
        let mut info = MatchInfo::default();
        if let Some(parent) = parent.filter(|p| p != ".") {
            let dirs: Vec<&str> = parent.split('/').collect();
            for i in 0..dirs.len() {
                info = pm
                    .matches_using_parent_results(&dirs[..=i].join("/"), &info)
                    .1;
            }
        }
        let (got, _) = pm.matches_using_parent_results(path, &info);
        assert_eq!(got, want, "{patterns:?} {path} walking parents");
        checked += 1;
    }
    println!("dockerignore matches: checked {checked} cases");
    assert_eq!(checked, 72);
}

#[test]
fn simple_matches_and_filepath_match() {
    let v = cases();
    let mut checked = 0;
    for c in v["simple_matches"].as_array().unwrap() {
        let patterns = strings(&c["patterns"]);
        let refs: Vec<&str> = patterns.iter().map(String::as_str).collect();
        let path = c["path"].as_str().unwrap();
        let got = matches(path, &refs);
        if c["error"].as_bool().unwrap() {
            assert!(got.is_err(), "{patterns:?} {path} must fail");
        } else {
            assert_eq!(
                got,
                Ok(c["match"].as_bool().unwrap()),
                "{patterns:?} {path}"
            );
        }
        checked += 1;
    }
    for c in v["filepath_match"].as_array().unwrap() {
        let pattern = c["pattern"].as_str().unwrap();
        let path = c["path"].as_str().unwrap();
        let got = matches(path, &[pattern]);
        if c["error"].is_null() {
            assert_eq!(got, Ok(c["match"].as_bool().unwrap()), "{pattern} {path}");
        } else {
            let e = got.expect_err(pattern);
            assert!(e.to_string().contains("syntax error in pattern"), "{e}");
        }
        checked += 1;
    }
    println!("dockerignore simple_matches + filepath_match: checked {checked} cases");
    assert_eq!(checked, 65);
}

#[test]
fn new_and_ignorefile() {
    let v = cases();
    let mut checked = 0;
    for c in v["new"].as_array().unwrap() {
        let patterns = strings(&c["patterns"]);
        match PatternMatcher::new(&patterns) {
            Err(_) => assert!(c["error"].as_bool().unwrap(), "{patterns:?}"),
            Ok(pm) => {
                assert!(!c["error"].as_bool().unwrap(), "{patterns:?} must fail");
                let got: Vec<String> = pm
                    .patterns()
                    .iter()
                    .map(|p| format!("{}{}", if p.exclusion() { "!" } else { "" }, p.as_str()))
                    .collect();
                assert_eq!(got, strings(&c["cleaned"]), "{patterns:?}");
                assert_eq!(pm.exclusions(), c["exclusions"].as_bool().unwrap());
            }
        }
        checked += 1;
    }
    for c in v["ignorefile"].as_array().unwrap() {
        let got = read_ignore_file(c["content"].as_str().unwrap());
        assert_eq!(got, strings(&c["patterns"]));
        checked += 1;
    }
    println!("dockerignore new + ignorefile: checked {checked} cases");
    assert_eq!(checked, 7);
}
