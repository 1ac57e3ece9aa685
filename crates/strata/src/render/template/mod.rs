//! Go's text/template for Docker's `--format`, on `serde_json::Value` rows: actions with
//! fields, variables and pipelines, `if`/`else if`/`else`, `range` (`$i, $v :=`, `break`,
//! `continue`), `with`, comments, `{{- -}}` trimming, Go's builtins (`and`, `or`, `not`,
//! `len`, `index`, `slice`, `eq` with several arguments, `ne`, `lt`, `le`, `gt`, `ge`,
//! `print`, `printf`, `println`, `html`, `urlquery`) and Docker's (`json`, `split`, `join`,
//! `title`, `lower`, `upper`, `pad`, `truncate`). `define`/`template`/`block` are refused.
//!
//! No maintained crate fits: `gtmpl` (the one Rust port) has its own value type, no Go
//! `fmt` printing and no release since 2021; so this is a lexer ([`lex`]), a parser
//! ([`parse`]), an evaluator ([`exec`]), the functions ([`funcs`]) and Go's fmt ([`print`]).

mod exec;
mod funcs;
mod lex;
mod parse;
mod print;

use serde_json::Value;

/// A format string that failed to parse or execute, worded as Docker prints it
/// (`template parsing error: template: :1:2: executing "" at <.Nope>: …`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    /// The template text is malformed.
    #[error("template parsing error: template: :1: {0}")]
    Parse(String),
    /// The template refers to something the row does not have; the message starts with
    /// the position (`:1:2: `) once the template placed it.
    #[error("template parsing error: template: {0}")]
    Exec(String),
    /// Internal to [`Template::execute`]: the typed pass named a field Docker's Go struct
    /// does not have; the raw pass runs instead.
    #[error("template parsing error: a field only the raw JSON has")]
    TypedFallback,
}

/// How a missing map key is treated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Missing {
    /// An error naming the field (Docker's table contexts are Go structs).
    Error,
    /// Prints `<no value>` (Go's default for maps).
    NoValue,
    /// Docker's `inspect -f` (decoded JSON with `missingkey=error`): `map has no entry for
    /// key "X"`.
    MapError,
}

/// The Go type of a struct field, where printing it differs from printing decoded JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GoKind {
    /// A slice: nil prints `[]`.
    Slice,
    /// A map: nil prints `map[]`.
    Map,
    /// A `map[string]struct{}` (volumes, exposed ports): nil prints `map[]`, the values `{}`.
    Set,
    /// A pointer: nil prints `<nil>`.
    Pointer,
    /// A string field JSON leaves out when empty (`omitempty`, e.g. `Variant`, a mount's
    /// `Name`): absent, it is `""`.
    String,
}

/// The fields Docker's typed structs print differently (Docker executes `inspect -f` on the
/// Go struct first): a nil field, or one `omitempty` left out, prints as Go's zero value.
pub type NilKinds = &'static [(&'static str, GoKind)];

/// (JSON key, Go field name) pairs of Docker's structs where the two differ (`Id`/`ID`).
pub type GoRenamed = &'static [(&'static str, &'static str)];

/// A parsed template.
#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    text: String,
    nodes: Vec<parse::Node>,
    missing: Missing,
    nil_kinds: NilKinds,
    go_renamed: GoRenamed,
    struct_name: Option<&'static str>,
}

impl Template {
    /// Parses `text`; `\t` and `\n` written as two characters are turned into a tab and a
    /// newline first, as Docker does.
    pub fn parse(text: &str, missing: Missing) -> Result<Template, TemplateError> {
        let text = text.replace("\\t", "\t").replace("\\n", "\n");
        let pieces = lex::pieces(&text)?;
        let nodes = parse::parse(pieces, &|name| funcs::NAMES.contains(&name))?;
        Ok(Template {
            text,
            nodes,
            missing,
            nil_kinds: &[],
            go_renamed: &[],
            struct_name: None,
        })
    }

