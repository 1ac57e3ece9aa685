//! The build planned step by step, before anything executes, then executed from the plan.
//!
//! Once the base images are resolved (their configs and IDs known), one pass walks every
//! needed stage's instructions evolving the config as the image will (ENV, ARG, WORKDIR,
//! USER, SHELL, … change it deterministically; RUN, COPY and ADD never do), expands each
//! instruction and derives its cache key from the parent key, the expanded text, the ARGs
//! it uses and its content: for COPY/ADD from the context the digests of the context's
//! metadata cache, for `COPY --from=stage` / `RUN --mount=from=stage` the source stage's
//! final key (never its files). This is the only place the config evolves: execution
//! consumes the planned steps, looks each one up by its key, and runs only the misses —
//! a fully cached build is the plan and one cache lookup per layer step.

use super::layers::Prepared;
use super::*;

/// Whether a step's result may come from the cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Lookup {
    /// Looked up by its key.
    ByKey,
    /// Always executed, for this reason (`--no-cache`). Its key is still the parent of
    /// the next step's, and its result is recorded under it.
    Never(&'static str),
}

/// One planned step of a stage.
pub(super) struct Step {
    /// The instruction (owned: ONBUILD triggers come from the base image's config).
    pub(super) cmd: Command,
    /// Its number in the stage's progress (BuildKit numbers FROM, RUN, COPY, ADD, WORKDIR).
    pub(super) index: usize,
    /// The chain key after this step.
    pub(super) key: Digest,
    /// Whether the cache may serve it.
    pub(super) lookup: Lookup,
    /// The image's container config and author after this step.
    pub(super) config: oci::ContainerConfig,
    pub(super) author: Option<String>,
    /// What executing it does.
    pub(super) what: What,
}

/// What a planned step does when executed.
pub(super) enum What {
    /// Changes only the config: a history entry with this text, if any (ONBUILD has none).
    Config(Option<String>),
    /// Adds a layer (COPY, ADD, RUN, WORKDIR).
    Layer(Box<LayerStep>),
}

/// A layer step as planned: everything its execution needs that the plan knows.
pub(super) struct LayerStep {
    /// The expanded instruction, ready to run.
    pub(super) prepared: Prepared,
    /// Its history text, as BuildKit writes it.
    pub(super) created_by: String,
    /// Its key's inputs, to explain a later miss.
    pub(super) inputs: LastInputs,
    /// The ARGs in scope, and those set after an ENV of their name (RUN's environment).
    pub(super) args: BTreeMap<String, String>,
    pub(super) arg_over_env: BTreeSet<String>,
}

/// One stage, planned.
pub(super) struct StagePlan {
    /// Its name in progress (`AS` name, or `stage-N`).
    pub(super) label: String,
    /// Its steps that count in progress, FROM included.
    pub(super) total: usize,
    /// What execution starts from.
    pub(super) start: Start,
    /// The key the stage's steps chain from.
    pub(super) base_key: Digest,
    /// The steps, in order (ONBUILD triggers of the base first).
    pub(super) steps: Vec<Step>,
    /// The stage as the plan leaves it: config, key and ARGs (no layers).
    pub(super) end: StageImage,
}

/// What a stage's execution starts from.
pub(super) enum Start {
    /// A `FROM` image (loaded, held by the build's lease) or `scratch`.
    Image(Box<StageImage>),
    /// The image an earlier stage (by index) built.
    Stage(usize),
}

/// BuildKit numbers the steps that do something: FROM, RUN, COPY, ADD, WORKDIR.
fn is_op(c: &Command) -> bool {
    matches!(
        c.instruction,
        Instruction::Run(_) | Instruction::Copy(_) | Instruction::Add(_) | Instruction::Workdir(_)
    )
}

impl<'a> Builder<'a> {
    /// Plans every stage of `plan`, in order (a stage's dependencies come before it).
    pub(super) fn plan_stages(
        &mut self,
        stages: &Stages,
        plan: &plan::Plan,
    ) -> Result<HashMap<usize, StagePlan>, BuildError> {
        let mut out: HashMap<usize, StagePlan> = HashMap::new();
        for ps in &plan.stages {
            let sp = self.plan_stage(&stages.stages[ps.index], ps, &out)?;
            self.stage_keys.insert(ps.index, sp.end.key.clone());
            out.insert(ps.index, sp);
        }
        Ok(out)
    }

