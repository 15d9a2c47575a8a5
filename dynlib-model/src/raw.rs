//! The structural parse: TOML document → [`RawModel`], the model's normal form.
//!
//! This stage checks table shapes and value types, applies defaults and evaluates numeric
//! values (dsl.md §0 step 3). It does not look inside expressions: those stay [`SrcStr`]s,
//! resolved later by [`crate::check`], after mods are applied (a base model may call a
//! function that only a mod adds). Every problem is recorded and parsing carries on, so one
//! pass reports all of them.

use std::ops::Range;

use toml_edit::{Item, Key, TableLike, Value};

use crate::diag::{did_you_mean, misspelling_of, DiagKind, Diagnostic};
use crate::expr::Number;
use crate::numeric;
use crate::source::{SourceId, Span, Spanned, SrcStr};

/// Kind of model.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum ModelKind {
    /// An ordinary differential equation: equations give dx/dt.
    Ode,
    /// A discrete map: equations give x_{n+1}.
    Map,
}

impl ModelKind {
    /// `"ode"` or `"map"`.
    pub fn as_str(self) -> &'static str {
        match self {
            ModelKind::Ode => "ode",
            ModelKind::Map => "map",
        }
    }
}

/// The numeric type of states, params and aux values.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum Dtype {
    /// 64-bit float (the default).
    Float64,
    /// 32-bit float.
    Float32,
    /// 64-bit signed integer (maps only).
    Int64,
    /// 32-bit signed integer (maps only).
    Int32,
}

impl Dtype {
    /// The canonical name (`float64`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Dtype::Float64 => "float64",
            Dtype::Float32 => "float32",
            Dtype::Int64 => "int64",
            Dtype::Int32 => "int32",
        }
    }

    /// True for the float types.
    pub fn is_float(self) -> bool {
        matches!(self, Dtype::Float64 | Dtype::Float32)
    }

    /// Parses a dtype name or alias (`float`, `double` → float64; `single` → float32).
    pub fn parse(name: &str) -> Option<Dtype> {
        Some(match name {
            "float64" | "float" | "double" | "f64" => Dtype::Float64,
            "float32" | "single" | "f32" => Dtype::Float32,
            "int64" | "i64" => Dtype::Int64,
            "int32" | "i32" => Dtype::Int32,
            _ => return None,
        })
    }
}

/// Event phase (dsl.md §10.1).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum Phase {
    /// Before each step, on (t_n, y_n).
    Start,
    /// After the stepper proposes (t_{n+1}, y_{n+1}), before the commit (the default).
    End,
    /// Both of the above.
    Both,
}

impl Phase {
    /// `"start"`, `"end"` or `"both"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Start => "start",
            Phase::End => "end",
            Phase::Both => "both",
        }
    }
}

/// A named numeric value (a state, param or constant).
#[derive(Clone, Debug, PartialEq)]
pub struct RawNumber {
    /// The name, where the key is written.
    pub name: Spanned<String>,
    /// The evaluated value.
    pub value: Number,
}

/// Equations in both forms, as written.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RawEquations {
    /// `[equations.rhs]`: target → expression.
    pub rhs: Vec<(Spanned<String>, SrcStr)>,
    /// `[equations].expr`: the block, one `target = expr` per line.
    pub block: Option<SrcStr>,
}

/// `[equations.jacobian].expr`.
#[derive(Clone, Debug, PartialEq)]
pub struct RawJacobian {
    /// Rows of entries; numbers were turned into their text.
    pub rows: Vec<Vec<SrcStr>>,
    /// Where `expr` is written.
    pub span: Option<Span>,
}

/// An `[aux]` entry.
#[derive(Clone, Debug, PartialEq)]
pub struct RawAux {
    /// The aux name.
    pub name: Spanned<String>,
    /// Its expression.
    pub expr: SrcStr,
}

/// A `[functions.NAME]` entry.
#[derive(Clone, Debug, PartialEq)]
pub struct RawFunction {
    /// The function name.
    pub name: Spanned<String>,
    /// Argument names (checked to be distinct identifiers).
    pub args: Vec<Spanned<String>>,
    /// The body.
    pub expr: SrcStr,
}

/// An event action as written.
#[derive(Clone, Debug, PartialEq)]
pub enum RawAction {
    /// No action.
    None,
    /// `action.x = "expr"` entries, in order.
    Keyed(Vec<(Spanned<String>, SrcStr)>),
    /// `action = "x = expr\n y = expr"`.
    Block(SrcStr),
}

/// An `[events.NAME]` entry.
#[derive(Clone, Debug, PartialEq)]
pub struct RawEvent {
    /// The event name.
    pub name: Spanned<String>,
    /// When it is evaluated.
    pub phase: Phase,
    /// The condition.
    pub cond: SrcStr,
    /// What it does.
    pub action: RawAction,
    /// Signals logged when it fires.
    pub log: Vec<Spanned<String>>,
    /// Tags as written (normalised by the checker).
    pub tags: Vec<Spanned<String>>,
}

/// A `[sim]` value of a key the model language does not know: a stepper default.
#[derive(Clone, Debug, PartialEq)]
pub enum SimValue {
    /// A TOML integer.
    Int(i64),
    /// A TOML float.
    Float(f64),
    /// A TOML boolean.
    Bool(bool),
    /// A TOML string.
    Str(String),
}

impl std::fmt::Display for SimValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SimValue::Int(i) => write!(f, "{i}"),
            SimValue::Float(x) => write!(f, "{}", crate::expr::print::float_repr(*x)),
            SimValue::Bool(b) => write!(f, "{b}"),
            SimValue::Str(s) => write!(f, "{s:?}"),
        }
    }
}

/// The early-exit condition of `[sim]`.
#[derive(Clone, Debug, PartialEq)]
pub struct RawStop {
    /// The condition.
    pub cond: SrcStr,
    /// `[sim].stop` or `[sim.stop].cond`, for messages.
    pub location: &'static str,
}