    /// The fields whose Go names differ from their JSON keys in Docker's structs (`Id` is
    /// `ID`, `CpuShares` is `CPUShares`). Docker's `inspect -f` runs on the typed struct
    /// first, where only the Go name works, and when that fails, again on the raw decoded
    /// JSON; so a template naming a JSON key of these runs raw: no typed nils, and `json`
    /// of an object sorts its keys.
    pub fn go_renamed(mut self, keys: GoRenamed) -> Template {
        self.go_renamed = keys;
        self
    }

    /// Names the Go type Docker's formatter executes this template on
    /// (`*formatter.imageContext`): an unknown field is then reported as Go does,
    /// `can't evaluate field Nope in type *formatter.imageContext`.
    pub fn on_struct(mut self, name: &'static str) -> Template {
        self.struct_name = Some(name);
        self
    }

    /// Prints nil (or absent) fields named in `kinds` as Docker's typed structs do
    /// (`{{.Config.Volumes}}` is `map[]`, not `<no value>`); `json` still sees `null`.
    pub fn typed_nils(mut self, kinds: NilKinds) -> Template {
        self.nil_kinds = kinds;
        self
    }

    /// Runs the template on one row.
    pub fn execute(&self, row: &Value) -> Result<String, TemplateError> {
        let typed = exec::execute(
            &self.nodes,
            row,
            self.missing,
            self.nil_kinds,
            self.struct_name,
            exec::Mode::Typed(self.go_renamed),
        );
        let result = match typed {
            Err(TemplateError::TypedFallback) => exec::execute(
                &self.nodes,
                row,
                self.missing,
                &[],
                self.struct_name,
                exec::Mode::Raw,
            ),
            other => other,
        };
        result.map_err(|e| match e {
            TemplateError::Exec(m) => TemplateError::Exec(self.place(m)),
            other => other,
        })
    }

    /// Prefixes an execution message with Go's `:line:column: `, the column (0-based, in
    /// bytes) of the node it names (`at <.Nope>`), found in the text.
    fn place(&self, msg: String) -> String {
        let node = msg
            .strip_prefix("executing \"\" at <")
            .and_then(|rest| rest.split_once(">: "))
            .map(|(node, _)| node.to_string());
        let Some(node) = node else {
            return format!(":1: {msg}");
        };
        let Some(at) = self.text.find(&node) else {
            return format!(":1: {msg}");
        };
        // Go places a field chain at its last field (`.Config.Nope` at `.Nope`).
        let at = at
            + if node.starts_with('.') {
                node.rfind('.').unwrap_or(0)
            } else {
                0
            };
        let line = 1 + self.text[..at].matches('\n').count();
        let col = at - self.text[..at].rfind('\n').map_or(0, |n| n + 1);
        format!(":{line}:{col}: {msg}")
    }

    /// Every top-level field the template names on the row (`.Repository` →
    /// `Repository`), in order; fields inside `range` and `with` are on other values.
    pub fn fields(&self) -> Vec<String> {
        let mut fields = Vec::new();
        collect_fields(&self.nodes, &mut fields);
        fields
    }
}

fn collect_fields(nodes: &[parse::Node], out: &mut Vec<String>) {
    use parse::{BlockKind, Node};
    for node in nodes {
        match node {
            Node::Action(p) => pipeline_fields(p, out),
            Node::Block {
                kind,
                pipe,
                list,
                else_list,
            } => {
                pipeline_fields(pipe, out);
                if *kind == BlockKind::If {
                    collect_fields(list, out);
                }
                collect_fields(else_list, out);
            }
            _ => {}
        }
    }
}

