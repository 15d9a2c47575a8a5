//! The IR's data structures: types, entities, instructions, functions and programs.
//!
//! A [`Program`] is a list of [`Function`]s that call each other by [`FuncId`]. A function
//! is a list of blocks in layout order (block 0 is the entry, whose parameters are the
//! function's parameters). Values are defined once, by an instruction result or a block
//! parameter (SSA with block arguments instead of phi nodes). References are `u32` indices,
//! never Rust references, so passes rewrite freely.
//!
//! Every instruction has one exact meaning, shared by both backends; where Rust, LLVM and
//! Python could differ (floored modulo, division by zero on ints, rounding), the meaning is
//! fixed by a reference function in [`crate::semantics`].

use std::fmt;

/// A scalar element type: what arrays hold.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Elem {
    /// 64-bit IEEE float.
    F64,
    /// 32-bit IEEE float.
    F32,
    /// 64-bit signed integer.
    I64,
    /// 32-bit signed integer.
    I32,
}

impl Elem {
    /// The scalar type of an element.
    pub fn ty(self) -> Type {
        match self {
            Elem::F64 => Type::F64,
            Elem::F32 => Type::F32,
            Elem::I64 => Type::I64,
            Elem::I32 => Type::I32,
        }
    }

    /// The text name (`f64`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Elem::F64 => "f64",
            Elem::F32 => "f32",
            Elem::I64 => "i64",
            Elem::I32 => "i32",
        }
    }
}

/// The type of a value.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Type {
    /// 64-bit IEEE float.
    F64,
    /// 32-bit IEEE float.
    F32,
    /// 64-bit signed integer.
    I64,
    /// 32-bit signed integer.
    I32,
    /// A truth value.
    Bool,
    /// A pointer to an array of elements (only function parameters have this type; the
    /// array's length is the caller's business).
    Ptr(Elem),
}

impl Type {
    /// True for `f64` and `f32`.
    pub fn is_float(self) -> bool {
        matches!(self, Type::F64 | Type::F32)
    }

    /// True for `i64` and `i32`.
    pub fn is_int(self) -> bool {
        matches!(self, Type::I64 | Type::I32)
    }

    /// True for numbers (floats and ints).
    pub fn is_number(self) -> bool {
        self.is_float() || self.is_int()
    }

    /// The element type if this is a scalar that arrays can hold.
    pub fn as_elem(self) -> Option<Elem> {
        Some(match self {
            Type::F64 => Elem::F64,
            Type::F32 => Elem::F32,
            Type::I64 => Elem::I64,
            Type::I32 => Elem::I32,
            _ => return None,
        })
    }
}

impl fmt::Display for Type {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Type::F64 => f.write_str("f64"),
            Type::F32 => f.write_str("f32"),
            Type::I64 => f.write_str("i64"),
            Type::I32 => f.write_str("i32"),
            Type::Bool => f.write_str("bool"),
            Type::Ptr(e) => write!(f, "ptr<{}>", e.name()),
        }
    }
}

macro_rules! entity {
    ($name:ident, $prefix:literal, $doc:literal) => {
        #[doc = $doc]
        #[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(pub u32);

        impl $name {
            /// The index into the owning table.
            pub fn index(self) -> usize {
                self.0 as usize
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!($prefix, "{}"), self.0)
            }
        }
    };
}

entity!(Value, "v", "An SSA value; prints as `v3`.");
entity!(Block, "block", "A basic block; prints as `block2`.");
entity!(
    Inst,
    "inst",
    "An instruction (printed only in verifier messages)."
);
entity!(
    FuncId,
    "fn",
    "A function of a [`Program`]; calls print the callee's name."
);

/// Unary operators.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum UnaryOp {
    /// Arithmetic negation (floats: flips the sign bit; ints: wrapping).
    Neg,
    /// Logical not (bool only).
    Not,
}

/// Binary operators; both operands have the same type, which is the result type.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum BinaryOp {
    /// `a + b` (ints wrap).
    Add,
    /// `a - b` (ints wrap).
    Sub,
    /// `a * b` (ints wrap).
    Mul,
    /// `a / b`, floats only (IEEE).
    Div,
    /// Python's floored `a // b` ([`crate::semantics::floordiv_f64`], ..._i64).
    FloorDiv,
    /// Python's floored `a % b` ([`crate::semantics::mod_f64`], ..._i64).
    Mod,
    /// Logical and of two bools (both evaluated).
    And,
    /// Logical or of two bools (both evaluated).
    Or,
}

/// Comparisons; the result is `bool`. Floats compare as IEEE (any NaN makes all false but `ne`).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum CmpOp {
    /// `==`
    Eq,
    /// `!=`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
}

