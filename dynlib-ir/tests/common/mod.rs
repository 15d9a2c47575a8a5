//! Shared test support: a tiny reference evaluator (so the passes can be checked to change
//! no bit of any result without depending on dynlib-interp, which depends on this crate)
//! and a generator of random, verifier-clean programs.

#![allow(dead_code)]

use std::collections::BTreeMap;

use dynlib_ir::semantics;
use dynlib_ir::*;

/// Executes IR on raw bits. Pointers are indices into `memory`.
pub struct Machine<'p> {
    pub program: &'p Program,
    pub memory: Vec<Vec<u64>>,
}

impl Machine<'_> {
    /// Runs `func` on `args` and returns its results.
    pub fn call(&mut self, func: FuncId, args: &[u64]) -> Vec<u64> {
        let f = self.program.func(func);
        let mut regs = vec![0u64; f.values.len()];
        for (&p, &a) in f.params().iter().zip(args) {
            regs[p.index()] = a;
        }
        let mut block = Block(0);
        loop {
            for &inst in &f.blocks[block.index()].insts {
                let data = f.inst(inst);
                let results = f.inst_results(inst);
                let ty = |v: Value| f.value_type(v);
                match data {
                    InstData::Jump { dest } => {
                        block = self.pass(f, &mut regs, dest);
                        break;
                    }
                    InstData::Brif {
                        cond,
                        then_dest,
                        else_dest,
                    } => {
                        let dest = if regs[cond.index()] != 0 {
                            then_dest
                        } else {
                            else_dest
                        };
                        block = self.pass(f, &mut regs, dest);
                        break;
                    }
                    InstData::Return { args } => {
                        return args.iter().map(|a| regs[a.index()]).collect();
                    }
                    InstData::Call { func: callee, args } => {
                        let vals: Vec<u64> = args.iter().map(|a| regs[a.index()]).collect();
                        let out = self.call(*callee, &vals);
                        for (&r, o) in results.iter().zip(out) {
                            regs[r.index()] = o;
                        }
                    }
                    InstData::Store { ptr, index, value } => {
                        let array = regs[ptr.index()] as usize;
                        let i = regs[index.index()] as usize;
                        self.memory[array][i] = regs[value.index()];
                    }
                    InstData::Load { ptr, index } => {
                        let array = regs[ptr.index()] as usize;
                        let i = regs[index.index()] as usize;
                        regs[results[0].index()] = self.memory[array][i];
                    }
                    _ => {
                        let r = results[0];
                        let get = |v: &Value| regs[v.index()];
                        regs[r.index()] = match data {
                            InstData::Const { bits } => *bits,
                            InstData::Unary { op, arg } => unary(*op, ty(*arg), get(arg)),
                            InstData::Binary { op, args } => {
                                binary(*op, ty(args[0]), get(&args[0]), get(&args[1]))
                            }
                            InstData::Cmp { op, args } => {
                                cmp(*op, ty(args[0]), get(&args[0]), get(&args[1])) as u64
                            }
                            InstData::Select { args } => {
                                if get(&args[0]) != 0 {
                                    get(&args[1])
                                } else {
                                    get(&args[2])
                                }
                            }
                            InstData::Convert { arg } => {
                                semantics::convert(get(arg), ty(*arg), ty(r))
                            }
                            InstData::Math { func: m, args } => {
                                let x: Vec<f64> =
                                    args.iter().map(|a| f64::from_bits(get(a))).collect();
                                math(*m, &x).to_bits()
                            }
                            _ => unreachable!(),
                        };
                    }
                }
            }
        }
    }

    fn pass(&self, f: &Function, regs: &mut [u64], dest: &BlockCall) -> Block {
        let vals: Vec<u64> = dest.args.iter().map(|a| regs[a.index()]).collect();
        for (&p, v) in f.blocks[dest.block.index()].params.iter().zip(vals) {
            regs[p.index()] = v;
        }
        dest.block
    }
}

fn unary(op: UnaryOp, ty: Type, a: u64) -> u64 {
    match (op, ty) {
        (UnaryOp::Neg, Type::F64) => (-f64::from_bits(a)).to_bits(),
        (UnaryOp::Neg, Type::F32) => (-f32::from_bits(a as u32)).to_bits() as u64,
        (UnaryOp::Neg, Type::I64) => (a as i64).wrapping_neg() as u64,
        (UnaryOp::Neg, Type::I32) => (a as i32).wrapping_neg() as i64 as u64,
        (UnaryOp::Not, _) => (a == 0) as u64,
        _ => unreachable!(),
    }
}

