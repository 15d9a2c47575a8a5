//! Outlining long straight-line code into functions of bounded size.
//!
//! The right-hand side of a large model is one basic block of tens of thousands of
//! instructions (Lorenz-96 with 2,000 states: 24,000). LLVM's block-local work is not
//! linear in a block's length: the SLP vectorizer compares pairs of memory accesses in its
//! scheduling region, re-numbers the block's instructions after every insertion and
//! de-duplicates its gathers pairwise, and together that made building such a model grow
//! with the square of its size. [`outline_large_blocks`] cuts every block longer than
//! [`OUTLINE_ABOVE`] instructions into consecutive segments of at most [`OUTLINE_CHUNK`]
//! and moves each segment into a function of its own, which the block then calls in
//! order:
//!
//! ```text
//! block0(v0: ptr<f64>, v1: ptr<f64>):        block0(v0: ptr<f64>, v1: ptr<f64>):
//!     <segment 1>                   ==>          v9:f64 = call @rhs.part0(v0, v1)
//!     <segment 2, reads v9>                      call @rhs.part1(v0, v1, v9)
//!     return                                     return
//! ```
//!
//! A segment's parameters are the values it reads from before it (constants are copied
//! instead), its results the values it defines that are read after it. Each cut is placed
//! where the fewest values cross it, in the last half of a segment's room. The
//! instructions keep their exact operations and their order, so outlining changes no bit
//! of what the program computes; only the compiler's view of the code is bounded. It is
//! not one of [`super::optimize`]'s passes: the interpreter runs long blocks at the same
//! speed as short ones, so only the native backend outlines, on its own copy of the IR.
//!
//! Arrays stay unaliased in the outlined functions: a segment is outlined only when every
//! array it reads from before it is a parameter of the function it came from (each a
//! distinct array, see [`crate::verify`]), and it defines no array value that code after
//! it reads. (A select between two of those arrays inside a segment moves with it; the
//! part then holds both parameters, as its caller did.)

use crate::ir::*;

/// The most instructions of a block a segment moved into a function of its own holds (the
/// part also gets copies of the constants it reads, and its return).
///
/// Measured on Lorenz-96 with RK4 (release, 2-core machine, 2026-12-06; build = the
/// "build" line of `dynlib run l96.toml --stepper rk4 --t-end 0.1 --jit --no-tier`, run =
/// 100,000 steps at N = 400 and 30,000 at N = 2,000, three rounds alternating): not
/// outlined, N = 400 builds in 0.19–0.21 s and N = 2,000 in 1.43–1.50 s; segments of 4,096:
/// 0.21–0.25 / 0.51–0.54 s; 1,024: 0.12 / 0.40–0.47 s; 512: 0.12 / 0.37–0.38 s; 256:
/// 0.12 / 0.37–0.42 s. The runs took the same time at every size (N = 400: 80–91 ms,
/// N = 2,000: 148–192 ms, noise either way): the vectorizer still pairs neighbouring
/// states within a segment.
pub const OUTLINE_CHUNK: usize = 1024;

/// The most parameters and results together a part may have; a segment that would need
/// more stays in place. Code keeping hundreds of values live across a cut (unrolled
/// per-state work whose every value is read much later) gave parts with hundreds of
/// results, and LLVM's interprocedural constant propagation is quadratic in a returned
/// struct's fields: an unrolled initial-step heuristic at 400 states took 15 s to build.
pub const MAX_LINKS: usize = 64;

/// Blocks with more instructions than this are outlined.
pub const OUTLINE_ABOVE: usize = OUTLINE_CHUNK + OUTLINE_CHUNK / 2;

/// A copy of `program` outlined by [`outline_large_blocks`], with the parts' ids, or `None`
/// when no function reachable from `roots` has a block that long (nothing is copied).
pub fn outlined(program: &Program, roots: &[FuncId]) -> Option<(Program, Vec<FuncId>)> {
    let long = program.reachable(roots).iter().any(|&id| {
        program
            .func(id)
            .blocks
            .iter()
            .any(|b| b.insts.len() > OUTLINE_ABOVE)
    });
    long.then(|| {
        let mut copy = program.clone();
        let parts = outline_large_blocks(&mut copy, roots);
        (copy, parts)
    })
}

/// Splits every block longer than [`OUTLINE_ABOVE`] instructions in the functions reachable
/// from `roots` into calls of new functions holding at most [`OUTLINE_CHUNK`] instructions
/// each (see the module docs). Returns the new functions, appended to the program in order;
/// ids of existing functions do not change.
pub fn outline_large_blocks(program: &mut Program, roots: &[FuncId]) -> Vec<FuncId> {
    outline_with(program, roots, OUTLINE_ABOVE, OUTLINE_CHUNK)
}

