//! Block arguments are parallel assignments: every argument is read before any parameter
//! is written. The decoder turns them into sequential register moves (breaking cycles with
//! a scratch register); these tests check swaps, rotations, fan-out and random
//! permutations on both `jump` and `brif` edges, in loops that repeat them.

mod common;

use common::*;
use dynlib_interp::Machine;
use dynlib_ir::{CmpOp, Type, Value};

/// A loop over `n` iterations with `k` f64 state values: `head(s_0..s_k, i)`. Each
/// iteration passes `s[perm[j]]` as the new `s_j`. With `via_brif`, the back edge is the
/// `brif` itself (its arm carries the moves); otherwise a `jump` from a body block. The
/// function takes `n` and the initial state and returns the final state.
fn permutation_loop(perm: &[usize], via_brif: bool) -> dynlib_ir::Program {
    let k = perm.len();
    let mut params = vec![Type::I64];
    params.extend(std::iter::repeat_n(Type::F64, k));
    single(&params, &vec![Type::F64; k], |b, p| {
        let n = p[0];
        let head = b.create_block();
        let body = b.create_block();
        let exit = b.create_block();
        let s: Vec<Value> = (0..k).map(|_| b.block_param(head, Type::F64)).collect();
        let i = b.block_param(head, Type::I64);
        let out: Vec<Value> = (0..k).map(|_| b.block_param(exit, Type::F64)).collect();
        let zero = b.i64(0);
        let one = b.i64(1);
        let mut init: Vec<Value> = p[1..].to_vec();
        init.push(zero);
        b.jump(head, &init);
        b.switch_to(head);
        let go = b.cmp(CmpOp::Lt, i, n);
        let i1 = b.add(i, one);
        let mut next: Vec<Value> = perm.iter().map(|&j| s[j]).collect();
        next.push(i1);
        if via_brif {
            b.brif(go, head, &next, exit, &s);
        } else {
            b.brif(go, body, &[], exit, &s);
        }
        b.switch_to(body);
        if via_brif {
            b.jump(exit, &s); // unreachable
        } else {
            b.jump(head, &next);
        }
        b.switch_to(exit);
        out
    })
}

/// The expected state after `n` applications of `perm` (in plain Rust).
fn apply(perm: &[usize], init: &[f64], n: usize) -> Vec<f64> {
    let mut s = init.to_vec();
    for _ in 0..n {
        s = perm.iter().map(|&j| s[j]).collect();
    }
    s
}

fn check(perm: &[usize]) {
    let mut machine = Machine::new();
    let init: Vec<f64> = (0..perm.len()).map(|j| (j + 1) as f64 * 1.5).collect();
    for via_brif in [false, true] {
        let i = interp(&permutation_loop(perm, via_brif));
        for n in [0usize, 1, 2, 3, 4, 5, 7, 12] {
            let mut args = vec![n as u64];
            args.extend(init.iter().map(|x| x.to_bits()));
            let got: Vec<f64> = call_bits(&i, &mut machine, &args)
                .into_iter()
                .map(f64::from_bits)
                .collect();
            assert_eq!(
                got,
                apply(perm, &init, n),
                "perm {perm:?}, {n} iterations, via brif: {via_brif}"
            );
        }
    }
}

#[test]
fn swap_of_two_values() {
    check(&[1, 0]);
}

#[test]
fn rotation_of_three_values_each_iteration() {
    check(&[1, 2, 0]);
    check(&[2, 0, 1]);
}

#[test]
fn two_cycles_and_fixed_points_in_one_edge() {
    check(&[1, 0, 2, 4, 5, 3]);
    check(&[0, 1, 2]);
    check(&[3, 2, 1, 0]);
}

#[test]
fn fan_out_of_a_cycle_member() {
    // s0 <- s1, s1 <- s0 (a swap) and s2 <- s0, s3 <- s0: the old s0 must reach all three.
    check(&[1, 0, 0, 0]);
    // A chain that ends in a cycle: s0 <- s1 <- s2 <- s3 <- s2.
    check(&[1, 2, 3, 2]);
    // Everything from one source.
    check(&[2, 2, 2]);
}

#[test]
fn random_permutations_and_mappings() {
    let mut rng = 0x2545_f491_4f6c_dd1du64;
    let mut next = || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    for k in 2..=9 {
        for _ in 0..6 {
            // A random permutation (Fisher-Yates)...
            let mut perm: Vec<usize> = (0..k).collect();
            for j in (1..k).rev() {
                let r = (next() % (j as u64 + 1)) as usize;
                perm.swap(j, r);
            }
            check(&perm);
            // ... and a random mapping (sources may repeat, some never read).
            let map: Vec<usize> = (0..k).map(|_| (next() % k as u64) as usize).collect();
            check(&map);
        }
    }
}

