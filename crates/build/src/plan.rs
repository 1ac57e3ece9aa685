//! Planning (pure): which stages the target needs and in which order, ARG scoping across
//! FROM, the predefined platform ARGs, and cache keys. No I/O happens here.

use std::collections::{BTreeMap, BTreeSet};

use dockerfile::shell::Lex;
use dockerfile::{ArgDef, Instruction, Stages};
use oci::{Digest, Platform};
use serde::Serialize;

use crate::BuildError;

/// What the caller chose for a build, as far as planning is concerned.
#[derive(Debug, Clone, Default)]
pub struct PlanOptions {
    /// `--target`: build up to this stage (name or index); `None` is the last stage.
    pub target: Option<String>,
    /// `--build-arg K=V`.
    pub build_args: BTreeMap<String, String>,
    /// The platform the image is for (`TARGETPLATFORM`).
    pub target_platform: Platform,
    /// The platform the build runs on (`BUILDPLATFORM`).
    pub build_platform: Platform,
}

/// What a stage starts from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Base {
    /// `FROM scratch`: no layers, empty config.
    Scratch,
    /// An earlier stage, by index.
    Stage(usize),
    /// An image in the store, by the name written in FROM (expanded).
    Image(String),
}

/// One stage the build needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedStage {
    /// Index in the Dockerfile.
    pub index: usize,
    /// `AS` name.
    pub name: Option<String>,
    /// Its base.
    pub base: Base,
    /// Stages it reads (its base stage, `COPY --from`, `RUN --mount=from=`).
    pub deps: BTreeSet<usize>,
    /// The platform its base is for and its RUN steps execute as: `FROM --platform=…`
    /// (expanded: `$BUILDPLATFORM` makes a stage that runs natively whatever the target),
    /// else its base stage's, else the target platform.
    pub platform: Platform,
}

/// The stages the target needs, dependencies first, plus the resolved global ARGs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// Stages to build, each after every stage it depends on; the target is last.
    pub stages: Vec<PlannedStage>,
    /// Index of the target stage.
    pub target: usize,
    /// ARGs declared before the first FROM that have a value (build-arg or default).
    pub global_args: BTreeMap<String, String>,
    /// The predefined platform ARGs (`TARGETPLATFORM`, `BUILDARCH`, …).
    pub platform_args: BTreeMap<String, String>,
}

/// The predefined platform ARGs, as BuildKit defines them.
pub fn platform_args(target: &Platform, build: &Platform) -> BTreeMap<String, String> {
    let mut m = BTreeMap::new();
    for (prefix, p) in [("TARGET", target), ("BUILD", build)] {
        m.insert(format!("{prefix}PLATFORM"), p.to_string());
        m.insert(format!("{prefix}OS"), p.os.clone());
        m.insert(format!("{prefix}ARCH"), p.architecture.clone());
        m.insert(
            format!("{prefix}VARIANT"),
            p.variant.clone().unwrap_or_default(),
        );
    }
    m
}

/// The value an `ARG` definition takes: a `--build-arg` wins, then the default (expanded
/// with `scope`), then — for a bare `ARG NAME` inside a stage — the global ARG of that name
/// or the predefined platform ARG. `None`: declared but unset.
pub fn arg_value(
    def: &ArgDef,
    build_args: &BTreeMap<String, String>,
    inherited: &BTreeMap<String, String>,
    scope: &dyn dockerfile::shell::EnvGetter,
    lex: &Lex,
) -> Result<Option<String>, dockerfile::shell::ShellError> {
    if let Some(v) = build_args.get(&def.key) {
        return Ok(Some(v.clone()));
    }
    match &def.value {
        Some(default) => Ok(Some(lex.process_word(default, scope)?)),
        None => Ok(inherited.get(&def.key).cloned()),
    }
}

