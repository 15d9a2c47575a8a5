//! IR → [`Code`]: type specialisation, constant placement, block arguments as moves.
//!
//! Decoding happens once per program. It is also where every property the executor relies
//! on is established and then checked on the finished code (see [`validate`]): register
//! operands inside the frame, branch targets inside the code, and a terminator at the end,
//! so execution can never run off the operation array.

use dynlib_ir::{
    BinaryOp, Block, BlockCall, CmpOp, Elem, Function, Inst, InstData, MathFn, Program, Type,
    UnaryOp, Value, ValueDef,
};

use dynlib_ir::print::print_inst;

use crate::code::{CallSite, Code, Op, Reg};
use crate::error::Error;
use crate::fuse;
use dynlib_ir::libm;

/// Decodes every function of `program`; with `fusion`, adjacent operations are fused into
/// superinstructions where possible ([`fuse`]), which changes no result.
pub(crate) fn decode_program(program: &Program, fusion: bool) -> Result<Vec<Code>, Error> {
    program
        .functions
        .iter()
        .map(|func| decode_function(program, func, fusion))
        .collect()
}

/// Where a branch goes before operation indices are known: a block, or a stub that
/// performs an edge's moves and then jumps to the block.
#[derive(Copy, Clone)]
enum Label {
    Block(u32),
    Stub(u32),
}

impl Label {
    /// Packs the label into a branch target field until [`decode_function`] resolves it.
    fn encode(self, nblocks: u32) -> u32 {
        match self {
            Label::Block(b) => b,
            Label::Stub(s) => nblocks + s,
        }
    }
}

/// An out-of-line edge: the moves of a `brif` arm with block arguments.
struct Stub {
    moves: Vec<(Reg, Reg)>,
    target: u32,
    origin: Inst,
}

struct Decoder<'a> {
    program: &'a Program,
    func: &'a Function,
    code: Code,
    /// The register that breaks cycles of parallel moves.
    scratch: Reg,
    stubs: Vec<Stub>,
    /// The functions of [`Code::math1`], in order (to share one entry per function).
    math1: Vec<MathFn>,
    /// Whether adjacent operations are fused into superinstructions ([`fuse`]).
    fusion: bool,
    /// The first operation the next one may fuse with: operations before it belong to
    /// another block (or are already fused).
    fuse_from: usize,
}

fn decode_function(program: &Program, func: &Function, fusion: bool) -> Result<Code, Error> {
    let nvals = func.values.len();
    if nvals >= u32::MAX as usize {
        return Err(plain_error(
            func,
            None,
            "too many values for 32-bit registers",
        ));
    }
    let mut d = Decoder {
        program,
        func,
        code: Code {
            ops: Vec::new(),
            origin: Vec::new(),
            // One register per value, plus the scratch register.
            template: vec![0; nvals + 1],
            params: Vec::new(),
            sig: func.sig.clone(),
            returns: Vec::new(),
            calls: Vec::new(),
            pairs: Vec::new(),
            math1: Vec::new(),
            math1_f32: Vec::new(),
        },
        scratch: nvals as Reg,
        stubs: Vec::new(),
        math1: Vec::new(),
        fusion,
        fuse_from: 0,
    };
    d.entry()?;
    let nblocks = func.blocks.len() as u32;
    let mut block_pc = Vec::with_capacity(func.blocks.len());
    for b in 0..nblocks {
        block_pc.push(d.code.ops.len() as u32);
        d.block(Block(b))?;
    }
    let mut stub_pc = Vec::with_capacity(d.stubs.len());
    for stub in std::mem::take(&mut d.stubs) {
        stub_pc.push(d.code.ops.len() as u32);
        d.fuse_from = d.code.ops.len();
        for (dst, src) in stub.moves {
            d.emit(Op::Mov { d: dst, s: src }, stub.origin);
        }
        d.emit(Op::Jump { t: stub.target }, stub.origin);
    }
    for op in &mut d.code.ops {
        for t in op.targets_mut() {
            *t = if *t < nblocks {
                block_pc[*t as usize]
            } else {
                stub_pc[(*t - nblocks) as usize]
            };
        }
    }
    validate(&d.code).map_err(|m| plain_error(func, None, &m))?;
    Ok(d.code)
}