/// [`outline_large_blocks`] with the limits given: blocks longer than `above` instructions
/// (and than `chunk`) are cut into segments of at most `chunk` (at least 2).
pub fn outline_with(
    program: &mut Program,
    roots: &[FuncId],
    above: usize,
    chunk: usize,
) -> Vec<FuncId> {
    let chunk = chunk.max(2);
    let mut added = Vec::new();
    for id in program.reachable(roots) {
        // The parts are appended in order after the function is cut, so their ids are known.
        let first = program.functions.len() as u32;
        let func = &mut program.functions[id.index()];
        let parts = outline_function(func, above.max(chunk), chunk, first);
        if parts.is_empty() {
            continue;
        }
        super::compact(func);
        for part in parts {
            added.push(program.add(part));
        }
    }
    added
}

/// Where the values of a function are defined and last read, per block position.
struct Uses {
    /// The block and position of each instruction result; `NONE` for block parameters.
    def: Vec<(u32, u32)>,
    /// The last position in its own block that reads each result; `ELSEWHERE` when a
    /// later block reads it too.
    last: Vec<u32>,
}

const NONE: (u32, u32) = (u32::MAX, u32::MAX);
const ELSEWHERE: u32 = u32::MAX;

/// Cuts every block of `func` longer than `above` instructions into segments of at most
/// `chunk`, moved into new functions (returned in order; the calls name them `first`,
/// `first + 1`, ..., the ids they get when appended to the program).
fn outline_function(func: &mut Function, above: usize, chunk: usize, first: u32) -> Vec<Function> {
    let long: Vec<usize> = (0..func.blocks.len())
        .filter(|&b| func.blocks[b].insts.len() > above)
        .collect();
    let mut parts = Vec::new();
    if long.is_empty() {
        return parts;
    }
    let mut uses = Uses {
        def: vec![NONE; func.values.len()],
        last: vec![0; func.values.len()],
    };
    for (b, block) in func.blocks.iter().enumerate() {
        for (p, &i) in block.insts.iter().enumerate() {
            for &r in &func.results[i.index()] {
                uses.def[r.index()] = (b as u32, p as u32);
            }
        }
    }
    for (b, block) in func.blocks.iter().enumerate() {
        for (p, &i) in block.insts.iter().enumerate() {
            func.insts[i.index()].for_each_operand(|v| {
                let (db, _) = uses.def[v.index()];
                if db == NONE.0 {
                    return;
                }
                let at = if db as usize == b {
                    p as u32
                } else {
                    ELSEWHERE
                };
                uses.last[v.index()] = uses.last[v.index()].max(at);
            });
        }
    }
    for b in long {
        outline_block(func, b, chunk, &uses, first, &mut parts);
    }
    parts
}

/// Cuts block `b` of `func` into segments moved to new functions (pushed to `parts`).
fn outline_block(
    func: &mut Function,
    b: usize,
    chunk: usize,
    uses: &Uses,
    first: u32,
    parts: &mut Vec<Function>,
) {
    let insts = func.blocks[b].insts.clone();
    // The terminator stays; segments cover the instructions before it.
    let body = insts.len() - 1;
    // crossing[p]: values defined before position p and read at or after it, i.e. what a
    // cut before instruction p would pass on.
    let mut delta = vec![0i64; body + 2];
    for (d, &i) in insts[..body].iter().enumerate() {
        for &r in &func.results[i.index()] {
            let u = (uses.last[r.index()] as usize).min(body);
            if u > d {
                delta[d + 1] += 1;
                delta[u + 1] -= 1;
            }
        }
    }
    let mut crossing = Vec::with_capacity(body + 1);
    let mut run = 0i64;
    for d in &delta[..=body] {
        run += d;
        crossing.push(run);
    }
    let mut start = 0;
    let mut new_insts = Vec::with_capacity(insts.len());
    let entry: Vec<Value> = func.params().to_vec();
    while start < body {
        let end = if body - start <= chunk {
            body
        } else {
            // The cheapest cut in the last half of the room; the latest of equals.
            (start + chunk / 2..=start + chunk)
                .rev()
                .min_by_key(|&p| crossing[p])
                .expect("the range is not empty")
        };
        let segment = Segment {
            block: b as u32,
            start,
            end,
        };
        let n = parts.len() as u32;
        match extract(
            func,
            &insts[start..end],
            segment,
            uses,
            &entry,
            (n, first + n),
        ) {
            Some((part, call)) => {
                parts.push(part);
                // Constants stay too (the parts copy those they read), so code after the
                // segment still finds them.
                new_insts.extend(insts[start..end].iter().filter(|&&i| is_const(func, i)));
                new_insts.push(call);
            }
            None => new_insts.extend_from_slice(&insts[start..end]),
        }
        start = end;
    }
    new_insts.push(insts[body]);
    func.blocks[b].insts = new_insts;
}