fn binary(op: BinaryOp, ty: Type, a: u64, b: u64) -> u64 {
    use BinaryOp::*;
    match ty {
        Type::F64 => {
            let (x, y) = (f64::from_bits(a), f64::from_bits(b));
            match op {
                Add => x + y,
                Sub => x - y,
                Mul => x * y,
                Div => x / y,
                FloorDiv => semantics::floordiv_f64(x, y),
                Mod => semantics::mod_f64(x, y),
                _ => unreachable!(),
            }
            .to_bits()
        }
        Type::F32 => {
            let (x, y) = (f32::from_bits(a as u32), f32::from_bits(b as u32));
            (match op {
                Add => x + y,
                Sub => x - y,
                Mul => x * y,
                Div => x / y,
                FloorDiv => semantics::floordiv_f64(x as f64, y as f64) as f32,
                Mod => semantics::mod_f64(x as f64, y as f64) as f32,
                _ => unreachable!(),
            })
            .to_bits() as u64
        }
        Type::I64 => {
            let (x, y) = (a as i64, b as i64);
            (match op {
                Add => x.wrapping_add(y),
                Sub => x.wrapping_sub(y),
                Mul => x.wrapping_mul(y),
                FloorDiv => semantics::floordiv_i64(x, y),
                Mod => semantics::mod_i64(x, y),
                _ => unreachable!(),
            }) as u64
        }
        Type::I32 => {
            let (x, y) = (a as i32, b as i32);
            (match op {
                Add => x.wrapping_add(y),
                Sub => x.wrapping_sub(y),
                Mul => x.wrapping_mul(y),
                FloorDiv => semantics::floordiv_i32(x, y),
                Mod => semantics::mod_i32(x, y),
                _ => unreachable!(),
            }) as i64 as u64
        }
        Type::Bool => match op {
            And => a & b,
            Or => a | b,
            _ => unreachable!(),
        },
        Type::Ptr(_) => unreachable!(),
    }
}

fn cmp(op: CmpOp, ty: Type, a: u64, b: u64) -> bool {
    fn c<T: PartialOrd>(op: CmpOp, x: T, y: T) -> bool {
        match op {
            CmpOp::Eq => x == y,
            CmpOp::Ne => x != y,
            CmpOp::Lt => x < y,
            CmpOp::Le => x <= y,
            CmpOp::Gt => x > y,
            CmpOp::Ge => x >= y,
        }
    }
    match ty {
        Type::F64 => c(op, f64::from_bits(a), f64::from_bits(b)),
        Type::F32 => c(op, f32::from_bits(a as u32), f32::from_bits(b as u32)),
        Type::I64 | Type::I32 => c(op, a as i64, b as i64),
        _ => c(op, a, b),
    }
}

/// Math through Rust's std (which calls the platform libm); erf/erfc have no std version,
/// and any deterministic stand-in serves a before/after comparison.
fn math(m: MathFn, x: &[f64]) -> f64 {
    let a = x[0];
    let b = x.get(1).copied().unwrap_or(0.0);
    match m {
        MathFn::Sin => a.sin(),
        MathFn::Cos => a.cos(),
        MathFn::Tan => a.tan(),
        MathFn::Asin => a.asin(),
        MathFn::Acos => a.acos(),
        MathFn::Atan => a.atan(),
        MathFn::Atan2 => a.atan2(b),
        MathFn::Sinh => a.sinh(),
        MathFn::Cosh => a.cosh(),
        MathFn::Tanh => a.tanh(),
        MathFn::Asinh => a.asinh(),
        MathFn::Acosh => a.acosh(),
        MathFn::Atanh => a.atanh(),
        MathFn::Exp => a.exp(),
        MathFn::Expm1 => a.exp_m1(),
        MathFn::Log => a.ln(),
        MathFn::Log10 => a.log10(),
        MathFn::Log2 => a.log2(),
        MathFn::Log1p => a.ln_1p(),
        MathFn::Sqrt => a.sqrt(),
        MathFn::Pow => a.powf(b),
        MathFn::Fabs => a.abs(),
        MathFn::Floor => a.floor(),
        MathFn::Ceil => a.ceil(),
        MathFn::Trunc => a.trunc(),
        MathFn::RoundEven => a.round_ties_even(),
        MathFn::Hypot => a.hypot(b),
        MathFn::Copysign => a.copysign(b),
        MathFn::Erf => a.tanh(),
        MathFn::Erfc => 1.0 - a.tanh(),
        MathFn::RoundDigits => dynlib_ir::semantics::round_digits(a, b),
    }
}

