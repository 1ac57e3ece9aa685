//! `RUN --mount=type=cache|bind|tmpfs|secret|ssh,...` options, parsed as BuildKit's
//! `parseMount` does (values unexpanded).

use crate::error::suggest;
use crate::quote::go_quote;

/// A malformed `--mount` value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}{}", hint.as_ref().map(|h| format!(" ({h})")).unwrap_or_default())]
pub struct MountError {
    /// What is wrong.
    pub message: String,
    /// A suggestion, e.g. `did you mean cache?`.
    pub hint: Option<String>,
}

fn err<T>(message: impl Into<String>) -> Result<T, MountError> {
    Err(MountError {
        message: message.into(),
        hint: None,
    })
}

/// The kind of a RUN mount.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MountType {
    /// A read-only view of the context or another stage (the default).
    Bind,
    /// A persistent cache directory.
    Cache,
    /// An empty in-memory directory.
    Tmpfs,
    /// A secret file (or env variable).
    Secret,
    /// The SSH agent socket.
    Ssh,
}

impl MountType {
    /// The name used in Dockerfiles.
    pub fn as_str(self) -> &'static str {
        match self {
            MountType::Bind => "bind",
            MountType::Cache => "cache",
            MountType::Tmpfs => "tmpfs",
            MountType::Secret => "secret",
            MountType::Ssh => "ssh",
        }
    }
}

/// How concurrent builds share a cache mount.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sharing {
    /// Used by all writers at once (the default).
    Shared,
    /// Each writer gets its own copy.
    Private,
    /// One writer at a time.
    Locked,
}

/// One `--mount` of RUN.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    /// The mount type.
    pub mount_type: MountType,
    /// `from=`: a stage or image to take the source from.
    pub from: Option<String>,
    /// `source=`/`src=`: path inside `from` (or the context).
    pub source: Option<String>,
    /// `target=`/`dst=`/`destination=`: where it appears in the container.
    pub target: Option<String>,
    /// Read-only; defaults to false for cache and tmpfs, true otherwise.
    pub read_only: bool,
    /// `size=` of a tmpfs, in bytes.
    pub size_limit: Option<u64>,
    /// `id=` of a cache or secret.
    pub id: Option<String>,
    /// `sharing=` of a cache.
    pub sharing: Option<Sharing>,
    /// `required` secret or ssh socket.
    pub required: bool,
    /// `env=`: expose a secret as this environment variable.
    pub env: Option<String>,
    /// `mode=` (octal) of a cache, secret or ssh mount.
    pub mode: Option<u32>,
    /// `uid=`.
    pub uid: Option<u32>,
    /// `gid=`.
    pub gid: Option<u32>,
}

const KEYS: &[&str] = &[
    "type",
    "from",
    "source",
    "target",
    "readonly",
    "id",
    "sharing",
    "required",
    "size",
    "mode",
    "uid",
    "gid",
    "src",
    "dst",
    "destination",
    "ro",
    "rw",
    "readwrite",
    "env",
];

/// Splits a CSV record (double quotes group, `""` is a quote).
fn csv_fields(s: &str) -> Result<Vec<String>, MountError> {
    let mut fields = Vec::new();
    let mut cur = String::new();
    let mut chars = s.chars().peekable();
    let mut in_quotes = false;
    let mut field_start = true;
    while let Some(c) = chars.next() {
        match c {
            '"' if in_quotes => {
                if chars.peek() == Some(&'"') {
                    chars.next();
                    cur.push('"');
                } else {
                    in_quotes = false;
                }
            }
            '"' if field_start => in_quotes = true,
            ',' if !in_quotes => {
                fields.push(std::mem::take(&mut cur));
                field_start = true;
                continue;
            }
            c => cur.push(c),
        }
        field_start = false;
    }
    if in_quotes {
        return err(format!(
            "failed to parse csv mounts: unterminated quote in {}",
            go_quote(s)
        ));
    }
    fields.push(cur);
    Ok(fields)
}

