//! Failures: calls that cannot complete return a [`Trap`] and programs that are not valid
//! IR are rejected by [`Interpreter::new`] — never a panic — and every message names what
//! went wrong and where.

mod common;

use common::*;
use dynlib_interp::{Arg, Interpreter, Machine, Scalar, Trap, MAX_CALL_DEPTH};
use dynlib_ir::{
    CmpOp, Elem, FuncId, Function, FunctionBuilder, InstData, Program, Signature, Type, Value,
};

/// `@f(x: f64, p: ptr<f64>) -> (f64) { return x + p[0] }`
fn add_first() -> Interpreter {
    interp(&single(
        &[Type::F64, Type::Ptr(Elem::F64)],
        &[Type::F64],
        |b, p| {
            let zero = b.i64(0);
            let y = b.load(p[1], zero);
            vec![b.add(p[0], y)]
        },
    ))
}

#[test]
fn wrong_number_of_arguments() {
    let i = add_first();
    let err = i
        .call(&mut Machine::new(), FuncId(0), &mut [Arg::F64(1.0)])
        .unwrap_err();
    assert!(matches!(
        err,
        Trap::ArgumentCount {
            expected: 2,
            found: 1,
            ..
        }
    ));
    assert_eq!(err.to_string(), "@f takes 2 arguments, 1 were passed");
    let mut a = [0.0];
    let err = i
        .call(
            &mut Machine::new(),
            FuncId(0),
            &mut [Arg::F64(1.0), Arg::PtrF64(&mut a), Arg::F64(2.0)],
        )
        .unwrap_err();
    assert_eq!(err.to_string(), "@f takes 2 arguments, 3 were passed");
}

#[test]
fn wrong_argument_types() {
    let i = add_first();
    let mut m = Machine::new();
    let mut a = [1.0];
    let err = i
        .call(&mut m, FuncId(0), &mut [Arg::F32(1.0), Arg::PtrF64(&mut a)])
        .unwrap_err();
    assert_eq!(err.to_string(), "@f: argument 0 must be f64, found f32");
    let mut b = [1.0f32];
    let err = i
        .call(&mut m, FuncId(0), &mut [Arg::F64(1.0), Arg::PtrF32(&mut b)])
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "@f: argument 1 must be ptr<f64>, found ptr<f32>"
    );
    let err = i
        .call(&mut m, FuncId(0), &mut [Arg::F64(1.0), Arg::F64(2.0)])
        .unwrap_err();
    assert!(
        matches!(err, Trap::ArgumentType { position: 1, .. }),
        "{err}"
    );
    let mut c = [1i64];
    let err = i
        .call(&mut m, FuncId(0), &mut [Arg::I64(1), Arg::PtrI64(&mut c)])
        .unwrap_err();
    assert!(err
        .to_string()
        .contains("argument 0 must be f64, found i64"));
    // Still fine afterwards.
    let out = i
        .call(&mut m, FuncId(0), &mut [Arg::F64(1.0), Arg::PtrF64(&mut a)])
        .unwrap();
    assert_eq!(out, vec![Scalar::F64(2.0)]);
}

#[test]
fn wrong_result_room_and_unknown_function() {
    let i = add_first();
    let mut m = Machine::new();
    let mut a = [1.0];
    let mut out = [Scalar::F64(0.0); 2];
    let err = i
        .call_into(
            &mut m,
            FuncId(0),
            &mut [Arg::F64(1.0), Arg::PtrF64(&mut a)],
            &mut out,
        )
        .unwrap_err();
    assert_eq!(err.to_string(), "@f returns 1 values, room for 2 was given");
    let err = i.call(&mut m, FuncId(1), &mut []).unwrap_err();
    assert_eq!(
        err.to_string(),
        "fn1 is not a function of the program (1 functions)"
    );
    assert!(i.disassemble(FuncId(7)).is_err());
}

/// `@f(p: ptr<e>, i: i64)`: stores 1 at p[0], then loads p[i] (or stores at p[i]).
fn indexed(e: Elem, store: bool) -> Interpreter {
    interp(&single(&[Type::Ptr(e), Type::I64], &[], |b, p| {
        let zero = b.i64(0);
        let one = b.constant(e.ty(), if e == Elem::F64 { 1f64.to_bits() } else { 1 });
        let one = if e == Elem::F32 { b.f32(1.0) } else { one };
        b.store(p[0], zero, one);
        if store {
            b.store(p[0], p[1], one);
        } else {
            b.load(p[0], p[1]);
        }
        vec![]
    }))
}

