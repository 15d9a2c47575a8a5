//! Lowering a validated [`Model`] into the IR model functions.
//!
//! Each function has a fixed ABI shared by every stepper and runner (`D` is the model dtype's
//! element type; `ring`/`head` are the lag rings, see [`LagLayout`]):
//!
//! | function | parameters | returns |
//! |---|---|---|
//! | `rhs`, `inv_rhs` | t: f64, y: ptr<D>, out: ptr<D>, p: ptr<D>, ring: ptr<D>, head: ptr<i64> | — |
//! | `events_pre`, `events_post` | t: f64, y: ptr<D>, p: ptr<D>, log: ptr<f64>, ring, head | code: i32, width: i32 |
//! | `update_aux` | t: f64, y: ptr<D>, p: ptr<D>, aux: ptr<D>, ring, head | stop: bool |
//! | `jacobian` | t: f64, y: ptr<D>, p: ptr<D>, jac: ptr<D> (row-major n×n), ring, head | — |
//! | `jvp` | t: f64, y: ptr<D>, p: ptr<D>, v: ptr<D>, out: ptr<D>, ring, head | — |
//!
//! Expressions are computed with Python's types: bools, 64-bit ints and f64 floats (see
//! [`dynlib_model::Ty`]); states and params are converted from the dtype when read and back
//! when stored, constants are cast to the dtype first. The user's operation order is kept.
//! Aux and user functions are inlined (each aux computed once per function until a state or
//! param is assigned); `x ** 2` becomes `x * x` here, identically for both backends.
//! Events: the first event of the phase whose condition is truthy fires; its code is its
//! index in the model's event list (one global index).

use std::collections::HashMap;

use dynlib_model::builtins::Builtin;
use dynlib_model::expr::{self, Expr, ExprKind, Number, Res};
use dynlib_model::{Dtype, LogSignal, Model, ModelKind, Phase, Target, Ty};

use crate::builder::FunctionBuilder;
use crate::ir::*;

/// Status codes returned by steppers and runners (runtime.md §3.2).
pub mod status {
    /// The stepper accepted the step.
    pub const OK: i32 = 0;
    /// The stepper failed (Newton, adaptive control); terminal.
    pub const STEPFAIL: i32 = 2;
    /// A proposal was not finite; terminal.
    pub const NAN_DETECTED: i32 = 3;
    /// The stop condition fired; success.
    pub const EARLY_EXIT: i32 = 7;
    /// The horizon was reached or the step cap exhausted; success.
    pub const DONE: i32 = 9;
    /// The record buffer is full: grow it and re-enter.
    pub const GROW_REC: i32 = 10;
    /// The event buffer is full: grow it and re-enter.
    pub const GROW_EVT: i32 = 11;
    /// Time did not advance (`t + dt == t` in floating point); terminal (a `STEPFAIL`
    /// whose reason the runtime reports).
    pub const STALLED: i32 = 14;
}

/// One lagged state's ring in the shared ring array.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LagRing {
    /// The state.
    pub state: usize,
    /// Slots (deepest requested lag + 1).
    pub len: usize,
    /// Where the ring starts in the ring array.
    pub offset: usize,
}

/// Where the lag rings live: rings in `[states]` order, one head index per ring.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LagLayout {
    /// The rings, in state order; ring `j` uses `head[j]`.
    pub rings: Vec<LagRing>,
    /// Total length of the ring array.
    pub ring_len: usize,
}

impl LagLayout {
    /// The layout for a model's lag depths.
    pub fn of(model: &Model) -> LagLayout {
        let mut rings = Vec::new();
        let mut offset = 0;
        for (state, &depth) in model.lag_depths.iter().enumerate() {
            if depth > 0 {
                let len = depth as usize + 1;
                rings.push(LagRing { state, len, offset });
                offset += len;
            }
        }
        LagLayout {
            rings,
            ring_len: offset,
        }
    }
}

/// The IR element type of a model dtype.
pub fn elem_of(dtype: Dtype) -> Elem {
    match dtype {
        Dtype::Float64 => Elem::F64,
        Dtype::Float32 => Elem::F32,
        Dtype::Int64 => Elem::I64,
        Dtype::Int32 => Elem::I32,
    }
}

/// The model functions of one model, in one program (steppers and runners are added to it).
#[derive(Clone, Debug)]
pub struct ModelFunctions {
    /// The program holding the functions.
    pub program: Program,
    /// Derivative (ODE) or next state (map).
    pub rhs: FuncId,
    /// The inverse map, when declared.
    pub inv_rhs: Option<FuncId>,
    /// Start-phase events.
    pub events_pre: FuncId,
    /// End-phase events.
    pub events_post: FuncId,
    /// Aux values and the stop flag.
    pub update_aux: FuncId,
    /// The dense Jacobian, when declared.
    pub jacobian: Option<FuncId>,
    /// The Jacobian-vector product, when declared.
    pub jvp: Option<FuncId>,
    /// The lag rings.
    pub lags: LagLayout,
    /// The model dtype's element type.
    pub elem: Elem,
    /// The widest event log (size of the log scratch).
    pub max_log_width: usize,
}

