//! How severe a vulnerability is, in Trivy's five ratings.
//!
//! Sources, first found wins:
//! 1. the `affected[]` entry's `severity` (the schema: package-level severity replaces the
//!    top-level one), then the record's top-level `severity`; in each, a `CVSS_V3` vector
//!    first (what NVD and Trivy show), then `CVSS_V4`, then `CVSS_V2`, scored with the
//!    `cvss` crate and rated by CVSS's qualitative scale (v2 has no Critical: 7.0-10.0 is
//!    High); then an `Ubuntu` priority;
//! 2. the record's `database_specific.severity` (GHSA: `CRITICAL`, `HIGH`, `MODERATE` (→
//!    MEDIUM), `LOW`);
//! 3. the `affected[]` entry's `ecosystem_specific.severity` or `database_specific.severity`,
//!    then Debian's `ecosystem_specific.urgency` (`unimportant` and `low` → LOW, `medium`,
//!    `high`; `not yet assigned` and `end-of-life` → UNKNOWN);
//! 4. else UNKNOWN.
//!
//! A CVSS score of 0.0 (CVSS's "None") rates LOW: the record still says it is a
//! vulnerability.

use std::fmt;
use std::str::FromStr;

use osv::schema::{Affected, SeverityType, Vulnerability};

/// A severity rating, ordered from least to most severe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// No source rated it.
    Unknown,
    /// Low.
    Low,
    /// Medium (GHSA's "moderate").
    Medium,
    /// High.
    High,
    /// Critical.
    Critical,
}

impl Severity {
    /// Every rating, most severe first.
    pub const ALL: [Severity; 5] = [
        Severity::Critical,
        Severity::High,
        Severity::Medium,
        Severity::Low,
        Severity::Unknown,
    ];

    /// The rating as Trivy writes it (`CRITICAL`, ..., `UNKNOWN`).
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Unknown => "UNKNOWN",
            Severity::Low => "LOW",
            Severity::Medium => "MEDIUM",
            Severity::High => "HIGH",
            Severity::Critical => "CRITICAL",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A word that is no severity rating.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown severity {0:?}: use CRITICAL, HIGH, MEDIUM, LOW or UNKNOWN")]
pub struct BadSeverity(pub String);

impl FromStr for Severity {
    type Err = BadSeverity;

    /// Any case; `MODERATE` (GHSA) and `IMPORTANT` (Red Hat) are accepted as MEDIUM and HIGH,
    /// `NEGLIGIBLE` (Ubuntu) as LOW.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_uppercase().as_str() {
            "CRITICAL" => Ok(Severity::Critical),
            "HIGH" | "IMPORTANT" => Ok(Severity::High),
            "MEDIUM" | "MODERATE" => Ok(Severity::Medium),
            "LOW" | "NEGLIGIBLE" => Ok(Severity::Low),
            "UNKNOWN" => Ok(Severity::Unknown),
            _ => Err(BadSeverity(s.to_owned())),
        }
    }
}

/// Which CVSS version a vector is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CvssVersion {
    /// CVSS 2.0.
    V2,
    /// CVSS 3.0.
    V30,
    /// CVSS 3.1.
    V31,
    /// CVSS 4.0.
    V4,
}

/// A rating and where it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Rating {
    /// The rating.
    pub severity: Severity,
    /// The CVSS base score, when a vector gave the rating.
    pub score: Option<f64>,
    /// The CVSS vector, when one gave the rating.
    pub vector: Option<String>,
    /// The vector's CVSS version.
    pub cvss: Option<CvssVersion>,
    /// Where the rating came from (`CVSS_V3`, `database_specific.severity`,
    /// `ecosystem_specific.urgency`, `none`), for reports.
    pub source: &'static str,
}

impl Rating {
    fn word(severity: Severity, source: &'static str) -> Rating {
        Rating {
            severity,
            score: None,
            vector: None,
            cvss: None,
            source,
        }
    }
}

/// Scores a CVSS vector (v2 without prefix, `CVSS:3.0/`, `CVSS:3.1/`, `CVSS:4.0/`).
pub fn cvss(vector: &str) -> Result<(f64, Severity, CvssVersion), String> {
    let parsed: cvss::Cvss = vector
        .parse()
        .map_err(|e| format!("bad CVSS vector {vector:?}: {e}"))?;
    let version = match parsed {
        cvss::Cvss::CvssV20(_) => CvssVersion::V2,
        cvss::Cvss::CvssV30(_) => CvssVersion::V30,
        cvss::Cvss::CvssV31(_) => CvssVersion::V31,
        cvss::Cvss::CvssV40(_) => CvssVersion::V4,
        _ => return Err(format!("unsupported CVSS version in {vector:?}")),
    };
    let severity = match parsed.severity() {
        cvss::Severity::Critical => Severity::Critical,
        cvss::Severity::High => Severity::High,
        cvss::Severity::Medium => Severity::Medium,
        cvss::Severity::Low | cvss::Severity::None => Severity::Low,
    };
    Ok((parsed.score(), severity, version))
}

