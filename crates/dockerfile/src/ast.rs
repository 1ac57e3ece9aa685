//! The syntax tree the parser produces: one [`Node`] per instruction, with its argument
//! chain, flags, heredocs and source lines, dumpable in BuildKit's `Node.Dump()` format.

use crate::quote::go_quote;

/// One node of the syntax tree. The root has the instructions as `children`; an
/// instruction has its arguments as the flattened `next` chain; ONBUILD's argument node
/// has the sub-instruction as its only child.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Node {
    /// The instruction keyword as written (`FROM`, `run`), or an argument's text.
    pub value: String,
    /// The argument chain (BuildKit's `Next` list, flattened).
    pub next: Vec<Node>,
    /// Nested instructions (the root's instructions, ONBUILD's sub-instruction).
    pub children: Vec<Node>,
    /// Heredoc bodies attached to this instruction, in the order they appear.
    pub heredocs: Vec<Heredoc>,
    /// Exec form: the arguments came from a JSON array (`attributes.json`).
    pub json: bool,
    /// The logical line the node was parsed from, continuations joined.
    pub original: String,
    /// Builder flags such as `--from=build`, as written without quotes.
    pub flags: Vec<String>,
    /// First source line (1-based; 0 for nodes nested in ONBUILD).
    pub start_line: usize,
    /// Last source line, heredoc bodies included.
    pub end_line: usize,
    /// The 1-based column of the instruction keyword on `start_line` (0 when unknown).
    pub column: usize,
    /// Comment lines directly above the instruction, without `#`.
    pub prev_comment: Vec<String>,
}

/// A heredoc attached to RUN, COPY or ADD.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Heredoc {
    /// The terminator word, quotes removed.
    pub name: String,
    /// The file descriptor before `<<` (`3<<EOF`), 0 when absent.
    pub file_descriptor: u32,
    /// Whether variables in the body are expanded (the name was not quoted).
    pub expand: bool,
    /// `<<-`: leading tabs are stripped from the body lines and terminator.
    pub chomp: bool,
    /// The body, each line with its newline, tabs not yet stripped.
    pub content: String,
}

/// A non-fatal finding, e.g. an empty continuation line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    /// One-line summary.
    pub short: String,
    /// Longer explanation lines.
    pub detail: Vec<String>,
    /// Documentation link.
    pub url: String,
    /// First line the warning concerns.
    pub start_line: usize,
    /// Last line the warning concerns.
    pub end_line: usize,
}

/// A parser directive (`# syntax=...`, `# escape=...`, `# check=...`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Directive {
    /// Lower-cased name.
    pub name: String,
    /// The value as written, surrounding whitespace trimmed.
    pub value: String,
    /// The 1-based line.
    pub line: usize,
}

/// A parsed Dockerfile: the syntax tree plus what the parser learnt on the way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dockerfile {
    /// The file name used in error messages.
    pub file: String,
    /// The root node; its `children` are the instructions.
    pub ast: Node,
    /// The escape token in effect (`\` or `` ` ``).
    pub escape_token: char,
    /// Warnings, e.g. empty continuation lines.
    pub warnings: Vec<Warning>,
    /// The parser directives found at the top of the file.
    pub directives: Vec<Directive>,
}

impl Dockerfile {
    /// The value of directive `name` (`syntax`, `escape`, `check`), if present.
    pub fn directive(&self, name: &str) -> Option<&str> {
        self.directives
            .iter()
            .find(|d| d.name == name)
            .map(|d| d.value.as_str())
    }
}

impl Node {
    /// The node as BuildKit's `Node.Dump()` prints it: lower-cased keyword, flags as a Go
    /// `%q` list, each argument Go-quoted, nested nodes in parentheses.
    pub fn dump(&self) -> String {
        let mut s = self.value.to_lowercase();
        if !self.flags.is_empty() {
            let quoted: Vec<String> = self.flags.iter().map(|f| go_quote(f)).collect();
            s.push_str(&format!(" [{}]", quoted.join(" ")));
        }
        for c in &self.children {
            s.push('(');
            s.push_str(&c.dump());
            s.push_str(")\n");
        }
        for n in &self.next {
            s.push(' ');
            if n.children.is_empty() {
                s.push_str(&go_quote(&n.value));
            } else {
                s.push_str(&n.dump());
            }
        }
        s.trim().to_string()
    }

    /// The argument values in order.
    pub fn args(&self) -> Vec<&str> {
        self.next.iter().map(|n| n.value.as_str()).collect()
    }

    /// Whether this is RUN/COPY/ADD in shell form (directly or under ONBUILD), which may
    /// carry heredocs.
    pub(crate) fn can_contain_heredoc(&self) -> bool {
        let mut node = self;
        if node.value.eq_ignore_ascii_case("onbuild")
            && let Some(child) = node.next.first().and_then(|n| n.children.first())
        {
            node = child;
        }
        let v = node.value.to_ascii_lowercase();
        matches!(v.as_str(), "add" | "copy" | "run") && !node.json
    }
}
