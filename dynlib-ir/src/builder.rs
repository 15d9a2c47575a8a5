//! Building functions instruction by instruction.
//!
//! ```
//! use dynlib_ir::{Function, FunctionBuilder, Signature, Type};
//! let mut f = Function::new("double", Signature { params: vec![Type::F64], returns: vec![Type::F64] });
//! let mut b = FunctionBuilder::new(&mut f);
//! let x = b.param(0);
//! let two = b.f64(2.0);
//! let y = b.mul(x, two);
//! b.ret(&[y]);
//! ```

use crate::ir::*;

/// Appends instructions to a function, block by block.
pub struct FunctionBuilder<'f> {
    /// The function being built.
    pub func: &'f mut Function,
    current: Block,
}

impl<'f> FunctionBuilder<'f> {
    /// Starts building `func`: creates the entry block (parameters from the signature) when
    /// the function has none, and positions at the end of the entry block.
    pub fn new(func: &'f mut Function) -> Self {
        if func.blocks.is_empty() {
            func.blocks.push(BlockData::default());
            for (i, ty) in func.sig.params.clone().into_iter().enumerate() {
                let v = func.make_value(ty, ValueDef::Param(Block(0), i as u32));
                func.blocks[0].params.push(v);
            }
        }
        FunctionBuilder {
            func,
            current: Block(0),
        }
    }

    /// Function parameter number `i`.
    pub fn param(&self, i: usize) -> Value {
        self.func.blocks[0].params[i]
    }

    /// Instructions in the function so far (a measure of its size).
    pub fn inst_count(&self) -> usize {
        self.func.insts.len()
    }

    /// A new empty block at the end of the layout.
    pub fn create_block(&mut self) -> Block {
        self.func.blocks.push(BlockData::default());
        Block(self.func.blocks.len() as u32 - 1)
    }

    /// Adds a parameter to `block`.
    pub fn block_param(&mut self, block: Block, ty: Type) -> Value {
        let n = self.func.blocks[block.index()].params.len() as u32;
        let v = self.func.make_value(ty, ValueDef::Param(block, n));
        self.func.blocks[block.index()].params.push(v);
        v
    }

    /// Continues at the end of `block`.
    pub fn switch_to(&mut self, block: Block) {
        self.current = block;
    }

    /// The block instructions go to.
    pub fn current(&self) -> Block {
        self.current
    }

    /// True when the current block already ends with a terminator.
    pub fn is_terminated(&self) -> bool {
        self.func.blocks[self.current.index()]
            .insts
            .last()
            .is_some_and(|i| self.func.insts[i.index()].is_terminator())
    }

    /// The type of a value.
    pub fn ty(&self, v: Value) -> Type {
        self.func.value_type(v)
    }

    /// Appends an instruction with results of the given types.
    pub fn push(&mut self, data: InstData, result_types: &[Type]) -> Inst {
        let inst = Inst(self.func.insts.len() as u32);
        self.func.insts.push(data);
        let results = result_types
            .iter()
            .enumerate()
            .map(|(n, ty)| self.func.make_value(*ty, ValueDef::Result(inst, n as u32)))
            .collect();
        self.func.results.push(results);
        self.func.blocks[self.current.index()].insts.push(inst);
        inst
    }

    fn push1(&mut self, data: InstData, ty: Type) -> Value {
        let inst = self.push(data, &[ty]);
        self.func.results[inst.index()][0]
    }

    /// A constant of type `ty` with raw `bits` (see [`InstData::Const`]).
    pub fn constant(&mut self, ty: Type, bits: u64) -> Value {
        self.push1(InstData::Const { bits }, ty)
    }

    /// An f64 constant.
    pub fn f64(&mut self, x: f64) -> Value {
        self.constant(Type::F64, x.to_bits())
    }

    /// An f32 constant.
    pub fn f32(&mut self, x: f32) -> Value {
        self.constant(Type::F32, x.to_bits() as u64)
    }