/// Signature of `rhs` / `inv_rhs`.
pub fn rhs_signature(elem: Elem) -> Signature {
    let p = Type::Ptr(elem);
    Signature {
        params: vec![Type::F64, p, p, p, p, Type::Ptr(Elem::I64)],
        returns: vec![],
    }
}

/// Signature of `events_pre` / `events_post`.
pub fn events_signature(elem: Elem) -> Signature {
    let p = Type::Ptr(elem);
    Signature {
        params: vec![
            Type::F64,
            p,
            p,
            Type::Ptr(Elem::F64),
            p,
            Type::Ptr(Elem::I64),
        ],
        returns: vec![Type::I32, Type::I32],
    }
}

/// Signature of `update_aux`.
pub fn update_aux_signature(elem: Elem) -> Signature {
    let p = Type::Ptr(elem);
    Signature {
        params: vec![Type::F64, p, p, p, p, Type::Ptr(Elem::I64)],
        returns: vec![Type::Bool],
    }
}

/// Signature of `jacobian`.
pub fn jacobian_signature(elem: Elem) -> Signature {
    rhs_signature(elem)
}

/// Signature of `jvp`.
pub fn jvp_signature(elem: Elem) -> Signature {
    let p = Type::Ptr(elem);
    Signature {
        params: vec![Type::F64, p, p, p, p, p, Type::Ptr(Elem::I64)],
        returns: vec![],
    }
}

/// Lowers every model function of `model`.
pub fn lower_model(model: &Model) -> ModelFunctions {
    let elem = elem_of(model.dtype);
    let lags = LagLayout::of(model);
    let mut program = Program::new();

    let rhs = program.add(lower_equations(model, &lags, "rhs", &model.equations, true));
    let inv_rhs = model
        .inverse
        .as_ref()
        .map(|inv| program.add(lower_equations(model, &lags, "inv_rhs", inv, false)));
    let events_pre = program.add(lower_events(model, &lags, "events_pre", true));
    let events_post = program.add(lower_events(model, &lags, "events_post", false));
    let update_aux = program.add(lower_update_aux(model, &lags));
    let (jacobian, jvp) = match &model.jacobian {
        Some(j) => (
            Some(program.add(lower_jacobian(model, &lags, j))),
            Some(program.add(lower_jvp(model, &lags, j))),
        ),
        None => (None, None),
    };
    let max_log_width = model.events.iter().map(|e| e.log.len()).max().unwrap_or(0);
    ModelFunctions {
        program,
        rhs,
        inv_rhs,
        events_pre,
        events_post,
        update_aux,
        jacobian,
        jvp,
        lags,
        elem,
        max_log_width,
    }
}

/// The IR type expressions of a Python type are computed in.
fn work_type(ty: Ty) -> Type {
    match ty {
        Ty::Bool => Type::Bool,
        Ty::Int => Type::I64,
        Ty::Float => Type::F64,
    }
}

/// A lowered expression value with its Python type.
#[derive(Copy, Clone, Debug)]
struct Val {
    v: Value,
    ty: Ty,
}

/// Lowering context for one function.
struct Lower<'m, 'f> {
    model: &'m Model,
    lags: &'m LagLayout,
    b: FunctionBuilder<'f>,
    t: Value,
    y: Value,
    p: Value,
    ring: Value,
    head: Value,
    elem: Elem,
    /// Loaded states, params and computed aux, valid until the next assignment.
    memo: HashMap<(u8, usize), Val>,
    /// Values of the enclosing user-function arguments (innermost call last).
    args: Vec<Vec<Val>>,
    /// Loop variables of the enclosing generators (outermost first).
    loops: Vec<Val>,
}

impl<'m, 'f> Lower<'m, 'f> {
    fn new(
        model: &'m Model,
        lags: &'m LagLayout,
        func: &'f mut Function,
        y: usize,
        p: usize,
        ring: usize,
    ) -> Self {
        let b = FunctionBuilder::new(func);
        let (t, y, p, ring, head) = (
            b.param(0),
            b.param(y),
            b.param(p),
            b.param(ring),
            b.param(ring + 1),
        );
        Lower {
            model,
            lags,
            b,
            t,
            y,
            p,
            ring,
            head,
            elem: elem_of(model.dtype),
            memo: HashMap::new(),
            args: Vec::new(),
            loops: Vec::new(),
        }
    }

    fn index(&mut self, i: usize) -> Value {
        self.b.i64(i as i64)
    }

    /// Converts a value to another Python type (the way Python would combine them).
    fn to(&mut self, x: Val, ty: Ty) -> Val {
        if x.ty == ty {
            return x;
        }
        let v = self.b.convert(x.v, work_type(ty));
        Val { v, ty }
    }