/// `[sim]`: run defaults; absent keys are `None` and take the documented defaults.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RawSim {
    /// Initial time.
    pub t0: Option<f64>,
    /// Default horizon.
    pub t_end: Option<f64>,
    /// Step (ODE) or label spacing (map).
    pub dt: Option<f64>,
    /// Stepper name.
    pub stepper: Option<Spanned<String>>,
    /// Whether runs record by default.
    pub record: Option<bool>,
    /// Absolute tolerance.
    pub atol: Option<f64>,
    /// Relative tolerance.
    pub rtol: Option<f64>,
    /// Step cap (ODE) or default iteration count (map).
    pub max_steps: Option<u64>,
    /// Early-exit condition.
    pub stop: Option<RawStop>,
    /// Every other key: stepper configuration defaults, in order.
    pub extras: Vec<(Spanned<String>, SimValue)>,
    /// Where each key's value was written (the last writer of a key: the model or a mod),
    /// for problems found after parsing (`t_end` before `t0`).
    pub spans: Vec<(String, Option<Span>)>,
}

impl RawSim {
    /// Where `key`'s value was written.
    pub fn span_of(&self, key: &str) -> Option<Span> {
        self.spans
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .and_then(|(_, s)| s.clone())
    }
}

/// A `[presets.NAME]` entry.
#[derive(Clone, Debug, PartialEq)]
pub struct RawPreset {
    /// The preset name.
    pub name: Spanned<String>,
    /// Param values.
    pub params: Vec<RawNumber>,
    /// State values.
    pub states: Vec<RawNumber>,
}

/// The model's normal form: every table parsed and typed, expressions still text.
#[derive(Clone, Debug, PartialEq)]
pub struct RawModel {
    /// `[model].type`.
    pub kind: ModelKind,
    /// `[model].name`.
    pub name: Option<String>,
    /// `[model].dtype`, after aliases.
    pub dtype: Dtype,
    /// `[constants]`, evaluated, in order.
    pub constants: Vec<RawNumber>,
    /// `[states]` with initial values, in order.
    pub states: Vec<RawNumber>,
    /// `[params]` with default values, in order.
    pub params: Vec<RawNumber>,
    /// Forward equations.
    pub equations: RawEquations,
    /// `[equations.inverse]` (maps only).
    pub inverse: Option<RawEquations>,
    /// `[equations.jacobian]`.
    pub jacobian: Option<RawJacobian>,
    /// `[aux]`, in declaration order.
    pub aux: Vec<RawAux>,
    /// `[functions]`, in declaration order.
    pub functions: Vec<RawFunction>,
    /// `[events]`, in declaration order (the order is their priority).
    pub events: Vec<RawEvent>,
    /// `[sim]`.
    pub sim: RawSim,
    /// `[presets]`, in order.
    pub presets: Vec<RawPreset>,
}

/// Parsing context: the source being read and the problems found so far.
pub(crate) struct Cx<'a> {
    pub source: SourceId,
    pub text: &'a str,
    pub diags: Vec<Diagnostic>,
}

impl<'a> Cx<'a> {
    pub fn new(source: SourceId, text: &'a str) -> Self {
        Cx {
            source,
            text,
            diags: Vec::new(),
        }
    }

    pub fn span(&self, r: Option<Range<usize>>) -> Option<Span> {
        r.map(|r| Span::new(self.source, r))
    }

    pub fn error(&mut self, kind: DiagKind, message: impl Into<String>, span: Option<Span>) {
        self.diags.push(Diagnostic::new(kind, message).at(span));
    }

    pub fn key_span(&self, key: &Key, item: &Item) -> Option<Span> {
        self.span(key.span().or_else(|| item.span()))
    }

    pub fn item_span(&self, item: &Item) -> Option<Span> {
        self.span(item.span())
    }

    /// The string value with the raw position of each decoded byte.
    pub fn src_str(&self, value: &Value) -> Option<SrcStr> {
        let decoded = value.as_str()?;
        let Some(r) = value.span() else {
            return Some(SrcStr::detached(decoded));
        };
        let raw = self.text.get(r.clone()).unwrap_or("");
        Some(match trace_string(raw, decoded) {
            Some(offsets) => SrcStr::mapped(
                decoded.to_string(),
                self.source,
                offsets.into_iter().map(|o| (o + r.start) as u32).collect(),
            ),
            None => SrcStr::pinned(decoded.to_string(), self.source, r.start),
        })
    }

    /// A named entry's string value, or a `WrongType` error saying `message`.
    pub fn expect_str(
        &mut self,
        item: &Item,
        span: Option<Span>,
        message: impl Into<String>,
    ) -> Option<SrcStr> {
        match item.as_value().and_then(|v| self.src_str(v)) {
            Some(s) => Some(s),
            None => {
                let msg = format!("{}, got {}", message.into(), type_name(item));
                self.error(
                    DiagKind::WrongType,
                    msg,
                    span.or_else(|| self.item_span(item)),
                );
                None
            }
        }
    }

    /// A table's entries, or a `WrongType` error saying `message`.
    pub fn expect_table<'i>(&mut self, item: &'i Item, message: &str) -> Option<&'i dyn TableLike> {
        match item.as_table_like() {
            Some(t) => Some(t),
            None => {
                let span = self.item_span(item);
                self.error(
                    DiagKind::WrongType,
                    format!("{message}, got {}", type_name(item)),
                    span,
                );
                None
            }
        }
    }

    /// A list of strings, or a `WrongType` error saying `message`.
    pub fn string_list(&mut self, item: &Item, message: &str) -> Option<Vec<Spanned<String>>> {
        let bad = |cx: &mut Self, span| {
            cx.error(DiagKind::WrongType, message.to_string(), span);
            None
        };
        let Some(array) = item.as_array() else {
            return bad(self, self.item_span(item));
        };
        let mut out = Vec::new();
        for v in array.iter() {
            match v.as_str() {
                Some(s) => out.push(Spanned::new(s.to_string(), self.span(v.span()))),
                None => return bad(self, self.span(v.span())),
            }
        }
        Some(out)
    }
}

