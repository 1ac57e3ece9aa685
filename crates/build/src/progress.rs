//! Build progress as events: the CLI renders them BuildKit-style (`#3 [2/4] COPY . /app`,
//! `#3 CACHED`); tests count them.

/// Something that happened during a build.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Event {
    /// A step starts: `#id [stage n/total] text`.
    Step {
        /// Sequence number of the step in this build (1-based).
        id: usize,
        /// The stage's name or index.
        stage: String,
        /// Position of the step within its stage (1-based).
        index: usize,
        /// Steps in the stage (FROM included).
        total: usize,
        /// The instruction as written.
        text: String,
    },
    /// The step's result came from the cache; nothing ran.
    Cached {
        /// The step.
        id: usize,
    },
    /// The step is executed, and why the cache could not serve it.
    Miss {
        /// The step.
        id: usize,
        /// Why: `--no-cache`, a changed file, a changed argument, a rebuilt parent, …
        reason: String,
    },
    /// A line of output of a RUN step.
    Output {
        /// The step.
        id: usize,
        /// The line, without its newline.
        line: String,
    },
    /// The step finished.
    Done {
        /// The step.
        id: usize,
        /// How long it took.
        seconds: f64,
    },
    /// The step was running when the build was canceled.
    Canceled {
        /// The step.
        id: usize,
    },
    /// The image was written and named.
    Image {
        /// The image ID (config digest).
        id: oci::Digest,
        /// The names it got.
        tags: Vec<String>,
    },
}
