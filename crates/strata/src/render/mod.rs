//! Docker-style output: tables through Go's tabwriter settings, `--format` templates,
//! `--format json`, human sizes and ages, short IDs.

pub mod template;
pub mod units;

use std::io::Write;

use anyhow::Context as _;
use serde_json::{Map, Value};
use tabwriter::TabWriter;

pub use template::{Missing, Template};
pub use units::{created_since, go_time, human_size};

/// How a listing is printed.
#[derive(Debug, Clone, PartialEq)]
pub enum OutputFormat {
    /// Aligned columns with a header row (`table ...`, or the default).
    Table(Template),
    /// One template execution per row, no header, no alignment.
    Plain(Template),
    /// One JSON object per row (`--format json`).
    Json,
}

impl OutputFormat {
    /// Reads a `--format` value: empty or `table` → `default_table`, `table X` → a table of X,
    /// `json` → JSON lines, anything else → a plain template.
    pub fn parse(
        arg: Option<&str>,
        default_table: &str,
    ) -> Result<OutputFormat, template::TemplateError> {
        let arg = arg.unwrap_or("").trim();
        if arg.is_empty() || arg == "table" {
            return Ok(OutputFormat::Table(Template::parse(
                default_table,
                Missing::Error,
            )?));
        }
        if arg == "json" {
            return Ok(OutputFormat::Json);
        }
        if let Some(rest) = arg.strip_prefix("table ") {
            return Ok(OutputFormat::Table(Template::parse(
                rest.trim(),
                Missing::Error,
            )?));
        }
        Ok(OutputFormat::Plain(Template::parse(arg, Missing::Error)?))
    }
}

impl OutputFormat {
    /// Names the Go struct Docker's formatter runs the template on, for its error texts
    /// (see [`Template::on_struct`]).
    pub fn on_struct(self, name: &'static str) -> OutputFormat {
        match self {
            OutputFormat::Table(t) => OutputFormat::Table(t.on_struct(name)),
            OutputFormat::Plain(t) => OutputFormat::Plain(t.on_struct(name)),
            OutputFormat::Json => OutputFormat::Json,
        }
    }
}

/// A tabwriter configured like Docker's `tabwriter.NewWriter(out, 10, 1, 3, ' ', 0)`.
///
/// Go pads a cell to `max(minwidth, width + padding)`; the Rust crate to
/// `max(minwidth, width) + padding`, so the minimum width is given net of the padding.
pub fn docker_tabwriter<W: Write>(out: W) -> TabWriter<W> {
    TabWriter::new(out).minwidth(10 - 3).padding(3)
}

/// Prints `rows` in `format`. `headers` maps field names to column titles (`ID` → `IMAGE ID`);
/// fields without one are titled by their upper-cased name.
pub fn write_rows(
    out: &mut dyn Write,
    format: &OutputFormat,
    headers: &[(&str, &str)],
    rows: &[Value],
) -> anyhow::Result<()> {
    match format {
        OutputFormat::Json => {
            for row in rows {
                writeln!(out, "{}", serde_json::to_string(row)?)?;
            }
        }
        OutputFormat::Plain(t) => {
            for row in rows {
                writeln!(out, "{}", t.execute(row)?)?;
            }
        }
        OutputFormat::Table(t) => {
            let mut header = Map::new();
            let named = match rows.first() {
                Some(Value::Object(first)) => first.keys().cloned().collect(),
                // Without rows, titles for the fields the template names.
                _ => t.fields(),
            };
            for k in named {
                header.insert(k.clone(), Value::String(k.to_uppercase()));
            }
            for (field, title) in headers {
                header.insert(field.to_string(), Value::String(title.to_string()));
            }
            let mut tw = docker_tabwriter(Vec::new());
            writeln!(tw, "{}", t.execute(&Value::Object(header))?)?;
            for row in rows {
                writeln!(tw, "{}", t.execute(row)?)?;
            }
            let bytes = tw.into_inner().context("aligning the table")?;
            out.write_all(&bytes)?;
        }
    }
    Ok(())
}

/// An image ID as tables show it: 12 hex characters, or the full `sha256:…` with `--no-trunc`.
pub fn image_id(digest: &oci::Digest, no_trunc: bool) -> String {
    if no_trunc {
        digest.to_string()
    } else {
        digest.short().to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn render(format: Option<&str>, rows: &[Value]) -> String {
        let f = OutputFormat::parse(format, "{{.Repository}}\t{{.Tag}}\t{{.ID}}").unwrap();
        let mut out = Vec::new();
        write_rows(&mut out, &f, &[("ID", "IMAGE ID")], rows).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn tables_align_like_docker() {
        let rows = [
            json!({"Repository": "alpine", "Tag": "latest", "ID": "0123456789ab"}),
            json!({"Repository": "localhost:5000/app", "Tag": "v1", "ID": "ba9876543210"}),
        ];
        for (format, want) in [
            (
                None,
                "REPOSITORY           TAG       IMAGE ID\n\
                 alpine               latest    0123456789ab\n\
                 localhost:5000/app   v1        ba9876543210\n",
            ),
            (
                Some("table {{.ID}}\\t{{.Tag}}"),
                "IMAGE ID       TAG\n0123456789ab   latest\nba9876543210   v1\n",
            ),
            (
                Some("{{.Repository}}:{{.Tag}}"),
                "alpine:latest\nlocalhost:5000/app:v1\n",
            ),
            (
                Some("{{.ID}}\\t{{.Tag}}"),
                "0123456789ab\tlatest\nba9876543210\tv1\n",
            ),
            (
                Some("json"),
                "{\"Repository\":\"alpine\",\"Tag\":\"latest\",\"ID\":\"0123456789ab\"}\n\
                 {\"Repository\":\"localhost:5000/app\",\"Tag\":\"v1\",\"ID\":\"ba9876543210\"}\n",
            ),
        ] {
            assert_eq!(render(format, &rows), want, "{format:?}");
        }
    }

    #[test]
    fn empty_table_prints_header_only() {
        assert_eq!(
            render(Some("table"), &[]),
            "REPOSITORY   TAG       IMAGE ID\n"
        );
    }

    #[test]
    fn bad_field_is_an_error() {
        let f = OutputFormat::parse(Some("{{.Nope}}"), "").unwrap();
        let mut out = Vec::new();
        let err = write_rows(&mut out, &f, &[], &[json!({"ID": "x"})]).unwrap_err();
        assert!(err.to_string().contains("Nope"), "{err}");
    }
}