fn plain_error(func: &Function, entity: Option<String>, message: &str) -> Error {
    Error {
        function: func.name.clone(),
        entity,
        message: message.to_string(),
        snippet: None,
    }
}

/// Checks the properties the executor's unchecked frame and code accesses rely on: every
/// register operand (side tables included) is below the frame size, every branch target
/// is an operation index, and the last operation is a terminator — so straight-line
/// execution from any target reaches a terminator before the end of the array.
pub(crate) fn validate(code: &Code) -> Result<(), String> {
    let n = code.frame_size();
    let in_frame = |r: Reg| (r as usize) < n;
    let mut bad = None;
    for (pc, op) in code.ops.iter().enumerate() {
        op.for_each_reg(|r| {
            if !in_frame(r) {
                bad = Some(format!(
                    "operation {pc} names register {r} outside the frame"
                ));
            }
        });
        match *op {
            Op::Jump { t } | Op::Brif { t, .. } if t as usize >= code.ops.len() => {
                bad = Some(format!("operation {pc} jumps outside the code"));
            }
            Op::Brif { e, .. } if e as usize >= code.ops.len() => {
                bad = Some(format!("operation {pc} jumps outside the code"));
            }
            Op::Return { at } if at as usize + code.sig.returns.len() > code.returns.len() => {
                bad = Some(format!("operation {pc} returns a missing list"));
            }
            Op::Call { site } if site as usize >= code.calls.len() => {
                bad = Some(format!("operation {pc} names a missing call site"));
            }
            Op::Select { p, .. } if p as usize >= code.pairs.len() => {
                bad = Some(format!("operation {pc} names a missing select pair"));
            }
            Op::Math1 { f, .. } if f as usize >= code.math1.len() => {
                bad = Some(format!("operation {pc} names a missing math function"));
            }
            Op::Math1F32 { f, .. } if f as usize >= code.math1_f32.len() => {
                bad = Some(format!("operation {pc} names a missing math function"));
            }
            _ => {}
        }
    }
    if let Some(m) = bad {
        return Err(m);
    }
    if !code.ops.last().is_some_and(Op::is_terminator) {
        return Err("the code does not end with a terminator".into());
    }
    let side = code
        .returns
        .iter()
        .chain(&code.params)
        .chain(code.pairs.iter().flatten())
        .chain(
            code.calls
                .iter()
                .flat_map(|c| c.args.iter().chain(&c.results)),
        );
    for &r in side {
        if !in_frame(r) {
            return Err(format!("a side table names register {r} outside the frame"));
        }
    }
    if code.origin.len() != code.ops.len() {
        return Err("operation origins are missing".into());
    }
    Ok(())
}

