//! IR tooling on real kernel programs. For every builtin model and every stepper of its
//! kind, the complete program (model functions, stepper, initial step, runner) as lowered and
//! emitted, before optimisation:
//!
//! - verifies;
//! - prints, parses and prints to the same text, with the same digests, and parses back to
//!   the same functions up to instruction numbering (which the text does not hold);
//! - optimises into a program that verifies (after every single pass, too), round-trips, is
//!   a fixed point of `optimize`, does not depend on instruction numbering, and is not larger
//!   than the original with the same inlining (inlining copies callees into callers, so the
//!   whole program may grow; functions without calls never do);
//! - computes, on the interpreter, every model function and the single-step function bit
//!   for bit like the unoptimised program, on several inputs.
//!
//! The optimised program that `Kernel::build` itself runs verifies and round-trips too.
//! Corrupted kernel programs are rejected by the verifier with messages naming the function
//! and the instruction or value.

use std::fmt::Write as _;
use std::sync::{Arc, OnceLock};

use dynlib_interp::{Arg, Interpreter, Machine, Scalar};
use dynlib_ir::lower::ModelFunctions;
use dynlib_ir::passes::{
    constant_fold, cse, dead_code, forward_memory, inline_calls, merge_blocks, optimize, MAX_ROUNDS,
};
use dynlib_ir::print::print_inst;
use dynlib_ir::verify::Entity;
use dynlib_ir::*;
use dynlib_model::uri::builtin_models;
use dynlib_model::{load, Config, LoadOptions, Model};
use dynlib_runtime::stepper::{registry, StepperSpec};
use dynlib_runtime::Kernel;

/// One builtin model with one stepper: its kernel program and what the model functions need.
struct Case {
    /// `ode/lorenz + rk4`.
    label: String,
    model: Arc<Model>,
    program: Program,
    functions: ModelFunctions,
    stepper: &'static StepperSpec,
    /// The single-step function.
    step_fn: FuncId,
    /// The optimised program, computed once.
    optimized: OnceLock<Program>,
}

fn load_builtin(uri: &str) -> Arc<Model> {
    let options = LoadOptions::default().with_config(Config::default());
    Arc::new(load(uri, &options).unwrap_or_else(|e| panic!("{uri} loads: {e}")))
}

/// Every builtin model × every stepper of its kind, built once for all tests.
fn cases() -> &'static [Case] {
    static CASES: OnceLock<Vec<Case>> = OnceLock::new();
    CASES.get_or_init(|| {
        let mut cases = Vec::new();
        for builtin in builtin_models() {
            let uri = builtin.uri();
            let model = load_builtin(&uri);
            for stepper in registry() {
                if stepper.kind.as_str() != model.kind.as_str() {
                    continue;
                }
                let label = format!("{}/{} + {}", builtin.kind, builtin.name, stepper.name);
                // Unoptimised: `Kernel::build` runs the optimiser itself.
                let kernel = Kernel::build_with(
                    model.clone(),
                    Some(stepper.name),
                    &dynlib_runtime::kernel::BuildOptions {
                        optimize: false,
                        ..Default::default()
                    },
                )
                .unwrap_or_else(|e| panic!("{label}: kernel builds: {e}"));
                cases.push(Case {
                    label,
                    model: model.clone(),
                    program: kernel.program().clone(),
                    functions: kernel.functions().clone(),
                    stepper: kernel.stepper(),
                    step_fn: kernel.func(dynlib_runtime::Role::Stepper).unwrap(),
                    optimized: OnceLock::new(),
                });
            }
        }
        cases
    })
}

impl Case {
    fn optimized(&self) -> &Program {
        self.optimized.get_or_init(|| {
            let mut p = self.program.clone();
            optimize(&mut p);
            p
        })
    }
}

/// Instructions placed in blocks (what runs; orphaned instructions are not counted).
fn inst_count(program: &Program) -> usize {
    program
        .functions
        .iter()
        .flat_map(|f| &f.blocks)
        .map(|b| b.insts.len())
        .sum()
}

fn func_inst_count(func: &Function) -> usize {
    func.blocks.iter().map(|b| b.insts.len()).sum()
}

fn verify_errors(program: &Program) -> Option<String> {
    verify_program(program).err().map(|errors| {
        let mut s = String::new();
        for e in errors.iter().take(20) {
            let _ = writeln!(s, "    {e}");
        }
        if errors.len() > 20 {
            let _ = writeln!(s, "    ... and {} more", errors.len() - 20);
        }
        s
    })
}

