//! Superinstructions: the decoder fuses adjacent pairs (two f64 loads, two f64 stores, an
//! f64 operation and the store of its result, two dependent f64 operations). Each fused
//! form must compute exactly what the pair computes — operand order included, which NaN
//! payloads reveal — and a trap in either half must name that half's instruction.

mod common;

use common::*;
use dynlib_interp::{Arg, Machine, Scalar, Trap};
use dynlib_ir::{BinaryOp, CmpOp, Elem, FuncId, Type};

const OPS: [BinaryOp; 4] = [BinaryOp::Add, BinaryOp::Sub, BinaryOp::Mul, BinaryOp::Div];

fn apply(op: BinaryOp, x: f64, y: f64) -> f64 {
    match op {
        BinaryOp::Add => x + y,
        BinaryOp::Sub => x - y,
        BinaryOp::Mul => x * y,
        BinaryOp::Div => x / y,
        _ => unreachable!(),
    }
}

fn name(op: BinaryOp) -> &'static str {
    match op {
        BinaryOp::Add => "Add",
        BinaryOp::Sub => "Sub",
        BinaryOp::Mul => "Mul",
        BinaryOp::Div => "Div",
        _ => unreachable!(),
    }
}

/// Inputs with distinct NaN payloads, so that which operand an operation reads first
/// shows in the result bits.
fn inputs() -> Vec<[f64; 3]> {
    let n1 = f64::from_bits(0x7ff8_0000_0000_0111);
    let n2 = f64::from_bits(0xfff8_0000_0000_0222);
    let n3 = f64::from_bits(0x7ff8_0000_0000_0333);
    vec![
        [1.5, -2.25, 3.0],
        [0.1, 0.2, 0.3],
        [-0.0, 0.0, -0.0],
        [1e308, 10.0, -1e308],
        [n1, n2, n3],
        [n1, 1.0, n3],
        [2.0, n2, n3],
        [1.0, 2.0, n3],
        [f64::INFINITY, f64::NEG_INFINITY, 1.0],
    ]
}

#[test]
fn dependent_pairs_compute_what_the_pair_computes() {
    let mut machine = Machine::new();
    for op1 in OPS {
        for op2 in OPS {
            // side 0: d2 = d1 op2 c; side 1: d2 = c op2 d1; side 2: d2 = d1 op2 d1.
            for side in 0..3 {
                let p = single(&[Type::F64; 3], &[Type::F64, Type::F64], |b, p| {
                    let d1 = b.binary(op1, p[0], p[1]);
                    let d2 = match side {
                        0 => b.binary(op2, d1, p[2]),
                        1 => b.binary(op2, p[2], d1),
                        _ => b.binary(op2, d1, d1),
                    };
                    vec![d1, d2]
                });
                let i = interp(&p);
                let listing = i.disassemble(FuncId(0)).unwrap();
                let fusible = op1 != BinaryOp::Div && op2 != BinaryOp::Div;
                let fused = format!(
                    "{}{}{}",
                    name(op1),
                    name(op2),
                    if side == 1 { "R" } else { "L" }
                );
                assert_eq!(
                    listing.contains(&fused),
                    fusible,
                    "{op1:?} then {op2:?}, side {side}:\n{listing}"
                );
                for [a, b, c] in inputs() {
                    let d1 = apply(op1, a, b);
                    let d2 = match side {
                        0 => apply(op2, d1, c),
                        1 => apply(op2, c, d1),
                        _ => apply(op2, d1, d1),
                    };
                    let got = call_bits(&i, &mut machine, &[a, b, c].map(f64::to_bits));
                    assert_eq!(
                        got,
                        vec![d1.to_bits(), d2.to_bits()],
                        "{op1:?} then {op2:?}, side {side}, inputs {a:?} {b:?} {c:?}"
                    );
                }
            }
        }
    }
}

#[test]
fn an_operation_and_the_store_of_its_result() {
    let mut machine = Machine::new();
    for op in OPS {
        // p[1] = a op b; then p[2] = p[1] (a load of what was stored); return a op b.
        let p = single(
            &[Type::Ptr(Elem::F64), Type::F64, Type::F64],
            &[Type::F64],
            |b, p| {
                let d = b.binary(op, p[1], p[2]);
                let one = b.i64(1);
                b.store(p[0], one, d);
                let x = b.load(p[0], one);
                let two = b.i64(2);
                b.store(p[0], two, x);
                vec![d]
            },
        );
        let i = interp(&p);
        let listing = i.disassemble(FuncId(0)).unwrap();
        assert!(
            listing.contains(&format!("{}F64StoreK", name(op))),
            "{listing}"
        );
        for [a, b, _] in inputs() {
            let mut arr = [7.0; 3];
            let out = i
                .call(
                    &mut machine,
                    FuncId(0),
                    &mut [Arg::PtrF64(&mut arr), Arg::F64(a), Arg::F64(b)],
                )
                .unwrap();
            let want = apply(op, a, b);
            assert_eq!(out[0].to_bits(), want.to_bits());
            assert_eq!(arr.map(f64::to_bits), [7.0, want, want].map(f64::to_bits));
        }
        // The store half traps, naming the store.
        let mut short = [0.0; 1];
        let err = i
            .call(
                &mut machine,
                FuncId(0),
                &mut [Arg::PtrF64(&mut short), Arg::F64(1.0), Arg::F64(2.0)],
            )
            .unwrap_err();
        assert!(
            matches!(&err, Trap::OutOfBounds { snippet, index: 1, len: 1, .. } if snippet.starts_with("store")),
            "{err}"
        );
    }
}