impl Decoder<'_> {
    fn error(&self, inst: Inst, message: impl Into<String>) -> Error {
        Error {
            function: self.func.name.clone(),
            entity: Some(inst.to_string()),
            message: message.into(),
            snippet: Some(print_inst(self.func, inst, Some(self.program))),
        }
    }

    /// Appends `op`, fusing it with the previous operation of the same block when the
    /// pair has a superinstruction.
    fn emit(&mut self, op: Op, origin: Inst) {
        if self.fusion && self.code.ops.len() > self.fuse_from {
            let last = self.code.ops.len() - 1;
            if let Some(fused) = fuse::fuse(self.code.ops[last], op) {
                self.code.ops[last] = fused;
                self.code.origin[last][1] = origin;
                // A fused operation does not fuse again.
                self.fuse_from = self.code.ops.len();
                return;
            }
        }
        self.code.ops.push(op);
        self.code.origin.push([origin; 2]);
    }

    /// The entry block's parameters are the function's parameters.
    fn entry(&mut self) -> Result<(), Error> {
        let Some(entry) = self.func.blocks.first() else {
            return Err(plain_error(self.func, None, "the function has no blocks"));
        };
        if entry.params.len() != self.func.sig.params.len() {
            return Err(plain_error(
                self.func,
                Some("block0".into()),
                "the entry block's parameters do not match the signature",
            ));
        }
        for (&v, &ty) in entry.params.iter().zip(&self.func.sig.params) {
            if self.func.values.get(v.index()).map(|d| d.ty) != Some(ty) {
                return Err(plain_error(
                    self.func,
                    Some(v.to_string()),
                    "the entry block's parameter types do not match the signature",
                ));
            }
            self.code.params.push(v.0);
        }
        for &ty in &self.func.sig.returns {
            if matches!(ty, Type::Ptr(_)) {
                return Err(plain_error(
                    self.func,
                    None,
                    "a function cannot return a pointer",
                ));
            }
        }
        Ok(())
    }

    fn reg(&self, inst: Inst, v: Value) -> Result<Reg, Error> {
        if v.index() < self.func.values.len() {
            Ok(v.0)
        } else {
            Err(self.error(inst, format!("{v} is not a value of the function")))
        }
    }

    fn ty(&self, v: Value) -> Type {
        self.func.values[v.index()].ty
    }

    fn results(&self, inst: Inst) -> &[Value] {
        self.func
            .results
            .get(inst.index())
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }

    /// The single result of `inst`.
    fn result(&self, inst: Inst) -> Result<Reg, Error> {
        match *self.results(inst) {
            [v] => self.reg(inst, v),
            _ => Err(self.error(inst, "the instruction must have exactly one result")),
        }
    }

    /// The constant `v` holds, when it is the result of a `const` instruction.
    fn constant_of(&self, v: Value) -> Option<u64> {
        match self.func.values[v.index()].def {
            ValueDef::Result(i, 0) => match self.func.insts.get(i.index()) {
                Some(InstData::Const { bits }) => Some(*bits),
                _ => None,
            },
            _ => None,
        }
    }

    fn block(&mut self, b: Block) -> Result<(), Error> {
        // A block starts a new operation: it may be a branch target.
        self.fuse_from = self.code.ops.len();
        let insts = &self.func.blocks[b.index()].insts;
        if insts.is_empty() {
            return Err(plain_error(
                self.func,
                Some(b.to_string()),
                "the block has no terminator",
            ));
        }
        for (k, &inst) in insts.iter().enumerate() {
            let Some(data) = self.func.insts.get(inst.index()) else {
                return Err(plain_error(
                    self.func,
                    Some(b.to_string()),
                    &format!("{inst} does not exist"),
                ));
            };
            let last = k + 1 == insts.len();
            if data.is_terminator() != last {
                let m = if last {
                    "the block does not end with a terminator"
                } else {
                    "a terminator in the middle of the block"
                };
                return Err(self.error(inst, m));
            }
            self.inst(b, inst, data)?;
        }
        Ok(())
    }

    fn inst(&mut self, b: Block, inst: Inst, data: &InstData) -> Result<(), Error> {
        match data {
            InstData::Const { bits } => {
                // No operation: the constant goes into the frame template. Its register is
                // written by nothing else (SSA), so setting it once when the frame is made
                // is the same as setting it each time the instruction would run.
                let r = self.result(inst)?;
                if matches!(self.func.values[r as usize].ty, Type::Ptr(_)) {
                    return Err(self.error(inst, "a constant cannot be a pointer"));
                }
                self.code.template[r as usize] = *bits;
            }
            InstData::Unary { op, arg } => {
                let (d, a) = (self.result(inst)?, self.reg(inst, *arg)?);
                let ty = self.same_types(inst, &[*arg])?;
                let op = match (op, ty) {
                    (UnaryOp::Neg, Type::F64) => Op::NegF64 { d, a },
                    (UnaryOp::Neg, Type::F32) => Op::NegF32 { d, a },
                    (UnaryOp::Neg, Type::I64) => Op::NegI64 { d, a },
                    (UnaryOp::Neg, Type::I32) => Op::NegI32 { d, a },
                    (UnaryOp::Not, Type::Bool) => Op::Not { d, a },
                    _ => return Err(self.error(inst, format!("no {op:?} on {ty}"))),
                };
                self.emit(op, inst);
            }
            InstData::Binary { op, args } => {
                let d = self.result(inst)?;
                let (a, bb) = (self.reg(inst, args[0])?, self.reg(inst, args[1])?);
                let ty = self.same_types(inst, args)?;
                let op = binary(*op, ty, d, a, bb)
                    .ok_or_else(|| self.error(inst, format!("no {op:?} on {ty}")))?;
                self.emit(op, inst);
            }
            InstData::Cmp { op, args } => {
                let d = self.result(inst)?;
                let (a, bb) = (self.reg(inst, args[0])?, self.reg(inst, args[1])?);
                self.expect_type(inst, d, Type::Bool)?;
                let (t0, t1) = (self.ty(args[0]), self.ty(args[1]));
                if t0 != t1 || matches!(t0, Type::Ptr(_)) {
                    return Err(self.error(inst, format!("cannot compare {t0} with {t1}")));
                }
                self.emit(compare(*op, t0, d, a, bb), inst);
            }
            InstData::Select { args } => {
                let d = self.result(inst)?;
                let c = self.reg(inst, args[0])?;
                let (x, y) = (self.reg(inst, args[1])?, self.reg(inst, args[2])?);
                if self.ty(args[0]) != Type::Bool {
                    return Err(self.error(inst, "the condition must be bool"));
                }
                self.same_types(inst, &args[1..])?;
                let p = self.code.pairs.len() as u32;
                self.code.pairs.push([x, y]);
                self.emit(Op::Select { d, c, p }, inst);
            }
            InstData::Convert { arg } => {
                let (d, a) = (self.result(inst)?, self.reg(inst, *arg)?);
                let (from, to) = (self.ty(*arg), self.func.values[d as usize].ty);
                if matches!(from, Type::Ptr(_)) || matches!(to, Type::Ptr(_)) {
                    return Err(self.error(inst, "pointers do not convert"));
                }
                let op = if from == to {
                    Op::Mov { d, s: a }
                } else {
                    Op::Convert { d, a, from, to }
                };
                self.emit(op, inst);
            }
            InstData::Math { func: m, args } => self.math(inst, *m, args)?,
            InstData::Load { ptr, index } => {
                let d = self.result(inst)?;
                let (p, i) = (self.reg(inst, *ptr)?, self.reg(inst, *index)?);
                let elem = self.pointee(inst, *ptr, *index)?;
                self.expect_type(inst, d, elem.ty())?;
                let op = match (self.constant_index(*index), elem) {
                    (Some(k), Elem::F64) => Op::LoadF64K { d, p, k },
                    (Some(k), Elem::F32) => Op::LoadF32K { d, p, k },
                    (Some(k), Elem::I64) => Op::LoadI64K { d, p, k },
                    (Some(k), Elem::I32) => Op::LoadI32K { d, p, k },
                    (None, Elem::F64) => Op::LoadF64 { d, p, i },
                    (None, Elem::F32) => Op::LoadF32 { d, p, i },
                    (None, Elem::I64) => Op::LoadI64 { d, p, i },
                    (None, Elem::I32) => Op::LoadI32 { d, p, i },
                };
                self.emit(op, inst);
            }
            InstData::Store { ptr, index, value } => {
                let (p, i) = (self.reg(inst, *ptr)?, self.reg(inst, *index)?);
                let v = self.reg(inst, *value)?;
                let elem = self.pointee(inst, *ptr, *index)?;
                self.expect_type(inst, v, elem.ty())?;
                let op = match (self.constant_index(*index), elem) {
                    (Some(k), Elem::F64) => Op::StoreF64K { p, k, v },
                    (Some(k), Elem::F32) => Op::StoreF32K { p, k, v },
                    (Some(k), Elem::I64) => Op::StoreI64K { p, k, v },
                    (Some(k), Elem::I32) => Op::StoreI32K { p, k, v },
                    (None, Elem::F64) => Op::StoreF64 { p, i, v },
                    (None, Elem::F32) => Op::StoreF32 { p, i, v },
                    (None, Elem::I64) => Op::StoreI64 { p, i, v },
                    (None, Elem::I32) => Op::StoreI32 { p, i, v },
                };
                self.emit(op, inst);
            }
            InstData::Call { func: callee, args } => self.call(inst, *callee, args)?,
            InstData::Jump { dest } => {
                let moves = self.edge_moves(inst, dest)?;
                for &(dst, src) in &moves {
                    self.emit(Op::Mov { d: dst, s: src }, inst);
                }
                // A jump to the next block in the layout falls through.
                if dest.block.0 != b.0 + 1 {
                    self.emit(Op::Jump { t: dest.block.0 }, inst);
                }
            }
            InstData::Brif {
                cond,
                then_dest,
                else_dest,
            } => {
                let c = self.reg(inst, *cond)?;
                if self.ty(*cond) != Type::Bool {
                    return Err(self.error(inst, "the condition must be bool"));
                }
                let nblocks = self.func.blocks.len() as u32;
                let t = self.edge_label(inst, then_dest)?.encode(nblocks);
                let e = self.edge_label(inst, else_dest)?.encode(nblocks);
                self.emit(Op::Brif { c, t, e }, inst);
            }
            InstData::Return { args } => {
                if args.len() != self.func.sig.returns.len() {
                    return Err(self.error(
                        inst,
                        format!(
                            "returns {} values, the signature has {}",
                            args.len(),
                            self.func.sig.returns.len()
                        ),
                    ));
                }
                let at = self.code.returns.len() as u32;
                for (&v, &ty) in args.iter().zip(&self.func.sig.returns) {
                    let r = self.reg(inst, v)?;
                    if self.ty(v) != ty {
                        return Err(self.error(inst, format!("{v} is not a {ty}")));
                    }
                    self.code.returns.push(r);
                }
                self.emit(Op::Return { at }, inst);
            }
        }
        Ok(())
    }

    /// Checks that the result and all `args` have one type, and returns it.
    fn same_types(&self, inst: Inst, args: &[Value]) -> Result<Type, Error> {
        let d = self.result(inst)?;
        let ty = self.func.values[d as usize].ty;
        for &a in args {
            if self.ty(a) != ty {
                return Err(self.error(
                    inst,
                    format!("operand {a} is {}, the result is {ty}", self.ty(a)),
                ));
            }
        }
        Ok(ty)
    }

    fn expect_type(&self, inst: Inst, r: Reg, ty: Type) -> Result<(), Error> {
        let found = self.func.values[r as usize].ty;
        if found == ty {
            Ok(())
        } else {
            Err(self.error(inst, format!("v{r} is {found}, expected {ty}")))
        }
    }

    /// The element type behind `ptr`, checking that `index` is an i64.
    fn pointee(&self, inst: Inst, ptr: Value, index: Value) -> Result<Elem, Error> {
        if self.ty(index) != Type::I64 {
            return Err(self.error(inst, "the index must be i64"));
        }
        match self.ty(ptr) {
            Type::Ptr(e) => Ok(e),
            t => Err(self.error(inst, format!("{ptr} is {t}, not a pointer"))),
        }
    }

    /// A constant index small enough for an immediate operand.
    fn constant_index(&self, index: Value) -> Option<u32> {
        self.constant_of(index)
            .and_then(|k| u32::try_from(k as i64).ok())
    }

    fn math(&mut self, inst: Inst, m: MathFn, args: &[Value]) -> Result<(), Error> {
        let d = self.result(inst)?;
        let ty = self.func.values[d as usize].ty;
        if ty != Type::F64 && ty != Type::F32 {
            return Err(self.error(inst, format!("math gives an f64 or f32, not {ty}")));
        }
        if args.len() != m.arity() {
            return Err(self.error(inst, format!("{} takes {} arguments", m.name(), m.arity())));
        }
        let mut regs = [0; 2];
        for (k, &v) in args.iter().enumerate() {
            regs[k] = self.reg(inst, v)?;
            self.expect_type(inst, v.0, ty)?;
        }
        let [a, b] = regs;
        if ty == Type::F32 {
            let op = match m {
                MathFn::Sqrt => Op::SqrtF32 { d, a },
                MathFn::Fabs => Op::FabsF32 { d, a },
                MathFn::Copysign => Op::CopysignF32 { d, a, b },
                MathFn::Atan2 => Op::Atan2F32 { d, a, b },
                MathFn::Pow => Op::PowF32 { d, a, b },
                MathFn::Hypot => Op::HypotF32 { d, a, b },
                MathFn::RoundDigits => Op::RoundDigitsF32 { d, a, b },
                _ => {
                    let Some(f) = libm::unary_f32(m) else {
                        return Err(
                            self.error(inst, format!("no float32 implementation of {}", m.name()))
                        );
                    };
                    let at = self
                        .code
                        .math1_f32
                        .iter()
                        .position(|&g| g as usize == f as usize);
                    let at = at.unwrap_or_else(|| {
                        self.code.math1_f32.push(f);
                        self.code.math1_f32.len() - 1
                    });
                    Op::Math1F32 { d, a, f: at as u32 }
                }
            };
            self.emit(op, inst);
            return Ok(());
        }
        let op = match m {
            MathFn::Sqrt => Op::Sqrt { d, a },
            MathFn::Fabs => Op::Fabs { d, a },
            MathFn::Atan2 => Op::Atan2 { d, a, b },
            MathFn::RoundDigits => Op::RoundDigits { d, a, b },
            MathFn::Pow => Op::Pow { d, a, b },
            MathFn::Hypot => Op::Hypot { d, a, b },
            MathFn::Copysign => Op::Copysign { d, a, b },
            _ => {
                let Some(f) = libm::unary(m) else {
                    return Err(self.error(inst, format!("no implementation of {}", m.name())));
                };
                let idx = match self.math1.iter().position(|&g| g == m) {
                    Some(i) => i,
                    None => {
                        self.math1.push(m);
                        self.code.math1.push(f);
                        self.code.math1.len() - 1
                    }
                };
                Op::Math1 {
                    d,
                    a,
                    f: idx as u32,
                }
            }
        };
        self.emit(op, inst);
        Ok(())
    }

    fn call(&mut self, inst: Inst, callee: dynlib_ir::FuncId, args: &[Value]) -> Result<(), Error> {
        let Some(target) = self.program.functions.get(callee.index()) else {
            return Err(self.error(inst, format!("{callee} is not a function of the program")));
        };
        let sig = &target.sig;
        if args.len() != sig.params.len() {
            return Err(self.error(
                inst,
                format!("@{} takes {} arguments", target.name, sig.params.len()),
            ));
        }
        let results = self.results(inst);
        if results.len() != sig.returns.len() {
            return Err(self.error(
                inst,
                format!("@{} returns {} values", target.name, sig.returns.len()),
            ));
        }
        let mut site = CallSite {
            callee: callee.0,
            args: Vec::with_capacity(args.len()),
            results: Vec::with_capacity(results.len()),
        };
        for (&v, &ty) in args
            .iter()
            .zip(&sig.params)
            .chain(results.iter().zip(&sig.returns))
        {
            let r = self.reg(inst, v)?;
            if self.ty(v) != ty {
                return Err(self.error(
                    inst,
                    format!("{v} is {}, @{} expects {ty}", self.ty(v), target.name),
                ));
            }
            if site.args.len() < args.len() {
                site.args.push(r);
            } else {
                site.results.push(r);
            }
        }
        let idx = self.code.calls.len() as u32;
        self.code.calls.push(site);
        self.emit(Op::Call { site: idx }, inst);
        Ok(())
    }

    /// Where a `brif` arm goes: straight to the block when there is nothing to move, else
    /// to a new stub.
    fn edge_label(&mut self, inst: Inst, dest: &BlockCall) -> Result<Label, Error> {
        let moves = self.edge_moves(inst, dest)?;
        if moves.is_empty() {
            return Ok(Label::Block(dest.block.0));
        }
        self.stubs.push(Stub {
            moves,
            target: dest.block.0,
            origin: inst,
        });
        Ok(Label::Stub(self.stubs.len() as u32 - 1))
    }

    /// The register moves that pass `dest`'s arguments to its block's parameters, in an
    /// order that gives them parallel semantics.
    fn edge_moves(&self, inst: Inst, dest: &BlockCall) -> Result<Vec<(Reg, Reg)>, Error> {
        let Some(block) = self.func.blocks.get(dest.block.index()) else {
            return Err(self.error(inst, format!("{} does not exist", dest.block)));
        };
        if block.params.len() != dest.args.len() {
            return Err(self.error(
                inst,
                format!(
                    "{} takes {} arguments, {} given",
                    dest.block,
                    block.params.len(),
                    dest.args.len()
                ),
            ));
        }
        let mut moves = Vec::with_capacity(dest.args.len());
        for (&p, &a) in block.params.iter().zip(&dest.args) {
            let (rp, ra) = (self.reg(inst, p)?, self.reg(inst, a)?);
            if self.ty(p) != self.ty(a) {
                return Err(self.error(
                    inst,
                    format!("{a} is {}, {p} is {}", self.ty(a), self.ty(p)),
                ));
            }
            moves.push((rp, ra));
        }
        Ok(sequentialize(moves, self.scratch))
    }
}

