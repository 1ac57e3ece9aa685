//! Shell completions and man pages, generated from the CLI's own definitions: bash
//! completes commands and flags when its completion function runs, and every command has
//! a page `man` renders.

mod harness;

use std::process::Command;

use harness::{Env, peer, require};

/// What bash's completion function offers for `words` (the last one being completed).
fn bash_complete(script: &std::path::Path, words: &[&str]) -> Vec<String> {
    let line = words.join(" ");
    let out = peer(Command::new(require("bash")).arg("-c").arg(format!(
        "source '{}'; COMP_WORDS=({line}); COMP_CWORD={}; COMP_LINE='{line}'; COMP_POINT=${{#COMP_LINE}}; _strata strata \"${{COMP_WORDS[COMP_CWORD]}}\" \"${{COMP_WORDS[COMP_CWORD-1]}}\"; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
        script.display(),
        words.len() - 1,
    )));
    out.lines().map(str::to_string).collect()
}

#[test]
fn bash_completes_commands_subcommands_and_flags() {
    let env = Env::new();
    let script = env.path("strata.bash");
    std::fs::write(&script, env.ok(&["completion", "bash"])).unwrap();
    let top = bash_complete(&script, &["strata", "bui"]);
    assert!(
        top.contains(&"build".to_string()) && top.contains(&"builder".to_string()),
        "{top:?}"
    );
    let sub = bash_complete(&script, &["strata", "image", "l"]);
    assert!(
        sub.contains(&"ls".to_string()) && sub.contains(&"load".to_string()),
        "{sub:?}"
    );
    let flags = bash_complete(&script, &["strata", "build", "--plat"]);
    assert_eq!(flags, ["--platform"]);
    for shell in ["zsh", "fish"] {
        let s = env.ok(&["completion", shell]);
        assert!(
            s.contains("imagetools") && s.contains("platform"),
            "{shell}: {s}"
        );
    }
    let (code, err) = env.fails(&["completion", "tcsh"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("strata completion"), "{err}");
}

#[test]
fn every_command_has_a_man_page_that_man_renders() {
    let env = Env::new();
    let dir = env.path("man");
    let written = env.ok(&["man", dir.to_str().unwrap()]);
    let pages: Vec<&str> = written.lines().collect();
    // One per command the help lists (and their subcommands).
    let help = env.ok(&["--help"]);
    let commands: Vec<&str> = help
        .lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|c| *c != "help")
        .collect();
    assert!(commands.len() > 30, "{help}");
    for c in &commands {
        let page = dir.join(format!("strata-{c}.1"));
        assert!(
            pages.contains(&page.to_str().unwrap()),
            "no page for {c}: {written}"
        );
    }
    let rendered = peer(
        Command::new(require("man"))
            .env("MANWIDTH", "200")
            .env("MAN_KEEP_FORMATTING", "0")
            .arg("-l")
            .arg(dir.join("strata-image-ls.1")),
    );
    // Bold and underline are overstrikes (`c\x08c`): keep the last character of each.
    let mut plain = String::new();
    for c in rendered.chars() {
        if c == '\u{8}' {
            plain.pop();
        } else {
            plain.push(c);
        }
    }
    let rendered = plain.replace('\u{8}', "");
    assert!(rendered.contains("strata image ls"), "{rendered}");
    assert!(rendered.contains("--digests"), "{rendered}");
}