/// The first differing line of two texts, for failure messages.
fn first_difference(a: &str, b: &str) -> String {
    for (n, (la, lb)) in a.lines().zip(b.lines()).enumerate() {
        if la != lb {
            return format!("line {}: `{la}` vs `{lb}`", n + 1);
        }
    }
    format!(
        "one text is a prefix of the other ({} vs {} lines)",
        a.lines().count(),
        b.lines().count()
    )
}

/// Compares two functions except for the numbering of their instructions (which the text
/// does not show). Every instruction must be in a block.
fn same_up_to_inst_numbering(f: &Function, g: &Function) -> Result<(), String> {
    if f.name != g.name || f.sig != g.sig {
        return Err("name or signature".into());
    }
    if f.values.len() != g.values.len() || f.insts.len() != g.insts.len() {
        return Err(format!(
            "{} values and {} instructions vs {} and {}",
            f.values.len(),
            f.insts.len(),
            g.values.len(),
            g.insts.len()
        ));
    }
    if f.blocks.len() != g.blocks.len() {
        return Err("block count".into());
    }
    // Instruction `i` of `f` is `inst_map[i]` of `g`.
    let mut inst_map = vec![None; f.insts.len()];
    for (b, (fb, gb)) in f.blocks.iter().zip(&g.blocks).enumerate() {
        if fb.params != gb.params || fb.insts.len() != gb.insts.len() {
            return Err(format!("block{b}: parameters or length"));
        }
        for (&i, &j) in fb.insts.iter().zip(&gb.insts) {
            if f.inst(i) != g.inst(j) || f.inst_results(i) != g.inst_results(j) {
                return Err(format!("block{b}: {i} vs {j}"));
            }
            inst_map[i.index()] = Some(j);
        }
    }
    for (n, (a, b)) in f.values.iter().zip(&g.values).enumerate() {
        let def = match a.def {
            ValueDef::Result(i, r) => match inst_map[i.index()] {
                Some(j) => ValueDef::Result(j, r),
                None => return Err(format!("v{n} is defined by {i}, which is in no block")),
            },
            param => param,
        };
        if a.ty != b.ty || def != b.def {
            return Err(format!("v{n}: {a:?} vs {b:?}"));
        }
    }
    Ok(())
}

/// Checks print → parse → print and the digests; returns the problems found.
fn roundtrip_problems(what: &str, program: &Program) -> Vec<String> {
    let mut problems = Vec::new();
    let text = print_program(program);
    let parsed = match parse_program(&text) {
        Ok(p) => p,
        Err(e) => return vec![format!("{what}: printed text does not parse: {e}")],
    };
    let again = print_program(&parsed);
    if again != text {
        problems.push(format!(
            "{what}: print(parse(print(p))) differs: {}",
            first_difference(&text, &again)
        ));
    }
    if digest(&parsed) != digest(program) {
        problems.push(format!("{what}: the parsed program's digest differs"));
    }
    if parsed.functions.len() != program.functions.len() {
        problems.push(format!(
            "{what}: the parsed program has a different function count"
        ));
    } else {
        for (i, f) in program.functions.iter().enumerate() {
            let id = FuncId(i as u32);
            if parsed.functions[i].name != f.name {
                problems.push(format!(
                    "{what}: function {i} is renamed to @{}",
                    parsed.functions[i].name
                ));
            }
            if digest_function(&parsed, id) != digest_function(program, id) {
                problems.push(format!(
                    "{what}: digest of @{} differs after parsing",
                    f.name
                ));
            }
        }
    }
    if let Some(errors) = verify_errors(&parsed) {
        problems.push(format!(
            "{what}: the parsed program does not verify:\n{errors}"
        ));
    }
    // The text holds no instruction numbers (the parser reconstructs one valid order), but
    // everything else comes back identical: names, signatures, value numbers and types,
    // blocks, and each block's instructions with their operands and results.
    for (f, g) in program.functions.iter().zip(&parsed.functions) {
        if let Err(why) = same_up_to_inst_numbering(f, g) {
            problems.push(format!("{what}: @{} parses back different: {why}", f.name));
        }
    }
    problems
}

/// Panics with every collected problem, case by case.
fn report(test: &str, problems: Vec<String>) {
    if !problems.is_empty() {
        panic!(
            "{test}: {} problem(s):\n{}",
            problems.len(),
            problems.join("\n")
        );
    }
}

