//! `--restart`: the policy, Docker's validation of it, and the monitor's decision whether
//! to start an exited container again (`restartmanager` in moby).

use serde::{Deserialize, Serialize};

use crate::RuntimeError;

/// `HostConfig.RestartPolicy`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RestartPolicy {
    /// `no`, `always`, `unless-stopped`, `on-failure` (or `""`, which Docker keeps as
    /// given and treats as `no`).
    pub name: String,
    /// `on-failure:N`: at most N restarts (0: no limit).
    pub maximum_retry_count: u32,
}

impl Default for RestartPolicy {
    fn default() -> RestartPolicy {
        RestartPolicy {
            name: "no".into(),
            maximum_retry_count: 0,
        }
    }
}

impl RestartPolicy {
    /// Parses `--restart NAME[:N]` as the CLI does (only the count's syntax), then
    /// validates it as the daemon does; messages are Docker's.
    pub fn parse(s: &str) -> Result<RestartPolicy, RuntimeError> {
        let bad = |m: &str| RuntimeError::InvalidOptions(m.to_string());
        let (name, count) = match s.split_once(':') {
            Some((name, n)) => {
                let n: i64 = n
                    .parse()
                    .map_err(|_| bad("maximum retry count must be an integer"))?;
                (name, Some(n))
            }
            None => (s, None),
        };
        match (name, count) {
            ("" | "no" | "always" | "unless-stopped", Some(_)) => Err(bad(&format!(
                "maximum retry count cannot be used with restart policy '{name}'"
            ))),
            ("on-failure", Some(n)) if n < 0 => Err(bad("maximum retry count cannot be negative")),
            ("" | "no" | "always" | "unless-stopped" | "on-failure", n) => Ok(RestartPolicy {
                name: name.to_string(),
                maximum_retry_count: n.unwrap_or(0).clamp(0, u32::MAX.into()) as u32,
            }),
            _ => Err(bad(&format!("invalid restart policy '{name}'"))),
        }
    }

    /// Whether the policy restarts at all (`--rm` conflicts with one that does).
    pub fn is_some(&self) -> bool {
        !matches!(self.name.as_str(), "" | "no")
    }

    /// Whether the monitor starts the container again after it exited with `code`,
    /// having restarted it `restarts` times so far; never once the user stopped or
    /// killed it (`stopped_by_user`).
    pub fn should_restart(&self, code: i32, restarts: u32, stopped_by_user: bool) -> bool {
        if stopped_by_user {
            return false;
        }
        match self.name.as_str() {
            "always" | "unless-stopped" => true,
            "on-failure" => {
                code != 0 && (self.maximum_retry_count == 0 || restarts < self.maximum_retry_count)
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn restart_policies_validate_as_docker_does() {
        for (s, name, n) in [
            ("no", "no", 0),
            ("", "", 0),
            ("always", "always", 0),
            ("unless-stopped", "unless-stopped", 0),
            ("on-failure", "on-failure", 0),
            ("on-failure:3", "on-failure", 3),
            ("on-failure:0", "on-failure", 0),
        ] {
            let p = RestartPolicy::parse(s).unwrap();
            assert_eq!((p.name.as_str(), p.maximum_retry_count), (name, n), "{s}");
        }
        for (s, msg) in [
            ("sometimes", "invalid restart policy 'sometimes'"),
            (
                "always:3",
                "maximum retry count cannot be used with restart policy 'always'",
            ),
            (
                "no:1",
                "maximum retry count cannot be used with restart policy 'no'",
            ),
            ("on-failure:-1", "maximum retry count cannot be negative"),
            ("on-failure:x", "maximum retry count must be an integer"),
            ("on-failure:", "maximum retry count must be an integer"),
        ] {
            assert_eq!(RestartPolicy::parse(s).unwrap_err().to_string(), msg, "{s}");
        }
    }

    #[test]
    fn restart_decisions_follow_the_policy() {
        let p = |s| RestartPolicy::parse(s).unwrap();
        assert!(!p("no").should_restart(1, 0, false));
        assert!(p("always").should_restart(0, 99, false));
        assert!(!p("always").should_restart(0, 0, true));
        assert!(!p("on-failure").should_restart(0, 0, false));
        assert!(p("on-failure").should_restart(3, 1000, false));
        assert!(p("on-failure:2").should_restart(3, 1, false));
        assert!(!p("on-failure:2").should_restart(3, 2, false));
        assert!(!p("unless-stopped").should_restart(1, 0, true));
    }
}
