//! Printer and parser: round trips on builder-made programs, exact constants, numbering,
//! error positions, digests.

mod common;

use common::{random_program, F32_BITS, F64_BITS};
use dynlib_ir::*;

/// The example of the text format, built with the builder.
fn example() -> Program {
    let sig = Signature {
        params: vec![
            Type::F64,
            Type::Ptr(Elem::F64),
            Type::Ptr(Elem::F64),
            Type::Ptr(Elem::F64),
        ],
        returns: vec![Type::F64],
    };
    let other_sig = Signature {
        params: vec![Type::Ptr(Elem::F64), Type::F64],
        returns: vec![Type::I32, Type::F64],
    };
    let mut program = Program::new();
    let mut f = Function::new("rhs", sig);
    let mut b = FunctionBuilder::new(&mut f);
    let (y, out) = (b.param(1), b.param(2));
    let zero = b.i64(0);
    let x = b.load(y, zero);
    let two = b.f64(2.0);
    let x2 = b.mul(x, two);
    b.store(out, zero, x2);
    let lt = b.cmp(CmpOp::Lt, x, x2);
    let s = b.select(lt, x, x2);
    b.math(MathFn::Sin, &[s]);
    b.convert(s, Type::I64);
    b.call(FuncId(1), &other_sig, &[y, s]);
    let (join, other) = (b.create_block(), b.create_block());
    let r = b.block_param(join, Type::F64);
    b.brif(lt, join, &[s], other, &[]);
    b.switch_to(join);
    b.ret(&[r]);
    b.switch_to(other);
    b.jump(join, &[x]);
    program.add(f);

    let mut g = Function::new("other", other_sig);
    let mut b = FunctionBuilder::new(&mut g);
    let a = b.param(1);
    let n = b.convert(a, Type::I32);
    b.ret(&[n, a]);
    program.add(g);
    program
}

const EXAMPLE: &str = "\
function @rhs(f64, ptr<f64>, ptr<f64>, ptr<f64>) -> (f64) {
block0(v0: f64, v1: ptr<f64>, v2: ptr<f64>, v3: ptr<f64>):
    v4:i64 = const 0
    v5:f64 = load v1, v4
    v6:f64 = const 0x4000000000000000 ; 2.0
    v7:f64 = mul v5, v6
    store v2, v4, v7
    v8:bool = cmp lt v5, v7
    v9:f64 = select v8, v5, v7
    v10:f64 = math sin v9
    v11:i64 = convert v9
    v12:i32, v13:f64 = call @other(v1, v9)
    brif v8, block1(v9), block2
block1(v14: f64):
    return v14
block2:
    jump block1(v5)
}

function @other(ptr<f64>, f64) -> (i32, f64) {
block0(v0: ptr<f64>, v1: f64):
    v2:i32 = convert v1
    return v2, v1
}
";

#[test]
fn prints_the_documented_format() {
    let p = example();
    common::assert_verifies(&p, "example");
    assert_eq!(print_program(&p), EXAMPLE);
}

#[test]
fn builder_program_round_trips_exactly() {
    let p = example();
    let q = parse_program(&print_program(&p)).unwrap();
    assert_eq!(q, p);
}

#[test]
fn random_builder_programs_round_trip_exactly() {
    for seed in 0..60 {
        let p = random_program(seed);
        common::assert_verifies(&p, &format!("seed {seed}"));
        let text = print_program(&p);
        let q = parse_program(&text).unwrap_or_else(|e| panic!("seed {seed}: {e}\n{text}"));
        assert_eq!(print_program(&q), text, "seed {seed}");
        assert_eq!(q, p, "seed {seed}: numbering not preserved");
    }
}

#[test]
fn blocks_filled_out_of_layout_order_still_round_trip_as_text() {
    // The else block is filled before the then block: instruction numbers cannot be
    // recovered from the text for the result-less `jump`, but the text must round-trip.
    let mut f = Function::new(
        "f",
        Signature {
            params: vec![Type::Bool],
            returns: vec![Type::F64],
        },
    );
    let mut b = FunctionBuilder::new(&mut f);
    let (t, e, j) = (b.create_block(), b.create_block(), b.create_block());
    let r = b.block_param(j, Type::F64);
    let c = b.param(0);
    b.brif(c, t, &[], e, &[]);
    b.switch_to(e);
    let one = b.f64(1.0);
    b.jump(j, &[one]);
    b.switch_to(t);
    let two = b.f64(2.0);
    b.jump(j, &[two]);
    b.switch_to(j);
    b.ret(&[r]);
    let mut p = Program::new();
    p.add(f);
    let text = print_program(&p);
    let q = parse_program(&text).unwrap();
    assert_eq!(print_program(&q), text);
    common::assert_verifies(&q, "parsed");
}

