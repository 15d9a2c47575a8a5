//! A compiled kernel: the model functions, one stepper, its runner and the initial-step
//! heuristic in one IR program, ready on a backend: the interpreter (`jit = false`) or native
//! code compiled by LLVM (`jit = true`, cargo feature `jit`).
//!
//! With `jit = true` the program is compiled as separate units, each an object file in an LLJIT
//! of its own (the units the disk cache stores): the model functions ([`Unit::Triplets`]),
//! the stepper's single step ([`Unit::Stepper`]) and the runner with the stepper and model
//! functions inlined into it, plus the adaptive initial step ([`Unit::Runner`]). The build
//! compiles the runner its runs take, the only unit a run needs; every other unit compiles
//! the first time something calls one of its functions (or a run takes another runner
//! variant), through the same caches and under the same key. Every [`Role`] is callable
//! natively and [`Kernel::is_jitted`] says so whether or not its unit has compiled yet; any
//! LLVM failure is an error (from [`Kernel::build_with`], or from the call or run that
//! needed the unit), never a silent fallback to the interpreter. A tiered kernel
//! ([`BuildOptions::tiered`]) compiles its runners in the background while its runs start
//! interpreted; a failure there leaves its runs interpreted, saying so in their warnings.

use std::sync::Arc;

use dynlib_interp::{Interpreter, Machine};
use dynlib_ir::lower::{lower_model, ModelFunctions};
use dynlib_ir::{Arg, Elem, FuncId, Program, Scalar};
use dynlib_model::Model;

use crate::error::RuntimeError;
use crate::observer::{Observers, TangentNeed};
use crate::runner::{emit_runner, Observed, RunnerVariant};
use crate::stepper::{emit_initial_step, StepperSpec, TangentMode};
use crate::units::CacheStats;

/// A function of a kernel, by what it does.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum Role {
    /// The derivative (ODE) or next state (map).
    Rhs,
    /// The inverse map (maps that declare one).
    InvRhs,
    /// Start-phase events.
    EventsPre,
    /// End-phase events.
    EventsPost,
    /// Aux values and the stop flag.
    UpdateAux,
    /// The dense Jacobian (models that declare one).
    Jacobian,
    /// The Jacobian-vector product (models that declare a Jacobian).
    Jvp,
    /// One step of the stepper.
    Stepper,
    /// The WRMS initial step (adaptive steppers).
    InitialStep,
    /// The runner loop.
    Runner(RunnerVariant),
}

impl Role {
    /// Every role, in the order [`Kernel::sources`] lists them.
    pub const ALL: [Role; 13] = [
        Role::Rhs,
        Role::InvRhs,
        Role::EventsPre,
        Role::EventsPost,
        Role::UpdateAux,
        Role::Jacobian,
        Role::Jvp,
        Role::Stepper,
        Role::InitialStep,
        Role::Runner(RunnerVariant::Base),
        Role::Runner(RunnerVariant::Fastpath),
        Role::Runner(RunnerVariant::Analysis),
        Role::Runner(RunnerVariant::FastpathAnalysis),
    ];

    /// The role's name (`rhs`, `events_pre`, `stepper`, ...), also its file name in
    /// [`Kernel::export_sources`].
    pub fn name(self) -> &'static str {
        match self {
            Role::Rhs => "rhs",
            Role::InvRhs => "inv_rhs",
            Role::EventsPre => "events_pre",
            Role::EventsPost => "events_post",
            Role::UpdateAux => "update_aux",
            Role::Jacobian => "jacobian",
            Role::Jvp => "jvp",
            Role::Stepper => "stepper",
            Role::InitialStep => "initial_step",
            Role::Runner(v) => v.stem(),
        }
    }

    /// The compiled unit that holds the role's function.
    pub fn unit(self) -> Unit {
        match self {
            Role::Stepper => Unit::Stepper,
            // The initial step is compiled with the (one) runner that uses it.
            Role::InitialStep => Unit::Runner(RunnerVariant::Base),
            Role::Runner(v) => Unit::Runner(v),
            _ => Unit::Triplets,
        }
    }
}

/// A unit of native compilation: one object file, one LLJIT.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum Unit {
    /// The model functions (the reference's "triplets": rhs, events, aux, and the Jacobian).
    Triplets,
    /// The stepper's single step (with the model functions it calls inlined).
    Stepper,
    /// The runner loop with everything inlined, and the adaptive initial step.
    Runner(RunnerVariant),
}

impl Unit {
    /// Every unit.
    pub const ALL: [Unit; 6] = [
        Unit::Triplets,
        Unit::Stepper,
        Unit::Runner(RunnerVariant::Base),
        Unit::Runner(RunnerVariant::Fastpath),
        Unit::Runner(RunnerVariant::Analysis),
        Unit::Runner(RunnerVariant::FastpathAnalysis),
    ];

    /// `triplets`, `stepper`, or the runner variant's stem (`runner`, `runner_fastpath`,
    /// ...).
    pub fn name(self) -> &'static str {
        match self {
            Unit::Triplets => "triplets",
            Unit::Stepper => "stepper",
            Unit::Runner(v) => v.stem(),
        }
    }
}

/// How to build a kernel.
#[derive(Clone, Debug)]
pub struct BuildOptions {
    /// Compile to native code with LLVM (needs the `jit` cargo feature).
    pub jit: bool,
    /// Run the IR optimisation passes first (they never change a result bit; tests turn
    /// them off to check exactly that).
    pub optimize: bool,
    /// Tiered execution (with `jit`): the kernel is ready at once; its runs start in the
    /// interpreter while the runner they take compiles on a thread of its own, and switch
    /// to native code at a chunk boundary once it is loaded. Default off here (a kernel
    /// built directly is what it says); [`crate::SetupOptions`] turns it on by default.
    pub tiered: bool,
    /// The disk cache for compiled units (`jit` only); `None` writes nothing to disk. The
    /// in-process cache is always used.
    pub disk: Option<dynlib_cache::DiskCache>,
    /// Observers to compile into an analysis runner beside the ordinary one: the kernel's
    /// fresh runs then run them ([`crate::observer`]).
    pub observers: Option<Observers>,
    /// Derive the Jacobian (and its product with a vector) from the right-hand side when
    /// the model declares none ([`dynlib_ir::ad`]), even when nothing built needs it; it
    /// is derived anyway for observers that need it.
    pub derive_jacobian: bool,
}

impl Default for BuildOptions {
    fn default() -> Self {
        BuildOptions {
            jit: false,
            optimize: true,
            tiered: false,
            disk: None,
            observers: None,
            derive_jacobian: false,
        }
    }
}

