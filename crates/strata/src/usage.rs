//! Usage errors in the shape and with the exit codes of Docker's CLI (cobra + pflag):
//! a flag error (unknown flag, missing or bad flag value) exits 125 with
//! `unknown flag: --bogus\nSee 'strata run --help'.`; a wrong number of arguments exits 1
//! with `"strata run" requires at least 1 argument.`, the hint, the usage line and the
//! command's description; an unknown command exits 1 with `strata: 'x' is not a strata
//! command.`. Help and version requests keep clap's own output.

use clap::error::{ContextKind, ContextValue, ErrorKind};

/// Docker's exit code for flag errors.
const FLAG_ERROR: u8 = 125;
/// Docker's exit code for argument-count errors and unknown commands.
const ARGS_ERROR: u8 = 1;

/// A usage error rendered Docker's way: what to print on stderr and the exit code.
#[derive(Debug, PartialEq, Eq)]
pub struct UsageError {
    /// The message, newline-terminated.
    pub message: String,
    /// The exit code.
    pub code: u8,
}

/// Renders clap's `err` for the command line `argv` (program name first) as Docker would;
/// `None` for help and version output, which clap prints itself.
pub fn render(root: &clap::Command, err: &clap::Error, argv: &[String]) -> Option<UsageError> {
    // Built, so that every argument knows how many values it takes.
    let mut root = root.clone();
    root.build();
    let root = &root;
    let (cmd, path) = invoked(root, argv);
    let name = format!(
        "{}{}",
        root.get_name(),
        path.iter().map(|p| format!(" {p}")).collect::<String>()
    );
    let hint = format!("See '{name} --help'.");
    let flag = |message: String| UsageError {
        message: format!("{message}\n{hint}\n"),
        code: FLAG_ERROR,
    };
    match err.kind() {
        ErrorKind::DisplayHelp
        | ErrorKind::DisplayVersion
        | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
        | ErrorKind::MissingSubcommand => None,
        ErrorKind::InvalidSubcommand => {
            let sub = context(err, ContextKind::InvalidSubcommand).unwrap_or_default();
            Some(UsageError {
                message: format!(
                    "{root}: '{sub}' is not a {root} command.\nSee '{name} --help'\n",
                    root = root.get_name()
                ),
                code: ARGS_ERROR,
            })
        }
        ErrorKind::UnknownArgument => {
            let arg = context(err, ContextKind::InvalidArg).unwrap_or_default();
            if let Some(long) = arg.strip_prefix("--") {
                Some(flag(format!("unknown flag: --{long}")))
            } else if let Some(short) = arg.strip_prefix('-').filter(|s| !s.is_empty()) {
                let c = short.chars().next().unwrap_or('-');
                Some(flag(format!("unknown shorthand flag: '{c}' in {arg}")))
            } else {
                // An extra operand: cobra's argument-count check.
                Some(args_error(cmd, &name, &hint))
            }
        }
        ErrorKind::InvalidValue | ErrorKind::ValueValidation => {
            let arg = context(err, ContextKind::InvalidArg).unwrap_or_default();
            let value = context(err, ContextKind::InvalidValue).unwrap_or_default();
            let id = arg.split_whitespace().next().unwrap_or_default();
            if !id.starts_with('-') {
                return Some(args_error(cmd, &name, &hint));
            }
            let spec = cmd.get_arguments().find(|a| {
                a.get_long().is_some_and(|l| id == format!("--{l}"))
                    || a.get_short().is_some_and(|s| id == format!("-{s}"))
            });
            if value.is_empty() && err.kind() == ErrorKind::InvalidValue {
                // pflag names the flag the way it was typed: the last word on the line.
                let typed = argv.last().map(String::as_str).unwrap_or(id);
                return Some(flag(match typed.strip_prefix("--") {
                    Some(_) => format!("flag needs an argument: {typed}"),
                    None => {
                        let c = typed.trim_start_matches('-').chars().last().unwrap_or('-');
                        format!("flag needs an argument: '{c}' in {typed}")
                    }
                }));
            }
            let names = match spec {
                Some(a) => match (a.get_short(), a.get_long()) {
                    (Some(s), Some(l)) => format!("-{s}, --{l}"),
                    (None, Some(l)) => format!("--{l}"),
                    (Some(s), None) => format!("-{s}"),
                    (None, None) => id.to_string(),
                },
                None => id.to_string(),
            };
            let reason = std::error::Error::source(err).map_or_else(
                || {
                    let valid = context(err, ContextKind::ValidValue).unwrap_or_default();
                    format!("must be one of {valid}")
                },
                |e| e.to_string(),
            );
            Some(flag(format!(
                "invalid argument \"{value}\" for \"{names}\" flag: {reason}"
            )))
        }
        ErrorKind::MissingRequiredArgument
        | ErrorKind::TooFewValues
        | ErrorKind::TooManyValues
        | ErrorKind::WrongNumberOfValues => {
            let arg = context(err, ContextKind::InvalidArg).unwrap_or_default();
            if arg.starts_with('-') {
                Some(flag(first_line(err)))
            } else {
                Some(args_error(cmd, &name, &hint))
            }
        }
        _ => Some(flag(first_line(err))),
    }
}