#[test]
fn float_constants_keep_every_bit() {
    let mut p = Program::new();
    let mut f = Function::new(
        "consts",
        Signature {
            params: vec![],
            returns: vec![],
        },
    );
    let mut b = FunctionBuilder::new(&mut f);
    let mut expected = Vec::new();
    for &bits in F64_BITS {
        b.constant(Type::F64, bits);
        expected.push((Type::F64, bits));
    }
    for &bits in F32_BITS {
        b.constant(Type::F32, bits);
        expected.push((Type::F32, bits));
    }
    b.ret(&[]);
    p.add(f);
    let q = parse_program(&print_program(&p)).unwrap();
    let f = &q.functions[0];
    let got: Vec<(Type, u64)> = f.blocks[0]
        .insts
        .iter()
        .filter_map(|&i| match f.inst(i) {
            InstData::Const { bits } => Some((f.value_type(f.inst_results(i)[0]), *bits)),
            _ => None,
        })
        .collect();
    assert_eq!(got, expected);
    let text = print_program(&q);
    assert!(
        text.contains("v1:f64 = const 0x8000000000000000 ; -0.0"),
        "{text}"
    );
    assert!(text.contains("const 0xfff8000000000001 ; NaN"), "{text}");
    assert!(text.contains("f32 = const 0x7fc00123 ; NaN"), "{text}");
}

#[test]
fn integer_and_bool_constants_print_as_numbers_and_words() {
    let text = "function @f() -> () {\nblock0:\n    v0:i64 = const -9223372036854775808\n    v1:i32 = const -2147483648\n    v2:bool = const true\n    v3:bool = const false\n    v4:i64 = const 0x10\n    return\n}\n";
    let p = parse_program(text).unwrap();
    let printed = print_program(&p);
    assert_eq!(printed, text.replace("0x10", "16"));
    let f = &p.functions[0];
    assert_eq!(
        f.inst(Inst(1)),
        &InstData::Const {
            bits: i32::MIN as i64 as u64
        }
    );
}

#[test]
fn value_numbers_are_kept_and_gaps_become_dead_instructions() {
    let text = "function @f(f64) -> (f64) {\nblock5(v10: f64):\n    v30:f64 = neg v20\n    v20:f64 = neg v10\n    return v30\n}\n";
    // v30 uses v20 before its definition within a block: parses (the verifier objects).
    let p = parse_program(text).unwrap();
    assert_eq!(
        print_program(&p),
        "function @f(f64) -> (f64) {\nblock0(v10: f64):\n    v30:f64 = neg v20\n    v20:f64 = neg v10\n    return v30\n}\n"
    );
    assert!(verify_program(&p).is_err());
    let f = &p.functions[0];
    assert_eq!(f.values.len(), 31);
    // Three placed instructions, then one dead `const` per skipped number.
    assert_eq!(f.insts.len(), 3 + 28);
    assert!(f.insts[3..]
        .iter()
        .all(|i| *i == InstData::Const { bits: 0 }));

    // Absurdly sparse numbers are renumbered densely, in order.
    let sparse = "function @f(f64) -> (f64) {\nblock0(v5000000: f64):\n    v9000000:f64 = neg v5000000\n    return v9000000\n}\n";
    let p = parse_program(sparse).unwrap();
    assert_eq!(
        print_program(&p),
        "function @f(f64) -> (f64) {\nblock0(v0: f64):\n    v1:f64 = neg v0\n    return v1\n}\n"
    );
}

#[test]
fn text_with_gaps_left_by_passes_round_trips_exactly() {
    for seed in 0..20 {
        let mut p = random_program(seed);
        // Folding and CSE take instructions out of blocks without renumbering.
        dynlib_ir::passes::constant_fold(&mut p);
        dynlib_ir::passes::cse(&mut p);
        let text = print_program(&p);
        let q = parse_program(&text).unwrap();
        assert_eq!(print_program(&q), text, "seed {seed}");
        common::assert_verifies(&q, "parsed");
    }
}

#[test]
fn a_function_printed_alone_names_callees_by_id() {
    let p = example();
    let alone = p.functions[0].to_string();
    assert!(alone.contains("call @fn1(v1, v9)"), "{alone}");
    assert_eq!(
        print_function(&p.functions[0], Some(&p)),
        EXAMPLE.split("\n\n").next().unwrap().to_string() + "\n"
    );
}

#[test]
fn odd_function_names_are_quoted() {
    let mut p = Program::new();
    let mut f = Function::new("odd \"name\"\\x", Signature::default());
    FunctionBuilder::new(&mut f).ret(&[]);
    p.add(f);
    let text = print_program(&p);
    assert!(
        text.starts_with("function @\"odd \\\"name\\\"\\\\x\"() -> () {"),
        "{text}"
    );
    assert_eq!(parse_program(&text).unwrap(), p);
}

