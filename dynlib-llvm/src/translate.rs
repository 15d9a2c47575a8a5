//! dynlib IR → LLVM IR.
//!
//! Every IR function becomes an `internal` LLVM function with the same parameters and
//! results (several results become a struct), so LLVM may inline, specialise and delete it
//! freely. Each exported function also gets an `external` entry wrapper with one uniform
//! signature, `void entry(i64* args, i64* rets)`: arguments and results travel as raw 64-bit
//! words ([`dynlib_ir::Scalar::to_bits`]; pointers as addresses), so Rust calls any function
//! through one function-pointer type and an object file needs no signature-specific glue.
//! The wrapper's call is `noinline`: the export is already whole, and inlining it into its
//! wrapper made LLVM optimise its body twice.
//!
//! Every operation is emitted with exactly the meaning [`dynlib_ir::semantics`] gives it,
//! which is what the interpreter executes: plain IEEE arithmetic with no fast-math flags
//! (LLVM then never reassociates or contracts), Python's floored `//` and `%` spelled out
//! operation by operation, saturating float→int conversions (`llvm.fptosi.sat`), and libm
//! calls marked `nobuiltin` so LLVM never rewrites them (`pow(x, 2.0)` stays a call: glibc's
//! `pow` is not always correctly rounded, so `x*x` could differ in the last bit). `sqrt`,
//! `fabs` and `copysign` use LLVM's intrinsics: the same instructions the interpreter runs.
//! Rounding (`floor`, `ceil`, `trunc`, `roundeven`) calls libm like the interpreter, since
//! `roundsd` treats a signaling NaN differently from glibc.
//!
//! Pointer parameters are `noalias`: the IR verifier guarantees that distinct pointer
//! parameters never share memory (see `dynlib_ir::verify`), and the Rust boundary passes
//! distinct `&mut` slices.
//!
//! Every loop's latch (a branch back to a block at or before it in reverse postorder)
//! carries `llvm.loop` hints, one node per loop header: no vectorization and no runtime
//! unrolling. The loops the emitters write are short: the record copy gathers the few
//! recorded variables, the implicit steppers' LU walks an n×n matrix. For them LLVM's
//! vectorizer (gathers, runtime checks, epilogues) and runtime unrolling only add code: on
//! a cold Lorenz build they were two thirds of the optimiser's and the code generator's
//! time, and no run measured faster with them. Loops with a constant trip count are still
//! unrolled fully where LLVM finds it worth it.

use inkwell::attributes::AttributeLoc;
use inkwell::basic_block::BasicBlock;
use inkwell::builder::Builder;
use inkwell::context::Context;
use inkwell::intrinsics::Intrinsic;
use inkwell::module::{Linkage, Module};
use inkwell::types::{BasicMetadataTypeEnum, BasicType, BasicTypeEnum};
use inkwell::values::{
    BasicMetadataValueEnum, BasicValue, BasicValueEnum, FloatValue, FunctionValue, IntValue,
    PhiValue, PointerValue,
};
use inkwell::{AddressSpace, FloatPredicate, IntPredicate};

use dynlib_ir::passes::DominatorTree;
use dynlib_ir::{
    BinaryOp, BlockCall, CmpOp, Elem, FuncId, Function, InstData, MathFn, Program, Type, UnaryOp,
    Value,
};

use crate::error::Error;
use dynlib_native::entry_symbol;

/// Converts inkwell's builder errors (which only a translator bug can cause).
impl From<inkwell::builder::BuilderError> for Error {
    fn from(e: inkwell::builder::BuilderError) -> Self {
        Error::Codegen(format!("LLVM builder: {e}"))
    }
}

type R<T> = Result<T, Error>;

/// Translates the functions of `program` reachable from `exports` into `module`, with an
/// entry wrapper for each export; the functions `parts` (blocks outlined by
/// [`dynlib_ir::passes::outline_large_blocks`]) are marked `noinline`.
pub(crate) fn translate<'ctx>(
    ctx: &'ctx Context,
    module: &Module<'ctx>,
    program: &Program,
    exports: &[FuncId],
    parts: &[FuncId],
) -> R<()> {
    let mut t = Translator {
        ctx,
        module,
        builder: ctx.create_builder(),
        program,
        funcs: vec![None; program.functions.len()],
    };
    if let Some(bad) = exports
        .iter()
        .find(|id| id.index() >= program.functions.len())
    {
        return Err(Error::Codegen(format!(
            "function {bad} is not in the program"
        )));
    }
    // Declare every reachable function first: calls may go forward.
    let reachable = program.reachable(exports);
    for &id in &reachable {
        t.declare(id);
    }
    // Outlined parts have one call each, which LLVM's inliner would undo.
    for &id in parts {
        t.func_value(id)?
            .add_attribute(AttributeLoc::Function, t.enum_attr("noinline"));
    }
    for &id in &reachable {
        t.define(id)?;
    }
    for &id in exports {
        t.entry(id)?;
    }
    Ok(())
}

struct Translator<'ctx, 'm> {
    ctx: &'ctx Context,
    module: &'m Module<'ctx>,
    builder: Builder<'ctx>,
    program: &'m Program,
    funcs: Vec<Option<FunctionValue<'ctx>>>,
}

