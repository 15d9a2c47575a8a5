//! Reading the text form of the IR back into a [`Program`].
//!
//! The parser accepts what [`crate::print`] prints (see there for the format), with any
//! spacing, `;` comments to the end of a line, and any numbering of values and blocks. It is
//! line-oriented: one block header or instruction per line, which keeps error positions
//! precise.
//!
//! The parser only checks syntax and names (every value defined once, every used value,
//! block and callee defined). Types and structure are the verifier's job
//! ([`crate::verify`]), so ill-typed programs can be written as text — the verifier's tests
//! do exactly that.
//!
//! Numbering: a value keeps its number from the text (`v7` is `Value(7)`), so printed text
//! round-trips exactly: `print(parse(print(p))) == print(p)`. A number the text skips
//! belongs to an instruction a pass removed from its block; the parser recreates it as a
//! dead `const` in no block, which is what the program held. (Only hand-written text with
//! absurdly sparse numbers, more than twice the values plus 1024, is renumbered densely, in
//! the order of the numbers.) Blocks are numbered by layout (the printer prints `blocks[i]`
//! as `block{i}`). Instructions have no number in the text; they are numbered in an order
//! reconstructed from their result numbers (a builder creates results in instruction
//! order), so a builder-made program without dead instructions usually parses back
//! identical, `parse(print(p)) == p`. Not always: nothing in the text tells when a block
//! holding only instructions without results (`jump block2(v5)`) was filled, and the kernel
//! runners fill such blocks out of layout order. Everything but the instruction numbers
//! (values, types, blocks, each block's instructions) always comes back identical.
//!
//! For hand-written files, float constants may also be written as decimal literals
//! (`const 2.5`, `const -0.0`, `const inf`, `const nan`); the printer always uses hex bits.
//!
//! ```
//! let text = "function @one() -> (f64) {\nblock0:\n    v0:f64 = const 1.0\n    return v0\n}\n";
//! let program = dynlib_ir::parse_program(text).unwrap();
//! assert!(dynlib_ir::print_program(&program).contains("const 0x3ff0000000000000 ; 1.0"));
//! ```

use std::collections::HashMap;

use crate::ir::*;
use crate::passes::map_block_targets;
use crate::print::is_name_char;

/// A syntax or naming error, with the 1-based line and column where it was found.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("line {line}, column {column}: {message}")]
pub struct ParseError {
    /// 1-based line.
    pub line: u32,
    /// 1-based column (in characters).
    pub column: u32,
    /// What is wrong.
    pub message: String,
}

/// Parses a program from its text form.
pub fn parse_program(text: &str) -> Result<Program, ParseError> {
    let tokens = lex(text)?;
    let mut parser = Parser { tokens, at: 0 };
    let mut program = Program::new();
    let mut calls = Vec::new();
    let mut names: HashMap<String, Pos> = HashMap::new();
    parser.skip_newlines();
    while !parser.at_eof() {
        let (func, func_calls, name_pos) = parser.function()?;
        if let Some(first) = names.get(&func.name) {
            return Err(name_pos.error(format!(
                "function @{} is defined twice (first on line {})",
                func.name, first.line
            )));
        }
        names.insert(func.name.clone(), name_pos);
        let id = program.add(func);
        calls.extend(func_calls.into_iter().map(|c| (id, c)));
        parser.skip_newlines();
    }
    // Callees are resolved once every function is known, so calls may name functions
    // defined later in the text.
    for (caller, call) in calls {
        let callee = program
            .find(&call.name)
            .ok_or_else(|| call.pos.error(format!("unknown function @{}", call.name)))?;
        if let InstData::Call { func, .. } =
            &mut program.functions[caller.index()].insts[call.inst.index()]
        {
            *func = callee;
        }
    }
    Ok(program)
}

/// A source position.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
struct Pos {
    line: u32,
    column: u32,
}

