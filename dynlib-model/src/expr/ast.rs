//! The expression syntax tree.
//!
//! One tree serves two stages. The parser builds it with every identifier
//! [`Res::Unresolved`]; the checker ([`crate::check`]) resolves each [`Ident`] in place
//! (state, param, constant, builtin, user function, lag, ...). A tree inside a validated
//! [`crate::Model`] has no unresolved identifier left. Spans are byte ranges into the
//! expression's own text; [`crate::SrcStr::span_of`] turns them into source positions.

use std::ops::Range;

use crate::builtins::Builtin;

/// A byte range in the expression text.
pub type TextRange = Range<usize>;

/// An expression node with its text range.
#[derive(Clone, Debug, PartialEq)]
pub struct Expr {
    /// What the node is.
    pub kind: ExprKind,
    /// Where it is in the expression text.
    pub span: TextRange,
}

/// A name in an expression and what it refers to.
#[derive(Clone, Debug, PartialEq)]
pub struct Ident {
    /// The name as written (for `math.sin` this is `sin`).
    pub name: String,
    /// What the checker resolved it to.
    pub res: Res,
}

impl Ident {
    /// An identifier not yet resolved.
    pub fn new(name: impl Into<String>) -> Self {
        Ident {
            name: name.into(),
            res: Res::Unresolved,
        }
    }
}

/// What an identifier refers to after checking.
#[derive(Clone, Debug, PartialEq)]
pub enum Res {
    /// Not checked yet (only in freshly parsed trees).
    Unresolved,
    /// State number `i` in `[states]` order.
    State(usize),
    /// Parameter number `i` in `[params]` order.
    Param(usize),
    /// Aux number `i` in `[aux]` declaration order (inlined when lowered).
    Aux(usize),
    /// The time `t`.
    Time,
    /// A constant (user constant, `pi` or `e`), already evaluated; cast to the model dtype
    /// when lowered.
    Const(Number),
    /// Argument number `i` of the enclosing user function.
    Arg(usize),
    /// The loop variable of an enclosing `sum`/`prod` generator, by nesting depth (0 = outermost).
    Loop(usize),
    /// A builtin function or macro (only on calls).
    Builtin(Builtin),
    /// User function number `i` in `[functions]` order (only on calls; inlined when lowered).
    Function(usize),
    /// `lag_X(k)`: state number `state`, `depth` committed steps ago (only on calls).
    Lag {
        /// The lagged state.
        state: usize,
        /// How many committed steps back, 1..=1000.
        depth: u32,
    },
}

/// A number as the model language sees it: Python keeps ints and floats apart
/// (`7//2` is the int 3, `8/4` is the float 2.0).
#[derive(Copy, Clone, Debug, PartialEq)]
pub enum Number {
    /// An integer.
    Int(i64),
    /// A float.
    Float(f64),
}

impl Number {
    /// The value as a float (an int beyond 2**53 rounds to the nearest float).
    pub fn as_f64(self) -> f64 {
        match self {
            Number::Int(i) => i as f64,
            Number::Float(f) => f,
        }
    }
}

impl From<f64> for Number {
    fn from(x: f64) -> Number {
        Number::Float(x)
    }
}

impl From<f32> for Number {
    fn from(x: f32) -> Number {
        Number::Float(x as f64)
    }
}

impl From<i64> for Number {
    fn from(i: i64) -> Number {
        Number::Int(i)
    }
}

impl From<i32> for Number {
    fn from(i: i32) -> Number {
        Number::Int(i as i64)
    }
}

impl std::fmt::Display for Number {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Number::Int(i) => write!(f, "{i}"),
            Number::Float(x) => write!(f, "{}", crate::expr::print::float_repr(*x)),
        }
    }
}

/// Unary operators.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum UnaryOp {
    /// `-a`
    Neg,
    /// `+a`
    Pos,
    /// `not a` (gives a bool)
    Not,
}

/// Arithmetic binary operators.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum BinOp {
    /// `a + b`
    Add,
    /// `a - b`
    Sub,
    /// `a * b`
    Mul,
    /// `a / b`, true division (always a float)
    Div,
    /// `a // b`, floored division
    FloorDiv,
    /// `a % b`, floored modulo (the result has the sign of `b`)
    Mod,
    /// `a ** b` or `a ^ b`, right-associative
    Pow,
}

/// Comparison operators (chainable: `a < b < c`).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum CmpOp {
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `==`
    Eq,
    /// `!=`
    Ne,
}

/// Short-circuit boolean operators; like Python they return an operand, not a bool.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum LogicOp {
    /// `a and b`
    And,
    /// `a or b`
    Or,
}

/// The two generator reductions.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum ReduceOp {
    /// `sum(... for i in range(...))`, accumulator starts at 0.0
    Sum,
    /// `prod(... for i in range(...))`, accumulator starts at 1.0
    Prod,
}