    /// A value of the model dtype's Python type, as an expression value.
    fn load_dtype(&mut self, raw: Value) -> Val {
        let ty = self.model.value_type();
        let v = self.b.convert(raw, work_type(ty));
        Val { v, ty }
    }

    /// Converts an expression value for storing into a dtype array.
    fn store_dtype(&mut self, x: Val) -> Value {
        self.b.convert(x.v, self.elem.ty())
    }

    /// A model constant (or `pi`/`e`), cast to the dtype first as the reference does.
    fn constant(&mut self, n: Number) -> Val {
        match self.model.dtype {
            Dtype::Float64 => {
                let v = self.b.f64(n.as_f64());
                Val { v, ty: Ty::Float }
            }
            Dtype::Float32 => {
                let v = self.b.f64(n.as_f64() as f32 as f64);
                Val { v, ty: Ty::Float }
            }
            Dtype::Int64 | Dtype::Int32 => {
                let i = match n {
                    Number::Int(i) => i,
                    Number::Float(f) => f as i64,
                };
                let i = if self.model.dtype == Dtype::Int32 {
                    i as i32 as i64
                } else {
                    i
                };
                let v = self.b.i64(i);
                Val { v, ty: Ty::Int }
            }
        }
    }

    fn state(&mut self, i: usize) -> Val {
        if let Some(v) = self.memo.get(&(0, i)) {
            return *v;
        }
        let idx = self.index(i);
        let raw = self.b.load(self.y, idx);
        let v = self.load_dtype(raw);
        self.memo.insert((0, i), v);
        v
    }

    fn param(&mut self, i: usize) -> Val {
        if let Some(v) = self.memo.get(&(1, i)) {
            return *v;
        }
        let idx = self.index(i);
        let raw = self.b.load(self.p, idx);
        let v = self.load_dtype(raw);
        self.memo.insert((1, i), v);
        v
    }

    fn aux(&mut self, i: usize) -> Val {
        if let Some(v) = self.memo.get(&(2, i)) {
            return *v;
        }
        // Aux bodies see no function arguments or loop variables of the use site.
        let args = std::mem::take(&mut self.args);
        let loops = std::mem::take(&mut self.loops);
        let v = self.expr(&self.model.aux[i].expr);
        self.args = args;
        self.loops = loops;
        self.memo.insert((2, i), v);
        v
    }

    /// `lag_state(depth)`: `ring[offset + (head - depth) mod len]`.
    fn lag(&mut self, state: usize, depth: u32) -> Val {
        let (j, ring) = self
            .lags
            .rings
            .iter()
            .enumerate()
            .find(|(_, r)| r.state == state)
            .map(|(j, r)| (j, r.clone()))
            .expect("the checker collected every lag request into the layout");
        let j = self.index(j);
        let head = self.b.load(self.head, j);
        let k = self.b.i64(depth as i64);
        let back = self.b.sub(head, k);
        let len = self.b.i64(ring.len as i64);
        let slot = self.b.binary(BinaryOp::Mod, back, len);
        let off = self.b.i64(ring.offset as i64);
        let idx = self.b.add(slot, off);
        let raw = self.b.load(self.ring, idx);
        self.load_dtype(raw)
    }

    /// Python truthiness as a bool.
    fn truthy(&mut self, x: Val) -> Value {
        match x.ty {
            Ty::Bool => x.v,
            Ty::Int => {
                let zero = self.b.i64(0);
                self.b.cmp(CmpOp::Ne, x.v, zero)
            }
            Ty::Float => {
                let zero = self.b.f64(0.0);
                self.b.cmp(CmpOp::Ne, x.v, zero)
            }
        }
    }

    /// Arithmetic operands brought to their common type (bools count as ints).
    fn promote(&mut self, a: Val, b: Val) -> (Val, Val, Ty) {
        let ty = Ty::promote(a.ty, b.ty);
        (self.to(a, ty), self.to(b, ty), ty)
    }

    fn arith(&mut self, op: BinaryOp, a: Val, b: Val) -> Val {
        let (a, b, ty) = self.promote(a, b);
        let v = self.b.binary(op, a.v, b.v);
        Val { v, ty }
    }

    fn compare(&mut self, op: CmpOp, a: Val, b: Val) -> Value {
        let (a, b, _) = self.promote(a, b);
        self.b.cmp(op, a.v, b.v)
    }

    fn f64_of(&mut self, x: Val) -> Value {
        self.to(x, Ty::Float).v
    }

    fn math(&mut self, f: MathFn, args: &[Val]) -> Val {
        let vals: Vec<Value> = args.iter().map(|a| self.f64_of(*a)).collect();
        let v = self.b.math(f, &vals);
        Val { v, ty: Ty::Float }
    }