/// Where a kernel runs.
enum Backend {
    Interp(Interpreter),
    #[cfg(feature = "jit")]
    Native(Native),
}

/// A unit compiled on first use. Once loaded it is read without a lock (direct calls of
/// model functions go through here every time); `compiling` is held while it compiles, so
/// threads that need it meanwhile wait for the one compiling. A failure is not kept: the
/// next call or run that needs the unit tries again (a lock that timed out, a thread that
/// could not start, may do next time).
#[cfg(feature = "jit")]
#[derive(Default)]
struct LazyUnit {
    jit: std::sync::OnceLock<Arc<dynlib_native::Jit>>,
    compiling: std::sync::Mutex<()>,
}

/// Native code: the runner variant its runs are expected to take is compiled when the
/// kernel is built; every other unit (the model functions, the stepper, the other runner
/// variants: a kernel has up to four, a run uses one or two) the first time a call or run
/// needs it, through the same in-process and disk caches, once however many threads ask at
/// once (they wait for the one compiling).
#[cfg(feature = "jit")]
struct Native {
    units: Vec<(Unit, Arc<dynlib_native::Jit>)>,
    lazy: Vec<(Unit, Arc<LazyUnit>)>,
    disk: Option<dynlib_cache::DiskCache>,
    /// What the caches did for the lazily compiled units.
    stats: Arc<std::sync::Mutex<CacheStats>>,
    /// A tiered kernel's interpreter, which runs a run's calls until their unit is loaded.
    tier: Option<Box<Tier>>,
}

/// Tiered execution: the kernel's runner compiles on a background thread
/// ([`compile_in_background`]) while runs start in the interpreter; each call of a run
/// takes native code once its unit is loaded ([`Kernel::invoke_run`]).
#[cfg(feature = "jit")]
struct Tier {
    interp: Interpreter,
    /// The runner the kernel's runs are expected to take (compiled from the start).
    runner: FuncId,
    /// What another background compilation needs: a run that takes another runner
    /// variant (`--no-fastpath`, a transient of a kernel with observers) starts one for it.
    job: Background,
    /// The units whose background compilation this kernel started.
    started: std::sync::Mutex<Vec<Unit>>,
}

/// How a run's call chooses its backend on a tiered kernel.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum Tiering {
    /// Native code if its unit is loaded, else the interpreter: never waits.
    Auto,
    /// The interpreter.
    Interp,
    /// Native code, waiting for (or compiling) its unit.
    Native,
}

#[cfg(feature = "jit")]
impl Native {
    /// The loaded unit exporting `func`, if it is loaded (never compiles).
    fn ready(&self, func: FuncId) -> Option<Arc<dynlib_native::Jit>> {
        let loaded = self.units.iter().map(|(_, j)| j);
        let lazily = self.lazy.iter().filter_map(|(_, cell)| cell.jit.get());
        loaded.chain(lazily).find(|j| j.exports(func)).cloned()
    }
}

/// The model functions, stepper, runner and initial-step function of one model, as IR and
/// ready to run: the reference's `FullModel` (also exported under that name). Immutable and
/// `Send + Sync`: one kernel serves any number of threads, each with its own buffers.
///
/// Its parts are read through methods, never written: native code was compiled from them,
/// and the buffer lengths that keep it in bounds are derived from them.
pub struct Kernel {
    pub(crate) model: Arc<Model>,
    pub(crate) stepper: &'static StepperSpec,
    pub(crate) functions: ModelFunctions,
    pub(crate) step_fn: FuncId,
    pub(crate) initial_step: Option<FuncId>,
    /// Each runner variant the kernel has: BASE and FASTPATH, and with observers the
    /// analysis pair.
    pub(crate) runners: Vec<(RunnerVariant, FuncId)>,
    /// The observers compiled into the analysis runners, their vectors and the tangent
    /// mode each got.
    pub(crate) analysis: Option<KernelAnalysis>,
    backend: Backend,
    cache_stats: CacheStats,
    /// How it was built (without observers): its lane kernels are built alike.
    build: BuildOptions,
    /// Its lane kernels by width, each built the first time a batch packs runs that wide
    /// ([`crate::plan::lanes`]).
    lanes: std::sync::Mutex<Vec<(usize, Arc<Kernel>)>>,
    /// Unique in the process: plans and session cores remember the kernel they belong to.
    id: u64,
}

impl Kernel {
    /// Lowers `model`, emits `stepper_name` (or the model's default stepper) and its runner,
    /// optimises the program and prepares the interpreter.
    pub fn build(model: Arc<Model>, stepper_name: Option<&str>) -> Result<Kernel, RuntimeError> {
        Kernel::build_with(model, stepper_name, &BuildOptions::default())
    }

    /// [`Kernel::build`] with options: the backend, and whether the IR passes run.
    pub fn build_with(
        model: Arc<Model>,
        stepper_name: Option<&str>,
        options: &BuildOptions,
    ) -> Result<Kernel, RuntimeError> {
        if options.jit && !cfg!(feature = "jit") {
            return Err(RuntimeError::JitUnavailable);
        }
        let stepper = crate::stepper::resolve(&model, stepper_name)?;
        let mut functions = lower_on_a_big_stack(&model)?;
        let n = model.states.len();
        let observers_need = options
            .observers
            .as_ref()
            .is_some_and(|o| o.modules().iter().any(|m| m.requirements(model.kind).jvp));
        // Observers need the product with a vector; implicit steppers default to the exact
        // matrix (`jacobian_mode = auto`), which costs n copies of the right-hand side.
        let matrix = options.derive_jacobian || stepper.implicit;
        if matrix || observers_need {
            // A right-hand side that cannot be differentiated (lowering never makes one)
            // keeps no Jacobian; what needs one then asks for a declared one.
            let _ = dynlib_ir::ad::derive(&mut functions, n, matrix);
        }
        let step_fn = stepper.emit(&mut functions, n);
        let initial_step = stepper
            .adaptive
            .then(|| emit_initial_step(&mut functions, n, stepper.order));
        let mut runners = Vec::new();
        for v in [RunnerVariant::Base, RunnerVariant::Fastpath] {
            runners.push((
                v,
                emit_runner(&model, &mut functions, stepper, step_fn, v, None),
            ));
        }
        let analysis = match &options.observers {
            Some(obs) => {
                let modes = check_observers(&model, stepper, &functions, obs)?;
                let mut tangent = |mode| {
                    modes
                        .contains(&Some(mode))
                        .then(|| stepper.emit_tangent(&mut functions, n, mode))
                        .flatten()
                };
                let (combined, frozen) =
                    (tangent(TangentMode::Combined), tangent(TangentMode::Frozen));
                let observed = Observed {
                    observers: obs,
                    modes: &modes,
                    combined,
                    frozen,
                };
                for v in [RunnerVariant::Analysis, RunnerVariant::FastpathAnalysis] {
                    let f =
                        emit_runner(&model, &mut functions, stepper, step_fn, v, Some(observed));
                    runners.push((v, f));
                }
                Some(KernelAnalysis {
                    observers: obs.clone(),
                    vectors: observed.vectors(n, stepper),
                    modes,
                })
            }
            None => None,
        };
        // Both backends run the optimised program; the passes never change a result bit.
        if options.optimize {
            dynlib_ir::passes::optimize(&mut functions.program);
        }
        let roles = RoleFuncs {
            step_fn,
            initial_step,
            runners: runners.clone(),
        };
        let mut cache_stats = CacheStats::default();
        let backend = if options.jit {
            native(
                &model,
                stepper,
                &functions,
                &roles,
                options,
                &mut cache_stats,
            )?
        } else {
            Backend::Interp(Interpreter::new(&functions.program)?)
        };
        static NEXT_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        Ok(Kernel {
            model,
            stepper,
            functions,
            step_fn,
            initial_step,
            runners,
            analysis,
            backend,
            cache_stats,
            build: BuildOptions {
                observers: None,
                derive_jacobian: false,
                ..options.clone()
            },
            lanes: std::sync::Mutex::new(Vec::new()),
            id: NEXT_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
        })
    }