/// Maps each byte of `decoded` to its offset in `raw` (a TOML string token with quotes), or
/// `None` when the two cannot be matched (then positions fall back to the token start).
fn trace_string(raw: &str, decoded: &str) -> Option<Vec<usize>> {
    let (body_start, body_end, basic) = if raw.starts_with("\"\"\"") || raw.starts_with("'''") {
        let mut start = 3;
        if raw[3..].starts_with("\r\n") {
            start += 2;
        } else if raw[3..].starts_with('\n') {
            start += 1;
        }
        (start, raw.len().checked_sub(3)?, raw.starts_with('"'))
    } else if raw.starts_with('"') || raw.starts_with('\'') {
        (1, raw.len().checked_sub(1)?, raw.starts_with('"'))
    } else {
        return None;
    };
    if body_start > body_end {
        return None;
    }
    let body = raw.get(body_start..body_end)?;
    let bytes = body.as_bytes();
    let mut out_text = String::with_capacity(decoded.len());
    let mut offsets = Vec::with_capacity(decoded.len() + 1);
    let mut i = 0;
    while i < bytes.len() {
        let at = body_start + i;
        if bytes[i] == b'\r'
            && bytes.get(i + 1) == Some(&b'\n')
            && !decoded[out_text.len()..].starts_with('\r')
        {
            i += 1;
            continue;
        }
        if basic && bytes[i] == b'\\' {
            let next = *bytes.get(i + 1)?;
            let (ch, len) = match next {
                b'b' => ('\u{8}', 2),
                b't' => ('\t', 2),
                b'n' => ('\n', 2),
                b'f' => ('\u{c}', 2),
                b'r' => ('\r', 2),
                b'e' => ('\u{1b}', 2),
                b'"' => ('"', 2),
                b'\\' => ('\\', 2),
                b'x' | b'u' | b'U' => {
                    let n = match next {
                        b'x' => 2,
                        b'u' => 4,
                        _ => 8,
                    };
                    let hex = body.get(i + 2..i + 2 + n)?;
                    (char::from_u32(u32::from_str_radix(hex, 16).ok()?)?, 2 + n)
                }
                b' ' | b'\t' | b'\r' | b'\n' => {
                    // Line-ending backslash: skip it and all whitespace after it.
                    let mut j = i + 1;
                    while j < bytes.len() && matches!(bytes[j], b' ' | b'\t' | b'\r' | b'\n') {
                        j += 1;
                    }
                    i = j;
                    continue;
                }
                _ => return None,
            };
            let mut buf = [0u8; 4];
            let s = ch.encode_utf8(&mut buf);
            out_text.push_str(s);
            offsets.extend(std::iter::repeat_n(at, s.len()));
            i += len;
            continue;
        }
        let ch_len = body[i..].chars().next()?.len_utf8();
        out_text.push_str(&body[i..i + ch_len]);
        offsets.extend(at..at + ch_len);
        i += ch_len;
    }
    offsets.push(body_end);
    (out_text == decoded).then_some(offsets)
}

/// The TOML type of an item, for messages.
pub(crate) fn type_name(item: &Item) -> &'static str {
    match item {
        Item::None => "nothing",
        Item::Table(_) | Item::ArrayOfTables(_) => "table",
        Item::Value(v) => match v {
            Value::String(_) => "string",
            Value::Integer(_) => "integer",
            Value::Float(_) => "float",
            Value::Boolean(_) => "boolean",
            Value::Datetime(_) => "datetime",
            Value::Array(_) => "array",
            Value::InlineTable(_) => "table",
        },
    }
}

/// True for `[A-Za-z_][A-Za-z0-9_]*`.
pub fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Parses the whole model document. Returns the normal form, or `None` when a required
/// table is unusable; problems go to `cx.diags` either way.
pub(crate) fn parse_model(top: &dyn TableLike, cx: &mut Cx) -> Option<RawModel> {
    misspelled_keys(
        top,
        "",
        &[
            "model",
            "states",
            "params",
            "constants",
            "equations",
            "aux",
            "functions",
            "events",
            "presets",
            "sim",
            "mods",
            "mod",
        ],
        cx,
    );
    let (kind, name, dtype) = parse_model_table(top, cx);
    let constants = match top.get("constants") {
        Some(item) => parse_constants(item, cx),
        None => Vec::new(),
    };
    let lookup_constants = constants.clone();
    let states = match top.get("states") {
        None => {
            missing_table(top, "states", cx);
            None
        }
        Some(item) if item.as_table_like().is_none() => {
            let span = cx.item_span(item);
            cx.error(
                DiagKind::WrongType,
                format!(
                    "Missing required table [states]: [states] must be a table, got {}",
                    type_name(item)
                ),
                span,
            );
            None
        }
        Some(item) => Some(parse_numbers(item, "states", &lookup_constants, cx)),
    };
    let params = match top.get("params") {
        None => Vec::new(),
        Some(item) if item.as_table_like().is_none() => {
            let span = cx.item_span(item);
            cx.error(
                DiagKind::WrongType,
                format!(
                    "[params] must be a table if present, got {}",
                    type_name(item)
                ),
                span,
            );
            Vec::new()
        }
        Some(item) => parse_numbers(item, "params", &lookup_constants, cx),
    };
    let (equations, inverse, jacobian) = match top.get("equations") {
        Some(item) => parse_equations(item, kind, cx),
        None => (RawEquations::default(), None, None),
    };
    let aux = top
        .get("aux")
        .map(|item| parse_aux_table(item, cx))
        .unwrap_or_default();
    let functions = top
        .get("functions")
        .map(|item| parse_functions(item, cx))
        .unwrap_or_default();
    let events = top
        .get("events")
        .map(|item| parse_events(item, cx))
        .unwrap_or_default();
    let sim = match top.get("sim") {
        Some(item) => match cx.expect_table(item, "[sim] must be a table if present") {
            Some(t) => parse_sim(t, cx),
            None => RawSim::default(),
        },
        None => RawSim::default(),
    };
    let presets = top
        .get("presets")
        .map(|item| parse_presets(item, cx))
        .unwrap_or_default();
    Some(RawModel {
        kind: kind?,
        name,
        dtype: dtype?,
        constants,
        states: states?,
        params,
        equations,
        inverse,
        jacobian,
        aux,
        functions,
        events,
        sim,
        presets,
    })
}