/// A small deterministic random number generator (xorshift64*).
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    pub fn pick<T: Copy>(&mut self, xs: &[T]) -> T {
        xs[self.below(xs.len())]
    }
}

/// Interesting f64 bit patterns: signed zeros, infinities, NaNs with payloads and signs.
pub const F64_BITS: &[u64] = &[
    0x0000_0000_0000_0000, // 0.0
    0x8000_0000_0000_0000, // -0.0
    0x3ff0_0000_0000_0000, // 1.0
    0xbff8_0000_0000_0000, // -1.5
    0x4000_0000_0000_0000, // 2.0
    0x4008_0000_0000_0000, // 3.0
    0xc01c_0000_0000_0000, // -7.0
    0x3fb9_9999_9999_999a, // 0.1
    0x7e37_e43c_8800_759c, // 1e300
    0x7ff0_0000_0000_0000, // inf
    0xfff0_0000_0000_0000, // -inf
    0x7ff8_0000_0000_0000, // NaN
    0x7ff8_0000_0000_0abc, // NaN with a payload
    0xfff8_0000_0000_0001, // negative NaN with a payload
    0x0000_0000_0000_0001, // smallest subnormal
];
pub const F32_BITS: &[u64] = &[
    0,
    0x8000_0000,
    0x3fc0_0000,
    0xc020_0000,
    0x7f80_0000,
    0x7fc0_0123,
];
pub const I64S: &[i64] = &[0, 1, -1, 2, 3, -7, i64::MIN, i64::MAX];
pub const I32S: &[i32] = &[0, 1, -1, 3, -7, i32::MIN, i32::MAX];

const SCALARS: &[Type] = &[Type::F64, Type::F32, Type::I64, Type::I32, Type::Bool];

/// Values available (dominating) at the builder's position, by type.
#[derive(Clone, Default)]
pub struct Pool(BTreeMap<Type, Vec<Value>>);

impl Pool {
    pub fn add(&mut self, ty: Type, v: Value) {
        self.0.entry(ty).or_default().push(v);
    }

    fn pick(&self, rng: &mut Rng, ty: Type) -> Value {
        rng.pick(&self.0[&ty])
    }
}

fn random_const(b: &mut FunctionBuilder, rng: &mut Rng, ty: Type) -> Value {
    match ty {
        Type::F64 => b.constant(ty, rng.pick(F64_BITS)),
        Type::F32 => b.constant(ty, rng.pick(F32_BITS)),
        Type::I64 => b.i64(rng.pick(I64S)),
        Type::I32 => b.i32(rng.pick(I32S)),
        _ => b.bool(rng.below(2) == 1),
    }
}

/// Seeds the pool with one constant of every scalar type.
pub fn seed(b: &mut FunctionBuilder, rng: &mut Rng, pool: &mut Pool) {
    for &ty in SCALARS {
        let v = random_const(b, rng, ty);
        pool.add(ty, v);
    }
}

/// What random instructions may use besides the pool.
pub struct Env<'a> {
    /// Arrays to load from (pointer, element), indices 0..4.
    pub arrays: &'a [(Value, Elem)],
    /// Functions to call: id and signature (f64, i64) -> (f64, i64).
    pub callees: &'a [(FuncId, Signature)],
}