    /// True when it runs native code.
    pub fn is_native(&self) -> bool {
        self.backend_name() == "llvm"
    }

    /// True when its compiled units live in a disk cache too.
    pub fn has_disk_cache(&self) -> bool {
        self.build.jit && self.build.disk.is_some()
    }

    /// This kernel's model replicated `width` times side by side, built like this kernel
    /// (backend, passes, disk cache) the first time it is asked for and kept: the kernel
    /// a batch packs `width` runs into ([`crate::plan::lanes`]). Threads asking at once
    /// wait for the one building it. The caller has checked
    /// [`crate::plan::lanes::refusal`].
    pub(crate) fn lane_kernel(&self, width: usize) -> Result<Arc<Kernel>, RuntimeError> {
        let mut built = self.lanes.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((_, k)) = built.iter().find(|(w, _)| *w == width) {
            return Ok(k.clone());
        }
        let model = self.model.lanes(width).map_err(|why| {
            RuntimeError::option("lanes", format!("these runs cannot run in lanes: {why}"))
        })?;
        let k = Arc::new(Kernel::build_with(
            Arc::new(model),
            Some(self.stepper.name),
            &self.build,
        )?);
        built.push((width, k.clone()));
        Ok(k)
    }

    /// The cache key of `unit`: what the in-process and disk caches file it under (a digest
    /// of its IR, kind, dtype, codegen options and the backend's identity). Needs the `jit`
    /// feature (the backend identity is LLVM's).
    pub fn unit_key(&self, unit: Unit) -> Result<dynlib_cache::Key, RuntimeError> {
        #[cfg(feature = "jit")]
        {
            let opts = codegen_options(&self.model);
            let roles = self.roles();
            unit_request(
                &self.model,
                self.stepper,
                &self.functions,
                &roles,
                self.observers(),
                unit,
                &opts,
            )
            .map(|r| r.key)
        }
        #[cfg(not(feature = "jit"))]
        {
            let _ = unit;
            Err(RuntimeError::JitUnavailable)
        }
    }

    /// What the in-process and disk caches did for this kernel's units (all zero for an
    /// interpreted kernel): the unit compiled when it was built, and those compiled since for
    /// the calls and runs that needed them.
    pub fn cache_stats(&self) -> CacheStats {
        #[cfg(feature = "jit")]
        if let Backend::Native(n) = &self.backend {
            let lazy = *n.stats.lock().unwrap_or_else(|e| e.into_inner());
            return self.cache_stats.plus(lazy);
        }
        self.cache_stats
    }

    /// The functions a unit exports.
    pub fn unit_exports(&self, unit: Unit) -> Vec<FuncId> {
        self.roles().unit_exports(&self.functions, unit)
    }

    fn roles(&self) -> RoleFuncs {
        RoleFuncs {
            step_fn: self.step_fn,
            initial_step: self.initial_step,
            runners: self.runners.clone(),
        }
    }

    /// The observers compiled into this kernel's analysis runners.
    pub fn observers(&self) -> Option<&Observers> {
        self.analysis.as_ref().map(|a| &a.observers)
    }

    /// The function of runner `variant` (`None`: the kernel has no such runner; the
    /// analysis pair exists with observers only).
    pub(crate) fn runner(&self, variant: RunnerVariant) -> Option<FuncId> {
        self.runners
            .iter()
            .find(|(v, _)| *v == variant)
            .map(|&(_, f)| f)
    }

    /// The units this kernel has: the model functions, the stepper, the BASE and FASTPATH
    /// runners and, with observers, the analysis pair.
    pub fn units(&self) -> Vec<Unit> {
        self.roles().units()
    }

    /// The model.
    pub fn model(&self) -> &Arc<Model> {
        &self.model
    }