/// Reports a missing top-level table. A key of that name inside another table (written
/// after a `[table]` header, so TOML put it there) is the likely mistake: point at it.
fn missing_table(top: &dyn TableLike, name: &str, cx: &mut Cx) {
    let misplaced = top.iter().find_map(|(table, item)| {
        let (k, v) = item.as_table_like()?.get_key_value(name)?;
        Some((table.to_string(), cx.key_span(k, v)))
    });
    let d = match misplaced {
        Some((table, span)) => Diagnostic::new(
            DiagKind::Missing,
            format!(
                "Missing required table [{name}]: the `{name}` key here belongs to [{table}], not the top level"
            ),
        )
        .at(span)
        .with_help(format!(
            "keys after a [{table}] header belong to [{table}]; write [{name}] as a table of its own, or move `{name} = ...` above the first header"
        )),
        None => Diagnostic::new(DiagKind::Missing, format!("Missing required table [{name}]")),
    };
    cx.diags.push(d);
}

fn parse_model_table(
    top: &dyn TableLike,
    cx: &mut Cx,
) -> (Option<ModelKind>, Option<String>, Option<Dtype>) {
    let Some(item) = top.get("model") else {
        missing_table(top, "model", cx);
        return (None, None, None);
    };
    let Some(model) = item.as_table_like() else {
        let span = cx.item_span(item);
        cx.error(
            DiagKind::WrongType,
            format!(
                "Missing required table [model]: [model] must be a table, got {}",
                type_name(item)
            ),
            span,
        );
        return (None, None, None);
    };
    misspelled_keys(model, "[model]", &["type", "name", "dtype", "label"], cx);
    if let Some((k, v)) = model.get_key_value("label") {
        let span = cx.key_span(k, v);
        cx.error(
            DiagKind::Removed,
            "[model].label is no longer supported; use [model].name",
            span,
        );
    }
    let kind = match model.get("type") {
        None => {
            let span = cx.item_span(item);
            cx.error(
                DiagKind::Missing,
                "[model].type is required and must be 'ode' or 'map'",
                span,
            );
            None
        }
        Some(v) => match v.as_str() {
            Some("ode") => Some(ModelKind::Ode),
            Some("map") => Some(ModelKind::Map),
            _ => {
                let span = cx.item_span(v);
                cx.error(
                    DiagKind::InvalidValue,
                    "[model].type must be 'ode' or 'map'",
                    span,
                );
                None
            }
        },
    };
    let name = match model.get("name") {
        None => None,
        Some(v) => match v.as_str() {
            Some(s) => Some(s.to_string()),
            None => {
                let span = cx.item_span(v);
                cx.error(
                    DiagKind::WrongType,
                    format!("[model].name must be a string, got {}", type_name(v)),
                    span,
                );
                None
            }
        },
    };
    let dtype = match model.get("dtype") {
        None => Some(Dtype::Float64),
        Some(v) => match v.as_str() {
            None => {
                let span = cx.item_span(v);
                cx.error(
                    DiagKind::WrongType,
                    format!(
                        "[model].dtype must be a string if present, got {}",
                        type_name(v)
                    ),
                    span,
                );
                None
            }
            Some(s) => {
                let span = cx.item_span(v);
                match (Dtype::parse(s), kind) {
                    (Some(d), Some(ModelKind::Ode)) if !d.is_float() => {
                        cx.error(DiagKind::InvalidValue, format!("ODE models require a floating dtype (float32/float64), got '{s}' in [model].dtype"), span);
                        None
                    }
                    (Some(d), _) => Some(d),
                    (None, _) if matches!(s, "float16" | "bfloat16" | "half") => {
                        cx.error(
                            DiagKind::InvalidValue,
                            format!("[model].dtype '{s}' is not supported; use float64 or float32"),
                            span,
                        );
                        None
                    }
                    (None, _) => {
                        cx.error(
                            DiagKind::InvalidValue,
                            format!("[model].dtype '{s}' is not supported; use one of float64 (float, double), float32 (single), int64, int32 (ints for maps only)"),
                            span,
                        );
                        None
                    }
                }
            }
        },
    };
    (kind, name, dtype)
}

/// Looks names up among `pi`, `e` and the given constants.
pub(crate) fn constant_lookup(constants: &[RawNumber]) -> impl Fn(&str) -> Option<Number> + '_ {
    move |name: &str| match name {
        "pi" => Some(Number::Float(std::f64::consts::PI)),
        "e" => Some(Number::Float(std::f64::consts::E)),
        _ => constants
            .iter()
            .rev()
            .find(|c| c.name.value == name)
            .map(|c| c.value),
    }
}

fn allowed_names(constants: &[RawNumber]) -> Vec<String> {
    let mut names: Vec<String> = ["e", "pi"].iter().map(|s| s.to_string()).collect();
    names.extend(constants.iter().map(|c| c.name.value.clone()));
    names
}

/// Evaluates one numeric value (a number or a numeric expression string).
pub(crate) fn parse_number(
    key: &str,
    item: &Item,
    span: Option<Span>,
    constants: &[RawNumber],
    cx: &mut Cx,
) -> Option<Number> {
    match item.as_value() {
        Some(Value::Integer(i)) => Some(Number::Int(*i.value())),
        Some(Value::Float(f)) => Some(Number::Float(*f.value())),
        Some(v @ Value::String(_)) => {
            let s = cx.src_str(v)?;
            let lookup = constant_lookup(constants);
            match numeric::eval_str(s.as_str(), &lookup, &allowed_names(constants)) {
                Ok(n) => Some(n),
                Err(e) => {
                    let at = e.span.and_then(|r| s.span_of(r)).or_else(|| s.span());
                    cx.error(DiagKind::Numeric, format!("{key} {}", e.message), at);
                    None
                }
            }
        }
        _ => {
            cx.error(
                DiagKind::WrongType,
                format!(
                    "{key} must be a number or numeric expression string, got {}",
                    type_name(item)
                ),
                span,
            );
            None
        }
    }
}

fn parse_numbers(
    item: &Item,
    section: &str,
    constants: &[RawNumber],
    cx: &mut Cx,
) -> Vec<RawNumber> {
    let Some(table) = item.as_table_like() else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (key, value) in table.get_values_spanned() {
        let span = cx.key_span(key, value);
        let name = key.get().to_string();
        if let Some(v) = parse_number(
            &format!("[{section}].{name}"),
            value,
            span.clone(),
            constants,
            cx,
        ) {
            out.push(RawNumber {
                name: Spanned::new(name, span),
                value: v,
            });
        }
    }
    out
}

