//! `--ulimit name=soft[:hard]`: parsed and checked with Docker's words (go-units
//! `ParseUlimit`), and turned into the spec's `process.rlimits`.

use serde::{Deserialize, Serialize};

use super::Rlimit;

/// One `--ulimit`, as Docker keeps it (`HostConfig.Ulimits`: `Name`, `Hard`, `Soft`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Ulimit {
    /// `nofile`, `nproc`, … (see [`NAMES`]).
    pub name: String,
    /// Hard limit; -1 is unlimited.
    pub hard: i64,
    /// Soft limit; -1 is unlimited.
    pub soft: i64,
}

/// The names `--ulimit` takes and their `setrlimit` resource, as Docker maps them.
pub const NAMES: [(&str, &str); 15] = [
    ("core", "RLIMIT_CORE"),
    ("cpu", "RLIMIT_CPU"),
    ("data", "RLIMIT_DATA"),
    ("fsize", "RLIMIT_FSIZE"),
    ("locks", "RLIMIT_LOCKS"),
    ("memlock", "RLIMIT_MEMLOCK"),
    ("msgqueue", "RLIMIT_MSGQUEUE"),
    ("nice", "RLIMIT_NICE"),
    ("nofile", "RLIMIT_NOFILE"),
    ("nproc", "RLIMIT_NPROC"),
    ("rss", "RLIMIT_RSS"),
    ("rtprio", "RLIMIT_RTPRIO"),
    ("rttime", "RLIMIT_RTTIME"),
    ("sigpending", "RLIMIT_SIGPENDING"),
    ("stack", "RLIMIT_STACK"),
];

/// A base-10 `i64` with Go's `strconv.ParseInt` error text, which Docker's flag
/// messages carry (`--ulimit`, `--cpu-shares`).
pub fn parse_int(s: &str) -> Result<i64, String> {
    s.parse::<i64>().map_err(|e| {
        let why = match e.kind() {
            std::num::IntErrorKind::PosOverflow | std::num::IntErrorKind::NegOverflow => {
                "value out of range"
            }
            _ => "invalid syntax",
        };
        format!("strconv.ParseInt: parsing \"{s}\": {why}")
    })
}

/// Parses `name=soft[:hard]` (hard defaults to soft); the error is Docker's text.
pub fn parse_ulimit(val: &str) -> Result<Ulimit, String> {
    let Some((name, limits)) = val.split_once('=') else {
        return Err(format!("invalid ulimit argument: {val}"));
    };
    if !NAMES.iter().any(|(n, _)| *n == name) {
        return Err(format!("invalid ulimit type: {name}"));
    }
    let parts: Vec<&str> = limits.split(':').collect();
    let (soft, hard) = match parts[..] {
        [soft] => {
            let soft = parse_int(soft)?;
            (soft, soft)
        }
        [soft, hard] => {
            // Docker parses the hard limit first, so its error wins.
            let hard = parse_int(hard)?;
            (parse_int(soft)?, hard)
        }
        _ => {
            return Err(format!(
                "too many limit value arguments - {limits}, can only have up to two, `soft[:hard]`"
            ));
        }
    };
    if hard != -1 && soft > hard {
        return Err(format!(
            "ulimit soft limit must be less than or equal to hard limit: {soft} > {hard}"
        ));
    }
    Ok(Ulimit {
        name: name.to_string(),
        hard,
        soft,
    })
}

/// The `--ulimit` list as Docker's CLI keeps it (`UlimitOpt`): one per name, the last
/// given, sorted by name (what `HostConfig.Ulimits` shows).
pub fn normalize(ulimits: &[Ulimit]) -> Vec<Ulimit> {
    let by_name: std::collections::BTreeMap<&str, &Ulimit> =
        ulimits.iter().map(|u| (u.name.as_str(), u)).collect();
    by_name.into_values().cloned().collect()
}

