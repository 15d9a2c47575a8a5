//! The optimisation passes: folding agrees with the reference semantics bit for bit, CSE
//! merges only what it may, DCE and inlining keep programs verifier-clean, and the whole
//! pipeline changes no bit of any result of random programs.

mod common;

use common::{assert_verifies, random_program, run_main, F32_BITS, F64_BITS, I32S, I64S};
use dynlib_ir::passes::{self, DominatorTree};
use dynlib_ir::semantics;
use dynlib_ir::*;

/// `@f() -> (ty)` computing `inst` on constants, folded; returns the resulting constant's
/// bits (panics when the result was not folded to a constant).
fn fold_to_const(
    consts: &[(Type, u64)],
    ty: Type,
    make: impl Fn(&mut FunctionBuilder, &[Value]) -> Value,
) -> Option<u64> {
    let mut f = Function::new(
        "f",
        Signature {
            params: vec![],
            returns: vec![ty],
        },
    );
    let mut b = FunctionBuilder::new(&mut f);
    let args: Vec<Value> = consts
        .iter()
        .map(|&(t, bits)| b.constant(t, bits))
        .collect();
    let r = make(&mut b, &args);
    b.ret(&[r]);
    let mut p = Program::new();
    p.add(f);
    assert_verifies(&p, "before folding");
    passes::constant_fold(&mut p);
    assert_verifies(&p, "after folding");
    let f = &p.functions[0];
    let ret = *f.blocks[0].insts.last().unwrap();
    let InstData::Return { args } = f.inst(ret) else {
        panic!()
    };
    match f.values[args[0].index()].def {
        ValueDef::Result(i, 0) => match f.inst(i) {
            InstData::Const { bits } => Some(*bits),
            _ => None,
        },
        _ => None,
    }
}

#[test]
fn f64_arithmetic_folds_to_the_interpreter_bits() {
    type Op = (BinaryOp, fn(f64, f64) -> f64);
    let ops: [Op; 6] = [
        (BinaryOp::Add, |a, b| a + b),
        (BinaryOp::Sub, |a, b| a - b),
        (BinaryOp::Mul, |a, b| a * b),
        (BinaryOp::Div, |a, b| a / b),
        (BinaryOp::FloorDiv, semantics::floordiv_f64),
        (BinaryOp::Mod, semantics::mod_f64),
    ];
    for &a in F64_BITS {
        for &b in F64_BITS {
            for (op, reference) in ops {
                let got = fold_to_const(&[(Type::F64, a), (Type::F64, b)], Type::F64, |bld, v| {
                    bld.binary(op, v[0], v[1])
                });
                let want = reference(f64::from_bits(a), f64::from_bits(b)).to_bits();
                assert_eq!(
                    got,
                    Some(want),
                    "{op:?} {:?} {:?}",
                    f64::from_bits(a),
                    f64::from_bits(b)
                );
            }
        }
    }
}

#[test]
fn signed_zero_and_nan_survive_folding() {
    let neg_zero = (-0.0f64).to_bits();
    // -0.0 + -0.0 is -0.0; 0.0 + -0.0 is +0.0; neg flips only the sign bit.
    let add = |a: u64, b: u64| {
        fold_to_const(&[(Type::F64, a), (Type::F64, b)], Type::F64, |bld, v| {
            bld.add(v[0], v[1])
        })
    };
    assert_eq!(add(neg_zero, neg_zero), Some(neg_zero));
    assert_eq!(add(0, neg_zero), Some(0));
    let payload = 0x7ff8_0000_0000_0abc;
    let neg = |a: u64| fold_to_const(&[(Type::F64, a)], Type::F64, |bld, v| bld.neg(v[0]));
    assert_eq!(neg(0), Some(neg_zero));
    assert_eq!(neg(payload), Some(payload | 1 << 63));
    // Python's floored modulo keeps the divisor's sign, also on zero results.
    let m = fold_to_const(
        &[
            (Type::F64, 4.0f64.to_bits()),
            (Type::F64, (-2.0f64).to_bits()),
        ],
        Type::F64,
        |bld, v| bld.binary(BinaryOp::Mod, v[0], v[1]),
    );
    assert_eq!(m, Some(neg_zero));
    // NaN compares unequal to itself.
    let c = fold_to_const(
        &[(Type::F64, payload), (Type::F64, payload)],
        Type::Bool,
        |bld, v| bld.cmp(CmpOp::Eq, v[0], v[1]),
    );
    assert_eq!(c, Some(0));
    let c = fold_to_const(
        &[(Type::F64, payload), (Type::F64, payload)],
        Type::Bool,
        |bld, v| bld.cmp(CmpOp::Ne, v[0], v[1]),
    );
    assert_eq!(c, Some(1));
}