/// clap's message without its `error: ` prefix and its usage/tip lines.
fn first_line(err: &clap::Error) -> String {
    let text = err.render().to_string();
    let line = text.lines().next().unwrap_or_default();
    line.strip_prefix("error: ").unwrap_or(line).to_string()
}

/// The first string value clap recorded for `kind`.
fn context(err: &clap::Error, kind: ContextKind) -> Option<String> {
    match err.get(kind)? {
        ContextValue::String(s) => Some(s.clone()),
        ContextValue::Strings(v) => Some(v.join(", ")),
        other => Some(other.to_string()),
    }
}

/// cobra's argument-count error: how many operands `cmd` takes, its usage line and its
/// description.
fn args_error(cmd: &clap::Command, name: &str, hint: &str) -> UsageError {
    let positionals: Vec<&clap::Arg> = cmd.get_positionals().collect();
    let min: usize = positionals
        .iter()
        .filter(|a| a.is_required_set())
        .map(|a| a.get_num_args().map_or(1, |r| r.min_values().max(1)))
        .sum();
    let unbounded = positionals.iter().any(|a| {
        a.get_num_args()
            .is_some_and(|r| r.max_values() == usize::MAX)
    });
    // Saturating: an unbounded operand's maximum is usize::MAX, and another operand beside
    // it (`manifest create LIST IMAGE…`) would overflow a plain sum.
    let max: usize = positionals
        .iter()
        .map(|a| a.get_num_args().map_or(1, |r| r.max_values()))
        .fold(0, usize::saturating_add);
    let plural = |n: usize| if n == 1 { "argument" } else { "arguments" };
    let rule = if positionals.is_empty() {
        "accepts no arguments".to_string()
    } else if unbounded {
        format!("requires at least {min} {}", plural(min))
    } else if min == max {
        format!("requires exactly {min} {}", plural(min))
    } else if min == 0 {
        format!("requires at most {max} {}", plural(max))
    } else {
        format!("requires at least {min} and at most {max} arguments")
    };
    let usage = docker_usage(cmd, name);
    let about = cmd.get_about().map(|a| a.to_string()).unwrap_or_default();
    UsageError {
        message: format!("\"{name}\" {rule}.\n{hint}\n\nUsage:  {usage}\n\n{about}\n"),
        code: ARGS_ERROR,
    }
}

/// cobra's usage line: `strata rm [OPTIONS] CONTAINER [CONTAINER...]` (`[OPTIONS]` only
/// when the command has flags; a value name with spaces, `IMAGE [COMMAND] [ARG...]`, is
/// the whole operand list).
fn docker_usage(cmd: &clap::Command, name: &str) -> String {
    let mut usage = name.to_string();
    let has_flags = cmd.get_arguments().any(|a| {
        !a.is_positional()
            && !a.is_global_set()
            && !matches!(a.get_id().as_str(), "help" | "version")
    });
    if has_flags {
        usage.push_str(" [OPTIONS]");
    }
    for a in cmd.get_positionals() {
        let value = a
            .get_value_names()
            .and_then(|v| v.first())
            .map_or_else(|| a.get_id().as_str().to_uppercase(), |v| v.to_string());
        let many = a.get_num_args().is_some_and(|r| r.max_values() > 1);
        let word = if value.contains(' ') {
            value
        } else if many && a.is_required_set() {
            format!("{value} [{value}...]")
        } else if many {
            format!("[{value}...]")
        } else if a.is_required_set() {
            value
        } else {
            format!("[{value}]")
        };
        usage.push(' ');
        usage.push_str(&word);
    }
    usage
}