    /// The stepper.
    pub fn stepper(&self) -> &'static StepperSpec {
        self.stepper
    }

    /// The program and the ids of the model functions in it (the stepper, runner and
    /// initial step are [`Kernel::func`] of their [`Role`]).
    pub fn functions(&self) -> &ModelFunctions {
        &self.functions
    }

    /// The IR program.
    pub fn program(&self) -> &Program {
        &self.functions.program
    }

    /// The dtype's element type.
    pub fn elem(&self) -> Elem {
        self.functions.elem
    }

    /// The function of `role`, if this kernel has one (the inverse map, Jacobian and JVP
    /// exist only when the model declares them; the initial step only for adaptive steppers).
    pub fn func(&self, role: Role) -> Option<FuncId> {
        self.roles().func(&self.functions, role)
    }

    /// True when `role` exists and runs as native code (`jit = true`).
    pub fn is_jitted(&self, role: Role) -> bool {
        self.func(role).is_some()
            && match &self.backend {
                Backend::Interp(_) => false,
                #[cfg(feature = "jit")]
                Backend::Native(n) => {
                    n.units.iter().any(|(u, _)| *u == role.unit())
                        || n.lazy.iter().any(|(u, _)| *u == role.unit())
                }
            }
    }

    /// `"llvm"` for native code, `"interp"` for the interpreter.
    pub fn backend_name(&self) -> &'static str {
        match &self.backend {
            Backend::Interp(_) => "interp",
            #[cfg(feature = "jit")]
            Backend::Native(_) => "llvm",
        }
    }

    /// This kernel's identity in the process (no two kernels share one).
    pub fn id(&self) -> u64 {
        self.id
    }

    /// The sizes the stepper and runner ABIs measure their arrays in.
    pub(crate) fn dims(&self) -> crate::abi::Dims {
        crate::abi::Dims {
            states: self.model.states.len(),
            params: self.model.params.len(),
            aux: self.model.aux.len(),
            ring: self.functions.lags.ring_len,
            heads: self.functions.lags.rings.len(),
            step_scalars: self.stepper.workspace.scalars.len(),
            config: self.stepper.config.len(),
            log_width: self.functions.max_log_width,
        }
    }

    /// The least length of each pointer parameter of `role`'s function (`None` for
    /// scalars): the model functions' from `dynlib_ir::lower`'s signatures, the stepper's
    /// and the initial step's from [`crate::abi`]. The runner has none here: it is driven
    /// by [`Kernel::run`] only.
    fn min_lengths(&self, role: Role) -> Option<Vec<Option<usize>>> {
        use crate::abi::Abi as _;
        let n = self.model.states.len();
        let np = self.model.params.len();
        let ring = self.functions.lags.ring_len;
        let heads = self.functions.lags.rings.len();
        let s = |k: usize| Some(k);
        Some(match role {
            Role::Rhs | Role::InvRhs => vec![None, s(n), s(n), s(np), s(ring), s(heads)],
            Role::EventsPre | Role::EventsPost => vec![
                None,
                s(n),
                s(np),
                s(self.functions.max_log_width),
                s(self.functions.max_log_width),
                s(ring),
                s(heads),
            ],
            Role::UpdateAux => vec![
                None,
                s(n),
                s(np),
                s(self.model.aux.len()),
                s(ring),
                s(heads),
            ],
            Role::Jacobian => vec![None, s(n), s(np), s(n * n), s(ring), s(heads)],
            Role::Jvp => vec![None, s(n), s(np), s(n), s(n), s(ring), s(heads)],
            Role::Stepper => self.stepper.abi().min_lengths(&self.dims()),
            Role::InitialStep => crate::abi::InitialStepAbi.min_lengths(&self.dims()),
            Role::Runner(_) => return None,
        })
    }

    /// Calls the function of `role` on either backend, with the ABI of its role (see
    /// `dynlib_ir::lower` and the stepper module). Every array must be at least as long as
    /// the model needs (states, parameters, aux, lag rings, ...); a shorter one is an error,
    /// never an out-of-bounds access. The runner is driven by [`Kernel::run`] only.
    pub fn call(
        &self,
        machine: &mut Machine,
        role: Role,
        args: &mut [Arg<'_>],
    ) -> Result<Vec<Scalar>, RuntimeError> {
        let func = self.func(role).ok_or_else(|| {
            RuntimeError::Incompatible(format!("this kernel has no {} function", role.name()))
        })?;
        let mins = self.min_lengths(role).ok_or_else(|| {
            RuntimeError::Incompatible("the runner is driven by Kernel::run, not called".into())
        })?;
        if mins.len() != args.len() {
            return Err(RuntimeError::Shape {
                whose: role.name().to_string(),
                what: "arguments",
                expected: mins.len(),
                at_least: false,
                found: args.len(),
            });
        }
        for (k, (arg, min)) in args.iter().zip(&mins).enumerate() {
            if let (Some(len), Some(min)) = (arg_len(arg), *min) {
                if len < min {
                    return Err(RuntimeError::Shape {
                        whose: format!("argument {k} of {}", role.name()),
                        what: "elements",
                        expected: min,
                        at_least: true,
                        found: len,
                    });
                }
            }
        }
        let n = self.program().func(func).sig.returns.len();
        let mut results = vec![Scalar::Bool(false); n];
        // SAFETY: every array is at least as long as the function's ABI needs (checked
        // above), and the IR of a role indexes only within those lengths.
        unsafe { self.invoke(machine, func, args, &mut results)? };
        Ok(results)
    }

    /// Calls `func` on the kernel's backend.
    ///
    /// # Safety
    ///
    /// With native code, array accesses are not bounds checked: every array must be as long
    /// as `func` indexes it (the interpreter checks and traps instead).
    pub(crate) unsafe fn invoke(
        &self,
        machine: &mut Machine,
        func: FuncId,
        args: &mut [Arg<'_>],
        results: &mut [Scalar],
    ) -> Result<(), RuntimeError> {
        match &self.backend {
            Backend::Interp(interp) => interp
                .call_into(machine, func, args, results)
                .map_err(RuntimeError::from),
            #[cfg(feature = "jit")]
            Backend::Native(n) => {
                let _ = machine;
                let jit = self.native_unit(n, func)?;
                // SAFETY: forwarded from this function's contract.
                unsafe { jit.call(func, args, results) }.map_err(RuntimeError::from)
            }
        }
    }

    /// Calls `func` for a run, on the backend `tiering` picks on a tiered kernel (on any
    /// other, the kernel's own, as [`Kernel::invoke`]); returns true when native code ran.
    ///
    /// # Safety
    ///
    /// As [`Kernel::invoke`].
    pub(crate) unsafe fn invoke_run(
        &self,
        machine: &mut Machine,
        func: FuncId,
        args: &mut [Arg<'_>],
        results: &mut [Scalar],
        tiering: Tiering,
    ) -> Result<bool, RuntimeError> {
        #[cfg(feature = "jit")]
        if let Backend::Native(
            n @ Native {
                tier: Some(tier), ..
            },
        ) = &self.backend
        {
            let jit = match tiering {
                Tiering::Auto => {
                    let ready = n.ready(func);
                    if ready.is_none() {
                        if let Some((unit, cell)) = self.lazy_cell(n, func) {
                            tier.start(unit, cell);
                        }
                    }
                    ready
                }
                Tiering::Interp => None,
                Tiering::Native => Some(self.native_unit(n, func)?),
            };
            return match jit {
                // SAFETY: forwarded from this function's contract.
                Some(jit) => unsafe { jit.call(func, args, results) }
                    .map(|()| true)
                    .map_err(RuntimeError::from),
                None => tier
                    .interp
                    .call_into(machine, func, args, results)
                    .map(|()| false)
                    .map_err(RuntimeError::from),
            };
        }
        let _ = tiering;
        // SAFETY: forwarded from this function's contract.
        unsafe { self.invoke(machine, func, args, results)? };
        Ok(self.is_native())
    }

    /// True for a tiered kernel (runs start interpreted while the runner compiles).
    pub fn is_tiered(&self) -> bool {
        #[cfg(feature = "jit")]
        if let Backend::Native(Native { tier: Some(_), .. }) = &self.backend {
            return true;
        }
        false
    }

    /// Why a tiered kernel's background compilation failed, if it did.
    pub fn tier_failure(&self) -> Option<String> {
        #[cfg(feature = "jit")]
        if let Backend::Native(Native { tier: Some(t), .. }) = &self.backend {
            return t
                .job
                .failure
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone();
        }
        None
    }

    /// Blocks until the runner the kernel's runs take is loaded (at once for a kernel that
    /// is not tiered): what a benchmark or a test calls before it wants native steps only.
    /// The background compilation's error, if it failed.
    pub fn wait_native(&self) -> Result<(), RuntimeError> {
        #[cfg(feature = "jit")]
        if let Backend::Native(n @ Native { tier: Some(t), .. }) = &self.backend {
            self.native_unit(n, t.runner)?;
        }
        Ok(())
    }

    /// The lazily compiled unit that exports `func`, and its cell.
    #[cfg(feature = "jit")]
    fn lazy_cell<'n>(&self, n: &'n Native, func: FuncId) -> Option<(Unit, &'n Arc<LazyUnit>)> {
        n.lazy
            .iter()
            .find(|(u, _)| self.unit_exports(*u).contains(&func))
            .map(|(u, cell)| (*u, cell))
    }

    /// The loaded unit that exports `func`, compiling the unit on its first use.
    #[cfg(feature = "jit")]
    fn native_unit(
        &self,
        n: &Native,
        func: FuncId,
    ) -> Result<Arc<dynlib_native::Jit>, RuntimeError> {
        if let Some(jit) = n.ready(func) {
            return Ok(jit);
        }
        let (unit, cell) = self
            .lazy_cell(n, func)
            .ok_or_else(|| RuntimeError::Internal(format!("{func} is in no unit")))?;
        let _compiling = cell.compiling.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(jit) = cell.jit.get() {
            return Ok(jit.clone());
        }
        let got = obtain_unit(
            &self.model,
            self.stepper,
            &self.functions,
            &self.roles(),
            self.observers(),
            unit,
            n.disk.as_ref(),
        )?;
        let failure = n.tier.as_ref().map(|t| &*t.job.failure);
        Ok(settle(cell, got, &n.stats, failure))
    }

    /// The IR text of every function, by role: `rhs`, `inv_rhs`, `events_pre`,
    /// `events_post`, `update_aux`, `jacobian`, `jvp` (those the model has), `stepper`,
    /// `initial_step` (adaptive steppers) and `runner`; each as the backends run it.
    pub fn sources(&self) -> Vec<(&'static str, String)> {
        Role::ALL
            .iter()
            .filter_map(|&role| {
                self.func(role).map(|id| {
                    (
                        role.name(),
                        dynlib_ir::print_function(self.program().func(id), Some(self.program())),
                    )
                })
            })
            .collect()
    }

    /// The optimised LLVM IR and the host assembly of each compiled unit, as
    /// `(file name, text)`: `triplets.ll`, `triplets.s`, `stepper.ll`, ... Empty for an
    /// interpreted kernel. The text is regenerated from the IR, deterministically, so it
    /// is exactly what was compiled.
    pub fn native_sources(&self) -> Result<Vec<(String, String)>, RuntimeError> {
        #[cfg(feature = "jit")]
        if let Backend::Native(_) = &self.backend {
            let opts = codegen_options(&self.model);
            let mut out = Vec::new();
            for unit in self.units() {
                let exports = self.unit_exports(unit);
                let fail = |e: dynlib_native::Error| RuntimeError::native(unit.name(), e);
                let tag = dynlib_cache::key_tag(self.unit_key(unit)?.digest());
                let ir =
                    dynlib_native::llvm_ir(self.program(), &exports, &opts, &tag).map_err(fail)?;
                let asm =
                    dynlib_native::assembly(self.program(), &exports, &opts, &tag).map_err(fail)?;
                out.push((format!("{}.ll", unit.name()), ir));
                out.push((format!("{}.s", unit.name()), asm));
            }
            return Ok(out);
        }
        Ok(Vec::new())
    }

    /// Writes each of [`Kernel::sources`] to `dir/<role>.ir`, the whole program (which the
    /// IR parser reads back) to `dir/program.ir`, and for a native kernel each unit's LLVM IR
    /// and assembly ([`Kernel::native_sources`]), creating `dir`. Returns the files written.
    pub fn export_sources(
        &self,
        dir: &std::path::Path,
    ) -> Result<Vec<std::path::PathBuf>, RuntimeError> {
        if dir.exists() && !dir.is_dir() {
            return Err(RuntimeError::file(dir, "exists and is not a directory"));
        }
        std::fs::create_dir_all(dir).map_err(|e| RuntimeError::file(dir, e))?;
        let mut files: Vec<(String, String)> = self
            .sources()
            .into_iter()
            .map(|(role, text)| (format!("{role}.ir"), text))
            .collect();
        files.push((
            "program.ir".into(),
            dynlib_ir::print_program(self.program()),
        ));
        files.extend(self.native_sources()?);
        // Never over one of the model's own files (a model named program.ir in DIR).
        let inputs: Vec<&str> = self
            .model
            .sources
            .files()
            .iter()
            .filter_map(|f| f.path.as_deref())
            .collect();
        for (name, _) in &files {
            let path = dir.join(name);
            if let Some(input) = inputs
                .iter()
                .find(|i| dynlib_fs::same_file(&path, std::path::Path::new(i)))
            {
                return Err(RuntimeError::file(
                    &path,
                    format!("is the model's own file {input}; export into another directory"),
                ));
            }
        }
        let mut written = Vec::new();
        for (name, text) in files {
            let path = dir.join(name);
            // Never through a link planted under one of these names (replaced instead).
            dynlib_fs::write_atomic(&path, text.as_bytes())
                .map_err(|e| RuntimeError::file(&path, e))?;
            written.push(path);
        }
        Ok(written)
    }

    /// A fresh per-thread interpreter workspace (native kernels need none, but take one so
    /// callers do not care which backend runs).
    pub fn machine(&self) -> Machine {
        Machine::new()
    }
}

/// The ids of the functions the emitters add besides the model functions.
#[derive(Clone)]
struct RoleFuncs {
    step_fn: FuncId,
    initial_step: Option<FuncId>,
    runners: Vec<(RunnerVariant, FuncId)>,
}

impl RoleFuncs {
    fn func(&self, f: &ModelFunctions, role: Role) -> Option<FuncId> {
        match role {
            Role::Rhs => Some(f.rhs),
            Role::InvRhs => f.inv_rhs,
            Role::EventsPre => Some(f.events_pre),
            Role::EventsPost => Some(f.events_post),
            Role::UpdateAux => Some(f.update_aux),
            Role::Jacobian => f.jacobian,
            Role::Jvp => f.jvp,
            Role::Stepper => Some(self.step_fn),
            Role::InitialStep => self.initial_step,
            Role::Runner(v) => self.runners.iter().find(|r| r.0 == v).map(|r| r.1),
        }
    }

    fn units(&self) -> Vec<Unit> {
        Unit::ALL
            .into_iter()
            .filter(|&u| match u {
                Unit::Runner(v) => self.runners.iter().any(|r| r.0 == v),
                _ => true,
            })
            .collect()
    }

    fn unit_exports(&self, f: &ModelFunctions, unit: Unit) -> Vec<FuncId> {
        Role::ALL
            .iter()
            .filter(|r| r.unit() == unit)
            .filter_map(|&r| self.func(f, r))
            .collect()
    }
}

/// What compiling `unit` means: its program, exports, cache key and labels.
#[cfg(feature = "jit")]
#[allow(clippy::too_many_arguments)]
fn unit_request<'a>(
    model: &Model,
    stepper: &StepperSpec,
    functions: &'a ModelFunctions,
    roles: &RoleFuncs,
    observers: Option<&Observers>,
    unit: Unit,
    opts: &dynlib_native::CodegenOptions,
) -> Result<crate::units::UnitRequest<'a>, RuntimeError> {
    use dynlib_cache::{Component, Labels};
    let (component, stepper_label, variant) = match unit {
        Unit::Triplets => (Component::Triplets, "", None),
        Unit::Stepper => (Component::Steppers, stepper.name, None),
        Unit::Runner(v) => (Component::Runners, stepper.name, Some(v)),
    };
    let program = &functions.program;
    let dtype = model.dtype.as_str();
    let exports = roles.unit_exports(functions, unit);
    let observers = match unit {
        Unit::Runner(v) if v.observes() => observers.map(Observers::signature),
        _ => None,
    };
    let key = crate::units::unit_key(
        program,
        &exports,
        component,
        unit.name(),
        variant.map(|v| (v, observers.as_deref())),
        dtype,
        opts,
    )?;
    Ok(crate::units::UnitRequest {
        name: unit.name(),
        program,
        exports,
        key,
        labels: Labels {
            model: model.name.clone().unwrap_or_else(|| model.uri.clone()),
            stepper: stepper_label.to_string(),
            dtype: dtype.to_string(),
            variant: variant.map_or("", RunnerVariant::name).to_string(),
        },
    })
}