    /// `cond ? a : b` on expression values, converted to their join type.
    fn choose(&mut self, cond: Value, a: Val, b: Val) -> Val {
        let ty = Ty::join(a.ty, b.ty);
        let (a, b) = (self.to(a, ty), self.to(b, ty));
        let v = self.b.select(cond, a.v, b.v);
        Val { v, ty }
    }

    fn bool_val(v: Value) -> Val {
        Val { v, ty: Ty::Bool }
    }

    fn expr(&mut self, e: &Expr) -> Val {
        match &e.kind {
            ExprKind::Int(i) => {
                let v = self.b.i64(*i);
                Val { v, ty: Ty::Int }
            }
            ExprKind::Float(f) => {
                let v = self.b.f64(*f);
                Val { v, ty: Ty::Float }
            }
            ExprKind::Bool(x) => Self::bool_val(self.b.bool(*x)),
            ExprKind::Name(id) => match id.res {
                Res::State(i) => self.state(i),
                Res::Param(i) => self.param(i),
                Res::Aux(i) => self.aux(i),
                Res::Time => Val {
                    v: self.t,
                    ty: Ty::Float,
                },
                Res::Const(n) => self.constant(n),
                Res::Arg(i) => self.args.last().expect("arguments inside a function body")[i],
                Res::Loop(d) => self.loops[d],
                ref other => unreachable!("a validated model has no {other:?} name"),
            },
            ExprKind::Unary { op, operand } => {
                let x = self.expr(operand);
                match op {
                    expr::UnaryOp::Not => {
                        let t = self.truthy(x);
                        Self::bool_val(self.b.not(t))
                    }
                    expr::UnaryOp::Pos => match x.ty {
                        Ty::Bool => self.to(x, Ty::Int),
                        _ => x,
                    },
                    expr::UnaryOp::Neg => {
                        let x = if x.ty == Ty::Bool {
                            self.to(x, Ty::Int)
                        } else {
                            x
                        };
                        Val {
                            v: self.b.neg(x.v),
                            ty: x.ty,
                        }
                    }
                }
            }
            ExprKind::Binary { op, lhs, rhs } => {
                let a = self.expr(lhs);
                if *op == expr::BinOp::Pow {
                    return self.power(a, rhs);
                }
                let b = self.expr(rhs);
                match op {
                    expr::BinOp::Add => self.arith(BinaryOp::Add, a, b),
                    expr::BinOp::Sub => self.arith(BinaryOp::Sub, a, b),
                    expr::BinOp::Mul => self.arith(BinaryOp::Mul, a, b),
                    expr::BinOp::Div => {
                        let (a, b) = (self.f64_of(a), self.f64_of(b));
                        Val {
                            v: self.b.div(a, b),
                            ty: Ty::Float,
                        }
                    }
                    expr::BinOp::FloorDiv => self.arith(BinaryOp::FloorDiv, a, b),
                    expr::BinOp::Mod => self.arith(BinaryOp::Mod, a, b),
                    expr::BinOp::Pow => unreachable!(),
                }
            }
            ExprKind::Compare { first, rest } => {
                let mut left = self.expr(first);
                let mut acc: Option<Value> = None;
                for (op, right) in rest {
                    let r = self.expr(right);
                    let op = match op {
                        expr::CmpOp::Lt => CmpOp::Lt,
                        expr::CmpOp::Le => CmpOp::Le,
                        expr::CmpOp::Gt => CmpOp::Gt,
                        expr::CmpOp::Ge => CmpOp::Ge,
                        expr::CmpOp::Eq => CmpOp::Eq,
                        expr::CmpOp::Ne => CmpOp::Ne,
                    };
                    let c = self.compare(op, left, r);
                    acc = Some(match acc {
                        None => c,
                        Some(prev) => self.b.binary(BinaryOp::And, prev, c),
                    });
                    left = r;
                }
                Self::bool_val(acc.expect("a comparison has at least one operator"))
            }
            ExprKind::Logic { op, operands } => {
                // Python returns an operand: `a and b` is `b if a else a`; `a or b` is
                // `a if a else b`. Folded from the right so the first deciding operand wins.
                let vals: Vec<Val> = operands.iter().map(|o| self.expr(o)).collect();
                let mut result = *vals.last().expect("two or more operands");
                for x in vals[..vals.len() - 1].iter().rev() {
                    let t = self.truthy(*x);
                    result = match op {
                        expr::LogicOp::And => self.choose(t, result, *x),
                        expr::LogicOp::Or => self.choose(t, *x, result),
                    };
                }
                result
            }
            ExprKind::IfElse {
                cond,
                then,
                otherwise,
            } => {
                let c = self.expr(cond);
                let c = self.truthy(c);
                let a = self.expr(then);
                let b = self.expr(otherwise);
                self.choose(c, a, b)
            }
            ExprKind::Call { func, args, .. } => self.call(&func.res, args),
            ExprKind::Reduce {
                op,
                body,
                range,
                conds,
                ..
            } => self.reduce(*op, body, range, conds),
        }
    }