#[test]
fn f32_arithmetic_folds_in_single_precision() {
    for &a in F32_BITS {
        for &b in F32_BITS {
            let got = fold_to_const(&[(Type::F32, a), (Type::F32, b)], Type::F32, |bld, v| {
                bld.div(v[0], v[1])
            });
            let want = (f32::from_bits(a as u32) / f32::from_bits(b as u32)).to_bits() as u64;
            assert_eq!(got, Some(want));
            // No f32 reference function for floored division: left alone.
            let got = fold_to_const(&[(Type::F32, a), (Type::F32, b)], Type::F32, |bld, v| {
                bld.binary(BinaryOp::FloorDiv, v[0], v[1])
            });
            assert_eq!(got, None);
        }
    }
}

#[test]
fn integer_arithmetic_folds_wrapping_and_floored() {
    for &a in I64S {
        for &b in I64S {
            let c = [(Type::I64, a as u64), (Type::I64, b as u64)];
            let fd = fold_to_const(&c, Type::I64, |bld, v| {
                bld.binary(BinaryOp::FloorDiv, v[0], v[1])
            });
            assert_eq!(fd, Some(semantics::floordiv_i64(a, b) as u64));
            let m = fold_to_const(&c, Type::I64, |bld, v| {
                bld.binary(BinaryOp::Mod, v[0], v[1])
            });
            assert_eq!(m, Some(semantics::mod_i64(a, b) as u64));
            let mul = fold_to_const(&c, Type::I64, |bld, v| bld.mul(v[0], v[1]));
            assert_eq!(mul, Some(a.wrapping_mul(b) as u64));
            let lt = fold_to_const(&c, Type::Bool, |bld, v| bld.cmp(CmpOp::Lt, v[0], v[1]));
            assert_eq!(lt, Some((a < b) as u64));
        }
    }
    for &a in I32S {
        for &b in I32S {
            let c = [(Type::I32, a as i64 as u64), (Type::I32, b as i64 as u64)];
            let add = fold_to_const(&c, Type::I32, |bld, v| bld.add(v[0], v[1]));
            assert_eq!(
                add,
                Some(a.wrapping_add(b) as i64 as u64),
                "i32 results stay sign-extended"
            );
            let m = fold_to_const(&c, Type::I32, |bld, v| {
                bld.binary(BinaryOp::Mod, v[0], v[1])
            });
            assert_eq!(m, Some(semantics::mod_i32(a, b) as i64 as u64));
            let fd = fold_to_const(&c, Type::I32, |bld, v| {
                bld.binary(BinaryOp::FloorDiv, v[0], v[1])
            });
            assert_eq!(fd, Some(semantics::floordiv_i32(a, b) as i64 as u64));
        }
        let neg = fold_to_const(&[(Type::I32, a as i64 as u64)], Type::I32, |bld, v| {
            bld.neg(v[0])
        });
        assert_eq!(neg, Some(a.wrapping_neg() as i64 as u64));
    }
}

#[test]
fn conversions_fold_through_semantics_convert() {
    let types = [Type::F64, Type::F32, Type::I64, Type::I32, Type::Bool];
    let samples = |t: Type| -> Vec<u64> {
        match t {
            Type::F64 => F64_BITS.to_vec(),
            Type::F32 => F32_BITS.to_vec(),
            Type::I64 => I64S.iter().map(|&x| x as u64).collect(),
            Type::I32 => I32S.iter().map(|&x| x as i64 as u64).collect(),
            _ => vec![0, 1],
        }
    };
    for from in types {
        for to in types {
            if from == to {
                continue;
            }
            for bits in samples(from) {
                let got = fold_to_const(&[(from, bits)], to, |bld, v| bld.convert(v[0], to));
                assert_eq!(
                    got,
                    Some(semantics::convert(bits, from, to)),
                    "{from} {bits:x} -> {to}"
                );
            }
        }
    }
}

#[test]
fn bools_fold_logically_and_orderings_of_bools_are_left_alone() {
    let c = [(Type::Bool, 1), (Type::Bool, 0)];
    assert_eq!(
        fold_to_const(&c, Type::Bool, |b, v| b.binary(BinaryOp::And, v[0], v[1])),
        Some(0)
    );
    assert_eq!(
        fold_to_const(&c, Type::Bool, |b, v| b.binary(BinaryOp::Or, v[0], v[1])),
        Some(1)
    );
    assert_eq!(fold_to_const(&c, Type::Bool, |b, v| b.not(v[0])), Some(0));
    assert_eq!(
        fold_to_const(&c, Type::Bool, |b, v| b.cmp(CmpOp::Ne, v[0], v[1])),
        Some(1)
    );
    assert_eq!(
        fold_to_const(&c, Type::Bool, |b, v| b.cmp(CmpOp::Lt, v[0], v[1])),
        None
    );
}