#[test]
fn every_builtin_model_and_stepper_is_covered() {
    let cases = cases();
    let models = builtin_models();
    assert!(!models.is_empty());
    for m in models {
        let n = cases
            .iter()
            .filter(|c| c.label.starts_with(&format!("{}/{} + ", m.kind, m.name)))
            .count();
        let steppers = registry()
            .iter()
            .filter(|s| s.kind.as_str() == m.kind)
            .count();
        assert!(steppers > 0, "no stepper for {}/{}", m.kind, m.name);
        assert_eq!(n, steppers, "{}/{}: one case per stepper", m.kind, m.name);
    }
    for c in cases {
        let f = &c.functions;
        let names: Vec<&str> = c
            .program
            .functions
            .iter()
            .map(|f| f.name.as_str())
            .collect();
        assert_eq!(c.program.func(f.rhs).name, "rhs", "{}: {names:?}", c.label);
    }
}

#[test]
fn kernel_programs_verify() {
    let mut problems = Vec::new();
    for c in cases() {
        if let Some(errors) = verify_errors(&c.program) {
            problems.push(format!("{}: verify_program fails:\n{errors}", c.label));
        }
    }
    report("kernel_programs_verify", problems);
}

#[test]
fn kernel_programs_round_trip_through_text() {
    let mut problems = Vec::new();
    for c in cases() {
        problems.extend(roundtrip_problems(&c.label, &c.program));
    }
    report("kernel_programs_round_trip_through_text", problems);
}

#[test]
fn the_programs_kernels_run_verify_and_round_trip() {
    let mut problems = Vec::new();
    for c in cases() {
        let kernel = Kernel::build(c.model.clone(), Some(c.stepper.name))
            .unwrap_or_else(|e| panic!("{}: kernel builds: {e}", c.label));
        let label = format!("{} (as built)", c.label);
        if let Some(errors) = verify_errors(kernel.program()) {
            problems.push(format!("{label}: verify_program fails:\n{errors}"));
            continue;
        }
        problems.extend(roundtrip_problems(&label, kernel.program()));
    }
    report("the_programs_kernels_run_verify_and_round_trip", problems);
}

#[test]
fn optimized_programs_verify_round_trip_and_do_not_grow() {
    let mut problems = Vec::new();
    for c in cases() {
        let opt = c.optimized();
        let label = format!("{} (optimised)", c.label);
        if let Some(errors) = verify_errors(opt) {
            problems.push(format!("{label}: verify_program fails:\n{errors}"));
            continue;
        }
        problems.extend(roundtrip_problems(&label, opt));

        // The optimiser keeps every function, under its name and id.
        let names = |p: &Program| {
            p.functions
                .iter()
                .map(|f| f.name.clone())
                .collect::<Vec<_>>()
        };
        if names(opt) != names(&c.program) {
            problems.push(format!("{label}: the function list changed"));
        }

        // Not larger than the original. Inlining copies callees into callers (and keeps the
        // callees), so a program with calls is compared against the original with the same
        // inlining applied: every other pass only removes or replaces instructions.
        let mut inlined = c.program.clone();
        for _ in 0..MAX_ROUNDS {
            if !inline_calls(&mut inlined) {
                break;
            }
        }
        let (before, with_inlining, after) = (
            inst_count(&c.program),
            inst_count(&inlined),
            inst_count(opt),
        );
        if after > with_inlining {
            problems.push(format!(
                "{label}: {after} instructions after optimising, {with_inlining} after inlining alone \
                 ({before} originally)"
            ));
        }
        // Functions without calls are not inlined into: there the optimised function is
        // never larger than the original one.
        for (f, g) in c.program.functions.iter().zip(&opt.functions) {
            let has_calls = f
                .blocks
                .iter()
                .flat_map(|b| &b.insts)
                .any(|&i| matches!(f.inst(i), InstData::Call { .. }));
            if !has_calls && func_inst_count(g) > func_inst_count(f) {
                problems.push(format!(
                    "{label}: @{} grew from {} to {} instructions",
                    f.name,
                    func_inst_count(f),
                    func_inst_count(g)
                ));
            }
        }

        // Idempotent: a second run changes nothing.
        let text = print_program(opt);
        let mut again = opt.clone();
        let changed = optimize(&mut again);
        let text_again = print_program(&again);
        if changed && text_again != text {
            problems.push(format!(
                "{label}: a second optimize changes the program: {}",
                first_difference(&text, &text_again)
            ));
        }
    }
    report(
        "optimized_programs_verify_round_trip_and_do_not_grow",
        problems,
    );
}

