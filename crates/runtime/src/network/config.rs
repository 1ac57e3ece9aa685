//! User networks as records (`network create`, `ls`, `inspect`, `rm`): one JSON file per
//! network under `<store>/networks/`, plus Docker's three predefined ones (`bridge`,
//! `host`, `none`), made on first use with IDs of their own as Docker's daemon does.

use std::collections::BTreeMap;
use std::fs;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::RuntimeError;
use crate::record::{new_id, now_rfc3339, read_json, write_json};

/// One network.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Network {
    /// Its name.
    pub name: String,
    /// 64 hex digits.
    pub id: String,
    /// RFC 3339.
    pub created: String,
    /// `bridge`, `host` or `null`.
    pub driver: String,
    /// `10.89.1.0/24`; empty for `host` and `none`.
    #[serde(default)]
    pub subnet: String,
    /// The bridge's address, the first of the subnet.
    #[serde(default)]
    pub gateway: String,
    /// `--label`.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
}

/// Docker's predefined networks: `(name, driver)`.
pub const PREDEFINED: [(&str, &str); 3] =
    [("bridge", "bridge"), ("host", "host"), ("none", "null")];

impl Network {
    /// Whether it is one of Docker's predefined networks.
    pub fn is_predefined(&self) -> bool {
        PREDEFINED.iter().any(|(n, _)| *n == self.name)
    }
}

/// The directory of network records of the store at `root`.
pub fn dir(root: &Path) -> PathBuf {
    root.join("networks")
}

fn file(root: &Path, id: &str) -> PathBuf {
    dir(root).join(format!("{id}.json"))
}

fn lock(root: &Path) -> Result<fs::File, RuntimeError> {
    let d = dir(root);
    fs::create_dir_all(&d).map_err(|e| RuntimeError::io("create", &d, e))?;
    let p = d.join(".lock");
    let f = fs::File::create(&p).map_err(|e| RuntimeError::io("create", &p, e))?;
    f.lock().map_err(|e| RuntimeError::io("lock", &p, e))?;
    Ok(f)
}

fn read_all(root: &Path) -> Result<Vec<Network>, RuntimeError> {
    let d = dir(root);
    let mut out = Vec::new();
    let entries = match fs::read_dir(&d) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(RuntimeError::io("list", &d, e)),
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.extension().is_some_and(|x| x == "json") {
            out.push(read_json(&p)?);
        }
    }
    Ok(out)
}

/// Every network, the predefined ones made if missing, sorted by name.
pub fn list(root: &Path) -> Result<Vec<Network>, RuntimeError> {
    let _l = lock(root)?;
    let mut all = read_all(root)?;
    for (name, driver) in PREDEFINED {
        if !all.iter().any(|n| n.name == name) {
            let n = Network {
                name: name.into(),
                id: new_id()?,
                created: now_rfc3339(),
                driver: driver.into(),
                subnet: String::new(),
                gateway: String::new(),
                labels: BTreeMap::new(),
            };
            write_json(&file(root, &n.id), &n)?;
            all.push(n);
        }
    }
    all.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(all)
}

/// The network named `key`, or whose ID is or starts with `key` (Docker's lookup: a full
/// name or ID first, then a unique ID prefix).
pub fn find(root: &Path, key: &str) -> Result<Network, RuntimeError> {
    let all = list(root)?;
    if let Some(n) = all.iter().find(|n| n.name == key || n.id == key) {
        return Ok(n.clone());
    }
    let by_prefix: Vec<&Network> = all
        .iter()
        .filter(|n| !key.is_empty() && n.id.starts_with(key))
        .collect();
    match by_prefix.as_slice() {
        [one] => Ok((*one).clone()),
        [] => Err(RuntimeError::NoSuchNetwork(key.to_string())),
        _ => Err(RuntimeError::InvalidOptions(format!(
            "network {key} is ambiguous ({} matches found based on ID prefix)",
            by_prefix.len()
        ))),
    }
}

/// Parses `a.b.c.d/len` (IPv4 only), the address masked to the prefix.
pub fn parse_subnet(s: &str) -> Result<(Ipv4Addr, u8), RuntimeError> {
    let bad = || RuntimeError::InvalidOptions(format!("invalid CIDR address: {s}"));
    let (ip, len) = s.split_once('/').ok_or_else(bad)?;
    let ip: Ipv4Addr = ip.parse().map_err(|_| bad())?;
    let len: u8 = len.parse().map_err(|_| bad())?;
    if !(8..=30).contains(&len) {
        return Err(bad());
    }
    let mask = u32::MAX << (32 - u32::from(len));
    Ok((Ipv4Addr::from(u32::from(ip) & mask), len))
}

/// The `n`th address of `subnet` (`1`: the gateway).
pub fn host_address(subnet: &str, n: u32) -> Result<Ipv4Addr, RuntimeError> {
    let (net, _) = parse_subnet(subnet)?;
    Ok(Ipv4Addr::from(u32::from(net) + n))
}

