//! The parser of the expression language (dsl.md §16.1a).
//!
//! Precedence climbing over Python's levels, lowest first: ternary, `or`, `and`, `not`,
//! comparison chains, `+ -`, `* / // %`, unary `+ -`, power, primary. Valid Python outside
//! the language's subset becomes a [`DiagKind::Unsupported`](crate::diag::DiagKind) error
//! naming the construct; everything else that does not parse is a `Syntax` error.
//!
//! No input may overflow the stack, here or in the recursive passes that later walk the
//! tree. Nesting (brackets, unary operators, powers, `not`, ternaries) is capped at
//! [`MAX_NESTING`]; the height of the tree, which long operator chains such as
//! `a + b + c + ...` grow without nesting, at [`MAX_HEIGHT`]. The functions on the recursion
//! path keep their frames small (boxed results, node building and error messages in
//! separate functions) because unoptimised builds give every temporary its own stack slot:
//! the deepest accepted inputs parse, print and clone within 1 MiB of stack in a debug build,
//! half a spawned thread's default.

use super::ast::*;
use super::lexer::{self, syntax, unsupported, Tok, Token};
use super::ParseError;

/// The functions of Python's `math` module: `math.f(...)` is accepted for these only (the
/// checker then decides whether the DSL supports `f`), so `math.relu(x)` is an error rather
/// than a silent alias of the DSL builtin `relu`.
const PYTHON_MATH: &[&str] = &[
    "acos",
    "acosh",
    "asin",
    "asinh",
    "atan",
    "atan2",
    "atanh",
    "cbrt",
    "ceil",
    "comb",
    "copysign",
    "cos",
    "cosh",
    "degrees",
    "dist",
    "erf",
    "erfc",
    "exp",
    "exp2",
    "expm1",
    "fabs",
    "factorial",
    "floor",
    "fmod",
    "frexp",
    "fsum",
    "gamma",
    "gcd",
    "hypot",
    "isclose",
    "isfinite",
    "isinf",
    "isnan",
    "isqrt",
    "lcm",
    "ldexp",
    "lgamma",
    "log",
    "log10",
    "log1p",
    "log2",
    "modf",
    "nextafter",
    "perm",
    "pow",
    "prod",
    "radians",
    "remainder",
    "sin",
    "sinh",
    "sqrt",
    "tan",
    "tanh",
    "trunc",
    "ulp",
];
/// How deeply brackets, unary operators, powers, `not` and ternaries may nest (Python's own
/// parser stops at 200 nested brackets too).
const MAX_NESTING: usize = 200;

/// The tallest tree the parser builds.
const MAX_HEIGHT: usize = 500;

// Binding levels (`super::prec`); the ternary is handled by `expression`, power by `prefix`.
use super::prec::{AND, COMPARE, NOT, OR, SUM, TERM, UNARY};

const GENERATOR_OUTSIDE_REDUCE: &str =
    "generator expressions are only supported as the argument of sum(...) or prod(...)";

/// Errors are boxed inside the parser to keep the recursive frames small.
type PResult<T> = Result<T, Box<ParseError>>;

/// Parses one expression (see [`crate::expr::parse`]).
pub(crate) fn parse(text: &str) -> Result<Expr, ParseError> {
    let lexed = lexer::lex(text);
    let mut p = Parser {
        text,
        toks: lexed.tokens,
        pos: 0,
        nesting: 0,
    };
    if p.toks.len() == 1 {
        return Err(lexed
            .error
            .unwrap_or_else(|| syntax("empty expression", 0..text.len())));
    }
    let mut result = p.expression().map(|n| *n.expr);
    if result.is_ok() && p.kind() != &Tok::Eof {
        result = Err(p.unexpected(Ctx::End));
    }
    // The lexer stopped where the final `Eof` is; an error found before the parser got there
    // comes first in the text, anything at or after it is the lexer's.
    match lexed.error {
        Some(e) if result.is_ok() || p.pos + 1 == p.toks.len() => Err(e),
        _ => result.map_err(|e| *e),
    }
}

/// A parsed subtree with what its parent needs to know about it.
struct Node {
    expr: Box<Expr>,
    /// The span including enclosing parentheses, which the node's own span leaves out but
    /// the parent's span must cover.
    outer: TextRange,
    /// The height of the tree, a leaf being 1.
    height: usize,
}

/// What the parser was looking for when it met an unexpected token; shapes the message.
#[derive(Clone, PartialEq)]
enum Ctx {
    /// An operand.
    Operand,
    /// The end of the expression.
    End,
    /// The `)` closing the `(` at this range.
    Close(TextRange),
    /// The `else` of a ternary.
    Else,
}

struct Parser<'t> {
    text: &'t str,
    toks: Vec<Token>,
    /// Index of the current token; never past the final `Eof`.
    pos: usize,
    nesting: usize,
}

fn leaf(kind: ExprKind, span: TextRange) -> Node {
    Node {
        expr: Box::new(Expr::new(kind, span.clone())),
        outer: span,
        height: 1,
    }
}

fn too_deep(at: TextRange) -> Box<ParseError> {
    Box::new(syntax("expression nested too deeply", at))
}

