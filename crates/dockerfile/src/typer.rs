//! Typing: the syntax tree turned into [`Stages`] of typed instructions, checked as
//! BuildKit's `instructions.Parse` checks them (argument counts, flags, stage names).

use std::time::Duration;

use crate::ast::{Dockerfile, Node};
use crate::error::{ParseError, suggest};
use crate::flags::{FlagKind, Flags};
use crate::heredoc::{chomp_heredoc_content, parse_heredoc};
use crate::instructions::*;
use crate::mount::Mount;

const INSTRUCTIONS: &[&str] = &[
    "ADD",
    "ARG",
    "CMD",
    "COPY",
    "ENTRYPOINT",
    "ENV",
    "EXPOSE",
    "FROM",
    "HEALTHCHECK",
    "LABEL",
    "MAINTAINER",
    "ONBUILD",
    "RUN",
    "SHELL",
    "STOPSIGNAL",
    "USER",
    "VOLUME",
    "WORKDIR",
];

/// Types every instruction of `df` and splits them into stages.
pub fn instructions(df: &Dockerfile) -> Result<Stages, ParseError> {
    let mut out = Stages {
        global_args: Vec::new(),
        stages: Vec::new(),
    };
    for node in &df.ast.children {
        let location = Location {
            start_line: node.start_line,
            end_line: node.end_line,
            column: node.column.max(1),
        };
        let at = |e: String, hint: Option<String>| {
            let mut err = ParseError::new(&df.file, location.start_line.max(1), location.column, e);
            err.hint = hint;
            err
        };
        let instruction = instruction(node).map_err(|(m, h)| at(m, h))?;
        let cmd = Command {
            location,
            original: node.original.clone(),
            instruction,
        };
        match cmd.instruction {
            Instruction::From(from) => out.stages.push(Stage {
                name: from.name.clone(),
                from,
                location,
                commands: Vec::new(),
            }),
            Instruction::Arg(_) if out.stages.is_empty() => out.global_args.push(cmd),
            _ => match out.stages.last_mut() {
                Some(stage) => stage.commands.push(cmd),
                None => {
                    return Err(at(
                        "no build stage in current context".into(),
                        Some("start the Dockerfile with a FROM instruction".into()),
                    ));
                }
            },
        }
    }
    if out.stages.is_empty() {
        return Err(
            ParseError::new(&df.file, 1, 1, "no FROM instruction: nothing to build")
                .with_hint("add `FROM <image>` (or `FROM scratch`)"),
        );
    }
    Ok(out)
}

/// A message and an optional hint; located by the caller.
pub(crate) type Fail = (String, Option<String>);

pub(crate) fn fail<T>(msg: impl Into<String>) -> Result<T, Fail> {
    Err((msg.into(), None))
}

/// Arguments as BuildKit's `nodeArgs` flattens them (ONBUILD's child inlined).
fn node_args(node: &Node) -> Vec<String> {
    let mut out = Vec::new();
    for n in &node.next {
        match n.children.as_slice() {
            [] => out.push(n.value.clone()),
            [child] => {
                out.push(child.value.clone());
                out.extend(node_args(child));
            }
            _ => {}
        }
    }
    out
}

fn command_line(node: &Node, args: Vec<String>) -> ShellOrExec {
    if node.json {
        ShellOrExec::Exec(args)
    } else {
        ShellOrExec::Shell(args.join(" "))
    }
}

fn kvps(args: &[String], cmd: &str) -> Result<Vec<KeyValue>, Fail> {
    if args.is_empty() {
        return fail(format!("{cmd} requires at least one argument"));
    }
    if !args.len().is_multiple_of(3) {
        return fail(format!("Bad input to {cmd}, too many arguments"));
    }
    args.chunks(3)
        .map(|c| {
            if c[0].is_empty() {
                return fail(format!("{cmd} names can not be blank"));
            }
            Ok(KeyValue {
                key: c[0].clone(),
                value: c[1].clone(),
                legacy: c[2].is_empty(),
            })
        })
        .collect()
}

fn exactly_one(args: &[String], cmd: &str) -> Result<String, Fail> {
    match args {
        [one] => Ok(one.clone()),
        _ => fail(format!("{cmd} requires exactly one argument")),
    }
}