#[test]
fn math_is_never_folded() {
    for &m in MathFn::ALL {
        let consts = vec![(Type::F64, 0.5f64.to_bits()); m.arity()];
        let got = fold_to_const(&consts, Type::F64, |b, v| b.math(m, v));
        assert_eq!(got, None, "{}", m.name());
    }
}

#[test]
fn no_floating_point_identities() {
    let text = "function @f(f64) -> (f64) {\nblock0(v0: f64):\n    v1:f64 = const 1.0\n    v2:f64 = mul v0, v1\n    v3:f64 = const 0.0\n    v4:f64 = add v2, v3\n    v5:f64 = sub v4, v4\n    v6:f64 = div v5, v1\n    return v6\n}\n";
    let mut p = parse_program(text).unwrap();
    passes::optimize(&mut p);
    assert_eq!(
        print_program(&p),
        text.replace("1.0", "0x3ff0000000000000 ; 1.0")
            .replace("0.0\n", "0x0000000000000000 ; 0.0\n")
    );
}

#[test]
fn select_on_a_constant_and_same_type_convert_become_their_operand() {
    let text = "function @f(f64, f64) -> (f64) {\nblock0(v0: f64, v1: f64):\n    v2:bool = const false\n    v3:f64 = select v2, v0, v1\n    v4:f64 = convert v3\n    return v4\n}\n";
    let mut p = parse_program(text).unwrap();
    assert!(passes::constant_fold(&mut p));
    assert_verifies(&p, "after fold");
    passes::dead_code(&mut p);
    assert_verifies(&p, "after dce");
    assert_eq!(
        print_program(&p),
        "function @f(f64, f64) -> (f64) {\nblock0(v0: f64, v1: f64):\n    return v1\n}\n"
    );
}

#[test]
fn cse_merges_pure_instructions_but_not_loads() {
    let text = "function @f(ptr<f64>, f64) -> (f64) {\nblock0(v0: ptr<f64>, v1: f64):\n    v2:i64 = const 0\n    v3:f64 = load v0, v2\n    v4:f64 = load v0, v2\n    v5:f64 = math cos v1\n    v6:f64 = math cos v1\n    v7:bool = cmp gt v5, v6\n    v8:bool = cmp gt v5, v6\n    v9:f64 = select v7, v3, v4\n    v10:f64 = select v8, v3, v4\n    v11:i64 = convert v10\n    v12:i64 = convert v9\n    v13:i32 = convert v9\n    v14:f64 = convert v12\n    v15:f64 = convert v13\n    v16:f64 = add v14, v15\n    return v16\n}\n";
    let mut p = parse_program(text).unwrap();
    assert!(passes::cse(&mut p));
    assert_verifies(&p, "after cse");
    passes::dead_code(&mut p);
    assert_verifies(&p, "after dce");
    assert_eq!(
        print_program(&p),
        "function @f(ptr<f64>, f64) -> (f64) {\nblock0(v0: ptr<f64>, v1: f64):\n    v2:i64 = const 0\n    v3:f64 = load v0, v2\n    v4:f64 = load v0, v2\n    v5:f64 = math cos v1\n    v6:bool = cmp gt v5, v5\n    v7:f64 = select v6, v3, v4\n    v8:i64 = convert v7\n    v9:i32 = convert v7\n    v10:f64 = convert v8\n    v11:f64 = convert v9\n    v12:f64 = add v10, v11\n    return v12\n}\n"
    );
}

#[test]
fn cse_respects_dominance() {
    // Siblings compute the same expression; neither dominates the other, so both stay. The
    // join recomputes it too, and is not dominated by either sibling; the entry's copy would
    // dominate everything, but there is none.
    let text = "function @f(bool, f64) -> (f64) {\nblock0(v0: bool, v1: f64):\n    brif v0, block1, block2\nblock1:\n    v2:f64 = mul v1, v1\n    jump block3(v2)\nblock2:\n    v3:f64 = mul v1, v1\n    jump block3(v3)\nblock3(v4: f64):\n    v5:f64 = mul v1, v1\n    v6:f64 = add v4, v5\n    return v6\n}\n";
    let mut p = parse_program(text).unwrap();
    assert!(!passes::cse(&mut p));
    assert_eq!(print_program(&p), text);
}

