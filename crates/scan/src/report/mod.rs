//! Scan reports: a table for people ([`table`]), strata's own JSON ([`json`]), SARIF 2.1.0
//! for code-scanning dashboards ([`sarif`]) and a CycloneDX 1.5 VEX document ([`vex`]).
//!
//! Every report names the layer that brought each vulnerable package in and the Dockerfile
//! step (the history's `created_by`) that made the layer.

use crate::inventory::{ImageInfo, LayerInfo};
use crate::matching::{Finding, Findings};
use crate::package::{Distro, Package};

pub mod json;
pub mod sarif;
pub mod table;
pub mod vex;

/// What a report is made of.
#[derive(Debug, Clone, Copy)]
pub struct Report<'a> {
    /// The image scanned.
    pub image: &'a ImageInfo,
    /// Its operating system, when known.
    pub distro: Option<&'a Distro>,
    /// The packages scanned (findings index into it).
    pub packages: &'a [Package],
    /// What matching found.
    pub findings: &'a Findings,
    /// When the vulnerability data was last updated (RFC 3339), when known.
    pub data_date: Option<&'a str>,
}

impl<'a> Report<'a> {
    /// The package a finding is about.
    pub fn package(&self, finding: &Finding) -> &'a Package {
        &self.packages[finding.package]
    }

    /// The layer a finding's package came from, when the image says.
    pub fn layer(&self, finding: &Finding) -> Option<&'a LayerInfo> {
        self.image.layers.get(finding.layer)
    }

    /// The Dockerfile step that brought a finding's package in, when the history says.
    pub fn step(&self, finding: &Finding) -> Option<&'a str> {
        self.layer(finding).and_then(|l| l.created_by.as_deref())
    }
}

/// A Dockerfile step as history records it, shortened for one line: the classic builder's
/// `/bin/sh -c #(nop) ` and `/bin/sh -c ` prefixes, BuildKit's `RUN /bin/sh -c ` (as `RUN `)
/// and its ` # buildkit` suffix dropped, whitespace runs as one space, at most `max`
/// characters (with `…`).
pub fn short_step(created_by: &str, max: usize) -> String {
    let mut s = created_by.trim();
    s = s.strip_suffix("# buildkit").unwrap_or(s).trim_end();
    let run;
    if let Some(rest) = s.strip_prefix("/bin/sh -c #(nop) ") {
        s = rest;
    } else if let Some(rest) = s.strip_prefix("/bin/sh -c ") {
        run = format!("RUN {rest}");
        s = &run;
    } else if let Some(rest) = s.strip_prefix("RUN /bin/sh -c ") {
        run = format!("RUN {rest}");
        s = &run;
    }
    let s = s.split_whitespace().collect::<Vec<_>>().join(" ");
    truncate(&s, max)
}

/// `s` cut to at most `max` characters, ending in `…` when cut.
pub fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_owned();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_are_shortened() {
        assert_eq!(
            short_step("/bin/sh -c #(nop)  CMD [\"bash\"]", 40),
            "CMD [\"bash\"]"
        );
        assert_eq!(
            short_step(
                "RUN /bin/sh -c apt-get update &&     apt-get install -y curl # buildkit",
                20
            ),
            "RUN apt-get update …"
        );
        assert_eq!(
            short_step("/bin/sh -c apt-get update", 40),
            "RUN apt-get update"
        );
        assert_eq!(truncate("abc", 3), "abc");
    }
}