/// Plans the build of `stages` (from a file called `file`, escape token `escape`).
pub fn plan(
    stages: &Stages,
    file: &str,
    escape: char,
    opts: &PlanOptions,
) -> Result<Plan, BuildError> {
    let lex = Lex::new(escape);
    let platform = platform_args(&opts.target_platform, &opts.build_platform);
    let at = |line: usize, message: String| BuildError::Dockerfile {
        file: file.to_string(),
        line,
        message,
    };
    // Global ARGs: visible in FROM lines, and inherited by a bare `ARG NAME` in a stage.
    let mut global = BTreeMap::new();
    for cmd in &stages.global_args {
        if let Instruction::Arg(defs) = &cmd.instruction {
            for def in defs {
                let mut scope = platform.clone();
                scope.extend(global.clone());
                let v = arg_value(def, &opts.build_args, &BTreeMap::new(), &scope, &lex)
                    .map_err(|e| at(cmd.location.start_line, e.to_string()))?;
                if let Some(v) = v {
                    global.insert(def.key.clone(), v);
                }
            }
        }
    }
    let mut from_scope = platform.clone();
    from_scope.extend(global.clone());

    let find_stage =
        |name: &str, before: usize| -> Option<usize> { stages.find(name).filter(|i| *i < before) };
    let mut planned: Vec<PlannedStage> = Vec::new();
    for (i, stage) in stages.stages.iter().enumerate() {
        let line = stage.location.start_line;
        let image = lex
            .process_word(&stage.from.image, &from_scope)
            .map_err(|e| at(line, e.to_string()))?;
        if image.is_empty() {
            return Err(at(
                line,
                format!(
                    "FROM {:?} expands to an empty name (is a global ARG without a value?)",
                    stage.from.image
                ),
            ));
        }
        let explicit = match &stage.from.platform {
            Some(p) => {
                let p = lex
                    .process_word(p, &from_scope)
                    .map_err(|e| at(line, e.to_string()))?;
                Some(p.parse::<Platform>().map_err(|e| {
                    at(
                        line,
                        format!("invalid platform {p:?} in FROM --platform: {e}"),
                    )
                })?)
            }
            None => None,
        };
        let mut deps = BTreeSet::new();
        let base = if image.eq_ignore_ascii_case("scratch") {
            Base::Scratch
        } else if let Some(s) = stages
            .stages
            .iter()
            .take(i)
            .position(|s| s.name.as_deref() == Some(image.to_ascii_lowercase().as_str()))
        {
            deps.insert(s);
            Base::Stage(s)
        } else {
            Base::Image(image)
        };
        for cmd in &stage.commands {
            let mut froms = Vec::new();
            match &cmd.instruction {
                Instruction::Copy(c) => froms.extend(c.from.clone()),
                Instruction::Run(r) => froms.extend(r.mounts.iter().filter_map(|m| m.from.clone())),
                _ => {}
            }
            for f in froms {
                let f = lex
                    .process_word(&f, &from_scope)
                    .map_err(|e| at(cmd.location.start_line, e.to_string()))?;
                if let Some(s) = find_stage(&f, i) {
                    deps.insert(s);
                } else if stages.find(&f).is_some() {
                    return Err(at(
                        cmd.location.start_line,
                        format!("--from={f} refers to a stage that is not defined before this one"),
                    ));
                }
            }
        }
        let platform = match (explicit, &base) {
            (Some(p), _) => p.normalize(),
            (None, Base::Stage(s)) => planned[*s].platform.clone(),
            (None, _) => opts.target_platform.normalize(),
        };
        planned.push(PlannedStage {
            index: i,
            name: stage.name.clone(),
            base,
            deps,
            platform,
        });
    }
    let target = match &opts.target {
        Some(t) => stages
            .find(t)
            .ok_or_else(|| BuildError::NoSuchTarget(t.clone()))?,
        None => stages.stages.len() - 1,
    };
    // Only what the target reaches; dependencies always have lower indexes, so index
    // order is a topological order.
    let mut needed = BTreeSet::new();
    let mut todo = vec![target];
    while let Some(s) = todo.pop() {
        if needed.insert(s) {
            todo.extend(planned[s].deps.iter().copied());
        }
    }
    let stages = planned
        .into_iter()
        .filter(|s| needed.contains(&s.index))
        .collect();
    Ok(Plan {
        stages,
        target,
        global_args: global,
        platform_args: platform,
    })
}

#[derive(Serialize)]
struct KeyInput<'a> {
    v: u32,
    parent: &'a str,
    instruction: &'a str,
    args: &'a BTreeMap<String, String>,
    content: &'a [String],
}