#[test]
fn dce_removes_unreachable_blocks_and_renumbers() {
    let text = "function @f(bool) -> (f64) {\nblock0(v0: bool):\n    v1:bool = const true\n    brif v1, block3, block1\nblock1:\n    jump block2\nblock2:\n    v2:f64 = const 2.0\n    jump block3\nblock3:\n    v3:f64 = const 3.0\n    return v3\n}\n";
    let mut p = parse_program(text).unwrap();
    passes::constant_fold(&mut p);
    assert_verifies(&p, "after fold");
    assert!(passes::dead_code(&mut p));
    assert_verifies(&p, "after dce");
    assert_eq!(
        print_program(&p),
        "function @f(bool) -> (f64) {\nblock0(v0: bool):\n    jump block1\nblock1:\n    v1:f64 = const 0x4008000000000000 ; 3.0\n    return v1\n}\n"
    );
    // Compacted: no orphan instructions or values remain, and it round-trips exactly.
    let f = &p.functions[0];
    assert_eq!((f.insts.len(), f.values.len()), (3, 2));
    assert_eq!(parse_program(&print_program(&p)).unwrap(), p);
    assert!(!passes::dead_code(&mut p), "a second run finds nothing");
}

#[test]
fn dce_keeps_stores_and_calls() {
    let text = "function @f(ptr<f64>) -> () {\nblock0(v0: ptr<f64>):\n    v1:i64 = const 0\n    v2:f64 = load v0, v1\n    v3:f64 = call @g(v0)\n    store v0, v1, v2\n    return\n}\n\nfunction @g(ptr<f64>) -> (f64) {\nblock0(v0: ptr<f64>):\n    v1:f64 = const 1.0\n    return v1\n}\n";
    let mut p = parse_program(text).unwrap();
    assert!(!passes::dead_code(&mut p));
    assert_eq!(
        print_program(&p),
        text.replace("1.0", "0x3ff0000000000000 ; 1.0")
    );
}

/// Instruction lines with value and block numbers erased, for comparing bodies up to
/// renumbering.
fn shapes(text: &str) -> Vec<String> {
    text.lines()
        .filter(|l| l.starts_with("    "))
        .map(|l| {
            let mut out = String::new();
            let mut chars = l.trim().chars().peekable();
            while let Some(c) = chars.next() {
                out.push(c);
                if c == 'v' || out.ends_with("block") {
                    while chars.peek().is_some_and(|d| d.is_ascii_digit()) {
                        chars.next();
                    }
                }
            }
            out
        })
        .collect()
}

#[test]
fn inlining_copies_the_callee_body_and_verifies() {
    let text =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/inline.ir"))
            .unwrap();
    let mut p = parse_program(&text).unwrap();
    let callee = print_function(&p.functions[1], Some(&p));
    assert!(passes::inline_calls(&mut p));
    assert_verifies(&p, "after inlining");
    let caller = print_function(&p.functions[0], Some(&p));
    assert!(!caller.contains("call @"), "{caller}");
    // The callee's instructions appear in order, a `return x` having become `jump blockN(x)`.
    let want: Vec<String> = shapes(&callee)
        .into_iter()
        .map(|l| match l.strip_prefix("return ") {
            Some(values) => format!("jump block({values})"),
            None => l,
        })
        .collect();
    let got = shapes(&caller);
    let start = got
        .iter()
        .position(|l| *l == want[0])
        .expect("callee body present");
    assert_eq!(&got[start..start + want.len()], &want[..], "{caller}");
    // The callee is still there, unchanged.
    assert_eq!(print_function(&p.functions[1], Some(&p)), callee);
}

