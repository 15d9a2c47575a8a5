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