fn parse_constants(item: &Item, cx: &mut Cx) -> Vec<RawNumber> {
    let Some(table) = cx.expect_table(item, "[constants] must be a table if present") else {
        return Vec::new();
    };
    let mut out: Vec<RawNumber> = Vec::new();
    for (key, value) in table.get_values_spanned() {
        let span = cx.key_span(key, value);
        let name = key.get().to_string();
        if let Some(v) = parse_number(
            &format!("[constants].{name}"),
            value,
            span.clone(),
            &out,
            cx,
        ) {
            out.push(RawNumber {
                name: Spanned::new(name, span),
                value: v,
            });
        }
    }
    out
}

/// Iterating a table with key spans; toml_edit's `iter` drops the `Key`.
trait SpannedEntries {
    fn get_values_spanned(&self) -> Vec<(&Key, &Item)>;
}

impl SpannedEntries for dyn TableLike + '_ {
    fn get_values_spanned(&self) -> Vec<(&Key, &Item)> {
        self.iter()
            .filter_map(|(k, _)| self.get_key_value(k))
            .collect()
    }
}

fn parse_equations(
    item: &Item,
    kind: Option<ModelKind>,
    cx: &mut Cx,
) -> (RawEquations, Option<RawEquations>, Option<RawJacobian>) {
    let Some(table) = cx.expect_table(item, "[equations] must be a table if present") else {
        return (RawEquations::default(), None, None);
    };
    unknown_keys(
        table,
        "[equations]",
        &["rhs", "expr", "inverse", "jacobian"],
        cx,
    );
    let equations = parse_equation_forms(table, "[equations]", cx);
    let inverse = table.get_key_value("inverse").and_then(|(k, inv)| {
        if kind == Some(ModelKind::Ode) {
            let span = cx.key_span(k, inv);
            cx.error(
                DiagKind::InvalidValue,
                "[equations.inverse] is only supported for map models",
                span,
            );
            return None;
        }
        let t = cx.expect_table(inv, "[equations.inverse] must be a table if present")?;
        unknown_keys(t, "[equations.inverse]", &["rhs", "expr"], cx);
        Some(parse_equation_forms(t, "[equations.inverse]", cx))
    });
    let jacobian = table.get("jacobian").and_then(|j| parse_jacobian(j, cx));
    (equations, inverse, jacobian)
}

/// Reports keys of `table` that are misspellings of a `valid` one (`dtyp` for `dtype`,
/// `acton` for `action`; see [`misspelling_of`]): the reference ignores unknown keys there,
/// so a typo would silently lose what it meant to set. Only a key the table lacks can be
/// meant. Other keys stay ignored (`[meta]`, `[tests]`, notes), as in the reference. `name` empty means the top level (tables).
fn misspelled_keys(table: &dyn TableLike, name: &str, valid: &[&str], cx: &mut Cx) {
    for (key, value) in table.get_values_spanned() {
        let k = key.get();
        if valid.contains(&k) {
            continue;
        }
        // A key is only a slip for one the table lacks: beside a real [states], a
        // [stats] table is the user's own.
        let absent = valid.iter().copied().filter(|v| !table.contains_key(v));
        if let Some(meant) = misspelling_of(k, absent) {
            let span = cx.key_span(key, value);
            let message = if name.is_empty() {
                format!("Unknown table [{k}] (did you mean [{meant}]?); it would be ignored")
            } else {
                format!(
                    "Unknown key in {name}: '{k}' (did you mean '{meant}'?). Valid keys: {}",
                    valid.join(", ")
                )
            };
            cx.error(DiagKind::UnknownKey, message, span);
        }
    }
}

/// Reports keys of `table` outside `valid`, with a "did you mean" suggestion.
fn unknown_keys(table: &dyn TableLike, name: &str, valid: &[&str], cx: &mut Cx) {
    for (key, value) in table.get_values_spanned() {
        let k = key.get();
        if !valid.contains(&k) {
            let hint = did_you_mean(k, valid.iter().copied())
                .map(|s| format!(" (did you mean '{s}'?)"))
                .unwrap_or_default();
            let span = cx.key_span(key, value);
            cx.error(
                DiagKind::UnknownKey,
                format!(
                    "Unknown key(s) in {name}: '{k}'{hint}. Valid keys: {}",
                    valid.join(", ")
                ),
                span,
            );
        }
    }
}

fn parse_equation_forms(table: &dyn TableLike, name: &str, cx: &mut Cx) -> RawEquations {
    let mut out = RawEquations::default();
    let inner = name.trim_end_matches(']');
    if let Some(rhs) = table.get("rhs") {
        if let Some(t) =
            cx.expect_table(rhs, &format!("{inner}.rhs] must be a table of name = expr"))
        {
            for (key, value) in t.get_values_spanned() {
                let span = cx.key_span(key, value);
                let target = key.get().to_string();
                let msg = format!("{inner}.rhs].{target} must be a string expression");
                if let Some(s) = cx.expect_str(value, None, msg) {
                    out.rhs.push((Spanned::new(target, span), s));
                }
            }
        }
    }
    if let Some(expr) = table.get("expr") {
        let msg = format!("{name}.expr must be a string block if present");
        if let Some(s) = cx.expect_str(expr, None, msg) {
            if !s.as_str().trim().is_empty() {
                out.block = Some(s);
            }
        }
    }
    out
}

fn parse_jacobian(item: &Item, cx: &mut Cx) -> Option<RawJacobian> {
    let table = cx.expect_table(item, "[equations.jacobian] must be a table if present")?;
    unknown_keys(table, "[equations.jacobian]", &["expr"], cx);
    let (key, expr) = table.get_key_value("expr")?;
    let span = cx.key_span(key, expr);
    let Some(rows) = expr.as_array() else {
        cx.error(
            DiagKind::WrongType,
            format!(
                "[equations.jacobian].expr must be a list of rows, got {}",
                type_name(expr)
            ),
            span,
        );
        return None;
    };
    let mut out = Vec::new();
    let mut ok = true;
    for (i, row) in rows.iter().enumerate() {
        let Some(entries) = row.as_array() else {
            cx.error(
                DiagKind::WrongType,
                format!("[equations.jacobian].expr[{i}] must be a list"),
                cx.span(row.span()),
            );
            ok = false;
            continue;
        };
        let mut r = Vec::new();
        for (j, entry) in entries.iter().enumerate() {
            let text = match entry {
                Value::String(_) => cx.src_str(entry),
                Value::Integer(_) | Value::Float(_) => {
                    let at = entry.span().map_or(0, |r| r.start);
                    let raw = entry
                        .span()
                        .and_then(|r| cx.text.get(r))
                        .map(str::trim)
                        .unwrap_or("");
                    let finite = entry.as_float().is_none_or(f64::is_finite);
                    if finite && !raw.is_empty() {
                        Some(SrcStr::verbatim(raw.to_string(), cx.source, at))
                    } else {
                        None
                    }
                }
                _ => None,
            };
            match text {
                Some(t) => r.push(t),
                None => {
                    cx.error(DiagKind::WrongType, format!("[equations.jacobian].expr[{i}][{j}] must be a string or a finite number"), cx.span(entry.span()));
                    ok = false;
                }
            }
        }
        out.push(r);
    }
    ok.then_some(RawJacobian { rows: out, span })
}