    /// `a ** rhs`: a small non-negative integer literal exponent of a float becomes
    /// multiplications only for 2 (exact, and what libm's pow gives); ints use exact
    /// repeated multiplication; everything else calls libm `pow`.
    fn power(&mut self, a: Val, rhs: &Expr) -> Val {
        let literal = match rhs.kind {
            ExprKind::Int(k) if k >= 0 => Some(k),
            _ => None,
        };
        let a_num = if a.ty == Ty::Bool {
            self.to(a, Ty::Int)
        } else {
            a
        };
        match (a_num.ty, literal) {
            (Ty::Float, Some(2)) => Val {
                v: self.b.mul(a_num.v, a_num.v),
                ty: Ty::Float,
            },
            (Ty::Int, Some(k)) if k <= 64 => {
                let mut acc = self.b.i64(1);
                for _ in 0..k {
                    acc = self.b.mul(acc, a_num.v);
                }
                Val {
                    v: acc,
                    ty: Ty::Int,
                }
            }
            _ => {
                let b = self.expr(rhs);
                self.math(MathFn::Pow, &[a_num, b])
            }
        }
    }

    fn call(&mut self, res: &Res, args: &[Expr]) -> Val {
        match *res {
            Res::Lag { state, depth } => self.lag(state, depth),
            Res::Function(i) => {
                let vals: Vec<Val> = args.iter().map(|a| self.expr(a)).collect();
                let loops = std::mem::take(&mut self.loops);
                self.args.push(vals);
                let v = self.expr(&self.model.functions[i].body);
                self.args.pop();
                self.loops = loops;
                v
            }
            Res::Builtin(b) => self.builtin(b, args),
            ref other => unreachable!("a validated model has no call resolved to {other:?}"),
        }
    }

    fn min_max(&mut self, vals: &[Val], op: CmpOp) -> Val {
        // Python keeps the first extreme: for min, a later item replaces it only if smaller.
        let mut best = vals[0];
        for x in &vals[1..] {
            let c = self.compare(op, *x, best);
            best = self.choose(c, *x, best);
        }
        best
    }

    fn builtin(&mut self, b: Builtin, args: &[Expr]) -> Val {
        // Event macros read the previous committed value of their state argument.
        let prev = |this: &mut Self| -> (Val, Val) {
            let state = match &args[0].kind {
                ExprKind::Name(id) => match id.res {
                    Res::State(i) => i,
                    _ => unreachable!("the checker requires a state"),
                },
                _ => unreachable!("the checker requires a state"),
            };
            let now = this.state(state);
            (now, this.lag(state, 1))
        };
        match b {
            Builtin::CrossUp | Builtin::CrossDown | Builtin::CrossEither => {
                let (now, before) = prev(self);
                let th = self.expr(&args[1]);
                let up = {
                    let a = self.compare(CmpOp::Le, before, th);
                    let c = self.compare(CmpOp::Gt, now, th);
                    self.b.binary(BinaryOp::And, a, c)
                };
                let down = {
                    let a = self.compare(CmpOp::Ge, before, th);
                    let c = self.compare(CmpOp::Lt, now, th);
                    self.b.binary(BinaryOp::And, a, c)
                };
                Self::bool_val(match b {
                    Builtin::CrossUp => up,
                    Builtin::CrossDown => down,
                    _ => self.b.binary(BinaryOp::Or, up, down),
                })
            }
            Builtin::Changed | Builtin::Increasing | Builtin::Decreasing => {
                let (now, before) = prev(self);
                let op = match b {
                    Builtin::Changed => CmpOp::Ne,
                    Builtin::Increasing => CmpOp::Gt,
                    _ => CmpOp::Lt,
                };
                Self::bool_val(self.compare(op, now, before))
            }
            Builtin::EntersInterval | Builtin::LeavesInterval => {
                let (now, before) = prev(self);
                let lo = self.expr(&args[1]);
                let hi = self.expr(&args[2]);
                let inside = |this: &mut Self, v: Val| {
                    let a = this.compare(CmpOp::Le, lo, v);
                    let c = this.compare(CmpOp::Le, v, hi);
                    this.b.binary(BinaryOp::And, a, c)
                };
                let outside = |this: &mut Self, v: Val| {
                    let a = this.compare(CmpOp::Lt, v, lo);
                    let c = this.compare(CmpOp::Gt, v, hi);
                    this.b.binary(BinaryOp::Or, a, c)
                };
                let (x, y) = if b == Builtin::EntersInterval {
                    (outside(self, before), inside(self, now))
                } else {
                    (inside(self, before), outside(self, now))
                };
                Self::bool_val(self.b.binary(BinaryOp::And, x, y))
            }
            _ => {
                let vals: Vec<Val> = args.iter().map(|a| self.expr(a)).collect();
                self.plain_builtin(b, &vals)
            }
        }
    }

