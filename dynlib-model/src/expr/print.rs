//! Printing expressions back to text.
//!
//! [`to_string`] gives one normalised spelling per tree: single spaces around binary,
//! comparison and logic operators, `**` for power, and only the parentheses the precedence
//! table (dsl.md §16.1a) needs, so that parsing the output gives the same tree again. It is
//! the text used in messages and wherever a model is written back out. [`float_repr`] spells
//! floats exactly like Python's `repr`, so numbers read the same as in the reference
//! implementation.

use std::fmt::Write as _;

use super::ast::*;

use super::prec::{AND, ATOM, COMPARE, NOT, OR, POWER, SUM, TERM, TERNARY, UNARY};

/// Prints an expression in normalised form; parsing the result gives the same tree (spans
/// aside).
///
/// Literals the parser never produces are printed by what they mean: a negative number
/// as a negation (`-2`, parenthesised where a negation would be), an infinite float as
/// `1e309` and NaN as `(1e309 - 1e309)`, the spellings Python's `ast.unparse` uses.
pub fn to_string(e: &Expr) -> String {
    let mut out = String::new();
    write_expr(&mut out, e);
    out
}

/// Formats a float like Python's `repr`: the shortest digits that read back to the same
/// value, always with a `.0` or an exponent (`1.0`, `0.0001`, `1e-05`, `1.5e+16`), and
/// `inf`, `-inf`, `nan`.
pub fn float_repr(x: f64) -> String {
    if x.is_nan() {
        return "nan".to_string();
    }
    if x.is_infinite() {
        return if x > 0.0 { "inf" } else { "-inf" }.to_string();
    }
    // Rust's `{:e}` gives the shortest round-trip digits, as Python does; only the layout
    // differs.
    let sci = format!("{:e}", x.abs());
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    // Python switches to exponent notation when the decimal point would sit more than 16
    // digits right of the first digit, or 4 or more zeros left of it.
    let point = exp + 1;
    let body = if !(-3..=16).contains(&point) {
        let (first, rest) = digits.split_at(1);
        let sign = if exp < 0 { '-' } else { '+' };
        let dot = if rest.is_empty() { "" } else { "." };
        format!("{first}{dot}{rest}e{sign}{:02}", exp.unsigned_abs())
    } else if point <= 0 {
        format!("0.{}{digits}", "0".repeat(point.unsigned_abs() as usize))
    } else {
        let point = point as usize;
        if point >= digits.len() {
            format!("{digits}{}.0", "0".repeat(point - digits.len()))
        } else {
            format!("{}.{}", &digits[..point], &digits[point..])
        }
    };
    if x.is_sign_negative() {
        format!("-{body}")
    } else {
        body
    }
}

fn precedence(e: &Expr) -> u8 {
    match &e.kind {
        ExprKind::Int(i) if *i < 0 => UNARY,
        ExprKind::Float(x) if x.is_sign_negative() && !x.is_nan() => UNARY,
        ExprKind::Int(_)
        | ExprKind::Float(_)
        | ExprKind::BigInt(_)
        | ExprKind::Bool(_)
        | ExprKind::Name(_)
        | ExprKind::Call { .. }
        | ExprKind::Reduce { .. } => ATOM,
        ExprKind::Unary {
            op: UnaryOp::Not, ..
        } => NOT,
        ExprKind::Unary { .. } => UNARY,
        ExprKind::Binary { op, .. } => match op {
            BinOp::Add | BinOp::Sub => SUM,
            BinOp::Mul | BinOp::Div | BinOp::FloorDiv | BinOp::Mod => TERM,
            BinOp::Pow => POWER,
        },
        ExprKind::Compare { .. } => COMPARE,
        ExprKind::Logic {
            op: LogicOp::Or, ..
        } => OR,
        ExprKind::Logic {
            op: LogicOp::And, ..
        } => AND,
        ExprKind::IfElse { .. } => TERNARY,
    }
}

/// Writes `e`, in parentheses when it binds looser than its position allows.
fn write_child(out: &mut String, e: &Expr, min: u8) {
    if precedence(e) < min {
        out.push('(');
        write_expr(out, e);
        out.push(')');
    } else {
        write_expr(out, e);
    }
}

fn write_list(out: &mut String, items: &[Expr], sep: &str, min: u8) {
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push_str(sep);
        }
        write_child(out, item, min);
    }
}

