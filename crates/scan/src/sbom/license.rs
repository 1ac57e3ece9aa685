//! Declared licences as SPDX license expressions, or as free text when they are not one.
//!
//! SPDX validators (spdx-tools) and CycloneDX's schema accept only ids from the SPDX
//! license list, so an id is used only when it is in [`KNOWN`] (a hand-picked subset of
//! the list: the licences packages actually declare) or [`ALIASES`] (Debian's and
//! PyPI's usual spellings of them). Anything else (`public-domain`, `BSD`, a classifier's
//! text) stays free text: a `LicenseRef-` in SPDX, a `name` in CycloneDX.

/// SPDX license-list ids (case as the list writes them) that expressions may use.
const KNOWN: &[&str] = &[
    "0BSD",
    "AFL-2.1",
    "AFL-3.0",
    "AGPL-3.0-only",
    "AGPL-3.0-or-later",
    "Apache-1.1",
    "Apache-2.0",
    "Artistic-1.0",
    "Artistic-1.0-Perl",
    "Artistic-2.0",
    "BSD-1-Clause",
    "BSD-2-Clause",
    "BSD-3-Clause",
    "BSD-3-Clause-Clear",
    "BSD-4-Clause",
    "BSL-1.0",
    "BlueOak-1.0.0",
    "bzip2-1.0.6",
    "CC-BY-3.0",
    "CC-BY-4.0",
    "CC-BY-SA-3.0",
    "CC-BY-SA-4.0",
    "CC0-1.0",
    "CDDL-1.0",
    "CDDL-1.1",
    "curl",
    "EPL-1.0",
    "EPL-2.0",
    "EUPL-1.2",
    "FTL",
    "GFDL-1.2-only",
    "GFDL-1.2-or-later",
    "GFDL-1.3-only",
    "GFDL-1.3-or-later",
    "GPL-1.0-only",
    "GPL-1.0-or-later",
    "GPL-2.0-only",
    "GPL-2.0-or-later",
    "GPL-3.0-only",
    "GPL-3.0-or-later",
    "HPND",
    "ICU",
    "ISC",
    "LGPL-2.0-only",
    "LGPL-2.0-or-later",
    "LGPL-2.1-only",
    "LGPL-2.1-or-later",
    "LGPL-3.0-only",
    "LGPL-3.0-or-later",
    "libpng-2.0",
    "MIT",
    "MIT-0",
    "MPL-1.1",
    "MPL-2.0",
    "MS-PL",
    "NCSA",
    "OFL-1.1",
    "OpenSSL",
    "PHP-3.01",
    "PSF-2.0",
    "Python-2.0",
    "Ruby",
    "Sleepycat",
    "Unicode-DFS-2016",
    "Unlicense",
    "Vim",
    "W3C",
    "WTFPL",
    "X11",
    "Zlib",
    "ZPL-2.1",
];

/// SPDX exception ids usable after `WITH`.
const EXCEPTIONS: &[&str] = &[
    "Autoconf-exception-3.0",
    "Bison-exception-2.2",
    "Classpath-exception-2.0",
    "Font-exception-2.0",
    "GCC-exception-3.1",
    "LLVM-exception",
];

/// Spellings that mean a listed id: SPDX's deprecated `GPL-2.0+` forms, Debian's
/// `debian/copyright` short names, and common free text.
const ALIASES: &[(&str, &str)] = &[
    ("GPL-2.0", "GPL-2.0-only"),
    ("GPL-2.0+", "GPL-2.0-or-later"),
    ("GPL-3.0", "GPL-3.0-only"),
    ("GPL-3.0+", "GPL-3.0-or-later"),
    ("LGPL-2.1", "LGPL-2.1-only"),
    ("LGPL-2.1+", "LGPL-2.1-or-later"),
    ("LGPL-3.0", "LGPL-3.0-only"),
    ("LGPL-3.0+", "LGPL-3.0-or-later"),
    ("GPL-2", "GPL-2.0-only"),
    ("GPL-2+", "GPL-2.0-or-later"),
    ("GPL-3", "GPL-3.0-only"),
    ("GPL-3+", "GPL-3.0-or-later"),
    ("LGPL-2", "LGPL-2.0-only"),
    ("LGPL-2+", "LGPL-2.0-or-later"),
    ("LGPL-3", "LGPL-3.0-only"),
    ("LGPL-3+", "LGPL-3.0-or-later"),
    ("Expat", "MIT"),
    ("MIT License", "MIT"),
    ("Apache 2.0", "Apache-2.0"),
    ("Apache License 2.0", "Apache-2.0"),
    ("Apache-2", "Apache-2.0"),
    ("Apache Software License", "Apache-2.0"),
    ("BSD License", "BSD-3-Clause"),
    ("ISC License", "ISC"),
    ("Mozilla Public License 2.0", "MPL-2.0"),
];

/// The SPDX license ids strata writes as ids (others are free text), for checking them
/// against the validators' lists.
pub fn known_ids() -> &'static [&'static str] {
    KNOWN
}

/// The SPDX exception ids strata accepts after `WITH`.
pub fn known_exceptions() -> &'static [&'static str] {
    EXCEPTIONS
}