/// The spec's rlimits: `RLIMIT_NOFILE` at `nofile` (the engine's default), then each
/// `--ulimit`, a later one replacing an earlier one of the same resource. -1 becomes
/// `RLIM_INFINITY`, as Docker's `uint64(-1)` does.
pub fn rlimits(nofile: u64, ulimits: &[Ulimit]) -> Vec<Rlimit> {
    let mut out = vec![Rlimit {
        kind: "RLIMIT_NOFILE".into(),
        hard: nofile,
        soft: nofile,
    }];
    for u in ulimits {
        let Some((_, kind)) = NAMES.iter().find(|(n, _)| *n == u.name) else {
            continue;
        };
        let r = Rlimit {
            kind: kind.to_string(),
            hard: u.hard as u64,
            soft: u.soft as u64,
        };
        match out.iter_mut().find(|o| o.kind == r.kind) {
            Some(o) => *o = r,
            None => out.push(r),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Regression (ulimit_nofile): strata had no `--ulimit`.
    #[test]
    fn parses_and_refuses_like_docker() {
        let ok = |name: &str, soft, hard| {
            Ok(Ulimit {
                name: name.into(),
                hard,
                soft,
            })
        };
        for (arg, want) in [
            ("nofile=512:1024", ok("nofile", 512, 1024)),
            ("nofile=512", ok("nofile", 512, 512)),
            ("nproc=10:-1", ok("nproc", 10, -1)),
            ("core=-1", ok("core", -1, -1)),
            (
                "nofile",
                Err("invalid ulimit argument: nofile".to_string()),
            ),
            ("foo=1", Err("invalid ulimit type: foo".into())),
            (
                "nofile=x",
                Err("strconv.ParseInt: parsing \"x\": invalid syntax".into()),
            ),
            (
                "nofile=y:x",
                Err("strconv.ParseInt: parsing \"x\": invalid syntax".into()),
            ),
            (
                "nofile=1:2:3",
                Err("too many limit value arguments - 1:2:3, can only have up to two, `soft[:hard]`".into()),
            ),
            (
                "nofile=2048:1024",
                Err("ulimit soft limit must be less than or equal to hard limit: 2048 > 1024".into()),
            ),
        ] {
            assert_eq!(parse_ulimit(arg), want, "{arg}");
        }
    }

    /// Regression: `--ulimit nproc=5 --ulimit nofile=1 --ulimit nproc=6` kept all three in
    /// the order given; Docker keeps the last per name, sorted by name.
    #[test]
    fn one_ulimit_per_name_sorted_like_docker() {
        let u = |s: &str| parse_ulimit(s).unwrap();
        assert_eq!(
            normalize(&[u("nproc=5"), u("nofile=1"), u("nproc=6"), u("core=0")]),
            [u("core=0"), u("nofile=1"), u("nproc=6")]
        );
    }

    #[test]
    fn integers_fail_with_gos_words() {
        assert_eq!(parse_int("-5"), Ok(-5));
        assert_eq!(
            parse_int("99999999999999999999").unwrap_err(),
            "strconv.ParseInt: parsing \"99999999999999999999\": value out of range"
        );
        assert_eq!(
            parse_int("").unwrap_err(),
            "strconv.ParseInt: parsing \"\": invalid syntax"
        );
    }

    #[test]
    fn ulimits_replace_the_default_nofile_and_add_the_rest() {
        let u = |s: &str| parse_ulimit(s).unwrap();
        let got = rlimits(1 << 20, &[u("nofile=512:1024"), u("nproc=5"), u("core=-1")]);
        let r = |k: &str, soft, hard| Rlimit {
            kind: k.into(),
            hard,
            soft,
        };
        assert_eq!(
            got,
            [
                r("RLIMIT_NOFILE", 512, 1024),
                r("RLIMIT_NPROC", 5, 5),
                r("RLIMIT_CORE", u64::MAX, u64::MAX),
            ]
        );
        assert_eq!(rlimits(7, &[]), [r("RLIMIT_NOFILE", 7, 7)]);
    }
}