/// Dispatches to one function per node kind, so that each recursive step only puts a small
/// frame on the stack (unoptimised builds give every temporary of a function its own slot).
fn write_expr(out: &mut String, e: &Expr) {
    match &e.kind {
        ExprKind::Int(_)
        | ExprKind::Float(_)
        | ExprKind::BigInt(_)
        | ExprKind::Bool(_)
        | ExprKind::Name(_) => write_leaf(out, e),
        ExprKind::Unary { op, operand } => write_unary(out, *op, operand),
        ExprKind::Binary { op, lhs, rhs } => write_binary(out, *op, lhs, rhs),
        ExprKind::Compare { first, rest } => write_compare(out, first, rest),
        ExprKind::Logic { op, operands } => write_logic(out, *op, operands),
        ExprKind::IfElse {
            cond,
            then,
            otherwise,
        } => write_if_else(out, cond, then, otherwise),
        ExprKind::Call { func, args, .. } => write_call(out, &func.name, args),
        ExprKind::Reduce { .. } => write_reduce(out, e),
    }
}

fn write_leaf(out: &mut String, e: &Expr) {
    match &e.kind {
        ExprKind::Int(i) => {
            let _ = write!(out, "{i}");
        }
        ExprKind::Float(x) if x.is_nan() => out.push_str("(1e309 - 1e309)"),
        ExprKind::Float(x) if x.is_infinite() => {
            out.push_str(if *x > 0.0 { "1e309" } else { "-1e309" })
        }
        ExprKind::Float(x) => out.push_str(&float_repr(*x)),
        // The float's exact integer value: reads back as the same literal.
        ExprKind::BigInt(x) => {
            let _ = write!(out, "{x:.0}");
        }
        ExprKind::Bool(b) => out.push_str(if *b { "True" } else { "False" }),
        ExprKind::Name(id) => out.push_str(&id.name),
        _ => {}
    }
}

fn write_unary(out: &mut String, op: UnaryOp, operand: &Expr) {
    let (text, min) = match op {
        UnaryOp::Neg => ("-", UNARY),
        UnaryOp::Pos => ("+", UNARY),
        UnaryOp::Not => ("not ", NOT),
    };
    out.push_str(text);
    write_child(out, operand, min);
}

fn write_binary(out: &mut String, op: BinOp, lhs: &Expr, rhs: &Expr) {
    // Left-associative levels accept their own level on the left only; power is
    // right-associative, takes a primary on the left and a signed factor on the right.
    let (text, left, right) = match op {
        BinOp::Add => (" + ", SUM, SUM + 1),
        BinOp::Sub => (" - ", SUM, SUM + 1),
        BinOp::Mul => (" * ", TERM, TERM + 1),
        BinOp::Div => (" / ", TERM, TERM + 1),
        BinOp::FloorDiv => (" // ", TERM, TERM + 1),
        BinOp::Mod => (" % ", TERM, TERM + 1),
        BinOp::Pow => (" ** ", ATOM, UNARY),
    };
    write_child(out, lhs, left);
    out.push_str(text);
    write_child(out, rhs, right);
}

fn write_compare(out: &mut String, first: &Expr, rest: &[(CmpOp, Expr)]) {
    write_child(out, first, COMPARE + 1);
    for (op, operand) in rest {
        out.push_str(match op {
            CmpOp::Lt => " < ",
            CmpOp::Le => " <= ",
            CmpOp::Gt => " > ",
            CmpOp::Ge => " >= ",
            CmpOp::Eq => " == ",
            CmpOp::Ne => " != ",
        });
        write_child(out, operand, COMPARE + 1);
    }
}

fn write_logic(out: &mut String, op: LogicOp, operands: &[Expr]) {
    // A nested node of the same operator keeps its parentheses: the parser flattens
    // `a or b or c`, so `(a or b) or c` is a different tree.
    let (sep, own) = match op {
        LogicOp::Or => (" or ", OR),
        LogicOp::And => (" and ", AND),
    };
    write_list(out, operands, sep, own + 1);
}

fn write_if_else(out: &mut String, cond: &Expr, then: &Expr, otherwise: &Expr) {
    write_child(out, then, OR);
    out.push_str(" if ");
    write_child(out, cond, OR);
    out.push_str(" else ");
    write_child(out, otherwise, TERNARY);
}