/// The cache key of one step.
///
/// In: the parent step's key (which chains the base image ID and every earlier step),
/// the instruction text after variable expansion, the ARGs the step uses (name and value;
/// for RUN every ARG in scope, since they are its environment), and for COPY/ADD the
/// content digests of what is copied (file data, mode, uid/gid, link targets and names
/// relative to the copy — see [`crate::context`]); a `COPY --from=stage` or a bind from a
/// stage holds that stage's final key instead (and the path), an image's its ID.
/// Out: modification and access times, inode numbers, the context's location on the
/// host, tags, `--label`s (applied after the last step), the time of the build.
/// The inputs are serialised as JSON (so no two inputs hash the same) and hashed with
/// sha256. `v` changes whenever what a step produces from the same inputs changes (v2:
/// Docker-fidelity fixes to COPY, RUN and WORKDIR layers), so older cache entries are not
/// reused.
pub fn step_key(
    parent: &Digest,
    instruction: &str,
    args: &BTreeMap<String, String>,
    content: &[Digest],
) -> Digest {
    let content: Vec<String> = content.iter().map(|d| d.to_string()).collect();
    let bytes = serde_json::to_vec(&KeyInput {
        v: 2,
        parent: &parent.to_string(),
        instruction,
        args,
        content: &content,
    })
    .unwrap_or_default();
    Digest::sha256_of(&bytes)
}

