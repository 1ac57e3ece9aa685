//! The builder's errors: what failed, where (Dockerfile line, context path), and how to fix.

use std::path::PathBuf;

/// Everything that can stop a build.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// The build was canceled ([`crate::cancel::cancel`]: SIGINT, SIGTERM); BuildKit's words.
    #[error("context canceled")]
    Canceled,
    /// The Dockerfile did not parse or type.
    #[error(transparent)]
    Parse(#[from] dockerfile::ParseError),
    /// A problem with the Dockerfile found while planning or executing it.
    #[error("{file}:{line}: {message}")]
    Dockerfile {
        /// The Dockerfile name.
        file: String,
        /// The 1-based line.
        line: usize,
        /// What is wrong, with a hint.
        message: String,
    },
    /// An error at a line of the Dockerfile. It shows its cause itself (not as a chained
    /// source), so `Display` alone says what and where.
    #[error("{file}:{line}: {cause}")]
    At {
        /// The Dockerfile name.
        file: String,
        /// The 1-based line.
        line: usize,
        /// What went wrong there.
        cause: Box<BuildError>,
    },
    /// COPY/ADD of a directory onto something that is not one (Docker's message).
    #[error("cannot copy to non-directory: /{dest}")]
    NotADirectory {
        /// The destination, relative to `/`.
        dest: String,
    },
    /// `--target` names no stage.
    #[error("target stage {0:?} could not be found (stages are named with FROM ... AS name)")]
    NoSuchTarget(String),
    /// A COPY/ADD source climbs out of the build context.
    #[error(
        "COPY/ADD source {path:?} is outside the build context {}; only files inside the context can be copied (move the file into the context)",
        context.display()
    )]
    OutsideContext {
        /// The source as written.
        path: String,
        /// The context directory.
        context: PathBuf,
    },
    /// A COPY/ADD source does not exist (or is excluded by .dockerignore).
    #[error("COPY/ADD source {path:?} not found in the build context {} (is it excluded by .dockerignore?)", context.display())]
    SourceNotFound {
        /// The source as written.
        path: String,
        /// The context (or stage root) searched.
        context: PathBuf,
    },
    /// An instruction the builder cannot run (yet) or a bad flag value.
    #[error("{instruction} at line {line}: {message}")]
    Unsupported {
        /// The keyword.
        instruction: String,
        /// The 1-based line.
        line: usize,
        /// Why.
        message: String,
    },
    /// A RUN step exited non-zero.
    #[error("RUN at line {line} ({command}) failed with exit code {code}{}", if output.is_empty() { String::new() } else { format!("; its last output:\n{output}") })]
    RunFailed {
        /// The 1-based line.
        line: usize,
        /// The command as run.
        command: String,
        /// Its exit code.
        code: i32,
        /// The last lines it printed.
        output: String,
    },
    /// A bad `.dockerignore` pattern.
    #[error("bad .dockerignore pattern: {0}")]
    Ignore(String),
    /// File-system trouble, with the path.
    #[error("cannot {op} {}", path.display())]
    Io {
        /// What was being done.
        op: &'static str,
        /// On which path.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The store refused something.
    #[error(transparent)]
    Store(#[from] store::StoreError),
    /// Writing or reading a layer failed.
    #[error(transparent)]
    Layer(#[from] layer::LayerError),
    /// The container runtime failed for a RUN step.
    #[error(transparent)]
    Runtime(#[from] runtime::RuntimeError),
    /// A stored image or config could not be read.
    #[error("base image {image}: {detail}")]
    BadImage {
        /// The image as named in FROM.
        image: String,
        /// What is wrong.
        detail: String,
    },
}

impl BuildError {
    pub(crate) fn io(op: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        BuildError::Io {
            op,
            path: path.into(),
            source,
        }
    }
}
