//! os-release(5) (placeholder until the parser lands).

use crate::package::Distro;

/// The distribution an os-release text names.
pub fn parse(text: &str) -> Distro {
    let mut d = Distro::default();
    for line in text.lines() {
        if let Some((k, v)) = line.split_once('=') {
            let v = v.trim_matches('"').to_string();
            match k {
                "ID" => d.id = v,
                "VERSION_ID" => d.version_id = v,
                "VERSION_CODENAME" => d.codename = Some(v),
                "PRETTY_NAME" => d.pretty_name = v,
                _ => {}
            }
        }
    }
    d
}