    /// The constant `x` in float type `ty` (f32: rounded; anything else: f64).
    pub fn float(&mut self, ty: Type, x: f64) -> Value {
        match ty {
            Type::F32 => self.f32(x as f32),
            _ => self.f64(x),
        }
    }

    /// An i64 constant.
    pub fn i64(&mut self, x: i64) -> Value {
        self.constant(Type::I64, x as u64)
    }

    /// An i32 constant.
    pub fn i32(&mut self, x: i32) -> Value {
        self.constant(Type::I32, x as i64 as u64)
    }

    /// A bool constant.
    pub fn bool(&mut self, x: bool) -> Value {
        self.constant(Type::Bool, x as u64)
    }

    /// A unary operation.
    pub fn unary(&mut self, op: UnaryOp, arg: Value) -> Value {
        let ty = self.ty(arg);
        self.push1(InstData::Unary { op, arg }, ty)
    }

    /// `-a`
    pub fn neg(&mut self, a: Value) -> Value {
        self.unary(UnaryOp::Neg, a)
    }

    /// `not a`
    pub fn not(&mut self, a: Value) -> Value {
        self.unary(UnaryOp::Not, a)
    }

    /// A binary operation; the result has the operands' type.
    pub fn binary(&mut self, op: BinaryOp, a: Value, b: Value) -> Value {
        let ty = self.ty(a);
        self.push1(InstData::Binary { op, args: [a, b] }, ty)
    }

    /// `a + b`
    pub fn add(&mut self, a: Value, b: Value) -> Value {
        self.binary(BinaryOp::Add, a, b)
    }

    /// `a - b`
    pub fn sub(&mut self, a: Value, b: Value) -> Value {
        self.binary(BinaryOp::Sub, a, b)
    }

    /// `a * b`
    pub fn mul(&mut self, a: Value, b: Value) -> Value {
        self.binary(BinaryOp::Mul, a, b)
    }

    /// `a / b` (floats)
    pub fn div(&mut self, a: Value, b: Value) -> Value {
        self.binary(BinaryOp::Div, a, b)
    }

    /// A comparison.
    pub fn cmp(&mut self, op: CmpOp, a: Value, b: Value) -> Value {
        self.push1(InstData::Cmp { op, args: [a, b] }, Type::Bool)
    }

    /// `cond ? a : b`
    pub fn select(&mut self, cond: Value, a: Value, b: Value) -> Value {
        let ty = self.ty(a);
        self.push1(InstData::Select { args: [cond, a, b] }, ty)
    }

    /// Converts `arg` to `to` (a no-op conversion returns `arg` itself).
    pub fn convert(&mut self, arg: Value, to: Type) -> Value {
        if self.ty(arg) == to {
            return arg;
        }
        self.push1(InstData::Convert { arg }, to)
    }

    /// A libm call, in the float type of its arguments (f64, or f32: the C library's
    /// float version, `sinf`).
    pub fn math(&mut self, func: MathFn, args: &[Value]) -> Value {
        let ty = args.first().map_or(Type::F64, |&a| self.ty(a));
        self.push1(
            InstData::Math {
                func,
                args: args.to_vec(),
            },
            ty,
        )
    }

    /// `ptr[index]`
    pub fn load(&mut self, ptr: Value, index: Value) -> Value {
        let ty = match self.ty(ptr) {
            Type::Ptr(e) => e.ty(),
            // The verifier reports the misuse; give the result some type meanwhile.
            _ => Type::F64,
        };
        self.push1(InstData::Load { ptr, index }, ty)
    }

    /// `ptr[index] = value`
    pub fn store(&mut self, ptr: Value, index: Value, value: Value) {
        self.push(InstData::Store { ptr, index, value }, &[]);
    }

    /// Calls `func`, whose signature is `sig`; returns its results.
    pub fn call(&mut self, func: FuncId, sig: &Signature, args: &[Value]) -> Vec<Value> {
        let inst = self.push(
            InstData::Call {
                func,
                args: args.to_vec(),
            },
            &sig.returns,
        );
        self.func.results[inst.index()].clone()
    }