fn parse_bool(key: &str, v: &str) -> Result<bool, MountError> {
    match v {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Ok(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Ok(false),
        _ => err(format!("invalid value for {key}: {v}")),
    }
}

/// `units.RAMInBytes`: `64m`, `1g`, `512k`, `1024` (binary multiples).
fn ram_in_bytes(v: &str) -> Option<u64> {
    let t = v.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let n: f64 = t[..split].parse().ok()?;
    let mult: u64 = match t[split..].trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        "t" | "tb" | "tib" => 1 << 40,
        "p" | "pb" | "pib" => 1 << 50,
        _ => return None,
    };
    Some((n * mult as f64) as u64)
}

impl Mount {
    /// Parses one `--mount` value such as `type=cache,target=/root/.cache,sharing=locked`.
    pub fn parse(val: &str) -> Result<Mount, MountError> {
        let mut m = Mount {
            mount_type: MountType::Bind,
            from: None,
            source: None,
            target: None,
            read_only: false,
            size_limit: None,
            id: None,
            sharing: None,
            required: false,
            env: None,
            mode: None,
            uid: None,
            gid: None,
        };
        let mut ro_auto = true;
        for field in csv_fields(val)? {
            let (key, value) = match field.split_once('=') {
                Some((k, v)) => (k.to_ascii_lowercase(), v.to_string()),
                None => {
                    match field.to_ascii_lowercase().as_str() {
                        "readonly" | "ro" => {
                            m.read_only = true;
                            ro_auto = false;
                        }
                        "readwrite" | "rw" => {
                            m.read_only = false;
                            ro_auto = false;
                        }
                        "required"
                            if matches!(m.mount_type, MountType::Secret | MountType::Ssh) =>
                        {
                            m.required = true;
                        }
                        "required" => {
                            return err(format!(
                                "unexpected key 'required' for mount type '{}'",
                                m.mount_type.as_str()
                            ));
                        }
                        _ => {
                            return err(format!(
                                "invalid field '{field}' must be a key=value pair"
                            ));
                        }
                    }
                    continue;
                }
            };
            match key.as_str() {
                "type" => {
                    m.mount_type = match value.to_ascii_lowercase().as_str() {
                        "bind" => MountType::Bind,
                        "cache" => MountType::Cache,
                        "tmpfs" => MountType::Tmpfs,
                        "secret" => MountType::Secret,
                        "ssh" => MountType::Ssh,
                        _ => {
                            let types = ["bind", "cache", "tmpfs", "secret", "ssh"];
                            return Err(MountError {
                                message: format!("unsupported mount type {}", go_quote(&value)),
                                hint: suggest(&value, &types).map(|s| format!("did you mean {s}?")),
                            });
                        }
                    }
                }
                "from" => m.from = Some(value),
                "source" | "src" => m.source = Some(value),
                "target" | "dst" | "destination" => m.target = Some(value),
                "readonly" | "ro" => {
                    m.read_only = parse_bool(&key, &value)?;
                    ro_auto = false;
                }
                "readwrite" | "rw" => {
                    m.read_only = !parse_bool(&key, &value)?;
                    ro_auto = false;
                }
                "required" => {
                    if !matches!(m.mount_type, MountType::Secret | MountType::Ssh) {
                        return err(format!(
                            "unexpected key 'required' for mount type '{}'",
                            m.mount_type.as_str()
                        ));
                    }
                    m.required = parse_bool(&key, &value)?;
                }
                "size" => {
                    if m.mount_type != MountType::Tmpfs {
                        return err(format!(
                            "unexpected key 'size' for mount type '{}'",
                            m.mount_type.as_str()
                        ));
                    }
                    m.size_limit = Some(ram_in_bytes(&value).ok_or_else(|| MountError {
                        message: format!("invalid value for size: {value}"),
                        hint: None,
                    })?);
                }
                "id" => m.id = Some(value),
                "sharing" => {
                    m.sharing = Some(match value.to_ascii_lowercase().as_str() {
                        "shared" => Sharing::Shared,
                        "private" => Sharing::Private,
                        "locked" => Sharing::Locked,
                        _ => {
                            let modes = ["shared", "private", "locked"];
                            return Err(MountError {
                                message: format!("unsupported sharing value {}", go_quote(&value)),
                                hint: suggest(&value, &modes).map(|s| format!("did you mean {s}?")),
                            });
                        }
                    })
                }
                "mode" => {
                    m.mode = Some(u32::from_str_radix(&value, 8).map_err(|_| MountError {
                        message: format!("invalid value {value} for mode"),
                        hint: None,
                    })?)
                }
                "uid" => {
                    m.uid = Some(value.parse().map_err(|_| MountError {
                        message: format!("invalid value {value} for uid"),
                        hint: None,
                    })?)
                }
                "gid" => {
                    m.gid = Some(value.parse().map_err(|_| MountError {
                        message: format!("invalid value {value} for gid"),
                        hint: None,
                    })?)
                }
                "env" => m.env = Some(value),
                _ => {
                    return Err(MountError {
                        message: format!("unexpected key '{key}' in '{field}'"),
                        hint: suggest(&key, KEYS).map(|s| format!("did you mean {s}?")),
                    });
                }
            }
        }
        let file_info = matches!(
            m.mount_type,
            MountType::Secret | MountType::Ssh | MountType::Cache
        );
        if !file_info {
            let t = go_quote(m.mount_type.as_str());
            if m.mode.is_some() {
                return err(format!("mode not allowed for {t} type mounts"));
            }
            if m.uid.is_some() {
                return err(format!("uid not allowed for {t} type mounts"));
            }
            if m.gid.is_some() {
                return err(format!("gid not allowed for {t} type mounts"));
            }
        }
        if ro_auto {
            m.read_only = !matches!(m.mount_type, MountType::Cache | MountType::Tmpfs);
        }
        if m.mount_type == MountType::Secret {
            if m.from.is_some() {
                return err("secret mount should not have a from");
            }
            if m.sharing.is_some() {
                return err("secret mount should not define sharing");
            }
            if m.source.is_none() && m.target.is_none() && m.id.is_none() {
                return err("invalid secret mount. one of source, target required");
            }
            if m.source.is_some() && m.id.is_some() {
                return err("both source and id can't be set");
            }
        }
        if m.sharing.is_some() && m.mount_type != MountType::Cache {
            return err(format!(
                "invalid cache sharing set for {} mount",
                m.mount_type.as_str()
            ));
        }
        Ok(m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_mounts() {
        let m =
            Mount::parse("type=cache,target=/root/.cache,sharing=private,mode=0755,uid=1").unwrap();
        assert_eq!(m.mount_type, MountType::Cache);
        assert_eq!(m.sharing, Some(Sharing::Private));
        assert_eq!(m.mode, Some(0o755));
        assert_eq!(m.uid, Some(1));
        assert!(!m.read_only);
        let m = Mount::parse("target=/src").unwrap();
        assert_eq!((m.mount_type, m.read_only), (MountType::Bind, true));
        let m = Mount::parse("type=bind,source=.,target=/src,rw").unwrap();
        assert!(!m.read_only);
        let m = Mount::parse(r#""type=secret","id=a,b""#).unwrap();
        assert_eq!(m.id.as_deref(), Some("a,b"));
    }

    #[test]
    fn rejects_bad_mounts() {
        for (input, want) in [
            ("type=volume", "unsupported mount type \"volume\""),
            (
                "type=cache,sharing=loked",
                "unsupported sharing value \"loked\" (did you mean locked?)",
            ),
            (
                "type=bind,targte=/x",
                "unexpected key 'targte' in 'targte=/x' (did you mean target?)",
            ),
            (
                "type=bind,mode=0755",
                "mode not allowed for \"bind\" type mounts",
            ),
            (
                "type=secret",
                "invalid secret mount. one of source, target required",
            ),
            (
                "type=secret,id=a,from=b",
                "secret mount should not have a from",
            ),
            (
                "type=bind,size=1m",
                "unexpected key 'size' for mount type 'bind'",
            ),
            ("type=tmpfs,size=lots", "invalid value for size: lots"),
            (
                "type=bind,sharing=shared",
                "invalid cache sharing set for bind mount",
            ),
            (
                "type=bind,foo",
                "invalid field 'foo' must be a key=value pair",
            ),
            ("type=cache,uid=x", "invalid value x for uid"),
        ] {
            assert_eq!(
                Mount::parse(input).unwrap_err().to_string(),
                want,
                "{input}"
            );
        }
    }
}