/// One declared licence, judged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum License {
    /// A valid SPDX expression, spelled canonically (`MIT`, `(MIT OR Apache-2.0)`); `simple`
    /// says whether it is one id (CycloneDX writes that as `license.id`).
    Spdx {
        /// The expression.
        expression: String,
        /// Whether it is a single license id (no operator, no `+`).
        simple: bool,
    },
    /// Not an SPDX expression: the text as declared.
    Text(String),
}

fn lookup<'a>(token: &str, list: &[&'a str]) -> Option<&'a str> {
    list.iter()
        .copied()
        .find(|id| id.eq_ignore_ascii_case(token))
}

fn canonical_id(token: &str) -> Option<String> {
    if let Some((_, id)) = ALIASES
        .iter()
        .find(|(alias, _)| alias.eq_ignore_ascii_case(token))
    {
        return Some((*id).to_owned());
    }
    if let Some(id) = lookup(token, KNOWN) {
        return Some(id.to_owned());
    }
    let base = token.strip_suffix('+')?;
    lookup(base, KNOWN).map(|id| format!("{id}+"))
}

/// Splits an expression into ids, operators and parentheses.
fn tokens(text: &str) -> Vec<String> {
    text.replace('(', " ( ")
        .replace(')', " ) ")
        .split_whitespace()
        .map(str::to_owned)
        .collect()
}

/// A recursive-descent check of SPDX's expression grammar, writing the canonical form.
struct Parser {
    tokens: Vec<String>,
    at: usize,
    out: Vec<String>,
}

impl Parser {
    fn peek_op(&self, op: &str) -> bool {
        self.tokens
            .get(self.at)
            .is_some_and(|t| t.eq_ignore_ascii_case(op))
    }

    fn expr(&mut self) -> Option<()> {
        self.and()?;
        while self.peek_op("OR") {
            self.at += 1;
            self.out.push("OR".into());
            self.and()?;
        }
        Some(())
    }

    fn and(&mut self) -> Option<()> {
        self.with()?;
        while self.peek_op("AND") {
            self.at += 1;
            self.out.push("AND".into());
            self.with()?;
        }
        Some(())
    }

    fn with(&mut self) -> Option<()> {
        self.atom()?;
        if self.peek_op("WITH") {
            self.at += 1;
            let exception = lookup(self.tokens.get(self.at)?, EXCEPTIONS)?;
            self.at += 1;
            self.out.push("WITH".into());
            self.out.push(exception.to_owned());
        }
        Some(())
    }

    fn atom(&mut self) -> Option<()> {
        let token = self.tokens.get(self.at)?.clone();
        self.at += 1;
        if token == "(" {
            self.out.push("(".into());
            self.expr()?;
            (self.tokens.get(self.at)? == ")").then_some(())?;
            self.at += 1;
            self.out.push(")".into());
            return Some(());
        }
        self.out.push(canonical_id(&token)?);
        Some(())
    }
}

/// Judges one declared licence: an SPDX expression (canonically spelled) or free text.
pub fn judge(declared: &str) -> License {
    let text = declared.trim();
    // A whole-text alias first: `MIT License` is two tokens but one licence.
    if let Some(id) = canonical_id(text) {
        let simple = !id.ends_with('+');
        return License::Spdx {
            expression: id,
            simple,
        };
    }
    let mut parser = Parser {
        tokens: tokens(text),
        at: 0,
        out: Vec::new(),
    };
    if parser.expr().is_some() && parser.at == parser.tokens.len() {
        let expression = parser.out.join(" ").replace("( ", "(").replace(" )", ")");
        let simple = parser.out.len() == 1 && !expression.ends_with('+');
        return License::Spdx { expression, simple };
    }
    License::Text(text.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spdx(expression: &str, simple: bool) -> License {
        License::Spdx {
            expression: expression.into(),
            simple,
        }
    }

    #[test]
    fn expressions_and_free_text_are_told_apart() {
        let cases = [
            ("MIT", spdx("MIT", true)),
            ("mit", spdx("MIT", true)),
            ("Expat", spdx("MIT", true)),
            ("MIT License", spdx("MIT", true)),
            ("GPL-2+", spdx("GPL-2.0-or-later", true)),
            ("MPL-1.1+", spdx("MPL-1.1+", false)),
            ("MIT OR Apache-2.0", spdx("MIT OR Apache-2.0", false)),
            (
                "(mit or apache-2.0) and BSD-3-Clause",
                spdx("(MIT OR Apache-2.0) AND BSD-3-Clause", false),
            ),
            (
                "GPL-2.0-or-later WITH Classpath-exception-2.0",
                spdx("GPL-2.0-or-later WITH Classpath-exception-2.0", false),
            ),
            ("public-domain", License::Text("public-domain".into())),
            ("BSD", License::Text("BSD".into())),
            ("MIT OR", License::Text("MIT OR".into())),
            ("(MIT", License::Text("(MIT".into())),
            (
                "MIT WITH Nonsense-exception",
                License::Text("MIT WITH Nonsense-exception".into()),
            ),
            ("LicenseRef-Foo", License::Text("LicenseRef-Foo".into())),
            ("  ", License::Text(String::new())),
        ];
        for (declared, want) in cases {
            assert_eq!(judge(declared), want, "{declared:?}");
        }
    }
}