/// Appends `n` random instructions, adding their results to the pool.
pub fn random_ops(b: &mut FunctionBuilder, rng: &mut Rng, pool: &mut Pool, n: usize, env: &Env) {
    use BinaryOp::*;
    for _ in 0..n {
        let ty = rng.pick(SCALARS);
        let v = match rng.below(11) {
            0 => random_const(b, rng, ty),
            1 => {
                let a = pool.pick(rng, ty);
                if ty == Type::Bool {
                    b.not(a)
                } else {
                    b.neg(a)
                }
            }
            2..=4 => {
                let op = match ty {
                    Type::F64 | Type::F32 => rng.pick(&[Add, Sub, Mul, Div, FloorDiv, Mod]),
                    Type::Bool => rng.pick(&[And, Or]),
                    _ => rng.pick(&[Add, Sub, Mul, FloorDiv, Mod]),
                };
                let (x, y) = (pool.pick(rng, ty), pool.pick(rng, ty));
                // Constants on both sides now and then, so folding has work.
                let y = if rng.below(3) == 0 {
                    random_const(b, rng, ty)
                } else {
                    y
                };
                b.binary(op, x, y)
            }
            5 => {
                let op = rng.pick(&[
                    CmpOp::Eq,
                    CmpOp::Ne,
                    CmpOp::Lt,
                    CmpOp::Le,
                    CmpOp::Gt,
                    CmpOp::Ge,
                ]);
                let (x, y) = (pool.pick(rng, ty), pool.pick(rng, ty));
                let c = b.cmp(op, x, y);
                pool.add(Type::Bool, c);
                continue;
            }
            6 => {
                let c = pool.pick(rng, Type::Bool);
                let (x, y) = (pool.pick(rng, ty), pool.pick(rng, ty));
                b.select(c, x, y)
            }
            7 => {
                let from = rng.pick(SCALARS);
                if from == ty {
                    continue;
                }
                let x = pool.pick(rng, from);
                b.convert(x, ty)
            }
            8 => {
                let m = rng.pick(MathFn::ALL);
                let args: Vec<Value> = (0..m.arity()).map(|_| pool.pick(rng, Type::F64)).collect();
                let r = b.math(m, &args);
                pool.add(Type::F64, r);
                continue;
            }
            9 if !env.arrays.is_empty() => {
                let (ptr, elem) = rng.pick(env.arrays);
                let i = b.i64(rng.below(4) as i64);
                let r = b.load(ptr, i);
                pool.add(elem.ty(), r);
                continue;
            }
            10 if !env.callees.is_empty() => {
                let (callee, sig) = &env.callees[rng.below(env.callees.len())];
                let args = [pool.pick(rng, Type::F64), pool.pick(rng, Type::I64)];
                let r = b.call(*callee, sig, &args);
                pool.add(Type::F64, r[0]);
                pool.add(Type::I64, r[1]);
                continue;
            }
            _ => continue,
        };
        pool.add(ty, v);
    }
}

/// The signature of the generated callees.
pub fn pair_sig() -> Signature {
    Signature {
        params: vec![Type::F64, Type::I64],
        returns: vec![Type::F64, Type::I64],
    }
}

/// A callee `(f64, i64) -> (f64, i64)` with a diamond, calling `callees`.
pub fn random_callee(rng: &mut Rng, name: &str, callees: &[(FuncId, Signature)]) -> Function {
    let mut f = Function::new(name, pair_sig());
    let mut b = FunctionBuilder::new(&mut f);
    let env = Env {
        arrays: &[],
        callees,
    };
    let mut pool = Pool::default();
    pool.add(Type::F64, b.param(0));
    pool.add(Type::I64, b.param(1));
    seed(&mut b, rng, &mut pool);
    random_ops(&mut b, rng, &mut pool, 6, &env);
    let (t, e, m) = (b.create_block(), b.create_block(), b.create_block());
    let xm = b.block_param(m, Type::F64);
    let im = b.block_param(m, Type::I64);
    let c = pool.pick(rng, Type::Bool);
    b.brif(c, t, &[], e, &[]);
    for arm in [t, e] {
        b.switch_to(arm);
        let mut p = pool.clone();
        random_ops(&mut b, rng, &mut p, 4, &env);
        let (x, i) = (p.pick(rng, Type::F64), p.pick(rng, Type::I64));
        b.jump(m, &[x, i]);
    }
    b.switch_to(m);
    b.ret(&[xm, im]);
    f
}

/// The signature of the generated main function.
pub fn main_sig() -> Signature {
    Signature {
        params: vec![
            Type::F64,
            Type::F64,
            Type::I64,
            Type::I32,
            Type::F32,
            Type::Bool,
            Type::Ptr(Elem::F64),
            Type::Ptr(Elem::F64),
            Type::Ptr(Elem::I64),
        ],
        returns: vec![Type::F64],
    }
}