#[test]
fn every_pass_keeps_kernel_programs_verified_and_the_result_is_deterministic() {
    type Pass = fn(&mut Program) -> bool;
    let passes: [(&str, Pass); 6] = [
        ("inline_calls", inline_calls),
        ("constant_fold", constant_fold),
        ("forward_memory", forward_memory),
        ("cse", cse),
        ("merge_blocks", merge_blocks),
        ("dead_code", dead_code),
    ];
    let mut problems = Vec::new();
    'cases: for c in cases() {
        // The passes one at a time over the whole program, in `optimize`'s order and rounds,
        // verifying after each: `optimize`, which skips functions that settled, must give
        // exactly this program.
        let mut p = c.program.clone();
        for round in 0..MAX_ROUNDS {
            let mut changed = false;
            for (name, pass) in passes {
                changed |= pass(&mut p);
                if let Some(errors) = verify_errors(&p) {
                    problems.push(format!(
                        "{}: round {round}, after {name}: verify_program fails:\n{errors}",
                        c.label
                    ));
                    continue 'cases;
                }
            }
            if !changed {
                break;
            }
        }
        let optimized = print_program(c.optimized());
        if print_program(&p) != optimized {
            problems.push(format!(
                "{}: the passes run one by one differ from optimize",
                c.label
            ));
        }
        // Optimising the parsed text gives the same program (instruction numbering, which
        // the text does not keep, must not steer the passes): the cache key of optimised
        // code depends only on the input text.
        let mut parsed = parse_program(&print_program(&c.program)).expect("round-trips");
        optimize(&mut parsed);
        let again = print_program(&parsed);
        if again != optimized {
            problems.push(format!(
                "{}: optimising the parsed program gives different text: {}",
                c.label,
                first_difference(&optimized, &again)
            ));
        }
    }
    report(
        "every_pass_keeps_kernel_programs_verified_and_the_result_is_deterministic",
        problems,
    );
}

// ---- interpreter equivalence of the model functions ----

/// An array argument, of the model's element type or a fixed one.
#[derive(Clone, Debug, PartialEq)]
enum Buf {
    F64(Vec<f64>),
    F32(Vec<f32>),
    I64(Vec<i64>),
    I32(Vec<i32>),
}

impl Buf {
    fn new(elem: Elem, values: &[f64]) -> Buf {
        match elem {
            Elem::F64 => Buf::F64(values.to_vec()),
            Elem::F32 => Buf::F32(values.iter().map(|&x| x as f32).collect()),
            Elem::I64 => Buf::I64(values.iter().map(|&x| x as i64).collect()),
            Elem::I32 => Buf::I32(values.iter().map(|&x| x as i32).collect()),
        }
    }

    fn arg(&mut self) -> Arg<'_> {
        match self {
            Buf::F64(v) => Arg::PtrF64(v),
            Buf::F32(v) => Arg::PtrF32(v),
            Buf::I64(v) => Arg::PtrI64(v),
            Buf::I32(v) => Arg::PtrI32(v),
        }
    }

    fn bits(&self) -> Vec<u64> {
        match self {
            Buf::F64(v) => v.iter().map(|x| x.to_bits()).collect(),
            Buf::F32(v) => v.iter().map(|x| x.to_bits() as u64).collect(),
            Buf::I64(v) => v.iter().map(|&x| x as u64).collect(),
            Buf::I32(v) => v.iter().map(|&x| x as u32 as u64).collect(),
        }
    }
}

/// One argument of a call: an `f64` scalar or an array.
#[derive(Clone, Debug)]
enum Param {
    F64(f64),
    Array(Buf),
}

fn scalar_bits(s: Scalar) -> (Type, u64) {
    match s {
        Scalar::F64(x) => (Type::F64, x.to_bits()),
        Scalar::F32(x) => (Type::F32, x.to_bits() as u64),
        Scalar::I64(x) => (Type::I64, x as u64),
        Scalar::I32(x) => (Type::I32, x as u32 as u64),
        Scalar::Bool(x) => (Type::Bool, x as u64),
    }
}

/// What one call did: its results (or its trap) and every array afterwards, as bits.
type Outcome = Result<(Vec<(Type, u64)>, Vec<Vec<u64>>), String>;

/// Calls `func` on copies of `params`.
fn call(interp: &Interpreter, func: FuncId, params: &[Param]) -> Outcome {
    let mut params = params.to_vec();
    let result = {
        let mut args: Vec<Arg<'_>> = params
            .iter_mut()
            .map(|p| match p {
                Param::F64(x) => Arg::F64(*x),
                Param::Array(b) => b.arg(),
            })
            .collect();
        interp.call(&mut Machine::new(), func, &mut args)
    };
    let results = result.map_err(|e| e.to_string())?;
    let arrays = params
        .iter()
        .filter_map(|p| match p {
            Param::Array(b) => Some(b.bits()),
            Param::F64(_) => None,
        })
        .collect();
    Ok((results.into_iter().map(scalar_bits).collect(), arrays))
}