#[test]
fn inlining_a_callee_with_several_results_and_a_diamond() {
    let text = "function @main(f64) -> (f64) {\nblock0(v0: f64):\n    v1:f64, v2:i64 = call @split(v0)\n    v3:f64 = convert v2\n    v4:f64 = add v1, v3\n    v5:f64, v6:i64 = call @split(v4)\n    return v5\n}\n\nfunction @split(f64) -> (f64, i64) {\nblock0(v0: f64):\n    v1:f64 = const 0.0\n    v2:bool = cmp lt v0, v1\n    brif v2, block1, block2(v0)\nblock1:\n    v3:f64 = neg v0\n    jump block2(v3)\nblock2(v4: f64):\n    v5:i64 = convert v4\n    return v4, v5\n}\n";
    let mut p = parse_program(text).unwrap();
    let before: Vec<u64> = [1.5f64, -2.25, -0.0, f64::NAN]
        .iter()
        .flat_map(|&x| {
            common::Machine {
                program: &p,
                memory: vec![],
            }
            .call(FuncId(0), &[x.to_bits()])
        })
        .collect();
    assert!(passes::inline_calls(&mut p));
    assert_verifies(&p, "after inlining");
    assert!(!print_function(&p.functions[0], Some(&p)).contains("call @"));
    // Two copies of the three-block callee, plus two continuations.
    assert_eq!(p.functions[0].blocks.len(), 1 + 2 * (3 + 1));
    let after: Vec<u64> = [1.5f64, -2.25, -0.0, f64::NAN]
        .iter()
        .flat_map(|&x| {
            common::Machine {
                program: &p,
                memory: vec![],
            }
            .call(FuncId(0), &[x.to_bits()])
        })
        .collect();
    assert_eq!(before, after);
    passes::optimize(&mut p);
    assert_verifies(&p, "after optimize");
}

#[test]
fn dominator_tree_of_a_loop() {
    let p = parse_program(
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/loop.ir"))
            .unwrap()
            .as_str(),
    )
    .unwrap();
    let dt = DominatorTree::compute(&p.functions[0]);
    assert_eq!(dt.rpo()[0], Block(0));
    assert_eq!(dt.idom(Block(1)), Some(Block(0)));
    assert_eq!(dt.idom(Block(2)), Some(Block(1)));
    assert_eq!(dt.idom(Block(3)), Some(Block(1)));
    assert!(dt.dominates(Block(1), Block(2)));
    assert!(!dt.dominates(Block(2), Block(3)));
    // The latch's jump to the header is the one retreating edge.
    assert!(dt.is_retreating(Block(2), Block(1)));
    for (from, to) in [(0, 1), (1, 2), (1, 3)] {
        assert!(!dt.is_retreating(Block(from), Block(to)), "{from} -> {to}");
    }
    assert!(dt.is_retreating(Block(1), Block(1)), "a self-loop retreats");
    assert!(!dt.is_retreating(Block(2), Block(9)), "no such block");
}

/// Every pass, one at a time, on random programs: verifier-clean after each, the text
/// round-trips, and results (return value and every stored element) are bit-identical to
/// the unoptimised program's on a range of inputs with NaNs, signed zeros and extremes.
#[test]
fn passes_change_no_bit_of_random_programs() {
    type Pass = (&'static str, fn(&mut Program) -> bool);
    let pipeline: [Pass; 5] = [
        ("inline", passes::inline_calls),
        ("fold", passes::constant_fold),
        ("cse", passes::cse),
        ("merge", passes::merge_blocks),
        ("dce", passes::dead_code),
    ];
    let mut folded = 0;
    for seed in 0..80 {
        let original = random_program(seed);
        assert_verifies(&original, &format!("seed {seed}"));
        let expected: Vec<Vec<u64>> = (0..6).map(|k| run_main(&original, k)).collect();
        let mut p = original.clone();
        for round in 0..4 {
            for (name, pass) in pipeline {
                let changed = pass(&mut p);
                folded += (name == "fold" && changed) as usize;
                let context = format!("seed {seed}, round {round}, after {name}");
                assert_verifies(&p, &context);
                let text = print_program(&p);
                let again = parse_program(&text).unwrap_or_else(|e| panic!("{context}: {e}"));
                assert_eq!(print_program(&again), text, "{context}");
                for (k, want) in expected.iter().enumerate() {
                    assert_eq!(&run_main(&p, k), want, "{context}, input {k}\n{text}");
                }
            }
        }
        // By now every call is inlined (two levels).
        assert!(
            !print_function(&p.functions[0], Some(&p)).contains("call @"),
            "seed {seed}"
        );
    }
    assert!(
        folded > 40,
        "the random programs should give folding work ({folded})"
    );
}

#[test]
fn optimize_reaches_a_fixed_point() {
    for seed in 100..120 {
        let mut p = random_program(seed);
        let expected: Vec<Vec<u64>> = (0..4).map(|k| run_main(&p, k)).collect();
        passes::optimize(&mut p);
        assert_verifies(&p, &format!("seed {seed}"));
        let text = print_program(&p);
        assert!(
            !passes::optimize(&mut p),
            "seed {seed}: a second optimize changed something"
        );
        assert_eq!(print_program(&p), text);
        for (k, want) in expected.iter().enumerate() {
            assert_eq!(&run_main(&p, k), want, "seed {seed}, input {k}");
        }
    }
}

/// The number of loads left in `@f` after store-to-load forwarding of `text`.
fn loads_after_forwarding(text: &str) -> usize {
    let mut p = parse_program(text).unwrap();
    assert_verifies(&p, "before forwarding");
    passes::forward_memory(&mut p);
    assert_verifies(&p, "after forwarding");
    let f = &p.functions[0];
    f.blocks
        .iter()
        .flat_map(|b| &b.insts)
        .filter(|&&i| matches!(f.inst(i), InstData::Load { .. }))
        .count()
}

const FORWARD_HEAD: &str = "function @f(ptr<f64>, ptr<f64>, i64, bool) -> (f64) {
block0(v0: ptr<f64>, v1: ptr<f64>, v2: i64, v3: bool):
    v4:i64 = const 0
    v5:i64 = const 1
    v6:f64 = const 0x4000000000000000 ; 2.0
";

#[test]
fn stores_forward_to_loads_and_loads_merge() {
    // A store then a load of the same element; a second load of it; another array's store
    // in between changes nothing (arrays never alias); another constant index neither.
    let text = format!(
        "{FORWARD_HEAD}    store v0, v4, v6
    store v1, v4, v6
    store v0, v5, v6
    v7:f64 = load v0, v4
    v8:f64 = load v1, v5
    v9:f64 = load v1, v5
    v10:f64 = add v7, v8
    v11:f64 = add v10, v9
    return v11
}}
"
    );
    assert_eq!(loads_after_forwarding(&text), 1);
}

