//! The backend's contract beyond single operations: libm calls are never rewritten, calls
//! between functions and several results work, bad input is an error, units can be loaded
//! and dropped repeatedly and called from many threads.

use dynlib_interp::{Interpreter, Machine};
use dynlib_ir::{
    parse_program, Arg, Elem, FuncId, Function, FunctionBuilder, MathFn, Program, Scalar,
    Signature, Type,
};
use dynlib_llvm::{assembly, compile, host, llvm_ir, CodegenOptions, Error};

fn math_on_constants() -> (Program, FuncId) {
    // pow(x, 2.0), pow(3.3, 2.0), sin(0.5) + exp(1e-3): LLVM would turn the first into x*x
    // and fold the others at compile time if it recognised them.
    let mut f = Function::new(
        "consts",
        Signature {
            params: vec![Type::F64],
            returns: vec![Type::F64, Type::F64, Type::F64],
        },
    );
    let mut b = FunctionBuilder::new(&mut f);
    let x = b.param(0);
    let two = b.f64(2.0);
    let sq = b.math(MathFn::Pow, &[x, two]);
    let c = b.f64(3.3);
    let csq = b.math(MathFn::Pow, &[c, two]);
    let h = b.f64(0.5);
    let s = b.math(MathFn::Sin, &[h]);
    let small = b.f64(1e-3);
    let e = b.math(MathFn::Exp, &[small]);
    let se = b.add(s, e);
    b.ret(&[sq, csq, se]);
    let mut p = Program::new();
    let id = p.add(f);
    (p, id)
}

/// A program the verifier rejects: `f64 + bool`.
fn ill_typed() -> (Program, FuncId) {
    let mut bad = Function::new(
        "bad",
        Signature {
            params: vec![Type::F64, Type::Ptr(Elem::F64)],
            returns: vec![Type::F64],
        },
    );
    let mut b = FunctionBuilder::new(&mut bad);
    let x = b.param(0);
    let t = b.bool(true);
    let y = b.add(x, t);
    b.ret(&[y]);
    let mut p = Program::new();
    let id = p.add(bad);
    (p, id)
}

#[test]
fn libm_calls_survive_optimisation() {
    let (p, id) = math_on_constants();
    let ir = llvm_ir(&p, &[id], &CodegenOptions::default(), "api").unwrap();
    assert!(ir.matches("call double @pow").count() >= 2, "{ir}");
    assert!(ir.contains("call double @sin"), "{ir}");
    assert!(ir.contains("call double @exp"), "{ir}");
    let asm = assembly(&p, &[id], &CodegenOptions::default(), "api").unwrap();
    assert!(asm.contains("pow"), "{asm}");

    let jit = compile(&p, &[id], &CodegenOptions::default(), "api")
        .unwrap()
        .load()
        .unwrap();
    let interp = Interpreter::new(&p).unwrap();
    for x in [1.1, -3.7, 1e-160, 7.0e150] {
        let mut a = [Arg::F64(x)];
        let want = interp.call(&mut Machine::new(), id, &mut a).unwrap();
        let mut got = [Scalar::Bool(false); 3];
        // SAFETY: no arrays.
        unsafe { jit.call(id, &mut a, &mut got).unwrap() };
        assert_eq!(
            got.map(|s| s.to_bits()).to_vec(),
            want.iter().map(|s| s.to_bits()).collect::<Vec<_>>()
        );
    }
}

const PROGRAM: &str = "
function @divmod(i64, i64) -> (i64, i64) {
block0(v0: i64, v1: i64):
    v2:i64 = floordiv v0, v1
    v3:i64 = mod v0, v1
    return v2, v3
}

