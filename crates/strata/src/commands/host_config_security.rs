//! The `HostConfig` fields of `container inspect` that the security and resource flags
//! set (`CapAdd`, `CapDrop`, `CgroupnsMode`, `GroupAdd`, `ShmSize`, `CpuShares`,
//! `Ulimits`, `Sysctls`, `Privileged`, `Devices`), as Docker 20.10 shows them: lists as typed, `null` when empty;
//! `Sysctls` only when set (`omitempty`).

use runtime::SecurityResources;
use serde_json::{Map, Value, json};

/// Docker's default `/dev/shm` size.
const DEFAULT_SHM_SIZE: i64 = 64 << 20;

/// The fields, to lay over [`super::host_config_json::host_config`]'s defaults with
/// [`lay_over`].
pub fn fields(s: &SecurityResources) -> Map<String, Value> {
    let list = |l: &[String]| if l.is_empty() { Value::Null } else { json!(l) };
    let mut m = Map::new();
    m.insert("CapAdd".into(), list(&s.cap_add));
    m.insert("CapDrop".into(), list(&s.cap_drop));
    if let Some(mode) = s.cgroupns {
        m.insert("CgroupnsMode".into(), json!(mode.as_str()));
    }
    m.insert("GroupAdd".into(), list(&s.group_add));
    m.insert(
        "ShmSize".into(),
        json!(s.shm_size.unwrap_or(DEFAULT_SHM_SIZE)),
    );
    m.insert("CpuShares".into(), json!(s.cpu_shares));
    m.insert(
        "Ulimits".into(),
        if s.ulimits.is_empty() {
            Value::Null
        } else {
            json!(s.ulimits)
        },
    );
    if !s.sysctls.is_empty() {
        m.insert("Sysctls".into(), json!(s.sysctls));
    }
    m.insert("Privileged".into(), json!(s.privileged));
    m.insert("Devices".into(), json!(s.devices));
    m
}

/// `base` with `over`'s values: a key of both keeps its place; `Sysctls` goes after
/// `ShmSize`, where Docker's struct has it; any other new key goes last.
pub fn lay_over(base: Map<String, Value>, mut over: Map<String, Value>) -> Map<String, Value> {
    let mut out = Map::new();
    for (k, v) in base {
        let v = over.remove(&k).unwrap_or(v);
        let after_shm = k == "ShmSize";
        out.insert(k, v);
        if after_shm && let Some(s) = over.remove("Sysctls") {
            out.insert("Sysctls".into(), s);
        }
    }
    out.extend(over);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shows_the_flags_as_docker_does() {
        let mut s = SecurityResources {
            cap_add: vec!["net_admin".into(), "CAP_SYS_TIME".into()],
            cpu_shares: 512,
            shm_size: Some(1 << 20),
            ulimits: vec![runtime::spec::rlimits::parse_ulimit("nofile=512:1024").unwrap()],
            group_add: vec!["wheel".into(), "4242".into()],
            cgroupns: Some(runtime::CgroupnsMode::Host),
            ..Default::default()
        };
        s.sysctls.insert("kernel.shmmax".into(), "100000".into());
        let m = Value::Object(fields(&s));
        assert_eq!(
            m,
            json!({
                "CapAdd": ["net_admin", "CAP_SYS_TIME"],
                "CapDrop": null,
                "CgroupnsMode": "host",
                "GroupAdd": ["wheel", "4242"],
                "ShmSize": 1048576,
                "CpuShares": 512,
                "Ulimits": [{"Name": "nofile", "Hard": 1024, "Soft": 512}],
                "Sysctls": {"kernel.shmmax": "100000"},
                "Privileged": false,
                "Devices": [],
            })
        );
        let base: Map<String, Value> =
            serde_json::from_str(r#"{"CapAdd":null,"ShmSize":0,"Runtime":"runc"}"#).unwrap();
        let keys: Vec<String> = lay_over(base, fields(&s)).keys().cloned().collect();
        assert_eq!(keys[..4], ["CapAdd", "ShmSize", "Sysctls", "Runtime"]);
        let d = Value::Object(fields(&SecurityResources::default()));
        assert_eq!(d["ShmSize"], 67108864);
        assert!(d.get("Sysctls").is_none());
    }
}