/// The (sub)command `argv` names and the subcommand words leading to it: options (and the
/// values of those that take one) are skipped, words that name a subcommand descend.
fn invoked<'a>(root: &'a clap::Command, argv: &[String]) -> (&'a clap::Command, Vec<String>) {
    let mut cmd = root;
    let mut path = Vec::new();
    let mut words = argv.iter().skip(1);
    while let Some(w) = words.next() {
        if w == "--" {
            break;
        }
        if let Some(opt) = w.strip_prefix('-').filter(|o| !o.is_empty()) {
            if w.contains('=') {
                continue;
            }
            let takes_value = cmd
                .get_arguments()
                .chain(root.get_arguments().filter(|a| a.is_global_set()))
                .find(|a| match opt.strip_prefix('-') {
                    Some(long) => a.get_long() == Some(long),
                    None => opt.len() == 1 && a.get_short() == opt.chars().next(),
                })
                .is_some_and(|a| a.get_action().takes_values());
            if takes_value {
                words.next();
            }
            continue;
        }
        match cmd.find_subcommand(w) {
            Some(sub) => {
                path.push(sub.get_name().to_string());
                cmd = sub;
            }
            None => break,
        }
    }
    (cmd, path)
}

#[cfg(test)]
mod tests {
    use clap::{CommandFactory, Parser};

    use super::*;
    use crate::cli::Cli;

    fn usage(args: &[&str]) -> UsageError {
        let argv: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        let err = Cli::try_parse_from(&argv).expect_err("a usage error");
        render(&Cli::command(), &err, &argv).expect("not help")
    }

    #[test]
    fn flag_errors_exit_125_in_dockers_words() {
        for (args, message) in [
            (
                &["strata", "run", "--bogus", "bb"][..],
                "unknown flag: --bogus\nSee 'strata run --help'.\n",
            ),
            (
                &["strata", "run", "-z", "bb"],
                "unknown shorthand flag: 'z' in -z\nSee 'strata run --help'.\n",
            ),
            (
                &["strata", "image", "ls", "--bogus"],
                "unknown flag: --bogus\nSee 'strata image ls --help'.\n",
            ),
            (
                &["strata", "--root", "/x", "exec", "--bogus", "c"],
                "unknown flag: --bogus\nSee 'strata exec --help'.\n",
            ),
            (
                &["strata", "run", "-m"],
                "flag needs an argument: 'm' in -m\nSee 'strata run --help'.\n",
            ),
            (
                &["strata", "run", "--name"],
                "flag needs an argument: --name\nSee 'strata run --help'.\n",
            ),
            (
                &["strata", "stop", "-t", "x", "c"],
                "invalid argument \"x\" for \"-t, --time\" flag: invalid digit found in string\nSee 'strata stop --help'.\n",
            ),
            (
                &["strata", "images", "--filter", "dangling"],
                "invalid argument \"dangling\" for \"-f, --filter\" flag: bad format of filter (expected name=value)\nSee 'strata images --help'.\n",
            ),
        ] {
            let u = usage(args);
            assert_eq!((u.message.as_str(), u.code), (message, 125), "{args:?}");
        }
    }

    #[test]
    fn argument_count_errors_exit_1_with_the_usage() {
        for (args, first) in [
            (
                &["strata", "run"][..],
                "\"strata run\" requires at least 1 argument.\nSee 'strata run --help'.\n\nUsage:  strata run ",
            ),
            (
                &["strata", "exec", "c"],
                "\"strata exec\" requires at least 2 arguments.\n",
            ),
            (
                &["strata", "logs"],
                "\"strata logs\" requires exactly 1 argument.\n",
            ),
            (
                &["strata", "tag", "a"],
                "\"strata tag\" requires exactly 2 arguments.\n",
            ),
            (
                &["strata", "logs", "a", "b"],
                "\"strata logs\" requires exactly 1 argument.\n",
            ),
            (
                &["strata", "nope"],
                "strata: 'nope' is not a strata command.\nSee 'strata --help'\n",
            ),
        ] {
            let u = usage(args);
            assert!(u.message.starts_with(first), "{args:?}: {}", u.message);
            assert_eq!(u.code, 1, "{args:?}");
        }
        assert!(
            usage(&["strata", "logs"])
                .message
                .ends_with("\n\nFetch the logs of a container\n")
        );
    }

    /// `manifest create LIST` panicked with `attempt to add with overflow`: the maximum
    /// count of an unbounded operand (usize::MAX) was added to the one before it.
    #[test]
    fn count_error_of_an_unbounded_operand_after_another_does_not_overflow() {
        let cmd = clap::Command::new("create")
            .about("Create a list")
            .arg(clap::Arg::new("list").required(true).value_name("LIST"))
            .arg(
                clap::Arg::new("images")
                    .required(true)
                    .num_args(1..)
                    .value_name("IMAGE"),
            );
        let u = args_error(&cmd, "strata manifest create", "See 'x'.");
        assert!(
            u.message
                .starts_with("\"strata manifest create\" requires at least 2 arguments.\n"),
            "{}",
            u.message
        );
        assert_eq!(u.code, ARGS_ERROR);
    }
}
