//! Parsing `WWW-Authenticate` challenges (RFC 7235), as registries send them on 401.
//!
//! A header holds one or more challenges: a scheme, then either comma-separated
//! `name=value` parameters (values are tokens or quoted strings with `\` escapes) or a
//! token68. Several challenges may share one header (`Bearer realm="a", Basic realm="b"`),
//! so a bare token not followed by `=` starts the next challenge.

use std::collections::BTreeMap;

/// One authentication challenge: `Bearer realm="https://auth.example/token",service="reg"`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    /// The scheme, lower-cased (`bearer`, `basic`).
    pub scheme: String,
    /// Parameters by lower-cased name, values unquoted.
    pub params: BTreeMap<String, String>,
}

impl Challenge {
    /// A parameter by (case-insensitive) name.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .get(&name.to_ascii_lowercase())
            .map(String::as_str)
    }
}

/// Parses every challenge in one `WWW-Authenticate` header value. Malformed trailing input is
/// ignored rather than failing the whole header: a registry's sloppy header should still let
/// us find its realm.
pub fn parse_challenges(header: &str) -> Vec<Challenge> {
    let mut p = Parser {
        s: header.as_bytes(),
        i: 0,
    };
    let mut out: Vec<Challenge> = Vec::new();
    loop {
        p.skip_ws_and_commas();
        let Some(scheme) = p.token() else { break };
        let mut challenge = Challenge {
            scheme: scheme.to_ascii_lowercase(),
            params: BTreeMap::new(),
        };
        loop {
            p.skip_ws_and_commas();
            if challenge.params.is_empty() && p.padded_token68_ahead() {
                p.token68();
                break;
            }
            let save = p.i;
            let Some(name) = p.token() else { break };
            p.skip_ws();
            if !p.eat(b'=') {
                // A bare token: the next challenge's scheme (or a token68, which we skip).
                p.i = save;
                if challenge.params.is_empty() && p.looks_like_token68() {
                    p.token68();
                }
                break;
            }
            // `token68` ends in `=` padding: `Basic dXNlcjpwYXNz==` has no value after `=`.
            p.skip_ws();
            let value = if p.peek() == Some(b'"') {
                p.quoted()
            } else {
                p.token().unwrap_or_default()
            };
            challenge.params.insert(name.to_ascii_lowercase(), value);
        }
        out.push(challenge);
    }
    out
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn eat(&mut self, c: u8) -> bool {
        if self.peek() == Some(c) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.i += 1;
        }
    }

    fn skip_ws_and_commas(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b',')) {
            self.i += 1;
        }
    }

    /// An RFC 7230 `token`.
    fn token(&mut self) -> Option<String> {
        let start = self.i;
        while let Some(c) = self.peek() {
            let tchar = c.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&c);
            if !tchar {
                break;
            }
            self.i += 1;
        }
        (self.i > start).then(|| String::from_utf8_lossy(&self.s[start..self.i]).into_owned())
    }

    /// Whether a token68 (`abc/+==`) starts here and is not a `name=value` parameter.
    fn looks_like_token68(&self) -> bool {
        let mut j = self.i;
        while let Some(&c) = self.s.get(j) {
            if c.is_ascii_alphanumeric() || b"-._~+/".contains(&c) {
                j += 1;
            } else {
                break;
            }
        }
        j > self.i && matches!(self.s.get(j), None | Some(b'=' | b' ' | b','))
    }

    /// Whether a token68 ending in `=` padding (`dG9rZW4=`) starts here: unlike a
    /// parameter, nothing follows its `=` but a comma, a space or the end.
    fn padded_token68_ahead(&self) -> bool {
        let mut j = self.i;
        while let Some(&c) = self.s.get(j) {
            if c.is_ascii_alphanumeric() || b"-._~+/".contains(&c) {
                j += 1;
            } else {
                break;
            }
        }
        let mut k = j;
        while self.s.get(k) == Some(&b'=') {
            k += 1;
        }
        j > self.i && k > j && matches!(self.s.get(k), None | Some(b',' | b' ' | b'\t'))
    }

    fn token68(&mut self) {
        while let Some(c) = self.peek() {
            if c.is_ascii_alphanumeric() || b"-._~+/=".contains(&c) {
                self.i += 1;
            } else {
                break;
            }
        }
    }

    /// A quoted string starting at `"`; unterminated strings run to the end.
    fn quoted(&mut self) -> String {
        self.i += 1;
        let mut out = Vec::new();
        while let Some(c) = self.peek() {
            self.i += 1;
            match c {
                b'"' => break,
                b'\\' => {
                    if let Some(n) = self.peek() {
                        out.push(n);
                        self.i += 1;
                    }
                }
                _ => out.push(c),
            }
        }
        String::from_utf8_lossy(&out).into_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ch(scheme: &str, params: &[(&str, &str)]) -> Challenge {
        Challenge {
            scheme: scheme.into(),
            params: params
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    #[test]
    fn parses_challenges() {
        for (input, want) in [
            (
                r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/ubuntu:pull""#,
                vec![ch(
                    "bearer",
                    &[
                        ("realm", "https://auth.docker.io/token"),
                        ("service", "registry.docker.io"),
                        ("scope", "repository:library/ubuntu:pull"),
                    ],
                )],
            ),
            (
                r#"Basic realm="basic-realm""#,
                vec![ch("basic", &[("realm", "basic-realm")])],
            ),
            ("Basic", vec![ch("basic", &[])]),
            (
                r#"BEARER Realm = "r" , Service=svc"#,
                vec![ch("bearer", &[("realm", "r"), ("service", "svc")])],
            ),
            (
                r#"Bearer realm="a\"b\\c",error="insufficient_scope""#,
                vec![ch(
                    "bearer",
                    &[("realm", r#"a"b\c"#), ("error", "insufficient_scope")],
                )],
            ),
            (
                r#"Bearer realm="https://t/x",service="s", Basic realm="b""#,
                vec![
                    ch("bearer", &[("realm", "https://t/x"), ("service", "s")]),
                    ch("basic", &[("realm", "b")]),
                ],
            ),
            (
                r#"Bearer scope="repository:a:pull,push repository:b:pull",realm="r""#,
                vec![ch(
                    "bearer",
                    &[
                        ("scope", "repository:a:pull,push repository:b:pull"),
                        ("realm", "r"),
                    ],
                )],
            ),
            (
                "Negotiate dG9rZW4=, Basic realm=x",
                vec![ch("negotiate", &[]), ch("basic", &[("realm", "x")])],
            ),
            ("Basic dXNlcjpwYXNz==", vec![ch("basic", &[])]),
            (
                r#"Bearer realm="unterminated"#,
                vec![ch("bearer", &[("realm", "unterminated")])],
            ),
            ("", vec![]),
            ("  ,  ", vec![]),
        ] {
            assert_eq!(parse_challenges(input), want, "{input}");
        }
    }

    #[test]
    fn param_lookup_ignores_case() {
        let c = &parse_challenges(r#"Bearer Realm="r""#)[0];
        assert_eq!(c.param("REALM"), Some("r"));
        assert_eq!(c.param("service"), None);
    }
}