/// A random program: `@main` (entry, diamond, a counted loop, stores) calling `@mid`,
/// which calls `@leaf`; defined in the order main, mid, leaf, so calls go forward in the
/// text.
pub fn random_program(seed_value: u64) -> Program {
    let mut rng = Rng(seed_value.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
    let (mid_id, leaf_id) = (FuncId(1), FuncId(2));
    let leaf = random_callee(&mut rng, "leaf", &[]);
    let mid = random_callee(&mut rng, "mid", &[(leaf_id, pair_sig())]);
    let callees = [(mid_id, pair_sig()), (leaf_id, pair_sig())];

    let mut f = Function::new("main", main_sig());
    let mut b = FunctionBuilder::new(&mut f);
    let mut pool = Pool::default();
    for (i, ty) in main_sig().params.iter().enumerate().take(6) {
        pool.add(*ty, b.param(i));
    }
    let (input, out_f, out_i) = (b.param(6), b.param(7), b.param(8));
    let arrays = [(input, Elem::F64)];
    let env = Env {
        arrays: &arrays,
        callees: &callees,
    };
    seed(&mut b, &mut rng, &mut pool);
    random_ops(&mut b, &mut rng, &mut pool, 10, &env);
    let (t, e, join, head, body, exit) = (
        b.create_block(),
        b.create_block(),
        b.create_block(),
        b.create_block(),
        b.create_block(),
        b.create_block(),
    );
    let jx = b.block_param(join, Type::F64);
    let ji = b.block_param(join, Type::I64);
    let c = pool.pick(&mut rng, Type::Bool);
    b.brif(c, t, &[], e, &[]);
    for arm in [t, e] {
        b.switch_to(arm);
        let mut p = pool.clone();
        random_ops(&mut b, &mut rng, &mut p, 6, &env);
        let (x, i) = (p.pick(&mut rng, Type::F64), p.pick(&mut rng, Type::I64));
        b.jump(join, &[x, i]);
    }
    b.switch_to(join);
    pool.add(Type::F64, jx);
    pool.add(Type::I64, ji);
    let zero = b.i64(0);
    b.jump(head, &[zero, jx]);
    b.switch_to(head);
    let i = b.block_param(head, Type::I64);
    let acc = b.block_param(head, Type::F64);
    pool.add(Type::I64, i);
    pool.add(Type::F64, acc);
    let three = b.i64(3);
    let more = b.cmp(CmpOp::Lt, i, three);
    b.brif(more, body, &[], exit, &[]);
    b.switch_to(body);
    let mut p = pool.clone();
    random_ops(&mut b, &mut rng, &mut p, 6, &env);
    let x = p.pick(&mut rng, Type::F64);
    let acc2 = b.add(acc, x);
    let one = b.i64(1);
    let i2 = b.add(i, one);
    b.jump(head, &[i2, acc2]);
    b.switch_to(exit);
    for k in 0..4 {
        let idx = b.i64(k);
        let x = pool.pick(&mut rng, Type::F64);
        b.store(out_f, idx, x);
        let n = pool.pick(&mut rng, Type::I64);
        b.store(out_i, idx, n);
    }
    let r = pool.pick(&mut rng, Type::F64);
    b.ret(&[r]);

    let mut program = Program::new();
    program.add(f);
    program.add(mid);
    program.add(leaf);
    program
}

/// Runs `@main` of a random program on inputs derived from `k`; returns the result and the
/// output arrays, as bits.
pub fn run_main(program: &Program, k: usize) -> Vec<u64> {
    let pick = |xs: &[u64], j: usize| xs[(k * 7 + j * 3) % xs.len()];
    let input: Vec<u64> = (0..4).map(|j| pick(F64_BITS, j)).collect();
    let mut m = Machine {
        program,
        memory: vec![input, vec![0; 4], vec![0; 4]],
    };
    let args = [
        pick(F64_BITS, 11),
        pick(F64_BITS, 12),
        I64S[k % I64S.len()] as u64,
        I32S[k % I32S.len()] as i64 as u64,
        F32_BITS[k % F32_BITS.len()],
        (k % 2) as u64,
        0,
        1,
        2,
    ];
    let mut out = m.call(program.find("main").unwrap(), &args);
    out.extend(m.memory[1].iter().copied());
    out.extend(m.memory[2].iter().copied());
    out
}

/// Panics with the program text and every error when the program does not verify.
pub fn assert_verifies(program: &Program, context: &str) {
    if let Err(errors) = verify_program(program) {
        let list: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
        panic!(
            "{context}: verifier errors:\n{}\n\n{program}",
            list.join("\n")
        );
    }
}