/// A small deterministic generator (xorshift), giving values in [-1, 1).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f64 / (1u64 << 52) as f64 - 1.0
    }
}

/// Every output array starts as this NaN with a payload, so unwritten slots show too.
const SCRATCH: f64 = f64::from_bits(0x7ff8_0000_dead_beef);

/// The calls compared for one case and one input set: (function name, id, arguments) for
/// every model function (ABIs in dynlib-ir/src/lower.rs) and the single-step function
/// (ABI in dynlib-runtime/src/abi.rs).
fn calls_for(c: &Case, k: usize) -> Vec<(&'static str, FuncId, Vec<Param>)> {
    let m = &c.model;
    let f = &c.functions;
    let elem = f.elem;
    let n = m.states.len();
    let y0: Vec<f64> = m.states.iter().map(|s| s.value.as_f64()).collect();
    let p0: Vec<f64> = m.params.iter().map(|p| p.value.as_f64()).collect();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ (k as u64 + 1));
    // Input set 0 is the model's own initial state and parameters; later ones are
    // perturbed more and more (the last also perturbs the parameters).
    let scale = k as f64 * 0.25;
    let mut jitter = |x: f64| x * (1.0 + 0.1 * scale * rng.next()) + scale * rng.next();
    let t = [0.0, 0.37, 12.5, -1.25][k % 4];
    let y: Vec<f64> = y0.iter().map(|&x| jitter(x)).collect();
    let p: Vec<f64> = p0
        .iter()
        .map(|&x| if k == 3 { jitter(x) } else { x })
        .collect();
    let mut ring = vec![0.0; f.lags.ring_len];
    let mut head = Vec::new();
    for r in &f.lags.rings {
        for slot in 0..r.len {
            ring[r.offset + slot] = jitter(y0[r.state]);
        }
        head.push((k % r.len) as i64);
    }
    let v: Vec<f64> = y.iter().rev().map(|&x| 0.5 * x - 0.25).collect();
    let workspaces: Vec<Vec<f64>> = c
        .stepper
        .workspace
        .vectors
        .iter()
        .map(|_| y0.iter().map(|&x| jitter(x)).collect())
        .collect();

    let arr = |values: &[f64]| Param::Array(Buf::new(elem, values));
    let out = |len: usize| Param::Array(Buf::new(elem, &vec![SCRATCH; len]));
    let f64s = |values: Vec<f64>| Param::Array(Buf::F64(values));
    let (t, y, p) = (Param::F64(t), arr(&y), arr(&p));
    let lags = [arr(&ring), Param::Array(Buf::I64(head))];
    let with_lags = |mut params: Vec<Param>| {
        params.extend(lags.iter().cloned());
        params
    };

    let mut calls = vec![
        (
            "rhs",
            f.rhs,
            with_lags(vec![t.clone(), y.clone(), out(n), p.clone()]),
        ),
        (
            "events_pre",
            f.events_pre,
            with_lags(vec![
                t.clone(),
                y.clone(),
                p.clone(),
                f64s(vec![SCRATCH; f.max_log_width]),
                Param::Array(Buf::I64(vec![-7; f.max_log_width])),
            ]),
        ),
        (
            "events_post",
            f.events_post,
            with_lags(vec![
                t.clone(),
                y.clone(),
                p.clone(),
                f64s(vec![SCRATCH; f.max_log_width]),
                Param::Array(Buf::I64(vec![-7; f.max_log_width])),
            ]),
        ),
        (
            "update_aux",
            f.update_aux,
            with_lags(vec![t.clone(), y.clone(), p.clone(), out(m.aux.len())]),
        ),
    ];
    if let Some(id) = f.inv_rhs {
        let params = with_lags(vec![t.clone(), y.clone(), out(n), p.clone()]);
        calls.push(("inv_rhs", id, params));
    }
    if let Some(id) = f.jacobian {
        let params = with_lags(vec![t.clone(), y.clone(), p.clone(), out(n * n)]);
        calls.push(("jacobian", id, params));
    }
    if let Some(id) = f.jvp {
        let params = with_lags(vec![t.clone(), y.clone(), p.clone(), arr(&v), out(n)]);
        calls.push(("jvp", id, params));
    }

    // step(t, dt, y, p, ring, head, ws..., sc, cfg, y_prop, out) -> i32: one step, where
    // the optimiser has inlined the model functions into the stepper.
    let dt = if m.kind.as_str() == "map" { 1.0 } else { 0.01 };
    let mut step = vec![t, Param::F64(dt), y, p];
    step.extend(lags);
    step.extend(workspaces.iter().map(|w| arr(w)));
    // Matrices (a Jacobian the step overwrites) and index vectors.
    let layout = &c.stepper.workspace;
    step.extend(layout.matrices.iter().map(|_| arr(&vec![SCRATCH; n * n])));
    step.extend(
        layout
            .indices
            .iter()
            .map(|_| Param::Array(Buf::I64(vec![0; n]))),
    );
    // The stepper's scalar state (the Adams–Bashforth step index): a later step, so the
    // history vectors are used.
    step.push(f64s(vec![k as f64; c.stepper.workspace.scalars.len()]));
    step.push(f64s(c.stepper.config.iter().map(|f| f.default).collect()));
    step.push(out(n));
    step.push(f64s(vec![SCRATCH; 3]));
    // The solver statistics counters the step adds to.
    step.push(Param::Array(Buf::I64(vec![
        0;
        dynlib_runtime::abi::STATS_LEN
    ])));
    calls.push(("step", c.step_fn, step));
    calls
}