/// The first `10.89.N.0/24` no network has (podman's default pool).
fn free_subnet(all: &[Network]) -> Result<String, RuntimeError> {
    for n in 1..=255u32 {
        let s = format!("10.89.{n}.0/24");
        if !all.iter().any(|x| x.subnet == s) {
            return Ok(s);
        }
    }
    Err(RuntimeError::InvalidOptions(
        "could not find an available, non-overlapping IPv4 address pool among the defaults to \
         assign to the network"
            .into(),
    ))
}

/// `network create`: a bridge network named `name`.
pub fn create(
    root: &Path,
    name: &str,
    driver: &str,
    subnet: Option<&str>,
    labels: BTreeMap<String, String>,
) -> Result<Network, RuntimeError> {
    if driver != "bridge" {
        return Err(RuntimeError::InvalidOptions(format!(
            "plugin \"{driver}\" not found"
        )));
    }
    let _ = list(root)?; // the predefined ones exist (their names are taken)
    let _l = lock(root)?;
    let all = read_all(root)?;
    if all.iter().any(|n| n.name == name) {
        return Err(RuntimeError::InvalidOptions(format!(
            "network with name {name} already exists"
        )));
    }
    let subnet = match subnet {
        Some(s) => {
            let (net, len) = parse_subnet(s)?;
            let s = format!("{net}/{len}");
            if let Some(other) = all.iter().find(|n| n.subnet == s) {
                return Err(RuntimeError::InvalidOptions(format!(
                    "Pool overlaps with other one on this address space ({})",
                    other.name
                )));
            }
            s
        }
        None => free_subnet(&all)?,
    };
    let n = Network {
        name: name.into(),
        id: new_id()?,
        created: now_rfc3339(),
        driver: driver.into(),
        gateway: host_address(&subnet, 1)?.to_string(),
        subnet,
        labels,
    };
    write_json(&file(root, &n.id), &n)?;
    Ok(n)
}

/// `network rm`: refuses the predefined ones; `in_use` names the containers using it.
pub fn remove(root: &Path, key: &str, in_use: &[String]) -> Result<Network, RuntimeError> {
    let n = find(root, key)?;
    if n.is_predefined() {
        return Err(RuntimeError::InvalidOptions(format!(
            "{} is a pre-defined network and cannot be removed",
            n.name
        )));
    }
    if !in_use.is_empty() {
        return Err(RuntimeError::InvalidOptions(format!(
            "error while removing network: network {} id {} has active endpoints",
            n.name, n.id
        )));
    }
    let _l = lock(root)?;
    let p = file(root, &n.id);
    fs::remove_file(&p).map_err(|e| RuntimeError::io("remove", &p, e))?;
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_list_find_remove() {
        let d = tempfile::tempdir().unwrap();
        let r = d.path();
        let names: Vec<String> = list(r).unwrap().into_iter().map(|n| n.name).collect();
        assert_eq!(names, ["bridge", "host", "none"]);
        let ids: Vec<String> = list(r).unwrap().into_iter().map(|n| n.id).collect();
        assert_eq!(
            ids,
            list(r)
                .unwrap()
                .into_iter()
                .map(|n| n.id)
                .collect::<Vec<_>>()
        );
        let a = create(r, "a", "bridge", None, BTreeMap::new()).unwrap();
        assert_eq!(
            (a.subnet.as_str(), a.gateway.as_str()),
            ("10.89.1.0/24", "10.89.1.1")
        );
        let b = create(r, "b", "bridge", Some("172.30.5.9/16"), BTreeMap::new()).unwrap();
        assert_eq!(b.subnet, "172.30.0.0/16");
        assert_eq!(
            create(r, "a", "bridge", None, BTreeMap::new())
                .unwrap_err()
                .to_string(),
            "network with name a already exists"
        );
        assert_eq!(
            create(r, "host", "bridge", None, BTreeMap::new())
                .unwrap_err()
                .to_string(),
            "network with name host already exists"
        );
        assert!(create(r, "c", "overlay", None, BTreeMap::new()).is_err());
        assert!(create(r, "c", "bridge", Some("300.1.1.1/8"), BTreeMap::new()).is_err());
        assert_eq!(find(r, &a.id[..12]).unwrap().name, "a");
        assert_eq!(
            find(r, "zz").unwrap_err().to_string(),
            "network zz not found"
        );
        assert_eq!(
            remove(r, "none", &[]).unwrap_err().to_string(),
            "none is a pre-defined network and cannot be removed"
        );
        assert!(remove(r, "a", &["c1".into()]).is_err());
        remove(r, "a", &[]).unwrap();
        // Gone by name (`find(r, "a")` would also match an ID that starts with `a`).
        assert!(list(r).unwrap().iter().all(|n| n.name != "a"));
        assert!(find(r, &a.id).is_err());
        assert_eq!(
            host_address("10.89.3.0/24", 2).unwrap().to_string(),
            "10.89.3.2"
        );
    }
}
