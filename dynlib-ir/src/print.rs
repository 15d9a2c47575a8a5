//! The one text form of the IR.
//!
//! Printed IR is what users see (exported sources, `--emit-ir`, verifier messages) and what
//! the cache key digests ([`crate::digest`]), so the printer is deterministic and exact:
//! [`crate::parse::parse_program`] reads back every program this module prints, bit for bit.
//!
//! ```text
//! function @scale(f64, ptr<f64>) -> (f64) {
//! block0(v0: f64, v1: ptr<f64>):
//!     v2:i64 = const 0
//!     v3:f64 = load v1, v2
//!     v4:f64 = const 0x4000000000000000 ; 2.0
//!     v5:f64 = mul v3, v4
//!     v6:bool = cmp lt v5, v0
//!     brif v6, block1(v5), block1(v0)
//! block1(v7: f64):
//!     return v7
//! }
//! ```
//!
//! Decisions, and why:
//! - Every result carries its type (`v5:f64 = ...`), so the parser never infers types and a
//!   reader never has to look up an operand's definition to know what an instruction does.
//! - Float constants print their exact bit pattern in hex (`0x{:016x}` for f64, `0x{:08x}`
//!   for f32) and the decimal value only as a comment: decimal text would lose NaN payloads
//!   and invites "nearly equal" constants. Integers print in decimal, bools as `true`/`false`.
//! - Blocks print in layout order under their index (`block3` is `blocks[3]`); parameters
//!   only when present. Instructions that are in no block (removed by a pass) are not printed.
//! - Return types are always parenthesised (`-> ()`, `-> (f64)`, `-> (i32, f64)`).
//! - Calls name the callee (`call @rhs(...)`). A [`Function`] printed on its own has no
//!   program to look names up in, so its calls print the callee id instead (`@fn2`); print
//!   the [`Program`] to get names.
//! - Function names that are not plain identifiers (`[A-Za-z0-9_.$]+`) are quoted:
//!   `@"my name"`, with `\"` and `\\` escapes.
//! - Functions are separated by one blank line; every line ends with `\n`.

use std::fmt::{self, Write};

use crate::ir::*;

/// Prints a whole program (the same text as its `Display`).
pub fn print_program(program: &Program) -> String {
    program.to_string()
}

/// Prints one function; calls name their callees when `program` is given, and print the
/// callee id (`@fn2`) otherwise.
pub fn print_function(func: &Function, program: Option<&Program>) -> String {
    let mut s = String::new();
    write_function(&mut s, func, program).expect("writing to a String cannot fail");
    s
}

/// Prints one instruction on one line, without indentation or line end (for error messages
/// of the verifier and the backends).
pub fn print_inst(func: &Function, inst: Inst, program: Option<&Program>) -> String {
    let mut s = String::new();
    write_inst(&mut s, func, inst, program).expect("writing to a String cannot fail");
    s
}

impl fmt::Display for Program {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, func) in self.functions.iter().enumerate() {
            if i > 0 {
                f.write_char('\n')?;
            }
            write_function(f, func, Some(self))?;
        }
        Ok(())
    }
}

impl fmt::Display for Function {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_function(f, self, None)
    }
}

/// True when `name` can be printed after `@` without quotes (the parser's identifier set).
pub(crate) fn is_plain_name(name: &str) -> bool {
    !name.is_empty() && name.chars().all(is_name_char)
}

/// Characters of an unquoted function name (shared with the parser's lexer).
pub(crate) fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '.' || c == '$'
}

fn write_func_name(w: &mut dyn Write, name: &str) -> fmt::Result {
    if is_plain_name(name) {
        return write!(w, "@{name}");
    }
    w.write_str("@\"")?;
    for c in name.chars() {
        match c {
            '"' => w.write_str("\\\"")?,
            '\\' => w.write_str("\\\\")?,
            '\n' => w.write_str("\\n")?,
            c => w.write_char(c)?,
        }
    }
    w.write_char('"')
}

fn write_type_list(w: &mut dyn Write, types: &[Type]) -> fmt::Result {
    for (i, ty) in types.iter().enumerate() {
        if i > 0 {
            w.write_str(", ")?;
        }
        write!(w, "{ty}")?;
    }
    Ok(())
}

/// Writes the value's type, or `?` when the value does not exist (the printer is used on
/// broken functions too, to show them in verifier messages).
fn write_value_type(w: &mut dyn Write, func: &Function, v: Value) -> fmt::Result {
    match func.values.get(v.index()) {
        Some(data) => write!(w, "{}", data.ty),
        None => w.write_char('?'),
    }
}

fn write_value_list(w: &mut dyn Write, values: &[Value]) -> fmt::Result {
    for (i, v) in values.iter().enumerate() {
        if i > 0 {
            w.write_str(", ")?;
        }
        write!(w, "{v}")?;
    }
    Ok(())
}

fn write_block_call(w: &mut dyn Write, dest: &BlockCall) -> fmt::Result {
    write!(w, "{}", dest.block)?;
    if !dest.args.is_empty() {
        w.write_char('(')?;
        write_value_list(w, &dest.args)?;
        w.write_char(')')?;
    }
    Ok(())
}