/// What `model`'s units compile with: one choice for the kernel's every unit, part of
/// their cache keys.
#[cfg(feature = "jit")]
fn codegen_options(model: &Model) -> dynlib_native::CodegenOptions {
    dynlib_native::CodegenOptions::for_kernel(model.states.len(), model.lanes)
}

/// Finds or compiles and loads the expected runner's unit, through the in-process and disk
/// caches; the other units wait for their first call or run ([`Kernel::native_unit`]).
#[cfg(feature = "jit")]
fn native(
    model: &Arc<Model>,
    stepper: &'static StepperSpec,
    functions: &ModelFunctions,
    roles: &RoleFuncs,
    options: &BuildOptions,
    stats: &mut CacheStats,
) -> Result<Backend, RuntimeError> {
    let opts = codegen_options(model);
    // Only the runner the kernel's runs will take compiles with the kernel: it is the one
    // unit a run needs (everything it calls is inlined into it). The model functions, the
    // stepper and the other runner variants compile the first time something calls them,
    // so a cold build pays for one unit, not three.
    let variant = RunnerVariant::of(
        options.observers.is_some(),
        crate::plan::fastpath_refusal(model, stepper).is_none(),
    );
    let expected = Unit::Runner(variant);
    let lazy_stats: Arc<std::sync::Mutex<CacheStats>> = Default::default();
    if options.tiered {
        let lazy: Vec<(Unit, Arc<LazyUnit>)> = roles
            .units()
            .into_iter()
            .map(|u| (u, Arc::default()))
            .collect();
        let runner = roles
            .func(functions, Role::Runner(variant))
            .ok_or_else(|| RuntimeError::Internal("the expected runner is missing".into()))?;
        // The interpreter first: a build that fails leaves no compilation running.
        let interp = Interpreter::new(&functions.program)?;
        let job = Background {
            model: model.clone(),
            stepper,
            functions: Arc::new(functions.clone()),
            roles: roles.clone(),
            observers: options.observers.clone(),
            disk: options.disk.clone(),
            stats: lazy_stats.clone(),
            failure: Default::default(),
        };
        let tier = Tier {
            interp,
            runner,
            job,
            started: Default::default(),
        };
        let cell = lazy
            .iter()
            .find(|(u, _)| *u == expected)
            .map(|(_, c)| c.clone())
            .ok_or_else(|| RuntimeError::Internal("the expected unit is missing".into()))?;
        tier.start(expected, &cell);
        return Ok(Backend::Native(Native {
            units: Vec::new(),
            lazy,
            disk: options.disk.clone(),
            stats: lazy_stats,
            tier: Some(Box::new(tier)),
        }));
    }
    let (eager, lazy): (Vec<Unit>, Vec<Unit>) =
        roles.units().into_iter().partition(|&u| u == expected);
    let requests = eager
        .iter()
        .map(|&unit| {
            Ok((
                unit,
                unit_request(
                    model,
                    stepper,
                    functions,
                    roles,
                    options.observers.as_ref(),
                    unit,
                    &opts,
                )?,
            ))
        })
        .collect::<Result<Vec<_>, RuntimeError>>()?;
    let mut units = Vec::new();
    for (unit, jit, s) in obtain_all(functions, requests, options.disk.as_ref(), &opts)? {
        *stats = stats.plus(s);
        units.push((unit, jit));
    }
    Ok(Backend::Native(Native {
        units,
        lazy: lazy.into_iter().map(|u| (u, Arc::default())).collect(),
        disk: options.disk.clone(),
        stats: lazy_stats,
        tier: None,
    }))
}