/// Per-function translation state.
struct Frame<'ctx> {
    vals: Vec<Option<BasicValueEnum<'ctx>>>,
    blocks: Vec<Option<BasicBlock<'ctx>>>,
    phis: Vec<Vec<PhiValue<'ctx>>>,
    /// Finds the loops' back edges ([`DominatorTree::is_retreating`]; in an irreducible
    /// cycle the hint lands on a branch LLVM does not take for a latch, and is ignored).
    dom: DominatorTree,
    /// The IR block being translated.
    block: dynlib_ir::Block,
    /// The `llvm.loop` node of each loop header met so far.
    loop_ids: std::collections::HashMap<dynlib_ir::Block, llvm_sys::prelude::LLVMMetadataRef>,
}

impl Frame<'_> {
    /// True when the jump to `dest` from the current block closes a loop.
    fn back_edge(&self, dest: &BlockCall) -> bool {
        self.dom.is_retreating(self.block, dest.block)
    }
}

impl<'ctx> Translator<'ctx, '_> {
    fn ty(&self, ty: Type) -> BasicTypeEnum<'ctx> {
        let c = self.ctx;
        match ty {
            Type::F64 => c.f64_type().into(),
            Type::F32 => c.f32_type().into(),
            Type::I64 => c.i64_type().into(),
            Type::I32 => c.i32_type().into(),
            Type::Bool => c.bool_type().into(),
            Type::Ptr(e) => self.elem_ty(e).ptr_type(AddressSpace::default()).into(),
        }
    }

    fn elem_ty(&self, e: Elem) -> BasicTypeEnum<'ctx> {
        self.ty(e.ty())
    }

    fn ret_ty(&self, returns: &[Type]) -> Option<BasicTypeEnum<'ctx>> {
        match returns {
            [] => None,
            [t] => Some(self.ty(*t)),
            ts => {
                let fields: Vec<_> = ts.iter().map(|t| self.ty(*t)).collect();
                Some(self.ctx.struct_type(&fields, false).into())
            }
        }
    }

    /// Attaches the `llvm.loop` node of the loop headed by `header` to its latch `br`:
    /// `llvm.loop.vectorize.enable` false and `llvm.loop.unroll.runtime.disable` (see the
    /// module docs). One node per header, so every latch of a loop names the same loop
    /// (LLVM ignores a loop's hints when its latches disagree).
    fn loop_hints(
        &self,
        fr: &mut Frame<'ctx>,
        header: dynlib_ir::Block,
        br: inkwell::values::InstructionValue<'ctx>,
    ) {
        use inkwell::values::AsValueRef;
        use llvm_sys::core::{
            LLVMConstInt, LLVMGetMDKindIDInContext, LLVMInt1TypeInContext, LLVMMDNodeInContext2,
            LLVMMDStringInContext2, LLVMMetadataAsValue, LLVMSetMetadata, LLVMValueAsMetadata,
        };
        use llvm_sys::debuginfo::{LLVMMetadataReplaceAllUsesWith, LLVMTemporaryMDNode};
        let c = self.ctx.raw();
        let kind = unsafe { LLVMGetMDKindIDInContext(c, "llvm.loop".as_ptr().cast(), 9) };
        if let Some(&id) = fr.loop_ids.get(&header) {
            // SAFETY: `id` was made in this context for this function's loop.
            unsafe { LLVMSetMetadata(br.as_value_ref(), kind, LLVMMetadataAsValue(c, id)) };
            return;
        }
        let string = |s: &str| unsafe { LLVMMDStringInContext2(c, s.as_ptr().cast(), s.len()) };
        // SAFETY: every reference is created in this compilation's context and outlives
        // the calls; the temporary node is consumed by the replacement (which deletes it).
        unsafe {
            let no = LLVMValueAsMetadata(LLVMConstInt(LLVMInt1TypeInContext(c), 0, 0));
            let mut vectorize = [string("llvm.loop.vectorize.enable"), no];
            let mut runtime = [string("llvm.loop.unroll.runtime.disable")];
            let vectorize = LLVMMDNodeInContext2(c, vectorize.as_mut_ptr(), 2);
            let runtime = LLVMMDNodeInContext2(c, runtime.as_mut_ptr(), 1);
            // A loop's identity is a node whose first operand is itself.
            let temp = LLVMTemporaryMDNode(c, std::ptr::null_mut(), 0);
            let mut ops = [temp, vectorize, runtime];
            let id = LLVMMDNodeInContext2(c, ops.as_mut_ptr(), 3);
            LLVMMetadataReplaceAllUsesWith(temp, id);
            LLVMSetMetadata(br.as_value_ref(), kind, LLVMMetadataAsValue(c, id));
            fr.loop_ids.insert(header, id);
        }
    }

    fn enum_attr(&self, name: &str) -> inkwell::attributes::Attribute {
        let kind = inkwell::attributes::Attribute::get_named_enum_kind_id(name);
        self.ctx.create_enum_attribute(kind, 0)
    }

    fn declare(&mut self, id: FuncId) {
        let f = self.program.func(id);
        let params: Vec<BasicMetadataTypeEnum> =
            f.sig.params.iter().map(|&t| self.ty(t).into()).collect();
        let fn_ty = match self.ret_ty(&f.sig.returns) {
            None => self.ctx.void_type().fn_type(&params, false),
            Some(r) => r.fn_type(&params, false),
        };
        let fv =
            self.module
                .add_function(&format!("dl.{}", f.name), fn_ty, Some(Linkage::Internal));
        fv.add_attribute(AttributeLoc::Function, self.enum_attr("nounwind"));
        for (i, t) in f.sig.params.iter().enumerate() {
            if matches!(t, Type::Ptr(_)) {
                fv.add_attribute(AttributeLoc::Param(i as u32), self.enum_attr("noalias"));
                fv.add_attribute(AttributeLoc::Param(i as u32), self.enum_attr("nocapture"));
            }
        }
        self.funcs[id.index()] = Some(fv);
    }

    fn func_value(&self, id: FuncId) -> R<FunctionValue<'ctx>> {
        self.funcs
            .get(id.index())
            .copied()
            .flatten()
            .ok_or_else(|| Error::Codegen(format!("function {id} was not declared")))
    }

    fn define(&self, id: FuncId) -> R<()> {
        let f = self.program.func(id);
        let fv = self.func_value(id)?;
        let dom = DominatorTree::compute(f);
        let rpo = dom.rpo().to_vec();
        let mut fr = Frame {
            vals: vec![None; f.values.len()],
            blocks: vec![None; f.blocks.len()],
            phis: vec![Vec::new(); f.blocks.len()],
            dom,
            block: dynlib_ir::Block(0),
            loop_ids: Default::default(),
        };
        // Blocks in reverse postorder: every value is defined before its (non-phi) uses.
        // Unreachable blocks are never emitted; nothing can jump to them.
        for &b in &rpo {
            let bb = self.ctx.append_basic_block(fv, &format!("{b}"));
            fr.blocks[b.index()] = Some(bb);
            if b.index() == 0 {
                for (i, &v) in f.params().iter().enumerate() {
                    let p = fv
                        .get_nth_param(i as u32)
                        .ok_or_else(|| Error::Codegen(format!("@{}: missing param", f.name)))?;
                    fr.vals[v.index()] = Some(p);
                }
            } else {
                self.builder.position_at_end(bb);
                for &v in &f.blocks[b.index()].params {
                    let phi = self.builder.build_phi(self.ty(f.value_type(v)), "")?;
                    fr.vals[v.index()] = Some(phi.as_basic_value());
                    fr.phis[b.index()].push(phi);
                }
            }
        }
        for &b in &rpo {
            let bb = fr.blocks[b.index()].expect("created above");
            fr.block = b;
            self.builder.position_at_end(bb);
            for &inst in &f.blocks[b.index()].insts {
                self.inst(f, fv, &mut fr, inst)?;
            }
        }
        Ok(())
    }

    fn val(&self, f: &Function, fr: &Frame<'ctx>, v: Value) -> R<BasicValueEnum<'ctx>> {
        fr.vals
            .get(v.index())
            .copied()
            .flatten()
            .ok_or_else(|| Error::Codegen(format!("@{}: {v} used before its definition", f.name)))
    }

    fn float(&self, f: &Function, fr: &Frame<'ctx>, v: Value) -> R<FloatValue<'ctx>> {
        Ok(self.val(f, fr, v)?.into_float_value())
    }

    fn int(&self, f: &Function, fr: &Frame<'ctx>, v: Value) -> R<IntValue<'ctx>> {
        Ok(self.val(f, fr, v)?.into_int_value())
    }

    fn ptr(&self, f: &Function, fr: &Frame<'ctx>, v: Value) -> R<PointerValue<'ctx>> {
        Ok(self.val(f, fr, v)?.into_pointer_value())
    }

    /// A jump from the current block to `dest`: its arguments become phi incomings.
    fn edge(
        &self,
        f: &Function,
        fr: &Frame<'ctx>,
        dest: &BlockCall,
        from: BasicBlock<'ctx>,
    ) -> R<BasicBlock<'ctx>> {
        let target = fr.blocks[dest.block.index()]
            .ok_or_else(|| Error::Codegen(format!("@{}: jump to a missing block", f.name)))?;
        for (phi, &arg) in fr.phis[dest.block.index()].iter().zip(&dest.args) {
            let v = self.val(f, fr, arg)?;
            phi.add_incoming(&[(&v as &dyn BasicValue, from)]);
        }
        Ok(target)
    }

    fn inst(
        &self,
        f: &Function,
        fv: FunctionValue<'ctx>,
        fr: &mut Frame<'ctx>,
        inst: dynlib_ir::Inst,
    ) -> R<()> {
        let b = &self.builder;
        let results = f.inst_results(inst);
        let rty = results.first().map(|&r| f.value_type(r));
        let out: Option<BasicValueEnum<'ctx>> = match f.inst(inst) {
            InstData::Const { bits } => Some(self.constant(*bits, rty.unwrap_or(Type::Bool))),
            InstData::Unary { op, arg } => {
                let x = self.val(f, fr, *arg)?;
                Some(match (op, f.value_type(*arg)) {
                    (UnaryOp::Neg, t) if t.is_float() => {
                        b.build_float_neg(x.into_float_value(), "")?.into()
                    }
                    (UnaryOp::Neg, _) => b.build_int_neg(x.into_int_value(), "")?.into(),
                    (UnaryOp::Not, _) => b.build_not(x.into_int_value(), "")?.into(),
                })
            }
            InstData::Binary { op, args } => {
                let ty = f.value_type(args[0]);
                let x = self.val(f, fr, args[0])?;
                let y = self.val(f, fr, args[1])?;
                Some(self.binary(*op, ty, x, y)?)
            }
            InstData::Cmp { op, args } => {
                let ty = f.value_type(args[0]);
                let x = self.val(f, fr, args[0])?;
                let y = self.val(f, fr, args[1])?;
                Some(self.compare(*op, ty, x, y)?.into())
            }
            InstData::Select { args } => {
                let c = self.int(f, fr, args[0])?;
                let x = self.val(f, fr, args[1])?;
                let y = self.val(f, fr, args[2])?;
                Some(b.build_select(c, x, y, "")?)
            }
            InstData::Convert { arg } => {
                let x = self.val(f, fr, *arg)?;
                Some(self.convert(x, f.value_type(*arg), rty.unwrap_or(Type::Bool))?)
            }
            InstData::Math { func, args } => {
                let xs = args
                    .iter()
                    .map(|&a| self.float(f, fr, a))
                    .collect::<R<Vec<_>>>()?;
                Some(self.math(*func, &xs)?.into())
            }
            InstData::Load { ptr, index } => {
                let elem = match f.value_type(*ptr) {
                    Type::Ptr(e) => e,
                    t => return Err(Error::Codegen(format!("load through {t}"))),
                };
                let p = self.ptr(f, fr, *ptr)?;
                let i = self.int(f, fr, *index)?;
                // SAFETY (of the GEP): the index is within the array by the contract of
                // `Jit::call`; the GEP itself only computes an address.
                let at = unsafe { b.build_in_bounds_gep(p, &[i], "")? };
                let v = b.build_load(at, "")?;
                set_align(v, elem);
                Some(v)
            }
            InstData::Store { ptr, index, value } => {
                let elem = match f.value_type(*ptr) {
                    Type::Ptr(e) => e,
                    t => return Err(Error::Codegen(format!("store through {t}"))),
                };
                let p = self.ptr(f, fr, *ptr)?;
                let i = self.int(f, fr, *index)?;
                let v = self.val(f, fr, *value)?;
                // SAFETY: as for loads.
                let at = unsafe { b.build_in_bounds_gep(p, &[i], "")? };
                let st = b.build_store(at, v)?;
                st.set_alignment(elem_size(elem))
                    .map_err(|e| Error::Codegen(e.to_string()))?;
                None
            }
            InstData::Call { func, args } => {
                let callee = self.func_value(*func)?;
                let xs = args
                    .iter()
                    .map(|&a| self.val(f, fr, a).map(BasicMetadataValueEnum::from))
                    .collect::<R<Vec<_>>>()?;
                let call = b.build_call(callee, &xs, "")?;
                match results.len() {
                    0 => None,
                    1 => Some(basic(call)?),
                    _ => {
                        let agg = basic(call)?.into_struct_value();
                        for (k, &r) in results.iter().enumerate() {
                            fr.vals[r.index()] = Some(b.build_extract_value(agg, k as u32, "")?);
                        }
                        return Ok(());
                    }
                }
            }
            InstData::Jump { dest } => {
                let here = current(b)?;
                let target = self.edge(f, fr, dest, here)?;
                let br = b.build_unconditional_branch(target)?;
                if fr.back_edge(dest) {
                    self.loop_hints(fr, dest.block, br);
                }
                None
            }
            InstData::Brif {
                cond,
                then_dest,
                else_dest,
            } => {
                let c = self.int(f, fr, *cond)?;
                let here = current(b)?;
                let then_bb = self.edge(f, fr, then_dest, here)?;
                let else_bb = if then_dest.block == else_dest.block {
                    // Both edges reach one block: a phi takes one incoming per predecessor,
                    // so the else edge goes through a block of its own.
                    let split = self.ctx.append_basic_block(fv, "split");
                    b.position_at_end(split);
                    let target = self.edge(f, fr, else_dest, split)?;
                    let br = b.build_unconditional_branch(target)?;
                    // The split block is then the latch of a loop through the else edge.
                    if fr.back_edge(else_dest) {
                        self.loop_hints(fr, else_dest.block, br);
                    }
                    b.position_at_end(here);
                    split
                } else {
                    self.edge(f, fr, else_dest, here)?
                };
                let br = b.build_conditional_branch(c, then_bb, else_bb)?;
                if fr.back_edge(then_dest) {
                    self.loop_hints(fr, then_dest.block, br);
                } else if then_dest.block != else_dest.block && fr.back_edge(else_dest) {
                    self.loop_hints(fr, else_dest.block, br);
                }
                None
            }
            InstData::Return { args } => {
                let xs = args
                    .iter()
                    .map(|&a| self.val(f, fr, a))
                    .collect::<R<Vec<_>>>()?;
                match xs.as_slice() {
                    [] => b.build_return(None)?,
                    [x] => b.build_return(Some(x))?,
                    _ => b.build_aggregate_return(&xs)?,
                };
                None
            }
        };
        if let (Some(v), Some(&r)) = (out, results.first()) {
            fr.vals[r.index()] = Some(v);
        }
        Ok(())
    }

    /// A constant with exactly these bits (floats are built from their bit patterns, so
    /// NaN payloads and signed zeros survive).
    fn constant(&self, bits: u64, ty: Type) -> BasicValueEnum<'ctx> {
        let c = self.ctx;
        match ty {
            Type::F64 => {
                let i = c.i64_type().const_int(bits, false);
                float_bitcast(i, c.f64_type().as_basic_type_enum()).into()
            }
            Type::F32 => {
                let i = c.i32_type().const_int(bits & 0xffff_ffff, false);
                float_bitcast(i, c.f32_type().as_basic_type_enum()).into()
            }
            Type::I64 => c.i64_type().const_int(bits, true).into(),
            Type::I32 => c.i32_type().const_int(bits & 0xffff_ffff, true).into(),
            Type::Bool | Type::Ptr(_) => c.bool_type().const_int(bits & 1, false).into(),
        }
    }

    fn f64c(&self, x: f64) -> FloatValue<'ctx> {
        self.constant(x.to_bits(), Type::F64).into_float_value()
    }

    fn binary(
        &self,
        op: BinaryOp,
        ty: Type,
        x: BasicValueEnum<'ctx>,
        y: BasicValueEnum<'ctx>,
    ) -> R<BasicValueEnum<'ctx>> {
        let b = &self.builder;
        if ty.is_float() {
            let (x, y) = (x.into_float_value(), y.into_float_value());
            return Ok(match op {
                BinaryOp::Add => b.build_float_add(x, y, "")?.into(),
                BinaryOp::Sub => b.build_float_sub(x, y, "")?.into(),
                BinaryOp::Mul => b.build_float_mul(x, y, "")?.into(),
                BinaryOp::Div => b.build_float_div(x, y, "")?.into(),
                BinaryOp::FloorDiv | BinaryOp::Mod if ty == Type::F32 => {
                    // f32: widen (exact), apply the f64 rule, round once.
                    let wide = self.ctx.f64_type();
                    let xw = b.build_float_ext(x, wide, "")?;
                    let yw = b.build_float_ext(y, wide, "")?;
                    let r = if op == BinaryOp::Mod {
                        self.mod_f64(xw, yw)?
                    } else {
                        self.floordiv_f64(xw, yw)?
                    };
                    b.build_float_trunc(r, self.ctx.f32_type(), "")?.into()
                }
                BinaryOp::FloorDiv => self.floordiv_f64(x, y)?.into(),
                BinaryOp::Mod => self.mod_f64(x, y)?.into(),
                BinaryOp::And | BinaryOp::Or => {
                    return Err(Error::Codegen(format!("{op:?} on {ty}")))
                }
            });
        }
        let (x, y) = (x.into_int_value(), y.into_int_value());
        Ok(match op {
            BinaryOp::Add => b.build_int_add(x, y, "")?.into(),
            BinaryOp::Sub => b.build_int_sub(x, y, "")?.into(),
            BinaryOp::Mul => b.build_int_mul(x, y, "")?.into(),
            BinaryOp::And => b.build_and(x, y, "")?.into(),
            BinaryOp::Or => b.build_or(x, y, "")?.into(),
            BinaryOp::FloorDiv => self.int_div_mod(x, y, false)?.into(),
            BinaryOp::Mod => self.int_div_mod(x, y, true)?.into(),
            BinaryOp::Div => return Err(Error::Codegen(format!("div on {ty}"))),
        })
    }

    fn fcmp(
        &self,
        p: FloatPredicate,
        x: FloatValue<'ctx>,
        y: FloatValue<'ctx>,
    ) -> R<IntValue<'ctx>> {
        Ok(self.builder.build_float_compare(p, x, y, "")?)
    }

    fn fselect(
        &self,
        c: IntValue<'ctx>,
        x: FloatValue<'ctx>,
        y: FloatValue<'ctx>,
    ) -> R<FloatValue<'ctx>> {
        Ok(self.builder.build_select(c, x, y, "")?.into_float_value())
    }

    fn copysign(&self, x: FloatValue<'ctx>, sign: FloatValue<'ctx>) -> R<FloatValue<'ctx>> {
        self.math(MathFn::Copysign, &[x, sign])
    }

    /// [`dynlib_ir::semantics::mod_f64`], operation by operation.
    fn mod_f64(&self, a: FloatValue<'ctx>, bv: FloatValue<'ctx>) -> R<FloatValue<'ctx>> {
        let b = &self.builder;
        let zero = self.f64c(0.0);
        let m = b.build_float_rem(a, bv, "")?;
        let m_nonzero = self.fcmp(FloatPredicate::UNE, m, zero)?;
        let b_neg = self.fcmp(FloatPredicate::OLT, bv, zero)?;
        let m_neg = self.fcmp(FloatPredicate::OLT, m, zero)?;
        let differ = b.build_xor(b_neg, m_neg, "")?;
        let shifted = b.build_float_add(m, bv, "")?;
        let adjusted = self.fselect(differ, shifted, m)?;
        let signed_zero = self.copysign(zero, bv)?;
        self.fselect(m_nonzero, adjusted, signed_zero)
    }

    /// [`dynlib_ir::semantics::floordiv_f64`], operation by operation.
    fn floordiv_f64(&self, a: FloatValue<'ctx>, bv: FloatValue<'ctx>) -> R<FloatValue<'ctx>> {
        let b = &self.builder;
        let zero = self.f64c(0.0);
        let quotient = b.build_float_div(a, bv, "")?;
        let b_zero = self.fcmp(FloatPredicate::OEQ, bv, zero)?;
        let m = b.build_float_rem(a, bv, "")?;
        let diff = b.build_float_sub(a, m, "")?;
        let div = b.build_float_div(diff, bv, "")?;
        let m_nonzero = self.fcmp(FloatPredicate::UNE, m, zero)?;
        let b_neg = self.fcmp(FloatPredicate::OLT, bv, zero)?;
        let m_neg = self.fcmp(FloatPredicate::OLT, m, zero)?;
        let differ = b.build_xor(b_neg, m_neg, "")?;
        let lower = b.build_and(m_nonzero, differ, "")?;
        let dec = b.build_float_sub(div, self.f64c(1.0), "")?;
        let div = self.fselect(lower, dec, div)?;
        let floor = self.math(MathFn::Floor, &[div])?;
        let frac = b.build_float_sub(div, floor, "")?;
        let up = self.fcmp(FloatPredicate::OGT, frac, self.f64c(0.5))?;
        let inc = b.build_float_add(floor, self.f64c(1.0), "")?;
        let rounded = self.fselect(up, inc, floor)?;
        let div_nonzero = self.fcmp(FloatPredicate::UNE, div, zero)?;
        let signed_zero = self.copysign(zero, quotient)?;
        let r = self.fselect(div_nonzero, rounded, signed_zero)?;
        self.fselect(b_zero, quotient, r)
    }

    /// [`dynlib_ir::semantics::floordiv_i64`] / `mod_i64` (and the i32 versions): division by
    /// zero gives 0, `MIN // -1` wraps; LLVM's `sdiv` is undefined for both, so the divisor
    /// is replaced by 1 there first.
    fn int_div_mod(
        &self,
        a: IntValue<'ctx>,
        bv: IntValue<'ctx>,
        modulo: bool,
    ) -> R<IntValue<'ctx>> {
        let b = &self.builder;
        let ty = a.get_type();
        let bits = ty.get_bit_width();
        let zero = ty.const_zero();
        let one = ty.const_int(1, false);
        let minus_one = ty.const_all_ones();
        let min = ty.const_int(1u64 << (bits - 1), false);
        let b_zero = b.build_int_compare(IntPredicate::EQ, bv, zero, "")?;
        let a_min = b.build_int_compare(IntPredicate::EQ, a, min, "")?;
        let b_m1 = b.build_int_compare(IntPredicate::EQ, bv, minus_one, "")?;
        let overflow = b.build_and(a_min, b_m1, "")?;
        let unsafe_divisor = b.build_or(b_zero, overflow, "")?;
        let divisor = b
            .build_select(unsafe_divisor, one, bv, "")?
            .into_int_value();
        let r = b.build_int_signed_rem(a, divisor, "")?;
        let r_nonzero = b.build_int_compare(IntPredicate::NE, r, zero, "")?;
        let b_neg = b.build_int_compare(IntPredicate::SLT, bv, zero, "")?;
        let out = if modulo {
            let r_neg = b.build_int_compare(IntPredicate::SLT, r, zero, "")?;
            let differ = b.build_xor(r_neg, b_neg, "")?;
            let adjust = b.build_and(r_nonzero, differ, "")?;
            let shifted = b.build_int_add(r, bv, "")?;
            b.build_select(adjust, shifted, r, "")?.into_int_value()
        } else {
            let q = b.build_int_signed_div(a, divisor, "")?;
            let a_neg = b.build_int_compare(IntPredicate::SLT, a, zero, "")?;
            let differ = b.build_xor(a_neg, b_neg, "")?;
            let adjust = b.build_and(r_nonzero, differ, "")?;
            let dec = b.build_int_sub(q, one, "")?;
            b.build_select(adjust, dec, q, "")?.into_int_value()
        };
        Ok(b.build_select(b_zero, zero, out, "")?.into_int_value())
    }

    fn compare(
        &self,
        op: CmpOp,
        ty: Type,
        x: BasicValueEnum<'ctx>,
        y: BasicValueEnum<'ctx>,
    ) -> R<IntValue<'ctx>> {
        let b = &self.builder;
        if ty.is_float() {
            let p = match op {
                CmpOp::Eq => FloatPredicate::OEQ,
                CmpOp::Ne => FloatPredicate::UNE,
                CmpOp::Lt => FloatPredicate::OLT,
                CmpOp::Le => FloatPredicate::OLE,
                CmpOp::Gt => FloatPredicate::OGT,
                CmpOp::Ge => FloatPredicate::OGE,
            };
            return self.fcmp(p, x.into_float_value(), y.into_float_value());
        }
        // Integers compare signed; bools as 0 < 1 (unsigned).
        let signed = ty != Type::Bool;
        let p = match (op, signed) {
            (CmpOp::Eq, _) => IntPredicate::EQ,
            (CmpOp::Ne, _) => IntPredicate::NE,
            (CmpOp::Lt, true) => IntPredicate::SLT,
            (CmpOp::Le, true) => IntPredicate::SLE,
            (CmpOp::Gt, true) => IntPredicate::SGT,
            (CmpOp::Ge, true) => IntPredicate::SGE,
            (CmpOp::Lt, false) => IntPredicate::ULT,
            (CmpOp::Le, false) => IntPredicate::ULE,
            (CmpOp::Gt, false) => IntPredicate::UGT,
            (CmpOp::Ge, false) => IntPredicate::UGE,
        };
        Ok(b.build_int_compare(p, x.into_int_value(), y.into_int_value(), "")?)
    }

    /// [`dynlib_ir::semantics::convert`].
    fn convert(&self, x: BasicValueEnum<'ctx>, from: Type, to: Type) -> R<BasicValueEnum<'ctx>> {
        let b = &self.builder;
        let c = self.ctx;
        if from == to {
            return Ok(x);
        }
        Ok(match (from, to) {
            (f, Type::Bool) if f.is_float() => {
                let fx = x.into_float_value();
                let zero = fx.get_type().const_zero();
                self.fcmp(FloatPredicate::UNE, fx, zero)?.into()
            }
            (_, Type::Bool) => {
                let ix = x.into_int_value();
                b.build_int_compare(IntPredicate::NE, ix, ix.get_type().const_zero(), "")?
                    .into()
            }
            (Type::F32, Type::F64) => b
                .build_float_ext(x.into_float_value(), c.f64_type(), "")?
                .into(),
            (Type::F64, Type::F32) => b
                .build_float_trunc(x.into_float_value(), c.f32_type(), "")?
                .into(),
            (Type::Bool, t) if t.is_float() => b
                .build_unsigned_int_to_float(x.into_int_value(), self.ty(t).into_float_type(), "")?
                .into(),
            (_, t) if t.is_float() => b
                .build_signed_int_to_float(x.into_int_value(), self.ty(t).into_float_type(), "")?
                .into(),
            (f, t) if f.is_float() => {
                // Truncate toward zero, saturating, NaN → 0: LLVM's fptosi.sat, like Rust's `as`.
                let decl = self.intrinsic("llvm.fptosi.sat", &[self.ty(t), self.ty(f)])?;
                basic(b.build_call(decl, &[x.into()], "")?)?
            }
            (Type::Bool, _) => b
                .build_int_z_extend(x.into_int_value(), self.ty(to).into_int_type(), "")?
                .into(),
            (Type::I32, Type::I64) => b
                .build_int_s_extend(x.into_int_value(), c.i64_type(), "")?
                .into(),
            (Type::I64, Type::I32) => b
                .build_int_truncate(x.into_int_value(), c.i32_type(), "")?
                .into(),
            _ => return Err(Error::Codegen(format!("no conversion from {from} to {to}"))),
        })
    }

    /// A libm call. `sqrt`, `fabs` and `copysign` use LLVM's intrinsics (single instructions
    /// that the interpreter executes too); the others call the C library's function of the
    /// same name with `nobuiltin`, so no pass can fold or rewrite them.
    fn math(&self, func: MathFn, args: &[FloatValue<'ctx>]) -> R<FloatValue<'ctx>> {
        let b = &self.builder;
        // f64, or f32 (the C library's float versions, `sinf`).
        let ft = args.first().map_or(self.ctx.f64_type(), |a| a.get_type());
        let single = ft == self.ctx.f32_type();
        // Only operations that are one and the same instruction everywhere. Rounding to an
        // integer is exact too, but `roundsd` quiets a signaling NaN where glibc's `floor`
        // returns it unchanged: it goes to libm, as in the interpreter.
        let intrinsic = match func {
            MathFn::Sqrt => Some("llvm.sqrt"),
            MathFn::Fabs => Some("llvm.fabs"),
            MathFn::Copysign => Some("llvm.copysign"),
            _ => None,
        };
        let xs: Vec<BasicMetadataValueEnum> = args.iter().map(|&a| a.into()).collect();
        if let Some(name) = intrinsic {
            let decl = self.intrinsic(name, &[ft.into()])?;
            return Ok(basic(b.build_call(decl, &xs, "")?)?.into_float_value());
        }
        let decl = self.libm_decl(func, single);
        let call = b.build_call(decl, &xs, "")?;
        call.add_attribute(AttributeLoc::Function, self.enum_attr("nobuiltin"));
        Ok(basic(call)?.into_float_value())
    }

    /// The declaration of an overloaded LLVM intrinsic for these types.
    fn intrinsic(&self, name: &str, types: &[BasicTypeEnum<'ctx>]) -> R<FunctionValue<'ctx>> {
        Intrinsic::find(name)
            .and_then(|i| i.get_declaration(self.module, types))
            .ok_or_else(|| Error::Codegen(format!("no intrinsic {name} for {types:?}")))
    }

    /// The declaration of `func`'s libm function: `sin(double)`, or with `single`
    /// `sinf(float)` (`dynlib_ir::libm::name_f32`).
    fn libm_decl(&self, func: MathFn, single: bool) -> FunctionValue<'ctx> {
        let name = if single {
            dynlib_ir::libm::name_f32(func)
        } else {
            func.name().to_string()
        };
        if let Some(fv) = self.module.get_function(&name) {
            return fv;
        }
        let ft = if single {
            self.ctx.f32_type()
        } else {
            self.ctx.f64_type()
        };
        let params: Vec<BasicMetadataTypeEnum> = (0..func.arity()).map(|_| ft.into()).collect();
        let fv =
            self.module
                .add_function(&name, ft.fn_type(&params, false), Some(Linkage::External));
        fv.add_attribute(AttributeLoc::Function, self.enum_attr("nounwind"));
        fv
    }

    /// `void dynlib_entry_<name>(i64* args, i64* rets)`: unpacks the words, calls the
    /// function, packs its results.
    fn entry(&self, id: FuncId) -> R<()> {
        let f = self.program.func(id);
        let inner = self.func_value(id)?;
        let c = self.ctx;
        let i64t = c.i64_type();
        let words = i64t.ptr_type(AddressSpace::default());
        let fn_ty = c.void_type().fn_type(&[words.into(), words.into()], false);
        let fv = self
            .module
            .add_function(&entry_symbol(&f.name), fn_ty, Some(Linkage::External));
        fv.add_attribute(AttributeLoc::Function, self.enum_attr("nounwind"));
        for i in 0..2 {
            fv.add_attribute(AttributeLoc::Param(i), self.enum_attr("noalias"));
            fv.add_attribute(AttributeLoc::Param(i), self.enum_attr("nocapture"));
        }
        let bb = c.append_basic_block(fv, "entry");
        let b = &self.builder;
        b.position_at_end(bb);
        let (args, rets) = (
            fv.get_nth_param(0).expect("declared").into_pointer_value(),
            fv.get_nth_param(1).expect("declared").into_pointer_value(),
        );
        let mut xs: Vec<BasicMetadataValueEnum> = Vec::new();
        for (k, &ty) in f.sig.params.iter().enumerate() {
            let idx = i64t.const_int(k as u64, false);
            // SAFETY: the caller passes one word per parameter (`Jit::call` checks).
            let at = unsafe { b.build_in_bounds_gep(args, &[idx], "")? };
            let w = b.build_load(at, "")?.into_int_value();
            let v: BasicValueEnum = match ty {
                Type::F64 => b.build_bit_cast(w, c.f64_type(), "")?,
                Type::F32 => {
                    let lo = b.build_int_truncate(w, c.i32_type(), "")?;
                    b.build_bit_cast(lo, c.f32_type(), "")?
                }
                Type::I64 => w.into(),
                Type::I32 => b.build_int_truncate(w, c.i32_type(), "")?.into(),
                Type::Bool => b
                    .build_int_compare(IntPredicate::NE, w, i64t.const_zero(), "")?
                    .into(),
                Type::Ptr(_) => b
                    .build_int_to_ptr(w, self.ty(ty).into_pointer_type(), "")?
                    .into(),
            };
            xs.push(v.into());
        }
        let call = b.build_call(inner, &xs, "")?;
        // The function is already whole (with the IR passes on, what it calls is inlined
        // into it): inlining it into this wrapper would only make LLVM simplify its body a
        // second time, which measured a third of a cold compile. Its `noalias` parameters
        // also stay parameters instead of becoming scoped alias metadata.
        call.add_attribute(AttributeLoc::Function, self.enum_attr("noinline"));
        let results: Vec<BasicValueEnum> = match f.sig.returns.len() {
            0 => Vec::new(),
            1 => vec![basic(call)?],
            n => {
                let agg = basic(call)?.into_struct_value();
                (0..n)
                    .map(|k| b.build_extract_value(agg, k as u32, ""))
                    .collect::<Result<_, _>>()?
            }
        };
        for (k, (v, &ty)) in results.into_iter().zip(&f.sig.returns).enumerate() {
            let w: IntValue = match ty {
                Type::F64 => b.build_bit_cast(v, i64t, "")?.into_int_value(),
                Type::F32 => {
                    let lo = b.build_bit_cast(v, c.i32_type(), "")?.into_int_value();
                    b.build_int_z_extend(lo, i64t, "")?
                }
                Type::I64 => v.into_int_value(),
                Type::I32 => b.build_int_s_extend(v.into_int_value(), i64t, "")?,
                Type::Bool => b.build_int_z_extend(v.into_int_value(), i64t, "")?,
                Type::Ptr(_) => {
                    return Err(Error::Codegen(format!("@{} returns a pointer", f.name)))
                }
            };
            let idx = i64t.const_int(k as u64, false);
            // SAFETY: the caller passes one word per result.
            let at = unsafe { b.build_in_bounds_gep(rets, &[idx], "")? };
            b.build_store(at, w)?;
        }
        b.build_return(None)?;
        Ok(())
    }
}

fn current<'ctx>(b: &Builder<'ctx>) -> R<BasicBlock<'ctx>> {
    b.get_insert_block()
        .ok_or_else(|| Error::Codegen("builder has no insertion block".into()))
}

fn basic(call: inkwell::values::CallSiteValue<'_>) -> R<BasicValueEnum<'_>> {
    match call.try_as_basic_value() {
        inkwell::values::ValueKind::Basic(v) => Ok(v),
        _ => Err(Error::Codegen("a call without a value".into())),
    }
}

fn elem_size(e: Elem) -> u32 {
    match e {
        Elem::F64 | Elem::I64 => 8,
        Elem::F32 | Elem::I32 => 4,
    }
}

fn set_align(v: BasicValueEnum<'_>, e: Elem) {
    if let Some(inst) = v.as_instruction_value() {
        // An alignment that is a power of two never fails to set.
        let _ = inst.set_alignment(elem_size(e));
    }
}

/// A float constant from an integer constant's bits (`bitcast` constant expression), so
/// every bit pattern, NaN payloads included, is reproduced exactly.
fn float_bitcast<'ctx>(i: IntValue<'ctx>, ty: BasicTypeEnum<'ctx>) -> FloatValue<'ctx> {
    use inkwell::types::AsTypeRef;
    use inkwell::values::AsValueRef;
    // SAFETY: a constant bitcast between an integer and a float type of the same width is
    // always valid, and the result is a float constant of `ty`.
    unsafe {
        let raw = llvm_sys::core::LLVMConstBitCast(i.as_value_ref(), ty.as_type_ref());
        FloatValue::new(raw)
    }
}