    /// Emits `for i in start..end` (`i64`, step 1) with loop-carried values, as a loop in
    /// the IR rather than `end - start` copies, so code that would grow with n² or n³ (a
    /// dense LU) stays the size of its body. `body` is called once, with the builder in the
    /// loop body, the counter and the carried values, and returns the carried values of
    /// the next iteration (same count and types). Returns the values after the loop, with
    /// the builder positioned there.
    pub fn for_range(
        &mut self,
        start: Value,
        end: Value,
        carried: &[Value],
        body: impl FnOnce(&mut Self, Value, &[Value]) -> Vec<Value>,
    ) -> Vec<Value> {
        let head = self.loop_start(start, end, carried);
        let next = body(self, head.counter, &head.carried);
        self.loop_finish(head, &next)
    }

    /// The first half of [`FunctionBuilder::for_range`], for callers whose body needs more
    /// than the builder (an emitter's own helpers): opens the loop and positions the
    /// builder in its body. Close it with [`FunctionBuilder::loop_finish`].
    pub fn loop_start(&mut self, start: Value, end: Value, carried: &[Value]) -> CountedLoop {
        let header = self.create_block();
        let counter = self.block_param(header, Type::I64);
        let state: Vec<Value> = carried
            .iter()
            .map(|&v| {
                let ty = self.ty(v);
                self.block_param(header, ty)
            })
            .collect();
        let looped = self.create_block();
        let done = self.create_block();
        let mut entry = vec![start];
        entry.extend_from_slice(carried);
        self.jump(header, &entry);
        self.switch_to(header);
        let go = self.cmp(CmpOp::Lt, counter, end);
        self.brif(go, looped, &[], done, &[]);
        self.switch_to(looped);
        CountedLoop {
            header,
            done,
            counter,
            carried: state,
        }
    }

    /// Closes `head` with the carried values of the next iteration (same count and types
    /// as the loop's); returns the values after the loop, with the builder positioned there.
    pub fn loop_finish(&mut self, head: CountedLoop, next: &[Value]) -> Vec<Value> {
        assert_eq!(
            next.len(),
            head.carried.len(),
            "a counted loop's body must return every carried value"
        );
        let one = self.i64(1);
        let i1 = self.add(head.counter, one);
        let mut back = vec![i1];
        back.extend_from_slice(next);
        self.jump(head.header, &back);
        self.switch_to(head.done);
        head.carried
    }

    /// Jumps to `block` with `args`.
    pub fn jump(&mut self, block: Block, args: &[Value]) {
        self.push(
            InstData::Jump {
                dest: BlockCall {
                    block,
                    args: args.to_vec(),
                },
            },
            &[],
        );
    }

    /// Branches on `cond`.
    pub fn brif(
        &mut self,
        cond: Value,
        then_block: Block,
        then_args: &[Value],
        else_block: Block,
        else_args: &[Value],
    ) {
        self.push(
            InstData::Brif {
                cond,
                then_dest: BlockCall {
                    block: then_block,
                    args: then_args.to_vec(),
                },
                else_dest: BlockCall {
                    block: else_block,
                    args: else_args.to_vec(),
                },
            },
            &[],
        );
    }

    /// Returns `values`.
    pub fn ret(&mut self, values: &[Value]) {
        self.push(
            InstData::Return {
                args: values.to_vec(),
            },
            &[],
        );
    }
}

/// An open counted loop ([`FunctionBuilder::loop_start`]): the counter and carried values
/// inside its body. After [`FunctionBuilder::loop_finish`] the carried parameters are the
/// values after the loop too (the exit is taken from the header, before the body runs).
#[derive(Clone, Debug)]
pub struct CountedLoop {
    header: Block,
    done: Block,
    /// The loop counter (`i64`), valid in the body.
    pub counter: Value,
    /// The carried values as the body sees them (the header's parameters).
    pub carried: Vec<Value>,
}