#[test]
fn forwarding_stops_where_memory_may_have_changed() {
    // A store at an index that may be equal (v2) forgets the element.
    let text = format!(
        "{FORWARD_HEAD}    store v0, v4, v6
    store v0, v2, v6
    v7:f64 = load v0, v4
    return v7
}}
"
    );
    assert_eq!(loads_after_forwarding(&text), 1);
    // A store through a pointer chosen by a select may be either array.
    let text = format!(
        "{FORWARD_HEAD}    v7:f64 = load v1, v4
    v8:ptr<f64> = select v3, v0, v1
    store v8, v4, v6
    v9:f64 = load v1, v4
    v10:f64 = add v7, v9
    return v10
}}
"
    );
    assert_eq!(loads_after_forwarding(&text), 2);
    // Nothing crosses a block boundary.
    let text = format!(
        "{FORWARD_HEAD}    store v0, v4, v6
    jump block1
block1:
    v7:f64 = load v0, v4
    return v7
}}
"
    );
    assert_eq!(loads_after_forwarding(&text), 1);
}

#[test]
fn forwarding_keeps_every_result_bit_of_random_programs() {
    for seed in 0..40 {
        let p = random_program(seed);
        let mut q = p.clone();
        passes::forward_memory(&mut q);
        assert_verifies(&q, "after forwarding");
        for k in 0..4 {
            assert_eq!(run_main(&p, k), run_main(&q, k), "seed {seed}, input {k}");
        }
    }
}

/// The pass manager's plan before it skipped settled functions: every pass over every
/// function, every round. `optimize` must give exactly its program.
fn optimize_every_function_every_round(program: &mut dynlib_ir::Program) {
    use dynlib_ir::passes::*;
    for _ in 0..MAX_ROUNDS {
        let mut changed = inline_calls(program);
        changed |= constant_fold(program);
        changed |= forward_memory(program);
        changed |= cse(program);
        changed |= merge_blocks(program);
        changed |= dead_code(program);
        if !changed {
            break;
        }
    }
}

#[test]
fn skipping_settled_functions_changes_nothing() {
    for seed in 0..300 {
        let original = random_program(seed);
        let mut exhaustive = original.clone();
        optimize_every_function_every_round(&mut exhaustive);
        let mut skipping = original.clone();
        dynlib_ir::passes::optimize(&mut skipping);
        assert_eq!(
            dynlib_ir::print_program(&skipping),
            dynlib_ir::print_program(&exhaustive),
            "seed {seed}"
        );
        assert_eq!(skipping, exhaustive, "seed {seed}");
    }
}