#[test]
fn optimized_functions_compute_the_same_bits() {
    let mut problems = Vec::new();
    let mut compared = 0usize;
    for c in cases() {
        let original = Interpreter::new(&c.program)
            .unwrap_or_else(|e| panic!("{}: the original program decodes: {e}", c.label));
        let optimized = match Interpreter::new(c.optimized()) {
            Ok(i) => i,
            Err(e) => {
                problems.push(format!(
                    "{}: the optimised program does not decode: {e}",
                    c.label
                ));
                continue;
            }
        };
        for k in 0..4 {
            for (name, id, params) in calls_for(c, k) {
                let a = call(&original, id, &params);
                let b = call(&optimized, id, &params);
                compared += 1;
                if let Err(e) = &a {
                    problems.push(format!("{}: @{name} traps (inputs {k}): {e}", c.label));
                }
                if a != b {
                    problems.push(format!(
                        "{}: @{name} (inputs {k}) differs after optimising:\n    \
                         original:  {a:?}\n    optimised: {b:?}",
                        c.label
                    ));
                }
            }
        }
    }
    assert!(compared > 0);
    report("optimized_functions_compute_the_same_bits", problems);
}

// ---- the verifier on broken kernel programs ----

fn lorenz_rk4() -> &'static Case {
    cases()
        .iter()
        .find(|c| c.label == "ode/lorenz + rk4")
        .expect("lorenz with rk4 is a case")
}

/// Verifies, expecting failure; returns the errors as displayed.
fn expect_errors(program: &Program) -> (Vec<VerifierError>, Vec<String>) {
    let errors = verify_program(program).expect_err("the corrupted program must not verify");
    let shown = errors.iter().map(|e| e.to_string()).collect();
    (errors, shown)
}

#[test]
fn verifier_rejects_an_operand_of_the_wrong_type() {
    let case = lorenz_rk4();
    let mut program = case.program.clone();
    let rhs = case.functions.rhs;
    let func = &mut program.functions[rhs.index()];
    // The first f64 binary operation, and an i64 value defined before it in its block (an
    // array index): swapping it in keeps SSA dominance and breaks only the types.
    let mut target = None;
    'blocks: for block in &func.blocks {
        let mut last_i64 = None;
        for &inst in &block.insts {
            if let InstData::Binary { args, .. } = func.inst(inst) {
                if func.value_type(args[1]) == Type::F64 {
                    if let Some(v) = last_i64 {
                        target = Some((inst, v));
                        break 'blocks;
                    }
                }
            }
            for &r in func.inst_results(inst) {
                if func.value_type(r) == Type::I64 {
                    last_i64 = Some(r);
                }
            }
        }
    }
    let (inst, bad) = target.expect("rhs has an f64 operation after an i64 index");
    let original = print_inst(func, inst, None);
    if let InstData::Binary { args, .. } = &mut func.insts[inst.index()] {
        args[1] = bad;
    }
    let corrupted = print_inst(program.func(rhs), inst, Some(&program));
    assert_ne!(original, corrupted);

    let (errors, shown) = expect_errors(&program);
    assert_eq!(errors.len(), 1, "{shown:#?}");
    let e = &errors[0];
    assert_eq!(e.function, "rhs");
    assert_eq!(e.entity, Entity::Inst(inst));
    assert!(
        e.message.contains("f64") && e.message.contains("i64"),
        "{shown:#?}"
    );
    assert_eq!(e.snippet.as_deref(), Some(corrupted.as_str()));
    let text = &shown[0];
    assert!(text.starts_with(&format!("@rhs: {inst}: ")), "{text}");
    assert!(text.contains(&format!("{bad}")), "{text}");
}

