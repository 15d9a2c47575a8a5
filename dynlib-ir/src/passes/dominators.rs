//! Control-flow graph and dominator tree of a function.
//!
//! Shared by the verifier (a definition must dominate its uses) and the passes (common
//! subexpressions are merged only within dominator scope). The algorithm is Cooper, Harvey
//! and Kennedy's "A Simple, Fast Dominance Algorithm": iterate `idom` to a fixed point over
//! the reverse postorder. Unreachable blocks have no immediate dominator and are in no tree.

use crate::ir::*;

/// The blocks a block's terminator (its last instruction) may jump to. Targets out of range
/// are left out, so broken functions can still be analysed (the verifier reports them).
pub fn successors(func: &Function, block: Block) -> Vec<Block> {
    let Some(data) = func.blocks.get(block.index()) else {
        return Vec::new();
    };
    let Some(data) = data.insts.last().and_then(|i| func.insts.get(i.index())) else {
        return Vec::new();
    };
    data.successors()
        .into_iter()
        .filter(|b| b.index() < func.blocks.len())
        .collect()
}

/// The dominator tree of a function's reachable blocks.
#[derive(Clone, Debug)]
pub struct DominatorTree {
    /// Immediate dominator per block (`None` for the entry and unreachable blocks).
    idom: Vec<Option<Block>>,
    /// Reachable blocks in reverse postorder (the entry first).
    rpo: Vec<Block>,
    /// Position in `rpo`, `u32::MAX` when unreachable.
    rpo_number: Vec<u32>,
}

impl DominatorTree {
    /// Computes the tree (a function without blocks gives an empty tree).
    pub fn compute(func: &Function) -> Self {
        let n = func.blocks.len();
        let mut rpo_number = vec![u32::MAX; n];
        if n == 0 {
            return DominatorTree {
                idom: Vec::new(),
                rpo: Vec::new(),
                rpo_number,
            };
        }
        // Iterative depth-first search for the postorder.
        let succs: Vec<Vec<Block>> = func.block_ids().map(|b| successors(func, b)).collect();
        let mut visited = vec![false; n];
        let mut post = Vec::with_capacity(n);
        let mut stack = vec![(Block(0), 0usize)];
        visited[0] = true;
        while let Some((b, next)) = stack.last_mut() {
            let b = *b;
            if let Some(&s) = succs[b.index()].get(*next) {
                *next += 1;
                if !visited[s.index()] {
                    visited[s.index()] = true;
                    stack.push((s, 0));
                }
            } else {
                post.push(b);
                stack.pop();
            }
        }
        let rpo: Vec<Block> = post.into_iter().rev().collect();
        for (i, b) in rpo.iter().enumerate() {
            rpo_number[b.index()] = i as u32;
        }
        let mut preds: Vec<Vec<Block>> = vec![Vec::new(); n];
        for &b in &rpo {
            for &s in &succs[b.index()] {
                preds[s.index()].push(b);
            }
        }
        let mut idom: Vec<Option<Block>> = vec![None; n];
        idom[0] = Some(Block(0));
        let mut changed = true;
        while changed {
            changed = false;
            for &b in rpo.iter().skip(1) {
                let mut new_idom: Option<Block> = None;
                for &p in &preds[b.index()] {
                    if idom[p.index()].is_none() {
                        continue;
                    }
                    new_idom = Some(match new_idom {
                        None => p,
                        Some(cur) => intersect(&idom, &rpo_number, p, cur),
                    });
                }
                if new_idom.is_some() && idom[b.index()] != new_idom {
                    idom[b.index()] = new_idom;
                    changed = true;
                }
            }
        }
        // The entry has no immediate dominator; the self-loop above was only the algorithm's
        // sentinel.
        idom[0] = None;
        DominatorTree {
            idom,
            rpo,
            rpo_number,
        }
    }

    /// True when the block can be reached from the entry.
    pub fn is_reachable(&self, block: Block) -> bool {
        self.rpo_number
            .get(block.index())
            .is_some_and(|&n| n != u32::MAX)
    }

    /// The immediate dominator (`None` for the entry and unreachable blocks).
    pub fn idom(&self, block: Block) -> Option<Block> {
        self.idom.get(block.index()).copied().flatten()
    }

    /// Reachable blocks in reverse postorder, the entry first: every block comes after its
    /// dominators.
    pub fn rpo(&self) -> &[Block] {
        &self.rpo
    }

    /// True when the edge `from → to` goes back in reverse postorder (`to` at or before
    /// `from`): a retreating edge, which in reducible control flow (the structured loops
    /// the emitters write) is a loop's back edge, `to` its header. False when either block
    /// is unreachable.
    pub fn is_retreating(&self, from: Block, to: Block) -> bool {
        self.is_reachable(from)
            && self.is_reachable(to)
            && self.rpo_number[to.index()] <= self.rpo_number[from.index()]
    }

    /// True when every path from the entry to `b` passes through `a` (a block dominates
    /// itself). False when either block is unreachable, unless they are the same block.
    pub fn dominates(&self, a: Block, b: Block) -> bool {
        if a == b {
            return true;
        }
        if !self.is_reachable(a) || !self.is_reachable(b) {
            return false;
        }
        let mut cur = b;
        while let Some(up) = self.idom(cur) {
            if up == a {
                return true;
            }
            cur = up;
        }
        false
    }

    /// The children of each block in the tree, in reverse postorder.
    pub fn children(&self) -> Vec<Vec<Block>> {
        let mut children = vec![Vec::new(); self.idom.len()];
        for &b in &self.rpo {
            if let Some(p) = self.idom(b) {
                children[p.index()].push(b);
            }
        }
        children
    }
}

fn intersect(idom: &[Option<Block>], rpo_number: &[u32], a: Block, b: Block) -> Block {
    let (mut a, mut b) = (a, b);
    while a != b {
        while rpo_number[a.index()] > rpo_number[b.index()] {
            a = idom[a.index()].expect("processed blocks have an idom");
        }
        while rpo_number[b.index()] > rpo_number[a.index()] {
            b = idom[b.index()].expect("processed blocks have an idom");
        }
    }
    a
}