impl Parser<'_> {
    fn cur(&self) -> &Token {
        &self.toks[self.pos]
    }

    fn kind(&self) -> &Tok {
        &self.toks[self.pos].kind
    }

    fn peek(&self, n: usize) -> &Tok {
        self.toks.get(self.pos + n).map_or(&Tok::Eof, |t| &t.kind)
    }

    /// Consumes the current token (the final `Eof` is never consumed) and returns its range.
    fn bump(&mut self) -> TextRange {
        let span = self.cur().span.clone();
        if self.pos + 1 < self.toks.len() {
            self.pos += 1;
        }
        span
    }

    fn slice(&self, span: &TextRange) -> &str {
        &self.text[span.clone()]
    }

    fn enter(&mut self, at: &TextRange) -> PResult<()> {
        self.nesting += 1;
        if self.nesting > MAX_NESTING {
            return Err(too_deep(at.clone()));
        }
        Ok(())
    }

    fn leave(&mut self) {
        self.nesting -= 1;
    }

    /// A node over `span` with the given height; `at` is where to report a too-tall tree.
    fn node(&self, kind: ExprKind, span: TextRange, height: usize, at: TextRange) -> PResult<Node> {
        if height > MAX_HEIGHT {
            return Err(Box::new(syntax(
                "expression nested too deeply (too many chained operators)",
                at,
            )));
        }
        Ok(Node {
            expr: Box::new(Expr::new(kind, span.clone())),
            outer: span,
            height,
        })
    }

    fn binary(&self, op: BinOp, lhs: Node, rhs: Node, at: TextRange) -> PResult<Node> {
        let span = lhs.outer.start..rhs.outer.end;
        let height = 1 + lhs.height.max(rhs.height);
        self.node(
            ExprKind::Binary {
                op,
                lhs: lhs.expr,
                rhs: rhs.expr,
            },
            span,
            height,
            at,
        )
    }

    fn unary(&self, op: UnaryOp, at: TextRange, operand: Node) -> PResult<Node> {
        let span = at.start..operand.outer.end;
        let height = 1 + operand.height;
        self.node(
            ExprKind::Unary {
                op,
                operand: operand.expr,
            },
            span,
            height,
            at,
        )
    }

    fn if_else(&self, then: Node, cond: Node, otherwise: Node, at: TextRange) -> PResult<Node> {
        let span = then.outer.start..otherwise.outer.end;
        let height = 1 + then.height.max(cond.height).max(otherwise.height);
        let kind = ExprKind::IfElse {
            cond: cond.expr,
            then: then.expr,
            otherwise: otherwise.expr,
        };
        self.node(kind, span, height, at)
    }

    /// `expression ::= disjunction [ "if" disjunction "else" expression ]`
    fn expression(&mut self) -> PResult<Node> {
        let then = self.climb(OR)?;
        if self.kind() != &Tok::If {
            return Ok(then);
        }
        self.ternary(then)
    }

    /// The rest of `then if cond else otherwise`, at `if`.
    fn ternary(&mut self, then: Node) -> PResult<Node> {
        let at = self.bump();
        let cond = self.climb(OR)?;
        if self.kind() != &Tok::Else {
            return Err(self.unexpected(Ctx::Else));
        }
        let else_span = self.bump();
        self.enter(&else_span)?;
        let otherwise = self.expression()?;
        self.leave();
        self.if_else(then, cond, otherwise, at)
    }

    /// The operators binding at `min` or tighter, from an operand on: `climb(OR)` is a
    /// disjunction, `climb(SUM)` a sum.
    fn climb(&mut self, min: u8) -> PResult<Node> {
        let mut lhs = self.prefix(min)?;
        loop {
            let level = match self.kind() {
                Tok::Or => OR,
                Tok::And => AND,
                Tok::Plus | Tok::Minus => SUM,
                Tok::Star | Tok::Slash | Tok::DoubleSlash | Tok::Percent => TERM,
                k if compare_op(k).is_some() => COMPARE,
                _ => return Ok(lhs),
            };
            if level < min {
                return Ok(lhs);
            }
            lhs = match level {
                OR | AND => self.logic(lhs, level)?,
                COMPARE => self.comparison(lhs)?,
                _ => {
                    let op = arith_op(self.kind());
                    let at = self.bump();
                    // Left-associative: the right operand binds one level tighter.
                    self.enter(&at)?;
                    let rhs = self.climb(level + 1)?;
                    self.leave();
                    self.binary(op, lhs, rhs, at)?
                }
            };
        }
    }

    /// `a or b or c` (or `and`) as one flat node.
    fn logic(&mut self, first: Node, level: u8) -> PResult<Node> {
        let (tok, op) = if level == OR {
            (Tok::Or, LogicOp::Or)
        } else {
            (Tok::And, LogicOp::And)
        };
        let mut chain = Chain::new(&first, self.cur().span.clone());
        chain.items.push(*first.expr);
        while self.kind() == &tok {
            let at = self.bump();
            self.enter(&at)?;
            let next = self.climb(level + 1)?;
            self.leave();
            chain.extend(&next);
            chain.items.push(*next.expr);
        }
        self.finish_logic(op, chain)
    }

    fn finish_logic(&self, op: LogicOp, chain: Chain<Expr>) -> PResult<Node> {
        let kind = ExprKind::Logic {
            op,
            operands: chain.items,
        };
        self.node(kind, chain.start..chain.end, chain.height + 1, chain.at)
    }

    /// A chain `a < b <= c` as one node.
    fn comparison(&mut self, first: Node) -> PResult<Node> {
        let mut chain = Chain::new(&first, self.cur().span.clone());
        while let Some(op) = compare_op(self.kind()) {
            let at = self.bump();
            self.enter(&at)?;
            let rhs = self.climb(SUM)?;
            self.leave();
            chain.extend(&rhs);
            chain.items.push((op, *rhs.expr));
        }
        self.finish_comparison(first, chain)
    }

    fn finish_comparison(&self, first: Node, chain: Chain<(CmpOp, Expr)>) -> PResult<Node> {
        let kind = ExprKind::Compare {
            first: first.expr,
            rest: chain.items,
        };
        self.node(kind, chain.start..chain.end, chain.height + 1, chain.at)
    }

    /// An operand with its prefix operators: `not` (only where an inversion may stand),
    /// unary `+ -`, or a power.
    fn prefix(&mut self, min: u8) -> PResult<Node> {
        match self.kind() {
            Tok::Not if min <= NOT => self.prefixed(UnaryOp::Not, NOT),
            Tok::Plus => self.prefixed(UnaryOp::Pos, UNARY),
            Tok::Minus => self.prefixed(UnaryOp::Neg, UNARY),
            _ => self.power(),
        }
    }

    fn prefixed(&mut self, op: UnaryOp, level: u8) -> PResult<Node> {
        // `-9223372036854775808` is int64's minimum, not the negation of a literal that
        // does not fit (`-2**63` is `-(2**63)`, so not when a power follows).
        if op == UnaryOp::Neg && self.peek(1) == &Tok::TwoToThe63 && self.peek(2) != &Tok::Pow {
            let at = self.bump();
            let literal = self.bump();
            let node = leaf(ExprKind::Int(i64::MIN), at.start..literal.end);
            return self.postfix(node);
        }
        let at = self.bump();
        self.enter(&at)?;
        let operand = self.climb(level)?;
        self.leave();
        self.unary(op, at, operand)
    }

    /// `power ::= primary [ ("**" | "^") factor ]`: right-associative, and the exponent may
    /// carry a sign (`x**-1`).
    fn power(&mut self) -> PResult<Node> {
        let base = self.primary()?;
        if self.kind() != &Tok::Pow {
            return Ok(base);
        }
        self.exponent(base)
    }

    fn exponent(&mut self, base: Node) -> PResult<Node> {
        let at = self.bump();
        self.enter(&at)?;
        let exponent = self.climb(UNARY)?;
        self.leave();
        self.binary(BinOp::Pow, base, exponent, at)
    }

    /// An atom, rejecting what Python would apply to it (calls of non-names, subscripts,
    /// attributes): the language only calls names.
    fn primary(&mut self) -> PResult<Node> {
        match self.kind() {
            Tok::Name => self.name(),
            Tok::LParen => self.group(),
            Tok::LBracket | Tok::LBrace => Err(self.display()),
            _ => self.literal(),
        }
        .and_then(|base| self.postfix(base))
    }

    fn literal(&mut self) -> PResult<Node> {
        let kind = match self.kind() {
            Tok::Int(i) => ExprKind::Int(*i),
            Tok::Float(x) => ExprKind::Float(*x),
            Tok::BigInt(x) => ExprKind::BigInt(*x),
            Tok::TwoToThe63 => ExprKind::BigInt(9_223_372_036_854_775_808.0),
            Tok::True => ExprKind::Bool(true),
            Tok::False => ExprKind::Bool(false),
            _ => return Err(self.unexpected(Ctx::Operand)),
        };
        Ok(leaf(kind, self.bump()))
    }

    /// Rejects a call, subscript or attribute applied to `base`.
    fn postfix(&mut self, base: Node) -> PResult<Node> {
        let start = base.outer.start;
        match self.kind() {
            Tok::LParen => Err(Box::new(unsupported(
                "only named functions can be called",
                start..self.cur().span.end,
            ))),
            Tok::LBracket => Err(self.subscript(&base)),
            Tok::Dot => {
                self.bump();
                if self.kind() != &Tok::Name {
                    return Err(self.expected_name_after("."));
                }
                let attr = self.cur().span.clone();
                let object = shorten(self.slice(&base.outer), 30);
                let message = format!(
                    "attribute access is not supported: {object}.{}",
                    self.slice(&attr)
                );
                Err(Box::new(unsupported(message, start..attr.end)))
            }
            _ => Ok(base),
        }
    }

    fn subscript(&self, base: &Node) -> Box<ParseError> {
        let close = self
            .matching_close(self.pos)
            .map_or(self.cur().span.end, |i| self.toks[i].span.end);
        let message = match &base.expr.kind {
            ExprKind::Name(id) if base.outer == base.expr.span => {
                format!("subscripts are not supported: {}[...]", id.name)
            }
            _ => "subscripts are not supported".to_string(),
        };
        Box::new(unsupported(message, base.outer.start..close))
    }

    /// A name, a call, or `math.f(...)`, `math.pi`, `math.e`.
    fn name(&mut self) -> PResult<Node> {
        let span = self.bump();
        if self.slice(&span) == "math" && self.kind() == &Tok::Dot {
            return self.math(span.start);
        }
        if self.kind() == &Tok::LParen {
            return self.call(span.start, span, true);
        }
        Ok(leaf(ExprKind::Name(Ident::new(self.slice(&span))), span))
    }

    /// `math.f(...)` (f a function of Python's math module), or the constants `math.pi` and `math.e`; no other attribute of `math` is
    /// supported. At the dot.
    fn math(&mut self, start: usize) -> PResult<Node> {
        self.bump();
        if self.kind() != &Tok::Name {
            return Err(self.expected_name_after("math."));
        }
        let attr = self.bump();
        let name = self.slice(&attr);
        if self.kind() == &Tok::LParen {
            if !PYTHON_MATH.contains(&name) {
                return Err(Box::new(unsupported(
                    format!(
                        "math.{name} is not a function of Python's math module; write {name}(...)"
                    ),
                    start..attr.end,
                )));
            }
            return self.call(start, attr, false);
        }
        let span = start..attr.end;
        match name {
            "pi" | "e" => Ok(leaf(ExprKind::Name(Ident::new(name)), span)),
            _ => Err(Box::new(unsupported(
                format!(
                    "math.{name} is not supported: only math functions, math.pi and math.e are"
                ),
                span,
            ))),
        }
    }

    /// `( expression )`; the node keeps its own span, the parentheses go to `outer`.
    fn group(&mut self) -> PResult<Node> {
        let open = self.pos;
        self.open_group()?;
        let inner = self.expression()?;
        self.close_group(open, inner)
    }

    fn open_group(&mut self) -> PResult<()> {
        let open = self.bump();
        match self.kind() {
            Tok::RParen => Err(Box::new(unsupported(
                "tuples are not supported",
                open.start..self.cur().span.end,
            ))),
            Tok::Eof => Err(self.unexpected(Ctx::Close(open))),
            _ => self.enter(&open),
        }
    }

    fn close_group(&mut self, open: usize, inner: Node) -> PResult<Node> {
        match self.kind() {
            Tok::RParen => {}
            Tok::Comma => {
                let end = self
                    .matching_close(open)
                    .map_or(self.cur().span.end, |i| self.toks[i].span.end);
                return Err(Box::new(unsupported(
                    "tuples are not supported",
                    self.toks[open].span.start..end,
                )));
            }
            _ => return Err(self.unexpected(Ctx::Close(self.toks[open].span.clone()))),
        }
        let close = self.bump();
        self.leave();
        Ok(Node {
            outer: self.toks[open].span.start..close.end,
            ..inner
        })
    }

    /// `name(args)`, the parenthesis being the current token. `start` is where the call's text
    /// begins (before `math.`); `bare` is false for `math.f(...)`, which never starts a
    /// generator.
    fn call(&mut self, start: usize, func_span: TextRange, bare: bool) -> PResult<Node> {
        let open = self.pos;
        self.enter(&self.cur().span.clone())?;
        self.bump();
        if bare && self.parenthesized_generator(open) {
            return self.parenthesized_reduce(start, func_span, open);
        }
        let mut args = Vec::new();
        let mut height = 0;
        while self.argument_follows(open, &func_span)? {
            let arg = self.expression()?;
            if self.kind() == &Tok::For {
                return self.generator(start, &func_span, bare && args.is_empty(), open, arg);
            }
            height = height.max(arg.height);
            args.push(*arg.expr);
        }
        self.finish_call(start, func_span, args, height, open)
    }

    /// Whether the call at `open` is `sum((... for ...))`: one parenthesised argument with a
    /// `for` directly inside. Python reads it exactly as `sum(... for ...)`.
    fn parenthesized_generator(&self, open: usize) -> bool {
        let inner = open + 1;
        if !matches!(self.slice(&self.toks[open - 1].span), "sum" | "prod")
            || self.toks[inner].kind != Tok::LParen
        {
            return false;
        }
        let Some(close) = self.matching_close(inner) else {
            return false;
        };
        let mut depth = 0usize;
        let has_for = self.toks[inner + 1..close].iter().any(|t| {
            match t.kind {
                Tok::LParen | Tok::LBracket | Tok::LBrace => depth += 1,
                Tok::RParen | Tok::RBracket | Tok::RBrace => depth = depth.saturating_sub(1),
                _ => {}
            }
            depth == 0 && t.kind == Tok::For
        });
        has_for && self.toks.get(close + 1).map(|t| &t.kind) == Some(&Tok::RParen)
    }

    /// `sum((body for ...))`, at the inner parenthesis.
    fn parenthesized_reduce(
        &mut self,
        start: usize,
        func_span: TextRange,
        open: usize,
    ) -> PResult<Node> {
        let inner = self.pos;
        self.enter(&self.cur().span.clone())?;
        self.bump();
        let body = self.expression()?;
        if self.kind() != &Tok::For {
            return Err(self.unexpected(Ctx::Close(self.toks[inner].span.clone())));
        }
        let mut node = self.generator(start, &func_span, true, inner, body)?;
        if self.kind() != &Tok::RParen {
            return Err(self.unexpected(Ctx::Close(self.toks[open].span.clone())));
        }
        let close = self.bump();
        self.leave();
        node.expr.span.end = close.end;
        node.outer.end = close.end;
        Ok(node)
    }

    /// Whether another argument follows, after consuming the comma before it; false at the
    /// closing parenthesis. Rejects keyword arguments and argument unpacking.
    fn argument_follows(&mut self, open: usize, func_span: &TextRange) -> PResult<bool> {
        let first = self.pos == open + 1;
        match self.kind() {
            Tok::Comma if !first => {
                self.bump();
            }
            Tok::RParen => return Ok(false),
            _ if !first => return Err(self.unexpected(Ctx::Close(self.toks[open].span.clone()))),
            _ => {}
        }
        match self.kind() {
            Tok::RParen => Ok(false),
            Tok::Eof => Err(self.unexpected(Ctx::Close(self.toks[open].span.clone()))),
            _ => self.check_argument(func_span).map(|()| true),
        }
    }

    fn finish_call(
        &mut self,
        start: usize,
        func_span: TextRange,
        args: Vec<Expr>,
        height: usize,
        open: usize,
    ) -> PResult<Node> {
        let close = self.bump();
        self.leave();
        let func = Ident::new(self.slice(&func_span));
        let at = self.toks[open].span.clone();
        self.node(
            ExprKind::Call {
                func,
                func_span,
                args,
            },
            start..close.end,
            height + 1,
            at,
        )
    }

    /// Rejects keyword arguments and argument unpacking at the start of an argument.
    fn check_argument(&self, func_span: &TextRange) -> PResult<()> {
        let name = self.slice(func_span);
        let span = self.cur().span.clone();
        match self.kind() {
            Tok::Name if self.peek(1) == &Tok::Assign => {
                let message = format!(
                    "keyword arguments are not supported: {name}({}=...)",
                    self.slice(&span)
                );
                Err(Box::new(unsupported(
                    message,
                    span.start..self.toks[self.pos + 1].span.end,
                )))
            }
            Tok::Star | Tok::Pow => {
                let message = format!(
                    "argument unpacking is not supported: {name}({}...)",
                    self.slice(&span)
                );
                Err(Box::new(unsupported(message, span)))
            }
            _ => Ok(()),
        }
    }

    fn not_sole_generator(&self, op: ReduceOp) -> Box<ParseError> {
        let message = format!(
            "a generator must be the only argument of {}(...)",
            reduce_name(op)
        );
        Box::new(syntax(message, self.cur().span.clone()))
    }

    /// The rest of `sum(body for var in range(...) if c ...)`, at `for`. `sole` is true when
    /// the body is the first argument of a bare `sum`/`prod`, the only place a generator may be.
    fn generator(
        &mut self,
        start: usize,
        func_span: &TextRange,
        sole: bool,
        open: usize,
        body: Node,
    ) -> PResult<Node> {
        let op = match self.slice(func_span) {
            "sum" => ReduceOp::Sum,
            "prod" => ReduceOp::Prod,
            _ => return Err(self.unexpected(Ctx::Close(self.toks[open].span.clone()))),
        };
        if !sole {
            return Err(if start == func_span.start {
                self.not_sole_generator(op)
            } else {
                self.unexpected(Ctx::Close(self.toks[open].span.clone()))
            });
        }
        self.bump();
        let var_span = self.loop_variable(op)?;
        let iter = self.climb(OR)?;
        let mut height = body.height.max(iter.height);
        let range = self.range_arguments(op, iter)?;
        let mut conds = Vec::new();
        while self.kind() == &Tok::If {
            self.bump();
            let cond = self.climb(OR)?;
            height = height.max(cond.height);
            conds.push(*cond.expr);
        }
        match self.kind() {
            Tok::RParen => {}
            Tok::For => {
                let message = format!(
                    "Only a single generator is supported inside {}(...)",
                    reduce_name(op)
                );
                return Err(Box::new(unsupported(message, self.cur().span.clone())));
            }
            Tok::Comma => return Err(self.not_sole_generator(op)),
            _ => return Err(self.unexpected(Ctx::Close(self.toks[open].span.clone()))),
        }
        let close = self.bump();
        self.leave();
        let var = self.slice(&var_span).to_string();
        let kind = ExprKind::Reduce {
            op,
            body: body.expr,
            var,
            var_span,
            range,
            conds,
        };
        self.node(
            kind,
            start..close.end,
            height + 1,
            self.toks[open].span.clone(),
        )
    }

    /// The loop variable and the `in` after it. A name in parentheses, `for (i) in`, is the
    /// same name to Python.
    fn loop_variable(&mut self, op: ReduceOp) -> PResult<TextRange> {
        let parens = self.toks[self.pos..]
            .iter()
            .take_while(|t| t.kind == Tok::LParen)
            .count();
        let name = self.pos + parens;
        let simple = self.toks[name].kind == Tok::Name
            && self.toks[name + 1..]
                .iter()
                .take(parens)
                .all(|t| t.kind == Tok::RParen)
            && self.toks.get(name + 1 + parens).map(|t| &t.kind) == Some(&Tok::In);
        if !simple {
            return Err(self.bad_loop_variable(op));
        }
        let span = self.toks[name].span.clone();
        self.pos = name + parens + 2;
        Ok(span)
    }

    /// The error for a generator target that is not a single name followed by `in`.
    fn bad_loop_variable(&self, op: ReduceOp) -> Box<ParseError> {
        let opname = reduce_name(op);
        let message =
            format!("{opname}(generator) requires a simple loop variable (e.g. 'for i in ...')");
        Box::new(match self.next_in() {
            Some(i) if i > self.pos => {
                unsupported(message, self.cur().span.start..self.toks[i - 1].span.end)
            }
            None if self.kind() == &Tok::Name => {
                // `for i range(...)`: the name is fine, what follows it is not.
                let next = &self.toks[self.pos + 1];
                let found = self.found_token(next);
                syntax(
                    format!("expected 'in' after the loop variable{found}"),
                    next.span.clone(),
                )
            }
            _ => unsupported(message, self.cur().span.clone()),
        })
    }

    /// The arguments of the generator's iterator, which must be `range(...)` with 1 to 3 of
    /// them.
    fn range_arguments(&self, op: ReduceOp, iter: Node) -> PResult<Vec<Expr>> {
        match iter.expr.kind {
            ExprKind::Call {
                func,
                func_span,
                args,
            } if func.name == "range" && func_span.start == iter.expr.span.start => {
                if (1..=3).contains(&args.len()) {
                    Ok(args)
                } else {
                    Err(Box::new(unsupported(
                        "range() expects 1, 2, or 3 positional arguments",
                        iter.outer,
                    )))
                }
            }
            _ => {
                let opname = reduce_name(op);
                let message = format!(
                    "{opname}(generator) is only supported for ranges: \
                     {opname}(expr for i in range(...))"
                );
                Err(Box::new(unsupported(message, iter.outer)))
            }
        }
    }

    /// The index of the next `in` at the current bracket depth, before the enclosing
    /// bracket closes.
    fn next_in(&self) -> Option<usize> {
        let mut depth = 0usize;
        for (i, t) in self.toks.iter().enumerate().skip(self.pos) {
            match t.kind {
                Tok::In if depth == 0 => return Some(i),
                Tok::LParen | Tok::LBracket | Tok::LBrace => depth += 1,
                Tok::RParen | Tok::RBracket | Tok::RBrace if depth == 0 => return None,
                Tok::RParen | Tok::RBracket | Tok::RBrace => depth -= 1,
                _ => {}
            }
        }
        None
    }

    /// The index of the bracket closing the one at `open`, if the tokens have it.
    fn matching_close(&self, open: usize) -> Option<usize> {
        let mut depth = 0usize;
        for (i, t) in self.toks.iter().enumerate().skip(open) {
            match t.kind {
                Tok::LParen | Tok::LBracket | Tok::LBrace => depth += 1,
                Tok::RParen | Tok::RBracket | Tok::RBrace => {
                    depth = depth.saturating_sub(1);
                    if depth == 0 {
                        return Some(i);
                    }
                }
                _ => {}
            }
        }
        None
    }

    /// The error for a list, set or dict display or comprehension, at its opening bracket.
    fn display(&self) -> Box<ParseError> {
        let close = self.matching_close(self.pos);
        let end = close.map_or(self.cur().span.end, |i| self.toks[i].span.end);
        let (mut depth, mut has_for, mut has_colon) = (0usize, false, false);
        for t in &self.toks[self.pos..close.unwrap_or(self.toks.len() - 1)] {
            match t.kind {
                Tok::LParen | Tok::LBracket | Tok::LBrace => depth += 1,
                Tok::RParen | Tok::RBracket | Tok::RBrace => depth = depth.saturating_sub(1),
                Tok::For if depth == 1 => has_for = true,
                Tok::Colon if depth == 1 && !has_for => has_colon = true,
                _ => {}
            }
        }
        let empty = close == Some(self.pos + 1);
        let what = match (self.kind() == &Tok::LBracket, has_colon || empty, has_for) {
            (true, _, false) => "lists are not supported",
            (true, _, true) => "list comprehensions are not supported",
            (false, true, false) => "dicts are not supported",
            (false, true, true) => "dict comprehensions are not supported",
            (false, false, false) => "sets are not supported",
            (false, false, true) => "set comprehensions are not supported",
        };
        Box::new(unsupported(what, self.cur().span.start..end))
    }

    fn expected_name_after(&self, what: &str) -> Box<ParseError> {
        let found = self.found();
        Box::new(syntax(
            format!("expected a name after '{what}'{found}"),
            self.cur().span.clone(),
        ))
    }

    /// ", found 'x'" for the current token, or nothing at the end of the text.
    fn found(&self) -> String {
        self.found_token(self.cur())
    }

    fn found_token(&self, token: &Token) -> String {
        match token.kind {
            Tok::Eof => String::new(),
            _ => format!(", found '{}'", shorten(self.slice(&token.span), 20)),
        }
    }

    /// The error for the current token when it is not what `ctx` needs: a specific
    /// `Unsupported` message for Python constructs the language lacks, else a syntax error
    /// saying what was expected.
    fn unexpected(&self, ctx: Ctx) -> Box<ParseError> {
        let span = self.cur().span.clone();
        if ctx != Ctx::Operand {
            let message = match self.kind() {
                Tok::Is => Some("the 'is' operator is not supported; use '==' or '!='"),
                Tok::In => Some("the 'in' operator is not supported"),
                Tok::Not if self.peek(1) == &Tok::In => {
                    let end = self.toks[self.pos + 1].span.end;
                    let message = "the 'not in' operator is not supported";
                    return Box::new(unsupported(message, span.start..end));
                }
                Tok::For => Some(GENERATOR_OUTSIDE_REDUCE),
                Tok::Assign => Some("assignment is not an expression; use '==' to compare"),
                Tok::Comma if ctx == Ctx::End => Some("tuples are not supported"),
                _ => None,
            };
            if let Some(message) = message {
                return Box::new(unsupported(message, span));
            }
        }
        let found = self.found();
        let message = match ctx {
            Ctx::Operand => match self.pos.checked_sub(1).map(|i| &self.toks[i].span) {
                Some(prev) => format!(
                    "expected an expression after '{}'{found}",
                    shorten(self.slice(prev), 20)
                ),
                None => format!("unexpected token '{}'", shorten(self.slice(&span), 20)),
            },
            Ctx::End => match self.kind() {
                Tok::RParen | Tok::RBracket | Tok::RBrace => {
                    format!("unmatched '{}'", self.slice(&span))
                }
                _ => format!("unexpected token '{}'", shorten(self.slice(&span), 20)),
            },
            Ctx::Close(open) => format!(
                "expected ')' to close '(' at {}{found}",
                self.position(open.start)
            ),
            Ctx::Else => format!("expected 'else' after 'if' expression{found}"),
        };
        Box::new(syntax(message, span))
    }

    /// "column 3", or "line 2, column 3" in a text of several lines.
    fn position(&self, offset: usize) -> String {
        let before = self.text[..offset].replace("\r\n", "\n");
        let line_start = before.rfind(['\n', '\r']).map_or(0, |i| i + 1);
        let column = before[line_start..].chars().count() + 1;
        if self.text.contains(['\n', '\r']) {
            let line = before.matches(['\n', '\r']).count() + 1;
            format!("line {line}, column {column}")
        } else {
            format!("column {column}")
        }
    }
}