/// Rates `record` for the package `affected` (the entry that matched, if any).
pub fn rate(record: &Vulnerability, affected: Option<&Affected>) -> Rating {
    let lists = [
        affected.and_then(|a| a.severity.as_deref()),
        record.severity.as_deref(),
    ];
    for list in lists.into_iter().flatten() {
        if let Some(rating) = from_list(list) {
            return rating;
        }
    }
    let word = |value: Option<&serde_json::Value>, key: &str| {
        value
            .and_then(|v| v.get(key))
            .and_then(|s| s.as_str())
            .map(|s| s.to_owned())
    };
    if let Some(s) = word(record.database_specific.as_ref(), "severity")
        && let Ok(sev) = s.parse()
    {
        return Rating::word(sev, "database_specific.severity");
    }
    if let Some(a) = affected {
        for (value, source) in [
            (a.ecosystem_specific.as_ref(), "ecosystem_specific.severity"),
            (
                a.database_specific.as_ref(),
                "affected.database_specific.severity",
            ),
        ] {
            if let Some(s) = word(value, "severity")
                && let Ok(sev) = s.parse()
            {
                return Rating::word(sev, source);
            }
        }
        if let Some(u) = word(a.ecosystem_specific.as_ref(), "urgency") {
            return Rating::word(debian_urgency(&u), "ecosystem_specific.urgency");
        }
    }
    Rating::word(Severity::Unknown, "none")
}

/// Debian's security tracker urgency as a rating.
pub fn debian_urgency(urgency: &str) -> Severity {
    // Urgencies may carry a `**` suffix (set by hand) in the tracker's data.
    match urgency.trim_end_matches('*').trim() {
        "unimportant" | "low" => Severity::Low,
        "medium" => Severity::Medium,
        "high" => Severity::High,
        _ => Severity::Unknown,
    }
}

/// The best rating in one `severity` list: CVSS v3, then v4, then v2, then Ubuntu's.
fn from_list(list: &[osv::schema::Severity]) -> Option<Rating> {
    let of = |want: fn(&SeverityType) -> bool| list.iter().find(|s| want(&s.severity_type));
    let vectors = [
        (of(|t| matches!(t, SeverityType::CVSSv3)), "CVSS_V3"),
        (of(|t| matches!(t, SeverityType::CVSSv4)), "CVSS_V4"),
        (of(|t| matches!(t, SeverityType::CVSSv2)), "CVSS_V2"),
    ];
    for (entry, source) in vectors {
        if let Some(entry) = entry
            && let Ok((score, severity, version)) = cvss(&entry.score)
        {
            return Some(Rating {
                severity,
                score: Some(score),
                vector: Some(entry.score.clone()),
                cvss: Some(version),
                source,
            });
        }
    }
    let ubuntu = of(|t| matches!(t, SeverityType::Ubuntu))?;
    let severity = ubuntu.score.parse().ok()?;
    Some(Rating::word(severity, "Ubuntu"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_parse_in_any_case_with_aliases() {
        assert_eq!("moderate".parse(), Ok(Severity::Medium));
        assert_eq!("High".parse(), Ok(Severity::High));
        assert!(
            "severe"
                .parse::<Severity>()
                .unwrap_err()
                .to_string()
                .contains("CRITICAL")
        );
        assert!(Severity::Critical > Severity::High && Severity::Low > Severity::Unknown);
    }

    /// Scores from the CVSS specifications' own examples (v3.1 section 7.4 table, v2 guide
    /// section 3.3.1, v4.0 calculator), and the qualitative scale's bounds.
    #[test]
    fn cvss_vectors_score_and_rate() {
        let cases = [
            (
                "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
                9.8,
                Severity::Critical,
            ),
            (
                "CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:C/C:H/I:N/A:N",
                6.8,
                Severity::Medium,
            ),
            (
                "CVSS:3.0/AV:L/AC:L/PR:L/UI:N/S:U/C:N/I:N/A:N",
                0.0,
                Severity::Low,
            ),
            ("AV:N/AC:L/Au:N/C:C/I:C/A:C", 10.0, Severity::High),
            ("AV:N/AC:L/Au:N/C:N/I:N/A:C", 7.8, Severity::High),
        ];
        for (vector, score, severity) in cases {
            let (s, sev, _) = cvss(vector).unwrap();
            assert_eq!((s, sev), (score, severity), "{vector}");
        }
        assert!(cvss("CVSS:3.1/AV:X").is_err());
    }

    #[test]
    fn debian_urgencies() {
        assert_eq!(debian_urgency("unimportant"), Severity::Low);
        assert_eq!(debian_urgency("high**"), Severity::High);
        assert_eq!(debian_urgency("not yet assigned"), Severity::Unknown);
    }
}