impl Pos {
    fn error(self, message: impl Into<String>) -> ParseError {
        ParseError {
            line: self.line,
            column: self.column,
            message: message.into(),
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    /// Identifiers, keywords, value and block names, types.
    Ident(String),
    /// `@name` or `@"name"`.
    Func(String),
    /// A numeric literal (`12`, `-3`, `0x3ff0000000000000`, `2.5e-3`, `-inf`).
    Num(String),
    LParen,
    RParen,
    LBrace,
    RBrace,
    Comma,
    Colon,
    Equals,
    Less,
    Greater,
    Arrow,
    Newline,
    Eof,
}

impl Tok {
    fn describe(&self) -> String {
        match self {
            Tok::Ident(s) | Tok::Num(s) => format!("`{s}`"),
            Tok::Func(s) => format!("`@{s}`"),
            Tok::LParen => "`(`".into(),
            Tok::RParen => "`)`".into(),
            Tok::LBrace => "`{`".into(),
            Tok::RBrace => "`}`".into(),
            Tok::Comma => "`,`".into(),
            Tok::Colon => "`:`".into(),
            Tok::Equals => "`=`".into(),
            Tok::Less => "`<`".into(),
            Tok::Greater => "`>`".into(),
            Tok::Arrow => "`->`".into(),
            Tok::Newline => "end of line".into(),
            Tok::Eof => "end of input".into(),
        }
    }
}

#[derive(Clone, Debug)]
struct Token {
    tok: Tok,
    pos: Pos,
}

fn lex(text: &str) -> Result<Vec<Token>, ParseError> {
    let chars: Vec<char> = text.chars().collect();
    let mut tokens = Vec::new();
    let (mut i, mut line, mut col) = (0usize, 1u32, 1u32);
    while i < chars.len() {
        let c = chars[i];
        let pos = Pos { line, column: col };
        let start = i;
        let tok = match c {
            '\n' => {
                i += 1;
                tokens.push(Token {
                    tok: Tok::Newline,
                    pos,
                });
                line += 1;
                col = 1;
                continue;
            }
            ' ' | '\t' | '\r' => {
                i += 1;
                col += 1;
                continue;
            }
            ';' => {
                while i < chars.len() && chars[i] != '\n' {
                    i += 1;
                    col += 1;
                }
                continue;
            }
            '(' => single(&mut i, Tok::LParen),
            ')' => single(&mut i, Tok::RParen),
            '{' => single(&mut i, Tok::LBrace),
            '}' => single(&mut i, Tok::RBrace),
            ',' => single(&mut i, Tok::Comma),
            ':' => single(&mut i, Tok::Colon),
            '=' => single(&mut i, Tok::Equals),
            '<' => single(&mut i, Tok::Less),
            '>' => single(&mut i, Tok::Greater),
            '-' if chars.get(i + 1) == Some(&'>') => {
                i += 2;
                Tok::Arrow
            }
            '@' => {
                i += 1;
                if chars.get(i) == Some(&'"') {
                    i += 1;
                    let mut name = String::new();
                    loop {
                        match chars.get(i) {
                            None | Some('\n') => {
                                return Err(pos.error("unterminated quoted function name"))
                            }
                            Some('"') => {
                                i += 1;
                                break;
                            }
                            Some('\\') => {
                                match chars.get(i + 1) {
                                    Some('"') => name.push('"'),
                                    Some('\\') => name.push('\\'),
                                    Some('n') => name.push('\n'),
                                    _ => {
                                        return Err(pos.error("bad escape in quoted function name"))
                                    }
                                }
                                i += 2;
                            }
                            Some(&c) => {
                                name.push(c);
                                i += 1;
                            }
                        }
                    }
                    Tok::Func(name)
                } else {
                    while i < chars.len() && is_name_char(chars[i]) {
                        i += 1;
                    }
                    if i == start + 1 {
                        return Err(pos.error("expected a function name after `@`"));
                    }
                    Tok::Func(chars[start + 1..i].iter().collect())
                }
            }
            c if c.is_ascii_digit() || c == '-' || c == '+' => {
                i += 1;
                let hex = chars.get(i) == Some(&'x') || chars.get(i + 1) == Some(&'x');
                while i < chars.len() {
                    let d = chars[i];
                    let exponent_sign =
                        (d == '+' || d == '-') && !hex && matches!(chars[i - 1], 'e' | 'E');
                    if d.is_ascii_alphanumeric() || d == '.' || d == '_' || exponent_sign {
                        i += 1;
                    } else {
                        break;
                    }
                }
                if i == start + 1 && !c.is_ascii_digit() {
                    return Err(pos.error(format!("unexpected `{c}`")));
                }
                Tok::Num(chars[start..i].iter().collect())
            }
            c if c.is_ascii_alphabetic() || c == '_' => {
                while i < chars.len() && is_name_char(chars[i]) {
                    i += 1;
                }
                Tok::Ident(chars[start..i].iter().collect())
            }
            c => return Err(pos.error(format!("unexpected character `{c}`"))),
        };
        col += (i - start) as u32;
        tokens.push(Token { tok, pos });
    }
    tokens.push(Token {
        tok: Tok::Eof,
        pos: Pos { line, column: col },
    });
    Ok(tokens)
}

fn single(i: &mut usize, tok: Tok) -> Tok {
    *i += 1;
    tok
}

/// A call whose callee name is resolved after the whole program is read.
struct PendingCall {
    inst: Inst,
    name: String,
    pos: Pos,
}

/// A definition of a value in the text, before numbering.
struct ValueDefText {
    name: u32,
    ty: Type,
    pos: Pos,
}

/// An instruction as read, with operands and targets still named by their text numbers.
struct InstText {
    data: InstData,
    results: Vec<ValueDefText>,
    callee: Option<(String, Pos)>,
}

/// A block as read.
struct BlockText {
    name: u32,
    pos: Pos,
    params: Vec<ValueDefText>,
    insts: Vec<InstText>,
}

/// The parts of one function as read.
#[derive(Default)]
struct FunctionText {
    blocks: Vec<BlockText>,
    /// Every value use: its text number and where.
    value_uses: Vec<(u32, Pos)>,
    /// Every block use.
    block_uses: Vec<(u32, Pos)>,
}

struct Parser {
    tokens: Vec<Token>,
    at: usize,
}

impl Parser {
    fn peek(&self) -> &Tok {
        &self.tokens[self.at].tok
    }

    fn peek_at(&self, n: usize) -> &Tok {
        &self.tokens[(self.at + n).min(self.tokens.len() - 1)].tok
    }

    fn pos(&self) -> Pos {
        self.tokens[self.at].pos
    }

    fn at_eof(&self) -> bool {
        *self.peek() == Tok::Eof
    }

    fn bump(&mut self) -> Token {
        let t = self.tokens[self.at].clone();
        if t.tok != Tok::Eof {
            self.at += 1;
        }
        t
    }

    fn skip_newlines(&mut self) {
        while *self.peek() == Tok::Newline {
            self.at += 1;
        }
    }

    fn unexpected(&self, what: &str) -> ParseError {
        self.pos()
            .error(format!("expected {what}, found {}", self.peek().describe()))
    }

    fn expect(&mut self, tok: Tok) -> Result<(), ParseError> {
        if *self.peek() == tok {
            self.bump();
            Ok(())
        } else {
            Err(self.unexpected(&tok.describe()))
        }
    }

    fn eat(&mut self, tok: Tok) -> bool {
        if *self.peek() == tok {
            self.bump();
            true
        } else {
            false
        }
    }

    fn expect_line_end(&mut self) -> Result<(), ParseError> {
        match self.peek() {
            Tok::Newline => {
                self.bump();
                Ok(())
            }
            Tok::Eof => Ok(()),
            _ => Err(self.unexpected("end of line")),
        }
    }

    fn ident(&mut self, what: &str) -> Result<(String, Pos), ParseError> {
        match self.peek().clone() {
            Tok::Ident(s) => {
                let pos = self.bump().pos;
                Ok((s, pos))
            }
            _ => Err(self.unexpected(what)),
        }
    }

    fn keyword(&mut self, kw: &str) -> Result<(), ParseError> {
        match self.peek() {
            Tok::Ident(s) if s == kw => {
                self.bump();
                Ok(())
            }
            _ => Err(self.unexpected(&format!("`{kw}`"))),
        }
    }

    fn ty(&mut self) -> Result<Type, ParseError> {
        let (name, pos) = self.ident("a type")?;
        Ok(match name.as_str() {
            "f64" => Type::F64,
            "f32" => Type::F32,
            "i64" => Type::I64,
            "i32" => Type::I32,
            "bool" => Type::Bool,
            "ptr" => {
                self.expect(Tok::Less)?;
                let (elem, epos) = self.ident("an element type")?;
                let elem = match elem.as_str() {
                    "f64" => Elem::F64,
                    "f32" => Elem::F32,
                    "i64" => Elem::I64,
                    "i32" => Elem::I32,
                    other => {
                        return Err(epos.error(format!(
                            "unknown element type `{other}` (expected f64, f32, i64 or i32)"
                        )))
                    }
                };
                self.expect(Tok::Greater)?;
                Type::Ptr(elem)
            }
            other => return Err(pos.error(format!("unknown type `{other}`"))),
        })
    }

    /// A comma-separated list of types up to (not including) `)`.
    fn type_list(&mut self) -> Result<Vec<Type>, ParseError> {
        let mut types = Vec::new();
        if *self.peek() == Tok::RParen {
            return Ok(types);
        }
        loop {
            types.push(self.ty()?);
            if !self.eat(Tok::Comma) {
                return Ok(types);
            }
        }
    }

    fn is_value_name(&self) -> bool {
        matches!(self.peek(), Tok::Ident(s) if numbered(s, "v").is_some())
    }

    fn is_block_name(&self) -> bool {
        matches!(self.peek(), Tok::Ident(s) if numbered(s, "block").is_some())
    }

    /// A value name (`v12`), returning its number.
    fn value_name(&mut self) -> Result<(u32, Pos), ParseError> {
        if let Tok::Ident(s) = self.peek() {
            if let Some(n) = numbered(s, "v") {
                let pos = self.bump().pos;
                return Ok((n, pos));
            }
        }
        Err(self.unexpected("a value (like `v3`)"))
    }

    fn block_name(&mut self) -> Result<(u32, Pos), ParseError> {
        if let Tok::Ident(s) = self.peek() {
            if let Some(n) = numbered(s, "block") {
                let pos = self.bump().pos;
                return Ok((n, pos));
            }
        }
        Err(self.unexpected("a block (like `block2`)"))
    }

    /// A value operand: recorded as a use, returned with its text number as index.
    fn operand(&mut self, text: &mut FunctionText) -> Result<Value, ParseError> {
        let (n, pos) = self.value_name()?;
        text.value_uses.push((n, pos));
        Ok(Value(n))
    }

    /// Operands separated by commas; `n` of them exactly.
    fn operands<const N: usize>(
        &mut self,
        text: &mut FunctionText,
    ) -> Result<[Value; N], ParseError> {
        let mut out = [Value(0); N];
        for (i, slot) in out.iter_mut().enumerate() {
            if i > 0 {
                self.expect(Tok::Comma)?;
            }
            *slot = self.operand(text)?;
        }
        Ok(out)
    }

    /// A possibly empty comma-separated operand list ending the line.
    fn operand_list_to_line_end(
        &mut self,
        text: &mut FunctionText,
    ) -> Result<Vec<Value>, ParseError> {
        let mut args = Vec::new();
        if matches!(self.peek(), Tok::Newline | Tok::Eof) {
            return Ok(args);
        }
        loop {
            args.push(self.operand(text)?);
            if !self.eat(Tok::Comma) {
                return Ok(args);
            }
        }
    }

    /// A parenthesised operand list (`(v1, v2)`, `()`).
    fn paren_operands(&mut self, text: &mut FunctionText) -> Result<Vec<Value>, ParseError> {
        self.expect(Tok::LParen)?;
        let mut args = Vec::new();
        if self.eat(Tok::RParen) {
            return Ok(args);
        }
        loop {
            args.push(self.operand(text)?);
            if !self.eat(Tok::Comma) {
                self.expect(Tok::RParen)?;
                return Ok(args);
            }
        }
    }

    fn block_call(&mut self, text: &mut FunctionText) -> Result<BlockCall, ParseError> {
        let (n, pos) = self.block_name()?;
        text.block_uses.push((n, pos));
        let args = if *self.peek() == Tok::LParen {
            self.paren_operands(text)?
        } else {
            Vec::new()
        };
        Ok(BlockCall {
            block: Block(n),
            args,
        })
    }

    /// `function @name(types) -> (types) { ... }`
    fn function(&mut self) -> Result<(Function, Vec<PendingCall>, Pos), ParseError> {
        self.keyword("function")?;
        let name_pos = self.pos();
        let name = match self.bump().tok {
            Tok::Func(name) => name,
            _ => return Err(name_pos.error("expected a function name like `@rhs`")),
        };
        self.expect(Tok::LParen)?;
        let params = self.type_list()?;
        self.expect(Tok::RParen)?;
        self.expect(Tok::Arrow)?;
        let returns = if self.eat(Tok::LParen) {
            let r = self.type_list()?;
            self.expect(Tok::RParen)?;
            r
        } else {
            vec![self.ty()?]
        };
        self.expect(Tok::LBrace)?;
        self.expect_line_end()?;
        let mut text = FunctionText::default();
        loop {
            self.skip_newlines();
            match self.peek() {
                Tok::RBrace => {
                    self.bump();
                    self.expect_line_end()?;
                    break;
                }
                Tok::Eof => return Err(self.unexpected("`}` closing the function")),
                _ if self.is_block_name()
                    && matches!(self.peek_at(1), Tok::Colon | Tok::LParen) =>
                {
                    self.block_header(&mut text)?;
                }
                _ => {
                    let pos = self.pos();
                    let inst = self.inst(&mut text)?;
                    match text.blocks.last_mut() {
                        Some(b) => b.insts.push(inst),
                        None => return Err(pos.error("instruction before the first block header")),
                    }
                }
            }
        }
        let sig = Signature { params, returns };
        let (func, calls) = build_function(name, sig, text)?;
        Ok((func, calls, name_pos))
    }

    /// `block3(v4: f64, v5: i64):` or `block3:`
    fn block_header(&mut self, text: &mut FunctionText) -> Result<(), ParseError> {
        let (name, pos) = self.block_name()?;
        let mut params = Vec::new();
        if self.eat(Tok::LParen) {
            loop {
                let (n, vpos) = self.value_name()?;
                self.expect(Tok::Colon)?;
                let ty = self.ty()?;
                params.push(ValueDefText {
                    name: n,
                    ty,
                    pos: vpos,
                });
                if !self.eat(Tok::Comma) {
                    break;
                }
            }
            self.expect(Tok::RParen)?;
        }
        self.expect(Tok::Colon)?;
        self.expect_line_end()?;
        text.blocks.push(BlockText {
            name,
            pos,
            params,
            insts: Vec::new(),
        });
        Ok(())
    }

    /// One instruction line: `[results =] opcode operands`.
    fn inst(&mut self, text: &mut FunctionText) -> Result<InstText, ParseError> {
        let mut results = Vec::new();
        if self.is_value_name() {
            loop {
                let (n, pos) = self.value_name()?;
                self.expect(Tok::Colon)?;
                let ty = self.ty()?;
                results.push(ValueDefText { name: n, ty, pos });
                if !self.eat(Tok::Comma) {
                    break;
                }
            }
            self.expect(Tok::Equals)?;
        }
        let (opcode, op_pos) = self.ident("an opcode")?;
        let mut callee = None;
        let data = match opcode.as_str() {
            "const" => {
                let ty = match results.as_slice() {
                    [r] => Some(r.ty),
                    _ => None,
                };
                let bits = self.const_bits(ty)?;
                InstData::Const { bits }
            }
            "neg" | "not" => {
                let op = if opcode == "neg" {
                    UnaryOp::Neg
                } else {
                    UnaryOp::Not
                };
                InstData::Unary {
                    op,
                    arg: self.operand(text)?,
                }
            }
            "add" | "sub" | "mul" | "div" | "floordiv" | "mod" | "and" | "or" => {
                let op = match opcode.as_str() {
                    "add" => BinaryOp::Add,
                    "sub" => BinaryOp::Sub,
                    "mul" => BinaryOp::Mul,
                    "div" => BinaryOp::Div,
                    "floordiv" => BinaryOp::FloorDiv,
                    "mod" => BinaryOp::Mod,
                    "and" => BinaryOp::And,
                    _ => BinaryOp::Or,
                };
                InstData::Binary {
                    op,
                    args: self.operands::<2>(text)?,
                }
            }
            "cmp" => {
                let (cond, pos) = self.ident("a condition (eq, ne, lt, le, gt, ge)")?;
                let op = match cond.as_str() {
                    "eq" => CmpOp::Eq,
                    "ne" => CmpOp::Ne,
                    "lt" => CmpOp::Lt,
                    "le" => CmpOp::Le,
                    "gt" => CmpOp::Gt,
                    "ge" => CmpOp::Ge,
                    other => {
                        return Err(pos.error(format!(
                            "unknown condition `{other}` (expected eq, ne, lt, le, gt or ge)"
                        )))
                    }
                };
                InstData::Cmp {
                    op,
                    args: self.operands::<2>(text)?,
                }
            }
            "select" => InstData::Select {
                args: self.operands::<3>(text)?,
            },
            "convert" => InstData::Convert {
                arg: self.operand(text)?,
            },
            "math" => {
                let (name, pos) = self.ident("a math function name")?;
                let func = MathFn::from_name(&name)
                    .ok_or_else(|| pos.error(format!("unknown math function `{name}`")))?;
                InstData::Math {
                    func,
                    args: self.operand_list_to_line_end(text)?,
                }
            }
            "load" => {
                let [ptr, index] = self.operands::<2>(text)?;
                InstData::Load { ptr, index }
            }
            "store" => {
                let [ptr, index, value] = self.operands::<3>(text)?;
                InstData::Store { ptr, index, value }
            }
            "call" => {
                let pos = self.pos();
                let name = match self.bump().tok {
                    Tok::Func(name) => name,
                    _ => return Err(pos.error("expected a callee like `@rhs`")),
                };
                callee = Some((name, pos));
                InstData::Call {
                    // Resolved by `parse_program` once every function name is known.
                    func: FuncId(u32::MAX),
                    args: self.paren_operands(text)?,
                }
            }
            "jump" => InstData::Jump {
                dest: self.block_call(text)?,
            },
            "brif" => {
                let cond = self.operand(text)?;
                self.expect(Tok::Comma)?;
                let then_dest = self.block_call(text)?;
                self.expect(Tok::Comma)?;
                let else_dest = self.block_call(text)?;
                InstData::Brif {
                    cond,
                    then_dest,
                    else_dest,
                }
            }
            "return" => InstData::Return {
                args: self.operand_list_to_line_end(text)?,
            },
            other => return Err(op_pos.error(format!("unknown opcode `{other}`"))),
        };
        self.expect_line_end()?;
        Ok(InstText {
            data,
            results,
            callee,
        })
    }

    /// The operand of `const`, as bits of the result type `ty`.
    fn const_bits(&mut self, ty: Option<Type>) -> Result<u64, ParseError> {
        let pos = self.pos();
        let text = match self.bump().tok {
            Tok::Num(s) | Tok::Ident(s) => s,
            other => {
                return Err(pos.error(format!("expected a constant, found {}", other.describe())))
            }
        };
        let bad = |why: &str| pos.error(format!("bad constant `{text}`: {why}"));
        if text == "true" || text == "false" {
            return match ty {
                Some(Type::Bool) => Ok((text == "true") as u64),
                _ => Err(bad("`true` and `false` are bool constants")),
            };
        }
        let (negative, digits) = match text.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, text.strip_prefix('+').unwrap_or(&text)),
        };
        if let Some(hex) = digits
            .strip_prefix("0x")
            .or_else(|| digits.strip_prefix("0X"))
        {
            // Hex is the raw bit pattern, whatever the type.
            let bits =
                u64::from_str_radix(hex, 16).map_err(|_| bad("expected at most 16 hex digits"))?;
            return Ok(if negative { bits.wrapping_neg() } else { bits });
        }
        match ty {
            Some(Type::F64) => text
                .parse::<f64>()
                .map(f64::to_bits)
                .map_err(|_| bad("not a float")),
            // Parsed as f32 directly: going through f64 could round twice.
            Some(Type::F32) => text
                .parse::<f32>()
                .map(|x| x.to_bits() as u64)
                .map_err(|_| bad("not a float")),
            _ => text
                .parse::<i64>()
                .map(|n| n as u64)
                .map_err(|_| bad("not a 64-bit integer")),
        }
    }
}