fn parse_aux_table(item: &Item, cx: &mut Cx) -> Vec<RawAux> {
    let Some(table) = cx.expect_table(item, "[aux] must be a table of name = expr") else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (key, value) in table.get_values_spanned() {
        if let Some(a) = parse_aux_entry(key, value, "[aux].", cx) {
            out.push(a);
        }
    }
    out
}

/// One aux entry; `prefix` starts the message (`[aux].` or `add.aux.` in mods).
pub(crate) fn parse_aux_entry(
    key: &Key,
    value: &Item,
    prefix: &str,
    cx: &mut Cx,
) -> Option<RawAux> {
    let span = cx.key_span(key, value);
    let name = key.get().to_string();
    let expr = cx.expect_str(
        value,
        None,
        format!("{prefix}{name} must be a string expression"),
    )?;
    Some(RawAux {
        name: Spanned::new(name, span),
        expr,
    })
}

fn parse_functions(item: &Item, cx: &mut Cx) -> Vec<RawFunction> {
    let Some(table) = cx.expect_table(item, "[functions] must be a table of subtables") else {
        return Vec::new();
    };
    table
        .get_values_spanned()
        .into_iter()
        .filter_map(|(k, v)| parse_function(k, v, "[functions.", cx))
        .collect()
}

/// One function body; `prefix` starts the location (`[functions.` or `add.functions.`).
pub(crate) fn parse_function(
    key: &Key,
    item: &Item,
    prefix: &str,
    cx: &mut Cx,
) -> Option<RawFunction> {
    let name = key.get().to_string();
    let loc = entry_location(prefix, &name);
    let span = cx.key_span(key, item);
    let Some(body) = item.as_table_like() else {
        cx.error(
            DiagKind::WrongType,
            format!(
                "{loc} must be a table with args and expr, got {}",
                type_name(item)
            ),
            span,
        );
        return None;
    };
    misspelled_keys(body, &loc, &["args", "expr"], cx);
    let mut ok = true;
    let mut args = Vec::new();
    if let Some(a) = body.get("args") {
        match cx.string_list(a, &format!("{loc}.args must be a list of strings")) {
            Some(list) => {
                for (i, arg) in list.iter().enumerate() {
                    if !is_identifier(&arg.value) {
                        cx.error(
                            DiagKind::FunctionSignature,
                            format!(
                                "{loc}.args must be a list of identifiers: '{}' is not one",
                                arg.value
                            ),
                            arg.span.clone(),
                        );
                        ok = false;
                    } else if list[..i].iter().any(|p| p.value == arg.value) {
                        cx.error(
                            DiagKind::FunctionSignature,
                            format!("{loc}.args must be unique: '{}' appears twice", arg.value),
                            arg.span.clone(),
                        );
                        ok = false;
                    }
                }
                args = list;
            }
            None => ok = false,
        }
    }
    let expr = match body.get("expr") {
        None => {
            cx.error(
                DiagKind::Missing,
                format!("{loc}.expr must be a string: the key is missing"),
                span.clone(),
            );
            None
        }
        Some(e) => cx.expect_str(e, None, format!("{loc}.expr must be a string")),
    };
    let expr = expr?;
    ok.then_some(RawFunction {
        name: Spanned::new(name, span),
        args,
        expr,
    })
}

fn parse_events(item: &Item, cx: &mut Cx) -> Vec<RawEvent> {
    let Some(table) = cx.expect_table(item, "[events] must be a table of named event subtables")
    else {
        return Vec::new();
    };
    table
        .get_values_spanned()
        .into_iter()
        .filter_map(|(k, v)| parse_event(k, v, "[events.", cx))
        .collect()
}

/// `[events.e]` for a model table, `add.events.e` for a mod payload.
fn entry_location(prefix: &str, name: &str) -> String {
    if prefix.starts_with('[') {
        format!("{prefix}{name}]")
    } else {
        format!("{prefix}{name}")
    }
}

