//! Lowering a validated [`Model`] into the IR model functions.
//!
//! Each function has a fixed ABI shared by every stepper and runner (`D` is the model dtype's
//! element type; `ring`/`head` are the lag rings, see [`LagLayout`]):
//!
//! | function | parameters | returns |
//! |---|---|---|
//! | `rhs`, `inv_rhs` | t: f64, y: ptr<D>, out: ptr<D>, p: ptr<D>, ring: ptr<D>, head: ptr<i64> | fault: i32 |
//! | `events_pre`, `events_post` | t: f64, y: ptr<D>, p: ptr<D>, log: ptr<f64>, ilog: ptr<i64>, ring, head | code: i32, width: i32, fault: i32 |
//! | `update_aux` | t: f64, y: ptr<D>, p: ptr<D>, aux: ptr<D>, ring, head | stop: bool, fault: i32 |
//! | `jacobian` | t: f64, y: ptr<D>, p: ptr<D>, jac: ptr<D> (row-major n×n), ring, head | fault: i32 |
//! | `jvp` | t: f64, y: ptr<D>, p: ptr<D>, v: ptr<D>, out: ptr<D>, ring, head | fault: i32 |
//!
//! An event's log fields go to `log[k]` (f64: the time, and every value of a float model)
//! or `ilog[k]` (i64: states, params and aux of an integer model, exactly); see
//! [`log_is_int`].
//!
//! `fault` is a mask of [`fault`] bits: the arithmetic faults Python would have raised on
//! (integer division by zero, a NaN, infinite or out-of-range value made an integer, a
//! `range` with step 0). Each is flagged only where Python would have evaluated the
//! operation (the taken side of `a if c else b`, the deciding operands of `and`/`or`,
//! generator bodies whose conditions hold), so the mask is a fact about the model, not
//! about how it was lowered. Float models rarely have any source of faults; their mask is
//! then the constant 0, which folds away.
//!
//! Expressions are computed with Python's types: bools, 64-bit ints and floats (see
//! [`dynlib_model::Ty`]), floats in [`float_type`]: float64, or float32 in float32 models
//! (numpy's scalar rules: every operation rounds to float32; literals, constants and `t`
//! rounded to float32 where they are made; math functions in float64, rounded once; `**`
//! numpy's `powf`). States and params are converted from the dtype when read and back when
//! stored, constants are cast to the dtype first. The user's operation order is kept.
//! Aux and user functions are inlined (each aux computed once per function until a state or
//! param is assigned); in float64 `x ** 2` becomes `x * x` here, identically for both
//! backends.
//! Events: the first event of the phase whose condition is truthy fires; its code is its
//! index in the model's event list (one global index).

use crate::hash::Map;

use dynlib_model::builtins::Builtin;
use dynlib_model::expr::{self, Expr, ExprKind, Number, Res};
use dynlib_model::{Dtype, LogSignal, Model, ModelKind, Phase, Target, Ty};

use crate::builder::FunctionBuilder;
use crate::ir::*;

/// The bits of a model function's fault mask.
pub mod fault {
    /// An integer `//` or `%` by zero (Python raises `ZeroDivisionError`).
    pub const DIV_ZERO: i32 = 1;
    /// A NaN, an infinity or a value out of the integer type's range was converted to an
    /// integer: by `int()`, `round()`, `floor()`... in an integer model, or when stored into
    /// an integer state or parameter (Python raises, numpy saturates or wraps silently);
    /// or a `range()` bound that is not a whole number (Python raises `TypeError`).
    pub const CONVERSION: i32 = 2;
    /// `range(a, b, 0)` in a generator (Python raises `ValueError`).
    pub const ZERO_STEP: i32 = 4;
    /// An integer `+`, `-`, `*`, negation or power whose result does not fit 64 bits
    /// (Python's integers never overflow; numpy's wrap around silently).
    pub const OVERFLOW: i32 = 8;
    /// Every bit with what it means, for messages.
    pub const KINDS: [(i32, &str); 4] = [
        (DIV_ZERO, "integer division or modulo by zero"),
        (
            CONVERSION,
            "a NaN, infinite, out-of-range or (in range()) fractional value converted to an integer",
        ),
        (ZERO_STEP, "range() with step 0"),
        (OVERFLOW, "an integer result that does not fit 64 bits"),
    ];
    /// The meaning of every bit set in `mask`, joined with "; ".
    pub fn describe(mask: i32) -> String {
        KINDS
            .iter()
            .filter(|(bit, _)| mask & bit != 0)
            .map(|(_, what)| *what)
            .collect::<Vec<_>>()
            .join("; ")
    }
}

/// The most instructions one model function may grow to while aux and user functions are
/// inlined into it (100 000 states are about 600 000); beyond this the model is an error
/// that names the chain of calls being inlined, never a compilation that exhausts memory.
pub const MAX_FUNCTION_INSTRUCTIONS: usize = 1_000_000;

/// Why a model could not be lowered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LowerError {
    /// Inlining made a model function too large ([`MAX_FUNCTION_INSTRUCTIONS`]).
    TooLarge {
        /// The model function being built (`rhs`, `update_aux`, ...).
        function: String,
        /// The user function or aux being inlined when the limit was passed.
        inlining: String,
    },
}

impl std::fmt::Display for LowerError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LowerError::TooLarge { function, inlining } => write!(
                f,
                "the model is too large to compile: inlining {inlining} into {function} \
                 passed {MAX_FUNCTION_INSTRUCTIONS} instructions (each call of a function \
                 with different arguments is a copy of its body; call it with the same \
                 arguments, or introduce an aux to compute shared parts once)"
            ),
        }
    }
}