/// The inliner's size rule: a callee too large to copy into each of its call sites stays a
/// call (its caller is then ready to be inlined in turn, calls and all), a small one is
/// inlined everywhere, and one called once is inlined whatever its size; the calls a
/// copied body brings stay calls.
#[test]
fn large_callees_called_several_times_stay_calls() {
    let big_size = passes::inline::INLINE_BUDGET / 3;
    let mut text = String::from("function @big(f64) -> (f64) {\nblock0(v0: f64):\n");
    for i in 1..=big_size {
        text.push_str(&format!("    v{i}:f64 = mul v{}, v0\n", i - 1));
    }
    text.push_str(&format!("    return v{big_size}\n}}\n"));
    text.push_str(
        "function @small(f64) -> (f64) {\nblock0(v0: f64):\n    v1:f64 = mul v0, v0\n    return v1\n}\n\
         function @once(f64) -> (f64) {\nblock0(v0: f64):\n    v1:f64 = call @big(v0)\n    return v1\n}\n\
         function @mid(f64) -> (f64) {\nblock0(v0: f64):\n    v1:f64 = call @big(v0)\n    v2:f64 = call @big(v1)\n    v3:f64 = call @big(v2)\n    v4:f64 = call @big(v3)\n    v5:f64 = call @small(v4)\n    v6:f64 = call @small(v5)\n    return v6\n}\n\
         function @top(f64) -> (f64) {\nblock0(v0: f64):\n    v1:f64 = call @mid(v0)\n    v2:f64 = call @small(v1)\n    return v2\n}\n",
    );
    let mut p = parse_program(&text).unwrap();
    assert_verifies(&p, "before");
    passes::optimize(&mut p);
    assert_verifies(&p, "after optimize");
    let calls = |name: &str| -> Vec<String> {
        let f = p.functions.iter().find(|f| f.name == name).unwrap();
        f.blocks
            .iter()
            .flat_map(|b| &b.insts)
            .filter_map(|i| match &f.insts[i.index()] {
                InstData::Call { func, .. } => Some(p.functions[func.index()].name.clone()),
                _ => None,
            })
            .collect()
    };
    // Four copies of `big` would pass the budget: `mid` keeps four calls, inlines `small`.
    assert_eq!(calls("mid"), vec!["big"; 4]);
    // `mid` is then ready: `top` takes its body with the four calls, and `small`.
    assert_eq!(calls("top"), vec!["big"; 4]);
    // Called once, `big` is inlined into `once`.
    assert!(calls("once").is_empty());
    assert!(passes::inline::worth_inlining(big_size, 1));
    assert!(!passes::inline::worth_inlining(big_size, 4));
    assert!(passes::inline::worth_inlining(big_size, 3));
}

#[test]
fn outlining_keeps_every_result_bit_of_random_programs() {
    for seed in 0..60 {
        for program in [random_program(seed), {
            let mut p = random_program(seed);
            passes::optimize(&mut p);
            p
        }] {
            for (above, chunk) in [(3, 2), (4, 3), (8, 5)] {
                let mut q = program.clone();
                let main = q.find("main").unwrap();
                let parts = passes::outline::outline_with(&mut q, &[main], above, chunk);
                assert_verifies(&q, "after outlining");
                let before = program.functions.len();
                assert_eq!(
                    parts,
                    (before..q.functions.len())
                        .map(|i| FuncId(i as u32))
                        .collect::<Vec<_>>()
                );
                for k in 0..4 {
                    assert_eq!(
                        run_main(&program, k),
                        run_main(&q, k),
                        "seed {seed}, limits {above}/{chunk}, input {k}\n{q}"
                    );
                }
            }
        }
    }
}