/// What a tiered kernel's background compilations need, owned (the kernel does not exist
/// yet when the first starts, and may be dropped before the last ends).
#[cfg(feature = "jit")]
#[derive(Clone)]
struct Background {
    model: Arc<Model>,
    stepper: &'static StepperSpec,
    functions: Arc<ModelFunctions>,
    roles: RoleFuncs,
    observers: Option<Observers>,
    disk: Option<dynlib_cache::DiskCache>,
    stats: Arc<std::sync::Mutex<CacheStats>>,
    /// Why the last background compilation failed (cleared when the unit loads later).
    failure: Arc<std::sync::Mutex<Option<String>>>,
}

#[cfg(feature = "jit")]
impl Tier {
    /// Starts compiling `unit` into `cell` in the background, unless this kernel already
    /// started it (one attempt per unit: a failure is reported, and a direct call or
    /// [`Kernel::wait_native`] tries again in the foreground).
    fn start(&self, unit: Unit, cell: &Arc<LazyUnit>) {
        let mut started = self.started.lock().unwrap_or_else(|e| e.into_inner());
        if started.contains(&unit) {
            return;
        }
        started.push(unit);
        compile_in_background(self.job.clone(), unit, cell.clone());
    }
}

/// Compiles a tiered kernel's runner on a thread of its own, through the same caches as
/// every unit, into the lazy cell its runs look at between chunks. Holding the cell's
/// `compiling` lock meanwhile makes anything that needs the unit at once (a direct call,
/// [`Kernel::wait_native`]) wait for this compilation instead of starting another.
#[cfg(feature = "jit")]
fn compile_in_background(job: Background, unit: Unit, cell: Arc<LazyUnit>) {
    let failure = job.failure.clone();
    let (ready_tx, ready_rx) = std::sync::mpsc::channel::<()>();
    let work = move || {
        let _counted = crate::background::Compiling::start();
        let _compiling = cell.compiling.lock().unwrap_or_else(|e| e.into_inner());
        // The lock is held: the kernel may be handed out now.
        let _ = ready_tx.send(());
        if cell.jit.get().is_some() {
            return;
        }
        crate::background::pass_gate();
        // A run that ends within a millisecond (a short map, a quick look) exits before
        // anything is mapped: tearing down a process in the middle of loading the 48 MB
        // plugin cost such a run ~0.6 ms (measured: tiered T = 1 Lorenz 5.95–6.33 ms
        // against 4.76–5.20 interpreted). Native code arrives a millisecond later.
        std::thread::sleep(std::time::Duration::from_millis(1));
        // Loading LLVM first, then the exit handler: see `crate::background`.
        if dynlib_native::host().is_ok() {
            crate::background::wait_at_exit_once();
        }
        let got = obtain_unit(
            &job.model,
            job.stepper,
            &job.functions,
            &job.roles,
            job.observers.as_ref(),
            unit,
            job.disk.as_ref(),
        );
        match got {
            Ok(got) => {
                settle(&cell, got, &job.stats, Some(&job.failure));
            }
            Err(e) => *job.failure.lock().unwrap_or_else(|e| e.into_inner()) = Some(e.to_string()),
        }
    };
    match std::thread::Builder::new()
        .name("dynlib-tier".into())
        .spawn(work)
    {
        // Wait until it holds the lock (microseconds), so a direct call right after the
        // build waits for this compilation rather than racing it.
        Ok(_) => {
            let _ = ready_rx.recv();
        }
        // No thread: runs stay interpreted (and say why) until a call compiles the unit in
        // the foreground (direct calls and `wait_native` do).
        Err(e) => {
            *failure.lock().unwrap_or_else(|e| e.into_inner()) = Some(format!(
                "no thread could start the background compilation: {e}"
            ));
        }
    }
}