#[test]
fn fibonacci_reads_the_old_values() {
    // head(a, b, i) -> head(b, a + b, i + 1): the classic case where a naive sequential
    // copy would read the new a.
    let p = single(&[Type::I64], &[Type::I64, Type::I64], |b, p| {
        let head = b.create_block();
        let exit = b.create_block();
        let (x, y, i) = (
            b.block_param(head, Type::I64),
            b.block_param(head, Type::I64),
            b.block_param(head, Type::I64),
        );
        let (zero, one) = (b.i64(0), b.i64(1));
        b.jump(head, &[zero, one, zero]);
        b.switch_to(head);
        let go = b.cmp(CmpOp::Lt, i, p[0]);
        let s = b.add(x, y);
        let i1 = b.add(i, one);
        b.brif(go, head, &[y, s, i1], exit, &[]);
        b.switch_to(exit);
        vec![x, y]
    });
    let i = interp(&p);
    let mut m = Machine::new();
    let (mut a, mut c) = (0i64, 1i64);
    for n in 0..60 {
        assert_eq!(
            call_bits(&i, &mut m, &[n]),
            vec![a as u64, c as u64],
            "n = {n}"
        );
        (a, c) = (c, a + c);
    }
}

#[test]
fn both_brif_arms_to_one_block_with_different_moves() {
    // head(a, b, c, i): on even i rotate left, on odd i swap a and c; both arms are brif
    // edges into the same block, each with its own moves.
    let p = single(
        &[Type::I64, Type::I32, Type::I32, Type::I32],
        &[Type::I32, Type::I32, Type::I32],
        |b, p| {
            let head = b.create_block();
            let step = b.create_block();
            let exit = b.create_block();
            let s: Vec<Value> = (0..3).map(|_| b.block_param(head, Type::I32)).collect();
            let i = b.block_param(head, Type::I64);
            let (zero, one, two) = (b.i64(0), b.i64(1), b.i64(2));
            b.jump(head, &[p[1], p[2], p[3], zero]);
            b.switch_to(head);
            let go = b.cmp(CmpOp::Lt, i, p[0]);
            b.brif(go, step, &[], exit, &[]);
            b.switch_to(step);
            let i1 = b.add(i, one);
            let r = b.binary(dynlib_ir::BinaryOp::Mod, i, two);
            let even = b.cmp(CmpOp::Eq, r, zero);
            b.brif(
                even,
                head,
                &[s[1], s[2], s[0], i1],
                head,
                &[s[2], s[1], s[0], i1],
            );
            b.switch_to(exit);
            s
        },
    );
    let i = interp(&p);
    let mut m = Machine::new();
    for n in 0..10u64 {
        let mut s = [1i32, 2, 3];
        for k in 0..n {
            s = if k % 2 == 0 {
                [s[1], s[2], s[0]]
            } else {
                [s[2], s[1], s[0]]
            };
        }
        let got = call_bits(&i, &mut m, &[n, 1, 2, 3]);
        assert_eq!(
            got,
            s.iter().map(|&x| x as i64 as u64).collect::<Vec<_>>(),
            "n = {n}"
        );
    }
}

#[test]
fn cycles_of_every_type_in_one_edge() {
    // Three independent 2-cycles of f32, i64 and bool values plus a 3-cycle of f64.
    let p = single(
        &[Type::I64],
        &[
            Type::F32,
            Type::F32,
            Type::I64,
            Type::I64,
            Type::Bool,
            Type::Bool,
            Type::F64,
            Type::F64,
            Type::F64,
        ],
        |b, p| {
            let head = b.create_block();
            let exit = b.create_block();
            let tys = [
                Type::F32,
                Type::F32,
                Type::I64,
                Type::I64,
                Type::Bool,
                Type::Bool,
                Type::F64,
                Type::F64,
                Type::F64,
            ];
            let s: Vec<Value> = tys.iter().map(|&t| b.block_param(head, t)).collect();
            let i = b.block_param(head, Type::I64);
            let init = vec![
                b.f32(1.0),
                b.f32(2.0),
                b.i64(3),
                b.i64(4),
                b.bool(true),
                b.bool(false),
                b.f64(5.0),
                b.f64(6.0),
                b.f64(7.0),
                b.i64(0),
            ];
            b.jump(head, &init);
            b.switch_to(head);
            let one = b.i64(1);
            let i1 = b.add(i, one);
            let go = b.cmp(CmpOp::Lt, i, p[0]);
            let next = [s[1], s[0], s[3], s[2], s[5], s[4], s[7], s[8], s[6], i1];
            b.brif(go, head, &next, exit, &[]);
            b.switch_to(exit);
            s
        },
    );
    let i = interp(&p);
    let out = call_bits(&i, &mut Machine::new(), &[4]);
    let want: Vec<u64> = vec![
        1f32.to_bits() as u64,
        2f32.to_bits() as u64,
        3,
        4,
        1,
        0,
        6f64.to_bits(),
        7f64.to_bits(),
        5f64.to_bits(),
    ];
    assert_eq!(out, want);
    let out = call_bits(&i, &mut Machine::new(), &[5]);
    let want: Vec<u64> = vec![
        2f32.to_bits() as u64,
        1f32.to_bits() as u64,
        4,
        3,
        0,
        1,
        7f64.to_bits(),
        5f64.to_bits(),
        6f64.to_bits(),
    ];
    assert_eq!(out, want);
}