#[test]
fn out_of_bounds_loads_and_stores_on_every_element_type() {
    let mut m = Machine::new();
    for e in [Elem::F64, Elem::F32, Elem::I64, Elem::I32] {
        for store in [false, true] {
            let i = indexed(e, store);
            for index in [3i64, 4, 1000, -1, i64::MIN, i64::MAX] {
                let err = match e {
                    Elem::F64 => {
                        let mut a = [0.0; 3];
                        let r = i.call(
                            &mut m,
                            FuncId(0),
                            &mut [Arg::PtrF64(&mut a), Arg::I64(index)],
                        );
                        // The store before the trap stays.
                        assert_eq!(a[0], 1.0);
                        r
                    }
                    Elem::F32 => {
                        let mut a = [0.0f32; 3];
                        let r = i.call(
                            &mut m,
                            FuncId(0),
                            &mut [Arg::PtrF32(&mut a), Arg::I64(index)],
                        );
                        assert_eq!(a[0], 1.0);
                        r
                    }
                    Elem::I64 => {
                        let mut a = [0i64; 3];
                        let r = i.call(
                            &mut m,
                            FuncId(0),
                            &mut [Arg::PtrI64(&mut a), Arg::I64(index)],
                        );
                        assert_eq!(a[0], 1);
                        r
                    }
                    Elem::I32 => {
                        let mut a = [0i32; 3];
                        let r = i.call(
                            &mut m,
                            FuncId(0),
                            &mut [Arg::PtrI32(&mut a), Arg::I64(index)],
                        );
                        assert_eq!(a[0], 1);
                        r
                    }
                }
                .unwrap_err();
                match &err {
                    Trap::OutOfBounds {
                        function,
                        index: got,
                        len,
                        snippet,
                        ..
                    } => {
                        assert_eq!(function, "f");
                        assert_eq!(*got, index);
                        assert_eq!(*len, 3);
                        let word = if store { "store" } else { "load" };
                        assert!(snippet.contains(word), "{snippet}");
                    }
                    other => panic!("unexpected trap {other:?}"),
                }
                let text = err.to_string();
                assert!(
                    text.starts_with("@f: inst")
                        && text.contains(&format!(
                            "index {index} is out of bounds for an array of length 3"
                        )),
                    "{text}"
                );
            }
            // In bounds is fine.
            let mut a = [0i64; 3];
            if e == Elem::I64 {
                i.call(&mut m, FuncId(0), &mut [Arg::PtrI64(&mut a), Arg::I64(2)])
                    .unwrap();
            }
        }
    }
}

#[test]
fn out_of_bounds_with_a_constant_index_and_an_empty_array() {
    let p = single(&[Type::Ptr(Elem::F64)], &[Type::F64], |b, p| {
        let k = b.i64(5);
        vec![b.load(p[0], k)]
    });
    let i = interp(&p);
    let mut m = Machine::new();
    let mut a = [0.0; 5];
    let err = i
        .call(&mut m, FuncId(0), &mut [Arg::PtrF64(&mut a)])
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("index 5 is out of bounds for an array of length 5"),
        "{err}"
    );
    assert!(
        err.to_string().contains("(in `v2:f64 = load v0, v1`)"),
        "{err}"
    );
    let mut empty: [f64; 0] = [];
    let err = i
        .call(&mut m, FuncId(0), &mut [Arg::PtrF64(&mut empty)])
        .unwrap_err();
    assert!(err.to_string().contains("length 0"), "{err}");
    let mut a = [0.0, 0.0, 0.0, 0.0, 0.0, 6.5];
    let out = i
        .call(&mut m, FuncId(0), &mut [Arg::PtrF64(&mut a)])
        .unwrap();
    assert_eq!(out, vec![Scalar::F64(6.5)]);
}

#[test]
fn a_trap_in_a_callee_names_the_callee() {
    let mut program = Program::new();
    let pf = Type::Ptr(Elem::F64);
    let sig = Signature {
        params: vec![pf, Type::I64],
        returns: vec![Type::F64],
    };
    let mut f = Function::new("get", sig.clone());
    {
        let mut b = FunctionBuilder::new(&mut f);
        let (p, i) = (b.param(0), b.param(1));
        let x = b.load(p, i);
        b.ret(&[x]);
    }
    let get = program.add(f);
    let mut f = Function::new(
        "outer",
        Signature {
            params: vec![pf],
            returns: vec![Type::F64],
        },
    );
    {
        let mut b = FunctionBuilder::new(&mut f);
        let p = b.param(0);
        let k = b.i64(7);
        let x = b.call(get, &sig, &[p, k])[0];
        b.ret(&[x]);
    }
    let outer = program.add(f);
    let i = interp(&verified(program));
    let mut m = Machine::new();
    let mut a = [1.0; 2];
    let err = i
        .call(&mut m, outer, &mut [Arg::PtrF64(&mut a)])
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "@get: inst0: index 7 is out of bounds for an array of length 2 (in `v2:f64 = load v0, v1`)"
    );
    // The machine is usable after a trap deep in a call.
    let out = i
        .call(&mut m, get, &mut [Arg::PtrF64(&mut a), Arg::I64(1)])
        .unwrap();
    assert_eq!(out, vec![Scalar::F64(1.0)]);
}