fn write_call(out: &mut String, name: &str, args: &[Expr]) {
    out.push_str(name);
    out.push('(');
    write_list(out, args, ", ", TERNARY);
    out.push(')');
}

fn write_reduce(out: &mut String, e: &Expr) {
    let ExprKind::Reduce {
        op,
        body,
        var,
        range,
        conds,
        ..
    } = &e.kind
    else {
        return;
    };
    out.push_str(match op {
        ReduceOp::Sum => "sum(",
        ReduceOp::Prod => "prod(",
    });
    write_child(out, body, TERNARY);
    out.push_str(" for ");
    out.push_str(var);
    out.push_str(" in range(");
    write_list(out, range, ", ", TERNARY);
    out.push(')');
    for cond in conds {
        out.push_str(" if ");
        write_child(out, cond, OR);
    }
    out.push(')');
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::expr::parse;

    /// Sets every span to 0..0 so trees from different texts compare by structure.
    fn strip(mut e: Expr) -> Expr {
        fn go(e: &mut Expr) {
            e.span = 0..0;
            match &mut e.kind {
                ExprKind::Call { func_span, .. } => *func_span = 0..0,
                ExprKind::Reduce { var_span, .. } => *var_span = 0..0,
                _ => {}
            }
            e.for_each_child_mut(go);
        }
        go(&mut e);
        e
    }

    fn normal(text: &str) -> String {
        to_string(&parse(text).unwrap_or_else(|e| panic!("{text:?}: {e:?}")))
    }

    /// Checks that printing `text`'s tree and parsing it back gives the same tree.
    fn assert_round_trip(text: &str) {
        let tree = strip(parse(text).unwrap_or_else(|e| panic!("{text:?}: {e:?}")));
        let printed = to_string(&tree);
        let again =
            parse(&printed).unwrap_or_else(|e| panic!("{text:?} printed as {printed:?}: {e:?}"));
        assert_eq!(strip(again), tree, "{text:?} printed as {printed:?}");
        assert_eq!(to_string(&tree), printed, "printing is deterministic");
    }

    #[test]
    fn float_repr_matches_python() {
        // (bits, repr(x)) from CPython.
        let cases: &[(u64, &str)] = &[
            (0x0000000000000000, "0.0"),
            (0x8000000000000000, "-0.0"),
            (0x3ff0000000000000, "1.0"),
            (0xbff0000000000000, "-1.0"),
            (0x3fb999999999999a, "0.1"),
            (0x3fe0000000000000, "0.5"),
            (0x3ff8000000000000, "1.5"),
            (0x4000000000000000, "2.0"),
            (0x4024000000000000, "10.0"),
            (0x4059000000000000, "100.0"),
            (0x430c6bf526340000, "1000000000000000.0"),
            (0x4341c37937e08000, "1e+16"),
            (0x4376345785d8a000, "1e+17"),
            (0x4341c37937e07fff, "9999999999999998.0"),
            (0x43118b54f22aeb00, "1234567890123456.0"),
            (0x4345ee2a2eb5a5c4, "1.2345678901234568e+16"),
            (0x3f1a36e2eb1c432d, "0.0001"),
            (0x3f202e4b6ce5dc68, "0.00012345"),
            (0x3ee4f8b588e368f1, "1e-05"),
            (0x3eef75104d551d69, "1.5e-05"),
            (0x3f1a36371ea531a8, "9.999e-05"),
            (0x0000000000000001, "5e-324"),
            (0x0010000000000000, "2.2250738585072014e-308"),
            (0x7fefffffffffffff, "1.7976931348623157e+308"),
            (0x3fd5555555555555, "0.3333333333333333"),
            (0x3fe5555555555555, "0.6666666666666666"),
            (0x3fd3333333333334, "0.30000000000000004"),
            (0x405edd2f1a9fbe77, "123.456"),
            (0x4480f0cf064dd592, "1e+22"),
            (0x44b52d02c7e14af6, "1e+23"),
            (0x54b249ad2594c37d, "1e+100"),
            (0xab2bff2ee48e0530, "-1e-100"),
            (0x400921fb54442d18, "3.141592653589793"),
            (0x4005bf0a8b145769, "2.718281828459045"),
            (0x4011666666666666, "4.35"),
            (0x3fd3333333333333, "0.3"),
            (0x4059200000000000, "100.5"),
            (0xbe90c6f7a0b5ed8d, "-2.5e-07"),
            (0x44dfe185ca57c517, "6.02214076e+23"),
            (0x7e6ddd4baa009303, "1e+301"),
            (0x41b1de784a000000, "299792458.0"),
            (0x3e080d43de9cc603, "7e-10"),
            (0x3f50624dd2f1a9fc, "0.001"),
            (0x3f847ae147ae147b, "0.01"),
            (0xf2a74de452e6b438, "-1.989032661366619e+244"),
            (0x6513270e269e0d37, "7.761117632285041e+178"),
            (0x0c5c7fd0a6a3a450, "3.980498358697587e-249"),
            (0xd23f0824128b2f33, "-1.5432835417340557e+88"),
            (0x1818e811892f902b, "1.3647584518757569e-192"),
            (0x9531985d5d9dc9f8, "-1.3701135617873088e-206"),
            (0xe8e25d940ed90475, "-1.7160537630466207e+197"),
            (0x36f675cc81e74ef5, "6.294675241195386e-44"),
            (0x1600a35a099950d8, "1.0613447212142254e-202"),
            (0x6b0d549b6f03675a, "4.708325160387546e+207"),
            (0x3d9c172411e20b8f, "6.387016158513563e-12"),
            (0x8d116ece1738f7d9, "-9.973130378568733e-246"),
            (0x0f21ddb66cad4a26, "8.779753225680271e-236"),
            (0x90c192cfd3ac94af, "-5.795503248498993e-228"),
            (0xf28c105d1fb17c23, "-5.988180159386011e+243"),
            (0xa170b33839263059, "-1.306052388527796e-147"),
            (0x953f48f1a09f76b5, "-2.436117699484841e-206"),
            (0x0fd630f1f29d0da9, "2.233386999150174e-232"),
            (0x95e60af593bd04cf, "-3.51527970626667e-203"),
            (0x0cb1e29c658cda14, "1.5987381841032883e-247"),
            (0x3898d190f9ebdacc, "4.6678633181812096e-36"),
            (0x8e81973e0becd7b0, "-8.441872792105456e-239"),
            (0x2217beaddbc496cb, "1.9015657400796622e-144"),
            (0x6b4cb2424a23d596, "7.370437700706684e+208"),
            (0x8a6a63ec24ede6a4, "-1.7163996725272777e-258"),
            (0x922766581e27a1c0, "-3.2367190832119987e-221"),
            (0x8f6d05584ef8aa38, "-2.2818334634712625e-234"),
            (0xae97ba94d0eda82f, "-3.0536383926309363e-84"),
            (0x1a61dbe22e44158b, "1.3449551894627777e-181"),
            (0x923a736994e3bf91, "-7.317495976062606e-221"),
            (0x301850c5a38fd547, "5.249822308814304e-77"),
            (0x18f135d25f557203, "1.5450754142984396e-188"),
            (0xb64ce4228c38fb29, "-3.953625698224792e-47"),
            (0x907a70c31012f037, "-2.72491267476498e-229"),
            (0x9e7769b10f4205b4, "-6.505141861548772e-162"),
            (0x7f15052434b9b5df, "1.441484839555994e+304"),
            (0x881ed162ae2eb154, "-1.4583679262758548e-269"),
            (0xc6f877186d76b07e, "-7.939416668807721e+33"),
            (0x7731af10506bf2ef, "1.4255183989699612e+266"),
            (0xec66a78795e761d1, "-1.525315701232403e+214"),
            (0xc05768665ae6aeb0, "-93.63124725844932"),
            (0xc0790774c2fe4b30, "-400.46600627263524"),
            (0x408266125b378892, "588.7589630449822"),
            (0x4078dfd266af5188, "397.9888674591425"),
            (0xc07ffce96258947b, "-511.80697855569423"),
            (0x40629b1e11a1fe30, "148.84742051734202"),
            (0x4049324e12e3b920, "50.393007622902815"),
            (0x408772332e8ef38c, "750.2749911468577"),
            (0x407cae3fcfa35634, "458.89057887843524"),
            (0xc07a81fdd47c29fa, "-424.1244702196269"),
            (0x408e02cc2ce266d8, "960.3496949851642"),
            (0xc087def292802266, "-763.8684434900758"),
            (0xc0647823b0184da0, "-163.75435642954562"),
            (0x408012413f5c1c92, "514.2818591304988"),
            (0xc085c03f589575a8, "-696.0309306789904"),
            (0xc03612e47e934e40, "-22.073799048388764"),
            (0xc08cccaf133bf63c, "-921.5854859051246"),
            (0x407506e84bf67b60, "336.4317130687905"),
            (0x40808922449c26c8, "529.1417324256263"),
            (0x406241a90168c0d8, "146.05188055476788"),
            (0x3dd810a09e6d27f8, "8.754778118308883e-11"),
            (0x3e2d375eadf5bb08, "3.401223621911955e-09"),
            (0x4156ac64b158e2df, "5943698.771050184"),
            (0x3a83bae728364608, "7.968919758215943e-27"),
            (0x4625342a205cf3d5, "8.399677805125414e+29"),
            (0x42b88d0378f02bc6, "26993927712811.773"),
            (0x3a4a4f4db47d5783, "6.6415220547467445e-28"),
            (0x3da0140fa676e882, "7.311593346408904e-12"),
            (0x42978adb6b7ff2c0, "6471288545276.6875"),
            (0x3d6ceb3d85f73752, "8.219247866097149e-13"),
        ];
        for (bits, expected) in cases {
            let x = f64::from_bits(*bits);
            assert_eq!(float_repr(x), *expected, "{x:e}");
        }
        assert_eq!(float_repr(f64::INFINITY), "inf");
        assert_eq!(float_repr(f64::NEG_INFINITY), "-inf");
        assert_eq!(float_repr(f64::NAN), "nan");
    }

    #[test]
    fn float_repr_round_trips() {
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..5000 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let x = f64::from_bits(state);
            if x.is_finite() {
                let text = float_repr(x);
                assert_eq!(
                    text.parse::<f64>().unwrap().to_bits(),
                    x.to_bits(),
                    "{text}"
                );
                assert!(text.contains('.') || text.contains('e'), "{text}");
            }
        }
    }

    #[test]
    fn normal_form() {
        let cases = [
            ("a+b", "a + b"),
            ("a  *b-c", "a * b - c"),
            ("x^2", "x ** 2"),
            ("-x**2", "-x ** 2"),
            ("(-x)**2", "(-x) ** 2"),
            ("-(x**2)", "-x ** 2"),
            ("(a**b)**c", "(a ** b) ** c"),
            ("a**(b**c)", "a ** b ** c"),
            ("a**-b", "a ** -b"),
            ("a - (b - c)", "a - (b - c)"),
            ("(a - b) - c", "a - b - c"),
            ("a / (b * c)", "a / (b * c)"),
            ("(a / b) * c", "a / b * c"),
            ("-(a + b)", "-(a + b)"),
            ("- - a", "--a"),
            ("+a", "+a"),
            ("not(a)", "not a"),
            ("not (a and b)", "not (a and b)"),
            ("(not a) == b", "(not a) == b"),
            ("not a == b", "not a == b"),
            ("(a < b) < c", "(a < b) < c"),
            ("a<b<=c", "a < b <= c"),
            ("(a or b) or c", "(a or b) or c"),
            ("a or (b or c)", "a or (b or c)"),
            ("a or b and c", "a or b and c"),
            ("(a or b) and c", "(a or b) and c"),
            ("(a if b else c) if d else e", "(a if b else c) if d else e"),
            ("a if b else (c if d else e)", "a if b else c if d else e"),
            ("a if (b if c else d) else e", "a if (b if c else d) else e"),
            ("(a if b else c) + 1", "(a if b else c) + 1"),
            ("f( a,b , )", "f(a, b)"),
            ("g()", "g()"),
            ("math.sin(x)", "sin(x)"),
            ("math.pi * 2", "pi * 2"),
            ("True and False", "True and False"),
            ("1_000 + 0x10", "1000 + 16"),
            ("1. + .5 + 1e-5 + 1E16", "1.0 + 0.5 + 1e-05 + 1e+16"),
            ("1e400", "1e309"),
            (
                "sum( i*i for i in range(N) )",
                "sum(i * i for i in range(N))",
            ),
            (
                "sum(i for i in range(1, N, 2) if i > 1 if (a or b))",
                "sum(i for i in range(1, N, 2) if i > 1 if a or b)",
            ),
            (
                "prod((i+1) for i in range(N))",
                "prod(i + 1 for i in range(N))",
            ),
            (
                "sum(i for i in range(3) if (a if b else c))",
                "sum(i for i in range(3) if (a if b else c))",
            ),
            (
                "sum(a if b else c for i in range(3))",
                "sum(a if b else c for i in range(3))",
            ),
            ("f(a if b else c)", "f(a if b else c)"),
            ("(x)", "x"),
        ];
        for (text, expected) in cases {
            assert_eq!(normal(text), expected, "{text}");
            assert_round_trip(text);
        }
    }

    #[test]
    fn literals_the_parser_never_makes() {
        let num = |kind| Expr::new(kind, 0..0);
        let pow = |lhs: Expr, rhs: Expr| {
            Expr::new(
                ExprKind::Binary {
                    op: BinOp::Pow,
                    lhs: Box::new(lhs),
                    rhs: Box::new(rhs),
                },
                0..0,
            )
        };
        assert_eq!(
            to_string(&pow(num(ExprKind::Int(-2)), num(ExprKind::Int(2)))),
            "(-2) ** 2"
        );
        assert_eq!(
            to_string(&pow(num(ExprKind::Float(-1.5)), num(ExprKind::Int(-1)))),
            "(-1.5) ** -1"
        );
        assert_eq!(
            to_string(&pow(
                num(ExprKind::Float(f64::NEG_INFINITY)),
                num(ExprKind::Int(2))
            )),
            "(-1e309) ** 2"
        );
        assert_eq!(
            to_string(&pow(num(ExprKind::Float(f64::NAN)), num(ExprKind::Int(2)))),
            "(1e309 - 1e309) ** 2"
        );
        assert_eq!(to_string(&num(ExprKind::Float(-0.0))), "-0.0");
        let empty = Expr::new(
            ExprKind::Logic {
                op: LogicOp::And,
                operands: vec![],
            },
            0..0,
        );
        assert_eq!(to_string(&empty), "");
    }

    #[test]
    fn round_trip_corpus() {
        let corpus = [
            "2^3^2",
            "-2**2",
            "(-2)**2",
            "2**-x",
            "x**-1",
            "-x^-y^-z",
            "not a == b",
            "not not a",
            "0 if x<0 else 1 if x<10 else 2",
            "(0 if x<0 else 1) if y else 2",
            "a < b < c != d",
            "a == (b == c)",
            "a and b and c or d and not e",
            "a and (b and c)",
            "a or (b if c else d)",
            "(a or b) < c",
            "-(a < b)",
            "+(-(+x))",
            "a % b // c / d * e",
            "a % (b // c)",
            "a - -b",
            "a - (-b)",
            "(a - b) ** (c - d)",
            "(a * b) ** c ** (d / e)",
            "f(g(h(x)), -y, z if w else v)",
            "sum(sum(j * i for j in range(i)) for i in range(1, n))",
            "prod(x + i for i in range(a, b, -1) if i % 2 == 0 if not (i > 4 or i < 2))",
            "sum((a if b else c) for i in range(3))",
            "sum(i for i in range(sum(j for j in range(3))))",
            "-sum(i for i in range(3)) ** 2",
            "(sum(i for i in range(3))) ** 2",
            "cross_up(x, 0.5) and lag_x(2) > x",
            "math.exp(-t / tau) * math.e",
            "1e-5 * 0.1 + 3.0e300 - 5e-324",
            "1_0.0_1 + 0b11 + 0o7 + 0xff",
            "True + False * True",
            "(x)",
            "((x + y))",
            "((a) if (b) else (c))",
            "x if y else z if w else v if u else s",
            "(x if y else z) if w else v",
            "a if b or c else d and e",
            "(a and b) if (c and d) else (e or f)",
            "not a if b else c",
            "(not a) if b else c",
            "a < (b if c else d)",
            "-(-2)",
            "- 2 ** 2 ** -2",
            "((-2) ** 2) ** 2",
            "(a ** b) ** c",
            "(a + b) * (c - d) / (e % f)",
            "a + b * c - d / e",
        ];
        for text in corpus {
            assert_round_trip(text);
        }
    }
}
