//! Static types of expressions, with Python's numeric rules.
//!
//! The model language is dynamically typed like Python, but every value's type is known
//! before running: states, params and constants have the model dtype, `/` always gives a
//! float, `//` and `%` of ints stay ints, comparisons give bools. Lowering needs these types
//! to reproduce Python's results in an int64 map (`n // 2` stays exact) and to cast only
//! where Python would.

use crate::builtins::Builtin;
use crate::expr::{BinOp, Expr, ExprKind, Number, Res, UnaryOp};
use crate::model::Model;

/// The type of a value in an expression.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum Ty {
    /// A truth value (a comparison, `not`, an event macro).
    Bool,
    /// An integer.
    Int,
    /// A float.
    Float,
}

impl Ty {
    /// The type arithmetic on `a` and `b` gives: float if either is, else int.
    pub fn promote(a: Ty, b: Ty) -> Ty {
        if a == Ty::Float || b == Ty::Float {
            Ty::Float
        } else {
            Ty::Int
        }
    }

    /// The type of a value that is one of `a` or `b` (`and`, `or`, `if`/`else`, `min`).
    pub fn join(a: Ty, b: Ty) -> Ty {
        if a == b {
            a
        } else {
            Ty::promote(a, b)
        }
    }

    /// The type of a literal number.
    pub fn of_number(n: Number) -> Ty {
        match n {
            Number::Int(_) => Ty::Int,
            Number::Float(_) => Ty::Float,
        }
    }
}

impl Model {
    /// The type of a model value (state, param, constant): the dtype's.
    pub fn value_type(&self) -> Ty {
        if self.dtype.is_float() {
            Ty::Float
        } else {
            Ty::Int
        }
    }

    /// The type of `e`. Inside a function body, `args` are the argument types at the call
    /// (functions are inlined, so a body's type depends on the call). Each aux, and each
    /// function for each combination of argument types, is typed once.
    pub fn type_of(&self, e: &Expr, args: &[Ty]) -> Ty {
        let mut typer = Typer {
            model: self,
            aux: vec![None; self.aux.len()],
            calls: std::collections::HashMap::new(),
        };
        // Aux in dependency order first, so typing one never recurses into another.
        for &i in &self.aux_order {
            let t = typer.ty(&self.aux[i].expr, &[]);
            typer.aux[i] = Some(t);
        }
        typer.ty(e, args)
    }
}

/// [`Model::type_of`] with its memo.
struct Typer<'m> {
    model: &'m Model,
    aux: Vec<Option<Ty>>,
    calls: std::collections::HashMap<(usize, Vec<Ty>), Ty>,
}

impl Typer<'_> {
    fn ty(&mut self, e: &Expr, args: &[Ty]) -> Ty {
        let model = self.model;
        match &e.kind {
            ExprKind::Int(_) => Ty::Int,
            ExprKind::Float(_) | ExprKind::BigInt(_) => Ty::Float,
            ExprKind::Bool(_) => Ty::Bool,
            ExprKind::Name(id) => match id.res {
                Res::State(_) | Res::Param(_) | Res::Const(_) | Res::Lag { .. } => {
                    model.value_type()
                }
                Res::Time => Ty::Float,
                Res::Aux(i) => match self.aux[i] {
                    Some(t) => t,
                    None => {
                        let t = self.ty(&model.aux[i].expr, &[]);
                        self.aux[i] = Some(t);
                        t
                    }
                },
                Res::Arg(i) => args.get(i).copied().unwrap_or(Ty::Float),
                Res::Loop(_) => Ty::Int,
                Res::Unresolved | Res::Builtin(_) | Res::Function(_) => Ty::Float,
            },
            ExprKind::Unary {
                op: UnaryOp::Not, ..
            } => Ty::Bool,
            ExprKind::Unary { operand, .. } => match self.ty(operand, args) {
                Ty::Bool => Ty::Int,
                t => t,
            },
            ExprKind::Binary { op, lhs, rhs } => {
                let (a, b) = (self.ty(lhs, args), self.ty(rhs, args));
                match op {
                    BinOp::Div => Ty::Float,
                    BinOp::Pow => {
                        let non_negative_literal =
                            matches!(rhs.kind, ExprKind::Int(_) | ExprKind::Bool(_));
                        if Ty::promote(a, b) == Ty::Int && non_negative_literal {
                            Ty::Int
                        } else {
                            Ty::Float
                        }
                    }
                    _ => Ty::promote(a, b),
                }
            }
            ExprKind::Compare { .. } => Ty::Bool,
            ExprKind::Logic { operands, .. } => operands
                .iter()
                .map(|o| self.ty(o, args))
                .reduce(Ty::join)
                .unwrap_or(Ty::Bool),
            ExprKind::IfElse {
                then, otherwise, ..
            } => {
                let (a, b) = (self.ty(then, args), self.ty(otherwise, args));
                Ty::join(a, b)
            }
            ExprKind::Reduce { .. } => Ty::Float,
            ExprKind::Call {
                func,
                args: call_args,
                ..
            } => {
                let tys: Vec<Ty> = call_args.iter().map(|a| self.ty(a, args)).collect();
                match func.res {
                    Res::Lag { .. } => model.value_type(),
                    Res::Function(i) => {
                        let key = (i, tys);
                        if let Some(&t) = self.calls.get(&key) {
                            return t;
                        }
                        let t = self.ty(&model.functions[i].body, &key.1);
                        self.calls.insert(key, t);
                        t
                    }
                    Res::Builtin(b) => builtin_type(model, b, &tys),
                    _ => Ty::Float,
                }
            }
        }
    }
}

/// The type of builtin `b` applied to arguments of types `tys`. A float made integral by
/// `int()`, `round()`, `floor()`... stays a float in a float model (lowering keeps Python's
/// exact integer as the float it only ever meets there), an int in an integer model.
fn builtin_type(model: &Model, b: Builtin, tys: &[Ty]) -> Ty {
    let first = tys.first().copied().unwrap_or(Ty::Float);
    let integral = if first == Ty::Float && model.dtype.is_float() {
        Ty::Float
    } else {
        Ty::Int
    };
    match b {
        Builtin::Abs => Ty::promote(first, Ty::Int),
        Builtin::Min | Builtin::Max => tys.iter().copied().reduce(Ty::join).unwrap_or(Ty::Float),
        Builtin::Round if tys.len() == 1 => integral,
        Builtin::Round => Ty::promote(first, Ty::Int),
        Builtin::Floor | Builtin::Ceil | Builtin::Trunc | Builtin::Int => integral,
        Builtin::Sign => Ty::Int,
        Builtin::Float => Ty::Float,
        Builtin::Relu => Ty::promote(first, Ty::Int),
        Builtin::Clip => tys.iter().copied().fold(Ty::Int, Ty::promote),
        Builtin::Bool | Builtin::Heaviside | Builtin::Step | Builtin::Approx => Ty::Bool,
        b if b.class() == crate::builtins::BuiltinClass::EventMacro => Ty::Bool,
        _ => Ty::Float,
    }
}
