//! Running the planned stages: each on its own thread as soon as every stage it depends
//! on is done, with events passed on in the order they happen.

use super::steps::StagePlan;
use super::*;

/// What workers send to the scheduler.
pub(super) enum Msg {
    Event(Event),
    Stage(usize, Result<Box<StageDone>, BuildError>),
}

/// A finished stage and what its worker counted.
pub(super) struct StageDone {
    image: StageImage,
    executed: usize,
    cached: usize,
}

/// Runs the planned stages, each on its own thread as soon as every stage it depends on
/// is done, so independent stages build in parallel. Events are passed to `events` on
/// this thread, in the order they happen. After a failure no new stage starts; the first
/// error is returned once running stages have ended.
pub(super) fn schedule<'a>(
    b: &mut Builder<'a>,
    stages: &'a Stages,
    plan: &'a plan::Plan,
    planned: &HashMap<usize, StagePlan>,
    rx: &mpsc::Receiver<Msg>,
    events: &mut dyn FnMut(&Event),
) -> Result<HashMap<usize, StageImage>, BuildError> {
    let mut done: HashMap<usize, StageImage> = HashMap::new();
    let mut started = std::collections::HashSet::new();
    let mut running = 0;
    let mut failed = None;
    std::thread::scope(|s| {
        loop {
            if failed.is_none() {
                for ps in &plan.stages {
                    if started.contains(&ps.index) || !ps.deps.iter().all(|d| done.contains_key(d))
                    {
                        continue;
                    }
                    started.insert(ps.index);
                    running += 1;
                    let mut w = b.worker(&done, ps.index);
                    let stage = &stages.stages[ps.index];
                    let sp = &planned[&ps.index];
                    s.spawn(move || {
                        let r = w.run_stage(stage, sp).map(|image| {
                            Box::new(StageDone {
                                image,
                                executed: w.executed,
                                cached: w.cached,
                            })
                        });
                        let _ = w.events.send(Msg::Stage(ps.index, r));
                    });
                }
            }
            if running == 0 {
                break;
            }
            match rx.recv() {
                Ok(Msg::Event(e)) => events(&e),
                Ok(Msg::Stage(i, Ok(d))) => {
                    running -= 1;
                    let d = *d;
                    b.executed += d.executed;
                    b.cached += d.cached;
                    done.insert(i, d.image);
                }
                Ok(Msg::Stage(_, Err(e))) => {
                    running -= 1;
                    failed.get_or_insert(e);
                }
                Err(_) => break,
            }
        }
    });
    match failed {
        Some(e) => Err(e),
        None => Ok(done),
    }
}

impl<'a> Builder<'a> {
    /// A builder for stage `index` on another thread: shares the store, lease and
    /// counters, and starts from the stages already `done`.
    /// The context's digests stay with the scheduler: the plan made every key.
    pub(super) fn worker(&self, done: &HashMap<usize, StageImage>, index: usize) -> Builder<'a> {
        Builder {
            store: self.store,
            req: self.req,
            cache: self.cache.clone(),
            lex: self.lex.clone(),
            file: self.file.clone(),
            context: self.context.clone(),
            hashes: FileHashes::default(),
            lease: self.lease,
            events: self.events.clone(),
            seq: self.seq,
            executed: 0,
            cached: 0,
            stages: done.clone(),
            roots: HashMap::new(),
            tmp: self.tmp.join(format!("stage-{index}")),
            global_args: self.global_args.clone(),
            platform_args: self.platform_args.clone(),
            platform: self.platform.clone(),
            runtime: self.runtime.clone(),
            lower_memo: HashMap::new(),
            all: self.all,
            stage_keys: self.stage_keys.clone(),
        }
    }
}