/// `@down(n: i64) -> (i64) { return n <= 0 ? 0 : 1 + down(n - 1) }`
fn recursive() -> Interpreter {
    let sig = Signature {
        params: vec![Type::I64],
        returns: vec![Type::I64],
    };
    let mut f = Function::new("down", sig.clone());
    {
        let mut b = FunctionBuilder::new(&mut f);
        let n = b.param(0);
        let zero = b.i64(0);
        let one = b.i64(1);
        let done = b.cmp(CmpOp::Le, n, zero);
        let base = b.create_block();
        let rec = b.create_block();
        b.brif(done, base, &[], rec, &[]);
        b.switch_to(base);
        b.ret(&[zero]);
        b.switch_to(rec);
        let m = b.sub(n, one);
        let r = b.call(FuncId(0), &sig, &[m])[0];
        let s = b.add(r, one);
        b.ret(&[s]);
    }
    let mut program = Program::new();
    program.add(f);
    interp(&verified(program))
}

#[test]
fn runaway_recursion_is_a_stack_overflow_trap() {
    let i = recursive();
    let mut m = Machine::new();
    // MAX_CALL_DEPTH frames: the outermost call plus MAX_CALL_DEPTH - 1 nested ones.
    let deepest = MAX_CALL_DEPTH as i64 - 1;
    let out = i.call(&mut m, FuncId(0), &mut [Arg::I64(deepest)]).unwrap();
    assert_eq!(out, vec![Scalar::I64(deepest)]);
    let err = i
        .call(&mut m, FuncId(0), &mut [Arg::I64(deepest + 1)])
        .unwrap_err();
    assert!(matches!(err, Trap::StackOverflow { depth, .. } if depth == MAX_CALL_DEPTH));
    let text = err.to_string();
    assert!(
        text.starts_with("@down: inst")
            && text.contains("stack overflow: calls nest deeper than 256 frames")
            && text.contains("call @down"),
        "{text}"
    );
    let err = i
        .call(&mut m, FuncId(0), &mut [Arg::I64(i64::MAX)])
        .unwrap_err();
    assert!(matches!(err, Trap::StackOverflow { .. }));
    // Usable afterwards.
    let out = i.call(&mut m, FuncId(0), &mut [Arg::I64(3)]).unwrap();
    assert_eq!(out, vec![Scalar::I64(3)]);
}

#[test]
fn deep_recursion_on_a_small_thread_stack_does_not_overflow_the_native_stack() {
    // The deepest nesting the interpreter allows must fit in a modest native stack.
    let handle = std::thread::Builder::new()
        .stack_size(128 * 1024)
        .spawn(|| {
            let i = recursive();
            let mut m = Machine::new();
            let deepest = MAX_CALL_DEPTH as i64 - 1;
            let out = i.call(&mut m, FuncId(0), &mut [Arg::I64(deepest)]).unwrap();
            assert_eq!(out, vec![Scalar::I64(deepest)]);
            let err = i
                .call(&mut m, FuncId(0), &mut [Arg::I64(1 << 20)])
                .unwrap_err();
            assert!(matches!(err, Trap::StackOverflow { .. }));
        })
        .unwrap();
    handle.join().expect("no native stack overflow");
}

/// Decodes `program`, expecting an error whose text contains every one of `needles`.
fn rejected(program: &Program, needles: &[&str]) {
    let result = std::panic::catch_unwind(|| Interpreter::new(program));
    let err = match result {
        Ok(Ok(_)) => panic!("accepted an invalid program:\n{program}"),
        Ok(Err(e)) => e.to_string(),
        Err(_) => panic!("panicked on an invalid program:\n{program}"),
    };
    for n in needles {
        assert!(err.contains(n), "error `{err}` does not mention `{n}`");
    }
}

fn parse(text: &str) -> Program {
    dynlib_ir::parse_program(text).unwrap_or_else(|e| panic!("{e}\n{text}"))
}

