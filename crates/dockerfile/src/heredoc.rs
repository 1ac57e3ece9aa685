//! Heredoc markers: `<<EOF`, `<<-EOF`, `<<"EOF"`, `<<'EOF'`, `3<<EOF`, several per line.

use crate::ast::Heredoc;
use crate::shell::{Lex, ShellError, empty_env};

/// Parses one word as a heredoc marker (BuildKit `ParseHeredoc`). `Ok(None)` when the
/// word is not a heredoc marker; an error when its quoting is broken (`<<'EOF`).
pub fn parse_heredoc(word: &str) -> Result<Option<Heredoc>, ShellError> {
    // ^(\d*)<<(-?)\s*([^<]*)$
    let digits = word.bytes().take_while(u8::is_ascii_digit).count();
    let Some(rest) = word[digits..].strip_prefix("<<") else {
        return Ok(None);
    };
    let (chomp, rest) = match rest.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, rest),
    };
    let rest = rest.trim_start_matches(['\t', '\n', '\u{c}', '\r', ' ']);
    if rest.contains('<') || rest.is_empty() {
        return Ok(None);
    }
    let file_descriptor = word[..digits].parse::<u32>().unwrap_or(0);

    // Lex the word with and without quotes: if the counts of quote characters differ,
    // part of the word was quoted and the body must not be expanded.
    let mut lex = Lex::new('\\');
    lex.skip_unset_env = true;
    let words = lex.process_words(rest, &empty_env())?;
    if words.len() != 1 {
        return Ok(None);
    }
    lex.raw_quotes = true;
    let raw = lex.process_words(rest, &empty_env())?;
    if raw.len() != words.len() {
        return Err(ShellError {
            source_word: rest.to_string(),
            message: "internal lexing of heredoc produced inconsistent results".into(),
        });
    }
    let quotes = |s: &str| s.chars().filter(|c| *c == '\'' || *c == '"').count();
    let expand = quotes(&words[0]) == quotes(&raw[0]);
    Ok(Some(Heredoc {
        name: words[0].clone(),
        file_descriptor,
        expand,
        chomp,
        content: String::new(),
    }))
}

/// The heredoc markers of a whole instruction line, in order (BuildKit `heredocsFromLine`).
pub fn heredocs_from_line(line: &str) -> Result<Vec<Heredoc>, ShellError> {
    let mut lex = Lex::new('\\');
    lex.raw_quotes = true;
    lex.raw_escapes = true;
    lex.skip_unset_env = true;
    let words = lex.process_words(line, &empty_env()).unwrap_or_default();
    let mut docs = Vec::new();
    for w in words {
        if let Some(h) = parse_heredoc(&w)? {
            docs.push(h);
        }
    }
    Ok(docs)
}

/// Strips leading tabs from every line of a `<<-` heredoc body.
pub fn chomp_heredoc_content(src: &str) -> String {
    src.split_inclusive('\n')
        .map(|l| l.trim_start_matches('\t'))
        .collect()
}
