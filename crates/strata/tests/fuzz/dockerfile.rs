//! The Dockerfile parser and typer, the shell lexer and `.dockerignore` patterns on
//! generated text: never a panic or a hang, and what parses once parses the same again.

use std::time::Duration;

use proptest::prelude::*;

use crate::{bounded, config};

/// Words a Dockerfile line is made of: instructions (right and wrong case), flags,
/// quoting, variables, continuations, heredoc openers and JSON punctuation.
const TOKENS: &[&str] = &[
    "FROM",
    "RUN",
    "CMD",
    "COPY",
    "ADD",
    "ENV",
    "ARG",
    "LABEL",
    "EXPOSE",
    "USER",
    "WORKDIR",
    "VOLUME",
    "SHELL",
    "ONBUILD",
    "HEALTHCHECK",
    "STOPSIGNAL",
    "ENTRYPOINT",
    "MAINTAINER",
    "from",
    "run",
    "AS",
    "as",
    "NONE",
    "--from=a",
    "--chown=1:1",
    "--chmod=755",
    "--link",
    "--mount=type=cache,target=/c",
    "--mount=type=secret,id=s",
    "--network=none",
    "--platform=$BUILDPLATFORM",
    "--interval=1s",
    "--start-period=",
    "--",
    "-",
    "=",
    "a=b",
    "\"",
    "'",
    "\\",
    "\\\n",
    "`",
    "$",
    "${",
    "}",
    "${A:-x}",
    "${A:+y}",
    "${A?err}",
    "$A",
    "[",
    "]",
    ",",
    "[\"sh\",",
    "\"-c\"]",
    "<<EOF",
    "<<-EOF",
    "<<'EOF'",
    "EOF",
    "#",
    "# syntax=docker/dockerfile:1",
    "# escape=`",
    "# escape=\\",
    "# check=skip=all",
    "\t",
    " ",
    "  ",
    "\n",
    "\r\n",
    "0",
    "1",
    "/",
    "..",
    "*",
    "?",
    "**",
    "{}",
    "é",
    "\u{0}",
];

fn line() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(TOKENS), 0..12).prop_map(|words| {
        let mut l = String::new();
        for (i, w) in words.iter().enumerate() {
            if i > 0 && !w.starts_with('\n') {
                l.push(' ');
            }
            l.push_str(w);
        }
        l
    })
}

/// A Dockerfile of token lines, often starting with a FROM (so the typer gets past it).
fn dockerfile_text() -> impl Strategy<Value = String> {
    (
        any::<bool>(),
        prop::collection::vec(line(), 0..16),
        "[ -~\n\t\\\\$]{0,40}",
    )
        .prop_map(|(from, lines, tail)| {
            let mut t = if from {
                "FROM scratch AS base\n".to_string()
            } else {
                String::new()
            };
            for l in lines {
                t.push_str(&l);
                t.push('\n');
            }
            t.push_str(&tail);
            t
        })
}

/// Parses and types `text`, returning what it made (for the determinism check).
fn parse_and_type(text: &str) -> Option<String> {
    let df = dockerfile::parse(text).ok()?;
    let dump: Vec<String> = df.ast.children.iter().map(|n| n.dump()).collect();
    let typed = dockerfile::instructions(&df).map(|s| format!("{s:?}"));
    Some(format!("{dump:?}\n{typed:?}"))
}

proptest! {
    #![proptest_config(config(3000))]

    #[test]
    fn the_parser_and_typer_never_panic(text in dockerfile_text()) {
        let t = text.clone();
        let first = bounded("parsing a Dockerfile", Duration::from_secs(10), move || parse_and_type(&t));
        prop_assert_eq!(first, parse_and_type(&text));
    }

    #[test]
    fn the_parser_takes_any_text(text in "\\PC{0,200}") {
        bounded("parsing text", Duration::from_secs(10), move || parse_and_type(&text));
    }

    #[test]
    fn the_shell_lexer_never_panics(
        word in "[-a-zA-Z0-9_ ${}:+?#%/*'\"\\\\`=\\[\\]]{0,40}",
        escape in prop::sample::select(&['\\', '`'][..]),
    ) {
        let env = dockerfile::shell::EnvList::from_pairs(&["A=1", "B=two words", "EMPTY="]);
        let lex = dockerfile::shell::Lex::new(escape);
        let w = word.clone();
        let first = bounded("expanding a word", Duration::from_secs(10), move || {
            let env = dockerfile::shell::EnvList::from_pairs(&["A=1", "B=two words", "EMPTY="]);
            dockerfile::shell::Lex::new(escape).process_word(&w, &env).map_err(|e| e.to_string())
        });
        prop_assert_eq!(first, lex.process_word(&word, &env).map_err(|e| e.to_string()));
    }

    #[test]
    fn dockerignore_patterns_never_panic(
        patterns in prop::collection::vec("!?[-a-z*?/\\[\\]\\\\.^!]{0,12}", 0..6),
        file in "[-a-z/.]{0,20}",
    ) {
        bounded("matching a .dockerignore", Duration::from_secs(10), move || {
            if let Ok(m) = dockerfile::ignore::PatternMatcher::new(&patterns) {
                let _ = m.matches_or_parent_matches(&file);
            }
        });
    }
}