#[test]
fn ill_typed_programs_are_rejected() {
    rejected(
        &parse("function @f(bool, bool) -> (bool) {\nblock0(v0: bool, v1: bool):\n    v2:bool = add v0, v1\n    return v2\n}\n"),
        &["@f", "inst0", "add", "bool"],
    );
    rejected(
        &parse("function @f(i64, i64) -> (i64) {\nblock0(v0: i64, v1: i64):\n    v2:i64 = div v0, v1\n    return v2\n}\n"),
        &["@f", "inst0", "div", "i64"],
    );
    rejected(
        &parse("function @f(f64, i64) -> (f64) {\nblock0(v0: f64, v1: i64):\n    v2:f64 = mul v0, v1\n    return v2\n}\n"),
        &["@f", "inst0", "i64"],
    );
    rejected(
        &parse("function @f(f64) -> (f64) {\nblock0(v0: f64):\n    v1:i64 = const 0\n    v2:f64 = load v0, v1\n    return v2\n}\n"),
        &["@f", "inst1", "pointer"],
    );
    rejected(
        &parse("function @f(i64) -> (f64) {\nblock0(v0: i64):\n    v1:f64 = math sin v0\n    return v1\n}\n"),
        &["@f", "inst0", "sin"],
    );
    rejected(
        &parse("function @f(f64) -> (f64) {\nblock0(v0: f64):\n    v1:f64 = math pow v0\n    return v1\n}\n"),
        &["@f", "inst0", "pow", "2 arguments"],
    );
    rejected(
        &parse("function @f(f64) -> (f64, f64) {\nblock0(v0: f64):\n    return v0\n}\n"),
        &["@f", "return"],
    );
    rejected(
        &parse("function @f(f64) -> (i64) {\nblock0(v0: f64):\n    return v0\n}\n"),
        &["@f", "i64"],
    );
    rejected(
        &parse("function @f(f64) -> (f64) {\nblock0(v0: f64):\n    v1:f64 = select v0, v0, v0\n    return v1\n}\n"),
        &["@f", "inst0", "bool"],
    );
    rejected(
        &parse("function @f(f64) -> (f64) {\nblock0(v0: f64):\n    brif v0, block1, block1\nblock1:\n    return v0\n}\n"),
        &["@f", "bool"],
    );
    rejected(
        &parse("function @f(f64) -> (f64) {\nblock0(v0: f64):\n    jump block1(v0, v0)\nblock1(v1: f64):\n    return v1\n}\n"),
        &["@f", "block1", "2"],
    );
    rejected(
        &parse("function @f(ptr<f64>) -> (ptr<f64>) {\nblock0(v0: ptr<f64>):\n    return v0\n}\n"),
        &["@f", "pointer"],
    );
    rejected(
        &parse("function @g(f64) -> (f64) {\nblock0(v0: f64):\n    return v0\n}\n\nfunction @f(i64) -> (f64) {\nblock0(v0: i64):\n    v1:f64 = call @g(v0)\n    return v1\n}\n"),
        &["@f", "inst0", "@g"],
    );
}

#[test]
fn structurally_broken_programs_are_rejected() {
    // No blocks.
    let mut program = Program::new();
    program.add(Function::new(
        "empty",
        Signature {
            params: vec![],
            returns: vec![],
        },
    ));
    rejected(&program, &["@empty", "block"]);

    // A block without a terminator.
    let mut f = Function::new(
        "f",
        Signature {
            params: vec![Type::F64],
            returns: vec![Type::F64],
        },
    );
    {
        let mut b = FunctionBuilder::new(&mut f);
        let x = b.param(0);
        b.add(x, x);
    }
    let mut program = Program::new();
    program.add(f.clone());
    rejected(&program, &["@f", "terminator"]);

    // An operand that is not a value of the function.
    let mut g = f.clone();
    FunctionBuilder::new(&mut g).ret(&[Value(99)]);
    let mut program = Program::new();
    program.add(g);
    rejected(&program, &["@f", "v99"]);

    // A jump to a block that does not exist.
    let mut g = f.clone();
    FunctionBuilder::new(&mut g).jump(dynlib_ir::Block(5), &[]);
    let mut program = Program::new();
    program.add(g);
    rejected(&program, &["@f", "block5"]);

    // A call to a function that does not exist.
    let mut g = f.clone();
    {
        let mut b = FunctionBuilder::new(&mut g);
        let x = b.param(0);
        b.call(
            FuncId(3),
            &Signature {
                params: vec![Type::F64],
                returns: vec![],
            },
            &[x],
        );
        b.ret(&[x]);
    }
    let mut program = Program::new();
    program.add(g);
    rejected(&program, &["@f", "fn3"]);

    // Entry parameters that disagree with the signature.
    let mut g = f.clone();
    g.sig.params = vec![Type::I64];
    FunctionBuilder::new(&mut g).ret(&[Value(0)]);
    let mut program = Program::new();
    program.add(g);
    rejected(&program, &["@f"]);

    // A terminator in the middle of a block.
    let mut g = Function::new(
        "f",
        Signature {
            params: vec![Type::F64],
            returns: vec![Type::F64],
        },
    );
    {
        let mut b = FunctionBuilder::new(&mut g);
        let x = b.param(0);
        b.ret(&[x]);
        b.ret(&[x]);
    }
    let mut program = Program::new();
    program.add(g);
    rejected(&program, &["@f", "terminator"]);
}