/// One event body; `prefix` starts the location (`[events.` or `add.events.`).
pub(crate) fn parse_event(key: &Key, item: &Item, prefix: &str, cx: &mut Cx) -> Option<RawEvent> {
    let name = key.get().to_string();
    let loc = entry_location(prefix, &name);
    let span = cx.key_span(key, item);
    let Some(body) = item.as_table_like() else {
        cx.error(
            DiagKind::WrongType,
            format!("{loc} must be a table, got {}", type_name(item)),
            span,
        );
        return None;
    };
    misspelled_keys(
        body,
        &loc,
        &["phase", "cond", "action", "log", "tags", "record"],
        cx,
    );
    let mut ok = true;
    if let Some((k, v)) = body.get_key_value("record") {
        let s = cx.key_span(k, v);
        cx.error(
            DiagKind::Removed,
            format!("{loc}.record is no longer supported. Use log=['t'] to record event occurrence times, or log=['t', 'x', ...] to log time and values."),
            s,
        );
        ok = false;
    }
    let phase = match body.get("phase") {
        None => Some(Phase::End),
        Some(p) => {
            let s = cx.item_span(p);
            match p.as_str() {
                Some("start") => Some(Phase::Start),
                Some("end") => Some(Phase::End),
                Some("both") => Some(Phase::Both),
                Some("pre") => {
                    cx.error(
                        DiagKind::Removed,
                        format!("pre is deprecated. Use start for event phase. (in {loc}.phase)"),
                        s,
                    );
                    None
                }
                Some("post") => {
                    cx.error(
                        DiagKind::Removed,
                        format!("post is deprecated. Use end for event phase. (in {loc}.phase)"),
                        s,
                    );
                    None
                }
                _ => {
                    cx.error(
                        DiagKind::InvalidValue,
                        format!("{loc}.phase must be 'start'|'end'|'both'"),
                        s,
                    );
                    None
                }
            }
        }
    };
    let cond = match body.get("cond") {
        None => {
            cx.error(
                DiagKind::Missing,
                format!("{loc}.cond must be a string expression: the key is missing"),
                span.clone(),
            );
            None
        }
        Some(c) => {
            match cx.expect_str(c, None, format!("{loc}.cond must be a string expression")) {
                Some(s) if s.as_str().trim().is_empty() => {
                    cx.error(DiagKind::InvalidValue, format!("{loc}.cond must not be empty; write \"True\" for an event that fires every step"), s.span());
                    None
                }
                other => other,
            }
        }
    };
    let action = match body.get("action") {
        None => RawAction::None,
        Some(a) => match a.as_table_like() {
            Some(t) => {
                let mut entries = Vec::new();
                for (k, v) in t.get_values_spanned() {
                    let ks = cx.key_span(k, v);
                    let target = k.get().to_string();
                    match cx.expect_str(
                        v,
                        None,
                        format!("{loc}.action.{target} must be a string expression"),
                    ) {
                        Some(s) => entries.push((Spanned::new(target, ks), s)),
                        None => ok = false,
                    }
                }
                RawAction::Keyed(entries)
            }
            None => match a.as_value().and_then(|v| cx.src_str(v)) {
                Some(s) if s.as_str().trim().is_empty() => RawAction::None,
                Some(s) => RawAction::Block(s),
                None => {
                    let s = cx.item_span(a);
                    cx.error(DiagKind::WrongType, format!("{loc}.action must be a string block or a table of target = expr, got {}", type_name(a)), s);
                    ok = false;
                    RawAction::None
                }
            },
        },
    };
    let log = match body.get("log") {
        None => Vec::new(),
        Some(l) => cx
            .string_list(
                l,
                &format!("{loc}.log must be a list of strings if present"),
            )
            .unwrap_or_else(|| {
                ok = false;
                Vec::new()
            }),
    };
    let tags = match body.get("tags") {
        None => Vec::new(),
        Some(t) => cx
            .string_list(
                t,
                &format!("{loc}.tags must be a list of strings if present"),
            )
            .unwrap_or_else(|| {
                ok = false;
                Vec::new()
            }),
    };
    let (phase, cond) = (phase?, cond?);
    ok.then_some(RawEvent {
        name: Spanned::new(name, span),
        phase,
        cond,
        action,
        log,
        tags,
    })
}

/// Parses `[sim]` keys onto `sim` (mods merge `set.sim` the same way).
pub(crate) fn parse_sim_into(table: &dyn TableLike, sim: &mut RawSim, loc: &str, cx: &mut Cx) {
    for (key, value) in table.get_values_spanned() {
        let k = key.get();
        let span = cx.key_span(key, value);
        let vspan = cx.item_span(value).or_else(|| span.clone());
        sim.spans.push((k.to_string(), vspan.clone()));
        let float = |cx: &mut Cx| -> Option<f64> {
            match value.as_value() {
                Some(Value::Integer(i)) => Some(*i.value() as f64),
                Some(Value::Float(f)) => Some(*f.value()),
                _ => {
                    cx.error(
                        DiagKind::Sim,
                        format!("{loc}.{k} must be a number, got {}", type_name(value)),
                        vspan.clone(),
                    );
                    None
                }
            }
        };
        // Values a run would refuse are the model's errors, found here with a location.
        let finite = |cx: &mut Cx, min: Option<f64>| -> Option<f64> {
            let x = float(cx)?;
            let bad = !x.is_finite() || min.is_some_and(|m| x < m);
            if bad {
                let want = match min {
                    Some(m) => format!("a finite number >= {m}"),
                    None => "a finite number".to_string(),
                };
                cx.error(
                    DiagKind::Sim,
                    format!("{loc}.{k} must be {want}, got {x}"),
                    vspan.clone(),
                );
                return None;
            }
            Some(x)
        };
        match k {
            "t0" => sim.t0 = finite(cx, None).or(sim.t0),
            "t_end" => sim.t_end = finite(cx, None).or(sim.t_end),
            "dt" => match float(cx) {
                Some(dt) if dt > 0.0 && dt.is_finite() => sim.dt = Some(dt),
                Some(_) => cx.error(
                    DiagKind::Sim,
                    format!("{loc}.dt must be a positive finite number"),
                    vspan.clone(),
                ),
                None => {}
            },
            "atol" => sim.atol = finite(cx, Some(0.0)).or(sim.atol),
            "rtol" => sim.rtol = finite(cx, Some(0.0)).or(sim.rtol),
            "record" => match value.as_bool() {
                Some(b) => sim.record = Some(b),
                None => cx.error(
                    DiagKind::Sim,
                    format!(
                        "{loc}.record must be true or false, got {}",
                        type_name(value)
                    ),
                    vspan.clone(),
                ),
            },
            "max_steps" => {
                // A run needs at least one step and counts them in an i64.
                let n = match value.as_value() {
                    Some(Value::Integer(i)) if *i.value() >= 1 => Some(*i.value() as u64),
                    Some(Value::Float(f))
                        if f.value().fract() == 0.0 && *f.value() >= 1.0 && *f.value() < 9.2e18 =>
                    {
                        Some(*f.value() as u64)
                    }
                    _ => None,
                };
                match n {
                    Some(n) => sim.max_steps = Some(n),
                    None => cx.error(
                        DiagKind::Sim,
                        format!(
                            "{loc}.max_steps must be a whole number from 1 to {}",
                            i64::MAX
                        ),
                        vspan.clone(),
                    ),
                }
            }
            "stepper" => match value.as_str() {
                Some(s) => sim.stepper = Some(Spanned::new(s.to_string(), vspan.clone())),
                None => cx.error(
                    DiagKind::Sim,
                    format!("{loc}.stepper must be a string, got {}", type_name(value)),
                    vspan.clone(),
                ),
            },
            "stop" => {
                if let Some(stop) = parse_stop(value, cx) {
                    sim.stop = Some(stop);
                }
            }
            _ => {
                let v = match value.as_value() {
                    Some(Value::Integer(i)) => Some(SimValue::Int(*i.value())),
                    Some(Value::Float(f)) => Some(SimValue::Float(*f.value())),
                    Some(Value::Boolean(b)) => Some(SimValue::Bool(*b.value())),
                    Some(Value::String(s)) => Some(SimValue::Str(s.value().clone())),
                    _ => None,
                };
                match v {
                    Some(v) => {
                        sim.extras.retain(|(n, _)| n.value != k);
                        sim.extras.push((Spanned::new(k.to_string(), span), v));
                    }
                    None => cx.error(
                        DiagKind::Sim,
                        format!(
                            "{loc}.{k} must be a number, boolean or string, got {}",
                            type_name(value)
                        ),
                        vspan,
                    ),
                }
            }
        }
    }
}