/// A long block becomes calls of parts of bounded size, in order, each passing on only
/// what later code reads; constants are copied, never passed; a short block stays.
#[test]
fn long_blocks_become_calls_of_bounded_parts() {
    // 40 states of `out[i] = x[i] * x[i+1] + k`, loads and all: one block of 281
    // instructions where only the pointers and `k` are live across most cuts.
    let n = 40;
    let mut text = String::from(
        "function @f(ptr<f64>, ptr<f64>, f64) -> (f64) {\nblock0(v0: ptr<f64>, v1: ptr<f64>, v2: f64):\n",
    );
    let mut last = 2;
    for i in 0..n {
        let v = 3 + 6 * i;
        text.push_str(&format!(
            "    v{v}:i64 = const {i}\n    v{}:i64 = const {}\n    v{}:f64 = load v0, v{v}\n    v{}:f64 = load v0, v{}\n    v{}:f64 = mul v{}, v{}\n    v{}:f64 = add v{}, v2\n    store v1, v{v}, v{}\n",
            v + 1,
            (i + 1) % n,
            v + 2,
            v + 3,
            v + 1,
            v + 4,
            v + 2,
            v + 3,
            v + 5,
            v + 4,
            v + 5
        ));
        last = v + 5;
    }
    text.push_str(&format!("    return v{last}\n}}\n"));
    let p = parse_program(&text).unwrap();
    assert_verifies(&p, "the test's program");
    let whole = p.functions[0].blocks[0].insts.len();
    let mut q = p.clone();
    let parts = passes::outline::outline_with(&mut q, &[FuncId(0)], 50, 32);
    assert_verifies(&q, "after outlining");
    assert!(
        parts.len() >= whole / 32,
        "{} parts of a block of {whole}",
        parts.len()
    );
    let f = &q.functions[0];
    let calls: Vec<FuncId> = f.blocks[0]
        .insts
        .iter()
        .filter_map(|&i| match f.inst(i) {
            InstData::Call { func, .. } => Some(*func),
            _ => None,
        })
        .collect();
    assert_eq!(calls, parts, "the block calls its parts in order");
    // What stays: the calls, the constants the parts copy (free to keep) and the return.
    assert!(f.blocks[0].insts.iter().all(|&i| matches!(
        f.inst(i),
        InstData::Call { .. } | InstData::Const { .. } | InstData::Return { .. }
    )));
    for &id in &parts {
        let part = q.func(id);
        let consts = part
            .insts
            .iter()
            .filter(|d| matches!(d, InstData::Const { .. }))
            .count();
        assert!(part.insts.len() - consts - 1 <= 32, "{part}");
        // Constants are copied: no part takes an integer (the indices) as a parameter.
        assert!(!part.sig.params.contains(&Type::I64), "{part}");
        assert!(part.sig.params.len() <= 8, "{part}");
        assert!(part.name.starts_with("f.part"));
    }
    // The same stores happen, with the same values.
    let run = |p: &Program| {
        let x: Vec<u64> = (0..n).map(|i| (0.5 + i as f64 * 0.37).to_bits()).collect();
        let mut m = common::Machine {
            program: p,
            memory: vec![x, vec![0; n]],
        };
        let r = m.call(FuncId(0), &[0, 1, 1.25f64.to_bits()]);
        (r, m.memory)
    };
    assert_eq!(run(&p), run(&q));
    // A block within the limit stays as it is.
    let mut r = p.clone();
    assert!(passes::outline::outline_with(&mut r, &[FuncId(0)], whole, 32).is_empty());
    assert_eq!(r, p);
}

/// An array picked by a select may be either parameter, so code reading it is never moved
/// into a part (where the part's arrays are assumed distinct); the rest still is.
#[test]
fn code_on_a_selected_array_stays_in_place() {
    let mut text = String::from(
        "function @f(ptr<f64>, ptr<f64>, bool) -> (f64) {\nblock0(v0: ptr<f64>, v1: ptr<f64>, v2: bool):\n    v3:ptr<f64> = select v2, v0, v1\n    v4:i64 = const 0\n    v5:f64 = const 1.5\n",
    );
    // Twelve updates of v1[0] first, then twelve reading through the selected array.
    let mut v = 6;
    for arr in ["v1", "v3"] {
        for _ in 0..12 {
            text.push_str(&format!(
                "    v{v}:f64 = load {arr}, v4\n    v{}:f64 = add v{v}, v5\n    store {arr}, v4, v{}\n",
                v + 1,
                v + 1
            ));
            v += 2;
        }
    }
    text.push_str(&format!("    return v{}\n}}\n", v - 1));
    let p = parse_program(&text).unwrap();
    assert_verifies(&p, "the test's program");
    let mut q = p.clone();
    let parts = passes::outline::outline_with(&mut q, &[FuncId(0)], 8, 6);
    assert_verifies(&q, "after outlining");
    assert!(!parts.is_empty());
    for &id in &parts {
        let part = q.func(id);
        assert_eq!(
            part.sig
                .params
                .iter()
                .filter(|t| matches!(t, Type::Ptr(_)))
                .count(),
            1
        );
        assert!(part.params().len() <= 2, "{part}");
    }
    let f = &q.functions[0];
    let through_selected = f.blocks[0]
        .insts
        .iter()
        .filter(|&&i| matches!(f.inst(i), InstData::Load { .. } | InstData::Store { .. }))
        .count();
    assert!(
        through_selected >= 24,
        "the loads and stores through v3 stay\n{q}"
    );
    for flag in [0, 1] {
        let run = |p: &Program| {
            let mut m = common::Machine {
                program: p,
                memory: vec![vec![2.0f64.to_bits()], vec![3.0f64.to_bits()]],
            };
            let r = m.call(FuncId(0), &[0, 1, flag]);
            (r, m.memory)
        };
        assert_eq!(run(&p), run(&q), "flag {flag}");
    }
}