fn at_least_one(args: &[String], cmd: &str) -> Result<(), Fail> {
    if args.is_empty() {
        return fail(format!("{cmd} requires at least one argument"));
    }
    Ok(())
}

/// Sources, destination and heredoc sources of COPY/ADD.
fn sources_and_dest(
    node: &Node,
    args: &[String],
    cmd: &str,
) -> Result<(Vec<String>, String, Vec<InlineFile>), Fail> {
    if args.len() < 2 {
        return fail(format!(
            "{cmd} requires at least two arguments, but only one was provided. Destination could not be determined"
        ));
    }
    let (srcs, dest) = args.split_at(args.len() - 1);
    let dest = dest[0].clone();
    if matches!(parse_heredoc(&dest), Ok(Some(_))) {
        return fail(format!("{cmd} cannot accept a heredoc as a destination"));
    }
    let mut paths = Vec::new();
    let mut files = Vec::new();
    for src in srcs {
        match parse_heredoc(src) {
            Ok(Some(h)) => {
                let body = node
                    .heredocs
                    .iter()
                    .find(|d| d.name == h.name)
                    .map(|d| d.content.clone())
                    .unwrap_or_default();
                let data = if h.chomp {
                    chomp_heredoc_content(&body)
                } else {
                    body
                };
                files.push(InlineFile {
                    name: h.name,
                    data,
                    chomp: h.chomp,
                    expand: h.expand,
                });
            }
            _ => paths.push(src.clone()),
        }
    }
    Ok((paths, dest, files))
}

fn inline_files(node: &Node) -> Vec<InlineFile> {
    node.heredocs
        .iter()
        .map(|h| InlineFile {
            name: h.name.clone(),
            data: h.content.clone(),
            chomp: h.chomp,
            expand: h.expand,
        })
        .collect()
}

fn valid_stage_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "-_.".contains(c))
}