/// Math functions with the C library's semantics, on `f64` (calls to libm by the same name,
/// in both backends, so results agree to the bit).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
#[allow(missing_docs)]
pub enum MathFn {
    Sin,
    Cos,
    Tan,
    Asin,
    Acos,
    Atan,
    Atan2,
    Sinh,
    Cosh,
    Tanh,
    Asinh,
    Acosh,
    Atanh,
    Exp,
    Expm1,
    Log,
    Log10,
    Log2,
    Log1p,
    Sqrt,
    Pow,
    Fabs,
    Floor,
    Ceil,
    Trunc,
    /// Round half to even (Python's `round`).
    RoundEven,
    Hypot,
    Copysign,
    Erf,
    Erfc,
    /// Python's `round(x, ndigits)` on a float: correctly rounded to `ndigits` decimal
    /// places, ties to even on the exact binary value ([`crate::semantics::round_digits`];
    /// not a libm function, but called like one, by the same address in both backends).
    RoundDigits,
}

impl MathFn {
    /// Every math function.
    pub const ALL: &'static [MathFn] = &[
        MathFn::Sin,
        MathFn::Cos,
        MathFn::Tan,
        MathFn::Asin,
        MathFn::Acos,
        MathFn::Atan,
        MathFn::Atan2,
        MathFn::Sinh,
        MathFn::Cosh,
        MathFn::Tanh,
        MathFn::Asinh,
        MathFn::Acosh,
        MathFn::Atanh,
        MathFn::Exp,
        MathFn::Expm1,
        MathFn::Log,
        MathFn::Log10,
        MathFn::Log2,
        MathFn::Log1p,
        MathFn::Sqrt,
        MathFn::Pow,
        MathFn::Fabs,
        MathFn::Floor,
        MathFn::Ceil,
        MathFn::Trunc,
        MathFn::RoundEven,
        MathFn::Hypot,
        MathFn::Copysign,
        MathFn::Erf,
        MathFn::Erfc,
        MathFn::RoundDigits,
    ];

    /// The libm name (`roundeven` for [`MathFn::RoundEven`]).
    pub fn name(self) -> &'static str {
        match self {
            MathFn::Sin => "sin",
            MathFn::Cos => "cos",
            MathFn::Tan => "tan",
            MathFn::Asin => "asin",
            MathFn::Acos => "acos",
            MathFn::Atan => "atan",
            MathFn::Atan2 => "atan2",
            MathFn::Sinh => "sinh",
            MathFn::Cosh => "cosh",
            MathFn::Tanh => "tanh",
            MathFn::Asinh => "asinh",
            MathFn::Acosh => "acosh",
            MathFn::Atanh => "atanh",
            MathFn::Exp => "exp",
            MathFn::Expm1 => "expm1",
            MathFn::Log => "log",
            MathFn::Log10 => "log10",
            MathFn::Log2 => "log2",
            MathFn::Log1p => "log1p",
            MathFn::Sqrt => "sqrt",
            MathFn::Pow => "pow",
            MathFn::Fabs => "fabs",
            MathFn::Floor => "floor",
            MathFn::Ceil => "ceil",
            MathFn::Trunc => "trunc",
            MathFn::RoundEven => "roundeven",
            MathFn::Hypot => "hypot",
            MathFn::Copysign => "copysign",
            MathFn::Erf => "erf",
            MathFn::Erfc => "erfc",
            MathFn::RoundDigits => "dynlib_round_digits",
        }
    }

    /// Looks a function up by its libm name.
    pub fn from_name(name: &str) -> Option<MathFn> {
        MathFn::ALL.iter().copied().find(|m| m.name() == name)
    }

    /// Number of `f64` arguments.
    pub fn arity(self) -> usize {
        match self {
            MathFn::Atan2
            | MathFn::Pow
            | MathFn::Hypot
            | MathFn::Copysign
            | MathFn::RoundDigits => 2,
            _ => 1,
        }
    }
}

/// A jump target with the arguments for the target block's parameters.
#[derive(Clone, Debug, PartialEq)]
pub struct BlockCall {
    /// The target.
    pub block: Block,
    /// One argument per block parameter.
    pub args: Vec<Value>,
}