/// The state of a flat `or`/`and`/comparison chain while its operands are parsed.
struct Chain<T> {
    start: usize,
    end: usize,
    height: usize,
    /// The first operator, where a too-tall tree is reported.
    at: TextRange,
    items: Vec<T>,
}

impl<T> Chain<T> {
    fn new(first: &Node, at: TextRange) -> Self {
        Chain {
            start: first.outer.start,
            end: first.outer.end,
            height: first.height,
            at,
            items: Vec::new(),
        }
    }

    fn extend(&mut self, next: &Node) {
        self.end = next.outer.end;
        self.height = self.height.max(next.height);
    }
}

fn compare_op(tok: &Tok) -> Option<CmpOp> {
    Some(match tok {
        Tok::Lt => CmpOp::Lt,
        Tok::Le => CmpOp::Le,
        Tok::Gt => CmpOp::Gt,
        Tok::Ge => CmpOp::Ge,
        Tok::EqEq => CmpOp::Eq,
        Tok::NotEq => CmpOp::Ne,
        _ => return None,
    })
}

fn arith_op(tok: &Tok) -> BinOp {
    match tok {
        Tok::Plus => BinOp::Add,
        Tok::Minus => BinOp::Sub,
        Tok::Star => BinOp::Mul,
        Tok::Slash => BinOp::Div,
        Tok::DoubleSlash => BinOp::FloorDiv,
        _ => BinOp::Mod,
    }
}