/// The key a stage's steps chain from: `scratch`, or the base image's ID, with the
/// platform built for.
pub fn base_key(base_id: Option<&Digest>, platform: &Platform) -> Digest {
    let id = base_id.map_or_else(|| "scratch".to_string(), |d| d.to_string());
    Digest::sha256_of(format!("strata-build-base\0{id}\0{platform}").as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Stages {
        let df = dockerfile::parse_named("Dockerfile", text).unwrap();
        dockerfile::instructions(&df).unwrap()
    }

    fn opts(target: Option<&str>, args: &[(&str, &str)]) -> PlanOptions {
        PlanOptions {
            target: target.map(str::to_string),
            build_args: args
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            target_platform: Platform::new("linux", "amd64"),
            build_platform: Platform::new("linux", "arm64"),
        }
    }

    #[test]
    fn plans_only_needed_stages_in_order() {
        let df = "FROM scratch AS a\nFROM scratch AS b\nCOPY --from=a / /\nFROM b AS c\nFROM scratch AS d\nCOPY --from=0 / /\n";
        let stages = parse(df);
        for (target, want) in [
            (None, vec![0, 4 - 1]),
            (Some("c"), vec![0, 1, 2]),
            (Some("b"), vec![0, 1]),
            (Some("a"), vec![0]),
            (Some("1"), vec![0, 1]),
        ] {
            let p = plan(&stages, "Dockerfile", '\\', &opts(target, &[])).unwrap();
            let got: Vec<usize> = p.stages.iter().map(|s| s.index).collect();
            assert_eq!(got, want, "{target:?}");
        }
        let p = plan(&stages, "Dockerfile", '\\', &opts(Some("c"), &[])).unwrap();
        assert_eq!(p.stages[2].base, Base::Stage(1));
        assert!(matches!(
            plan(&stages, "Dockerfile", '\\', &opts(Some("nope"), &[])),
            Err(BuildError::NoSuchTarget(_))
        ));
    }

    #[test]
    fn each_stage_has_a_platform() {
        // Target linux/amd64, build platform linux/arm64 (see `opts`).
        let df = "ARG P=linux/arm/v7\n\
                  FROM --platform=$BUILDPLATFORM scratch AS tools\n\
                  FROM tools AS more\n\
                  FROM --platform=${P} scratch AS fixed\n\
                  FROM scratch AS plain\n\
                  FROM --platform=linux/aarch64 busybox AS named\n";
        let stages = parse(df);
        let p = plan(&stages, "Dockerfile", '\\', &opts(Some("named"), &[])).unwrap();
        // Only the target is needed; plan each as the target to see every stage.
        assert_eq!(p.stages.len(), 1);
        for (target, want) in [
            ("tools", "linux/arm64"),
            ("more", "linux/arm64"),
            ("fixed", "linux/arm/v7"),
            ("plain", "linux/amd64"),
            ("named", "linux/arm64"),
        ] {
            let p = plan(&stages, "Dockerfile", '\\', &opts(Some(target), &[])).unwrap();
            assert_eq!(
                p.stages.last().unwrap().platform.to_string(),
                want,
                "{target}"
            );
        }
        let p = plan(
            &stages,
            "Dockerfile",
            '\\',
            &opts(Some("fixed"), &[("P", "linux/riscv64")]),
        )
        .unwrap();
        assert_eq!(p.stages[0].platform.to_string(), "linux/riscv64");
        let bad = parse("FROM --platform=linux/not/an/arch/at/all scratch\n");
        let e = plan(&bad, "Dockerfile", '\\', &opts(None, &[])).unwrap_err();
        assert!(e.to_string().contains("invalid platform"), "{e}");
    }

    #[test]
    fn global_args_expand_in_from() {
        let df = "ARG BASE=alpine\nARG TAG\nFROM ${BASE}:${TAG:-3}\nFROM base-$TARGETARCH\nFROM scratch\n";
        let stages = parse(df);
        for (args, want0) in [
            (vec![], "alpine:3"),
            (vec![("TAG", "edge")], "alpine:edge"),
            (vec![("BASE", "debian"), ("TAG", "12")], "debian:12"),
        ] {
            let p = plan(&stages, "Dockerfile", '\\', &opts(Some("0"), &args)).unwrap();
            assert_eq!(p.stages[0].base, Base::Image(want0.into()), "{args:?}");
        }
        let p = plan(&stages, "Dockerfile", '\\', &opts(Some("1"), &[])).unwrap();
        assert_eq!(p.stages[0].base, Base::Image("base-amd64".into()));
        let p = plan(&stages, "Dockerfile", '\\', &opts(None, &[])).unwrap();
        assert_eq!(p.stages[0].base, Base::Scratch);
    }

    #[test]
    fn arg_values_follow_buildkit_precedence() {
        let lex = Lex::new('\\');
        let global: BTreeMap<String, String> = [("G".to_string(), "g".to_string())].into();
        let scope: BTreeMap<String, String> = [("X".to_string(), "x".to_string())].into();
        for (key, default, build_arg, want) in [
            ("G", None, None, Some("g")),
            ("G", Some("d"), None, Some("d")),
            ("G", Some("d"), Some("b"), Some("b")),
            ("U", None, None, None),
            ("U", Some("${X}1"), None, Some("x1")),
            ("U", None, Some("b"), Some("b")),
        ] {
            let def = ArgDef {
                key: key.into(),
                value: default.map(str::to_string),
            };
            let ba: BTreeMap<String, String> = build_arg
                .map(|v| (key.to_string(), v.to_string()))
                .into_iter()
                .collect();
            let got = arg_value(&def, &ba, &global, &scope, &lex).unwrap();
            assert_eq!(got.as_deref(), want, "{key} {default:?} {build_arg:?}");
        }
    }

    #[test]
    fn platform_args_are_predefined() {
        let m = platform_args(
            &Platform::new("linux", "amd64"),
            &Platform::new("linux", "arm64"),
        );
        for (k, v) in [
            ("TARGETPLATFORM", "linux/amd64"),
            ("TARGETOS", "linux"),
            ("TARGETARCH", "amd64"),
            ("TARGETVARIANT", ""),
            ("BUILDPLATFORM", "linux/arm64"),
            ("BUILDARCH", "arm64"),
        ] {
            assert_eq!(m[k], v, "{k}");
        }
    }

    #[test]
    fn keys_change_with_each_input() {
        let p = Digest::sha256_of(b"parent");
        let args: BTreeMap<String, String> = [("A".to_string(), "1".to_string())].into();
        let c = [Digest::sha256_of(b"content")];
        let k = step_key(&p, "COPY . /", &args, &c);
        assert_eq!(k, step_key(&p, "COPY . /", &args, &c), "deterministic");
        let args2: BTreeMap<String, String> = [("A".to_string(), "2".to_string())].into();
        for (name, other) in [
            (
                "parent",
                step_key(&Digest::sha256_of(b"p2"), "COPY . /", &args, &c),
            ),
            ("instruction", step_key(&p, "COPY . /x", &args, &c)),
            ("args", step_key(&p, "COPY . /", &args2, &c)),
            ("no args", step_key(&p, "COPY . /", &BTreeMap::new(), &c)),
            (
                "content",
                step_key(&p, "COPY . /", &args, &[Digest::sha256_of(b"c2")]),
            ),
        ] {
            assert_ne!(k, other, "{name}");
        }
        assert_ne!(
            base_key(None, &Platform::new("linux", "amd64")),
            base_key(Some(&p), &Platform::new("linux", "amd64"))
        );
    }
}