/// Writes a function in the text format (see the module documentation).
pub fn write_function(
    w: &mut dyn Write,
    func: &Function,
    program: Option<&Program>,
) -> fmt::Result {
    w.write_str("function ")?;
    write_func_name(w, &func.name)?;
    w.write_char('(')?;
    write_type_list(w, &func.sig.params)?;
    w.write_str(") -> (")?;
    write_type_list(w, &func.sig.returns)?;
    w.write_str(") {\n")?;
    for (b, data) in func.blocks.iter().enumerate() {
        write!(w, "{}", Block(b as u32))?;
        if !data.params.is_empty() {
            w.write_char('(')?;
            for (i, &p) in data.params.iter().enumerate() {
                if i > 0 {
                    w.write_str(", ")?;
                }
                write!(w, "{p}: ")?;
                write_value_type(w, func, p)?;
            }
            w.write_char(')')?;
        }
        w.write_str(":\n")?;
        for &inst in &data.insts {
            w.write_str("    ")?;
            write_inst(w, func, inst, program)?;
            w.write_char('\n')?;
        }
    }
    w.write_str("}\n")
}

/// The mnemonic of a binary operator.
pub(crate) fn binary_name(op: BinaryOp) -> &'static str {
    match op {
        BinaryOp::Add => "add",
        BinaryOp::Sub => "sub",
        BinaryOp::Mul => "mul",
        BinaryOp::Div => "div",
        BinaryOp::FloorDiv => "floordiv",
        BinaryOp::Mod => "mod",
        BinaryOp::And => "and",
        BinaryOp::Or => "or",
    }
}

/// The mnemonic of a unary operator.
pub(crate) fn unary_name(op: UnaryOp) -> &'static str {
    match op {
        UnaryOp::Neg => "neg",
        UnaryOp::Not => "not",
    }
}

/// The condition name of a comparison (`cmp lt ...`).
pub(crate) fn cmp_name(op: CmpOp) -> &'static str {
    match op {
        CmpOp::Eq => "eq",
        CmpOp::Ne => "ne",
        CmpOp::Lt => "lt",
        CmpOp::Le => "le",
        CmpOp::Gt => "gt",
        CmpOp::Ge => "ge",
    }
}

/// Writes a constant's operand text for a result of type `ty` (`None`: the instruction has
/// no single result, which only broken functions have; print the raw bits).
fn write_const(w: &mut dyn Write, ty: Option<Type>, bits: u64) -> fmt::Result {
    match ty {
        Some(Type::F64) => write!(w, "0x{bits:016x} ; {:?}", f64::from_bits(bits)),
        // An f32 with high bits set is invalid (the verifier says so); print them all anyway
        // so the text shows what is there.
        Some(Type::F32) => write!(w, "0x{bits:08x} ; {:?}", f32::from_bits(bits as u32)),
        Some(Type::I64 | Type::I32) => write!(w, "{}", bits as i64),
        Some(Type::Bool) if bits == 0 => w.write_str("false"),
        Some(Type::Bool) if bits == 1 => w.write_str("true"),
        Some(Type::Bool | Type::Ptr(_)) => write!(w, "{}", bits as i64),
        None => write!(w, "0x{bits:x}"),
    }
}

/// Writes one instruction (`v5:f64 = add v3, v4`) without indentation or line end.
pub fn write_inst(
    w: &mut dyn Write,
    func: &Function,
    inst: Inst,
    program: Option<&Program>,
) -> fmt::Result {
    let Some(data) = func.insts.get(inst.index()) else {
        return write!(w, "<missing {inst}>");
    };
    let results = func
        .results
        .get(inst.index())
        .map(Vec::as_slice)
        .unwrap_or(&[]);
    if !results.is_empty() {
        for (i, &r) in results.iter().enumerate() {
            if i > 0 {
                w.write_str(", ")?;
            }
            write!(w, "{r}:")?;
            write_value_type(w, func, r)?;
        }
        w.write_str(" = ")?;
    }
    match data {
        InstData::Const { bits } => {
            w.write_str("const ")?;
            let ty = match results {
                [r] => func.values.get(r.index()).map(|d| d.ty),
                _ => None,
            };
            write_const(w, ty, *bits)
        }
        InstData::Unary { op, arg } => write!(w, "{} {arg}", unary_name(*op)),
        InstData::Binary { op, args } => {
            write!(w, "{} {}, {}", binary_name(*op), args[0], args[1])
        }
        InstData::Cmp { op, args } => write!(w, "cmp {} {}, {}", cmp_name(*op), args[0], args[1]),
        InstData::Select { args } => write!(w, "select {}, {}, {}", args[0], args[1], args[2]),
        InstData::Convert { arg } => write!(w, "convert {arg}"),
        InstData::Math { func: m, args } => {
            write!(w, "math {}", m.name())?;
            if !args.is_empty() {
                w.write_char(' ')?;
                write_value_list(w, args)?;
            }
            Ok(())
        }
        InstData::Load { ptr, index } => write!(w, "load {ptr}, {index}"),
        InstData::Store { ptr, index, value } => write!(w, "store {ptr}, {index}, {value}"),
        InstData::Call { func: callee, args } => {
            w.write_str("call ")?;
            match program.and_then(|p| p.functions.get(callee.index())) {
                Some(target) => write_func_name(w, &target.name)?,
                None => write!(w, "@{callee}")?,
            }
            w.write_char('(')?;
            write_value_list(w, args)?;
            w.write_char(')')
        }
        InstData::Jump { dest } => {
            w.write_str("jump ")?;
            write_block_call(w, dest)
        }
        InstData::Brif {
            cond,
            then_dest,
            else_dest,
        } => {
            write!(w, "brif {cond}, ")?;
            write_block_call(w, then_dest)?;
            w.write_str(", ")?;
            write_block_call(w, else_dest)
        }
        InstData::Return { args } => {
            w.write_str("return")?;
            if !args.is_empty() {
                w.write_char(' ')?;
                write_value_list(w, args)?;
            }
            Ok(())
        }
    }
}