    fn plan_stage(
        &mut self,
        stage: &dockerfile::Stage,
        ps: &plan::PlannedStage,
        planned: &HashMap<usize, StagePlan>,
    ) -> Result<StagePlan, BuildError> {
        let label = stage
            .name
            .clone()
            .unwrap_or_else(|| format!("stage-{}", ps.index));
        let total = stage.commands.iter().filter(|c| is_op(c)).count() + 1;
        let (start, mut st) = match &ps.base {
            Base::Scratch => {
                let mut config = ImageConfig::default();
                config.set_platform(&ps.platform);
                // BuildKit's empty image: the default PATH, and `/` as working dir.
                config.config.env = vec![format!("PATH={}", runtime::spec::DEFAULT_PATH)];
                config.config.working_dir = Some("/".into());
                let img = StageImage {
                    config,
                    layers: Vec::new(),
                    key: plan::base_key(None, &ps.platform),
                    args: BTreeMap::new(),
                    arg_over_env: BTreeSet::new(),
                    declared: Vec::new(),
                };
                (Start::Image(Box::new(img.clone())), img)
            }
            Base::Stage(s) => (Start::Stage(*s), planned[s].end.clone()),
            Base::Image(name) => {
                let mut img = self.load_image_for(name, &ps.platform)?;
                img.key =
                    plan::base_key(Some(&Digest::sha256_of(&img.config.to_vec())), &ps.platform);
                (Start::Image(Box::new(img.clone())), img)
            }
        };
        // A stage's RUN history lists only the ARGs it declares itself (BuildKit),
        // though it inherits their values from its base stage.
        st.declared.clear();
        st.layers.clear();
        let base_key = st.key.clone();
        let mut args = std::mem::take(&mut st.args);
        let mut steps = Vec::new();
        // ONBUILD triggers of the base run first.
        let triggers = std::mem::take(&mut st.config.config.on_build);
        if !triggers.is_empty() {
            let text = format!("FROM scratch\n{}\n", triggers.join("\n"));
            let df = dockerfile::parse_named("ONBUILD", &text)?;
            let parsed = dockerfile::instructions(&df)?;
            for cmd in &parsed.stages[0].commands {
                steps.push(self.plan_step(&mut st, &mut args, cmd, 1)?);
            }
        }
        let mut index = 1;
        let mut cmd_set = false;
        for cmd in &stage.commands {
            if is_op(cmd) {
                index += 1;
            }
            if matches!(cmd.instruction, Instruction::Cmd(_)) {
                cmd_set = true;
            }
            if matches!(cmd.instruction, Instruction::Entrypoint(_)) && !cmd_set {
                // A new ENTRYPOINT drops the base image's CMD, as Docker does.
                st.config.config.cmd = None;
            }
            steps.push(self.plan_step(&mut st, &mut args, cmd, index)?);
        }
        st.args = args;
        Ok(StagePlan {
            label,
            total,
            start,
            base_key,
            steps,
            end: st,
        })
    }

