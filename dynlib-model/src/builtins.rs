//! The builtin functions and macros of the expression language (dsl.md §16.2).

/// How many positional arguments a builtin takes.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Arity {
    /// Exactly this many.
    Exact(usize),
    /// From `min` to `max` inclusive.
    Range(usize, usize),
    /// At least this many.
    AtLeast(usize),
}

impl Arity {
    /// True when `n` arguments are accepted.
    pub fn accepts(self, n: usize) -> bool {
        match self {
            Arity::Exact(k) => n == k,
            Arity::Range(a, b) => (a..=b).contains(&n),
            Arity::AtLeast(k) => n >= k,
        }
    }

    /// "1 argument", "2 or 3 arguments", "at least 2 arguments".
    pub fn describe(self) -> String {
        let plural = |k: usize| if k == 1 { "" } else { "s" };
        match self {
            Arity::Exact(k) => format!("{k} argument{}", plural(k)),
            Arity::Range(a, b) if b == a + 1 => format!("{a} or {b} arguments"),
            Arity::Range(a, b) => format!("{a} to {b} arguments"),
            Arity::AtLeast(k) => format!("at least {k} argument{}", plural(k)),
        }
    }
}

/// What family a builtin belongs to; lowering treats each family differently.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum BuiltinClass {
    /// A math function with libm semantics (or Python's builtins `abs`, `min`, `max`, `round`).
    Math,
    /// A cast: `int`, `float`, `bool`.
    Cast,
    /// A scalar macro expanded inline (`sign`, `relu`, ...).
    Macro,
    /// An event macro comparing a state with its previous committed value.
    EventMacro,
}

macro_rules! builtins {
    ($( $variant:ident = $name:literal, $class:ident, $arity:expr; )*) => {
        /// A builtin function, cast or macro.
        #[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
        pub enum Builtin {
            $(
                #[doc = concat!("`", $name, "`")]
                $variant,
            )*
        }

        impl Builtin {
            /// Every builtin.
            pub const ALL: &'static [Builtin] = &[$(Builtin::$variant),*];

            /// The name as written in expressions.
            pub fn name(self) -> &'static str {
                match self { $(Builtin::$variant => $name,)* }
            }

            /// The family.
            pub fn class(self) -> BuiltinClass {
                match self { $(Builtin::$variant => BuiltinClass::$class,)* }
            }

            /// Accepted argument counts.
            pub fn arity(self) -> Arity {
                use Arity::*;
                match self { $(Builtin::$variant => $arity,)* }
            }

            /// Looks a builtin up by name.
            pub fn from_name(name: &str) -> Option<Builtin> {
                match name { $($name => Some(Builtin::$variant),)* _ => None }
            }
        }
    };
}

builtins! {
    Abs = "abs", Math, Exact(1);
    Min = "min", Math, AtLeast(2);
    Max = "max", Math, AtLeast(2);
    Round = "round", Math, Range(1, 2);
    Exp = "exp", Math, Exact(1);
    Expm1 = "expm1", Math, Exact(1);
    Log = "log", Math, Range(1, 2);
    Log10 = "log10", Math, Exact(1);
    Log2 = "log2", Math, Exact(1);
    Log1p = "log1p", Math, Exact(1);
    Sqrt = "sqrt", Math, Exact(1);
    Sin = "sin", Math, Exact(1);
    Cos = "cos", Math, Exact(1);
    Tan = "tan", Math, Exact(1);
    Asin = "asin", Math, Exact(1);
    Acos = "acos", Math, Exact(1);
    Atan = "atan", Math, Exact(1);
    Atan2 = "atan2", Math, Exact(2);
    Sinh = "sinh", Math, Exact(1);
    Cosh = "cosh", Math, Exact(1);
    Tanh = "tanh", Math, Exact(1);
    Asinh = "asinh", Math, Exact(1);
    Acosh = "acosh", Math, Exact(1);
    Atanh = "atanh", Math, Exact(1);
    Floor = "floor", Math, Exact(1);
    Ceil = "ceil", Math, Exact(1);
    Trunc = "trunc", Math, Exact(1);
    Hypot = "hypot", Math, AtLeast(2);
    Copysign = "copysign", Math, Exact(2);
    Erf = "erf", Math, Exact(1);
    Erfc = "erfc", Math, Exact(1);
    Int = "int", Cast, Exact(1);
    Float = "float", Cast, Exact(1);
    Bool = "bool", Cast, Exact(1);
    Sign = "sign", Macro, Exact(1);
    Heaviside = "heaviside", Macro, Exact(1);
    Step = "step", Macro, Exact(1);
    Relu = "relu", Macro, Exact(1);
    Clip = "clip", Macro, Exact(3);
    Approx = "approx", Macro, Exact(3);
    CrossUp = "cross_up", EventMacro, Exact(2);
    CrossDown = "cross_down", EventMacro, Exact(2);
    CrossEither = "cross_either", EventMacro, Exact(2);
    Changed = "changed", EventMacro, Exact(1);
    Increasing = "increasing", EventMacro, Exact(1);
    Decreasing = "decreasing", EventMacro, Exact(1);
    InInterval = "in_interval", EventMacro, Exact(3);
    EntersInterval = "enters_interval", EventMacro, Exact(3);
    LeavesInterval = "leaves_interval", EventMacro, Exact(3);
}

impl Builtin {
    /// True for event macros whose first argument must be a bare state and which read its
    /// previous committed value (every event macro except `in_interval`).
    pub fn needs_lag(self) -> bool {
        self.class() == BuiltinClass::EventMacro && self != Builtin::InInterval
    }
}

/// Names with a meaning of their own in expressions besides the builtins: user functions may
/// not take them.
pub const RESERVED_CALLABLES: &[&str] = &["sum", "prod", "range", "len", "math"];

/// The names no model identifier may take.
pub const RESERVED_NAMES: &[&str] = &["e", "pi", "t"];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for b in Builtin::ALL {
            assert_eq!(Builtin::from_name(b.name()), Some(*b));
        }
        assert!(Builtin::CrossUp.needs_lag());
        assert!(!Builtin::InInterval.needs_lag());
        assert!(Arity::AtLeast(2).accepts(5));
        assert_eq!(Arity::Range(1, 2).describe(), "1 or 2 arguments");
    }
}
