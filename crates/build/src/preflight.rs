//! Checks made before anything is stored: every COPY/ADD source read from the context
//! exists and stays inside it, and every STOPSIGNAL names a signal (BuildKit refuses a bad
//! one while converting the Dockerfile, before any step runs). A build that would fail on such a source fails before its
//! first step, so it leaves the store as it was.
//!
//! Sources are expanded with the ARGs and ENVs the Dockerfile itself sets; a source that
//! uses a variable only the base image defines is left to the step itself.

use std::collections::BTreeMap;

use dockerfile::shell::Lex;
use dockerfile::{Instruction, Stages};

use crate::BuildError;
use crate::context::Tree;
use crate::plan::{self, Plan};

/// Resolves every context source of the stages `plan` builds; the first that is missing
/// or outside the context is the error, located at its line of Dockerfile `file`.
pub fn check_sources(
    file: &str,
    stages: &Stages,
    plan: &Plan,
    build_args: &BTreeMap<String, String>,
    lex: &Lex,
    context: &Tree,
) -> Result<(), BuildError> {
    let mut inherited = plan.platform_args.clone();
    inherited.extend(plan.global_args.clone());
    for ps in &plan.stages {
        let mut scope: BTreeMap<String, String> = BTreeMap::new();
        for cmd in &stages.stages[ps.index].commands {
            let sources = match &cmd.instruction {
                Instruction::Arg(defs) => {
                    for def in defs {
                        if let Ok(Some(v)) =
                            plan::arg_value(def, build_args, &inherited, &scope, lex)
                        {
                            scope.insert(def.key.clone(), v);
                        }
                    }
                    continue;
                }
                Instruction::Env(kvs) => {
                    for kv in kvs {
                        if let Ok(v) = lex.process_word(&kv.value, &scope) {
                            scope.insert(kv.key.clone(), v);
                        }
                    }
                    continue;
                }
                Instruction::StopSignal(sig) => {
                    let Ok(r) = lex.process_word_with_matches(sig, &scope) else {
                        continue;
                    };
                    if r.unmatched.is_empty() && !oci::change::is_signal(&r.result) {
                        return Err(BuildError::Dockerfile {
                            file: file.to_string(),
                            line: cmd.location.start_line,
                            message: invalid_signal(&r.result),
                        });
                    }
                    continue;
                }
                Instruction::Copy(c) if c.from.is_none() => &c.sources,
                Instruction::Add(a) => &a.sources,
                _ => continue,
            };
            for s in sources {
                if s.contains("://") {
                    continue;
                }
                let Ok(r) = lex.process_word_with_matches(s, &scope) else {
                    continue;
                };
                if r.unmatched.is_empty() {
                    context.resolve(&r.result).map_err(|e| BuildError::At {
                        file: file.to_string(),
                        line: cmd.location.start_line,
                        cause: Box::new(e),
                    })?;
                }
            }
        }
    }
    Ok(())
}

/// Docker's message for a STOPSIGNAL it cannot parse.
pub fn invalid_signal(signal: &str) -> String {
    format!("Invalid signal: {signal}")
}
