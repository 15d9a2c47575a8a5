//! The verifier: checks that a program is well-formed, typed SSA.
//!
//! Both backends assume verified IR (the interpreter does not re-check types at run time,
//! and LLVM would reject or miscompile ill-formed input), so lowering and every pass are
//! followed by verification in tests. Every error names the function and the entity it
//! concerns (`inst5`, `v3`, `block2`) and, for instructions, shows the instruction as
//! printed; all errors are collected rather than stopping at the first.
//!
//! Checked:
//! - structure: references in range, each instruction in at most one block, every value's
//!   [`ValueDef`] matching where it is defined, the function has blocks;
//! - blocks: each ends with exactly one terminator; nothing jumps to the entry `block0`
//!   (its parameters are the function's); the entry's parameters match the signature;
//! - SSA: every operand is defined, and its definition dominates the use (in the same block:
//!   comes earlier). In a block unreachable from the entry, values from other blocks count as
//!   dominating, as in LLVM — that code never runs;
//! - types of every instruction, results count included (see [`check_types`] for the rules).

use std::fmt;

use crate::ir::*;
use crate::passes::dominators::DominatorTree;
use crate::print::print_inst;

/// The IR entity a verifier error is about.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Entity {
    /// The function as a whole (its signature, or having no blocks).
    Function,
    /// A block.
    Block(Block),
    /// An instruction.
    Inst(Inst),
    /// A value.
    Value(Value),
}

impl fmt::Display for Entity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Entity::Function => f.write_str("function"),
            Entity::Block(b) => write!(f, "{b}"),
            Entity::Inst(i) => write!(f, "{i}"),
            Entity::Value(v) => write!(f, "{v}"),
        }
    }
}

/// One problem found by the verifier.
///
/// Displays as `@rhs: inst5: add operands must both be f64, found f64 and i64 (in `v7:f64 =
/// add v3, v4`)`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("@{function}: {entity}: {message}{}", snippet.as_ref().map(|s| format!(" (in `{s}`)")).unwrap_or_default())]
pub struct VerifierError {
    /// The function's name.
    pub function: String,
    /// What the error is about.
    pub entity: Entity,
    /// What is wrong.
    pub message: String,
    /// The instruction as printed, when the entity is an instruction.
    pub snippet: Option<String>,
}

