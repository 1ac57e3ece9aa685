//! Config instructions: ENV, LABEL, WORKDIR, USER, EXPOSE, VOLUME, CMD, ENTRYPOINT,
//! SHELL, STOPSIGNAL, HEALTHCHECK, ONBUILD, MAINTAINER and ARG. They change the config
//! and add an empty-layer history entry; nothing runs.

use super::steps::{Lookup, Step, What};
use super::*;

impl<'a> Builder<'a> {
    /// Plans one step of a stage whose state so far is `img` (config, key, ARGs; no
    /// layers) and `args`: evolves them as the step will, and returns the step with its
    /// key. The only code that changes a stage's config.
    pub(super) fn plan_step(
        &mut self,
        img: &mut StageImage,
        args: &mut BTreeMap<String, String>,
        cmd: &Command,
        index: usize,
    ) -> Result<Step, BuildError> {
        crate::cancel::check()?;
        let scope = Self::scope(img, args);
        let mut used = BTreeMap::new();
        let c = &mut img.config.config;
        let text = match &cmd.instruction {
            Instruction::Arg(defs) => {
                let mut text = String::from("ARG");
                for def in defs {
                    // BuildKit records the default as its word processing leaves it (quotes
                    // removed, variables of the lines before expanded), not a --build-arg.
                    text.push(' ');
                    text.push_str(&def.key);
                    if let Some(v) = &def.value {
                        text.push('=');
                        text.push_str(&self.expand(cmd, v, &scope, &mut used, args)?);
                    }
                    img.declared.push(def.key.clone());
                    let mut inherited = self.platform_args.clone();
                    inherited.extend(self.global_args.clone());
                    let v =
                        plan::arg_value(def, &self.req.build_args, &inherited, &scope, &self.lex)
                            .map_err(|e| self.at(cmd, e.to_string()))?;
                    if let Some(v) = v {
                        args.insert(def.key.clone(), v);
                        img.arg_over_env.insert(def.key.clone());
                    } else {
                        args.remove(&def.key);
                        img.arg_over_env.remove(&def.key);
                    }
                }
                // An ARG changes no config and no cache key, but BuildKit records it.
                return Ok(self.config_step(img, cmd, index, Some(text)));
            }
            Instruction::Copy(_) | Instruction::Add(_) | Instruction::Run(_) => {
                return self.plan_layer(img, args, cmd, index);
            }
            Instruction::Env(kvs) => {
                let mut parts = Vec::new();
                // Every pair is expanded with the values from before the line, as Docker
                // does: `ENV a=y b=$a` gives b the old value of a.
                for kv in kvs {
                    let v = self.expand(cmd, &kv.value, &scope, &mut used, args)?;
                    img.config.config.env_set(&kv.key, &v);
                    img.arg_over_env.remove(&kv.key);
                    parts.push(format!("{}={}", kv.key, v));
                }
                format!("ENV {}", parts.join(" "))
            }
            Instruction::Label(kvs) => {
                let mut parts = Vec::new();
                for kv in kvs {
                    let k = self.expand(cmd, &kv.key, &scope, &mut used, args)?;
                    let v = self.expand(cmd, &kv.value, &scope, &mut used, args)?;
                    parts.push(format!("{k}={v}"));
                    c.labels.insert(k, v);
                }
                format!("LABEL {}", parts.join(" "))
            }
            Instruction::Maintainer(m) => {
                img.config.author = Some(m.clone());
                format!("MAINTAINER {m}")
            }
            Instruction::Workdir(w) => {
                let w = self.expand(cmd, w, &scope, &mut used, args)?;
                let joined = if w.starts_with('/') {
                    w
                } else {
                    format!("{}/{w}", c.working_dir.clone().unwrap_or_default())
                };
                let clean = format!("/{}", copy::clean_dest(&joined));
                c.working_dir = Some(clean.clone());
                if clean != "/" {
                    // BuildKit creates the directory, in a layer of its own.
                    return self.plan_layer(img, args, cmd, index);
                }
                format!("WORKDIR {clean}")
            }
            Instruction::User(u) => {
                let u = self.expand(cmd, u, &scope, &mut used, args)?;
                c.user = Some(u.clone());
                format!("USER {u}")
            }
            Instruction::Expose(ports) => {
                let mut out = Vec::new();
                for p in ports {
                    let p = self.expand(cmd, p, &scope, &mut used, args)?;
                    // A range is each of its ports; a bad spec fails the build, as in Docker.
                    let ports = dockerfile::ports::expose_ports(&p).map_err(|m| self.at(cmd, m))?;
                    for p in ports {
                        c.exposed_ports.entry(p.clone()).or_default();
                        out.push(p);
                    }
                }
                format!("EXPOSE {}", crate::history::expose(&out))
            }
            Instruction::Volume(vols) => {
                let mut out = Vec::new();
                for v in vols {
                    let v = self.expand(cmd, v, &scope, &mut used, args)?;
                    c.volumes.entry(v.clone()).or_default();
                    out.push(v);
                }
                format!("VOLUME {}", crate::history::plain(&out))
            }
            Instruction::Cmd(se) => {
                let argv = shell_argv(c.shell.as_deref(), se);
                // BuildKit stores an empty exec form (`CMD []`) as null.
                c.cmd = (!argv.is_empty()).then(|| argv.clone());
                // BuildKit marks every CMD's argv as escaped (`ArgsEscaped: true` in the
                // stored config, kept for Docker compatibility).
                c.args_escaped = Some(true);
                format!("CMD {}", crate::history::quoted(&argv))
            }
            Instruction::Entrypoint(se) => {
                let argv = shell_argv(c.shell.as_deref(), se);
                // BuildKit stores an empty exec form (`ENTRYPOINT []`) as null.
                c.entrypoint = (!argv.is_empty()).then(|| argv.clone());
                format!("ENTRYPOINT {}", crate::history::quoted(&argv))
            }
            Instruction::Shell(argv) => {
                c.shell = Some(argv.clone());
                format!("SHELL {}", crate::history::plain(argv))
            }
            Instruction::StopSignal(s) => {
                let s = self.expand(cmd, s, &scope, &mut used, args)?;
                // Preflight caught what the Dockerfile alone decides; this is the rest
                // (a variable only the base image defines).
                if !oci::change::is_signal(&s) {
                    return Err(self.at(cmd, crate::preflight::invalid_signal(&s)));
                }
                c.stop_signal = Some(s.clone());
                format!("STOPSIGNAL {s}")
            }
            Instruction::Healthcheck(h) => {
                let ns = |d: Option<std::time::Duration>| d.map(|d| d.as_nanos() as i64);
                c.healthcheck = Some(oci::config::Healthcheck {
                    test: Some(h.test.clone()),
                    interval: ns(h.interval),
                    timeout: ns(h.timeout),
                    start_period: ns(h.start_period),
                    start_interval: ns(h.start_interval),
                    retries: h.retries.map(i64::from),
                    ..Default::default()
                });
                let text = crate::history::healthcheck(
                    &h.test,
                    h.interval,
                    h.timeout,
                    h.start_period,
                    h.retries,
                );
                format!("HEALTHCHECK {text}")
            }
            Instruction::Onbuild(o) => {
                c.on_build.push(o.expression.clone());
                format!("ONBUILD {}", o.expression)
            }
            Instruction::From(_) => return Err(self.at(cmd, "FROM is not allowed here")),
        };
        img.key = plan::step_key(&img.key, &text, &used, &[]);

        // The key text is the history text BuildKit writes, except that ONBUILD (which
        // only records its trigger) writes none.
        let history = (!matches!(cmd.instruction, Instruction::Onbuild(_))).then_some(text);
        Ok(self.config_step(img, cmd, index, history))
    }

    /// A config-only step leaving the stage as `img` is now.
    fn config_step(
        &self,
        img: &StageImage,
        cmd: &Command,
        index: usize,
        history: Option<String>,
    ) -> Step {
        Step {
            cmd: cmd.clone(),
            index,
            key: img.key.clone(),
            lookup: Lookup::ByKey,
            config: img.config.config.clone(),
            author: img.config.author.clone(),
            what: What::Config(history),
        }
    }
}

/// CMD/ENTRYPOINT argv: exec form as is, shell form through the stage's SHELL.
fn shell_argv(shell: Option<&[String]>, se: &ShellOrExec) -> Vec<String> {
    match se {
        ShellOrExec::Exec(v) => v.clone(),
        ShellOrExec::Shell(s) => {
            let mut v = shell
                .map(<[String]>::to_vec)
                .unwrap_or_else(|| vec!["/bin/sh".into(), "-c".into()]);
            v.push(s.clone());
            v
        }
    }
}