function @sum(ptr<f64>, i64, ptr<i64>) -> (f64) {
block0(v0: ptr<f64>, v1: i64, v2: ptr<i64>):
    v3:f64 = const 0.0
    v4:i64 = const 0
    jump block1(v4, v3)
block1(v5: i64, v6: f64):
    v7:bool = cmp lt v5, v1
    brif v7, block2, block3(v6)
block2:
    v8:f64 = load v0, v5
    v9:f64 = add v6, v8
    v10:i64 = const 1
    v11:i64 = add v5, v10
    v12:i64, v13:i64 = call @divmod(v11, v10)
    store v2, v5, v12
    jump block1(v11, v9)
block3(v14: f64):
    return v14
}
";
#[test]
fn loops_calls_arrays_and_several_results() {
    let p = match parse_program(PROGRAM) {
        Ok(p) => p,
        Err(e) => panic!("{e}"),
    };
    let sum = p.find("sum").unwrap();
    let divmod = p.find("divmod").unwrap();
    let jit = compile(&p, &[sum, divmod], &CodegenOptions::default(), "api")
        .unwrap()
        .load()
        .unwrap();
    let mut xs = [0.5, 1.25, -3.0, 8.0];
    let mut idx = [0i64; 4];
    let mut out = [Scalar::F64(0.0)];
    // SAFETY: `sum` touches xs[0..n] and idx[0..n] with n = 4, the arrays' length.
    unsafe {
        jit.call(
            sum,
            &mut [Arg::PtrF64(&mut xs), Arg::I64(4), Arg::PtrI64(&mut idx)],
            &mut out,
        )
        .unwrap()
    };
    assert_eq!(out, [Scalar::F64(6.75)]);
    assert_eq!(idx, [1, 2, 3, 4]);
    let mut two = [Scalar::I64(0), Scalar::I64(0)];
    // SAFETY: no arrays.
    unsafe {
        jit.call(divmod, &mut [Arg::I64(-7), Arg::I64(2)], &mut two)
            .unwrap()
    };
    assert_eq!(two, [Scalar::I64(-4), Scalar::I64(1)]);
}

/// A loop whose latch is a conditional branch (`@sum`'s is a jump).
const DO_WHILE: &str = "
function @scale(ptr<f64>, i64, f64) -> (f64) {
block0(v0: ptr<f64>, v1: i64, v2: f64):
    v3:i64 = const 0
    jump block1(v3)
block1(v4: i64):
    v5:f64 = load v0, v4
    v6:f64 = mul v5, v2
    store v0, v4, v6
    v7:i64 = const 1
    v8:i64 = add v4, v7
    v9:bool = cmp lt v8, v1
    brif v9, block1(v8), block2
block2:
    return v2
}
";