/// Orders parallel moves `(dst, src)` (distinct destinations) into sequential ones with the
/// same effect, reading every source before it is overwritten.
///
/// A move is safe to perform when no other pending move still reads its destination.
/// When no move is safe, the pending moves form cycles; one cycle is broken by saving a
/// destination in `scratch` and letting its readers read the copy. The cycle then unwinds
/// completely before another can need `scratch`, so one scratch register suffices.
pub(crate) fn sequentialize(moves: Vec<(Reg, Reg)>, scratch: Reg) -> Vec<(Reg, Reg)> {
    let mut pending: Vec<(Reg, Reg)> = moves.into_iter().filter(|(d, s)| d != s).collect();
    let mut out = Vec::with_capacity(pending.len() + 1);
    while !pending.is_empty() {
        let free = pending
            .iter()
            .position(|&(d, _)| !pending.iter().any(|&(_, s)| s == d));
        match free {
            Some(k) => out.push(pending.remove(k)),
            None => {
                let d = pending[0].0;
                out.push((scratch, d));
                for m in &mut pending {
                    if m.1 == d {
                        m.1 = scratch;
                    }
                }
            }
        }
    }
    out
}

fn binary(op: BinaryOp, ty: Type, d: Reg, a: Reg, b: Reg) -> Option<Op> {
    use BinaryOp::*;
    Some(match (ty, op) {
        (Type::F64, Add) => Op::AddF64 { d, a, b },
        (Type::F64, Sub) => Op::SubF64 { d, a, b },
        (Type::F64, Mul) => Op::MulF64 { d, a, b },
        (Type::F64, Div) => Op::DivF64 { d, a, b },
        (Type::F64, FloorDiv) => Op::FloorDivF64 { d, a, b },
        (Type::F64, Mod) => Op::ModF64 { d, a, b },
        (Type::F32, Add) => Op::AddF32 { d, a, b },
        (Type::F32, Sub) => Op::SubF32 { d, a, b },
        (Type::F32, Mul) => Op::MulF32 { d, a, b },
        (Type::F32, Div) => Op::DivF32 { d, a, b },
        (Type::F32, FloorDiv) => Op::FloorDivF32 { d, a, b },
        (Type::F32, Mod) => Op::ModF32 { d, a, b },
        (Type::I64, Add) => Op::AddI64 { d, a, b },
        (Type::I64, Sub) => Op::SubI64 { d, a, b },
        (Type::I64, Mul) => Op::MulI64 { d, a, b },
        (Type::I64, FloorDiv) => Op::FloorDivI64 { d, a, b },
        (Type::I64, Mod) => Op::ModI64 { d, a, b },
        (Type::I32, Add) => Op::AddI32 { d, a, b },
        (Type::I32, Sub) => Op::SubI32 { d, a, b },
        (Type::I32, Mul) => Op::MulI32 { d, a, b },
        (Type::I32, FloorDiv) => Op::FloorDivI32 { d, a, b },
        (Type::I32, Mod) => Op::ModI32 { d, a, b },
        (Type::Bool, And) => Op::And { d, a, b },
        (Type::Bool, Or) => Op::Or { d, a, b },
        _ => return None,
    })
}

