//! BuildKit's parser corpus (`conformance/dockerfile/parser` at the repository root) as
//! table tests: every positive case must dump byte-for-byte like `result` and match `ast.json`.

use std::path::{Path, PathBuf};

use dockerfile::heredoc::{chomp_heredoc_content, heredocs_from_line, parse_heredoc};
use dockerfile::line_parsers::{parse_json_array, parse_words};
use dockerfile::{Node, parse};
use serde_json::{Map, Value, json};

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../conformance/dockerfile/parser")
}

fn node_json(n: &Node, top: bool) -> Value {
    let mut m = Map::new();
    m.insert("value".into(), json!(n.value));
    if !n.original.is_empty() {
        m.insert("original".into(), json!(n.original));
    }
    if !n.flags.is_empty() {
        m.insert("flags".into(), json!(n.flags));
    }
    if n.json {
        m.insert("attributes".into(), json!({"json": true}));
    }
    if !n.heredocs.is_empty() {
        let docs: Vec<Value> = n
            .heredocs
            .iter()
            .map(|h| {
                json!({"name": h.name, "file_descriptor": h.file_descriptor,
                       "expand": h.expand, "chomp": h.chomp, "content": h.content})
            })
            .collect();
        m.insert("heredocs".into(), Value::Array(docs));
    }
    if top || n.start_line != 0 {
        m.insert("start_line".into(), json!(n.start_line));
        m.insert("end_line".into(), json!(n.end_line));
    }
    if !n.prev_comment.is_empty() {
        m.insert("prev_comment".into(), json!(n.prev_comment));
    }
    if !n.next.is_empty() {
        let next: Vec<Value> = n
            .next
            .iter()
            .map(|a| {
                let mut e = Map::new();
                e.insert("value".into(), json!(a.value));
                if !a.children.is_empty() {
                    e.insert(
                        "children".into(),
                        Value::Array(a.children.iter().map(|c| node_json(c, false)).collect()),
                    );
                }
                Value::Object(e)
            })
            .collect();
        m.insert("next".into(), Value::Array(next));
    }
    if !n.children.is_empty() {
        m.insert(
            "children".into(),
            Value::Array(n.children.iter().map(|c| node_json(c, false)).collect()),
        );
    }
    Value::Object(m)
}

/// Upper-cases instruction values the way the corpus authors did.
fn normalise(v: &mut Value) {
    if let Some(children) = v.get_mut("children").and_then(Value::as_array_mut) {
        for c in children {
            if let Some(s) = c.get("value").and_then(Value::as_str) {
                let up = s.to_uppercase();
                c["value"] = json!(up);
            }
            if let Some(next) = c.get_mut("next").and_then(Value::as_array_mut) {
                for n in next {
                    normalise(n);
                }
            }
        }
    }
}

fn case_dirs() -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    for sub in ["testfiles", "testfiles-inline"] {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(corpus().join(sub))
            .expect("corpus dir")
            .map(|e| e.expect("dir entry").path())
            .filter(|p| p.is_dir())
            .collect();
        entries.sort();
        dirs.extend(entries);
    }
    dirs.push(corpus().join("testfile-line"));
    dirs
}

#[test]
fn positive_cases_dump_and_ast_match() {
    let mut checked = 0;
    let mut failures = Vec::new();
    for dir in case_dirs() {
        let text = std::fs::read_to_string(dir.join("Dockerfile")).expect("Dockerfile");
        let name = dir.file_name().unwrap().to_string_lossy().to_string();
        let df = match parse(&text) {
            Ok(df) => df,
            Err(e) => {
                failures.push(format!("{name}: parse error {e}"));
                continue;
            }
        };
        let want = std::fs::read_to_string(dir.join("result")).expect("result");
        let got = df.ast.dump() + "\n";
        if got != want {
            failures.push(format!(
                "{name}: dump differs\n--- got\n{got}--- want\n{want}"
            ));
        }
        let want_ast: Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("ast.json")).expect("ast"))
                .expect("ast.json");
        let mut got_ast = node_json(&df.ast, true);
        let mut want_tree = want_ast["ast"].clone();
        normalise(&mut got_ast);
        normalise(&mut want_tree);
        if got_ast != want_tree {
            let g = serde_json::to_string_pretty(&got_ast).unwrap();
            let w = serde_json::to_string_pretty(&want_tree).unwrap();
            let line = g
                .lines()
                .zip(w.lines())
                .position(|(a, b)| a != b)
                .unwrap_or(0);
            failures.push(format!(
                "{name}: ast differs at line {line}:\n got: {}\nwant: {}",
                g.lines()
                    .skip(line.saturating_sub(3))
                    .take(6)
                    .collect::<Vec<_>>()
                    .join("\n"),
                w.lines()
                    .skip(line.saturating_sub(3))
                    .take(6)
                    .collect::<Vec<_>>()
                    .join("\n")
            ));
        }
        let esc = want_ast["escape_token"].as_str().unwrap();
        if df.escape_token.to_string() != esc {
            failures.push(format!("{name}: escape token {:?}", df.escape_token));
        }
        let warnings: Vec<Value> = df
            .warnings
            .iter()
            .map(|w| {
                json!({"short": w.short, "detail": w.detail, "url": w.url,
                       "start_line": w.start_line, "end_line": w.end_line})
            })
            .collect();
        if Value::Array(warnings) != want_ast["warnings"] {
            failures.push(format!("{name}: warnings differ: {:?}", df.warnings));
        }
        checked += 1;
    }
    println!("parser corpus: checked {checked} positive cases");
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert_eq!(checked, 37, "33 testfiles + 3 inline + testfile-line");
}