/// An instruction and its operands. Result types are recorded on the result values.
#[derive(Clone, Debug, PartialEq)]
pub enum InstData {
    /// A constant of the result type; `bits` holds the f64/f32 bit pattern (f32 in the low
    /// 32 bits), the integer (sign-extended), or 0/1 for bool.
    Const {
        /// The bits.
        bits: u64,
    },
    /// A unary operation.
    Unary {
        /// The operator.
        op: UnaryOp,
        /// The operand.
        arg: Value,
    },
    /// A binary operation.
    Binary {
        /// The operator.
        op: BinaryOp,
        /// The operands.
        args: [Value; 2],
    },
    /// A comparison giving a bool.
    Cmp {
        /// The operator.
        op: CmpOp,
        /// The operands (same type).
        args: [Value; 2],
    },
    /// `cond ? a : b` (both evaluated).
    Select {
        /// Condition, then value, else value.
        args: [Value; 3],
    },
    /// A conversion to the result type ([`crate::semantics::convert`] defines each pair).
    Convert {
        /// The operand.
        arg: Value,
    },
    /// A libm call on f64 arguments.
    Math {
        /// The function.
        func: MathFn,
        /// The arguments.
        args: Vec<Value>,
    },
    /// `ptr[index]` (index is i64).
    Load {
        /// The array.
        ptr: Value,
        /// The element index.
        index: Value,
    },
    /// `ptr[index] = value`.
    Store {
        /// The array.
        ptr: Value,
        /// The element index (i64).
        index: Value,
        /// The stored value (the array's element type).
        value: Value,
    },
    /// A call to another function of the program.
    Call {
        /// The callee.
        func: FuncId,
        /// The arguments.
        args: Vec<Value>,
    },
    /// Unconditional jump (terminator).
    Jump {
        /// The target.
        dest: BlockCall,
    },
    /// Two-way branch on a bool (terminator).
    Brif {
        /// The condition.
        cond: Value,
        /// Taken when true.
        then_dest: BlockCall,
        /// Taken when false.
        else_dest: BlockCall,
    },
    /// Return from the function (terminator).
    Return {
        /// One value per declared return type.
        args: Vec<Value>,
    },
}

impl InstData {
    /// True for instructions that end a block.
    pub fn is_terminator(&self) -> bool {
        matches!(
            self,
            InstData::Jump { .. } | InstData::Brif { .. } | InstData::Return { .. }
        )
    }

    /// True when the instruction does something besides computing its results (so dead-code
    /// elimination must keep it).
    pub fn has_side_effects(&self) -> bool {
        matches!(self, InstData::Store { .. } | InstData::Call { .. }) || self.is_terminator()
    }

    /// The values the instruction reads, in operand order.
    pub fn operands(&self) -> Vec<Value> {
        let mut out = Vec::new();
        self.for_each_operand(|v| out.push(v));
        out
    }

    /// Calls `f` on every operand, in operand order.
    pub fn for_each_operand(&self, mut f: impl FnMut(Value)) {
        match self {
            InstData::Const { .. } => {}
            InstData::Unary { arg, .. } | InstData::Convert { arg } => f(*arg),
            InstData::Binary { args, .. } | InstData::Cmp { args, .. } => {
                args.iter().copied().for_each(f)
            }
            InstData::Select { args } => args.iter().copied().for_each(f),
            InstData::Math { args, .. }
            | InstData::Call { args, .. }
            | InstData::Return { args } => args.iter().copied().for_each(f),
            InstData::Load { ptr, index } => {
                f(*ptr);
                f(*index);
            }
            InstData::Store { ptr, index, value } => {
                f(*ptr);
                f(*index);
                f(*value);
            }
            InstData::Jump { dest } => dest.args.iter().copied().for_each(f),
            InstData::Brif {
                cond,
                then_dest,
                else_dest,
            } => {
                f(*cond);
                then_dest.args.iter().copied().for_each(&mut f);
                else_dest.args.iter().copied().for_each(f);
            }
        }
    }

    /// Rewrites every operand through `f`.
    pub fn map_operands(&mut self, mut f: impl FnMut(Value) -> Value) {
        match self {
            InstData::Const { .. } => {}
            InstData::Unary { arg, .. } | InstData::Convert { arg } => *arg = f(*arg),
            InstData::Binary { args, .. } | InstData::Cmp { args, .. } => {
                args.iter_mut().for_each(|a| *a = f(*a))
            }
            InstData::Select { args } => args.iter_mut().for_each(|a| *a = f(*a)),
            InstData::Math { args, .. }
            | InstData::Call { args, .. }
            | InstData::Return { args } => args.iter_mut().for_each(|a| *a = f(*a)),
            InstData::Load { ptr, index } => {
                *ptr = f(*ptr);
                *index = f(*index);
            }
            InstData::Store { ptr, index, value } => {
                *ptr = f(*ptr);
                *index = f(*index);
                *value = f(*value);
            }
            InstData::Jump { dest } => dest.args.iter_mut().for_each(|a| *a = f(*a)),
            InstData::Brif {
                cond,
                then_dest,
                else_dest,
            } => {
                *cond = f(*cond);
                then_dest.args.iter_mut().for_each(|a| *a = f(*a));
                else_dest.args.iter_mut().for_each(|a| *a = f(*a));
            }
        }
    }