/// Types one instruction node.
fn instruction(node: &Node) -> Result<Instruction, Fail> {
    use FlagKind::*;
    let args = node_args(node);
    let no_flags = |node: &Node| Flags::parse(&node.flags, &[]);
    let keyword = node.value.to_ascii_lowercase();
    Ok(match keyword.as_str() {
        "from" => {
            let name = match args.as_slice() {
                [_, as_kw, name] if as_kw.eq_ignore_ascii_case("as") => {
                    let lower = name.to_ascii_lowercase();
                    if !valid_stage_name(&lower) {
                        return fail(format!(
                            "invalid name for build stage: {}, name can't start with a number or contain symbols",
                            crate::quote::go_quote(name)
                        ));
                    }
                    Some(lower)
                }
                [_] => None,
                _ => {
                    return Err((
                        "FROM requires either one or three arguments".into(),
                        Some("use `FROM image` or `FROM image AS name`".into()),
                    ));
                }
            };
            let flags = Flags::parse(&node.flags, &[("platform", Str)])?;
            Instruction::From(From {
                image: args[0].clone(),
                platform: flags.get("platform"),
                name,
            })
        }
        "run" => {
            let flags = Flags::parse(
                &node.flags,
                &[("mount", Strings), ("network", Str), ("security", Str)],
            )?;
            let mounts = flags
                .strings("mount")
                .iter()
                .map(|m| Mount::parse(m))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| (e.to_string(), None))?;
            let network = match flags.get("network").as_deref() {
                None => None,
                Some("default") => Some(NetworkMode::Default),
                Some("none") => Some(NetworkMode::None),
                Some("host") => Some(NetworkMode::Host),
                Some(v) => {
                    return Err((
                        format!("invalid network mode {}", crate::quote::go_quote(v)),
                        Some("use default, none or host".into()),
                    ));
                }
            };
            let security = flags.get("security");
            if let Some(s) = security
                .as_deref()
                .filter(|s| *s != "sandbox" && *s != "insecure")
            {
                return fail(format!(
                    "unsupported security mode {}",
                    crate::quote::go_quote(s)
                ));
            }
            Instruction::Run(Run {
                command: command_line(node, args),
                heredocs: inline_files(node),
                mounts,
                network,
                security,
            })
        }
        "copy" => {
            let flags = Flags::parse(
                &node.flags,
                &[
                    ("chown", Str),
                    ("from", Str),
                    ("chmod", Str),
                    ("link", Bool),
                    ("exclude", Strings),
                    ("parents", Bool),
                ],
            )?;
            let (sources, dest, heredocs) = sources_and_dest(node, &args, "COPY")?;
            Instruction::Copy(Copy {
                sources,
                dest,
                heredocs,
                from: flags.get("from"),
                chown: flags.get("chown"),
                chmod: flags.get("chmod"),
                link: flags.bool("link").unwrap_or(false),
                parents: flags.bool("parents").unwrap_or(false),
                exclude: flags.strings("exclude"),
            })
        }
        "add" => {
            let flags = Flags::parse(
                &node.flags,
                &[
                    ("chown", Str),
                    ("chmod", Str),
                    ("link", Bool),
                    ("keep-git-dir", Bool),
                    ("checksum", Str),
                    ("unpack", Bool),
                    ("exclude", Strings),
                ],
            )?;
            let (sources, dest, heredocs) = sources_and_dest(node, &args, "ADD")?;
            Instruction::Add(Add {
                sources,
                dest,
                heredocs,
                chown: flags.get("chown"),
                chmod: flags.get("chmod"),
                link: flags.bool("link").unwrap_or(false),
                exclude: flags.strings("exclude"),
                checksum: flags.get("checksum"),
                keep_git_dir: flags.bool("keep-git-dir"),
                unpack: flags.bool("unpack"),
            })
        }
        "env" => {
            no_flags(node)?;
            Instruction::Env(kvps(&args, "ENV")?)
        }
        "label" => {
            no_flags(node)?;
            Instruction::Label(kvps(&args, "LABEL")?)
        }
        "arg" => {
            at_least_one(&args, "ARG")?;
            no_flags(node)?;
            let defs = args
                .iter()
                .map(|a| match a.split_once('=') {
                    Some(("", _)) => fail("ARG names can not be blank"),
                    Some((k, v)) => Ok(ArgDef {
                        key: k.to_string(),
                        value: Some(v.to_string()),
                    }),
                    None => Ok(ArgDef {
                        key: a.clone(),
                        value: None,
                    }),
                })
                .collect::<Result<Vec<_>, _>>()?;
            Instruction::Arg(defs)
        }
        "workdir" => {
            let p = exactly_one(&args, "WORKDIR")?;
            no_flags(node)?;
            Instruction::Workdir(p)
        }
        "user" => {
            let u = exactly_one(&args, "USER")?;
            no_flags(node)?;
            Instruction::User(u)
        }
        "maintainer" => {
            let m = exactly_one(&args, "MAINTAINER")?;
            no_flags(node)?;
            Instruction::Maintainer(m)
        }
        "stopsignal" => Instruction::StopSignal(exactly_one(&args, "STOPSIGNAL")?),
        "expose" => {
            at_least_one(&args, "EXPOSE")?;
            no_flags(node)?;
            let mut ports = args;
            ports.sort();
            Instruction::Expose(ports)
        }
        "volume" => {
            at_least_one(&args, "VOLUME")?;
            no_flags(node)?;
            let mut vols = Vec::new();
            for v in &args {
                let v = v.trim();
                if v.is_empty() {
                    return fail("VOLUME specified can not be an empty string");
                }
                vols.push(v.to_string());
            }
            Instruction::Volume(vols)
        }
        "cmd" => {
            no_flags(node)?;
            Instruction::Cmd(command_line(node, args))
        }
        "entrypoint" => {
            no_flags(node)?;
            Instruction::Entrypoint(command_line(node, args))
        }
        "shell" => {
            no_flags(node)?;
            if args.is_empty() {
                return fail("SHELL requires at least one argument");
            }
            if !node.json {
                return Err((
                    "SHELL requires the arguments to be in JSON form".into(),
                    Some(r#"write it as SHELL ["executable", "parameters"]"#.into()),
                ));
            }
            Instruction::Shell(args)
        }
        "healthcheck" => healthcheck(node, &args)?,
        "onbuild" => {
            at_least_one(&args, "ONBUILD")?;
            no_flags(node)?;
            let trigger_kw = args[0].trim().to_ascii_uppercase();
            match trigger_kw.as_str() {
                "ONBUILD" => return fail("Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed"),
                "MAINTAINER" | "FROM" => {
                    return fail(format!("{trigger_kw} isn't allowed as an ONBUILD trigger"));
                }
                _ => {}
            }
            let Some(child) = node.next.first().and_then(|n| n.children.first()) else {
                return fail("ONBUILD requires at least one argument");
            };
            let mut child = child.clone();
            child.heredocs = node.heredocs.clone();
            let trigger = instruction(&child)?;
            let mut expression = strip_onbuild(&node.original).to_string();
            for h in &node.heredocs {
                expression.push('\n');
                expression.push_str(&h.content);
                expression.push_str(&h.name);
            }
            Instruction::Onbuild(Onbuild {
                expression,
                trigger: Box::new(trigger),
            })
        }
        _ => {
            let hint = suggest(&node.value, INSTRUCTIONS).map(|s| format!("did you mean {s}?"));
            return Err((format!("unknown instruction: {}", node.value), hint));
        }
    })
}