impl std::error::Error for LowerError {}

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
    /// The dense Jacobian, when declared (or derived).
    pub jacobian: Option<FuncId>,
    /// The Jacobian-vector product, when declared (or derived: [`crate::ad::derive`]).
    pub jvp: Option<FuncId>,
    /// True when `jacobian` and `jvp` were derived from `rhs` ([`crate::ad`]), not
    /// declared.
    pub derived_jacobian: bool,
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
        returns: vec![Type::I32],
    }
}

/// True when an event's log field goes to the integer log (`ilog`): every field but the
/// time, in an integer model. Logged integers are then exact at any size.
pub fn log_is_int(dtype: Dtype, signal: &LogSignal) -> bool {
    !dtype.is_float() && !matches!(signal, LogSignal::Time)
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
            Type::Ptr(Elem::I64),
            p,
            Type::Ptr(Elem::I64),
        ],
        returns: vec![Type::I32, Type::I32, Type::I32],
    }
}

/// Signature of `update_aux`.
pub fn update_aux_signature(elem: Elem) -> Signature {
    let p = Type::Ptr(elem);
    Signature {
        params: vec![Type::F64, p, p, p, p, Type::Ptr(Elem::I64)],
        returns: vec![Type::Bool, Type::I32],
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
        returns: vec![Type::I32],
    }
}

/// Lowers every model function of `model`; fails only when inlining would make a function
/// unreasonably large ([`LowerError::TooLarge`]).
pub fn lower_model(model: &Model) -> Result<ModelFunctions, LowerError> {
    let elem = elem_of(model.dtype);
    let lags = LagLayout::of(model);
    let mut program = Program::new();

    let rhs = program.add(lower_equations(
        model,
        &lags,
        "rhs",
        &model.equations,
        true,
    )?);
    let inv_rhs = match &model.inverse {
        Some(inv) => Some(program.add(lower_equations(model, &lags, "inv_rhs", inv, false)?)),
        None => None,
    };
    let events_pre = program.add(lower_events(model, &lags, "events_pre", true)?);
    let events_post = program.add(lower_events(model, &lags, "events_post", false)?);
    let update_aux = program.add(lower_update_aux(model, &lags)?);
    let (jacobian, jvp) = match &model.jacobian {
        Some(j) => (
            Some(program.add(lower_jacobian(model, &lags, j)?)),
            Some(program.add(lower_jvp(model, &lags, j)?)),
        ),
        None => (None, None),
    };
    let max_log_width = model.events.iter().map(|e| e.log.len()).max().unwrap_or(0);
    Ok(ModelFunctions {
        program,
        rhs,
        inv_rhs,
        events_pre,
        events_post,
        update_aux,
        jacobian,
        jvp,
        derived_jacobian: false,
        lags,
        elem,
        max_log_width,
    })
}

/// The IR type floats are computed in: float32 in float32 models (every operation rounds
/// to float32, as numpy's float32 scalars compute), float64 otherwise.
pub fn float_type(dtype: Dtype) -> Type {
    match dtype {
        Dtype::Float32 => Type::F32,
        _ => Type::F64,
    }
}

/// The IR type expressions of a Python type are computed in (`float` the model's
/// [`float_type`]).
fn work_type(ty: Ty, float: Type) -> Type {
    match ty {
        Ty::Bool => Type::Bool,
        Ty::Int => Type::I64,
        Ty::Float => float,
    }
}

/// A lowered expression value with its Python type.
#[derive(Copy, Clone, Debug)]
struct Val {
    v: Value,
    ty: Ty,
}

/// The fault conditions raised so far, one bool per [`fault`] bit (`None`: cannot happen).
type Faults = [Option<Value>; N_FAULTS];

/// How many [`fault`] bits there are.
const N_FAULTS: usize = fault::KINDS.len();