    /// The blocks a terminator may jump to.
    pub fn successors(&self) -> Vec<Block> {
        match self {
            InstData::Jump { dest } => vec![dest.block],
            InstData::Brif {
                then_dest,
                else_dest,
                ..
            } => vec![then_dest.block, else_dest.block],
            _ => Vec::new(),
        }
    }
}

/// Where a value comes from.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum ValueDef {
    /// Result number `n` of an instruction.
    Result(Inst, u32),
    /// Parameter number `n` of a block.
    Param(Block, u32),
}

/// A value's type and definition.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct ValueData {
    /// The type.
    pub ty: Type,
    /// Where it is defined.
    pub def: ValueDef,
}

/// A block's parameters and instructions in order (the last is the terminator).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct BlockData {
    /// The parameters.
    pub params: Vec<Value>,
    /// The instructions.
    pub insts: Vec<Inst>,
}

/// A function signature.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Signature {
    /// Parameter types.
    pub params: Vec<Type>,
    /// Return types.
    pub returns: Vec<Type>,
}

/// One IR function.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Function {
    /// Its name, unique in the program (printed as `@name`).
    pub name: String,
    /// Its signature; the entry block's parameters have these types.
    pub sig: Signature,
    /// Every value.
    pub values: Vec<ValueData>,
    /// Every instruction ever created (some may no longer be in a block).
    pub insts: Vec<InstData>,
    /// Results of each instruction.
    pub results: Vec<Vec<Value>>,
    /// Blocks in layout order; `blocks[0]` is the entry.
    pub blocks: Vec<BlockData>,
}

impl Function {
    /// An empty function with this name and signature (no blocks yet).
    pub fn new(name: impl Into<String>, sig: Signature) -> Self {
        Function {
            name: name.into(),
            sig,
            ..Default::default()
        }
    }

    /// The type of a value.
    pub fn value_type(&self, v: Value) -> Type {
        self.values[v.index()].ty
    }

    /// An instruction's data.
    pub fn inst(&self, i: Inst) -> &InstData {
        &self.insts[i.index()]
    }

    /// An instruction's results.
    pub fn inst_results(&self, i: Inst) -> &[Value] {
        &self.results[i.index()]
    }

    /// The entry block's parameters (the function's arguments).
    pub fn params(&self) -> &[Value] {
        self.blocks
            .first()
            .map(|b| b.params.as_slice())
            .unwrap_or(&[])
    }

    /// Every block id in layout order.
    pub fn block_ids(&self) -> impl Iterator<Item = Block> {
        (0..self.blocks.len() as u32).map(Block)
    }

    /// Adds a value (used by the builder and the parser).
    pub fn make_value(&mut self, ty: Type, def: ValueDef) -> Value {
        let v = Value(self.values.len() as u32);
        self.values.push(ValueData { ty, def });
        v
    }
}

/// A set of functions that call each other.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Program {
    /// The functions; a [`FuncId`] indexes this list.
    pub functions: Vec<Function>,
}

impl Program {
    /// An empty program.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a function and returns its id.
    pub fn add(&mut self, f: Function) -> FuncId {
        self.functions.push(f);
        FuncId(self.functions.len() as u32 - 1)
    }

    /// A function by id.
    pub fn func(&self, id: FuncId) -> &Function {
        &self.functions[id.index()]
    }

    /// `roots` and every function they call, directly or not, each once: the roots in
    /// order, each followed depth-first by its callees in call order. Ids outside the
    /// program are skipped. This is what a compiled unit holds, in a fixed order.
    pub fn reachable(&self, roots: &[FuncId]) -> Vec<FuncId> {
        let mut seen = vec![false; self.functions.len()];
        let mut order = Vec::new();
        let mut stack: Vec<FuncId> = roots.iter().rev().copied().collect();
        while let Some(id) = stack.pop() {
            let Some(f) = self.functions.get(id.index()) else {
                continue;
            };
            if std::mem::replace(&mut seen[id.index()], true) {
                continue;
            }
            order.push(id);
            let calls = f
                .blocks
                .iter()
                .flat_map(|b| &b.insts)
                .filter_map(|&i| match f.inst(i) {
                    InstData::Call { func, .. } => Some(*func),
                    _ => None,
                });
            let mut callees: Vec<FuncId> = calls.collect();
            callees.reverse();
            stack.extend(callees);
        }
        order
    }

    /// A function by name.
    pub fn find(&self, name: &str) -> Option<FuncId> {
        self.functions
            .iter()
            .position(|f| f.name == name)
            .map(|i| FuncId(i as u32))
    }
}
