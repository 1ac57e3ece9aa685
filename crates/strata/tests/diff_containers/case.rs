//! What a case of the containers differential suite is: one `run` (or `create`) command, or
//! a short script of steps, run the same way through `docker` and `strata`.

use super::side::{Cmp, Side};

/// One case: a name (unique; also the stem of its container, volume and image names) and
/// what it runs.
pub struct Case {
    /// Unique name, `snake_case`.
    pub name: &'static str,
    /// What the case runs on each side.
    pub body: Body,
}

/// What a case runs, the same on both sides.
pub enum Body {
    /// One command (`run` and `create` get `--network none` unless they name a network).
    Run(&'static [&'static str], Cmp),
    /// One command with this text on its stdin.
    Input(&'static [&'static str], &'static str, Cmp),
    /// Several steps; each records what the engines must agree on.
    Script(fn(&Side)),
}

impl Case {
    /// Runs the case on one side.
    pub fn play(&self, s: &Side) {
        match &self.body {
            Body::Run(args, cmp) => {
                s.step(args, *cmp);
            }
            Body::Input(args, input, cmp) => {
                s.step_in(args, input, *cmp);
            }
            Body::Script(f) => f(s),
        }
    }
}

/// A one-command case judged on exit code and stdout.
pub const fn out(name: &'static str, args: &'static [&'static str]) -> Case {
    Case {
        name,
        body: Body::Run(args, Cmp::Out),
    }
}

/// A one-command case judged on exit code, stdout and stderr.
pub const fn full(name: &'static str, args: &'static [&'static str]) -> Case {
    Case {
        name,
        body: Body::Run(args, Cmp::Full),
    }
}

/// A one-command case judged on exit code only (errors whose wording is the engine's own).
pub const fn code(name: &'static str, args: &'static [&'static str]) -> Case {
    Case {
        name,
        body: Body::Run(args, Cmp::Code),
    }
}

/// A one-command case fed `stdin`, judged on exit code and stdout.
pub const fn input(name: &'static str, args: &'static [&'static str], stdin: &'static str) -> Case {
    Case {
        name,
        body: Body::Input(args, stdin, Cmp::Out),
    }
}

/// A multi-step case.
pub const fn script(name: &'static str, f: fn(&Side)) -> Case {
    Case {
        name,
        body: Body::Script(f),
    }
}