/// Obtains one lazily compiled `unit` (from the caches, else by compiling) with what the
/// caches did: the one path of a direct call's, a run's and a background compilation.
#[cfg(feature = "jit")]
fn obtain_unit(
    model: &Model,
    stepper: &StepperSpec,
    functions: &ModelFunctions,
    roles: &RoleFuncs,
    observers: Option<&Observers>,
    unit: Unit,
    disk: Option<&dynlib_cache::DiskCache>,
) -> Result<(Arc<dynlib_native::Jit>, CacheStats), RuntimeError> {
    // Errors name the unit; the backend's own (unavailable, failed) already do.
    let fail = |e: RuntimeError| match e {
        RuntimeError::Jit { .. } | RuntimeError::BackendUnavailable(_) => e,
        other => RuntimeError::Jit {
            unit: unit.name(),
            message: other.to_string(),
        },
    };
    let opts = codegen_options(model);
    let req =
        unit_request(model, stepper, functions, roles, observers, unit, &opts).map_err(fail)?;
    let (_, jit, s) = obtain_all(functions, vec![(unit, req)], disk, &opts)
        .map_err(fail)?
        .pop()
        .ok_or_else(|| fail(RuntimeError::Internal("no unit was obtained".into())))?;
    Ok((jit, s))
}

/// Puts an obtained unit into its cell (unless another thread did first: its copy is kept),
/// counts what the caches did, and clears a tiered kernel's recorded failure.
#[cfg(feature = "jit")]
fn settle(
    cell: &LazyUnit,
    (jit, s): (Arc<dynlib_native::Jit>, CacheStats),
    stats: &std::sync::Mutex<CacheStats>,
    failure: Option<&std::sync::Mutex<Option<String>>>,
) -> Arc<dynlib_native::Jit> {
    let mut stats = stats.lock().unwrap_or_else(|e| e.into_inner());
    *stats = stats.plus(s);
    if let Some(f) = failure {
        *f.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }
    cell.jit.get_or_init(|| jit).clone()
}

