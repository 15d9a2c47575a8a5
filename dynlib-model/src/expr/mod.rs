//! The expression language: lexer, parser, syntax tree and printer (dsl.md §16).
//!
//! Expressions follow Python's grammar and semantics for the subset the model language
//! supports: `**` and `^` are both power, `//` and `%` are floored, `and`/`or` return an
//! operand, comparisons chain. Valid Python outside that subset (strings, subscripts,
//! lambdas, bitwise operators, ...) is rejected with a [`DiagKind::Unsupported`] error rather
//! than accepted and misbehaving later.

pub mod ast;
mod lexer;
mod parser;
pub mod print;

/// Binding levels, lowest first (dsl.md §16.1a): the one table the parser climbs and the
/// printer parenthesises by, so printed text always parses back to the same tree.
mod prec {
    pub const TERNARY: u8 = 1;
    pub const OR: u8 = 2;
    pub const AND: u8 = 3;
    pub const NOT: u8 = 4;
    pub const COMPARE: u8 = 5;
    pub const SUM: u8 = 6;
    pub const TERM: u8 = 7;
    pub const UNARY: u8 = 8;
    /// Power (handled by the parser's `prefix`).
    pub const POWER: u8 = 9;
    /// Literals, names, calls and generators.
    pub const ATOM: u8 = 10;
}

pub use ast::*;

use crate::diag::DiagKind;

/// Why an expression did not parse, with the byte range of the offending text.
#[derive(Clone, Debug, PartialEq)]
pub struct ParseError {
    /// [`DiagKind::Syntax`] or [`DiagKind::Unsupported`].
    pub kind: DiagKind,
    /// What is wrong, in one sentence.
    pub message: String,
    /// Where, as a byte range into the expression text.
    pub span: TextRange,
}

/// Parses one expression. Newlines are allowed only inside brackets; a `#` starts a comment
/// that runs to the end of the line.
pub fn parse(text: &str) -> Result<Expr, ParseError> {
    parser::parse(text)
}