#[test]
fn negative_cases_fail_informatively() {
    let errors: Value = serde_json::from_str(
        &std::fs::read_to_string(corpus().join("testfiles-negative/errors.json")).unwrap(),
    )
    .unwrap();
    let mut checked = 0;
    for (name, upstream) in errors["errors"].as_object().unwrap() {
        let text = std::fs::read_to_string(
            corpus()
                .join("testfiles-negative")
                .join(name)
                .join("Dockerfile"),
        )
        .unwrap();
        let err = match parse(&text).and_then(|df| dockerfile::instructions(&df).map(|_| ())) {
            Ok(()) => panic!("{name}: parsed but must fail"),
            Err(e) => e,
        };
        let upstream = upstream.as_str().unwrap();
        assert!(
            err.to_string().contains(upstream),
            "{name}: {err} lacks {upstream:?}"
        );
        assert!(err.to_string().starts_with("Dockerfile:"), "{name}: {err}");
        checked += 1;
    }
    println!("negative corpus: checked {checked} cases");
    assert_eq!(checked, 4);
}

#[test]
fn json_arrays() {
    let v: Value =
        serde_json::from_str(&std::fs::read_to_string(corpus().join("json_arrays.json")).unwrap())
            .unwrap();
    let mut checked = 0;
    for c in v["cases"].as_array().unwrap() {
        let input = c["input"].as_str().unwrap();
        let got = parse_json_array(input);
        if c["valid"].as_bool().unwrap() {
            let want: Vec<String> = c
                .get("expected")
                .map(|e| serde_json::from_value(e.clone()).unwrap())
                .unwrap_or_default();
            assert_eq!(got.as_ref().ok(), Some(&want), "{input}");
        } else {
            assert!(got.is_err(), "{input} must be rejected");
        }
        checked += 1;
    }
    println!("json_arrays: checked {checked} cases");
    assert_eq!(checked, 16);
}

#[test]
fn parse_words_table() {
    let v: Value =
        serde_json::from_str(&std::fs::read_to_string(corpus().join("parse_words.json")).unwrap())
            .unwrap();
    let mut checked = 0;
    for c in v["cases"].as_array().unwrap() {
        let input = c["input"].as_str().unwrap();
        let want: Vec<String> = serde_json::from_value(c["expected"].clone()).unwrap();
        assert_eq!(parse_words(input, '\\'), want, "{input}");
        checked += 1;
    }
    println!("parse_words: checked {checked} cases");
    assert_eq!(checked, 8);
}

#[test]
fn heredoc_markers() {
    let v: Value = serde_json::from_str(
        &std::fs::read_to_string(corpus().join("heredoc_markers.json")).unwrap(),
    )
    .unwrap();
    let mut checked = 0;
    for c in v["parse_heredoc"].as_array().unwrap() {
        let input = c["input"].as_str().unwrap();
        let got = parse_heredoc(input);
        match c["kind"].as_str().unwrap() {
            "heredoc" => {
                let h = got.unwrap_or_else(|e| panic!("{input}: {e}")).expect(input);
                assert_eq!(h.name, c["name"].as_str().unwrap(), "{input}");
            }
            "invalid" => assert!(got.is_err(), "{input}: {got:?}"),
            _ => assert_eq!(got, Ok(None), "{input}"),
        }
        checked += 1;
    }
    for c in v["heredocs_from_line"].as_array().unwrap() {
        let line = c["line"].as_str().unwrap();
        let want: Vec<String> = serde_json::from_value(c["heredoc_names"].clone()).unwrap();
        let got: Vec<String> = heredocs_from_line(line)
            .unwrap()
            .into_iter()
            .map(|h| h.name)
            .collect();
        assert_eq!(got, want, "{line}");
        checked += 1;
    }
    let chomp = &v["chomp"];
    assert_eq!(
        chomp_heredoc_content(chomp["input"].as_str().unwrap()),
        chomp["expected"].as_str().unwrap()
    );
    checked += 1;
    println!("heredoc_markers: checked {checked} cases");
    assert_eq!(checked, 31);
}

/// Every corpus Dockerfile either types cleanly or fails with a located, informative error.
#[test]
fn corpus_types_or_fails_with_location() {
    let mut typed = 0;
    let mut rejected = Vec::new();
    for dir in case_dirs() {
        let text = std::fs::read_to_string(dir.join("Dockerfile")).unwrap();
        let df = parse(&text).unwrap();
        match dockerfile::instructions(&df) {
            Ok(stages) => {
                assert!(!stages.stages.is_empty());
                typed += 1;
            }
            Err(e) => {
                assert!(e.line >= 1 && e.column >= 1, "{e}");
                rejected.push(format!(
                    "{}: {e}",
                    dir.file_name().unwrap().to_string_lossy()
                ));
            }
        }
    }
    println!(
        "typed {typed} corpus files; rejected {}:\n{}",
        rejected.len(),
        rejected.join("\n")
    );
    assert!(typed >= 25, "too few corpus files type: {typed}");
}
