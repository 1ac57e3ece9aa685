//! Docker's line-delimited `KEY=VALUE` files (`--env-file`, `--label-file`): blank lines and
//! `#` comments skipped, leading whitespace trimmed, a key with whitespace refused, and a
//! bare `KEY` looked up (environment files) or dropped (label files).

/// Gives a bare key's value from the host's environment.
pub type Lookup<'a> = &'a dyn Fn(&str) -> Option<String>;

/// Parses one file's text. `lookup` gives a bare key's value; a bare key it has no value
/// for is kept as written (the variable is then removed); without `lookup` (label files)
/// a bare key is dropped.
pub fn parse(text: &str, lookup: Option<Lookup<'_>>) -> Result<Vec<String>, String> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.trim_start();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (key, value) = match line.split_once('=') {
            Some((k, v)) => (k, Some(v)),
            None => (line, None),
        };
        if key.contains(char::is_whitespace) {
            return Err(format!(
                "poorly formatted environment: variable '{key}' contains whitespaces"
            ));
        }
        match (value, lookup) {
            (Some(v), _) => out.push(format!("{key}={v}")),
            (None, Some(f)) => match f(key) {
                Some(v) => out.push(format!("{key}={v}")),
                None => out.push(key.to_string()),
            },
            // Docker's label files drop a bare key.
            (None, None) => {}
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_parse_as_dockers() {
        let host = |k: &str| (k == "HOSTVAR").then(|| "h".to_string());
        let text = "\u{feff}# c\n\n  A=1\nB=x=y\nHOSTVAR\nMISSING\nE=\n";
        assert_eq!(
            parse(text, Some(&host)).unwrap(),
            ["A=1", "B=x=y", "HOSTVAR=h", "MISSING", "E="]
        );
        assert_eq!(parse(text, None).unwrap(), ["A=1", "B=x=y", "E="]);
        assert_eq!(
            parse("A B=1\n", None).unwrap_err(),
            "poorly formatted environment: variable 'A B' contains whitespaces"
        );
    }
}