fn reduce_name(op: ReduceOp) -> &'static str {
    match op {
        ReduceOp::Sum => "sum",
        ReduceOp::Prod => "prod",
    }
}

/// At most `max` characters of `s`, for quoting user text in messages.
fn shorten(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let head: String = s.chars().take(max).collect();
        format!("{head}...")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diag::DiagKind;
    use crate::expr::print;

    fn p(text: &str) -> Expr {
        parse(text).unwrap_or_else(|e| panic!("{text:?}: {e:?}"))
    }

    fn err(text: &str) -> ParseError {
        match parse(text) {
            Ok(e) => panic!("{text:?} parsed as {}", sexp(&e)),
            Err(e) => e,
        }
    }

    /// A compact prefix form of the tree, for asserting structure.
    fn sexp(e: &Expr) -> String {
        let list = |items: &[Expr]| items.iter().map(sexp).collect::<Vec<_>>().join(" ");
        match &e.kind {
            ExprKind::Int(i) => i.to_string(),
            ExprKind::Float(x) => format!("{x:?}"),
            ExprKind::BigInt(x) => format!("big{x:?}"),
            ExprKind::Bool(b) => if *b { "True" } else { "False" }.to_string(),
            ExprKind::Name(id) => id.name.clone(),
            ExprKind::Unary { op, operand } => {
                let op = match op {
                    UnaryOp::Neg => "neg",
                    UnaryOp::Pos => "pos",
                    UnaryOp::Not => "not",
                };
                format!("({op} {})", sexp(operand))
            }
            ExprKind::Binary { op, lhs, rhs } => {
                let op = match op {
                    BinOp::Add => "+",
                    BinOp::Sub => "-",
                    BinOp::Mul => "*",
                    BinOp::Div => "/",
                    BinOp::FloorDiv => "//",
                    BinOp::Mod => "%",
                    BinOp::Pow => "**",
                };
                format!("({op} {} {})", sexp(lhs), sexp(rhs))
            }
            ExprKind::Compare { first, rest } => {
                let mut s = format!("(cmp {}", sexp(first));
                for (op, x) in rest {
                    let op = match op {
                        CmpOp::Lt => "<",
                        CmpOp::Le => "<=",
                        CmpOp::Gt => ">",
                        CmpOp::Ge => ">=",
                        CmpOp::Eq => "==",
                        CmpOp::Ne => "!=",
                    };
                    s.push_str(&format!(" {op} {}", sexp(x)));
                }
                s + ")"
            }
            ExprKind::Logic { op, operands } => {
                let op = if *op == LogicOp::And { "and" } else { "or" };
                format!("({op} {})", list(operands))
            }
            ExprKind::IfElse {
                cond,
                then,
                otherwise,
            } => {
                format!("(if {} {} {})", sexp(cond), sexp(then), sexp(otherwise))
            }
            ExprKind::Call { func, args, .. } if args.is_empty() => format!("({})", func.name),
            ExprKind::Call { func, args, .. } => format!("({} {})", func.name, list(args)),
            ExprKind::Reduce {
                op,
                body,
                var,
                range,
                conds,
                ..
            } => {
                let op = if *op == ReduceOp::Sum { "sum" } else { "prod" };
                let mut s = format!("({op} {} {var} (range {})", sexp(body), list(range));
                for c in conds {
                    s.push_str(&format!(" (if {})", sexp(c)));
                }
                s + ")"
            }
        }
    }

    fn check(text: &str, expected: &str) {
        assert_eq!(sexp(&p(text)), expected, "{text}");
    }

    fn check_err(text: &str, kind: DiagKind, message: &str, span: TextRange) {
        let e = err(text);
        assert_eq!(
            (e.kind, e.message.as_str(), e.span.clone()),
            (kind, message, span),
            "{text:?}"
        );
    }

    fn unsupported_err(text: &str, message: &str, span: TextRange) {
        check_err(text, DiagKind::Unsupported, message, span);
    }

    fn syntax_err(text: &str, message: &str, span: TextRange) {
        check_err(text, DiagKind::Syntax, message, span);
    }

    #[test]
    fn literals_and_names() {
        check("42", "42");
        check("1.5", "1.5");
        check("True", "True");
        check("False", "False");
        check("true", "true");
        check("x_1", "x_1");
        check("1_000", "1000");
        check("0x10", "16");
        check("1e-3", "0.001");
        assert!(matches!(p("True").kind, ExprKind::Bool(true)));
        assert!(matches!(p("7").kind, ExprKind::Int(7)));
        assert!(matches!(p("99999999999999999999").kind, ExprKind::BigInt(x) if x == 1e20));
        // int64's minimum is written as a negated literal that alone would not fit.
        assert_eq!(p("-9223372036854775808").kind, ExprKind::Int(i64::MIN));
        assert_eq!(p("-9223372036854775808").span, 0..20);
        assert!(matches!(p("9223372036854775808").kind, ExprKind::BigInt(_)));
        assert!(matches!(
            p("-9223372036854775808 ** 2").kind,
            ExprKind::Unary {
                op: UnaryOp::Neg,
                ..
            }
        ));
        assert!(matches!(
            p("--9223372036854775808").kind,
            ExprKind::Unary {
                op: UnaryOp::Neg,
                ..
            }
        ));
        assert!(matches!(p("7.").kind, ExprKind::Float(x) if x == 7.0));
        assert_eq!(p("x"), Expr::new(ExprKind::Name(Ident::new("x")), 0..1));
        match p("x").kind {
            ExprKind::Name(id) => assert_eq!(id.res, Res::Unresolved),
            _ => unreachable!(),
        }
    }

    #[test]
    fn precedence() {
        check("2^3^2", "(** 2 (** 3 2))");
        check("2**3**2", "(** 2 (** 3 2))");
        check("-2**2", "(neg (** 2 2))");
        check("-x^2", "(neg (** x 2))");
        check("(-2)**2", "(** (neg 2) 2)");
        check("x**-1", "(** x (neg 1))");
        check("2**-x", "(** 2 (neg x))");
        check("2**-x**2", "(** 2 (neg (** x 2)))");
        check("a*b**c", "(* a (** b c))");
        check("-a*b", "(* (neg a) b)");
        check("--a", "(neg (neg a))");
        check("+-a", "(pos (neg a))");
        check("a+b*c", "(+ a (* b c))");
        check("a-b-c", "(- (- a b) c)");
        check("a/b*c//d%e", "(% (// (* (/ a b) c) d) e)");
        check("a-(b-c)", "(- a (- b c))");
        check("not a == b", "(not (cmp a == b))");
        check("not a and b", "(and (not a) b)");
        check("not not a", "(not (not a))");
        check("a or b and c", "(or a (and b c))");
        check("a and b or c", "(or (and a b) c)");
        check("a + 1 < b * 2", "(cmp (+ a 1) < (* b 2))");
        check("a < b and b < c", "(and (cmp a < b) (cmp b < c))");
        check(
            "0 if x<0 else 1 if x<10 else 2",
            "(if (cmp x < 0) 0 (if (cmp x < 10) 1 2))",
        );
        check("a or b if c and d else e", "(if (and c d) (or a b) e)");
        check("(a if b else c) if d else e", "(if d (if b a c) e)");
        check("a if b else c + 1", "(if b a (+ c 1))");
        check("-(a+b)", "(neg (+ a b))");
        check("((((x))))", "x");
    }

    #[test]
    fn chains() {
        check("a < b < c", "(cmp a < b < c)");
        check(
            "a < b <= c > d >= e == f != g",
            "(cmp a < b <= c > d >= e == f != g)",
        );
        check("(a < b) < c", "(cmp (cmp a < b) < c)");
        check("a or b or c", "(or a b c)");
        check("a and b and c and d", "(and a b c d)");
        check("(a or b) or c", "(or (or a b) c)");
        check("a or (b or c)", "(or a (or b c))");
        check("a and b or c and d or e", "(or (and a b) (and c d) e)");
        match p("a < b < c").kind {
            ExprKind::Compare { first, rest } => {
                assert_eq!(first.span, 0..1);
                assert_eq!(rest.len(), 2);
                assert_eq!(rest[0].0, CmpOp::Lt);
                assert_eq!(rest[1].1.span, 8..9);
            }
            k => panic!("{k:?}"),
        }
    }

    #[test]
    fn calls() {
        check("f(x)", "(f x)");
        check("f()", "(f)");
        check("f(a, b, )", "(f a b)");
        check("min(a, b, c)", "(min a b c)");
        check("f(g(x), -y)", "(f (g x) (neg y))");
        check("f(a if b else c, d)", "(f (if b a c) d)");
        check("math.sin(x)", "(sin x)");
        check("math . atan2 ( y , x )", "(atan2 y x)");
        check("math.pi * 2 + math.e", "(+ (* pi 2) e)");
        check("math", "math");
        check("sum(x)", "(sum x)");
        check("sum(a, b)", "(sum a b)");
        check("prod()", "(prod)");
        check("(\n  f(a,\n    b) # comment\n  + 1\n)", "(+ (f a b) 1)");
        check("f(a,\r\n b)", "(f a b)");
        let e = p("math.sin(x)");
        assert_eq!(e.span, 0..11);
        match &e.kind {
            ExprKind::Call {
                func,
                func_span,
                args,
            } => {
                assert_eq!(func, &Ident::new("sin"));
                assert_eq!(func_span, &(5..8));
                assert_eq!(args[0].span, 9..10);
            }
            k => panic!("{k:?}"),
        }
        assert_eq!(p("math.pi").span, 0..7);
    }

    #[test]
    fn generators() {
        check("sum(i*i for i in range(N))", "(sum (* i i) i (range N))");
        check(
            "sum(i for i in range(1, N, 2) if i > 1)",
            "(sum i i (range 1 N 2) (if (cmp i > 1)))",
        );
        check(
            "prod((i+1) for i in range(N))",
            "(prod (+ i 1) i (range N))",
        );
        check(
            "sum(i for i in range(a, b) if i > 1 if i < 5)",
            "(sum i i (range a b) (if (cmp i > 1)) (if (cmp i < 5)))",
        );
        check(
            "sum(i for i in range(9) if a or b)",
            "(sum i i (range 9) (if (or a b)))",
        );
        check(
            "sum(a if c else b for k in range(3))",
            "(sum (if c a b) k (range 3))",
        );
        check(
            "sum(sum(i*j for j in range(i)) for i in range(n))",
            "(sum (sum (* i j) j (range i)) i (range n))",
        );
        check("sum((i) for (i) in range(3))", "(sum i i (range 3))");
        check("sum(i for ((i)) in range(3))", "(sum i i (range 3))");
        check("sum((i*i for i in range(3)))", "(sum (* i i) i (range 3))");
        check(
            "prod(( (i) for i in range(3) if i ))",
            "(prod i i (range 3) (if i))",
        );
        assert_eq!(p("sum((i for i in range(3)))").span, 0..26);
        assert_eq!(p("sum(i for (i) in range(3))").span, 0..26);
        match p("sum(i for (i) in range(3))").kind {
            ExprKind::Reduce { var_span, .. } => assert_eq!(var_span, 11..12),
            k => panic!("{k:?}"),
        }
        check(
            "1 + sum(i for i in range(2)) * 2",
            "(+ 1 (* (sum i i (range 2)) 2))",
        );
        check(
            "x if c else prod(i for i in range(2))",
            "(if c x (prod i i (range 2)))",
        );
        let e = p("sum(i for i in range(3))");
        assert_eq!(e.span, 0..24);
        match &e.kind {
            ExprKind::Reduce {
                op,
                var,
                var_span,
                range,
                body,
                conds,
            } => {
                assert_eq!(*op, ReduceOp::Sum);
                assert_eq!(var, "i");
                assert_eq!(var_span, &(10..11));
                assert_eq!(range[0].span, 21..22);
                assert_eq!(body.span, 4..5);
                assert!(conds.is_empty());
            }
            k => panic!("{k:?}"),
        }
    }

    #[test]
    fn generator_errors() {
        unsupported_err(
            "sum(i*j for i in range(3) for j in range(3))",
            "Only a single generator is supported inside sum(...)",
            26..29,
        );
        unsupported_err(
            "prod(i for i in range(3) if i for j in range(3))",
            "Only a single generator is supported inside prod(...)",
            30..33,
        );
        unsupported_err(
            "sum(x for x in xs)",
            "sum(generator) is only supported for ranges: sum(expr for i in range(...))",
            15..17,
        );
        unsupported_err("prod(x for x in [1, 2])", "lists are not supported", 16..22);
        unsupported_err(
            "sum(x for x in range(3) + 1)",
            "sum(generator) is only supported for ranges: sum(expr for i in range(...))",
            15..27,
        );
        unsupported_err(
            "sum(x for x in math.range(3))",
            "math.range is not a function of Python's math module; write range(...)",
            15..25,
        );
        unsupported_err(
            "sum(x for i, j in range(3))",
            "sum(generator) requires a simple loop variable (e.g. 'for i in ...')",
            10..14,
        );
        unsupported_err(
            "sum(x for f(i) in range(3))",
            "sum(generator) requires a simple loop variable (e.g. 'for i in ...')",
            10..14,
        );
        unsupported_err(
            "prod(x for 1 in range(3))",
            "prod(generator) requires a simple loop variable (e.g. 'for i in ...')",
            11..12,
        );
        unsupported_err(
            "sum(x for in range(3))",
            "sum(generator) requires a simple loop variable (e.g. 'for i in ...')",
            10..12,
        );
        unsupported_err(
            "sum(x for i in range())",
            "range() expects 1, 2, or 3 positional arguments",
            15..22,
        );
        unsupported_err(
            "sum(x for i in range(1, 2, 3, 4))",
            "range() expects 1, 2, or 3 positional arguments",
            15..32,
        );
        unsupported_err(
            "sum(x for i in range(n, step=2))",
            "keyword arguments are not supported: range(step=...)",
            24..29,
        );
        unsupported_err(
            "sum(x, start=1)",
            "keyword arguments are not supported: sum(start=...)",
            7..13,
        );
        syntax_err(
            "sum(x for i range(3))",
            "expected 'in' after the loop variable, found 'range'",
            12..17,
        );
        syntax_err(
            "sum(x for i in range(3), 1)",
            "a generator must be the only argument of sum(...)",
            23..24,
        );
        syntax_err(
            "sum(x for i in range(3),)",
            "a generator must be the only argument of sum(...)",
            23..24,
        );
        syntax_err(
            "sum(1, x for i in range(3))",
            "a generator must be the only argument of sum(...)",
            9..12,
        );
        syntax_err(
            "sum(x for i in range(3)",
            "expected ')' to close '(' at column 4",
            23..23,
        );
        syntax_err(
            "sum(x for i in range(3) else 2)",
            "expected ')' to close '(' at column 4, found 'else'",
            24..28,
        );
        unsupported_err(
            "f(x for i in range(3))",
            "generator expressions are only supported as the argument of sum(...) or prod(...)",
            4..7,
        );
        unsupported_err(
            "math.sum(x for i in range(3))",
            "math.sum is not a function of Python's math module; write sum(...)",
            0..8,
        );
        unsupported_err(
            "math.relu(x)",
            "math.relu is not a function of Python's math module; write relu(...)",
            0..9,
        );
        unsupported_err(
            "(x for i in range(3))",
            "generator expressions are only supported as the argument of sum(...) or prod(...)",
            3..6,
        );
        unsupported_err(
            "x for i in range(3)",
            "generator expressions are only supported as the argument of sum(...) or prod(...)",
            2..5,
        );
        unsupported_err(
            "sum(x for i in range(3) if i in y)",
            "the 'in' operator is not supported",
            29..31,
        );
        unsupported_err(
            "sum((x for i in range(3)), 1)",
            "generator expressions are only supported as the argument of sum(...) or prod(...)",
            7..10,
        );
        unsupported_err(
            "sum((x for i in range(3) for j in range(2)))",
            "Only a single generator is supported inside sum(...)",
            25..28,
        );
        unsupported_err(
            "sum(x for (i, j) in range(3))",
            "sum(generator) requires a simple loop variable (e.g. 'for i in ...')",
            10..16,
        );
        unsupported_err(
            "sum(x for (i in range(3)))",
            "sum(generator) requires a simple loop variable (e.g. 'for i in ...')",
            10..11,
        );
        unsupported_err(
            "sum((x for i in range(3))",
            "generator expressions are only supported as the argument of sum(...) or prod(...)",
            7..10,
        );
    }

    #[test]
    fn unsupported_constructs() {
        let cases: &[(&str, &str, TextRange)] = &[
            ("'s' + x", "string literals are not supported", 0..3),
            ("f'{x}'", "f-strings are not supported", 0..6),
            ("x[0]", "subscripts are not supported: x[...]", 0..4),
            ("x[i][j] + 1", "subscripts are not supported: x[...]", 0..4),
            ("(a+b)[0]", "subscripts are not supported", 0..8),
            ("f(x)[0", "subscripts are not supported", 0..5),
            ("a | b", "bitwise operator '|' is not supported (use 'or' for logic)", 2..3),
            ("a & b", "bitwise operator '&' is not supported (use 'and' for logic)", 2..3),
            ("a << b", "bitwise operator '<<' is not supported", 2..4),
            ("a >> b", "bitwise operator '>>' is not supported", 2..4),
            ("~a", "bitwise operator '~' is not supported (use 'not' for logic)", 0..1),
            ("a is b", "the 'is' operator is not supported; use '==' or '!='", 2..4),
            ("a is not b", "the 'is' operator is not supported; use '==' or '!='", 2..4),
            ("a in b", "the 'in' operator is not supported", 2..4),
            ("a not in b", "the 'not in' operator is not supported", 2..8),
            ("(a in b)", "the 'in' operator is not supported", 3..5),
            ("f(a in b)", "the 'in' operator is not supported", 4..6),
            ("lambda x: x", "lambda expressions are not supported ('lambda' is a Python keyword and cannot be used as a name)", 0..6),
            ("(y := 2)", "assignment expressions (':=') are not supported", 3..5),
            ("[1, 2]", "lists are not supported", 0..6),
            ("[]", "lists are not supported", 0..2),
            ("[i for i in range(3)]", "list comprehensions are not supported", 0..21),
            ("{1, 2}", "sets are not supported", 0..6),
            ("{i for i in x}", "set comprehensions are not supported", 0..14),
            ("{}", "dicts are not supported", 0..2),
            ("{1: 2}", "dicts are not supported", 0..6),
            ("{k: v for k in x}", "dict comprehensions are not supported", 0..17),
            ("{k: v for k in x", "dict comprehensions are not supported", 0..1),
            ("(a, b)", "tuples are not supported", 0..6),
            ("(a, (b, c))", "tuples are not supported", 0..11),
            ("()", "tuples are not supported", 0..2),
            ("a, b", "tuples are not supported", 1..2),
            ("1j", "complex literals are not supported", 0..2),
            ("a; b", "multiple statements (';') are not supported: write a single expression", 1..2),
            ("x += 1", "augmented assignment ('+=') is not an expression", 2..4),
            ("x = 1", "assignment is not an expression; use '==' to compare", 2..3),
            ("(x = 1)", "assignment is not an expression; use '==' to compare", 3..4),
            ("f(x=1)", "keyword arguments are not supported: f(x=...)", 2..4),
            ("f(a, b = 1)", "keyword arguments are not supported: f(b=...)", 5..8),
            ("math.log(x, base=2)", "keyword arguments are not supported: log(base=...)", 12..17),
            ("f(*a)", "argument unpacking is not supported: f(*...)", 2..3),
            ("f(**a)", "argument unpacking is not supported: f(**...)", 2..4),
            // `^` is `**` everywhere, here too.
            ("f(^a)", "argument unpacking is not supported: f(^...)", 2..3),
            ("(a)(b)", "only named functions can be called", 0..4),
            ("f(a)(b)", "only named functions can be called", 0..5),
            ("1(2)", "only named functions can be called", 0..2),
            ("x.real", "attribute access is not supported: x.real", 0..6),
            ("(a + b).imag", "attribute access is not supported: (a + b).imag", 0..12),
            ("math.sin(x).real", "attribute access is not supported: math.sin(x).real", 0..16),
            ("math.tau", "math.tau is not supported: only math functions, math.pi and math.e are", 0..8),
            ("2 * math.inf", "math.inf is not supported: only math functions, math.pi and math.e are", 4..12),
            ("None", "None is not supported", 0..4),
            ("await x", "'await' expressions are not supported", 0..5),
            ("yield", "'yield' expressions are not supported", 0..5),
            ("x + del", "'del' is a Python keyword and cannot be used in an expression", 4..7),
            ("...", "'...' (Ellipsis) is not supported", 0..3),
            ("a + \\\n b", "line continuation with '\\' is not supported; wrap the expression in parentheses", 4..5),
        ];
        for (text, message, span) in cases {
            unsupported_err(text, message, span.clone());
        }
    }

    #[test]
    fn syntax_errors() {
        let cases: &[(&str, &str, TextRange)] = &[
            ("", "empty expression", 0..0),
            ("   ", "empty expression", 0..3),
            ("# just a comment", "empty expression", 0..16),
            ("\n\n", "empty expression", 0..2),
            ("a +", "expected an expression after '+'", 3..3),
            ("a + # c", "expected an expression after '+'", 7..7),
            ("a + * b", "expected an expression after '+', found '*'", 4..5),
            ("* a", "unexpected token '*'", 0..1),
            (")", "unexpected token ')'", 0..1),
            ("a b", "unexpected token 'b'", 2..3),
            ("a)", "unmatched ')'", 1..2),
            ("a]", "unmatched ']'", 1..2),
            ("(a", "expected ')' to close '(' at column 1", 2..2),
            ("(", "expected ')' to close '(' at column 1", 1..1),
            ("1 + (2 * 3", "expected ')' to close '(' at column 5", 10..10),
            ("(a b)", "expected ')' to close '(' at column 1, found 'b'", 3..4),
            ("f(a b)", "expected ')' to close '(' at column 2, found 'b'", 4..5),
            ("f(a", "expected ')' to close '(' at column 2", 3..3),
            ("f(", "expected ')' to close '(' at column 2", 2..2),
            ("f(,)", "expected an expression after '(', found ','", 2..3),
            ("f(a,,)", "expected an expression after ',', found ','", 4..5),
            ("(a +\n b", "expected ')' to close '(' at line 1, column 1", 7..7),
            ("(a +\n (b c))", "expected ')' to close '(' at line 2, column 2, found 'c'", 9..10),
            ("a if b", "expected 'else' after 'if' expression", 6..6),
            ("a if b: c", "expected 'else' after 'if' expression, found ':'", 6..7),
            ("a if b else", "expected an expression after 'else'", 11..11),
            ("a == not b", "expected an expression after '==', found 'not'", 5..8),
            ("a not b", "unexpected token 'not'", 2..5),
            ("else", "unexpected token 'else'", 0..4),
            ("a ** ** b", "expected an expression after '**', found '**'", 5..7),
            ("a ^ ^ b", "expected an expression after '^', found '^'", 4..5),
            ("x.", "expected a name after '.'", 2..2),
            ("x.(1)", "expected a name after '.', found '('", 2..3),
            ("math.", "expected a name after 'math.'", 5..5),
            ("math.1", "unexpected token '.1'", 4..6),
            ("a +\nb", "an expression must fit on one line; wrap it in parentheses to continue it", 3..4),
            ("a\n+ b", "an expression must fit on one line; wrap it in parentheses to continue it", 1..2),
            ("a $ b", "unexpected character '$'", 2..3),
            ("a ? b : c", "unexpected character '?'", 2..3),
            ("a @ b", "unexpected character '@'", 2..3),
            ("`a`", "unexpected character '`'", 0..1),
            ("é", "invalid character 'é' (U+00E9): names must be ASCII", 0..2),
            ("012", "leading zeros in decimal integer literals are not permitted; use an 0o prefix for octal integers", 0..3),
            ("2x", "invalid number literal '2x'; to multiply, write '2*x'", 0..2),
            ("'abc", "unterminated string literal", 0..4),
        ];
        for (text, message, span) in cases {
            syntax_err(text, message, span.clone());
        }
    }

    #[test]
    fn errors_come_in_text_order() {
        // A parse error before a lexical one wins, and vice versa.
        syntax_err(
            "a + ) $",
            "expected an expression after '+', found ')'",
            4..5,
        );
        syntax_err("(a + $)", "unexpected character '$'", 5..6);
        syntax_err("a $ (", "unexpected character '$'", 2..3);
        unsupported_err("x[0] | 1", "subscripts are not supported: x[...]", 0..4);
        unsupported_err(
            "f(k=$)",
            "keyword arguments are not supported: f(k=...)",
            2..4,
        );
        unsupported_err("(a, $)", "tuples are not supported", 0..3);
        syntax_err("(a + \n b $", "unexpected character '$'", 9..10);
        syntax_err(
            "a +\n$",
            "an expression must fit on one line; wrap it in parentheses to continue it",
            3..4,
        );
        syntax_err("1 + 'abc", "unterminated string literal", 4..8);
        unsupported_err(
            "a is 'x'",
            "the 'is' operator is not supported; use '==' or '!='",
            2..4,
        );
    }

    #[test]
    fn spans() {
        let e = p("a + b");
        assert_eq!(e.span, 0..5);
        let e = p("  a+b  # c");
        assert_eq!(e.span, 2..5);
        let e = p("(a + b) * c");
        assert_eq!(e.span, 0..11);
        match &e.kind {
            ExprKind::Binary { lhs, rhs, .. } => {
                assert_eq!(lhs.span, 1..6, "parentheses are not part of the inner node");
                assert_eq!(rhs.span, 10..11);
            }
            k => panic!("{k:?}"),
        }
        assert_eq!(p("(a)").span, 1..2);
        assert_eq!(p("-(a)").span, 0..4);
        assert_eq!(p("not x").span, 0..5);
        assert_eq!(p("a < b < (c)").span, 0..11);
        assert_eq!(p("a or b or c").span, 0..11);
        assert_eq!(p("x if c else (y)").span, 0..15);
        assert_eq!(p("f(a, b)").span, 0..7);
        assert_eq!(p("f (a, b )").span, 0..9);
        assert_eq!(p("1.5e3").span, 0..5);
        let e = p("f(x, (y))");
        match &e.kind {
            ExprKind::Call {
                func_span, args, ..
            } => {
                assert_eq!(func_span, &(0..1));
                assert_eq!(args[1].span, 6..7);
            }
            k => panic!("{k:?}"),
        }
        // Multi-byte text before a node keeps byte offsets.
        let e = p("(\n# é\n x)");
        assert_eq!(e.span, 8..9);
        // Every node's span is inside its parent's.
        let text = "sum(-i ** 2 for i in range(f(a), 3) if not (i < 2 or i > 5)) + (x if y else z) * math.pi";
        fn walk(e: &Expr, parent: &TextRange, text: &str) {
            assert!(
                parent.start <= e.span.start && e.span.end <= parent.end,
                "{:?} outside {parent:?}",
                e.span
            );
            assert!(!text[e.span.clone()].starts_with(' ') && !text[e.span.clone()].ends_with(' '));
            e.for_each_child(|c| walk(c, &e.span, text));
        }
        let e = p(text);
        assert_eq!(e.span, 0..text.len());
        walk(&e, &e.span, text);
    }

    #[test]
    fn depth_limits() {
        let nested = |n: usize| format!("{}x{}", "(".repeat(n), ")".repeat(n));
        assert!(parse(&nested(MAX_NESTING - 1)).is_ok());
        syntax_err(
            &nested(MAX_NESTING + 1),
            "expression nested too deeply",
            200..201,
        );
        syntax_err(&nested(100_000), "expression nested too deeply", 200..201);
        let unary = |n: usize| format!("{}x", "-".repeat(n));
        assert!(parse(&unary(MAX_NESTING)).is_ok());
        assert_eq!(err(&unary(100_000)).message, "expression nested too deeply");
        assert_eq!(
            err(&"not ".repeat(100_000)).message,
            "expression nested too deeply"
        );
        assert_eq!(
            err(&format!("x{}", "**x".repeat(100_000))).message,
            "expression nested too deeply"
        );
        assert_eq!(
            err(&"a if b else ".repeat(100_000)).message,
            "expression nested too deeply"
        );
        assert_eq!(
            err(&"f(".repeat(100_000)).message,
            "expression nested too deeply"
        );
        assert_eq!(
            err(&"sum(".repeat(100_000)).message,
            "expression nested too deeply"
        );
        assert_eq!(err(&"[".repeat(100_000)).message, "lists are not supported");
        // Long flat chains grow the tree, not the nesting.
        let chain = |n: usize, op: &str| vec!["x"; n].join(op);
        assert!(parse(&chain(MAX_HEIGHT, " + ")).is_ok());
        assert!(parse(&chain(MAX_HEIGHT, " or ")).is_ok());
        assert!(parse(&chain(100_000, " or ")).is_ok());
        assert!(parse(&chain(100_000, " < ")).is_ok());
        assert!(parse(&format!("f({})", chain(100_000, ", "))).is_ok());
        for op in [" + ", " * ", " - ", " % "] {
            let e = err(&chain(100_000, op));
            assert_eq!(
                e.message,
                "expression nested too deeply (too many chained operators)"
            );
        }
        // Height adds up across nesting levels too.
        let mut tall = "x".to_string();
        for _ in 0..150 {
            tall = format!("({tall}{})", " + x".repeat(9));
        }
        assert_eq!(
            err(&tall).message,
            "expression nested too deeply (too many chained operators)"
        );
        // Operators nest too: each right operand is one level deeper.
        let worst =
            |n: usize| format!("{}x{}", "(a or b and c < d + e * ".repeat(n), ")".repeat(n));
        assert!(parse(&worst(MAX_NESTING / 6)).is_ok());
        assert_eq!(
            err(&worst(MAX_NESTING / 5 + 1)).message,
            "expression nested too deeply"
        );
        assert_eq!(err(&worst(100_000)).message, "expression nested too deeply");
        // The deepest accepted trees still print, compare and drop without trouble.
        let deep = p(&format!("{}1{}", "(1 + ".repeat(99), ")".repeat(99)));
        let printed = print::to_string(&deep);
        assert_eq!(parse(&printed).map(|e| print::to_string(&e)), Ok(printed));
        assert_eq!(deep.clone(), deep);
    }

    /// The deepest inputs the limits accept parse, print and clone on a 1 MiB stack in a
    /// debug build; a regression here would be a stack overflow, which aborts the process.
    #[test]
    fn deepest_inputs_fit_in_a_small_stack() {
        let n = MAX_NESTING;
        let inputs = vec![
            format!("{}x{}", "(".repeat(n), ")".repeat(n)),
            format!("{}x{}", "f(".repeat(n), ")".repeat(n)),
            format!("{}x{}", "sum(".repeat(n), ")".repeat(n)),
            format!(
                "{}x{}",
                "sum(i for i in range(".repeat(n / 2),
                "))".repeat(n / 2)
            ),
            format!(
                "{}x{}",
                "(a or b and c < d + e * ".repeat(n / 6),
                ")".repeat(n / 6)
            ),
            format!(
                "{}x{}",
                "(a if b else c if d else ".repeat(n / 3),
                ")".repeat(n / 3)
            ),
            format!("{}x", "-".repeat(n)),
            format!("{}x", "not ".repeat(n)),
            format!("x{}", "**x".repeat(n)),
            vec!["x"; MAX_HEIGHT].join(" + "),
        ];
        let handle = std::thread::Builder::new()
            .stack_size(1 << 20)
            .spawn(move || {
                for text in inputs {
                    let e = parse(&text)
                        .unwrap_or_else(|err| panic!("{}: {err:?}", &text[..40.min(text.len())]));
                    let printed = print::to_string(&e);
                    let again = parse(&printed).unwrap_or_else(|err| panic!("{printed}: {err:?}"));
                    assert_eq!(print::to_string(&again), printed);
                    assert!(e.clone() == e);
                }
            })
            .unwrap();
        handle.join().unwrap();
    }

    /// A tiny xorshift generator, so the fuzz tests need no dependency and are reproducible.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }

        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
    }

    /// Checks what must hold for any input: no panic, spans inside the text on character
    /// boundaries, and for a successful parse a print that parses back to the same tree.
    fn check_any(text: &str) {
        match parse(text) {
            Ok(e) => {
                fn walk(e: &Expr, text: &str) {
                    assert!(
                        text.get(e.span.clone()).is_some(),
                        "{text:?}: bad span {:?}",
                        e.span
                    );
                    e.for_each_child(|c| walk(c, text));
                }
                walk(&e, text);
                let printed = print::to_string(&e);
                let again = parse(&printed)
                    .unwrap_or_else(|err| panic!("{text:?} printed as {printed:?}: {err:?}"));
                assert_eq!(print::to_string(&again), printed, "{text:?}");
            }
            Err(e) => {
                assert!(
                    text.get(e.span.clone()).is_some(),
                    "{text:?}: bad error span {:?}",
                    e.span
                );
                assert!(matches!(e.kind, DiagKind::Syntax | DiagKind::Unsupported));
                assert!(!e.message.is_empty());
            }
        }
    }

    #[test]
    fn random_bytes_never_panic() {
        let mut rng = Rng(0x2545_f491_4f6c_dd1d);
        let alphabet: Vec<char> = "abxyz019_.()[]{},:;=+-*/%^<>!&|~@$?#'\"\\ \t\n\réα😀\u{0}\u{a0}"
            .chars()
            .collect();
        for _ in 0..3000 {
            let len = rng.below(24);
            let text: String = if rng.below(2) == 0 {
                let bytes: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
                String::from_utf8_lossy(&bytes).into_owned()
            } else {
                (0..len)
                    .map(|_| alphabet[rng.below(alphabet.len())])
                    .collect()
            };
            check_any(&text);
        }
    }

    #[test]
    fn random_token_soups_never_panic() {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let vocabulary = [
            "x",
            "y",
            "t",
            "1",
            "2.5",
            "0x1f",
            "1e-3",
            "1_0",
            ".5",
            "True",
            "False",
            "(",
            ")",
            "(",
            ")",
            "+",
            "-",
            "*",
            "**",
            "^",
            "/",
            "//",
            "%",
            "<",
            "<=",
            "==",
            "!=",
            ">",
            "not",
            "and",
            "or",
            "if",
            "else",
            "for",
            "in",
            "is",
            "range(",
            "sum(",
            "prod(",
            "math.",
            "sin(",
            "f(",
            ",",
            ".",
            "[",
            "]",
            "{",
            "}",
            "=",
            ":",
            "lambda",
            "None",
            "'s'",
            "#c\n",
            "\n",
            " ",
            "i",
            "for i in range(3)",
            "if x",
            "else y",
            "1j",
            "$",
            "é",
            ";",
            "+=",
            "|",
        ];
        for _ in 0..4000 {
            let n = 1 + rng.below(14);
            let text: Vec<&str> = (0..n)
                .map(|_| vocabulary[rng.below(vocabulary.len())])
                .collect();
            check_any(&text.join(""));
            check_any(&text.join(" "));
        }
    }

    #[test]
    fn random_valid_expressions_round_trip() {
        fn gen(rng: &mut Rng, depth: usize) -> String {
            if depth == 0 {
                return ["x", "y", "2", "0.5", "True", "1e-07", "3"][rng.below(7)].to_string();
            }
            let a = gen(rng, depth - 1);
            let b = gen(rng, depth - 1);
            let c = gen(rng, depth - 1);
            match rng.below(15) {
                0 => format!("{a} + {b}"),
                1 => format!("{a} - {b}"),
                2 => format!("{a} * {b} / {c}"),
                3 => format!("{a} ** {b}"),
                4 => format!("-{a}"),
                5 => format!("({a})"),
                6 => format!("not {a}"),
                7 => format!("{a} < {b} <= {c}"),
                8 => format!("{a} and {b} or {c}"),
                9 => format!("{a} if {b} else {c}"),
                10 => format!("f({a}, {b})"),
                11 => format!("sum({a} for i in range({b}) if {c})"),
                12 => format!("{a} // {b} % {c}"),
                13 => format!("({a}) ** -({b})"),
                _ => format!("({a} or {b}) and ({c})"),
            }
        }
        let mut rng = Rng(0xdead_beef_cafe_f00d);
        for _ in 0..2000 {
            let depth = 1 + rng.below(4);
            let text = gen(&mut rng, depth);
            let e = parse(&text);
            // Some combinations are not valid Python (`a < not b`); those need only not panic.
            if let Ok(tree) = e {
                let printed = print::to_string(&tree);
                let again = parse(&printed)
                    .unwrap_or_else(|err| panic!("{text:?} printed as {printed:?}: {err:?}"));
                assert_eq!(print::to_string(&again), printed);
                assert_eq!(sexp(&again), sexp(&tree), "{text:?} printed as {printed:?}");
            }
        }
    }
}
