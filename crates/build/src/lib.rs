//! The builder: a Dockerfile and a context directory become an image in the store.
//!
//! It follows BuildKit's shape (parse, then type, then plan, then execute):
//!
//! - [`dockerfile`] parses and types the instructions (not this crate).
//! - [`plan`] (pure) picks the stages the target needs as a DAG (`FROM` an earlier stage,
//!   `COPY --from`, `RUN --mount=from=`), resolves ARGs across FROM (global ARGs in FROM
//!   lines, the predefined `TARGETPLATFORM`/`BUILDARCH`/… args, `--build-arg`), and
//!   defines the cache key of a step ([`plan::step_key`] says what goes in and out).
//! - [`preflight`] resolves every context source before anything is stored, so a COPY of
//!   a missing file or of a path outside the context changes nothing.
//! - [`build`] plans every step with its cache key once the base images are resolved: one
//!   pass evolves each stage's config (ENV, WORKDIR, USER, LABEL, CMD, … change it; RUN,
//!   COPY, ADD never do), expands each instruction and keys it on the parent key, the
//!   text, the ARGs it uses and its content (context files by their digests from the
//!   context's metadata cache, [`hashes`]; `COPY --from=stage` by that stage's final key).
//! - Then it executes the planned steps: each COPY/ADD/RUN/WORKDIR is looked up in the
//!   [`cache`] by its planned key; a hit reuses the stored layer and runs nothing. On a
//!   miss COPY/ADD ([`context`], [`copy`], [`lower`]) write their layer directly as a tar,
//!   without a container; RUN ([`run`]) runs in a container of the `runtime` crate and its
//!   overlay upper directory becomes the layer. [`Event`]s report every step as CACHED or
//!   why it missed. Each step's history entry reads as BuildKit's ([`history`]).
//! - The final config and an OCI manifest are stored and tagged. With
//!   `SOURCE_DATE_EPOCH` every time is clamped to it, so two builds of the same context
//!   give the same digests.
//!
//! ```
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let ctx = tempfile::tempdir()?;
//! std::fs::write(ctx.path().join("hello.txt"), "hi")?;
//! let root = tempfile::tempdir()?;
//! let store = store::Store::open(root.path())?;
//! let req = build::BuildRequest {
//!     context: ctx.path().to_path_buf(),
//!     dockerfile: "FROM scratch\nCOPY hello.txt /\nCMD [\"/hello\"]\n".into(),
//!     dockerfile_name: "Dockerfile".into(),
//!     tags: vec!["hello".into()],
//!     ..Default::default()
//! };
//! let built = build::build(&store, &req, &mut |e| eprintln!("{e:?}"))?;
//! assert_eq!(store.resolve_image("hello")?.id, built.id);
//! // Unchanged: everything comes from the cache.
//! assert_eq!(build::build(&store, &req, &mut |_| {})?.executed, 0);
//! # Ok(()) }
//! ```

mod builder;
pub mod cache;
pub mod cancel;
pub mod context;
pub mod copy;
mod error;
pub mod export;
pub mod hashes;
pub mod history;
pub mod lower;
pub mod plan;
pub mod preflight;
pub mod progress;
pub mod run;
pub mod stubs;
pub mod unpack;

pub use builder::{
    BuildRequest, Built, BuiltIndex, Planned, PlatformBuild, Secrets, build, build_held,
    build_index, build_planned, reap_dead_builds,
};
pub use error::BuildError;
pub use progress::Event;