#[test]
fn verifier_rejects_a_branch_with_the_wrong_argument_count() {
    let case = lorenz_rk4();
    let mut program = case.program.clone();
    // The first jump or branch to a block with parameters, anywhere in the program (the
    // runner's loop has them).
    let mut target = None;
    'functions: for (fi, func) in program.functions.iter().enumerate() {
        for block in &func.blocks {
            for &inst in &block.insts {
                let dests: Vec<&BlockCall> = match func.inst(inst) {
                    InstData::Jump { dest } => vec![dest],
                    InstData::Brif {
                        then_dest,
                        else_dest,
                        ..
                    } => vec![then_dest, else_dest],
                    _ => continue,
                };
                if let Some(d) = dests.iter().position(|d| !d.args.is_empty()) {
                    target = Some((fi, inst, d, dests[d].block, dests[d].args.len()));
                    break 'functions;
                }
            }
        }
    }
    let (fi, inst, which, dest_block, nargs) =
        target.expect("some kernel function passes block arguments");
    let func = &mut program.functions[fi];
    let name = func.name.clone();
    match &mut func.insts[inst.index()] {
        InstData::Jump { dest } => {
            dest.args.pop();
        }
        InstData::Brif {
            then_dest,
            else_dest,
            ..
        } => {
            if which == 0 { then_dest } else { else_dest }.args.pop();
        }
        _ => unreachable!(),
    }

    let (errors, shown) = expect_errors(&program);
    assert_eq!(errors.len(), 1, "{shown:#?}");
    let e = &errors[0];
    assert_eq!(e.function, name);
    assert_eq!(e.entity, Entity::Inst(inst));
    let want = format!(
        "{dest_block} has {nargs} parameters but the jump passes {} arguments",
        nargs - 1
    );
    assert!(e.message.contains(&want), "{shown:#?}");
    assert!(
        shown[0].starts_with(&format!("@{name}: {inst}: ")),
        "{}",
        shown[0]
    );
    // The snippet shows the corrupted instruction as printed.
    let snippet = e
        .snippet
        .as_deref()
        .expect("instruction errors show the instruction");
    assert!(snippet.contains(&format!("{dest_block}")), "{snippet}");
}

#[test]
fn verifier_rejects_a_value_retyped_against_its_uses() {
    let case = lorenz_rk4();
    let mut program = case.program.clone();
    let rhs = case.functions.rhs;
    // The state pointer `y` of @rhs declared as ptr<i64>: the entry no longer matches the
    // signature, and every load from it has the wrong result type.
    let func = &mut program.functions[rhs.index()];
    let y = func.params()[1];
    assert_eq!(func.value_type(y), Type::Ptr(Elem::F64));
    func.values[y.index()].ty = Type::Ptr(Elem::I64);
    let loads: Vec<Inst> = func
        .blocks
        .iter()
        .flat_map(|b| &b.insts)
        .copied()
        .filter(|&i| matches!(func.inst(i), InstData::Load { ptr, .. } if *ptr == y))
        .collect();
    assert!(!loads.is_empty());

    let (errors, shown) = expect_errors(&program);
    assert!(errors.iter().all(|e| e.function == "rhs"), "{shown:#?}");
    assert!(
        errors.iter().any(|e| e.entity == Entity::Value(y)
            && e.message.contains("entry parameter 1")
            && e.message.contains("ptr<i64>")),
        "{shown:#?}"
    );
    for inst in loads {
        assert!(
            errors
                .iter()
                .any(|e| e.entity == Entity::Inst(inst)
                    && e.message.contains("loading from ptr<i64>")),
            "{inst}: {shown:#?}"
        );
    }
    // Every other function is untouched, and the original still verifies.
    assert!(verify_program(&case.program).is_ok());
}

