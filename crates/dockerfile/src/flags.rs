//! Builder flags (`--from=x`, `--link`, `--exclude=a --exclude=b`), checked as BuildKit's
//! `BFlags` checks them: unknown flags are named with a suggestion.

use crate::error::suggest;
use crate::typer::{Fail, fail};

#[derive(Clone, Copy, PartialEq)]
pub(crate) enum FlagKind {
    Bool,
    Str,
    Strings,
}

/// Parsed builder flags (BuildKit `BFlags`).
pub(crate) struct Flags {
    values: Vec<(&'static str, FlagKind, Vec<String>)>,
}

impl Flags {
    pub(crate) fn parse(
        given: &[String],
        spec: &[(&'static str, FlagKind)],
    ) -> Result<Flags, Fail> {
        let mut values: Vec<(&'static str, FlagKind, Vec<String>)> =
            spec.iter().map(|(n, k)| (*n, *k, Vec::new())).collect();
        let mut used: Vec<&str> = Vec::new();
        for a in given {
            if a == "--" {
                break;
            }
            let Some(body) = a.strip_prefix("--") else {
                return fail(format!("arg should start with -- : {a}"));
            };
            let (name, value) = match body.split_once('=') {
                Some((n, v)) => (n, Some(v)),
                None => (body, None),
            };
            let Some(slot) = values.iter_mut().find(|(n, _, _)| *n == name) else {
                let names: Vec<&str> = spec.iter().map(|(n, _)| *n).collect();
                let hint = suggest(name, &names).map(|s| format!("did you mean --{s}?"));
                return Err((format!("unknown flag: --{name}"), hint));
            };
            if used.contains(&slot.0) && slot.1 != FlagKind::Strings {
                return fail(format!("duplicate flag specified: --{name}"));
            }
            used.push(slot.0);
            match (slot.1, value) {
                (FlagKind::Bool, Some("")) => {
                    return fail(format!("missing a value on flag: --{name}"));
                }
                (FlagKind::Bool, v) => {
                    let v = v.unwrap_or("true").to_ascii_lowercase();
                    if v != "true" && v != "false" {
                        return fail(format!(
                            "expecting boolean value for flag --{name}, not: {}",
                            value.unwrap_or_default()
                        ));
                    }
                    slot.2 = vec![v];
                }
                (_, None) => return fail(format!("missing a value on flag: --{name}")),
                (FlagKind::Str, Some(v)) => slot.2 = vec![v.to_string()],
                (FlagKind::Strings, Some(v)) => slot.2.push(v.to_string()),
            }
        }
        Ok(Flags { values })
    }

    pub(crate) fn get(&self, name: &str) -> Option<String> {
        self.values
            .iter()
            .find(|(n, _, _)| *n == name)
            .and_then(|(_, _, v)| v.last().cloned())
    }

    pub(crate) fn strings(&self, name: &str) -> Vec<String> {
        self.values
            .iter()
            .find(|(n, _, _)| *n == name)
            .map(|(_, _, v)| v.clone())
            .unwrap_or_default()
    }

    pub(crate) fn bool(&self, name: &str) -> Option<bool> {
        self.get(name).map(|v| v == "true")
    }
}
