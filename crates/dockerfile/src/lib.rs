//! Dockerfile language support for strata: everything between Dockerfile text and a list
//! of typed build stages, plus the `.dockerignore` matcher. Pure: no I/O.
//!
//! - [`parse`] turns text into a [`Dockerfile`] syntax tree ([`Node`]s with source lines),
//!   handling parser directives, comments, line continuations with the escape token,
//!   heredocs, JSON (exec) and shell forms, and builder flags, exactly as BuildKit does
//!   (the tree dumps byte-for-byte like BuildKit's `Node.Dump()`).
//! - [`instructions`] types the tree: one struct per instruction, grouped into [`Stage`]s.
//! - [`shell::Lex`] expands `$VAR`/`${VAR...}` words as BuildKit's shell lexer.
//! - [`ignore::PatternMatcher`] decides which context paths a `.dockerignore` excludes.
//!
//! ```
//! let df = dockerfile::parse("FROM alpine AS base\nRUN echo hi\n").unwrap();
//! assert_eq!(df.ast.children[1].dump(), r#"run "echo hi""#);
//! let stages = dockerfile::instructions(&df).unwrap();
//! assert_eq!(stages.stages[0].name.as_deref(), Some("base"));
//! ```

mod ast;
mod error;
mod flags;
mod glob;
pub mod heredoc;
pub mod ignore;
mod instructions;
pub mod line_parsers;
pub mod mount;
mod parser;
pub mod ports;
mod quote;
pub mod shell;
mod typer;

pub use ast::{Directive, Dockerfile, Heredoc, Node, Warning};
pub use error::ParseError;
pub use instructions::*;
pub use parser::{parse, parse_named};
pub use quote::go_quote;
pub use typer::instructions;