#[test]
fn verifier_rejects_a_use_of_a_value_nothing_defines() {
    let case = lorenz_rk4();
    let mut program = case.program.clone();
    let rhs = case.functions.rhs;
    let func = &mut program.functions[rhs.index()];
    // Two f64 values whose recorded definitions point at real places that do not hold them
    // (as left behind by a pass that removed a block parameter or a result without
    // rewriting the uses), used by the first f64 binary operation of the entry block.
    let entry = &func.blocks[0];
    let first = entry.insts[0];
    let inst = entry
        .insts
        .iter()
        .copied()
        .find(|&i| {
            matches!(func.inst(i), InstData::Binary { .. })
                && func.value_type(func.inst_results(i)[0]) == Type::F64
        })
        .expect("rhs computes in f64");
    let nparams = entry.params.len() as u32;
    let ghost_result = func.make_value(Type::F64, ValueDef::Result(first, 3));
    let ghost_param = func.make_value(Type::F64, ValueDef::Param(Block(0), nparams + 2));
    if let InstData::Binary { args, .. } = &mut func.insts[inst.index()] {
        *args = [ghost_result, ghost_param];
    }

    let (errors, shown) = expect_errors(&program);
    assert_eq!(errors.len(), 2, "{shown:#?}");
    for (e, ghost) in errors.iter().zip([ghost_result, ghost_param]) {
        assert_eq!(e.function, "rhs");
        assert_eq!(e.entity, Entity::Inst(inst));
        assert!(
            e.message
                .starts_with(&format!("uses {ghost}, which nothing defines")),
            "{shown:#?}"
        );
    }
    assert!(shown[0].starts_with(&format!("@rhs: {inst}: uses {ghost_result}")));
    // Such a program prints as text that does not parse back: the verifier is what stops it.
    assert!(parse_program(&print_program(&program)).is_err());
}

/// Lorenz-96 with `n` states, each `(x[i+1] - x[i-2]) * x[i-1] - x[i] + F`.
fn lorenz96(n: usize) -> Arc<Model> {
    let mut s = String::from("inline:\n[model]\ntype = \"ode\"\n[states]\n");
    for i in 0..n {
        s.push_str(&format!("x{i} = 8.0\n"));
    }
    s.push_str("[params]\nF = 8.0\n[equations.rhs]\n");
    for i in 0..n {
        let (a, b, c) = ((i + 1) % n, (i + n - 2) % n, (i + n - 1) % n);
        s.push_str(&format!("x{i} = \"(x{a} - x{b}) * x{c} - x{i} + F\"\n"));
    }
    load_builtin(&s)
}

/// Issue 12: code that grows linearly with the model. Above the unroll limit the stepper's
/// and runner's own code is the same size whatever the number of states (up to the
/// remainder of a loop of 8; their per-state work is IR loops), and a large right-hand side is called by each RK4 stage rather than
/// copied into it; only the model's own functions grow with the model.
#[test]
fn stepper_and_runner_code_does_not_grow_with_the_model() {
    let size = |f: &Function| -> usize { f.blocks.iter().map(|b| b.insts.len()).sum() };
    let calls_of = |p: &Program, f: &Function, name: &str| -> usize {
        f.blocks
            .iter()
            .flat_map(|b| &b.insts)
            .filter(|i| {
                matches!(&f.insts[i.index()], InstData::Call { func, .. }
                    if p.functions[func.index()].name == name)
            })
            .count()
    };
    let sizes = |n: usize| {
        let k = Kernel::build(lorenz96(n), Some("rk4")).unwrap();
        let p = k.program();
        let by_name = |name: &str| {
            p.functions
                .iter()
                .find(|f| f.name == name)
                .unwrap_or_else(|| panic!("no function {name}"))
        };
        let runners: Vec<&Function> = p
            .functions
            .iter()
            .filter(|f| f.name.starts_with("runner"))
            .collect();
        assert!(!runners.is_empty());
        let rhs_calls: Vec<usize> = runners.iter().map(|r| calls_of(p, r, "rhs")).collect();
        let runner_sizes: Vec<usize> = runners.iter().map(|r| size(r)).collect();
        (size(by_name("rhs")), runner_sizes, rhs_calls)
    };
    // Multiples of the states a loop iteration takes: any other size adds the remainder's
    // few unrolled states.
    let (rhs_small, runners_small, calls_small) = sizes(304);
    let (rhs_large, runners_large, calls_large) = sizes(608);
    assert_eq!(
        runners_small, runners_large,
        "runner sizes at 304 and 608 states"
    );
    let (_, runners_odd, _) = sizes(611);
    assert!(
        runners_odd
            .iter()
            .zip(&runners_large)
            .all(|(&a, &b)| a > b && a < b + 200),
        "a remainder of 3 states adds a little: {runners_odd:?} vs {runners_large:?}"
    );
    assert!(
        calls_small.iter().chain(&calls_large).all(|&c| c == 4),
        "each runner calls the right-hand side once per RK4 stage: {calls_small:?} {calls_large:?}"
    );
    assert!(
        rhs_large >= 2 * rhs_small - 10 && rhs_large <= 2 * rhs_small + 10,
        "the right-hand side grows linearly: {rhs_small} -> {rhs_large}"
    );
    // Below the limit everything is inlined and unrolled, as before.
    let (_, _, calls_tiny) = sizes(5);
    assert!(calls_tiny.iter().all(|&c| c == 0), "{calls_tiny:?}");
}