/// Every loop's latch says "do not vectorize, do not unroll at run time" (the emitters'
/// loops are short: vector loops only cost compile time), each export's body stays a
/// function of its own (its wrapper calls it instead of inlining it, so LLVM simplifies
/// the body once), and the code still computes the interpreter's bits.
#[test]
fn loops_are_hinted_scalar_and_exports_are_called_not_inlined() {
    let text = format!("{PROGRAM}{DO_WHILE}");
    let p = parse_program(&text).unwrap();
    let (sum, scale) = (p.find("sum").unwrap(), p.find("scale").unwrap());
    let opts = CodegenOptions::default();
    let ir = llvm_ir(&p, &[sum, scale], &opts, "api").unwrap();
    assert_eq!(ir.matches("!llvm.loop !").count(), 2, "{ir}");
    assert!(
        ir.contains("!\"llvm.loop.vectorize.enable\", i1 false"),
        "{ir}"
    );
    assert!(ir.contains("!\"llvm.loop.unroll.runtime.disable\""), "{ir}");
    assert!(
        !ir.contains("vector.body") && !ir.contains("x double>"),
        "{ir}"
    );
    for name in ["sum", "scale"] {
        let wrapper = ir
            .split(&format!("define void @dynlib_entry_{name}("))
            .nth(1)
            .and_then(|w| w.split("\n}").next())
            .unwrap_or_else(|| panic!("no wrapper for {name}: {ir}"));
        assert!(wrapper.contains(&format!("@dl.{name}(")), "{wrapper}");
    }

    let jit = compile(&p, &[sum, scale], &opts, "api")
        .unwrap()
        .load()
        .unwrap();
    let interp = Interpreter::new(&p).unwrap();
    for n in 1..40usize {
        let xs: Vec<f64> = (0..n).map(|k| (k as f64 * 0.37).sin() * 1e3).collect();
        let run = |call: &mut dyn FnMut(&mut [Arg<'_>], &mut [Scalar])| {
            let (mut a, mut idx, mut b) = (xs.clone(), vec![0i64; n], xs.clone());
            let mut out = [Scalar::F64(0.0)];
            call(
                &mut [
                    Arg::PtrF64(&mut a),
                    Arg::I64(n as i64),
                    Arg::PtrI64(&mut idx),
                ],
                &mut out,
            );
            let total = out[0].to_bits();
            call(
                &mut [Arg::PtrF64(&mut b), Arg::I64(n as i64), Arg::F64(1.1)],
                &mut out,
            );
            (
                total,
                idx,
                b.iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
            )
        };
        let mut calls = 0;
        let native = run(&mut |args, out| {
            let f = if calls % 2 == 0 { sum } else { scale };
            calls += 1;
            // SAFETY: both functions touch the first n elements of arrays n long.
            unsafe { jit.call(f, args, out).unwrap() };
        });
        let mut calls = 0;
        let interpreted = run(&mut |args, out| {
            let f = if calls % 2 == 0 { sum } else { scale };
            calls += 1;
            interp.call_into(&mut Machine::new(), f, args, out).unwrap();
        });
        assert_eq!(native, interpreted, "n = {n}");
    }
}

/// A loop with two latches (a `brif` whose both edges go back to the header, the else edge
/// through a split block) names one loop: both latches carry the same `llvm.loop` node.
#[test]
fn all_latches_of_a_loop_share_its_loop_node() {
    let text = "
function @two_latches(i64) -> (i64) {
block0(v0: i64):
    v1:i64 = const 0
    jump block1(v1)
block1(v2: i64):
    v3:i64 = const 1
    v4:i64 = add v2, v3
    v5:i64 = const 2
    v6:i64 = add v2, v5
    v7:bool = cmp lt v4, v0
    v8:bool = cmp lt v6, v0
    brif v8, block1(v6), block2
block2:
    brif v7, block1(v4), block1(v6)
}
";
    let p = parse_program(text).unwrap();
    let f = p.find("two_latches").unwrap();
    let o0 = CodegenOptions {
        opt_level: dynlib_llvm::OptLevel::O0,
        ..Default::default()
    };
    let ir = llvm_ir(&p, &[f], &o0, "api").unwrap();
    let ids: Vec<&str> = ir
        .lines()
        .filter_map(|l| l.split("!llvm.loop ").nth(1))
        .collect();
    assert_eq!(ids.len(), 3, "{ir}");
    assert!(ids.iter().all(|id| *id == ids[0]), "{ir}");
}

#[test]
fn bad_input_is_an_error() {
    let p = parse_program(PROGRAM).unwrap();
    let sum = p.find("sum").unwrap();
    let divmod = p.find("divmod").unwrap();
    let jit = compile(&p, &[divmod], &CodegenOptions::default(), "api")
        .unwrap()
        .load()
        .unwrap();
    let mut r = [Scalar::I64(0), Scalar::I64(0)];
    // SAFETY (all three): no arrays reach native code; each call fails its checks first.
    let e = unsafe { jit.call(sum, &mut [], &mut r) }.unwrap_err();
    assert!(matches!(e, dynlib_native::Error::NotExported(_)), "{e}");
    let e = unsafe { jit.call(divmod, &mut [Arg::I64(1)], &mut r) }.unwrap_err();
    assert!(
        e.to_string().contains("takes 2 arguments, 1 were passed"),
        "{e}"
    );
    let e = unsafe { jit.call(divmod, &mut [Arg::I64(1), Arg::F64(2.0)], &mut r) }.unwrap_err();
    assert!(
        e.to_string()
            .contains("argument 1 of `divmod` must be i64, found f64"),
        "{e}"
    );

    // An unverified program never reaches LLVM.
    let (p, id) = ill_typed();
    let e = compile(&p, &[id], &CodegenOptions::default(), "api").unwrap_err();
    assert!(matches!(e, Error::Invalid(_)), "{e}");
}

#[test]
fn units_load_and_drop_repeatedly_and_serve_many_threads() {
    let p = parse_program(PROGRAM).unwrap();
    let divmod = p.find("divmod").unwrap();
    let object = compile(&p, &[divmod], &CodegenOptions::default(), "api").unwrap();
    for _ in 0..20 {
        let jit = object.load().unwrap();
        drop(jit);
    }
    let jit = object.load().unwrap();
    std::thread::scope(|s| {
        for k in 0..4i64 {
            let jit = &jit;
            s.spawn(move || {
                for i in -500..500i64 {
                    let mut r = [Scalar::I64(0), Scalar::I64(0)];
                    // SAFETY: no arrays.
                    unsafe { jit.call(divmod, &mut [Arg::I64(i), Arg::I64(k + 1)], &mut r) }
                        .unwrap();
                    assert_eq!(
                        r,
                        [
                            Scalar::I64(i.div_euclid(k + 1)),
                            Scalar::I64(i.rem_euclid(k + 1))
                        ]
                    );
                }
            });
        }
    });
}

#[test]
fn the_host_is_described() {
    let h = host().unwrap();
    assert!(h.llvm_version.starts_with("14"), "{h:?}");
    assert!(!h.triple.is_empty() && !h.cpu.is_empty());
    assert!(h.describe().contains(&h.triple));
    assert!(CodegenOptions::default().describe().contains("opt=O2"));
}

#[test]
fn an_object_loads_only_with_its_own_tag_and_abi() {
    let p = parse_program(PROGRAM).unwrap();
    let divmod = p.find("divmod").unwrap();
    let sum = p.find("sum").unwrap();
    let object = compile(&p, &[divmod], &CodegenOptions::default(), "unit-a").unwrap();
    object.load().unwrap();
    // The same bytes expected under another identity: refused before any call.
    let mut other = object.clone();
    other.tag = "unit-b".into();
    let e = other.load().unwrap_err();
    assert!(
        matches!(&e, dynlib_native::Error::Foreign { what: "tag", .. }),
        "{e}"
    );
    assert!(e.to_string().contains("unit-a"), "{e}");
    // The same bytes expected to export something else: refused too.
    let mut other = object.clone();
    other.exports = dynlib_llvm::exports_of(&p, &[sum]);
    let e = other.load().unwrap_err();
    assert!(
        matches!(&e, dynlib_native::Error::Foreign { what: "ABI", .. }),
        "{e}"
    );
    // The tag is in the object's bytes, where a cache can see it without loading.
    let text = String::from_utf8_lossy(&object.bytes);
    assert!(text.contains("unit-a"));
}

/// Programs compiled through the plugin (dynlib-native: the IR crosses as text) are the
/// objects compiled in process, byte for byte; errors come back as text.
#[test]
fn the_plugin_compiles_exactly_what_this_crate_compiles() {
    let opts = CodegenOptions::default();
    for (p, exports) in [
        {
            let (p, id) = math_on_constants();
            (p, vec![id])
        },
        {
            let p = parse_program(PROGRAM).unwrap();
            let exports = vec![p.find("sum").unwrap(), p.find("divmod").unwrap()];
            (p, exports)
        },
        {
            let p = parse_program(DO_WHILE).unwrap();
            let scale = p.find("scale").unwrap();
            (p, vec![scale])
        },
    ] {
        let here = compile(&p, &exports, &opts, "api").unwrap();
        let there = dynlib_native::compile(&p, &exports, &opts, "api").unwrap();
        assert_eq!(here, there);
        assert_eq!(
            llvm_ir(&p, &exports, &opts, "api").unwrap(),
            dynlib_native::llvm_ir(&p, &exports, &opts, "api").unwrap()
        );
        assert_eq!(
            assembly(&p, &exports, &opts, "api").unwrap(),
            dynlib_native::assembly(&p, &exports, &opts, "api").unwrap()
        );
    }
    assert!(dynlib_native::plugin::is_loaded());
    assert_eq!(host().unwrap(), dynlib_native::host().unwrap());
    let plugin = dynlib_native::plugin::path().unwrap();
    assert_eq!(
        plugin.file_name().unwrap().to_string_lossy(),
        dynlib_native::plugin::file_name()
    );

    // The verifier's complaint crosses the boundary as the backend's message.
    let (p, id) = ill_typed();
    let e = dynlib_native::compile(&p, &[id], &opts, "api").unwrap_err();
    assert!(
        matches!(&e, dynlib_native::Error::Backend(m) if m.starts_with("invalid IR")),
        "{e}"
    );
}

/// Four independent products, one per element: what the SLP vectorizer packs.
fn isomorphic_products() -> (Program, FuncId) {
    let mut text = String::from(
        "function @products(ptr<f64>, ptr<f64>, ptr<f64>) -> (i32) {\n\
         block0(v0: ptr<f64>, v1: ptr<f64>, v2: ptr<f64>):\n",
    );
    for i in 0..4 {
        let v = 10 + 4 * i;
        text.push_str(&format!(
            "    v{v}:i64 = const {i}\n    v{}:f64 = load v1, v{v}\n    v{}:f64 = load v2, v{v}\n    \
             v{}:f64 = mul v{}, v{}\n    store v0, v{v}, v{}\n",
            v + 1,
            v + 2,
            v + 3,
            v + 1,
            v + 2,
            v + 3
        ));
    }
    text.push_str("    v99:i32 = const 0\n    return v99\n}\n");
    let p = parse_program(&text).unwrap();
    let f = p.find("products").unwrap();
    (p, f)
}

/// `CodegenOptions::vectorize` decides whether isomorphic scalar code becomes vector code,
/// and the bits are the interpreter's either way.
#[test]
fn vectorizing_is_an_option_that_never_changes_a_bit() {
    let (p, f) = isomorphic_products();
    let interp = Interpreter::new(&p).unwrap();
    let inputs = |k: usize| -> (Vec<f64>, Vec<f64>) {
        let a = (0..4).map(|i| ((i + k) as f64 * 0.7).sin() * 1e5).collect();
        let b = (0..4).map(|i| ((i * k) as f64 + 0.3).cos() / 3.0).collect();
        (a, b)
    };
    for vectorize in [true, false] {
        let opts = CodegenOptions {
            vectorize,
            ..Default::default()
        };
        let ir = llvm_ir(&p, &[f], &opts, "api").unwrap();
        assert_eq!(
            ir.contains("x double>"),
            vectorize,
            "vectorize {vectorize}:\n{ir}"
        );
        let jit = compile(&p, &[f], &opts, "api").unwrap().load().unwrap();
        for k in 0..8 {
            let (a, b) = inputs(k);
            let run = |call: &mut dyn FnMut(&mut [Arg<'_>], &mut [Scalar])| {
                let (mut out, mut x, mut y) = (vec![0.0; 4], a.clone(), b.clone());
                let mut status = [Scalar::I32(-1)];
                call(
                    &mut [
                        Arg::PtrF64(&mut out),
                        Arg::PtrF64(&mut x),
                        Arg::PtrF64(&mut y),
                    ],
                    &mut status,
                );
                out.iter().map(|v| v.to_bits()).collect::<Vec<_>>()
            };
            // SAFETY: the function reads and writes elements 0..4 of arrays 4 long.
            let native = run(&mut |args, out| unsafe { jit.call(f, args, out).unwrap() });
            let interpreted =
                run(&mut |args, out| interp.call_into(&mut Machine::new(), f, args, out).unwrap());
            assert_eq!(native, interpreted, "vectorize {vectorize}, input {k}");
        }
    }
}