    fn plain_builtin(&mut self, b: Builtin, vals: &[Val]) -> Val {
        let int_of = |this: &mut Self, x: Val| this.to(x, Ty::Int);
        let x = vals.first().copied();
        let x0 = || x.expect("arity checked");
        match b {
            Builtin::Abs => {
                let x = x0();
                match x.ty {
                    Ty::Float => self.math(MathFn::Fabs, &[x]),
                    _ => {
                        let x = int_of(self, x);
                        let zero = self.b.i64(0);
                        let neg = self.b.cmp(CmpOp::Lt, x.v, zero);
                        let minus = self.b.neg(x.v);
                        Val {
                            v: self.b.select(neg, minus, x.v),
                            ty: Ty::Int,
                        }
                    }
                }
            }
            Builtin::Min => self.min_max(vals, CmpOp::Lt),
            Builtin::Max => self.min_max(vals, CmpOp::Gt),
            Builtin::Round => {
                let x = x0();
                if x.ty != Ty::Float {
                    return int_of(self, x);
                }
                if let Some(nd) = vals.get(1) {
                    // round(x, n): scale by 10**n, round half to even, scale back.
                    let ten = self.b.f64(10.0);
                    let n = self.f64_of(*nd);
                    let scale = self.b.math(MathFn::Pow, &[ten, n]);
                    let scaled = self.b.mul(x.v, scale);
                    let r = self.b.math(MathFn::RoundEven, &[scaled]);
                    return Val {
                        v: self.b.div(r, scale),
                        ty: Ty::Float,
                    };
                }
                let r = self.math(MathFn::RoundEven, &[x]);
                int_of(self, r)
            }
            Builtin::Floor | Builtin::Ceil | Builtin::Trunc => {
                let x = x0();
                if x.ty != Ty::Float {
                    return int_of(self, x);
                }
                let f = match b {
                    Builtin::Floor => MathFn::Floor,
                    Builtin::Ceil => MathFn::Ceil,
                    _ => MathFn::Trunc,
                };
                let r = self.math(f, &[x]);
                int_of(self, r)
            }
            Builtin::Log if vals.len() == 2 => {
                let a = self.math(MathFn::Log, &[vals[0]]);
                let c = self.math(MathFn::Log, &[vals[1]]);
                Val {
                    v: self.b.div(a.v, c.v),
                    ty: Ty::Float,
                }
            }
            Builtin::Hypot if vals.len() > 2 => {
                let mut acc = self.math(MathFn::Hypot, &[vals[0], vals[1]]);
                for v in &vals[2..] {
                    acc = self.math(MathFn::Hypot, &[acc, *v]);
                }
                acc
            }
            Builtin::Int => int_of(self, x0()),
            Builtin::Float => self.to(x0(), Ty::Float),
            Builtin::Bool => {
                let t = self.truthy(x0());
                Self::bool_val(t)
            }
            Builtin::Sign => {
                let x = x0();
                let zero = Val {
                    v: self.b.i64(0),
                    ty: Ty::Int,
                };
                let pos = self.compare(CmpOp::Gt, x, zero);
                let neg = self.compare(CmpOp::Lt, x, zero);
                let pos = self.b.convert(pos, Type::I64);
                let neg = self.b.convert(neg, Type::I64);
                Val {
                    v: self.b.sub(pos, neg),
                    ty: Ty::Int,
                }
            }
            Builtin::Heaviside | Builtin::Step => {
                let zero = Val {
                    v: self.b.i64(0),
                    ty: Ty::Int,
                };
                Self::bool_val(self.compare(CmpOp::Ge, x0(), zero))
            }
            Builtin::Relu => {
                let zero = Val {
                    v: self.b.i64(0),
                    ty: Ty::Int,
                };
                self.min_max(&[x0(), zero], CmpOp::Gt)
            }
            Builtin::Clip => {
                let m = self.min_max(&[vals[0], vals[1]], CmpOp::Gt);
                self.min_max(&[m, vals[2]], CmpOp::Lt)
            }
            Builtin::Approx => {
                let d = self.arith(BinaryOp::Sub, vals[0], vals[1]);
                let a = self.plain_builtin(Builtin::Abs, &[d]);
                Self::bool_val(self.compare(CmpOp::Le, a, vals[2]))
            }
            Builtin::InInterval => {
                let a = self.compare(CmpOp::Le, vals[1], vals[0]);
                let c = self.compare(CmpOp::Le, vals[0], vals[2]);
                Self::bool_val(self.b.binary(BinaryOp::And, a, c))
            }
            _ => {
                let f = math_fn(b).expect("every remaining builtin is a libm function");
                self.math(f, vals)
            }
        }
    }