/// Verifies every function of the program, collecting all errors.
pub fn verify_program(program: &Program) -> Result<(), Vec<VerifierError>> {
    let mut errors = Vec::new();
    for (i, func) in program.functions.iter().enumerate() {
        if program.functions[..i].iter().any(|g| g.name == func.name) {
            errors.push(VerifierError {
                function: func.name.clone(),
                entity: Entity::Function,
                message: format!("another function is also named @{}", func.name),
                snippet: None,
            });
        }
        errors.extend(check_function(program, FuncId(i as u32)));
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

/// Verifies one function of the program (calls are checked against their callees'
/// signatures in `program`).
pub fn verify_function(program: &Program, func: FuncId) -> Result<(), Vec<VerifierError>> {
    let errors = check_function(program, func);
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

fn check_function(program: &Program, id: FuncId) -> Vec<VerifierError> {
    let Some(func) = program.functions.get(id.index()) else {
        return vec![VerifierError {
            function: id.to_string(),
            entity: Entity::Function,
            message: format!("{id} is not a function of the program"),
            snippet: None,
        }];
    };
    let mut v = Verifier {
        program,
        func,
        errors: Vec::new(),
        placement: Vec::new(),
        listed: Vec::new(),
    };
    for (n, ty) in func.sig.returns.iter().enumerate() {
        if matches!(ty, Type::Ptr(_)) {
            v.error(
                Entity::Function,
                format!("return value {n} has pointer type {ty}: only parameters are arrays"),
            );
        }
    }
    if v.check_structure() {
        v.check_entry();
        v.check_terminators();
        for b in func.block_ids() {
            for &inst in &func.blocks[b.index()].insts {
                if v.placement[inst.index()].map(|(pb, _)| pb) == Some(b) {
                    v.check_types(inst);
                }
            }
        }
        v.check_dominance();
    }
    v.errors
}

struct Verifier<'a> {
    program: &'a Program,
    func: &'a Function,
    errors: Vec<VerifierError>,
    /// The block and position of each instruction that is in a block.
    placement: Vec<Option<(Block, usize)>>,
    /// Values that are a parameter of a block or a result of an instruction in a block (so
    /// a definition of theirs that disagrees is reported by `check_structure`).
    listed: Vec<bool>,
}

impl Verifier<'_> {
    fn error(&mut self, entity: Entity, message: String) {
        self.errors.push(VerifierError {
            function: self.func.name.clone(),
            entity,
            message,
            snippet: None,
        });
    }

    fn inst_error(&mut self, inst: Inst, message: String) {
        self.errors.push(VerifierError {
            function: self.func.name.clone(),
            entity: Entity::Inst(inst),
            message,
            snippet: Some(print_inst(self.func, inst, Some(self.program))),
        });
    }

    fn ty(&self, v: Value) -> Type {
        self.func.values[v.index()].ty
    }

    /// References in range, placement, value definitions. Returns false when later checks
    /// could not run safely (an out-of-range reference).
    fn check_structure(&mut self) -> bool {
        let func = self.func;
        if func.blocks.is_empty() {
            self.error(
                Entity::Function,
                "has no blocks (needs an entry block)".into(),
            );
            return false;
        }
        if func.results.len() != func.insts.len() {
            self.error(
                Entity::Function,
                format!(
                    "has {} instructions but result lists for {}",
                    func.insts.len(),
                    func.results.len()
                ),
            );
            return false;
        }
        let nvalues = func.values.len();
        let nblocks = func.blocks.len();
        self.placement = vec![None; func.insts.len()];
        self.listed = vec![false; nvalues];
        let mut fatal = false;
        for b in func.block_ids() {
            let data = &func.blocks[b.index()];
            for (n, &p) in data.params.iter().enumerate() {
                if p.index() >= nvalues {
                    self.error(
                        Entity::Block(b),
                        format!("parameter {n} is {p}, which does not exist"),
                    );
                    fatal = true;
                    continue;
                }
                self.listed[p.index()] = true;
                if func.values[p.index()].def != ValueDef::Param(b, n as u32) {
                    self.error(
                        Entity::Value(p),
                        format!(
                            "is parameter {n} of {b} but its definition says {}",
                            describe_def(func.values[p.index()].def)
                        ),
                    );
                }
            }
            for (pos, &inst) in data.insts.iter().enumerate() {
                if inst.index() >= func.insts.len() {
                    self.error(
                        Entity::Block(b),
                        format!("contains {inst}, which does not exist"),
                    );
                    fatal = true;
                    continue;
                }
                if let Some((other, _)) = self.placement[inst.index()] {
                    self.error(Entity::Inst(inst), format!("is in both {other} and {b}"));
                    continue;
                }
                self.placement[inst.index()] = Some((b, pos));
                for (n, &r) in func.results[inst.index()].iter().enumerate() {
                    if r.index() >= nvalues {
                        self.error(
                            Entity::Inst(inst),
                            format!("result {n} is {r}, which does not exist"),
                        );
                        fatal = true;
                        continue;
                    }
                    self.listed[r.index()] = true;
                    if func.values[r.index()].def != ValueDef::Result(inst, n as u32) {
                        self.error(
                            Entity::Value(r),
                            format!(
                                "is result {n} of {inst} but its definition says {}",
                                describe_def(func.values[r.index()].def)
                            ),
                        );
                    }
                }
                let data = &func.insts[inst.index()];
                let mut missing = Vec::new();
                data.for_each_operand(|v| {
                    if v.index() >= nvalues {
                        missing.push(v);
                    }
                });
                for v in missing {
                    self.inst_error(inst, format!("uses {v}, which does not exist"));
                    fatal = true;
                }
                for target in data.successors() {
                    if target.index() >= nblocks {
                        self.inst_error(inst, format!("jumps to {target}, which does not exist"));
                        fatal = true;
                    }
                }
                if let InstData::Call { func: callee, .. } = data {
                    if callee.index() >= self.program.functions.len() {
                        self.inst_error(
                            inst,
                            format!("calls {callee}, which is not a function of the program"),
                        );
                        fatal = true;
                    }
                }
            }
        }
        // A definition that points outside the tables would make the dominance check index
        // out of bounds.
        for (i, data) in func.values.iter().enumerate() {
            let ok = match data.def {
                ValueDef::Param(b, _) => b.index() < nblocks,
                ValueDef::Result(inst, _) => inst.index() < func.insts.len(),
            };
            if !ok {
                self.error(
                    Entity::Value(Value(i as u32)),
                    format!(
                        "definition refers to {}, which does not exist",
                        describe_def(data.def)
                    ),
                );
                fatal = true;
            }
        }
        !fatal
    }

    fn check_entry(&mut self) {
        let func = self.func;
        let params = &func.blocks[0].params;
        if params.len() != func.sig.params.len() {
            self.error(
                Entity::Block(Block(0)),
                format!(
                    "the entry block has {} parameters but the signature has {}",
                    params.len(),
                    func.sig.params.len()
                ),
            );
            return;
        }
        for (n, (&p, &ty)) in params.iter().zip(&func.sig.params).enumerate() {
            if self.ty(p) != ty {
                self.error(
                    Entity::Value(p),
                    format!(
                        "entry parameter {n} has type {} but the signature says {ty}",
                        self.ty(p)
                    ),
                );
            }
        }
    }

    fn check_terminators(&mut self) {
        let func = self.func;
        for b in func.block_ids() {
            let insts = &func.blocks[b.index()].insts;
            let Some(&last) = insts.last() else {
                self.error(
                    Entity::Block(b),
                    "is empty; a block must end with a terminator".into(),
                );
                continue;
            };
            for &inst in &insts[..insts.len() - 1] {
                if func.insts[inst.index()].is_terminator() {
                    self.inst_error(
                        inst,
                        format!(
                            "terminator in the middle of {b}; only the last instruction may be one"
                        ),
                    );
                }
            }
            if !func.insts[last.index()].is_terminator() {
                self.error(
                    Entity::Block(b),
                    format!("does not end with a terminator (its last instruction is {last})"),
                );
            }
        }
    }

    /// Type rules, per instruction:
    /// - `const`: bits valid for the result type (bool 0 or 1, i32 sign-extended, f32 in the
    ///   low 32 bits; no pointer constants);
    /// - `neg` on numbers, `not` on bool, result of the operand's type;
    /// - binary: both operands of the result type; `div` floats only, `and`/`or` bool only,
    ///   the others numbers;
    /// - `cmp`: operands of the same non-pointer type, result bool;
    /// - `select`: bool condition, both arms of the result type;
    /// - `convert`: from and to non-pointer scalar types;
    /// - `math`: [`MathFn::arity`] arguments and a result of one float type (f64 or f32);
    /// - `load ptr, index`: `ptr<e>`, i64 index, result `e`; `store`: value of type `e`;
    /// - `call`: arguments and results match the callee's signature; pointer arguments are
    ///   parameters of the caller, each passed at most once (so arrays never alias);
    /// - `jump`/`brif`: arguments match the target's parameters; `brif` condition bool;
    /// - `return`: values match the signature's return types.
    fn check_types(&mut self, inst: Inst) {
        let func = self.func;
        let data = &func.insts[inst.index()];
        let results = &func.results[inst.index()];
        let expected_results = match data {
            InstData::Call { func: callee, .. } => {
                self.program.functions[callee.index()].sig.returns.len()
            }
            InstData::Store { .. }
            | InstData::Jump { .. }
            | InstData::Brif { .. }
            | InstData::Return { .. } => 0,
            _ => 1,
        };
        if results.len() != expected_results {
            self.inst_error(
                inst,
                format!(
                    "has {} results but should have {expected_results}",
                    results.len()
                ),
            );
            return;
        }
        let result_ty = results.first().map(|&r| self.ty(r));
        let mut problems: Vec<String> = Vec::new();
        match data {
            InstData::Const { bits } => {
                let ty = result_ty.expect("one result");
                let ok = match ty {
                    Type::F64 | Type::I64 => true,
                    Type::F32 => bits >> 32 == 0,
                    Type::I32 => *bits == (*bits as i32 as i64 as u64),
                    Type::Bool => *bits <= 1,
                    Type::Ptr(_) => false,
                };
                expect(&mut problems, ok, &|| match ty {
                    Type::Ptr(_) => format!("a constant cannot have pointer type {ty}"),
                    _ => format!("bits 0x{bits:x} are not a valid {ty} constant"),
                });
            }
            InstData::Unary { op, arg } => {
                let (ta, tr) = (self.ty(*arg), result_ty.expect("one result"));
                match op {
                    UnaryOp::Neg => expect(&mut problems, ta.is_number(), &|| {
                        format!("neg needs a number, found {ta}")
                    }),
                    UnaryOp::Not => expect(&mut problems, ta == Type::Bool, &|| {
                        format!("not needs a bool, found {ta}")
                    }),
                }
                expect(&mut problems, tr == ta, &|| {
                    format!("result type {tr} differs from the operand type {ta}")
                });
            }
            InstData::Binary { op, args } => {
                let (ta, tb) = (self.ty(args[0]), self.ty(args[1]));
                let tr = result_ty.expect("one result");
                let name = crate::print::binary_name(*op);
                if ta != tr || tb != tr {
                    problems.push(format!(
                        "{name} operands must both have the result type {tr}, found {ta} and {tb}"
                    ));
                } else {
                    let (ok, needs) = match op {
                        BinaryOp::Div => (tr.is_float(), "floats"),
                        BinaryOp::And | BinaryOp::Or => (tr == Type::Bool, "bools"),
                        _ => (tr.is_number(), "numbers"),
                    };
                    expect(&mut problems, ok, &|| {
                        format!("{name} works on {needs}, not {tr}")
                    });
                }
            }
            InstData::Cmp { args, .. } => {
                let (ta, tb) = (self.ty(args[0]), self.ty(args[1]));
                expect(&mut problems, ta == tb, &|| {
                    format!("cmp operands must have the same type, found {ta} and {tb}")
                });
                expect(&mut problems, !matches!(ta, Type::Ptr(_)), &|| {
                    format!("cannot compare pointers ({ta})")
                });
                let tr = result_ty.expect("one result");
                expect(&mut problems, tr == Type::Bool, &|| {
                    format!("cmp gives a bool, not {tr}")
                });
            }
            InstData::Select { args } => {
                let tc = self.ty(args[0]);
                let (ta, tb) = (self.ty(args[1]), self.ty(args[2]));
                let tr = result_ty.expect("one result");
                expect(&mut problems, tc == Type::Bool, &|| {
                    format!("select condition must be bool, found {tc}")
                });
                expect(&mut problems, ta == tr && tb == tr, &|| {
                    format!("select arms must both have the result type {tr}, found {ta} and {tb}")
                });
            }
            InstData::Convert { arg } => {
                let (from, to) = (self.ty(*arg), result_ty.expect("one result"));
                expect(
                    &mut problems,
                    !matches!(from, Type::Ptr(_)) && !matches!(to, Type::Ptr(_)),
                    &|| format!("cannot convert {from} to {to}: pointers do not convert"),
                );
            }
            InstData::Math { func: m, args } => {
                expect(&mut problems, args.len() == m.arity(), &|| {
                    format!(
                        "math {} takes {} arguments, found {}",
                        m.name(),
                        m.arity(),
                        args.len()
                    )
                });
                // One float type throughout: f64, or f32 (the C library's float version).
                let tr = result_ty.expect("one result");
                expect(&mut problems, tr == Type::F64 || tr == Type::F32, &|| {
                    format!("math gives an f64 or f32, not {tr}")
                });
                for &a in args {
                    let ta = self.ty(a);
                    expect(&mut problems, ta == tr, &|| {
                        format!("math arguments must be {tr} like its result, but {a} is {ta}")
                    });
                }
            }
            InstData::Load { ptr, index } => {
                let (tp, ti) = (self.ty(*ptr), self.ty(*index));
                let tr = result_ty.expect("one result");
                match tp {
                    Type::Ptr(e) => expect(&mut problems, tr == e.ty(), &|| {
                        format!("loading from {tp} gives {}, not {tr}", e.ty())
                    }),
                    _ => problems.push(format!("load needs a pointer, found {tp}")),
                }
                expect(&mut problems, ti == Type::I64, &|| {
                    format!("index must be i64, found {ti}")
                });
            }
            InstData::Store { ptr, index, value } => {
                let (tp, ti, tv) = (self.ty(*ptr), self.ty(*index), self.ty(*value));
                match tp {
                    Type::Ptr(e) => expect(&mut problems, tv == e.ty(), &|| {
                        format!("storing {tv} into {tp}; the value must be {}", e.ty())
                    }),
                    _ => problems.push(format!("store needs a pointer, found {tp}")),
                }
                expect(&mut problems, ti == Type::I64, &|| {
                    format!("index must be i64, found {ti}")
                });
            }
            InstData::Call { func: callee, args } => {
                let target = &self.program.functions[callee.index()];
                let sig = &target.sig;
                if args.len() != sig.params.len() {
                    problems.push(format!(
                        "@{} takes {} arguments, found {}",
                        target.name,
                        sig.params.len(),
                        args.len()
                    ));
                } else {
                    for (n, (&a, &want)) in args.iter().zip(&sig.params).enumerate() {
                        let ta = self.ty(a);
                        expect(&mut problems, ta == want, &|| {
                            format!(
                                "argument {n} of @{} must be {want}, but {a} is {ta}",
                                target.name
                            )
                        });
                    }
                }
                // Distinct pointer parameters never share memory (passes rely on it to
                // forward stored values): a call passes each array at most once, and only
                // arrays it received as its own parameters, never one picked by a select or a
                // block parameter.
                let entry = func.blocks.first().map_or(&[][..], |b| b.params.as_slice());
                for (n, &a) in args.iter().enumerate() {
                    if !matches!(self.ty(a), Type::Ptr(_)) {
                        continue;
                    }
                    expect(&mut problems, entry.contains(&a), &|| {
                        format!(
                            "argument {n} of @{} is the array {a}, which is not a parameter of this function",
                            target.name
                        )
                    });
                    expect(&mut problems, !args[..n].contains(&a), &|| {
                        format!(
                            "argument {n} of @{} passes the array {a} a second time (arrays may not alias)",
                            target.name
                        )
                    });
                }
                for (n, (&r, &want)) in results.iter().zip(&sig.returns).enumerate() {
                    let tr = self.ty(r);
                    expect(&mut problems, tr == want, &|| {
                        format!(
                            "result {n} of @{} is {want}, but {r} is declared {tr}",
                            target.name
                        )
                    });
                }
            }
            InstData::Jump { dest } => self.check_block_call(dest, &mut problems),
            InstData::Brif {
                cond,
                then_dest,
                else_dest,
            } => {
                let tc = self.ty(*cond);
                expect(&mut problems, tc == Type::Bool, &|| {
                    format!("brif condition must be bool, found {tc}")
                });
                self.check_block_call(then_dest, &mut problems);
                self.check_block_call(else_dest, &mut problems);
            }
            InstData::Return { args } => {
                let returns = &func.sig.returns;
                if args.len() != returns.len() {
                    problems.push(format!(
                        "returns {} values but the signature has {}",
                        args.len(),
                        returns.len()
                    ));
                } else {
                    for (n, (&a, &want)) in args.iter().zip(returns).enumerate() {
                        let ta = self.ty(a);
                        expect(&mut problems, ta == want, &|| {
                            format!("return value {n} must be {want}, but {a} is {ta}")
                        });
                    }
                }
            }
        }
        for p in problems {
            self.inst_error(inst, p);
        }
    }

    fn check_block_call(&self, dest: &BlockCall, problems: &mut Vec<String>) {
        let target = dest.block;
        if target == Block(0) {
            problems.push(
                "jumps to the entry block0, whose parameters are the function's; \
                 put the loop in another block"
                    .into(),
            );
        }
        let params = &self.func.blocks[target.index()].params;
        if params.len() != dest.args.len() {
            problems.push(format!(
                "{target} has {} parameters but the jump passes {} arguments",
                params.len(),
                dest.args.len()
            ));
            return;
        }
        for (&a, &p) in dest.args.iter().zip(params) {
            let (ta, tp) = (self.ty(a), self.ty(p));
            if ta != tp {
                problems.push(format!(
                    "argument {a} is {ta} but {target}'s parameter {p} is {tp}"
                ));
            }
        }
    }

    fn check_dominance(&mut self) {
        let func = self.func;
        let dt = DominatorTree::compute(func);
        for b in func.block_ids() {
            for (pos, &inst) in func.blocks[b.index()].insts.iter().enumerate() {
                if self.placement[inst.index()] != Some((b, pos)) {
                    continue; // reported as placed twice
                }
                for v in func.insts[inst.index()].operands() {
                    if let Some(why) = self.dominance_problem(&dt, v, b, pos) {
                        self.inst_error(inst, why);
                    }
                }
            }
        }
    }

    /// Why the definition of `v` does not dominate a use at position `pos` of `block`, or
    /// `None` when it does.
    fn dominance_problem(
        &self,
        dt: &DominatorTree,
        v: Value,
        block: Block,
        pos: usize,
    ) -> Option<String> {
        let func = self.func;
        // Where `v` is defined, as (block, position); block parameters come before position 0.
        let (def_block, def_pos): (Block, Option<usize>) = match func.values[v.index()].def {
            ValueDef::Param(b, n) => {
                if func.blocks[b.index()].params.get(n as usize) != Some(&v) {
                    return self.undefined(v);
                }
                (b, None)
            }
            ValueDef::Result(i, n) => {
                if func.results[i.index()].get(n as usize) != Some(&v) {
                    return self.undefined(v);
                }
                match self.placement[i.index()] {
                    Some((b, p)) => (b, Some(p)),
                    None => return Some(format!("uses {v}, defined by {i}, which is in no block")),
                }
            }
        };
        let ok = if def_block == block {
            def_pos.is_none_or(|p| p < pos)
        } else {
            !dt.is_reachable(block) || dt.dominates(def_block, block)
        };
        if ok {
            None
        } else if def_block == block {
            Some(format!("uses {v} before its definition in {block}"))
        } else {
            Some(format!(
                "uses {v}, defined in {def_block}, which does not dominate {block}"
            ))
        }
    }

    /// The problem with a use of `v`, whose recorded definition does not hold it: when `v` is
    /// listed somewhere else, `check_structure` reported the disagreement already; otherwise
    /// nothing defines `v` (a value made but never placed, or whose block parameter or
    /// result was removed), and the use is the error.
    fn undefined(&self, v: Value) -> Option<String> {
        if self.listed[v.index()] {
            return None;
        }
        Some(format!(
            "uses {v}, which nothing defines (its definition says {}, which is not {v})",
            describe_def(self.func.values[v.index()].def)
        ))
    }
}

fn describe_def(def: ValueDef) -> String {
    match def {
        ValueDef::Param(b, n) => format!("parameter {n} of {b}"),
        ValueDef::Result(i, n) => format!("result {n} of {i}"),
    }
}

/// Records `msg()` when `ok` is false (the message is only formatted on failure).
fn expect(problems: &mut Vec<String>, ok: bool, msg: &dyn Fn() -> String) {
    if !ok {
        problems.push(msg());
    }
}