/// What a memoised aux or function call gave: its value and the faults its evaluation
/// raises (merged again at every use, under that use's conditions).
#[derive(Copy, Clone, Debug)]
struct Memo {
    val: Val,
    faults: Faults,
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
    /// The type floats are computed in ([`float_type`]).
    float: Type,
    /// Loaded states, params and computed aux, valid until the next assignment.
    memo: Map<(u8, usize), Memo>,
    /// User function calls by function and argument values: a call with the same
    /// arguments is the same value (functions are pure), so nested calls cost linear, not
    /// exponential, code. Valid until the next assignment, like `memo`.
    calls: Map<(usize, Vec<Value>), Memo>,
    /// Values of the enclosing user-function arguments (innermost call last).
    args: Vec<Vec<Val>>,
    /// Loop variables of the enclosing generators (outermost first).
    loops: Vec<Val>,
    /// The fault conditions of what has been evaluated so far.
    faults: Faults,
    /// The first time inlining made the function too large: what was being inlined.
    too_large: Option<String>,
    /// The user functions being inlined, outermost first (for messages).
    inlining: Vec<usize>,
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
            float: float_type(model.dtype),
            memo: Map::default(),
            calls: Map::default(),
            args: Vec::new(),
            loops: Vec::new(),
            faults: [None; N_FAULTS],
            too_large: None,
            inlining: Vec::new(),
        }
    }

    /// Raises fault `bit` where `cond` holds.
    fn flag(&mut self, bit: i32, cond: Value) {
        let k = bit.trailing_zeros() as usize;
        self.faults[k] = Some(match self.faults[k] {
            None => cond,
            Some(f) => self.b.binary(BinaryOp::Or, f, cond),
        });
    }

    /// Runs `f` with an empty fault set and returns what it raised; the faults of before
    /// are restored (the caller decides under which condition to merge the new ones).
    fn isolated<T>(&mut self, f: impl FnOnce(&mut Self) -> T) -> (T, Faults) {
        let outer = std::mem::take(&mut self.faults);
        let out = f(self);
        let inner = std::mem::replace(&mut self.faults, outer);
        (out, inner)
    }

    /// Adds `faults` to the current ones, each only where `when` holds (always if `None`).
    fn merge(&mut self, faults: Faults, when: Option<Value>) {
        for (k, f) in faults.into_iter().enumerate() {
            let Some(f) = f else { continue };
            let f = match when {
                Some(c) => self.b.binary(BinaryOp::And, c, f),
                None => f,
            };
            self.flag(1 << k, f);
        }
    }

    /// The fault mask (an i32 of [`fault`] bits) of everything evaluated so far.
    fn fault_mask(&mut self) -> Value {
        let mut mask = self.b.i32(0);
        for (k, f) in self.faults.into_iter().enumerate() {
            if let Some(f) = f {
                let bit = self.b.i32(1 << k);
                let zero = self.b.i32(0);
                let v = self.b.select(f, bit, zero);
                mask = self.b.add(mask, v);
            }
        }
        mask
    }

    /// Forgets every cached value: an assignment changed a state or param.
    fn forget(&mut self) {
        self.memo.clear();
        self.calls.clear();
    }

    /// Flags a float that is not a number in `[lo, hi)`: NaN, infinite or out of range for
    /// the integer type it is converted to.
    fn flag_out_of_range(&mut self, x: Value, lo: f64, hi: f64) {
        // A float32 widens exactly: the bounds are compared in float64.
        let x = self.b.convert(x, Type::F64);
        let lo = self.b.f64(lo);
        let hi = self.b.f64(hi);
        let above = self.b.cmp(CmpOp::Ge, x, lo);
        let below = self.b.cmp(CmpOp::Lt, x, hi);
        let fits = self.b.binary(BinaryOp::And, above, below);
        let bad = self.b.not(fits);
        self.flag(fault::CONVERSION, bad);
    }

    fn index(&mut self, i: usize) -> Value {
        self.b.i64(i as i64)
    }

    /// Converts a value to another Python type (the way Python would combine them). A
    /// float that is not a finite int64 value raises [`fault::CONVERSION`].
    fn to(&mut self, x: Val, ty: Ty) -> Val {
        if x.ty == ty {
            return x;
        }
        if x.ty == Ty::Float && ty == Ty::Int {
            self.flag_out_of_range(x.v, -9.223_372_036_854_776e18, 9.223_372_036_854_776e18);
        }
        let v = self.b.convert(x.v, work_type(ty, self.float));
        Val { v, ty }
    }

    /// The float constant `x` in the type floats are computed in (rounded in float32
    /// models).
    fn fconst(&mut self, x: f64) -> Value {
        self.b.float(self.float, x)
    }

    /// The integer value of a float, as `int()`, `round()`, `floor()`... give it: an int in
    /// integer models; in float models the integral float itself, since Python's result is
    /// an exact (unbounded) int that only ever meets floats there (`int(1e300)` is 10**300,
    /// stored as 1e300, never a saturated 9.2e18).
    fn integral(&mut self, x: Val) -> Val {
        if x.ty == Ty::Float && self.model.dtype.is_float() {
            x
        } else {
            self.to(x, Ty::Int)
        }
    }

    /// A value of the model dtype's Python type, as an expression value.
    fn load_dtype(&mut self, raw: Value) -> Val {
        let ty = self.model.value_type();
        let v = self.b.convert(raw, work_type(ty, self.float));
        Val { v, ty }
    }

    /// Converts an expression value for storing into a dtype array. A value the integer
    /// dtype cannot hold raises [`fault::CONVERSION`] (numpy would saturate or wrap).
    fn store_dtype(&mut self, x: Val) -> Value {
        match (self.elem, x.ty) {
            (Elem::I64, Ty::Float) => {
                self.flag_out_of_range(x.v, -9.223_372_036_854_776e18, 9.223_372_036_854_776e18)
            }
            // Truncation toward zero: (-2^31 - 1, 2^31) truncates into int32.
            (Elem::I32, Ty::Float) => {
                self.flag_out_of_range(x.v, -2_147_483_649.0, 2_147_483_648.0)
            }
            (Elem::I32, Ty::Int) => {
                let lo = self.b.i64(i32::MIN as i64);
                let hi = self.b.i64(i32::MAX as i64);
                let above = self.b.cmp(CmpOp::Ge, x.v, lo);
                let below = self.b.cmp(CmpOp::Le, x.v, hi);
                let fits = self.b.binary(BinaryOp::And, above, below);
                let bad = self.b.not(fits);
                self.flag(fault::CONVERSION, bad);
            }
            _ => {}
        }
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
                let v = self.b.f32(n.as_f64() as f32);
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

    fn load_memo(&mut self, kind: u8, i: usize) -> Val {
        if let Some(m) = self.memo.get(&(kind, i)) {
            return m.val;
        }
        let idx = self.index(i);
        let arr = if kind == 0 { self.y } else { self.p };
        let raw = self.b.load(arr, idx);
        let val = self.load_dtype(raw);
        self.memo.insert(
            (kind, i),
            Memo {
                val,
                faults: [None; N_FAULTS],
            },
        );
        val
    }

    fn state(&mut self, i: usize) -> Val {
        self.load_memo(0, i)
    }

    fn param(&mut self, i: usize) -> Val {
        self.load_memo(1, i)
    }

    fn aux(&mut self, i: usize) -> Val {
        if !self.memo.contains_key(&(2, i)) {
            // Every aux this one needs (directly or through functions) first, deepest
            // first: lowering an aux then never recurses into another, so a chain of any
            // length uses constant stack.
            for j in self.unlowered_aux_needed_by(i) {
                self.lower_aux(j);
            }
        }
        let m = self.memo[&(2, i)];
        self.merge(m.faults, None);
        m.val
    }

    /// Lowers aux `i`'s expression (the aux it names are lowered already) and memoises it.
    fn lower_aux(&mut self, i: usize) {
        // Aux bodies see no function arguments or loop variables of the use site.
        let args = std::mem::take(&mut self.args);
        let loops = std::mem::take(&mut self.loops);
        let (val, faults) = self.isolated(|l| l.expr(&l.model.aux[i].expr));
        self.args = args;
        self.loops = loops;
        self.memo.insert((2, i), Memo { val, faults });
    }

    /// The aux not lowered yet that aux `i` needs, `i` included, each after the ones it
    /// needs (an iterative depth-first post-order over aux and function bodies).
    fn unlowered_aux_needed_by(&self, i: usize) -> Vec<usize> {
        #[derive(Copy, Clone, PartialEq, Eq, Hash)]
        enum Node {
            Aux(usize),
            Function(usize),
        }
        let model = self.model;
        let children = |n: Node| -> Vec<Node> {
            let body = match n {
                Node::Aux(a) => &model.aux[a].expr,
                Node::Function(f) => &model.functions[f].body,
            };
            let mut out = Vec::new();
            body.walk(&mut |e| match &e.kind {
                ExprKind::Name(id) => {
                    if let Res::Aux(a) = id.res {
                        out.push(Node::Aux(a));
                    }
                }
                ExprKind::Call { func, .. } => {
                    if let Res::Function(f) = func.res {
                        out.push(Node::Function(f));
                    }
                }
                _ => {}
            });
            out
        };
        let mut order = Vec::new();
        let mut seen = crate::hash::Set::default();
        let mut stack = vec![(Node::Aux(i), children(Node::Aux(i)), 0usize)];
        seen.insert(Node::Aux(i));
        while let Some((node, kids, next)) = stack.last_mut() {
            if let Some(&kid) = kids.get(*next) {
                *next += 1;
                let done = matches!(kid, Node::Aux(a) if self.memo.contains_key(&(2, a)));
                if !done && seen.insert(kid) {
                    stack.push((kid, children(kid), 0));
                }
            } else {
                if let Node::Aux(a) = *node {
                    order.push(a);
                }
                stack.pop();
            }
        }
        order
    }

    /// Notes when the function being built has grown past [`MAX_FUNCTION_INSTRUCTIONS`]
    /// (checked when an aux or function is about to be inlined); lowering then stops
    /// expanding and the caller reports [`LowerError::TooLarge`].
    fn guard_size(&mut self, what: impl FnOnce() -> String) -> bool {
        if self.too_large.is_none() && self.b.inst_count() > MAX_FUNCTION_INSTRUCTIONS {
            self.too_large = Some(what());
        }
        self.too_large.is_some()
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
                let zero = self.fconst(0.0);
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
        if ty == Ty::Int && matches!(op, BinaryOp::FloorDiv | BinaryOp::Mod) {
            let zero = self.b.i64(0);
            let by_zero = self.b.cmp(CmpOp::Eq, b.v, zero);
            self.flag(fault::DIV_ZERO, by_zero);
        }
        let v = self.b.binary(op, a.v, b.v);
        if ty == Ty::Int {
            self.flag_overflow(op, a.v, b.v, v);
        }
        Val { v, ty }
    }

    /// Flags [`fault::OVERFLOW`] when the wrapped int result `r = a op b` is not the
    /// mathematical one. `+`: both operands have one sign and the result the other; `-`:
    /// the operands' signs differ and the result's differs from `a`'s; `*`: `r // a != b`
    /// (an exact product divides back; a wrapped one cannot, as `|a| < 2**63`), or the one
    /// product whose division wraps too, `-1 * MIN`; `//`: `MIN // -1`.
    fn flag_overflow(&mut self, op: BinaryOp, a: Value, b: Value, r: Value) {
        let zero = self.b.i64(0);
        let neg = |l: &mut Self, x: Value| l.b.cmp(CmpOp::Lt, x, zero);
        let and3 = |l: &mut Self, x: Value, y: Value, z: Value| {
            let xy = l.b.binary(BinaryOp::And, x, y);
            l.b.binary(BinaryOp::And, xy, z)
        };
        let over = match op {
            BinaryOp::Add | BinaryOp::Sub => {
                let (sa, sb, sr) = (neg(self, a), neg(self, b), neg(self, r));
                let (na, nb, nr) = (self.b.not(sa), self.b.not(sb), self.b.not(sr));
                let (down, up) = if op == BinaryOp::Add {
                    (and3(self, sa, sb, nr), and3(self, na, nb, sr))
                } else {
                    (and3(self, sa, nb, nr), and3(self, na, sb, sr))
                };
                self.b.binary(BinaryOp::Or, down, up)
            }
            BinaryOp::Mul => {
                let nonzero = self.b.cmp(CmpOp::Ne, a, zero);
                // Divide by 1 where a is 0 (no overflow there, and no division by zero).
                let one = self.b.i64(1);
                let divisor = self.b.select(nonzero, a, one);
                let back = self.b.binary(BinaryOp::FloorDiv, r, divisor);
                let differs = self.b.cmp(CmpOp::Ne, back, b);
                let minus_one = self.b.i64(-1);
                let min = self.b.i64(i64::MIN);
                let a_m1 = self.b.cmp(CmpOp::Eq, a, minus_one);
                let b_min = self.b.cmp(CmpOp::Eq, b, min);
                let wraps = self.b.binary(BinaryOp::And, a_m1, b_min);
                let wrong = self.b.binary(BinaryOp::Or, differs, wraps);
                self.b.binary(BinaryOp::And, nonzero, wrong)
            }
            // The one quotient that does not fit: MIN // -1 (its remainder, 0, does).
            BinaryOp::FloorDiv => {
                let minus_one = self.b.i64(-1);
                let min = self.b.i64(i64::MIN);
                let a_min = self.b.cmp(CmpOp::Eq, a, min);
                let b_m1 = self.b.cmp(CmpOp::Eq, b, minus_one);
                self.b.binary(BinaryOp::And, a_min, b_m1)
            }
            _ => return,
        };
        self.flag(fault::OVERFLOW, over);
    }

    /// Flags [`fault::OVERFLOW`] for `-x` (and `abs(x)`) of the one int without a
    /// negation, `MIN`.
    fn flag_negation_overflow(&mut self, x: Value) {
        let min = self.b.i64(i64::MIN);
        let is_min = self.b.cmp(CmpOp::Eq, x, min);
        self.flag(fault::OVERFLOW, is_min);
    }

    fn compare(&mut self, op: CmpOp, a: Val, b: Val) -> Value {
        let (a, b, _) = self.promote(a, b);
        self.b.cmp(op, a.v, b.v)
    }

    fn float_of(&mut self, x: Val) -> Value {
        self.to(x, Ty::Float).v
    }

    /// A math function as Python's `math` module computes it: in float64 on its arguments
    /// converted exactly (a float32 widened, an int converted directly), the result in the
    /// model's float type (rounded once in a float32 model). `abs` and `copysign` of floats
    /// are exact: computed in the float type itself (numpy's `abs` of a float32).
    fn math(&mut self, f: MathFn, args: &[Val]) -> Val {
        let exact = matches!(f, MathFn::Fabs | MathFn::Copysign);
        if exact && args.iter().all(|a| a.ty == Ty::Float) {
            let vals: Vec<Value> = args.iter().map(|a| a.v).collect();
            let v = self.b.math(f, &vals);
            return Val { v, ty: Ty::Float };
        }
        let r = self.math64(f, args);
        let v = self.b.convert(r, self.float);
        Val { v, ty: Ty::Float }
    }

    /// `f(args)` in float64, each argument converted to float64 exactly.
    fn math64(&mut self, f: MathFn, args: &[Val]) -> Value {
        let vals: Vec<Value> = args
            .iter()
            .map(|a| self.b.convert(a.v, Type::F64))
            .collect();
        self.b.math(f, &vals)
    }

    /// `a ** b` of floats: numpy's power in the model's float type (`powf` for float32
    /// scalars, unlike `math.pow`).
    fn float_power(&mut self, a: Val, b: Val) -> Val {
        let (x, y) = (self.float_of(a), self.float_of(b));
        let v = self.b.math(MathFn::Pow, &[x, y]);
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
            // Only float models have them (the checker rejects them elsewhere).
            ExprKind::Float(f) | ExprKind::BigInt(f) => {
                let v = self.fconst(*f);
                Val { v, ty: Ty::Float }
            }
            ExprKind::Bool(x) => Self::bool_val(self.b.bool(*x)),
            ExprKind::Name(id) => match id.res {
                Res::State(i) => self.state(i),
                Res::Param(i) => self.param(i),
                Res::Aux(i) => self.aux(i),
                // Time is a float64 argument; a float32 model computes with it rounded.
                Res::Time => Val {
                    v: self.b.convert(self.t, self.float),
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
                        if x.ty == Ty::Int {
                            self.flag_negation_overflow(x.v);
                        }
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
                        // int / int is Python's correctly rounded quotient: in float64
                        // (exact ints), then the float type; a float operand makes it a
                        // division in the float type.
                        let ints = a.ty != Ty::Float && b.ty != Ty::Float;
                        let (a, b) = if ints {
                            (
                                self.b.convert(a.v, Type::F64),
                                self.b.convert(b.v, Type::F64),
                            )
                        } else {
                            (self.float_of(a), self.float_of(b))
                        };
                        let q = self.b.div(a, b);
                        Val {
                            v: self.b.convert(q, self.float),
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
                // Python evaluates an operand only while the earlier ones did not decide,
                // so its faults count only then.
                let mut vals: Vec<Val> = Vec::with_capacity(operands.len());
                let mut reached: Option<Value> = None;
                for o in operands {
                    let (v, faults) = self.isolated(|l| l.expr(o));
                    self.merge(faults, reached);
                    let t = self.truthy(v);
                    let goes_on = match op {
                        expr::LogicOp::And => t,
                        expr::LogicOp::Or => self.b.not(t),
                    };
                    reached = Some(match reached {
                        None => goes_on,
                        Some(r) => self.b.binary(BinaryOp::And, r, goes_on),
                    });
                    vals.push(v);
                }
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
                // Only the taken branch is evaluated in Python: its faults count.
                let (a, fa) = self.isolated(|l| l.expr(then));
                let (b, fb) = self.isolated(|l| l.expr(otherwise));
                self.merge(fa, Some(c));
                let not_c = self.b.not(c);
                self.merge(fb, Some(not_c));
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
    /// multiplications only for 2 in float64 (exact, and what libm's pow gives); ints use exact
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
            // Only in float64: the C library's powf(x, 2) is not always x·x rounded, and a
            // float32 model's `x ** 2` is numpy's powf.
            (Ty::Float, Some(2)) if self.float == Type::F64 => Val {
                v: self.b.mul(a_num.v, a_num.v),
                ty: Ty::Float,
            },
            (Ty::Int, Some(k)) if k <= 64 => {
                let mut acc = Val {
                    v: self.b.i64(1),
                    ty: Ty::Int,
                };
                for _ in 0..k {
                    acc = self.arith(BinaryOp::Mul, acc, a_num);
                }
                acc
            }
            _ => {
                let b = self.expr(rhs);
                self.float_power(a_num, b)
            }
        }
    }

    fn call(&mut self, res: &Res, args: &[Expr]) -> Val {
        match *res {
            Res::Lag { state, depth } => self.lag(state, depth),
            Res::Function(i) => {
                let vals: Vec<Val> = args.iter().map(|a| self.expr(a)).collect();
                let key = (i, vals.iter().map(|v| v.v).collect::<Vec<_>>());
                if let Some(m) = self.calls.get(&key).copied() {
                    self.merge(m.faults, None);
                    return m.val;
                }
                let model = self.model;
                let inlining = self.inlining.clone();
                let chain = move || {
                    let names: Vec<&str> = inlining
                        .iter()
                        .chain(std::iter::once(&i))
                        .map(|&f| model.functions[f].name.as_str())
                        .collect();
                    dynlib_model::diag::chain(&names)
                };
                if self.guard_size(|| format!("the calls {}", chain())) {
                    // Too large already: stop expanding (the caller reports the error).
                    return Val {
                        v: self.fconst(0.0),
                        ty: Ty::Float,
                    };
                }
                let loops = std::mem::take(&mut self.loops);
                self.args.push(vals);
                self.inlining.push(i);
                let (val, faults) = self.isolated(|l| l.expr(&l.model.functions[i].body));
                self.inlining.pop();
                self.args.pop();
                self.loops = loops;
                self.calls.insert(key, Memo { val, faults });
                self.merge(faults, None);
                val
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
                        self.flag_negation_overflow(x.v);
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
                match (x.ty, vals.get(1)) {
                    // round(x, n) of a float: Python's correctly rounded decimal rounding.
                    (Ty::Float, Some(nd)) => {
                        let n = self.to(*nd, Ty::Int);
                        self.math(MathFn::RoundDigits, &[x, n])
                    }
                    (Ty::Float, None) => {
                        let r = self.math(MathFn::RoundEven, &[x]);
                        self.integral(r)
                    }
                    // round(n, k) of an int is an int, exactly, at any size.
                    (_, Some(nd)) => {
                        let xi = int_of(self, x);
                        let n = self.to(*nd, Ty::Int);
                        self.round_int_digits(xi, n)
                    }
                    (_, None) => int_of(self, x),
                }
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
                self.integral(r)
            }
            // Python's math.log(x, b) and n-ary hypot: float64 throughout, rounded once.
            Builtin::Log if vals.len() == 2 => {
                let a = self.math64(MathFn::Log, &[vals[0]]);
                let c = self.math64(MathFn::Log, &[vals[1]]);
                let q = self.b.div(a, c);
                Val {
                    v: self.b.convert(q, self.float),
                    ty: Ty::Float,
                }
            }
            Builtin::Hypot if vals.len() > 2 => {
                let mut acc = self.math64(MathFn::Hypot, &[vals[0], vals[1]]);
                for v in &vals[2..] {
                    let wide = Val {
                        v: acc,
                        ty: Ty::Float,
                    };
                    acc = self.math64(MathFn::Hypot, &[wide, *v]);
                }
                Val {
                    v: self.b.convert(acc, self.float),
                    ty: Ty::Float,
                }
            }
            Builtin::Int => {
                let x = x0();
                if x.ty == Ty::Float && self.model.dtype.is_float() {
                    self.math(MathFn::Trunc, &[x])
                } else {
                    int_of(self, x)
                }
            }
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

    /// Python's `round(x, n)` for ints `x` and `n`, exactly: `x` itself for `n >= 0`,
    /// else the multiple of `p = 10**-n` nearest `x`, ties to even (`q = x // p`,
    /// `r = x - q*p`, up when `2r > p` or `2r == p` and `q` is odd). For `n < -18`, `p`
    /// exceeds int64: the result is 0, except for `n == -19` and `|x| > 5·10**18`, where
    /// it is `±10**19`, too large for int64 (for `n <= -20`, `|x| < p/2` always).
    fn round_int_digits(&mut self, x: Val, n: Val) -> Val {
        let zero = self.b.i64(0);
        let limit = self.b.i64(-18);
        let neg = self.b.cmp(CmpOp::Lt, n.v, zero);
        let far = self.b.cmp(CmpOp::Lt, n.v, limit);
        let not_far = self.b.not(far);
        let mid = self.b.binary(BinaryOp::And, neg, not_far);
        // k = -n in 1..=18 where `mid` (else 1, unused); 10**k is exact as a double.
        let one = self.b.i64(1);
        let minus_n = self.b.neg(n.v);
        let k = self.b.select(mid, minus_n, one);
        let ten = self.b.f64(10.0);
        let kf = self.b.convert(k, Type::F64);
        let pf = self.b.math(MathFn::Pow, &[ten, kf]);
        let p = self.b.convert(pf, Type::I64);
        let (rounded, faults) = self.isolated(|l| {
            let q = l.b.binary(BinaryOp::FloorDiv, x.v, p);
            let qp = l.b.mul(q, p);
            let r = l.b.sub(x.v, qp);
            let two = l.b.i64(2);
            let twice = l.b.mul(r, two);
            let above = l.b.cmp(CmpOp::Gt, twice, p);
            let tie = l.b.cmp(CmpOp::Eq, twice, p);
            let parity = l.b.binary(BinaryOp::Mod, q, two);
            let zero = l.b.i64(0);
            let odd = l.b.cmp(CmpOp::Ne, parity, zero);
            let tie_up = l.b.binary(BinaryOp::And, tie, odd);
            let up = l.b.binary(BinaryOp::Or, above, tie_up);
            let up = l.b.convert(up, Type::I64);
            let q2 = l.b.add(q, up);
            let q2 = Val { v: q2, ty: Ty::Int };
            let p = Val { v: p, ty: Ty::Int };
            l.arith(BinaryOp::Mul, q2, p)
        });
        self.merge(faults, Some(mid));
        let big = self.b.i64(5_000_000_000_000_000_000);
        let small = self.b.i64(-5_000_000_000_000_000_000);
        let above = self.b.cmp(CmpOp::Gt, x.v, big);
        let below = self.b.cmp(CmpOp::Lt, x.v, small);
        let huge = self.b.binary(BinaryOp::Or, above, below);
        let minus_19 = self.b.i64(-19);
        let at_19 = self.b.cmp(CmpOp::Eq, n.v, minus_19);
        let over = self.b.binary(BinaryOp::And, at_19, huge);
        self.flag(fault::OVERFLOW, over);
        let near = self.b.select(mid, rounded.v, x.v);
        Val {
            v: self.b.select(far, zero, near),
            ty: Ty::Int,
        }
    }

    /// `sum(body for i in range(args) if conds)` as a loop with an accumulator. The
    /// faults of each iteration (the body's only where the conditions hold, as Python
    /// evaluates it only then) are carried out of the loop; a step of 0 raises
    /// [`fault::ZERO_STEP`] (Python's `ValueError`) and runs no iteration.
    fn reduce(&mut self, op: expr::ReduceOp, body: &Expr, range: &[Expr], conds: &[Expr]) -> Val {
        // Python's range takes integers only: a float bound that is not a whole number
        // (range(2.5)) is a conversion fault, not a silent truncation.
        let bounds: Vec<Value> = range
            .iter()
            .map(|r| {
                let v = self.expr(r);
                if v.ty == Ty::Float {
                    let whole = self.b.math(MathFn::Trunc, &[v.v]);
                    let fraction = self.b.cmp(CmpOp::Ne, whole, v.v);
                    self.flag(fault::CONVERSION, fraction);
                }
                self.to(v, Ty::Int).v
            })
            .collect();
        let (start, stop, step) = match bounds.as_slice() {
            [stop] => (self.b.i64(0), *stop, self.b.i64(1)),
            [start, stop] => (*start, *stop, self.b.i64(1)),
            [start, stop, step] => (*start, *stop, *step),
            _ => unreachable!("the parser checks range arity"),
        };
        let zero = self.b.i64(0);
        let zero_step = self.b.cmp(CmpOp::Eq, step, zero);
        self.flag(fault::ZERO_STEP, zero_step);
        // Python sums ints exactly: an int body accumulates in float64 (exact to 2^53) even
        // in a float32 model, rounded once at the end; float bodies in the float type.
        let arg_types: Vec<Ty> = self
            .args
            .last()
            .map(|a| a.iter().map(|v| v.ty).collect())
            .unwrap_or_default();
        let acc_ty = if self.model.type_of(body, &arg_types) == Ty::Float {
            self.float
        } else {
            Type::F64
        };
        let unit = if op == expr::ReduceOp::Sum { 0.0 } else { 1.0 };
        let init = self.b.float(acc_ty, unit);
        let no = self.b.bool(false);
        let header = self.b.create_block();
        let i = self.b.block_param(header, Type::I64);
        let acc = self.b.block_param(header, acc_ty);
        let carried: Vec<Value> = (0..N_FAULTS)
            .map(|_| self.b.block_param(header, Type::Bool))
            .collect();
        let body_block = self.b.create_block();
        let exit = self.b.create_block();
        let result = self.b.block_param(exit, acc_ty);
        let out_faults: Vec<Value> = (0..N_FAULTS)
            .map(|_| self.b.block_param(exit, Type::Bool))
            .collect();
        let mut entry = vec![start, init];
        entry.extend([no; N_FAULTS]);
        self.b.jump(header, &entry);

        self.b.switch_to(header);
        let zero = self.b.i64(0);
        let up = self.b.cmp(CmpOp::Gt, step, zero);
        let below = self.b.cmp(CmpOp::Lt, i, stop);
        let above = self.b.cmp(CmpOp::Gt, i, stop);
        let go = self.b.select(up, below, above);
        let nonzero = self.b.cmp(CmpOp::Ne, step, zero);
        let go = self.b.binary(BinaryOp::And, go, nonzero);
        let mut exit_args = vec![acc];
        exit_args.extend(&carried);
        self.b.brif(go, body_block, &[], exit, &exit_args);

        self.b.switch_to(body_block);
        let saved = (self.memo.clone(), self.calls.clone());
        self.loops.push(Val { v: i, ty: Ty::Int });
        let (keep, cond_faults) = self.isolated(|l| {
            let mut keep = None;
            for c in conds {
                let cv = l.expr(c);
                let t = l.truthy(cv);
                keep = Some(match keep {
                    None => t,
                    Some(k) => l.b.binary(BinaryOp::And, k, t),
                });
            }
            keep
        });
        let (elt, body_faults) = self.isolated(|l| {
            let elt = l.expr(body);
            l.b.convert(elt.v, acc_ty)
        });
        let next = match op {
            expr::ReduceOp::Sum => self.b.add(acc, elt),
            expr::ReduceOp::Prod => self.b.mul(acc, elt),
        };
        let next = match keep {
            Some(k) => self.b.select(k, next, acc),
            None => next,
        };
        // This iteration's faults on top of the earlier iterations'.
        let (_, iteration) = self.isolated(|l| {
            l.merge(cond_faults, None);
            l.merge(body_faults, keep);
        });
        let mut next_faults = Vec::with_capacity(N_FAULTS);
        for (k, before) in carried.iter().enumerate() {
            next_faults.push(match iteration[k] {
                Some(f) => self.b.binary(BinaryOp::Or, *before, f),
                None => *before,
            });
        }
        // The counter passing the int64 range means it passed `stop` too: the loop is
        // over (a wrapped counter would otherwise run forever).
        let i_next = self.b.add(i, step);
        let zero = self.b.i64(0);
        let up = self.b.cmp(CmpOp::Gt, step, zero);
        let below = self.b.cmp(CmpOp::Lt, i_next, i);
        let above = self.b.cmp(CmpOp::Gt, i_next, i);
        let wrapped = self.b.select(up, below, above);
        let mut done_args = vec![next];
        done_args.extend(&next_faults);
        let mut args = vec![i_next, next];
        args.extend(next_faults);
        self.b.brif(wrapped, exit, &done_args, header, &args);
        self.loops.pop();
        (self.memo, self.calls) = saved;

        self.b.switch_to(exit);
        for (k, f) in out_faults.into_iter().enumerate() {
            self.flag(1 << k, f);
        }
        Val {
            v: self.b.convert(result, self.float),
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
        self.forget();
    }

    /// The error, if inlining made the function too large.
    fn finish(&self, function: &str) -> Result<(), LowerError> {
        match &self.too_large {
            Some(inlining) => Err(LowerError::TooLarge {
                function: function.to_string(),
                inlining: inlining.clone(),
            }),
            None => Ok(()),
        }
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
) -> Result<Function, LowerError> {
    let elem = elem_of(model.dtype);
    let mut f = Function::new(name, rhs_signature(elem));
    let mut l = Lower::new(model, lags, &mut f, 1, 3, 4);
    let out = l.b.param(2);
    // Each result is stored as soon as it is computed (`out` never aliases `y`: distinct
    // pointer parameters never share memory, which the verifier enforces on every call), so
    // only a few values are live at a time: storing them all at the end kept every result
    // of a large model live at once, and the backend spilled them and spent superlinear
    // time allocating registers (Lorenz-96, N = 2,000: 12 KB of spills per call).
    for e in eqs {
        let v = l.expr(&e.expr);
        let raw = l.store_dtype(v);
        let idx = l.index(e.state);
        l.b.store(out, idx, raw);
    }
    if all_states && model.kind == ModelKind::Ode {
        let defined: crate::hash::Set<usize> = eqs.iter().map(|e| e.state).collect();
        for s in 0..model.states.len() {
            if !defined.contains(&s) {
                let zero = l.b.f64(0.0);
                let raw = l.b.convert(zero, elem.ty());
                let idx = l.index(s);
                l.b.store(out, idx, raw);
            }
        }
    }
    let mask = l.fault_mask();
    l.b.ret(&[mask]);
    l.finish(name)?;
    Ok(f)
}

fn lower_events(
    model: &Model,
    lags: &LagLayout,
    name: &str,
    start: bool,
) -> Result<Function, LowerError> {
    let elem = elem_of(model.dtype);
    let mut f = Function::new(name, events_signature(elem));
    let mut l = Lower::new(model, lags, &mut f, 1, 2, 5);
    let (log, ilog) = (l.b.param(3), l.b.param(4));
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
        let saved = (l.memo.clone(), l.calls.clone(), l.faults);
        for a in &ev.actions {
            let v = l.expr(&a.expr);
            l.assign(a.target, v);
        }
        for (k, sig) in ev.log.iter().enumerate() {
            let int = log_is_int(model.dtype, sig);
            let word = if int { Type::I64 } else { Type::F64 };
            let v = match sig {
                LogSignal::Time => l.t,
                LogSignal::State(i) => {
                    let x = l.state(*i);
                    l.b.convert(x.v, word)
                }
                LogSignal::Param(i) => {
                    let x = l.param(*i);
                    l.b.convert(x.v, word)
                }
                LogSignal::Aux(i) => {
                    // Logged like recorded aux: through the dtype.
                    let x = l.aux(*i);
                    let raw = l.store_dtype(x);
                    l.b.convert(raw, word)
                }
            };
            let idx = l.index(k);
            l.b.store(if int { ilog } else { log }, idx, v);
        }
        let code_v = l.b.i32(code as i32);
        let width = l.b.i32(ev.log.len() as i32);
        let mask = l.fault_mask();
        l.b.ret(&[code_v, width, mask]);
        // The next event's condition is reached only when this one did not fire.
        (l.memo, l.calls, l.faults) = saved;

        l.b.switch_to(next);
    }
    let none = l.b.i32(-1);
    let zero = l.b.i32(0);
    let mask = l.fault_mask();
    l.b.ret(&[none, zero, mask]);
    l.finish(name)?;
    Ok(f)
}

fn lower_update_aux(model: &Model, lags: &LagLayout) -> Result<Function, LowerError> {
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
    let mask = l.fault_mask();
    l.b.ret(&[stop, mask]);
    l.finish("update_aux")?;
    Ok(f)
}

fn lower_jacobian(
    model: &Model,
    lags: &LagLayout,
    jac: &[Vec<Expr>],
) -> Result<Function, LowerError> {
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
    let mask = l.fault_mask();
    l.b.ret(&[mask]);
    l.finish("jacobian")?;
    Ok(f)
}

fn lower_jvp(model: &Model, lags: &LagLayout, jac: &[Vec<Expr>]) -> Result<Function, LowerError> {
    let elem = elem_of(model.dtype);
    let mut f = Function::new("jvp", jvp_signature(elem));
    let mut l = Lower::new(model, lags, &mut f, 1, 2, 5);
    let (v_in, out) = (l.b.param(3), l.b.param(4));
    for (i, row) in jac.iter().enumerate() {
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
            v: l.fconst(0.0),
            ty: Ty::Float,
        });
        // Stored at once, as the right-hand side's results are (`out` is its own array).
        let raw = l.store_dtype(total);
        let idx = l.index(i);
        l.b.store(out, idx, raw);
    }
    let mask = l.fault_mask();
    l.b.ret(&[mask]);
    l.finish("jvp")?;
    Ok(f)
}