/// Expression node kinds.
#[derive(Clone, Debug, PartialEq)]
pub enum ExprKind {
    /// An integer literal (`1`, `1_000`, `0x10`).
    Int(i64),
    /// A float literal (`1.5`, `1e-3`).
    Float(f64),
    /// An integer literal too large for 64 bits (`10**20` written out), as the nearest
    /// float. Python's exact integer only ever meets floats in a float model, so it is
    /// computed as this float there; an integer model cannot hold it (a model error).
    BigInt(f64),
    /// `True` or `False`.
    Bool(bool),
    /// A name.
    Name(Ident),
    /// A unary operation.
    Unary {
        /// The operator.
        op: UnaryOp,
        /// The operand.
        operand: Box<Expr>,
    },
    /// An arithmetic operation.
    Binary {
        /// The operator.
        op: BinOp,
        /// Left operand.
        lhs: Box<Expr>,
        /// Right operand.
        rhs: Box<Expr>,
    },
    /// A comparison chain: `first op0 rest0 op1 rest1 ...`, meaning the `and` of each pair,
    /// with every middle operand evaluated once.
    Compare {
        /// The leftmost operand.
        first: Box<Expr>,
        /// The operators and the operands to their right.
        rest: Vec<(CmpOp, Expr)>,
    },
    /// `a and b and c` / `a or b or c` (two or more operands).
    Logic {
        /// The operator.
        op: LogicOp,
        /// The operands, left to right.
        operands: Vec<Expr>,
    },
    /// `then if cond else otherwise`.
    IfElse {
        /// The condition.
        cond: Box<Expr>,
        /// Value when the condition is true.
        then: Box<Expr>,
        /// Value when it is false.
        otherwise: Box<Expr>,
    },
    /// A call `f(a, b)` or `math.f(a, b)`.
    Call {
        /// The function name and what it resolves to.
        func: Ident,
        /// Where the function name is written.
        func_span: TextRange,
        /// The positional arguments.
        args: Vec<Expr>,
    },
    /// `sum(body for var in range(args) if c1 if c2)` or the same with `prod`.
    Reduce {
        /// Sum or product.
        op: ReduceOp,
        /// The element expression.
        body: Box<Expr>,
        /// The loop variable.
        var: String,
        /// Where the loop variable is written.
        var_span: TextRange,
        /// The 1 to 3 `range(...)` arguments (each truncated with `int()` when lowered).
        range: Vec<Expr>,
        /// The `if` filters, combined with `and`.
        conds: Vec<Expr>,
    },
}

impl Expr {
    /// A node.
    pub fn new(kind: ExprKind, span: TextRange) -> Self {
        Expr { kind, span }
    }

    /// The number of nodes on the longest path from this node down to a leaf (a leaf is 1).
    pub fn height(&self) -> usize {
        let mut below = 0;
        self.for_each_child(|c| below = below.max(c.height()));
        below + 1
    }

    /// The user functions this expression calls (by index, in text order, repeated).
    pub fn called_functions(&self) -> Vec<usize> {
        let mut out = Vec::new();
        self.walk(&mut |e| {
            if let ExprKind::Call { func, .. } = &e.kind {
                if let Res::Function(j) = func.res {
                    out.push(j);
                }
            }
        });
        out
    }

    /// Calls `f` on this node and every node below it, parents first.
    pub fn walk<'a>(&'a self, f: &mut impl FnMut(&'a Expr)) {
        f(self);
        self.for_each_child(|c| c.walk(f));
    }

    /// Calls `f` on each direct child, left to right.
    pub fn for_each_child<'a>(&'a self, mut f: impl FnMut(&'a Expr)) {
        match &self.kind {
            ExprKind::Int(_)
            | ExprKind::Float(_)
            | ExprKind::BigInt(_)
            | ExprKind::Bool(_)
            | ExprKind::Name(_) => {}
            ExprKind::Unary { operand, .. } => f(operand),
            ExprKind::Binary { lhs, rhs, .. } => {
                f(lhs);
                f(rhs);
            }
            ExprKind::Compare { first, rest } => {
                f(first);
                rest.iter().for_each(|(_, e)| f(e));
            }
            ExprKind::Logic { operands, .. } => operands.iter().for_each(f),
            ExprKind::IfElse {
                cond,
                then,
                otherwise,
            } => {
                f(then);
                f(cond);
                f(otherwise);
            }
            ExprKind::Call { args, .. } => args.iter().for_each(f),
            ExprKind::Reduce {
                body, range, conds, ..
            } => {
                range.iter().for_each(&mut f);
                f(body);
                conds.iter().for_each(f);
            }
        }
    }

    /// Calls `f` on each direct child, mutably.
    pub fn for_each_child_mut(&mut self, mut f: impl FnMut(&mut Expr)) {
        match &mut self.kind {
            ExprKind::Int(_)
            | ExprKind::Float(_)
            | ExprKind::BigInt(_)
            | ExprKind::Bool(_)
            | ExprKind::Name(_) => {}
            ExprKind::Unary { operand, .. } => f(operand),
            ExprKind::Binary { lhs, rhs, .. } => {
                f(lhs);
                f(rhs);
            }
            ExprKind::Compare { first, rest } => {
                f(first);
                rest.iter_mut().for_each(|(_, e)| f(e));
            }
            ExprKind::Logic { operands, .. } => operands.iter_mut().for_each(f),
            ExprKind::IfElse {
                cond,
                then,
                otherwise,
            } => {
                f(then);
                f(cond);
                f(otherwise);
            }
            ExprKind::Call { args, .. } => args.iter_mut().for_each(f),
            ExprKind::Reduce {
                body, range, conds, ..
            } => {
                range.iter_mut().for_each(&mut f);
                f(body);
                conds.iter_mut().for_each(f);
            }
        }
    }
}

impl Expr {
    /// Calls `f` on every identifier in this expression (names and called functions), in
    /// text order. Recursive like [`Clone`]: the parser bounds the tree's height so that
    /// this stays within a thread's default stack.
    pub fn for_each_ident_mut(&mut self, f: &mut impl FnMut(&mut Ident)) {
        match &mut self.kind {
            ExprKind::Name(id) => f(id),
            ExprKind::Call { func, .. } => f(func),
            _ => {}
        }
        self.for_each_child_mut(|c| c.for_each_ident_mut(f));
    }
}
