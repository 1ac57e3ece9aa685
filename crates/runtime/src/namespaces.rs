//! `--ipc`, `--pid` and `--uts`: which namespaces a container shares, with Docker 20.10's
//! values and messages (`runconfig/opts`, `daemon/container_operations_unix.go`).

use serde::{Deserialize, Serialize};

use crate::RuntimeError;

/// `--ipc`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IpcMode {
    /// `private` (Docker's default): an IPC namespace and `/dev/shm` of its own.
    #[default]
    Private,
    /// `shareable`: like `private`, and other containers may join it.
    Shareable,
    /// `host`: the host's IPC namespace and `/dev/shm`.
    Host,
    /// `none`: an IPC namespace of its own and no `/dev/shm` at all.
    None,
    /// `container:NAME`: the IPC namespace and `/dev/shm` of another (running) container.
    Container(String),
}

impl IpcMode {
    /// Parses `--ipc`; an empty value is the default, as Docker takes it.
    pub fn parse(s: &str) -> Result<IpcMode, RuntimeError> {
        Ok(match s {
            "" | "private" => IpcMode::Private,
            "shareable" => IpcMode::Shareable,
            "host" => IpcMode::Host,
            "none" => IpcMode::None,
            _ => match s.strip_prefix("container:") {
                Some(c) if !c.is_empty() => IpcMode::Container(c.to_string()),
                _ => {
                    return Err(RuntimeError::InvalidOptions(format!(
                        "Invalid IPC mode: {s}"
                    )));
                }
            },
        })
    }

    /// The value of `HostConfig.IpcMode`.
    pub fn as_docker(&self) -> String {
        match self {
            IpcMode::Private => "private".into(),
            IpcMode::Shareable => "shareable".into(),
            IpcMode::Host => "host".into(),
            IpcMode::None => "none".into(),
            IpcMode::Container(c) => format!("container:{c}"),
        }
    }
}

/// `--pid`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PidMode {
    /// A PID namespace of its own (Docker's `""`).
    #[default]
    Private,
    /// `host`: the host's PID namespace.
    Host,
    /// `container:NAME`: the PID namespace of another (running) container.
    Container(String),
}

impl PidMode {
    /// Parses `--pid`, with the CLI's message for a bad value.
    pub fn parse(s: &str) -> Result<PidMode, RuntimeError> {
        Ok(match s {
            "" => PidMode::Private,
            "host" => PidMode::Host,
            _ => match s.strip_prefix("container:") {
                Some(c) if !c.is_empty() => PidMode::Container(c.to_string()),
                _ => {
                    return Err(RuntimeError::InvalidOptions(
                        "--pid: invalid PID mode".into(),
                    ));
                }
            },
        })
    }

    /// The value of `HostConfig.PidMode`.
    pub fn as_docker(&self) -> String {
        match self {
            PidMode::Private => String::new(),
            PidMode::Host => "host".into(),
            PidMode::Container(c) => format!("container:{c}"),
        }
    }
}

/// `--uts` (Docker 20.10 knows only `host`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UtsMode {
    /// A UTS namespace of its own (Docker's `""`).
    #[default]
    Private,
    /// `host`: the host's UTS namespace, hence its hostname.
    Host,
}

impl UtsMode {
    /// Parses `--uts`, with the CLI's message for a bad value.
    pub fn parse(s: &str) -> Result<UtsMode, RuntimeError> {
        match s {
            "" => Ok(UtsMode::Private),
            "host" => Ok(UtsMode::Host),
            _ => Err(RuntimeError::InvalidOptions(
                "--uts: invalid UTS mode".into(),
            )),
        }
    }

    /// The value of `HostConfig.UTSMode`.
    pub fn as_docker(&self) -> &'static str {
        match self {
            UtsMode::Private => "",
            UtsMode::Host => "host",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespace_modes_parse_as_docker_does() {
        for (s, want) in [
            ("", IpcMode::Private),
            ("private", IpcMode::Private),
            ("shareable", IpcMode::Shareable),
            ("host", IpcMode::Host),
            ("none", IpcMode::None),
            ("container:db", IpcMode::Container("db".into())),
        ] {
            let got = IpcMode::parse(s).unwrap();
            assert_eq!(got, want, "{s}");
            if !s.is_empty() {
                assert_eq!(got.as_docker(), s);
            }
        }
        for bad in ["bogus", "container:", "Host"] {
            assert_eq!(
                IpcMode::parse(bad).unwrap_err().to_string(),
                format!("Invalid IPC mode: {bad}")
            );
        }
        assert_eq!(PidMode::parse("host").unwrap(), PidMode::Host);
        assert_eq!(
            PidMode::parse("container:x").unwrap().as_docker(),
            "container:x"
        );
        assert_eq!(PidMode::parse("").unwrap().as_docker(), "");
        assert_eq!(
            PidMode::parse("bogus").unwrap_err().to_string(),
            "--pid: invalid PID mode"
        );
        assert_eq!(UtsMode::parse("host").unwrap(), UtsMode::Host);
        // Docker 20.10 has no `--uts container:X`.
        for bad in ["bogus", "container:x"] {
            assert_eq!(
                UtsMode::parse(bad).unwrap_err().to_string(),
                "--uts: invalid UTS mode"
            );
        }
    }
}