#[test]
fn programs_the_verifier_rejects_are_rejected() {
    // A use before the definition in the same block.
    rejected(
        &parse("function @f(f64) -> (f64) {\nblock0(v0: f64):\n    v1:f64 = add v0, v2\n    v2:f64 = const 1.0\n    return v1\n}\n"),
        &["@f", "inst0", "v2"],
    );
    // A value from a block that does not dominate the use.
    rejected(
        &parse(concat!(
            "function @f(bool) -> (f64) {\nblock0(v0: bool):\n    brif v0, block1, block2\n",
            "block1:\n    v1:f64 = const 1.0\n    jump block2\n",
            "block2:\n    return v1\n}\n"
        )),
        &["@f", "v1", "dominate"],
    );
    // A jump back to the entry block, whose parameters are the function's.
    rejected(
        &parse("function @f(f64) -> (f64) {\nblock0(v0: f64):\n    jump block0(v0)\n}\n"),
        &["@f", "block0"],
    );
    // Constants whose bits are not a value of their type.
    rejected(
        &parse(
            "function @f() -> (i32) {\nblock0:\n    v0:i32 = const 4294967295\n    return v0\n}\n",
        ),
        &["@f", "inst0", "i32"],
    );
    let mut f = Function::new(
        "f",
        Signature {
            params: vec![],
            returns: vec![Type::Bool],
        },
    );
    {
        let mut b = FunctionBuilder::new(&mut f);
        let v = b.constant(Type::Bool, 2);
        b.ret(&[v]);
    }
    let mut program = Program::new();
    program.add(f);
    rejected(&program, &["@f", "inst0", "bool"]);
    let mut f = Function::new(
        "f",
        Signature {
            params: vec![],
            returns: vec![Type::F32],
        },
    );
    {
        let mut b = FunctionBuilder::new(&mut f);
        let v = b.constant(Type::F32, 1 << 40);
        b.ret(&[v]);
    }
    let mut program = Program::new();
    program.add(f);
    rejected(&program, &["@f", "inst0", "f32"]);
    // Two functions with one name.
    let p = "function @f() -> () {\nblock0:\n    return\n}\n";
    let mut program = parse(p);
    let dup = program.functions[0].clone();
    program.add(dup);
    rejected(&program, &["@f", "named"]);
    // An instruction whose result is defined by another instruction.
    let mut program = parse("function @f() -> (f64) {\nblock0:\n    v0:f64 = const 1.0\n    v1:f64 = add v0, v0\n    return v1\n}\n");
    let f = &mut program.functions[0];
    let add = f.blocks[0].insts[1];
    f.blocks[0].insts.insert(2, add);
    rejected(&program, &["@f", "inst1"]);
    // A store with a result, a constant with two.
    let mut program = parse("function @f(ptr<f64>) -> () {\nblock0(v0: ptr<f64>):\n    v1:i64 = const 0\n    v2:f64 = const 1.0\n    store v0, v1, v2\n    return\n}\n");
    let f = &mut program.functions[0];
    let store = f.blocks[0].insts[2];
    assert!(matches!(f.inst(store), InstData::Store { .. }));
    let v = f.make_value(Type::F64, dynlib_ir::ValueDef::Result(store, 0));
    f.results[store.index()].push(v);
    rejected(&program, &["@f", "inst2", "result"]);
}

#[test]
fn decoder_errors_display_function_entity_and_instruction() {
    let program = parse("function @rhs(bool, bool) -> (bool) {\nblock0(v3: bool, v4: bool):\n    v7:bool = add v3, v4\n    return v7\n}\n");
    let err = Interpreter::new(&program).unwrap_err();
    assert_eq!(err.function, "rhs");
    assert_eq!(err.entity.as_deref(), Some("inst0"));
    let text = err.to_string();
    assert!(text.starts_with("@rhs: inst0: "), "{text}");
    assert!(text.ends_with("(in `v7:bool = add v3, v4`)"), "{text}");
}
