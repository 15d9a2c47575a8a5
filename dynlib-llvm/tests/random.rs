//! Random IR programs (dynlib-ir's generator: every operation, diamonds, loops with block
//! parameters, calls two levels deep, stores), compiled natively before and after the IR
//! passes (and with their blocks outlined into small functions) at LLVM O0 and O2, give the
//! interpreter's bits: return value and every stored element, on inputs with NaNs, signed
//! zeros, infinities and extremes.

#[path = "../../dynlib-ir/tests/common/mod.rs"]
mod common;

use common::{random_program, F32_BITS, F64_BITS, I32S, I64S};
use dynlib_interp::{Interpreter, Machine};
use dynlib_ir::{Arg, FuncId, Program, Scalar};
use dynlib_llvm::{compile, CodegenOptions, OptLevel};

/// A way to call a function of the program: the interpreter or native code.
type Call<'a> = dyn FnMut(FuncId, &mut [Arg<'_>], &mut [Scalar]) + 'a;

/// Runs `@main` with `call` on the inputs `common::run_main(program, k)` uses; returns the
/// result and both output arrays, as bits.
fn run_main_with(program: &Program, k: usize, call: &mut Call<'_>) -> Vec<u64> {
    let pick = |xs: &[u64], j: usize| xs[(k * 7 + j * 3) % xs.len()];
    let mut input: Vec<f64> = (0..4).map(|j| f64::from_bits(pick(F64_BITS, j))).collect();
    let mut out_f = vec![0.0f64; 4];
    let mut out_i = vec![0i64; 4];
    let mut result = [Scalar::F64(0.0)];
    let main = program.find("main").unwrap();
    call(
        main,
        &mut [
            Arg::F64(f64::from_bits(pick(F64_BITS, 11))),
            Arg::F64(f64::from_bits(pick(F64_BITS, 12))),
            Arg::I64(I64S[k % I64S.len()]),
            Arg::I32(I32S[k % I32S.len()]),
            Arg::F32(f32::from_bits(F32_BITS[k % F32_BITS.len()] as u32)),
            Arg::Bool(k % 2 == 1),
            Arg::PtrF64(&mut input),
            Arg::PtrF64(&mut out_f),
            Arg::PtrI64(&mut out_i),
        ],
        &mut result,
    );
    let mut out = vec![result[0].to_bits()];
    out.extend(out_f.iter().map(|x| x.to_bits()));
    out.extend(out_i.iter().map(|&x| x as u64));
    out
}

/// The f64 slots (result and `out_f`) with every NaN replaced by one NaN: which NaN payload
/// survives an operation on NaNs is outside the bit-identity guarantee (see the crate
/// docs: LLVM folds invalid operations to the positive quiet NaN where x86 computes the
/// negative one, and may commute operands). Every other bit is compared exactly.
fn nan_blind(v: &[u64]) -> Vec<u64> {
    v.iter()
        .enumerate()
        .map(|(i, &b)| {
            if i <= 4 && f64::from_bits(b).is_nan() {
                f64::NAN.to_bits()
            } else {
                b
            }
        })
        .collect()
}

#[test]
fn random_programs_compile_to_the_reference_bits() {
    for seed in 0..150 {
        let original = random_program(seed);
        let mut optimized = original.clone();
        dynlib_ir::passes::optimize(&mut optimized);
        let interp = Interpreter::new(&original).unwrap();
        let mut machine = Machine::new();
        let expected: Vec<Vec<u64>> = (0..6)
            .map(|k| {
                run_main_with(&original, k, &mut |f, args, out| {
                    interp.call_into(&mut machine, f, args, out).unwrap()
                })
            })
            .collect();
        // And with every block of more than 3 instructions cut into functions of at most
        // 3 (the native backend does this to long blocks): the interpreter and LLVM.
        let mut outlined = optimized.clone();
        let main = outlined.find("main").unwrap();
        dynlib_ir::passes::outline::outline_with(&mut outlined, &[main], 3, 3);
        dynlib_ir::verify_program(&outlined)
            .unwrap_or_else(|e| panic!("seed {seed}: outlined IR rejected: {e:?}\n{outlined}"));
        let cut = Interpreter::new(&outlined).unwrap();
        for (k, want) in expected.iter().enumerate() {
            let got = run_main_with(&outlined, k, &mut |f, args, out| {
                cut.call_into(&mut machine, f, args, out).unwrap()
            });
            assert_eq!(
                &got, want,
                "seed {seed}, outlined IR, input {k}\n{outlined}"
            );
        }
        for (label, program) in [
            ("unoptimised", &original),
            ("optimised", &optimized),
            ("outlined", &outlined),
        ] {
            for level in [OptLevel::O0, OptLevel::O2] {
                let main = program.find("main").unwrap();
                // Half the seeds without the SLP vectorizer, half with (it never changes
                // a bit either way).
                let opts = CodegenOptions {
                    opt_level: level,
                    vectorize: seed % 2 == 0,
                };
                let jit = compile(program, &[main], &opts, "random")
                    .unwrap_or_else(|e| panic!("seed {seed} {label} {opts:?}: {e}"))
                    .load()
                    .unwrap();
                for (k, want) in expected.iter().enumerate() {
                    let got = run_main_with(program, k, &mut |f, args, out| {
                        // SAFETY: `@main` indexes its arrays with the constants 0..4 only
                        // (the generator's contract), and every array has 4 elements.
                        unsafe { jit.call(f, args, out).unwrap() }
                    });
                    assert_eq!(
                        nan_blind(&got),
                        nan_blind(want),
                        "seed {seed}, {label} IR, {opts:?}, input {k}\n{program}"
                    );
                }
            }
        }
    }
}