#[test]
fn removed_instructions_are_not_printed() {
    let mut p = example();
    // Take the `math sin` out of its block: it stays in `insts` but is not printed.
    p.functions[0].blocks[0].insts.remove(7);
    let text = print_program(&p);
    assert!(!text.contains("math sin"));
    assert!(text.contains("v11:i64 = convert v9"));
}

fn parse_err(text: &str) -> ParseError {
    parse_program(text).expect_err("should not parse")
}

#[test]
fn parse_errors_have_line_and_column() {
    let e = parse_err("function @f() -> () {\nblock0:\n    v0:f64 = frob v1\n}\n");
    assert_eq!((e.line, e.column), (3, 14));
    assert!(e.message.contains("unknown opcode `frob`"), "{e}");
    assert_eq!(e.to_string(), "line 3, column 14: unknown opcode `frob`");

    let e = parse_err("function @f() -> () {\nblock0:\n    return v7\n}\n");
    assert_eq!((e.line, e.column), (3, 12));
    assert!(e.message.contains("undefined value v7"));

    let e = parse_err("function @f() -> () {\nblock0:\n    jump block4\n}\n");
    assert!(e.message.contains("undefined block block4"), "{e}");

    let e = parse_err("function @f() -> () {\nblock0:\n    call @nowhere()\n    return\n}\n");
    assert!(e.message.contains("unknown function @nowhere"), "{e}");
    assert_eq!(e.line, 3);

    let e = parse_err("function @f() -> () {\nblock0:\n    v1:f64 = const 1.0\n    v1:f64 = const 2.0\n    return\n}\n");
    assert!(
        e.message.contains("v1 is defined twice (first on line 3)"),
        "{e}"
    );
    assert_eq!(e.line, 4);

    let e = parse_err("function @f() -> () {\n    return\n}\n");
    assert!(e.message.contains("before the first block header"), "{e}");

    let e = parse_err("function @f() -> () {\nblock0:\n    v0:f32 = const 1.0x\n    return\n}\n");
    assert!(e.message.contains("bad constant"), "{e}");

    let e = parse_err("function @f() -> () {\nblock0:\n    v0:f64 = const true\n    return\n}\n");
    assert!(e.message.contains("bool constants"), "{e}");

    let e = parse_err("function @f(ptr<bool>) -> () {\n}\n");
    assert!(e.message.contains("unknown element type `bool`"), "{e}");

    let e = parse_err("function @f() -> () {\nblock0:\n    v0:bool = cmp lq v1, v2\n}\n");
    assert!(e.message.contains("unknown condition `lq`"), "{e}");

    let e = parse_err("function @f() -> () {\nblock0:\n    v0:f64 = math sine v1\n}\n");
    assert!(e.message.contains("unknown math function `sine`"), "{e}");

    let e = parse_err("function @f() -> () {\nblock0:\n    return\n");
    assert!(e.message.contains("expected `}`"), "{e}");

    let e = parse_err("function @f() -> () {\nblock0:\n    return\n}\nfunction @f() -> () {\nblock0:\n    return\n}\n");
    assert!(e.message.contains("@f is defined twice"), "{e}");
    assert_eq!(e.line, 5);

    let e = parse_err("function @f() -> () {\nblock0:\n    return ?\n}\n");
    assert!(e.message.contains("unexpected character `?`"), "{e}");
}

#[test]
fn digest_is_sha256_of_the_text_and_sees_every_bit() {
    let p = example();
    let d = digest(&p);
    assert_eq!(d.len(), 64);
    assert!(d
        .chars()
        .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
    assert_eq!(d, digest(&parse_program(&print_program(&p)).unwrap()));

    let mut q = p.clone();
    q.functions[1].insts.push(InstData::Const { bits: 0 });
    assert_eq!(
        digest(&q),
        d,
        "an instruction in no block changes nothing compiled"
    );
    // One bit of one constant changes the key.
    let mut r = p.clone();
    let two = r.functions[0]
        .insts
        .iter_mut()
        .find(|i| {
            **i == InstData::Const {
                bits: 2.0f64.to_bits(),
            }
        })
        .unwrap();
    *two = InstData::Const {
        bits: 2.0f64.to_bits() + 1,
    };
    assert_ne!(digest(&r), d);

    // A function's digest covers its own text only.
    let f0 = digest_function(&p, FuncId(0));
    assert_eq!(f0.len(), 64);
    assert_ne!(digest_function(&r, FuncId(0)), f0);
    assert_eq!(
        digest_function(&r, FuncId(1)),
        digest_function(&p, FuncId(1))
    );
}