/// `(?i)^\s*ONBUILD\s*` removed.
fn strip_onbuild(original: &str) -> &str {
    let t = original.trim_start();
    if t.len() >= 7 && t[..7].eq_ignore_ascii_case("onbuild") {
        t[7..].trim_start()
    } else {
        original
    }
}

fn healthcheck(node: &Node, args: &[String]) -> Result<Instruction, Fail> {
    use FlagKind::*;
    at_least_one(args, "HEALTHCHECK")?;
    let typ = args[0].to_ascii_uppercase();
    let rest = &args[1..];
    if typ == "NONE" {
        if !rest.is_empty() {
            return fail("HEALTHCHECK NONE takes no arguments");
        }
        return Ok(Instruction::Healthcheck(Healthcheck {
            test: vec![typ],
            interval: None,
            timeout: None,
            start_period: None,
            start_interval: None,
            retries: None,
        }));
    }
    let flags = Flags::parse(
        &node.flags,
        &[
            ("interval", Str),
            ("timeout", Str),
            ("start-period", Str),
            ("start-interval", Str),
            ("retries", Str),
        ],
    )?;
    if typ != "CMD" {
        return Err((
            format!("Unknown type \"{typ}\" in HEALTHCHECK"),
            Some("try CMD".into()),
        ));
    }
    let cmd: Vec<String> = if node.json {
        rest.to_vec()
    } else if rest.is_empty() {
        vec![]
    } else {
        vec![rest.join(" ")]
    };
    if cmd.is_empty() {
        return fail("Missing command after HEALTHCHECK CMD");
    }
    let mut test = vec![if node.json { "CMD" } else { "CMD-SHELL" }.to_string()];
    test.extend(cmd);
    let interval = |name: &str| -> Result<Option<Duration>, Fail> {
        let Some(v) = flags.get(name) else {
            return Ok(None);
        };
        let ns = oci::go_duration::parse(&v).map_err(|e| (format!("--{name}: {e}"), None))?;
        if ns == 0 {
            return Ok(None);
        }
        // BuildKit's rule, which a negative interval fails too.
        if ns < 1_000_000 {
            return fail(format!("Interval \"{name}\" cannot be less than 1ms"));
        }
        Ok(Some(Duration::from_nanos(ns as u64)))
    };
    let retries = match flags.get("retries") {
        None => None,
        Some(v) => match v.parse::<i64>() {
            Ok(n) if n < 0 => return fail(format!("--retries cannot be negative ({n})")),
            Ok(n) => {
                Some(u32::try_from(n).map_err(|_| (format!("--retries out of range: {v}"), None))?)
            }
            Err(_) => return fail(format!("--retries: invalid number {v:?}")),
        },
    };
    Ok(Instruction::Healthcheck(Healthcheck {
        test,
        interval: interval("interval")?,
        timeout: interval("timeout")?,
        start_period: interval("start-period")?,
        start_interval: interval("start-interval")?,
        retries,
    }))
}