fn compare(op: CmpOp, ty: Type, d: Reg, a: Reg, b: Reg) -> Op {
    use CmpOp::*;
    match (ty, op) {
        (Type::F64, Eq) => Op::EqF64 { d, a, b },
        (Type::F64, Ne) => Op::NeF64 { d, a, b },
        (Type::F64, Lt) => Op::LtF64 { d, a, b },
        (Type::F64, Le) => Op::LeF64 { d, a, b },
        (Type::F64, Gt) => Op::GtF64 { d, a, b },
        (Type::F64, Ge) => Op::GeF64 { d, a, b },
        (Type::F32, Eq) => Op::EqF32 { d, a, b },
        (Type::F32, Ne) => Op::NeF32 { d, a, b },
        (Type::F32, Lt) => Op::LtF32 { d, a, b },
        (Type::F32, Le) => Op::LeF32 { d, a, b },
        (Type::F32, Gt) => Op::GtF32 { d, a, b },
        (Type::F32, Ge) => Op::GeF32 { d, a, b },
        // i64, i32 (sign-extended) and bool (0/1) compare as signed 64-bit integers.
        (_, Eq) => Op::EqInt { d, a, b },
        (_, Ne) => Op::NeInt { d, a, b },
        (_, Lt) => Op::LtInt { d, a, b },
        (_, Le) => Op::LeInt { d, a, b },
        (_, Gt) => Op::GtInt { d, a, b },
        (_, Ge) => Op::GeInt { d, a, b },
    }
}