/// Obtains `requests` (from the caches, else by compiling), each on a thread of its own
/// whose stack is sized to the model; the units are independent (one LLVM context per
/// compilation), so several compile in parallel.
#[cfg(feature = "jit")]
fn obtain_all(
    functions: &ModelFunctions,
    requests: Vec<(Unit, crate::units::UnitRequest<'_>)>,
    disk: Option<&dynlib_cache::DiskCache>,
    opts: &dynlib_native::CodegenOptions,
) -> Result<Vec<(Unit, Arc<dynlib_native::Jit>, CacheStats)>, RuntimeError> {
    // LLVM's passes recurse along chains of dependent instructions (reassociation ranks
    // them recursively): a long aux chain overflows a default 2 MiB stack.
    let insts = functions
        .program
        .functions
        .iter()
        .map(|f| f.insts.len())
        .sum::<usize>();
    let stack = stack_for(insts, STACK_PER_INSTRUCTION);
    std::thread::scope(|scope| {
        let handles: Vec<_> = requests
            .iter()
            .map(|(unit, req)| {
                let handle = std::thread::Builder::new()
                    .name(format!("dynlib-{}", unit.name()))
                    .stack_size(stack)
                    .spawn_scoped(scope, move || {
                        let mut s = CacheStats::default();
                        crate::units::obtain(req, disk, opts, &mut s).map(|jit| (jit, s))
                    })
                    .map_err(|source| RuntimeError::Thread {
                        what: "compiles this model",
                        stack,
                        source,
                    });
                (*unit, handle)
            })
            .collect();
        handles
            .into_iter()
            .map(|(unit, h)| {
                let r = h?.join().unwrap_or_else(|_| {
                    Err(RuntimeError::Jit {
                        unit: unit.name(),
                        message: "the compiling thread panicked".into(),
                    })
                });
                r.map(|(jit, s)| (unit, jit, s))
            })
            .collect()
    })
}

#[cfg(not(feature = "jit"))]
fn native(
    _: &Model,
    _: &StepperSpec,
    _: &ModelFunctions,
    _: &RoleFuncs,
    _: &BuildOptions,
    _: &mut CacheStats,
) -> Result<Backend, RuntimeError> {
    Err(RuntimeError::JitUnavailable)
}

/// A kernel's observers: compiled into its analysis runners with `vectors` analysis
/// vectors, module `k` with tangent mode `modes[k]`.
#[derive(Debug)]
pub(crate) struct KernelAnalysis {
    pub(crate) observers: Observers,
    pub(crate) vectors: usize,
    pub(crate) modes: Vec<Option<TangentMode>>,
}

/// Checks that `obs` can observe `model` run by `stepper` (runtime.md §4.1 `Sim.run`
/// validation), each observer by name, and returns the tangent mode each gets
/// ([`Observers::grant`]).
fn check_observers(
    model: &Model,
    stepper: &StepperSpec,
    functions: &ModelFunctions,
    obs: &Observers,
) -> Result<Vec<Option<TangentMode>>, RuntimeError> {
    let refuse = |key: &str, why: String| {
        Err(RuntimeError::option(
            "observers",
            format!("the observer {key} {why}"),
        ))
    };
    let steppers_with = |mode: TangentMode| {
        crate::stepper::registry()
            .iter()
            .filter(|s| s.tangent_modes().contains(&mode))
            .map(|s| s.name)
            .collect::<Vec<_>>()
            .join(", ")
    };
    let n = model.states.len();
    let available = stepper.tangent_modes();
    for m in obs.modules() {
        let key = m.key();
        let q = m.requirements(model.kind);
        if !model.dtype.is_float() {
            return refuse(
                key,
                format!(
                    "needs a floating-point model; this one computes in {}",
                    model.dtype.as_str()
                ),
            );
        }
        if q.jvp && functions.jvp.is_none() {
            return refuse(
                key,
                "needs the model's Jacobian; declare it in [equations.jacobian]".into(),
            );
        }
        if q.fixed_step && stepper.adaptive {
            return refuse(
                key,
                format!(
                    "needs a fixed step; the stepper {} is adaptive (use {})",
                    stepper.name,
                    crate::stepper::registry()
                        .iter()
                        .filter(|s| !s.adaptive && s.kind == stepper.kind)
                        .map(|s| s.name)
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            );
        }
        if let Err(e) = m.check(n) {
            return refuse(key, e);
        }
        let (lacking, what) = match q.tangent {
            Some(TangentNeed::Combined) => (
                Some(TangentMode::Combined),
                "advances a tangent vector with the state",
            ),
            Some(_) => (
                Some(TangentMode::Frozen),
                "advances a tangent vector with its own scheme",
            ),
            None => (None, ""),
        };
        if let Some(mode) = lacking.filter(|m| !available.contains(m)) {
            return refuse(
                key,
                format!(
                    "needs a stepper that {what}; {} does not (use {})",
                    stepper.name,
                    steppers_with(mode)
                ),
            );
        }
    }
    obs.grant(model.kind, available)
        .map_err(|e| RuntimeError::option("observers", e))
}

/// Stack reserved per level of [`Model::lowering_depth_bound`] when lowering runs on its own
/// thread: four times what an unoptimised build was measured to use (64 levels fit in
/// 512 KiB with everything else on that stack, see `tests/limits.rs`).
const STACK_PER_LEVEL: usize = 32 << 10;

/// Stack reserved per IR instruction of the model for a thread that compiles it with LLVM:
/// its deepest recursion follows one chain of dependent instructions, which inlining can
/// make a few times longer than any one function (the stages of an explicit stepper each
/// call the right-hand side); measured at well under 100 bytes a link.
#[cfg(feature = "jit")]
const STACK_PER_INSTRUCTION: usize = 512;

/// Bounds of a stack sized to a model. The largest covers the deepest model the checker
/// accepts; only the pages used are ever committed, but the whole size counts against an
/// address-space limit (`ulimit -v`), so a model gets what its size needs.
const MIN_STACK: usize = 8 << 20;
const MAX_STACK: usize = 1 << 30;

/// `units` times `per_unit` bytes, within [`MIN_STACK`] and [`MAX_STACK`].
fn stack_for(units: usize, per_unit: usize) -> usize {
    units.saturating_mul(per_unit).clamp(MIN_STACK, MAX_STACK)
}

/// Models whose [`Model::lowering_depth_bound`] is at most this are lowered on the calling
/// thread: a few hundred KiB of stack at most, even unoptimised, and no thread to start
/// (which was a fifth of a small model's build time).
const LOWER_IN_PLACE: usize = 64;

/// [`lower_model`], on a thread whose stack is sized to the model's depth unless the model
/// is shallow, whatever thread (a test's 2 MiB one, say) builds the kernel.
fn lower_on_a_big_stack(model: &Model) -> Result<ModelFunctions, RuntimeError> {
    let depth = model.lowering_depth_bound();
    if depth <= LOWER_IN_PLACE {
        return lower_model(model).map_err(RuntimeError::from);
    }
    let stack = stack_for(depth, STACK_PER_LEVEL);
    std::thread::scope(|s| {
        std::thread::Builder::new()
            .name("dynlib-lower".into())
            .stack_size(stack)
            .spawn_scoped(s, || lower_model(model))
            .map_err(|source| RuntimeError::Thread {
                what: "lowers this model",
                stack,
                source,
            })?
            .join()
            .map_err(|_| RuntimeError::Internal("lowering the model panicked".into()))?
            .map_err(RuntimeError::from)
    })
}

/// The length of an array argument (`None` for a scalar).
pub(crate) fn arg_len(arg: &Arg<'_>) -> Option<usize> {
    match arg {
        Arg::PtrF64(s) => Some(s.len()),
        Arg::PtrF32(s) => Some(s.len()),
        Arg::PtrI64(s) => Some(s.len()),
        Arg::PtrI32(s) => Some(s.len()),
        _ => None,
    }
}

/// The reference's name for a built model.
pub type FullModel = Kernel;
