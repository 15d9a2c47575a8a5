//! float32 models compute in float32: every operation rounds to float32 (numpy's scalar
//! rules, NEP 50: a literal takes the float32 type of the other operand), `**` is numpy's
//! `powf`, and a math function is Python's `math` one: float64 on the exact argument, the
//! result rounded to float32. Three maps against the Python
//! reference's interpreter bit for bit over 1000 iterations
//! (`tests/data/golden/float32_maps.json`, from `tools/golden_float32.py`), on both
//! backends; and the rule itself on an expression where float64 evaluation differs.

use dynlib_model::Config;
use dynlib_runtime::{RunOptions, SetupOptions};
use serde_json::Value;

fn golden() -> Value {
    let path = format!(
        "{}/../tests/data/golden/float32_maps.json",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn float32_maps_match_the_reference_bit_for_bit() {
    let g = golden();
    let cases = g["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 3);
    for case in cases {
        let uri = case["uri"].as_str().unwrap();
        let n = case["iterations"].as_u64().unwrap();
        let names: Vec<&str> = case["states"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s.as_str().unwrap())
            .collect();
        for (k, name) in names.iter().enumerate() {
            let want: Vec<u32> = case["bits"][k]
                .as_array()
                .unwrap()
                .iter()
                .map(|b| b.as_u64().unwrap() as u32)
                .collect();
            for (jit, got) in series_of(uri, Some("float32"), name, n) {
                assert_eq!(got.len(), want.len(), "{uri} {name}");
                if let Some(i) = got.iter().zip(&want).position(|(a, b)| a != b) {
                    panic!(
                        "{uri} (jit {jit}): {name} differs first at iteration {i}: {} against \
                         the reference's {}",
                        f32::from_bits(got[i]),
                        f32::from_bits(want[i])
                    );
                }
            }
        }
    }
}

#[test]
fn every_operation_rounds_to_float32() {
    // x' = (x * 3.1 + 0.7) / 1.3 - x ** 2 * 1e-3 - floor(x): each operation rounded to
    // float32, a literal rounded to float32 first, `**` numpy's powf. Evaluated in float64
    // and rounded once, the iteration leaves these bits within a few steps.
    const MAP: &str = r#"
[model]
type = "map"
dtype = "float32"
[states]
x = 0.3
[equations.rhs]
x = "(x * 3.1 + 0.7) / 1.3 - x ** 2.0 * 1e-3 - floor(x)"
"#;
    use dynlib_ir::libm::powf;
    let mut want = vec![0.3f32];
    for _ in 0..200 {
        let x = *want.last().unwrap();
        want.push((x * 3.1 + 0.7) / 1.3 - powf(x, 2.0) * 1e-3 - x.floor());
    }
    let mut wide = 0.3f32;
    let mut differs = false;
    for w in &want[1..] {
        let x = wide as f64;
        wide = ((x * (3.1f32 as f64) + (0.7f32 as f64)) / (1.3f32 as f64)
            - x * x * (1e-3f32 as f64)
            - x.floor()) as f32;
        differs |= wide != *w;
    }
    assert!(
        differs,
        "the model must tell float32 from float64 arithmetic"
    );
    let got = series(MAP, "x", 200);
    let want: Vec<u32> = want.iter().map(|x| x.to_bits()).collect();
    for (jit, got) in got {
        assert_eq!(got, want, "jit {jit}");
    }
}

#[test]
fn math_functions_compute_in_float64_and_round() {
    // As the reference's `math.sin` of a float32: the exact float64 of the argument, the
    // float64 function, the result rounded to float32 (the C library's sinf differs in
    // about one case in a hundred on this walk).
    const MAP: &str = r#"
[model]
type = "map"
dtype = "float32"
[states]
x = 0.0
s = 0.0
c = 0.0
[equations.rhs]
x = "x + 0.001"
s = "sin(x)"
c = "cos(x)"
"#;
    let sinf = dynlib_ir::libm::unary_f32(dynlib_ir::MathFn::Sin).unwrap();
    let n = 20_000;
    let mut xs = vec![0.0f32];
    for _ in 0..n {
        xs.push(xs.last().unwrap() + 0.001);
    }
    // s and c of iteration k are of x at iteration k − 1.
    let of = |f: fn(f64) -> f64| -> Vec<u32> {
        std::iter::once(0)
            .chain(
                xs[..n as usize]
                    .iter()
                    .map(|&x| (f(x as f64) as f32).to_bits()),
            )
            .collect()
    };
    let (want_s, want_c) = (of(f64::sin), of(f64::cos));
    let sinf_differs = xs
        .iter()
        .filter(|&&x| sinf(x) != (x as f64).sin() as f32)
        .count();
    assert!(sinf_differs > 10, "{sinf_differs}");
    for ((jit, s), (_, c)) in series(MAP, "s", n).into_iter().zip(series(MAP, "c", n)) {
        assert_eq!(s, want_s, "sin, jit {jit}");
        assert_eq!(c, want_c, "cos, jit {jit}");
    }
}

/// The bits of `var` over `n` iterations of the map `model` (its text), on each backend.
fn series(model: &str, var: &str, n: u64) -> Vec<(bool, Vec<u32>)> {
    series_of(&format!("inline:{model}"), None, var, n)
}

/// [`series`] of the map at `uri`, in `dtype` when given.
fn series_of(uri: &str, dtype: Option<&str>, var: &str, n: u64) -> Vec<(bool, Vec<u32>)> {
    [false, cfg!(feature = "jit")]
        .into_iter()
        .map(|jit| {
            let mut o = SetupOptions::default()
                .jit(jit)
                .tiered(false)
                .config(Config::default());
            if let Some(d) = dtype {
                o = o.dtype(d);
            }
            let mut sim = dynlib_runtime::setup(uri, o).unwrap();
            let r = sim.run(RunOptions::default().n(n)).unwrap();
            let bits = r
                .series(var)
                .unwrap()
                .iter()
                .map(|&x| (x as f32).to_bits())
                .collect();
            (jit, bits)
        })
        .collect()
}

#[test]
fn python_builtins_round_once_where_python_computes_in_float64() {
    // An int sum is exact, then rounded (accumulated in float32 it would give 332833152);
    // log(x, b), n-ary hypot and int / int are float64 throughout, rounded once.
    const MAP: &str = r#"
[model]
type = "map"
dtype = "float32"
[states]
x = 0.3
a = 0.0
b = 0.0
c = 0.0
d = 0.0
[equations.rhs]
x = "x * 1.1 - floor(x * 1.1) + 0.01"
a = "sum(i * i for i in range(1000))"
b = "log(x + 2.0, 3.0)"
c = "hypot(x, 2.0, 3.0)"
d = "7 / 3 + x"
"#;
    let n = 300;
    let mut x = vec![0.3f32];
    for _ in 0..n {
        let v = *x.last().unwrap();
        x.push(v * 1.1 - (v * 1.1).floor() + 0.01);
    }
    let prev = |f: &dyn Fn(f32) -> f32| -> Vec<u32> {
        std::iter::once(0)
            .chain(x[..n as usize].iter().map(|&v| f(v).to_bits()))
            .collect()
    };
    let want_a = prev(&|_| 332_833_500f64 as f32);
    assert_eq!(332_833_500f64 as f32, 332_833_504.0);
    let want_b = prev(&|v| (((v + 2.0) as f64).ln() / 3f64.ln()) as f32);
    let want_c = prev(&|v| (v as f64).hypot(2.0).hypot(3.0) as f32);
    let want_d = prev(&|v| (7.0f64 / 3.0) as f32 + v);
    for (name, want) in [("a", want_a), ("b", want_b), ("c", want_c), ("d", want_d)] {
        for (jit, got) in series(MAP, name, n) {
            assert_eq!(got, want, "{name}, jit {jit}");
        }
    }
}