    /// `sum(body for i in range(args) if conds)` as a loop with an f64 accumulator.
    fn reduce(&mut self, op: expr::ReduceOp, body: &Expr, range: &[Expr], conds: &[Expr]) -> Val {
        let bounds: Vec<Value> = range
            .iter()
            .map(|r| {
                let v = self.expr(r);
                self.to(v, Ty::Int).v
            })
            .collect();
        let (start, stop, step) = match bounds.as_slice() {
            [stop] => (self.b.i64(0), *stop, self.b.i64(1)),
            [start, stop] => (*start, *stop, self.b.i64(1)),
            [start, stop, step] => (*start, *stop, *step),
            _ => unreachable!("the parser checks range arity"),
        };
        let init = self
            .b
            .f64(if op == expr::ReduceOp::Sum { 0.0 } else { 1.0 });
        let header = self.b.create_block();
        let i = self.b.block_param(header, Type::I64);
        let acc = self.b.block_param(header, Type::F64);
        let body_block = self.b.create_block();
        let exit = self.b.create_block();
        let result = self.b.block_param(exit, Type::F64);
        self.b.jump(header, &[start, init]);

        self.b.switch_to(header);
        let zero = self.b.i64(0);
        let up = self.b.cmp(CmpOp::Gt, step, zero);
        let below = self.b.cmp(CmpOp::Lt, i, stop);
        let above = self.b.cmp(CmpOp::Gt, i, stop);
        let go = self.b.select(up, below, above);
        // A zero step (Python raises) ends the loop at once.
        let nonzero = self.b.cmp(CmpOp::Ne, step, zero);
        let go = self.b.binary(BinaryOp::And, go, nonzero);
        self.b.brif(go, body_block, &[], exit, &[acc]);

        self.b.switch_to(body_block);
        let saved = self.memo.clone();
        self.loops.push(Val { v: i, ty: Ty::Int });
        let elt = self.expr(body);
        let elt = self.f64_of(elt);
        let next = match op {
            expr::ReduceOp::Sum => self.b.add(acc, elt),
            expr::ReduceOp::Prod => self.b.mul(acc, elt),
        };
        let mut keep = None;
        for c in conds {
            let cv = self.expr(c);
            let t = self.truthy(cv);
            keep = Some(match keep {
                None => t,
                Some(k) => self.b.binary(BinaryOp::And, k, t),
            });
        }
        let next = match keep {
            Some(k) => self.b.select(k, next, acc),
            None => next,
        };
        let i_next = self.b.add(i, step);
        self.b.jump(header, &[i_next, next]);
        self.loops.pop();
        self.memo = saved;

        self.b.switch_to(exit);
        Val {
            v: result,
            ty: Ty::Float,
        }
    }

    /// Stores an assignment into a state or param and forgets cached values.
    fn assign(&mut self, target: Target, x: Val) {
        let raw = self.store_dtype(x);
        let (ptr, i) = match target {
            Target::State(i) => (self.y, i),
            Target::Param(i) => (self.p, i),
        };
        let idx = self.index(i);
        self.b.store(ptr, idx, raw);
        self.memo.clear();
    }
}

/// The libm function of a math builtin.
fn math_fn(b: Builtin) -> Option<MathFn> {
    Some(match b {
        Builtin::Exp => MathFn::Exp,
        Builtin::Expm1 => MathFn::Expm1,
        Builtin::Log => MathFn::Log,
        Builtin::Log10 => MathFn::Log10,
        Builtin::Log2 => MathFn::Log2,
        Builtin::Log1p => MathFn::Log1p,
        Builtin::Sqrt => MathFn::Sqrt,
        Builtin::Sin => MathFn::Sin,
        Builtin::Cos => MathFn::Cos,
        Builtin::Tan => MathFn::Tan,
        Builtin::Asin => MathFn::Asin,
        Builtin::Acos => MathFn::Acos,
        Builtin::Atan => MathFn::Atan,
        Builtin::Atan2 => MathFn::Atan2,
        Builtin::Sinh => MathFn::Sinh,
        Builtin::Cosh => MathFn::Cosh,
        Builtin::Tanh => MathFn::Tanh,
        Builtin::Asinh => MathFn::Asinh,
        Builtin::Acosh => MathFn::Acosh,
        Builtin::Atanh => MathFn::Atanh,
        Builtin::Hypot => MathFn::Hypot,
        Builtin::Copysign => MathFn::Copysign,
        Builtin::Erf => MathFn::Erf,
        Builtin::Erfc => MathFn::Erfc,
        _ => return None,
    })
}

fn lower_equations(
    model: &Model,
    lags: &LagLayout,
    name: &str,
    eqs: &[dynlib_model::Equation],
    all_states: bool,
) -> Function {
    let elem = elem_of(model.dtype);
    let mut f = Function::new(name, rhs_signature(elem));
    let mut l = Lower::new(model, lags, &mut f, 1, 3, 4);
    let out = l.b.param(2);
    // Every value is computed before anything is stored, so `out` may even alias `y`.
    let mut results = Vec::new();
    for e in eqs {
        let v = l.expr(&e.expr);
        let raw = l.store_dtype(v);
        results.push((e.state, raw));
    }
    if all_states && model.kind == ModelKind::Ode {
        for s in 0..model.states.len() {
            if !eqs.iter().any(|e| e.state == s) {
                let zero = l.b.f64(0.0);
                let raw = l.b.convert(zero, elem.ty());
                results.push((s, raw));
            }
        }
    }
    for (s, raw) in results {
        let idx = l.index(s);
        l.b.store(out, idx, raw);
    }
    l.b.ret(&[]);
    f
}