#[test]
fn two_loads_and_two_stores_trap_in_the_right_half() {
    // q[3] = p[0] + p[1] ... written as: x = p[0]; y = q[5]; p[2] = x; q[0] = y.
    let pf = Type::Ptr(Elem::F64);
    let p = single(&[pf, pf], &[Type::F64, Type::F64], |b, p| {
        let (zero, five, two) = (b.i64(0), b.i64(5), b.i64(2));
        let x = b.load(p[0], zero);
        let y = b.load(p[1], five);
        b.store(p[0], two, x);
        b.store(p[1], zero, y);
        vec![x, y]
    });
    let i = interp(&p);
    let listing = i.disassemble(FuncId(0)).unwrap();
    assert!(
        listing.contains("LoadF64K2") && listing.contains("StoreF64K2"),
        "{listing}"
    );
    let mut m = Machine::new();
    let (mut a, mut c) = ([1.0, 2.0, 3.0], [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]);
    let out = i
        .call(
            &mut m,
            FuncId(0),
            &mut [Arg::PtrF64(&mut a), Arg::PtrF64(&mut c)],
        )
        .unwrap();
    assert_eq!(out, vec![Scalar::F64(1.0), Scalar::F64(5.0)]);
    assert_eq!((a, c), ([1.0, 2.0, 1.0], [5.0, 1.0, 2.0, 3.0, 4.0, 5.0]));

    // The second load traps: the message shows the second load.
    let (mut a, mut c) = ([1.0, 2.0, 3.0], [0.0; 5]);
    let err = i
        .call(
            &mut m,
            FuncId(0),
            &mut [Arg::PtrF64(&mut a), Arg::PtrF64(&mut c)],
        )
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("index 5 is out of bounds for an array of length 5")
            && err.to_string().contains("= load v1, v3"),
        "{err}"
    );
    // The first load traps.
    let (mut a, mut c) = ([0.0; 0], [0.0; 6]);
    let err = i
        .call(
            &mut m,
            FuncId(0),
            &mut [Arg::PtrF64(&mut a), Arg::PtrF64(&mut c)],
        )
        .unwrap_err();
    assert!(err.to_string().contains("= load v0, v2"), "{err}");

    // Stores: the second traps after the first has stored.
    let p = single(&[pf, pf, Type::F64], &[], |b, p| {
        let (zero, four) = (b.i64(0), b.i64(4));
        b.store(p[0], zero, p[2]);
        b.store(p[1], four, p[2]);
        vec![]
    });
    let i = interp(&p);
    assert!(i.disassemble(FuncId(0)).unwrap().contains("StoreF64K2"));
    let (mut a, mut c) = ([0.0; 1], [0.0; 4]);
    let err = i
        .call(
            &mut m,
            FuncId(0),
            &mut [Arg::PtrF64(&mut a), Arg::PtrF64(&mut c), Arg::F64(9.0)],
        )
        .unwrap_err();
    assert!(
        err.to_string().contains("index 4") && err.to_string().contains("store v1, v4, v2"),
        "{err}"
    );
    assert_eq!(a, [9.0]);
    // The first traps: nothing is stored.
    let (mut a, mut c) = ([0.0; 0], [0.0; 5]);
    let err = i
        .call(
            &mut m,
            FuncId(0),
            &mut [Arg::PtrF64(&mut a), Arg::PtrF64(&mut c), Arg::F64(9.0)],
        )
        .unwrap_err();
    assert!(err.to_string().contains("store v0, v3, v2"), "{err}");
    assert_eq!(c, [0.0; 5]);
}

#[test]
fn nothing_fuses_across_a_block_boundary() {
    // entry: d1 = a * b, falls through to `head`, whose first operation uses d1 and is
    // also the target of the back edge. A fusion across the boundary would make the back
    // edge skip (or repeat) the multiplication.
    let pf = Type::Ptr(Elem::F64);
    let p = single(&[pf, Type::F64, Type::F64, Type::I64], &[], |b, p| {
        let head = b.create_block();
        let exit = b.create_block();
        let d1 = b.mul(p[1], p[2]);
        b.jump(head, &[]);
        b.switch_to(head);
        let zero = b.i64(0);
        let acc = b.load(p[0], zero);
        let s = b.add(d1, acc);
        b.store(p[0], zero, s);
        let one = b.i64(1);
        let n = b.load(p[0], one);
        let uno = b.f64(1.0);
        let n1 = b.add(n, uno);
        b.store(p[0], one, n1);
        let lim = b.convert(p[3], Type::F64);
        let more = b.cmp(CmpOp::Lt, n1, lim);
        b.brif(more, head, &[], exit, &[]);
        b.switch_to(exit);
        vec![]
    });
    let i = interp(&p);
    let mut arr = [0.5, 0.0];
    i.call(
        &mut Machine::new(),
        FuncId(0),
        &mut [
            Arg::PtrF64(&mut arr),
            Arg::F64(3.0),
            Arg::F64(0.25),
            Arg::I64(5),
        ],
    )
    .unwrap();
    let mut want = 0.5;
    for _ in 0..5 {
        want += 3.0 * 0.25;
    }
    assert_eq!(arr, [want, 5.0]);
}
