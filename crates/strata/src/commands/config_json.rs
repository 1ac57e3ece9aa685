//! Docker's container-config object, the `Config` (and `ContainerConfig`) of `image
//! inspect` and the `Config` of `container inspect`: Go's `container.Config` marshalled, so
//! every field is there, in the struct's order, empty ones as `""`, `false` or `null`, and
//! only the `omitempty` ones (`ExposedPorts`, `Healthcheck`, `ArgsEscaped`, `StopSignal`,
//! `Shell`, …) left out when unset. Templates such as `{{.Config.User}}` and
//! `{{json .Config}}` then read the same as with Docker.

use oci::ContainerConfig;
use serde_json::{Map, Value, json};

/// The fields a container adds to its image's config (an image has them empty, unless a
/// builder recorded them).
#[derive(Debug, Default)]
pub struct RunFields {
    /// `Hostname`.
    pub hostname: String,
    /// `AttachStdin`.
    pub attach_stdin: bool,
    /// `AttachStdout`.
    pub attach_stdout: bool,
    /// `AttachStderr`.
    pub attach_stderr: bool,
    /// `Tty`.
    pub tty: bool,
    /// `OpenStdin`.
    pub open_stdin: bool,
    /// `StdinOnce`.
    pub stdin_once: bool,
    /// `Image`: the name the container was created from.
    pub image: String,
}

impl RunFields {
    /// An image's own values: what its config recorded (Docker's builder keeps them), else
    /// empty.
    pub fn of_image(cfg: &ContainerConfig) -> RunFields {
        let s = |k: &str| {
            cfg.extra
                .get(k)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string()
        };
        let b = |k: &str| cfg.extra.get(k).and_then(Value::as_bool).unwrap_or(false);
        RunFields {
            hostname: s("Hostname"),
            attach_stdin: b("AttachStdin"),
            attach_stdout: b("AttachStdout"),
            attach_stderr: b("AttachStderr"),
            tty: b("Tty"),
            open_stdin: b("OpenStdin"),
            stdin_once: b("StdinOnce"),
            image: s("Image"),
        }
    }
}

/// `cfg` (with `run`'s fields) in the shape of Docker's `container.Config`.
pub fn docker_config(cfg: &ContainerConfig, run: &RunFields) -> Value {
    let or_null = |v: Value, empty: bool| if empty { Value::Null } else { v };
    let mut m = Map::new();
    m.insert("Hostname".into(), json!(run.hostname));
    m.insert("Domainname".into(), extra_str(cfg, "Domainname"));
    m.insert("User".into(), json!(cfg.user.clone().unwrap_or_default()));
    m.insert("AttachStdin".into(), json!(run.attach_stdin));
    m.insert("AttachStdout".into(), json!(run.attach_stdout));
    m.insert("AttachStderr".into(), json!(run.attach_stderr));
    if !cfg.exposed_ports.is_empty() {
        m.insert("ExposedPorts".into(), json!(cfg.exposed_ports));
    }
    m.insert("Tty".into(), json!(run.tty));
    m.insert("OpenStdin".into(), json!(run.open_stdin));
    m.insert("StdinOnce".into(), json!(run.stdin_once));
    m.insert("Env".into(), or_null(json!(cfg.env), cfg.env.is_empty()));
    m.insert("Cmd".into(), json!(cfg.cmd));
    if let Some(h) = &cfg.healthcheck {
        m.insert("Healthcheck".into(), json!(h));
    }
    if cfg.args_escaped == Some(true) {
        m.insert("ArgsEscaped".into(), json!(true));
    }
    m.insert("Image".into(), json!(run.image));
    m.insert(
        "Volumes".into(),
        or_null(json!(cfg.volumes), cfg.volumes.is_empty()),
    );
    m.insert(
        "WorkingDir".into(),
        json!(cfg.working_dir.clone().unwrap_or_default()),
    );
    m.insert("Entrypoint".into(), json!(cfg.entrypoint));
    for k in ["NetworkDisabled", "MacAddress"] {
        if let Some(v) = cfg.extra.get(k).filter(|v| !is_empty(v)) {
            m.insert(k.into(), v.clone());
        }
    }
    m.insert(
        "OnBuild".into(),
        or_null(json!(cfg.on_build), cfg.on_build.is_empty()),
    );
    m.insert(
        "Labels".into(),
        or_null(json!(cfg.labels), cfg.labels.is_empty()),
    );
    if let Some(s) = &cfg.stop_signal {
        m.insert("StopSignal".into(), json!(s));
    }
    if let Some(v) = cfg.extra.get("StopTimeout").filter(|v| !v.is_null()) {
        m.insert("StopTimeout".into(), v.clone());
    }
    if let Some(s) = &cfg.shell {
        m.insert("Shell".into(), json!(s));
    }
    Value::Object(m)
}

/// A string field only Docker's own configs carry (`""` when absent).
fn extra_str(cfg: &ContainerConfig, key: &str) -> Value {
    json!(
        cfg.extra
            .get(key)
            .and_then(Value::as_str)
            .unwrap_or_default()
    )
}

/// Go's `omitempty`: false, 0, "", null, empty arrays and objects.
fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_f64() == Some(0.0),
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_config_has_every_field_of_dockers() {
        let v = docker_config(&ContainerConfig::default(), &RunFields::default());
        assert_eq!(
            serde_json::to_string(&v).unwrap(),
            r#"{"Hostname":"","Domainname":"","User":"","AttachStdin":false,"AttachStdout":false,"AttachStderr":false,"Tty":false,"OpenStdin":false,"StdinOnce":false,"Env":null,"Cmd":null,"Image":"","Volumes":null,"WorkingDir":"","Entrypoint":null,"OnBuild":null,"Labels":null}"#
        );
    }

    #[test]
    fn set_fields_keep_go_struct_order() {
        let cfg: ContainerConfig = serde_json::from_str(
            r#"{"User":"app","ExposedPorts":{"80/tcp":{}},"Env":["A=1"],"Cmd":[],"Entrypoint":["sh"],
                "StopSignal":"SIGINT","Shell":["/bin/bash","-c"],"ArgsEscaped":true,"Labels":{"a":"b"}}"#,
        )
        .unwrap();
        let v = docker_config(&cfg, &RunFields::of_image(&cfg));
        let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                "Hostname",
                "Domainname",
                "User",
                "AttachStdin",
                "AttachStdout",
                "AttachStderr",
                "ExposedPorts",
                "Tty",
                "OpenStdin",
                "StdinOnce",
                "Env",
                "Cmd",
                "ArgsEscaped",
                "Image",
                "Volumes",
                "WorkingDir",
                "Entrypoint",
                "OnBuild",
                "Labels",
                "StopSignal",
                "Shell",
            ]
        );
        // Cleared is not unset: an empty CMD stays an empty list.
        assert_eq!(v["Cmd"], json!([]));
        assert_eq!(v["User"], json!("app"));
    }
}