fn lower_events(model: &Model, lags: &LagLayout, name: &str, start: bool) -> Function {
    let elem = elem_of(model.dtype);
    let mut f = Function::new(name, events_signature(elem));
    let mut l = Lower::new(model, lags, &mut f, 1, 2, 4);
    let log = l.b.param(3);
    for (code, ev) in model.events.iter().enumerate() {
        let in_phase = match ev.phase {
            Phase::Both => true,
            Phase::Start => start,
            Phase::End => !start,
        };
        if !in_phase {
            continue;
        }
        let c = l.expr(&ev.cond);
        let c = l.truthy(c);
        let fire = l.b.create_block();
        let next = l.b.create_block();
        l.b.brif(c, fire, &[], next, &[]);

        l.b.switch_to(fire);
        let saved = l.memo.clone();
        for a in &ev.actions {
            let v = l.expr(&a.expr);
            l.assign(a.target, v);
        }
        for (k, sig) in ev.log.iter().enumerate() {
            let v = match sig {
                LogSignal::Time => l.t,
                LogSignal::State(i) => {
                    let x = l.state(*i);
                    l.f64_of(x)
                }
                LogSignal::Param(i) => {
                    let x = l.param(*i);
                    l.f64_of(x)
                }
                LogSignal::Aux(i) => {
                    // Logged like recorded aux: through the dtype, then as f64.
                    let x = l.aux(*i);
                    let raw = l.store_dtype(x);
                    l.b.convert(raw, Type::F64)
                }
            };
            let idx = l.index(k);
            l.b.store(log, idx, v);
        }
        let code_v = l.b.i32(code as i32);
        let width = l.b.i32(ev.log.len() as i32);
        l.b.ret(&[code_v, width]);
        l.memo = saved;

        l.b.switch_to(next);
    }
    let none = l.b.i32(-1);
    let zero = l.b.i32(0);
    l.b.ret(&[none, zero]);
    f
}

fn lower_update_aux(model: &Model, lags: &LagLayout) -> Function {
    let elem = elem_of(model.dtype);
    let mut f = Function::new("update_aux", update_aux_signature(elem));
    let mut l = Lower::new(model, lags, &mut f, 1, 2, 4);
    let out = l.b.param(3);
    for i in 0..model.aux.len() {
        let v = l.aux(i);
        let raw = l.store_dtype(v);
        let idx = l.index(i);
        l.b.store(out, idx, raw);
    }
    let stop = match &model.sim.stop {
        Some(cond) => {
            let c = l.expr(cond);
            l.truthy(c)
        }
        None => l.b.bool(false),
    };
    l.b.ret(&[stop]);
    f
}

fn lower_jacobian(model: &Model, lags: &LagLayout, jac: &[Vec<Expr>]) -> Function {
    let elem = elem_of(model.dtype);
    let mut f = Function::new("jacobian", jacobian_signature(elem));
    let mut l = Lower::new(model, lags, &mut f, 1, 2, 4);
    let out = l.b.param(3);
    let n = jac.len();
    for (i, row) in jac.iter().enumerate() {
        for (j, e) in row.iter().enumerate() {
            let v = l.expr(e);
            let raw = l.store_dtype(v);
            let idx = l.index(i * n + j);
            l.b.store(out, idx, raw);
        }
    }
    l.b.ret(&[]);
    f
}

fn lower_jvp(model: &Model, lags: &LagLayout, jac: &[Vec<Expr>]) -> Function {
    let elem = elem_of(model.dtype);
    let mut f = Function::new("jvp", jvp_signature(elem));
    let mut l = Lower::new(model, lags, &mut f, 1, 2, 5);
    let (v_in, out) = (l.b.param(3), l.b.param(4));
    let mut results = Vec::new();
    for row in jac {
        let mut acc: Option<Val> = None;
        for (j, e) in row.iter().enumerate() {
            let entry = l.expr(e);
            let idx = l.index(j);
            let raw = l.b.load(v_in, idx);
            let vj = l.load_dtype(raw);
            let term = l.arith(BinaryOp::Mul, entry, vj);
            acc = Some(match acc {
                None => term,
                Some(a) => l.arith(BinaryOp::Add, a, term),
            });
        }
        let total = acc.unwrap_or_else(|| Val {
            v: l.b.f64(0.0),
            ty: Ty::Float,
        });
        results.push(l.store_dtype(total));
    }
    for (i, raw) in results.into_iter().enumerate() {
        let idx = l.index(i);
        l.b.store(out, idx, raw);
    }
    l.b.ret(&[]);
    f
}