fn pipeline_fields(p: &parse::Pipeline, out: &mut Vec<String>) {
    for cmd in &p.cmds {
        for arg in &cmd.args {
            match arg {
                parse::Operand::Field(path) => {
                    if let Some(first) = path.first()
                        && !out.contains(first)
                    {
                        out.push(first.clone());
                    }
                }
                parse::Operand::Sub(inner, _) => pipeline_fields(inner, out),
                _ => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn row() -> Value {
        json!({
            "Repository": "alpine",
            "Tag": "3.19",
            "ID": "0123456789ab",
            "Size": "7.33MB",
            "Labels": {"b": "2", "a": "1"},
            "Env": ["A=1", "B=2"],
            "Config": {"Cmd": ["sh"], "Entrypoint": null, "User": ""},
            "Count": 3
        })
    }

    #[test]
    fn executes_docker_formats() {
        for (format, want) in [
            ("{{.Repository}}:{{.Tag}}", "alpine:3.19"),
            ("{{.ID}}\\t{{.Size}}", "0123456789ab\t7.33MB"),
            ("{{.ID}}\\n", "0123456789ab\n"),
            ("{{ .Tag }}", "3.19"),
            ("{{json .Tag}}", "\"3.19\""),
            ("{{json .Env}}", "[\"A=1\",\"B=2\"]"),
            ("{{.Env}}", "[A=1 B=2]"),
            ("{{.Labels}}", "map[a:1 b:2]"),
            ("{{index .Labels \"b\"}}", "2"),
            ("{{.Config.Cmd}}", "[sh]"),
            ("{{json .Config.Entrypoint}}", "null"),
            ("{{.Repository | upper}}", "ALPINE"),
            ("{{upper .Repository}}", "ALPINE"),
            ("{{join .Env \",\"}}", "A=1,B=2"),
            ("{{truncate .ID 4}}", "0123"),
            ("{{len .Env}}", "2"),
            ("{{.Count}}", "3"),
            ("x {{- \" y\" -}}  z", "x yz"),
            ("{{title \"hello world\"}}", "Hello World"),
            ("plain", "plain"),
        ] {
            let t = Template::parse(format, Missing::Error).unwrap();
            assert_eq!(t.execute(&row()).unwrap(), want, "{format}");
        }
    }

    #[test]
    fn json_of_a_listing_row_escapes_html_like_go_marshal() {
        let row = json!({"Digest": "<none>", "Tag": "a&b"});
        let t = Template::parse("{{json .}} {{json .Digest}}", Missing::Error).unwrap();
        assert_eq!(
            t.execute(&row).unwrap(),
            r#"{"Digest":"\u003cnone\u003e","Tag":"a\u0026b"} "<none>""#
        );
        // inspect -f runs on the object itself: nothing escaped.
        let t = Template::parse("{{json .}}", Missing::MapError).unwrap();
        assert_eq!(
            t.execute(&row).unwrap(),
            r#"{"Digest":"<none>","Tag":"a&b"}"#
        );
    }

    #[test]
    fn json_of_dot_is_the_whole_row() {
        let t = Template::parse("{{json .}}", Missing::Error).unwrap();
        let out = t.execute(&json!({"B": "1", "A": 2})).unwrap();
        assert_eq!(out, r#"{"B":"1","A":2}"#);
    }

    #[test]
    fn unknown_fields_are_errors_that_name_them() {
        let t = Template::parse("{{.Nope}}", Missing::Error).unwrap();
        let err = t.execute(&row()).unwrap_err().to_string();
        assert!(err.contains("can't evaluate field Nope"), "{err}");
        let t = Template::parse("{{.Config.Nope}}", Missing::Error).unwrap();
        let err = t.execute(&row()).unwrap_err().to_string();
        assert!(err.contains("Config.Nope"), "{err}");
        let t = Template::parse("{{.Tag.Nope}}", Missing::Error).unwrap();
        assert!(t.execute(&row()).is_err());
    }

    #[test]
    fn missing_keys_print_no_value_for_inspect() {
        let t = Template::parse("{{.Nope}}|{{.Config.Nope.Deeper}}", Missing::NoValue).unwrap();
        assert_eq!(t.execute(&row()).unwrap(), "<no value>|<no value>");
    }

    #[test]
    fn refuses_malformed_templates() {
        for format in [
            "{{.Tag",
            "{{}}",
            "{{range .Env}}{{.}}",
            "{{end}}",
            "{{if}}{{end}}",
            "{{else}}",
            "{{define \"x\"}}{{end}}",
            "{{template \"x\"}}",
            "{{break}}",
            "{{.Tag 1}}",
            "{{(.Tag}}",
            "{{$x := }}",
            "{{nofunc .Tag}}",
            "{{.Tag | }}",
            "{{\"open}}",
            "{{.Ta-g}}",
        ] {
            assert!(Template::parse(format, Missing::Error).is_err(), "{format}");
        }
    }

    /// Go's documented semantics, row by row (expected values from Go 1.21's text/template).
    #[test]
    fn follows_go_text_template() {
        let data = json!({
            "Name": "web",
            "State": {"Status": "running", "Running": true, "Pid": 42},
            "Mounts": [
                {"Source": "/a", "Destination": "/x", "RW": true},
                {"Source": "/b", "Destination": "/y", "RW": false}
            ],
            "Labels": {"z": "26", "a": "1"},
            "Empty": [],
            "None": null,
            "Zero": 0,
            "Words": "a,b,c",
            "F": 1.5
        });
        for (format, want) in [
            ("{{range .Mounts}}{{.Source}}{{end}}", "/a/b"),
            (
                "{{range $i, $m := .Mounts}}{{$i}}={{$m.Destination}} {{end}}",
                "0=/x 1=/y ",
            ),
            ("{{range $m := .Mounts}}{{$m.RW}}{{end}}", "truefalse"),
            (
                "{{range $k, $v := .Labels}}{{$k}}:{{$v}};{{end}}",
                "a:1;z:26;",
            ),
            ("{{range .Empty}}x{{else}}empty{{end}}", "empty"),
            ("{{range .None}}x{{else}}nil{{end}}", "nil"),
            (
                "{{range .Mounts}}{{if not .RW}}{{break}}{{end}}{{.Source}}{{end}}",
                "/a",
            ),
            (
                "{{range .Mounts}}{{if .RW}}{{continue}}{{end}}{{.Source}}{{end}}",
                "/b",
            ),
            ("{{if eq .State.Status \"running\"}}up{{end}}", "up"),
            (
                "{{if eq .State.Status \"exited\" \"running\"}}one of{{end}}",
                "one of",
            ),
            (
                "{{if ne .Name \"web\"}}a{{else if .State.Running}}b{{else}}c{{end}}",
                "b",
            ),
            ("{{if .Zero}}a{{else if .Empty}}b{{else}}c{{end}}", "c"),
            ("{{with .State}}{{.Pid}}{{end}}", "42"),
            ("{{with .None}}x{{else}}none{{end}}", "none"),
            ("{{with $s := .State}}{{$s.Status}}{{end}}", "running"),
            (
                "{{$n := .Name}}{{with .State}}{{$n}} {{$.Name}} {{.Status}}{{end}}",
                "web web running",
            ),
            ("{{$x := 1}}{{if true}}{{$x = 2}}{{end}}{{$x}}", "2"),
            (
                "{{printf \"%s has %d mounts\" .Name (len .Mounts)}}",
                "web has 2 mounts",
            ),
            (
                "{{printf \"%-6s|%3d|%v\" .Name .State.Pid .Labels}}",
                "web   | 42|map[a:1 z:26]",
            ),
            ("{{println .Name 1}}", "web 1\n"),
            ("{{print .Name 1 2}}", "web1 2"),
            (
                "{{lt 1 2}} {{le 2 2}} {{gt 1.5 1}} {{ge \"a\" \"b\"}}",
                "true true true false",
            ),
            (
                "{{and 1 0 2}} {{and 1 2}} {{or 0 \"\" \"x\"}} {{or 0 \"\"}}",
                "0 2 x ",
            ),
            ("{{not .Empty}} {{not .Name}}", "true false"),
            ("{{len .Labels}} {{len .Name}}", "2 3"),
            (
                "{{index .Mounts 1 | json}}",
                "{\"Source\":\"/b\",\"Destination\":\"/y\",\"RW\":false}",
            ),
            (
                "{{index .Labels \"a\"}} {{index .Labels \"missing\"}}",
                "1 <no value>",
            ),
            (
                "{{slice .Name 1}} {{slice .Name 0 2}} {{len (slice .Mounts 1 2)}}",
                "eb we 1",
            ),
            ("{{(index .Mounts 0).Source}}", "/a"),
            ("{{printf \"%d %s\" (len .Mounts) .Name}}", "2 web"),
            ("{{.Name | upper | printf \"%s!\"}}", "WEB!"),
            (
                "{{split .Words \",\"}} {{join (split .Words \",\") \"-\"}}",
                "[a b c] a-b-c",
            ),
            (
                "{{title \"hello wide world\"}} {{lower \"AB\"}}",
                "Hello Wide World ab",
            ),
            ("[{{pad .Name 1 2}}] {{truncate .Name 2}}", "[ web  ] we"),
            ("a {{/* comment */}}b {{- /* trimmed */ -}} c", "a bc"),
            (
                "{{.None}} {{.Missing}} {{.State.Missing}} {{.None.Deeper}}",
                "<no value> <no value> <no value> <no value>",
            ),
            (
                "{{.F}} {{.Zero}} {{.Empty}} {{json .None}}",
                "1.5 0 [] null",
            ),
            // Docker's json function does not escape HTML characters.
            ("{{json \"<none> &\"}}", "\"<none> &\""),
            ("{{range .Mounts -}}\n  {{.Source}}\n{{- end}}", "/a/b"),
            ("{{`raw`}} {{'a'}} {{0x10}} {{1e3}}", "raw 97 16 1000"),
        ] {
            let t = Template::parse(format, Missing::NoValue)
                .unwrap_or_else(|e| panic!("{format}: {e}"));
            assert_eq!(
                t.execute(&data).unwrap_or_else(|e| panic!("{format}: {e}")),
                want,
                "{format}"
            );
        }
        // Runtime errors, as Go's.
        for format in [
            "{{index .Mounts 5}}",
            "{{lt .Mounts 1}}",
            "{{eq .Labels .Labels}}",
            "{{len .Zero}}",
            "{{range .Name}}{{end}}",
            "{{$x = 1}}",
        ] {
            let t = Template::parse(format, Missing::NoValue);
            assert!(
                t.and_then(|t| t.execute(&data)).is_err(),
                "{format} should fail"
            );
        }
    }

    #[test]
    fn a_go_renamed_field_runs_the_template_on_the_raw_json() {
        let data = json!({
            "Id": "abc",
            "Config": {"Volumes": null},
            "HostConfig": {"CpuShares": 0, "Ulimits": [{"Name": "nofile", "Soft": 1, "Hard": 2}]},
        });
        const KINDS: NilKinds = &[("Volumes", GoKind::Set)];
        let t = |f: &str| {
            Template::parse(f, Missing::MapError)
                .unwrap()
                .typed_nils(KINDS)
                .go_renamed(&[("Id", "ID"), ("CpuShares", "CPUShares")])
                .execute(&data)
                .unwrap()
        };
        for (format, want) in [
            // Typed: struct order, typed nils.
            (
                "{{json .HostConfig.Ulimits}} {{.Config.Volumes}}",
                r#"[{"Name":"nofile","Soft":1,"Hard":2}] map[]"#,
            ),
            // Raw (a renamed field anywhere it is reached): sorted keys, no typed nils.
            (
                "{{json .HostConfig.Ulimits}} {{.HostConfig.CpuShares}}",
                r#"[{"Hard":2,"Name":"nofile","Soft":1}] 0"#,
            ),
            ("{{.Id}} {{.Config.Volumes}}", "abc <no value>"),
            // The Go name reads the field on the typed struct.
            ("{{.ID}} {{.Config.Volumes}}", "abc map[]"),
            ("{{.HostConfig.CPUShares}}", "0"),
            // Not reached: the typed pass succeeds.
            (
                "{{if false}}{{.Id}}{{end}}{{json .HostConfig.Ulimits}}",
                r#"[{"Name":"nofile","Soft":1,"Hard":2}]"#,
            ),
        ] {
            assert_eq!(t(format), want, "{format}");
        }
    }

    #[test]
    fn inspect_mode_errors_on_missing_keys_and_prints_typed_nils() {
        let data =
            json!({"Config": {"Volumes": null, "Cmd": ["sh"], "Vols": {"/a": {}}}, "Name": "x"});
        const KINDS: NilKinds = &[
            ("Volumes", GoKind::Set),
            ("Vols", GoKind::Set),
            ("ExposedPorts", GoKind::Map),
        ];
        let t = |f: &str| {
            Template::parse(f, Missing::MapError)
                .unwrap()
                .typed_nils(KINDS)
                .execute(&data)
        };
        assert_eq!(
            t("{{.Name}} {{.Config.Nope}}").unwrap_err().to_string(),
            "template parsing error: template: :1:19: executing \"\" at <.Config.Nope>: map has no entry for key \"Nope\""
        );
        assert_eq!(
            t("{{.Name}}\n  {{index .Config.Cmd 3}}")
                .unwrap_err()
                .to_string(),
            "template parsing error: template: :2:4: executing \"\" at <index>: error calling index: index out of range: 3"
        );
        assert_eq!(
            t("{{.Config.Volumes}}|{{.Config.ExposedPorts}}|{{json .Config.Volumes}}|{{.Config.Cmd}}")
                .unwrap(),
            "map[]|map[]|null|[sh]"
        );
        assert_eq!(t("{{.Config.Vols}}").unwrap(), "map[/a:{}]");
        assert!(t("{{.Name.Deeper}}").is_err());
    }

    /// `{{range .Mounts}}{{.Name}}{{end}}` failed on a bind mount (its JSON has no `Name`
    /// key); Docker's typed `MountPoint` prints the empty string.
    #[test]
    fn omitempty_string_fields_print_empty() {
        let data = json!({"Mounts": [
            {"Type": "bind", "Source": "/s"},
            {"Type": "volume", "Name": "v", "Driver": "local"}
        ]});
        const KINDS: NilKinds = &[("Name", GoKind::String), ("Driver", GoKind::String)];
        let t = Template::parse(
            "{{range .Mounts}}{{.Type}}|{{.Name}}|{{.Driver}}|{{if eq .Name \"\"}}anon{{end}};{{end}}",
            Missing::MapError,
        )
        .unwrap()
        .typed_nils(KINDS);
        assert_eq!(t.execute(&data).unwrap(), "bind|||anon;volume|v|local|;");
        let strict = Template::parse("{{range .Mounts}}{{.Nope}}{{end}}", Missing::MapError)
            .unwrap()
            .typed_nils(KINDS);
        assert!(strict.execute(&data).is_err());
    }

    #[test]
    fn unknown_field_of_a_formatter_struct_names_its_type() {
        let row = json!({"ID": "x", "Config": {"Cmd": null}});
        let t = |f: &str| {
            Template::parse(f, Missing::Error)
                .unwrap()
                .on_struct("*formatter.imageContext")
                .execute(&row)
        };
        assert_eq!(
            t("{{.Nope}}").unwrap_err().to_string(),
            "template parsing error: template: :1:2: executing \"\" at <.Nope>: can't evaluate field Nope in type *formatter.imageContext"
        );
        assert_eq!(t("{{.ID}}").unwrap(), "x");
        // Inside a field the row's own keys are not the struct's.
        assert!(
            t("{{.Config.Nope}}")
                .unwrap_err()
                .to_string()
                .contains("the fields are")
        );
    }

    #[test]
    fn absent_string_field_prints_empty() {
        const KINDS: NilKinds = &[("Variant", GoKind::String)];
        let t = Template::parse(
            "{{.Os}}|{{.Variant}}|{{json .Variant}}|{{printf \"%q\" .Variant}}",
            Missing::MapError,
        )
        .unwrap()
        .typed_nils(KINDS);
        assert_eq!(
            t.execute(&json!({"Os": "linux"})).unwrap(),
            "linux||\"\"|\"\""
        );
        assert_eq!(
            t.execute(&json!({"Os": "linux", "Variant": "v8"})).unwrap(),
            "linux|v8|\"v8\"|\"v8\""
        );
    }

    #[test]
    fn lists_fields() {
        let t = Template::parse("{{.ID}} {{json .Size}} {{.Config.Cmd}}", Missing::Error).unwrap();
        assert_eq!(t.fields(), vec!["ID", "Size", "Config"]);
        let t = Template::parse(
            "{{if .A}}{{.B}}{{end}}{{range .C}}{{.Inner}}{{end}}{{printf \"%s\" (lower .D)}}",
            Missing::Error,
        )
        .unwrap();
        assert_eq!(t.fields(), vec!["A", "B", "C", "D"]);
    }
}