    /// Executes one planned stage, its dependencies being in `self.stages`.
    pub(super) fn run_stage(
        &mut self,
        stage: &dockerfile::Stage,
        sp: &StagePlan,
    ) -> Result<StageImage, BuildError> {
        let id = self.step_start(
            &sp.label,
            1,
            sp.total,
            &format!("FROM {}", stage.from.image),
        );
        let mut img = match &sp.start {
            Start::Image(img) => (**img).clone(),
            Start::Stage(s) => self.stages[s].clone(),
        };
        img.key = sp.base_key.clone();
        self.emit(Event::Done { id, seconds: 0.0 });
        // Looked up only once no other build of this process executes the same stage
        // (another platform's, when it does not depend on the platform).
        let _flight = super::inflight::enter(&sp.end.key);
        // Every planned key is known: one lookup for the stage (its layers leased at
        // once) rather than one per step.
        let keys: Vec<&Digest> = sp
            .steps
            .iter()
            .filter(|s| matches!(s.what, What::Layer(_)) && s.lookup == Lookup::ByKey)
            .map(|s| &s.key)
            .collect();
        let mut hits = self.cache.get_all(self.store, self.lease, &keys);
        for step in &sp.steps {
            crate::cancel::check()?;
            match &step.what {
                What::Config(history) => {
                    if let Some(text) = history {
                        let h = self.history(text.clone(), true, img.config.history.last());
                        img.config.history.push(h);
                    }
                }
                What::Layer(ls) => {
                    let hit = hits.remove(&step.key);
                    self.exec_layer(&mut img, step, ls, hit, &sp.label, sp.total)?;
                }
            }
            img.config.config = step.config.clone();
            img.config.author = step.author.clone();
            img.key = step.key.clone();
        }
        img.config.config = sp.end.config.config.clone();
        img.config.author = sp.end.config.author.clone();
        img.args = sp.end.args.clone();
        img.arg_over_env = sp.end.arg_over_env.clone();
        img.declared = sp.end.declared.clone();
        Ok(img)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The planned key of every layer-or-config step, stage by stage, for `text` in `ctx`
    /// with `args`: the plan only (nothing executes, nothing is looked up).
    fn planned_keys(ctx: &Path, text: &str, args: &[(&str, &str)]) -> Vec<Vec<Digest>> {
        let root = tempfile::tempdir().unwrap();
        let store = Store::open(root.path()).unwrap();
        let req = BuildRequest {
            context: ctx.to_path_buf(),
            dockerfile: text.into(),
            dockerfile_name: "Dockerfile".into(),
            build_args: args
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            platform: Some(Platform::new("linux", "amd64")),
            ..Default::default()
        };
        let planned = Planned::of(&req).unwrap();
        let lease = store.lease().unwrap();
        let (tx, _rx) = mpsc::channel();
        let seq = AtomicUsize::new(0);
        let context = Tree::context(ctx, None).unwrap();
        let tmp = root.path().join("tmp");
        let mut b = Builder::new(&store, &req, &planned, context, &lease, tx, &seq, tmp);
        let plans = b.plan_stages(&planned.stages, &planned.plan).unwrap();
        assert!(
            store
                .layout()
                .tmp_dir()
                .read_dir()
                .map_or(true, |mut d| d.next().is_none()),
            "planning wrote nothing"
        );
        planned
            .plan
            .stages
            .iter()
            .map(|s| {
                plans[&s.index]
                    .steps
                    .iter()
                    .map(|st| st.key.clone())
                    .collect()
            })
            .collect()
    }

    const DF: &str = "FROM scratch AS src\nARG NOTE=1\nENV NOTE=$NOTE\nCOPY f /f\n\
FROM scratch\nCOPY --from=src /f /g\nCOPY h /h\nLABEL l=1\n";

    /// Every input of a step changes its key and the keys after it, and nothing else
    /// does: the table is (change, which keys of the two stages change).
    #[test]
    fn planned_keys_change_with_exactly_their_inputs() {
        let ctx = tempfile::tempdir().unwrap();
        let write = |name: &str, data: &str| fs::write(ctx.path().join(name), data).unwrap();
        write("f", "f1");
        write("h", "h1");
        let base = planned_keys(ctx.path(), DF, &[]);
        assert_eq!(base.iter().map(Vec::len).collect::<Vec<_>>(), [3, 3]);
        // (what, change, build args, Dockerfile, changed keys of stage src, of the last).
        type Case<'c> = (
            &'c str,
            &'c dyn Fn(),
            &'c [(&'c str, &'c str)],
            &'c str,
            [bool; 3],
            [bool; 3],
        );
        let none = || {};
        let cases: [Case; 8] = [
            ("nothing", &none, &[], DF, [false; 3], [false; 3]),
            (
                "an unused build arg",
                &none,
                &[("OTHER", "x")],
                DF,
                [false; 3],
                [false; 3],
            ),
            (
                "the arg the ENV uses",
                &none,
                &[("NOTE", "2")],
                DF,
                [false, true, true],
                [true; 3],
            ),
            (
                "the copied file",
                &|| write("f", "f2"),
                &[],
                DF,
                [false, false, true],
                [true; 3],
            ),
            (
                "an unrelated file",
                &|| write("u", "u"),
                &[],
                DF,
                [false; 3],
                [false; 3],
            ),
            (
                "the consumer's own file",
                &|| write("h", "h2"),
                &[],
                DF,
                [false; 3],
                [false, true, true],
            ),
            (
                "the consumer's text",
                &none,
                &[],
                &DF.replace("/f /g", "/f /k"),
                [false; 3],
                [true; 3],
            ),
            (
                "the source stage's text",
                &none,
                &[],
                &DF.replace("COPY f /f", "COPY f /f2"),
                [false, false, true],
                [true; 3],
            ),
        ];
        for (what, change, args, text, want_src, want_last) in cases {
            write("f", "f1");
            write("h", "h1");
            change();
            let keys = planned_keys(ctx.path(), text, args);
            let changed = |s: usize| -> Vec<bool> {
                keys[s].iter().zip(&base[s]).map(|(a, b)| a != b).collect()
            };
            assert_eq!(changed(0), want_src, "source stage after {what}");
            assert_eq!(changed(1), want_last, "last stage after {what}");
        }
    }
}
