//! BuildKit's shell-lexer corpus (`conformance/dockerfile/shell/lex_cases.json` at the
//! repository root).
//! Every non-windows case must pass; windows-platform cases are skipped and counted.

use std::collections::BTreeSet;
use std::path::Path;

use dockerfile::shell::{EnvList, Lex};
use serde_json::Value;

fn names(v: &Value, key: &str) -> BTreeSet<String> {
    v.get(key)
        .map(|x| serde_json::from_value(x.clone()).unwrap())
        .unwrap_or_default()
}

#[test]
fn lex_cases() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../conformance/dockerfile/shell/lex_cases.json");
    let v: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let lex = Lex::new(v["escape_token"].as_str().unwrap().chars().next().unwrap());
    let (mut checked, mut skipped) = (0, 0);
    let mut failures = Vec::new();
    for c in v["cases"].as_array().unwrap() {
        let id = c["id"].as_str().unwrap();
        if c["platform"] == "windows" {
            skipped += 1;
            continue;
        }
        let input = c["input"].as_str().unwrap();
        let env_pairs: Vec<String> = serde_json::from_value(c["env"].clone()).unwrap();
        let env = EnvList::from_pairs(&env_pairs);
        let want_err = c["error"].as_bool().unwrap_or(false);
        let func = c["func"].as_str().unwrap();
        let outcome: Result<Value, String> = match func {
            "ProcessWords" => lex
                .process_words(input, &env)
                .map(|w| serde_json::to_value(w).unwrap())
                .map_err(|e| e.to_string()),
            "ProcessWord" => lex
                .process_word(input, &env)
                .map(Value::from)
                .map_err(|e| e.to_string()),
            _ => match lex.process_word_with_matches(input, &env) {
                Ok(r) => {
                    if c["check_match_sets"] == true
                        && (r.matched != names(c, "matched")
                            || r.unmatched != names(c, "unmatched"))
                    {
                        failures.push(format!(
                            "{id}: sets {:?}/{:?} for {input:?}",
                            r.matched, r.unmatched
                        ));
                    }
                    Ok(Value::from(r.result))
                }
                Err(e) => Err(e.to_string()),
            },
        };
        match (outcome, want_err) {
            (Err(e), true) => {
                if let Some(want) = c.get("error_contains").and_then(Value::as_str)
                    && !e.contains(want)
                {
                    failures.push(format!("{id}: error {e:?} lacks {want:?}"));
                }
            }
            (Ok(got), true) => failures.push(format!("{id}: {input:?} gave {got}, want error")),
            (Err(e), false) => failures.push(format!("{id}: {input:?} failed: {e}")),
            (Ok(got), false) => {
                let want = if func == "ProcessWords" {
                    &c["expected_words"]
                } else {
                    &c["expected"]
                };
                if &got != want {
                    failures.push(format!("{id}: {input:?} gave {got}, want {want}"));
                }
            }
        }
        checked += 1;
    }
    println!("lex_cases: checked {checked}, skipped {skipped} windows-only");
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert_eq!(checked + skipped, 310);
    assert_eq!(skipped, 2);
}