fn parse_sim(table: &dyn TableLike, cx: &mut Cx) -> RawSim {
    let mut sim = RawSim::default();
    parse_sim_into(table, &mut sim, "[sim]", cx);
    sim
}

fn parse_stop(value: &Item, cx: &mut Cx) -> Option<RawStop> {
    if let Some(v) = value.as_value().filter(|v| v.is_str()) {
        let s = cx.src_str(v)?;
        if s.as_str().trim().is_empty() {
            cx.error(
                DiagKind::Sim,
                "[sim].stop must be a non-empty string",
                s.span(),
            );
            return None;
        }
        return Some(RawStop {
            cond: s,
            location: "[sim].stop",
        });
    }
    let Some(t) = value.as_table_like() else {
        let span = cx.item_span(value);
        cx.error(
            DiagKind::Sim,
            "[sim].stop must be a table ([sim.stop]) or a string expression",
            span,
        );
        return None;
    };
    if let Some(p) = t.get("phase") {
        if p.as_str() != Some("post") {
            let span = cx.item_span(p);
            cx.error(DiagKind::Sim, "[sim.stop].phase must be 'post'", span);
            return None;
        }
    }
    match t
        .get("cond")
        .and_then(|c| c.as_value())
        .and_then(|v| cx.src_str(v))
    {
        Some(s) if !s.as_str().trim().is_empty() => Some(RawStop {
            cond: s,
            location: "[sim.stop].cond",
        }),
        _ => {
            let span = cx.span(t.get("cond").and_then(|c| c.span()).or(value.span()));
            cx.error(
                DiagKind::Sim,
                "[sim.stop].cond must be a non-empty string",
                span,
            );
            None
        }
    }
}

fn parse_presets(item: &Item, cx: &mut Cx) -> Vec<RawPreset> {
    let Some(table) = cx.expect_table(item, "[presets] must be a table of named preset subtables")
    else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (key, value) in table.get_values_spanned() {
        let name = key.get().to_string();
        let loc = format!("[presets.{name}]");
        let span = cx.key_span(key, value);
        let Some(body) = cx.expect_table(value, &format!("{loc} must be a table")) else {
            continue;
        };
        let section = |which: &str, cx: &mut Cx| -> Vec<RawNumber> {
            let Some(t) = body.get(which) else {
                return Vec::new();
            };
            let Some(t) = cx.expect_table(t, &format!("{loc}.{which} must be a table")) else {
                return Vec::new();
            };
            let mut vals = Vec::new();
            for (k, v) in t.get_values_spanned() {
                let s = cx.key_span(k, v);
                let value = match v.as_value() {
                    Some(Value::Integer(i)) => Some(Number::Int(*i.value())),
                    Some(Value::Float(f)) => Some(Number::Float(*f.value())),
                    _ => None,
                };
                match value {
                    Some(n) => vals.push(RawNumber {
                        name: Spanned::new(k.get().to_string(), s),
                        value: n,
                    }),
                    None => {
                        let vs = cx.item_span(v);
                        cx.error(
                            DiagKind::Preset,
                            format!(
                                "{loc}.{which}.{} must be a number, got {}",
                                k.get(),
                                type_name(v)
                            ),
                            vs,
                        )
                    }
                }
            }
            vals
        };
        let params = section("params", cx);
        let states = section("states", cx);
        if params.is_empty() && states.is_empty() {
            cx.error(
                DiagKind::Preset,
                format!("{loc} must define at least one param or state"),
                span.clone(),
            );
            continue;
        }
        out.push(RawPreset {
            name: Spanned::new(name, span),
            params,
            states,
        });
    }
    out
}

/// Parses `value` as a numeric entry for mods (`set.params.a = "8/3"` is evaluated like a
/// value in the model file, unlike the reference, which stored the string).
pub(crate) fn parse_mod_number(
    key: &Key,
    value: &Item,
    loc: &str,
    constants: &[RawNumber],
    cx: &mut Cx,
) -> Option<RawNumber> {
    let span = cx.key_span(key, value);
    let name = key.get().to_string();
    let v = parse_number(&format!("{loc}.{name}"), value, span.clone(), constants, cx)?;
    Some(RawNumber {
        name: Spanned::new(name, span),
        value: v,
    })
}

/// Entries of a table with their keys, in order.
pub(crate) fn entries(table: &dyn TableLike) -> Vec<(&Key, &Item)> {
    table.get_values_spanned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traces_escapes_and_multiline() {
        let raw = r#""a\tb\u00e9c""#;
        let decoded = "a\tbéc";
        let offs = trace_string(raw, decoded).unwrap();
        assert_eq!(offs.len(), decoded.len() + 1);
        assert_eq!(offs[0], 1);
        assert_eq!(offs[2], 4);
        let raw = "'''\nx = 1\n'''";
        let offs = trace_string(raw, "x = 1\n").unwrap();
        assert_eq!(offs[0], 4);
        let raw = "\"\"\"\nab \\\n   cd\"\"\"";
        assert!(trace_string(raw, "ab cd").is_some());
    }

    #[test]
    fn identifiers() {
        assert!(is_identifier("_x1"));
        assert!(!is_identifier("2bad"));
        assert!(!is_identifier("not ident!"));
        assert!(!is_identifier(""));
    }
}