/// The number in `v12` / `block3` (prefix then decimal digits only, no leading `+`).
fn numbered(s: &str, prefix: &str) -> Option<u32> {
    let digits = s.strip_prefix(prefix)?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// Numbers the entities of a parsed function and builds it.
fn build_function(
    name: String,
    sig: Signature,
    text: FunctionText,
) -> Result<(Function, Vec<PendingCall>), ParseError> {
    // Blocks: numbered by layout.
    let mut block_index: HashMap<u32, u32> = HashMap::new();
    for (i, b) in text.blocks.iter().enumerate() {
        if let Some(&first) = block_index.get(&b.name) {
            return Err(b.pos.error(format!(
                "block{} is defined twice (first on line {})",
                b.name, text.blocks[first as usize].pos.line
            )));
        }
        block_index.insert(b.name, i as u32);
    }
    for &(n, pos) in &text.block_uses {
        if !block_index.contains_key(&n) {
            return Err(pos.error(format!("undefined block block{n}")));
        }
    }

    // Values: numbered densely in the order of their text numbers.
    let mut defs: HashMap<u32, Pos> = HashMap::new();
    let all_defs = text.blocks.iter().flat_map(|b| {
        b.params
            .iter()
            .chain(b.insts.iter().flat_map(|i| i.results.iter()))
    });
    for d in all_defs {
        if let Some(first) = defs.get(&d.name) {
            return Err(d.pos.error(format!(
                "value v{} is defined twice (first on line {})",
                d.name, first.line
            )));
        }
        defs.insert(d.name, d.pos);
    }
    for &(n, pos) in &text.value_uses {
        if !defs.contains_key(&n) {
            return Err(pos.error(format!("undefined value v{n}")));
        }
    }
    let mut names: Vec<u32> = defs.keys().copied().collect();
    names.sort_unstable();
    let max = names.last().map_or(0, |&n| n as usize + 1);
    // Keep the text's numbers (so printed text round-trips exactly, gaps included) unless
    // the numbering is so sparse that keeping it would mostly allocate gaps.
    let exact = max <= 2 * names.len() + 1024;
    let value_index: HashMap<u32, u32> = names
        .iter()
        .enumerate()
        .map(|(i, &n)| (n, if exact { n } else { i as u32 }))
        .collect();
    let value_count = if exact { max } else { names.len() };

    let order = inst_order(&text.blocks, &value_index);
    let mut inst_of = vec![Vec::new(); text.blocks.len()];
    for (id, &(b, i)) in order.iter().enumerate() {
        inst_of[b].push((i, Inst(id as u32)));
    }
    for list in &mut inst_of {
        list.sort_unstable();
    }

    let mut func = Function::new(name, sig);
    let placeholder = ValueData {
        ty: Type::Bool,
        def: ValueDef::Param(Block(0), 0),
    };
    func.values = vec![placeholder; value_count];
    func.insts = vec![InstData::Return { args: Vec::new() }; order.len()];
    func.results = vec![Vec::new(); order.len()];
    let mut calls = Vec::new();
    for (b, (block, insts)) in text.blocks.into_iter().zip(inst_of).enumerate() {
        let block_id = Block(b as u32);
        let mut data = BlockData::default();
        for (n, p) in block.params.iter().enumerate() {
            let v = Value(value_index[&p.name]);
            func.values[v.index()] = ValueData {
                ty: p.ty,
                def: ValueDef::Param(block_id, n as u32),
            };
            data.params.push(v);
        }
        for (inst_text, (_, id)) in block.insts.into_iter().zip(insts) {
            let mut inst_data = inst_text.data;
            inst_data.map_operands(|v| Value(value_index[&v.0]));
            map_block_targets(&mut inst_data, |t| Block(block_index[&t.0]));
            let mut results = Vec::new();
            for (n, r) in inst_text.results.iter().enumerate() {
                let v = Value(value_index[&r.name]);
                func.values[v.index()] = ValueData {
                    ty: r.ty,
                    def: ValueDef::Result(id, n as u32),
                };
                results.push(v);
            }
            if let Some((name, pos)) = inst_text.callee {
                calls.push(PendingCall {
                    inst: id,
                    name,
                    pos,
                });
            }
            func.insts[id.index()] = inst_data;
            func.results[id.index()] = results;
            data.insts.push(id);
        }
        func.blocks.push(data);
    }
    // A number the text skips is a value whose instruction was removed from its block (a
    // pass left it behind): recreate one, as a dead `const` in no block.
    let mut defined = vec![false; value_count];
    for &i in value_index.values() {
        defined[i as usize] = true;
    }
    for (n, _) in defined.iter().enumerate().filter(|(_, &d)| !d) {
        let inst = Inst(func.insts.len() as u32);
        func.insts.push(InstData::Const { bits: 0 });
        func.results.push(vec![Value(n as u32)]);
        func.values[n] = ValueData {
            ty: Type::Bool,
            def: ValueDef::Result(inst, 0),
        };
    }
    Ok((func, calls))
}

/// The order in which a builder most likely created the instructions, as (block, position)
/// pairs.
///
/// A builder appends to one block at a time and creates results in instruction order, so:
/// within a block, instructions keep their order; across blocks, instructions with results
/// are ordered by their first result's number; an instruction without results (store,
/// terminator, void call) follows the one before it in its block. When the text came from
/// a builder this usually recovers the original numbering (not for a block without numbered
/// instructions that was filled out of layout order); otherwise it is simply one valid order.
fn inst_order(blocks: &[BlockText], value_index: &HashMap<u32, u32>) -> Vec<(usize, usize)> {
    let key = |b: usize, i: usize| -> Option<u32> {
        blocks[b].insts[i]
            .results
            .first()
            .map(|r| value_index[&r.name])
    };
    let total: usize = blocks.iter().map(|b| b.insts.len()).sum();
    let mut cursor = vec![0usize; blocks.len()];
    let mut order = Vec::with_capacity(total);
    let mut current: Option<usize> = None;
    while order.len() < total {
        // Stay in the current block while its next instructions have no results.
        if let Some(b) = current {
            if cursor[b] < blocks[b].insts.len() && key(b, cursor[b]).is_none() {
                order.push((b, cursor[b]));
                cursor[b] += 1;
                continue;
            }
        }
        // Otherwise continue with the block whose next numbered instruction comes first. A
        // block with no numbered instruction left (`jump block3`) is placed as if it were
        // filled just before the next block in the layout that has one: builders mostly
        // fill blocks in layout order.
        let own_key = |b: usize| -> Option<u32> {
            (cursor[b]..blocks[b].insts.len()).find_map(|i| key(b, i))
        };
        let next_key = |b: usize| -> u32 {
            (b..blocks.len())
                .filter(|&c| c == b || cursor[c] < blocks[c].insts.len())
                .find_map(own_key)
                .unwrap_or(u32::MAX)
        };
        let b = (0..blocks.len())
            .filter(|&b| cursor[b] < blocks[b].insts.len())
            .min_by_key(|&b| (next_key(b), b))
            .expect("instructions remain");
        loop {
            let i = cursor[b];
            order.push((b, i));
            cursor[b] += 1;
            if key(b, i).is_some() || cursor[b] == blocks[b].insts.len() {
                break;
            }
        }
        current = Some(b);
    }
    order
}