/// Whether `i` is a constant (which parts copy rather than take or move).
fn is_const(func: &Function, i: Inst) -> bool {
    matches!(func.insts[i.index()], InstData::Const { .. })
}

/// Positions `start..end` of a block.
#[derive(Copy, Clone)]
struct Segment {
    block: u32,
    start: usize,
    end: usize,
}

/// Moves the instructions `segment` (at `at` in their block) into a new function named
/// after `func`, numbered `n` and to be added to the program as `id`; returns it and the
/// call that replaces the segment, or `None` (the segment
/// stays) when the segment reads an array that is not a parameter of `func`, defines one
/// read after it, would pass more than [`MAX_LINKS`] values in and out, or is too short to
/// be worth a call.
fn extract(
    func: &mut Function,
    segment: &[Inst],
    at: Segment,
    uses: &Uses,
    entry: &[Value],
    (n, id): (u32, u32),
) -> Option<(Function, Inst)> {
    let inside = |v: Value| {
        let (b, p) = uses.def[v.index()];
        b == at.block && (at.start..at.end).contains(&(p as usize))
    };
    let constant = |v: Value| match func.values[v.index()].def {
        ValueDef::Result(i, _) => is_const(func, i),
        ValueDef::Param(..) => false,
    };
    // Constants are copied, never passed.
    let mut inputs: Vec<Value> = Vec::new();
    let mut seen = crate::hash::Set::default();
    for &i in segment {
        for v in func.insts[i.index()].operands() {
            if inside(v) || constant(v) || !seen.insert(v) {
                continue;
            }
            if matches!(func.value_type(v), Type::Ptr(_)) && !entry.contains(&v) {
                return None;
            }
            inputs.push(v);
        }
    }
    // The segment's constants stay where they are (and are copied where read).
    let moved: Vec<Inst> = segment
        .iter()
        .copied()
        .filter(|&i| !is_const(func, i))
        .collect();
    if moved.len() < 2 {
        return None;
    }
    let mut outputs: Vec<Value> = Vec::new();
    for &i in &moved {
        for &r in &func.results[i.index()] {
            if uses.last[r.index()] as usize >= at.end {
                if matches!(func.value_type(r), Type::Ptr(_)) {
                    return None;
                }
                outputs.push(r);
            }
        }
    }
    if inputs.len() + outputs.len() > MAX_LINKS {
        return None;
    }
    let sig = Signature {
        params: inputs.iter().map(|&v| func.value_type(v)).collect(),
        returns: outputs.iter().map(|&v| func.value_type(v)).collect(),
    };
    let mut part = Function::new(format!("{}.part{n}", func.name), sig);
    let mut map: crate::hash::Map<Value, Value> = Default::default();
    {
        let mut b = crate::FunctionBuilder::new(&mut part);
        for (k, &v) in inputs.iter().enumerate() {
            map.insert(v, b.param(k));
        }
        for &i in &moved {
            let mut data = func.insts[i.index()].clone();
            for v in data.operands() {
                if let std::collections::hash_map::Entry::Vacant(slot) = map.entry(v) {
                    // Only constants are read without being passed or defined before.
                    let ValueDef::Result(ci, _) = func.values[v.index()].def else {
                        unreachable!("inputs and earlier results are mapped");
                    };
                    let copy = b.push(func.insts[ci.index()].clone(), &[func.value_type(v)]);
                    slot.insert(b.func.results[copy.index()][0]);
                }
            }
            data.map_operands(|v| map[&v]);
            let types: Vec<Type> = func.results[i.index()]
                .iter()
                .map(|&r| func.value_type(r))
                .collect();
            let copy = b.push(data, &types);
            for (k, &r) in func.results[i.index()].iter().enumerate() {
                map.insert(r, b.func.results[copy.index()][k]);
            }
        }
        let rets: Vec<Value> = outputs.iter().map(|v| map[v]).collect();
        b.ret(&rets);
    }
    // The call keeps the outputs' values, so nothing after the segment changes.
    let call = Inst(func.insts.len() as u32);
    func.insts.push(InstData::Call {
        func: FuncId(id),
        args: inputs,
    });
    for (k, &r) in outputs.iter().enumerate() {
        func.values[r.index()].def = ValueDef::Result(call, k as u32);
    }
    func.results.push(outputs);
    Some((part, call))
}
