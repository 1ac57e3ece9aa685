//! `--log-driver` and `--log-opt`: where a container's output goes. strata has Docker's
//! three local drivers: `json-file` (the default; one file unless `max-size` says to
//! rotate), `local` (rotated by default: 20 MB, 5 files, as Docker's) and `none` (nothing
//! kept; `logs` refuses). Both keeping drivers write the same JSON lines, which only
//! strata reads (Docker's `local` format is its daemon's private affair too). Other
//! drivers ship logs to services and are refused, naming the ones there are.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::RuntimeError;

/// `HostConfig.LogConfig`: the driver and its options, as given.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct LogConfig {
    /// `json-file`, `local` or `none`.
    #[serde(rename = "Type")]
    pub driver: String,
    /// `--log-opt KEY=VALUE`.
    pub config: BTreeMap<String, String>,
}

impl Default for LogConfig {
    fn default() -> LogConfig {
        LogConfig {
            driver: "json-file".into(),
            config: BTreeMap::new(),
        }
    }
}

/// What the log writer does with a container's output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rotation {
    /// Whether output is kept at all (`none` keeps nothing).
    pub keep: bool,
    /// Rotate once the file would pass this many bytes.
    pub max_size: Option<u64>,
    /// How many files in all, the current one included.
    pub max_files: u32,
}

/// Docker's other drivers, which send logs elsewhere: named in the refusal.
const REMOTE: [&str; 9] = [
    "syslog",
    "journald",
    "gelf",
    "fluentd",
    "awslogs",
    "splunk",
    "etwlogs",
    "gcplogs",
    "logentries",
];

/// The options each driver takes (Docker's lists; the ones about labels, environment and
/// tags are accepted and have nothing to add to a local file).
fn known_options(driver: &str) -> &'static [&'static str] {
    match driver {
        "json-file" => &[
            "max-size",
            "max-file",
            "compress",
            "labels",
            "labels-regex",
            "env",
            "env-regex",
            "tag",
        ],
        "local" => &["max-size", "max-file", "compress"],
        _ => &[],
    }
}

impl LogConfig {
    /// From `--log-driver` and `--log-opt` values (each `KEY=VALUE`), checked as Docker's
    /// daemon checks them at create.
    pub fn parse(driver: Option<&str>, opts: &[String]) -> Result<LogConfig, RuntimeError> {
        let driver = driver.unwrap_or("json-file").to_string();
        let bad = |m: String| RuntimeError::InvalidOptions(m);
        if REMOTE.contains(&driver.as_str()) {
            return Err(bad(format!(
                "log driver {driver} sends logs to a service strata does not talk to: use \
                 json-file, local or none"
            )));
        }
        if !["json-file", "local", "none"].contains(&driver.as_str()) {
            return Err(bad(format!(
                "logger: no log driver named '{driver}' is registered"
            )));
        }
        let mut config = BTreeMap::new();
        for o in opts {
            let (k, v) = o
                .split_once('=')
                .ok_or_else(|| bad(format!("invalid key value pair format in log-opt: {o}")))?;
            if !known_options(&driver).contains(&k) {
                return Err(bad(format!(
                    "unknown log opt '{k}' for {driver} log driver"
                )));
            }
            config.insert(k.to_string(), v.to_string());
        }
        let c = LogConfig { driver, config };
        c.rotation()?;
        Ok(c)
    }

    /// How the writer keeps the output; a bad `max-size`/`max-file` is refused.
    pub fn rotation(&self) -> Result<Rotation, RuntimeError> {
        let bad = |m: String| RuntimeError::InvalidOptions(m);
        if self.driver == "none" {
            return Ok(Rotation {
                keep: false,
                max_size: None,
                max_files: 1,
            });
        }
        let local = self.driver == "local";
        let max_size = match self.config.get("max-size").map(String::as_str) {
            // Docker's "no limit".
            Some("-1") => None,
            Some(v) => Some(
                crate::ram_in_bytes(v)
                    .map(|n| n as u64)
                    .ok_or_else(|| bad(format!("invalid max-size: {v}")))?,
            ),
            None if local => Some(20 << 20),
            None => None,
        };
        let max_files = match self.config.get("max-file") {
            Some(v) => match v.parse::<u32>() {
                Ok(n) if n >= 1 => n,
                _ => return Err(bad(format!("invalid value for max-file: {v}"))),
            },
            None if local => 5,
            None => 1,
        };
        if max_files > 1 && max_size.is_none() {
            return Err(bad("max-file cannot be set without max-size".into()));
        }
        Ok(Rotation {
            keep: true,
            // `max-size=0` is no limit too.
            max_size: max_size.filter(|&s| s > 0),
            max_files,
        })
    }

    /// Whether `logs` can read what this driver keeps.
    pub fn readable(&self) -> bool {
        self.driver != "none"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn drivers_and_options_as_docker_checks_them() {
        let r = |d: Option<&str>, o: &[&str]| {
            LogConfig::parse(d, &opts(o))
                .and_then(|c| c.rotation())
                .map_err(|e| e.to_string())
        };
        assert_eq!(
            r(None, &[]),
            Ok(Rotation {
                keep: true,
                max_size: None,
                max_files: 1
            })
        );
        assert_eq!(
            r(Some("local"), &[]),
            Ok(Rotation {
                keep: true,
                max_size: Some(20 << 20),
                max_files: 5
            })
        );
        assert_eq!(
            r(Some("json-file"), &["max-size=10k", "max-file=3"]),
            Ok(Rotation {
                keep: true,
                max_size: Some(10 << 10),
                max_files: 3
            })
        );
        assert_eq!(r(Some("none"), &[]).map(|r| r.keep), Ok(false));
        for (d, o, err) in [
            (
                "bogus",
                &[][..],
                "logger: no log driver named 'bogus' is registered",
            ),
            (
                "json-file",
                &["x=1"],
                "unknown log opt 'x' for json-file log driver",
            ),
            (
                "none",
                &["max-size=1m"],
                "unknown log opt 'max-size' for none log driver",
            ),
            ("json-file", &["max-size=big"], "invalid max-size: big"),
            (
                "json-file",
                &["max-file=2"],
                "max-file cannot be set without max-size",
            ),
            ("local", &["max-file=0"], "invalid value for max-file: 0"),
            (
                "json-file",
                &["novalue"],
                "invalid key value pair format in log-opt: novalue",
            ),
        ] {
            assert_eq!(r(Some(d), o), Err(err.to_string()), "{d} {o:?}");
        }
        assert!(
            r(Some("syslog"), &[])
                .unwrap_err()
                .contains("json-file, local or none")
        );
    }
}
