//! Semantic validation: [`RawModel`] → [`Model`] (dsl.md §0 step 5, with the decisions of
//! DESIGN.md).
//!
//! Runs the reference's checks in its order (reserved names, constant collisions,
//! uniqueness, equation targets, event targets, tags, presets, identifier resolution, the
//! Jacobian shape, lags, cycles), but collects every problem instead of stopping at the
//! first. Name resolution happens on the syntax tree: lags, event macros and cycles are
//! found from resolved identifiers, never by matching text.

use std::collections::HashMap;
use std::ops::Range;

use crate::builtins::{Builtin, BuiltinClass, RESERVED_CALLABLES, RESERVED_NAMES};
use crate::diag::{DiagKind, Diagnostic};
use crate::expr::{self, Expr, ExprKind, Number, Res};
use crate::model::{
    Assignment, Aux, Constant, Equation, Event, Function, LogSignal, Model, Preset, SimDefaults,
    Target, Var,
};
use crate::raw::{is_identifier, ModelKind, RawAction, RawEquations, RawModel, RawNumber};
use crate::source::{Span, SrcStr};

/// The deepest lag the language allows.
pub const MAX_LAG: u32 = 1000;

/// What a model-level name is.
#[derive(Copy, Clone, Debug, PartialEq)]
enum Sym {
    State(usize),
    Param(usize),
    Aux(usize),
    Function(usize),
    Constant(usize),
}

struct Checker<'a> {
    raw: &'a RawModel,
    diags: Vec<Diagnostic>,
    names: HashMap<&'a str, Sym>,
    lags: Vec<u32>,
}

/// The deepest nesting of user function calls a model may have (each level is inlined).
pub const MAX_CALL_DEPTH: usize = 100;

/// Validates and resolves a model. Returns the problems when there are any.
pub(crate) fn check(
    raw: &RawModel,
    uri: &str,
    sources: std::sync::Arc<crate::SourceMap>,
) -> Result<Model, Vec<Diagnostic>> {
    let mut c = Checker {
        raw,
        diags: Vec::new(),
        names: HashMap::new(),
        lags: vec![0; raw.states.len()],
    };
    c.check_names();
    // Later names win in the lookup table only when earlier checks already failed.
    for (i, x) in raw.constants.iter().enumerate() {
        c.names.insert(&x.name.value, Sym::Constant(i));
    }
    for (i, x) in raw.functions.iter().enumerate() {
        c.names.insert(&x.name.value, Sym::Function(i));
    }
    for (i, x) in raw.aux.iter().enumerate() {
        c.names.insert(&x.name.value, Sym::Aux(i));
    }
    for (i, x) in raw.params.iter().enumerate() {
        c.names.insert(&x.name.value, Sym::Param(i));
    }
    for (i, x) in raw.states.iter().enumerate() {
        c.names.insert(&x.name.value, Sym::State(i));
    }

    let functions: Vec<Option<Function>> = raw
        .functions
        .iter()
        .map(|f| {
            let loc = format!("[functions.{}].expr", f.name.value);
            let args: Vec<String> = f.args.iter().map(|a| a.value.clone()).collect();
            let body = c.expression(&f.expr, &loc, &args)?;
            Some(Function {
                name: f.name.value.clone(),
                args,
                body,
            })
        })
        .collect();
    let aux: Vec<Option<Aux>> = raw
        .aux
        .iter()
        .map(|a| {
            let loc = format!("[aux.{}]", a.name.value);
            Some(Aux {
                name: a.name.value.clone(),
                expr: c.expression(&a.expr, &loc, &[])?,
            })
        })
        .collect();
    let equations = c.equations(&raw.equations, "", true);
    let inverse = raw
        .inverse
        .as_ref()
        .map(|inv| c.equations(inv, "inverse ", false));
    let jacobian = c.jacobian();
    let events = c.events();
    let stop = raw
        .sim
        .stop
        .as_ref()
        .and_then(|s| c.expression(&s.cond, s.location, &[]));
    let presets = c.presets();
    c.sim_horizon();
    c.values_fit_dtype();

    if !c.diags.is_empty() {
        return Err(c.diags);
    }
    let functions: Vec<Function> = functions.into_iter().flatten().collect();
    let aux: Vec<Aux> = aux.into_iter().flatten().collect();
    let aux_order = match c.cycles(&aux, &functions) {
        Some(order) => order,
        None => return Err(c.diags),
    };
    if !c.call_depth(&functions) {
        return Err(c.diags);
    }
    let equations = equations.unwrap_or_default();
    let lag_use = crate::model::LagUse::new(&aux, &functions);
    let equations_use_lag = equations.iter().any(|e| lag_use.uses(&e.expr));
    let (events, tag_index) = events;
    let sim = &raw.sim;
    Ok(Model {
        kind: raw.kind,
        name: raw.name.clone(),
        dtype: raw.dtype,
        constants: raw
            .constants
            .iter()
            .map(|x| Constant {
                name: x.name.value.clone(),
                value: x.value,
            })
            .collect(),
        states: vars(&raw.states),
        params: vars(&raw.params),
        equations,
        inverse: inverse.flatten(),
        jacobian,
        aux,
        aux_order,
        functions,
        events,
        tag_index,
        lag_depths: c.lags,
        equations_use_lag,
        lanes: 1,
        sim: SimDefaults {
            t0: sim.t0.unwrap_or(0.0),
            t_end: sim.t_end.unwrap_or(1.0),
            dt: sim.dt.unwrap_or(0.01),
            stepper: sim.stepper.as_ref().map(|s| s.value.clone()),
            record: sim.record.unwrap_or(true),
            atol: sim.atol.unwrap_or(1e-8),
            rtol: sim.rtol.unwrap_or(1e-5),
            max_steps: sim.max_steps.unwrap_or(1_000_000),
            stop,
            extras: sim
                .extras
                .iter()
                .map(|(k, v)| (k.value.clone(), v.clone()))
                .collect(),
        },
        presets,
        uri: uri.to_string(),
        sources,
    })
}

fn vars(list: &[RawNumber]) -> Vec<Var> {
    list.iter()
        .map(|x| Var {
            name: x.name.value.clone(),
            value: x.value,
        })
        .collect()
}

fn quoted_list(names: &[&str]) -> String {
    format!(
        "[{}]",
        names
            .iter()
            .map(|n| format!("'{n}'"))
            .collect::<Vec<_>>()
            .join(", ")
    )
}

/// Names of one section with where they are declared.
type NameList<'a> = Vec<(&'a str, Option<Span>)>;

/// A block line split at its first `=`.
struct BlockLine {
    lhs: SrcStr,
    rhs: SrcStr,
    line: SrcStr,
}

/// Splits a block (equations or actions) into `target = expr` lines. Blank lines and
/// full-line `#` comments are skipped; a line without `=` is an error.
fn block_lines(block: &SrcStr, loc: &str, diags: &mut Vec<Diagnostic>) -> Vec<BlockLine> {
    let text = block.as_str();
    let mut out = Vec::new();
    let mut start = 0;
    for raw_line in text.split_inclusive('\n') {
        let end = start + raw_line.len();
        let content = raw_line.trim_end_matches(['\n', '\r']);
        let lead = content.len() - content.trim_start().len();
        let trimmed = content.trim();
        let line_range = start + lead..start + lead + trimmed.len();
        start = end;
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let line = block.slice(line_range.clone());
        match trimmed.find('=') {
            None => diags.push(
                Diagnostic::new(
                    DiagKind::BlockLine,
                    format!("Block line must contain '=': '{trimmed}' in {loc}"),
                )
                .at(line.span())
                .with_help("write one `target = expression` per line"),
            ),
            Some(eq) => {
                let l = trimmed[..eq].trim_end();
                let r_start = eq + 1;
                out.push(BlockLine {
                    lhs: block.slice(line_range.start..line_range.start + l.len()),
                    rhs: block.slice(line_range.start + r_start..line_range.end),
                    line,
                });
            }
        }
    }
    out
}

/// The state named by a derivative target `dX` or `d(X)`, if any.
fn derivative_of(lhs: &str, is_state: impl Fn(&str) -> bool) -> Option<&str> {
    if let Some(inner) = lhs.strip_prefix("d(").and_then(|r| r.strip_suffix(')')) {
        let inner = inner.trim();
        return is_state(inner).then_some(inner);
    }
    let rest = lhs.strip_prefix('d')?;
    is_state(rest).then_some(rest)
}

impl<'a> Checker<'a> {
    fn error(&mut self, kind: DiagKind, message: impl Into<String>, span: Option<Span>) {
        self.diags.push(Diagnostic::new(kind, message).at(span));
    }

    fn state(&self, name: &str) -> Option<usize> {
        match self.names.get(name) {
            Some(Sym::State(i)) => Some(*i),
            _ => None,
        }
    }

    /// Reserved names, constant collisions, cross-section uniqueness, function names.
    fn check_names(&mut self) {
        let raw = self.raw;
        let sections: [(&str, NameList); 5] = [
            (
                "states",
                raw.states
                    .iter()
                    .map(|x| (x.name.value.as_str(), x.name.span.clone()))
                    .collect(),
            ),
            (
                "params",
                raw.params
                    .iter()
                    .map(|x| (x.name.value.as_str(), x.name.span.clone()))
                    .collect(),
            ),
            (
                "aux",
                raw.aux
                    .iter()
                    .map(|x| (x.name.value.as_str(), x.name.span.clone()))
                    .collect(),
            ),
            (
                "functions",
                raw.functions
                    .iter()
                    .map(|x| (x.name.value.as_str(), x.name.span.clone()))
                    .collect(),
            ),
            (
                "constants",
                raw.constants
                    .iter()
                    .map(|x| (x.name.value.as_str(), x.name.span.clone()))
                    .collect(),
            ),
        ];
        for (section, names) in &sections {
            let reserved: Vec<&(&str, Option<Span>)> = names
                .iter()
                .filter(|(n, _)| RESERVED_NAMES.contains(n))
                .collect();
            if let Some(first) = reserved.first() {
                let list: Vec<&str> = reserved.iter().map(|(n, _)| *n).collect();
                self.error(
                    DiagKind::ReservedName,
                    format!(
                        "[{section}] name(s) {} are reserved (reserved: e, pi, t)",
                        list.join(", ")
                    ),
                    first.1.clone(),
                );
            }
            for (n, span) in names {
                if !is_identifier(n) {
                    self.error(DiagKind::InvalidValue, format!("[{section}] name '{n}' is not an identifier (letters, digits and _, not starting with a digit)"), span.clone());
                }
            }
        }
        // A constant reused as a state, param or aux.
        for (cname, cspan) in &sections[4].1 {
            for (section, article) in [
                (0, "a state"),
                (1, "a parameter"),
                (2, "an auxiliary variable"),
            ] {
                if sections[section].1.iter().any(|(n, _)| n == cname) {
                    self.error(
                        DiagKind::ConstantCollision,
                        format!(
                            "{cname} is defined as a constant and cannot be reused as {article}."
                        ),
                        cspan.clone(),
                    );
                }
            }
        }
        // Uniqueness across sections (constant collisions above are not repeated). The
        // position reported is the second declaration: the one that clashes (an aux a mod
        // adds, not the state it collides with).
        let mut seen: Vec<(&str, Vec<&str>, Option<Span>)> = Vec::new();
        let mut index: HashMap<&str, usize> = HashMap::new();
        for (section, names) in &sections {
            for (n, span) in names {
                match index.get(n).map(|&k| &mut seen[k]) {
                    Some(entry) => {
                        if entry.1.len() == 1 {
                            entry.2 = span.clone().or(entry.2.take());
                        }
                        entry.1.push(section);
                    }
                    None => {
                        index.insert(n, seen.len());
                        seen.push((n, vec![section], span.clone()));
                    }
                }
            }
        }
        let conflicts: Vec<String> = seen
            .iter()
            .filter(|(_, secs, _)| secs.len() > 1)
            .filter(|(_, secs, _)| {
                !(secs.contains(&"constants")
                    && secs
                        .iter()
                        .all(|s| ["constants", "states", "params", "aux"].contains(s)))
            })
            .map(|(n, secs, _)| format!("{n} ({})", secs.join(", ")))
            .collect();
        if !conflicts.is_empty() {
            let span = seen
                .iter()
                .find(|(_, s, _)| s.len() > 1)
                .and_then(|(_, _, sp)| sp.clone());
            self.error(
                DiagKind::DuplicateName,
                format!("Identifiers must be unique across states/params/aux/functions/constants; conflicts: {}", conflicts.join(", ")),
                span,
            );
        }
        for f in &raw.functions {
            let n = f.name.value.as_str();
            if Builtin::from_name(n).is_some() || RESERVED_CALLABLES.contains(&n) {
                self.error(
                    DiagKind::ReservedName,
                    format!("[functions.{n}] cannot be defined: '{n}' is a builtin name and user functions may not shadow builtins"),
                    f.name.span.clone(),
                );
            } else if n.starts_with("lag_") {
                self.error(
                    DiagKind::ReservedName,
                    format!("[functions.{n}] cannot be defined: names starting with 'lag_' are lag notation"),
                    f.name.span.clone(),
                );
            }
        }
    }

    /// Parses and resolves one expression; reports problems at `loc`.
    fn expression(&mut self, src: &SrcStr, loc: &str, args: &[String]) -> Option<Expr> {
        let mut tree = match expr::parse(src.as_str()) {
            Ok(t) => t,
            Err(e) => {
                let what = if e.kind == DiagKind::Syntax {
                    "Invalid expression syntax"
                } else {
                    "Unsupported expression"
                };
                self.error(
                    e.kind,
                    format!("{what} in {loc}: {}", e.message),
                    src.span_of(e.span),
                );
                return None;
            }
        };
        let before = self.diags.len();
        let mut unknown: Vec<(String, Range<usize>)> = Vec::new();
        let mut loops = Vec::new();
        self.resolve(&mut tree, src, loc, args, &mut loops, &mut unknown);
        if let Some((_, first)) = unknown.first() {
            let mut names: Vec<&str> = unknown.iter().map(|(n, _)| n.as_str()).collect();
            names.dedup();
            let mut uniq: Vec<&str> = Vec::new();
            for n in names {
                if !uniq.contains(&n) {
                    uniq.push(n);
                }
            }
            self.error(
                DiagKind::UnknownIdentifier,
                format!(
                    "Unknown identifier(s) in {loc}: {}. Declare them as states/params/aux/functions or constants.",
                    uniq.join(", ")
                ),
                src.span_of(first.clone()),
            );
        }
        (self.diags.len() == before).then_some(tree)
    }

    fn resolve(
        &mut self,
        e: &mut Expr,
        src: &SrcStr,
        loc: &str,
        args: &[String],
        loops: &mut Vec<String>,
        unknown: &mut Vec<(String, Range<usize>)>,
    ) {
        let span = e.span.clone();
        match &mut e.kind {
            ExprKind::BigInt(x) if !self.raw.dtype.is_float() => {
                let x = *x;
                self.error(
                    DiagKind::InvalidValue,
                    format!(
                        "integer literal {x:.0} in {loc} does not fit the model's dtype {} \
                         (literals beyond 64 bits are only for float models)",
                        self.raw.dtype.as_str()
                    ),
                    src.span_of(span),
                );
            }
            ExprKind::Name(id) => {
                id.res = if let Some(d) = loops.iter().rposition(|v| *v == id.name) {
                    Res::Loop(d)
                } else if let Some(i) = args.iter().position(|a| *a == id.name) {
                    Res::Arg(i)
                } else {
                    match (id.name.as_str(), self.names.get(id.name.as_str())) {
                        (_, Some(Sym::State(i))) => Res::State(*i),
                        (_, Some(Sym::Param(i))) => Res::Param(*i),
                        (_, Some(Sym::Aux(i))) => Res::Aux(*i),
                        (_, Some(Sym::Constant(i))) => Res::Const(self.raw.constants[*i].value),
                        ("t", _) => Res::Time,
                        ("pi", _) => Res::Const(Number::Float(std::f64::consts::PI)),
                        ("e", _) => Res::Const(Number::Float(std::f64::consts::E)),
                        (n, Some(Sym::Function(_))) => {
                            self.error(
                                DiagKind::UnknownIdentifier,
                                format!("'{n}' is a function in {loc}; call it as {n}(...)"),
                                src.span_of(span),
                            );
                            Res::Unresolved
                        }
                        (n, None) if Builtin::from_name(n).is_some() => {
                            self.error(
                                DiagKind::UnknownIdentifier,
                                format!(
                                    "'{n}' is a builtin function in {loc}; call it as {n}(...)"
                                ),
                                src.span_of(span),
                            );
                            Res::Unresolved
                        }
                        (n, None) => {
                            unknown.push((n.to_string(), span));
                            Res::Unresolved
                        }
                    }
                };
            }
            ExprKind::Reduce {
                var,
                var_span,
                range,
                body,
                conds,
                op,
            } => {
                for r in range.iter_mut() {
                    self.resolve(r, src, loc, args, loops, unknown);
                }
                // A step that is zero whatever the state is a model error (Python raises
                // ValueError); one that becomes zero at run time is an arithmetic fault.
                if let [_, _, step] = range.as_slice() {
                    let lookup = crate::raw::constant_lookup(&self.raw.constants);
                    if let Ok(v) = crate::numeric::eval(step, &lookup, &[]) {
                        if v.as_f64() == 0.0 {
                            self.error(
                                DiagKind::InvalidValue,
                                format!("range() step must not be zero in {loc}"),
                                src.span_of(step.span.clone()),
                            );
                        }
                    }
                }
                let shadowed = self.names.get(var.as_str()).map(|s| match s {
                    Sym::State(_) => "state",
                    Sym::Param(_) => "param",
                    Sym::Aux(_) => "aux",
                    Sym::Function(_) => "function",
                    Sym::Constant(_) => "constant",
                });
                let shadowed = shadowed.or_else(|| {
                    RESERVED_NAMES
                        .contains(&var.as_str())
                        .then_some("reserved name")
                });
                if let Some(what) = shadowed {
                    let opname = if *op == expr::ReduceOp::Sum {
                        "sum"
                    } else {
                        "prod"
                    };
                    self.error(
                        DiagKind::DuplicateName,
                        format!("{opname}(...) loop variable '{var}' in {loc} shadows the {what} '{var}'; choose another name"),
                        src.span_of(var_span.clone()),
                    );
                }
                loops.push(var.clone());
                self.resolve(body, src, loc, args, loops, unknown);
                for c in conds.iter_mut() {
                    self.resolve(c, src, loc, args, loops, unknown);
                }
                loops.pop();
            }
            ExprKind::Call {
                func,
                func_span,
                args: call_args,
            } => {
                for a in call_args.iter_mut() {
                    self.resolve(a, src, loc, args, loops, unknown);
                }
                let fspan = src.span_of(func_span.clone());
                let whole = src.span_of(span.clone());
                let name = func.name.clone();
                func.res = self.resolve_call(
                    &name,
                    call_args,
                    loc,
                    fspan,
                    whole,
                    unknown,
                    func_span.clone(),
                );
            }
            _ => e.for_each_child_mut(|c| self.resolve(c, src, loc, args, loops, unknown)),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn resolve_call(
        &mut self,
        name: &str,
        args: &[Expr],
        loc: &str,
        fspan: Option<Span>,
        whole: Option<Span>,
        unknown: &mut Vec<(String, Range<usize>)>,
        frange: Range<usize>,
    ) -> Res {
        if let Some(rest) = name.strip_prefix("lag_") {
            let Some(state) = self.state(rest) else {
                self.error(
                    DiagKind::Lag,
                    format!("{name}() used in {loc}, but '{rest}' is not a declared state. Lag notation only applies to state variables."),
                    fspan,
                );
                return Res::Unresolved;
            };
            let depth = match args {
                [] => 1,
                [Expr {
                    kind: ExprKind::Int(k),
                    ..
                }] => *k,
                _ => {
                    self.error(
                        DiagKind::Lag,
                        format!("{name}() expects no args or a single integer literal (in {loc})"),
                        whole,
                    );
                    return Res::Unresolved;
                }
            };
            if depth < 1 {
                self.error(
                    DiagKind::Lag,
                    format!("Lag depth must be positive, got {name}({depth}) in {loc}"),
                    whole,
                );
                return Res::Unresolved;
            }
            if depth > MAX_LAG as i64 {
                self.error(
                    DiagKind::Lag,
                    format!(
                        "Lag depth {depth} exceeds sanity limit ({MAX_LAG}) for {name} in {loc}"
                    ),
                    whole,
                );
                return Res::Unresolved;
            }
            self.lags[state] = self.lags[state].max(depth as u32);
            return Res::Lag {
                state,
                depth: depth as u32,
            };
        }
        if let Some(b) = Builtin::from_name(name) {
            if !b.arity().accepts(args.len()) {
                self.error(
                    DiagKind::Arity,
                    format!(
                        "{name}() expects {} positional, got {} in {loc}",
                        b.arity().describe(),
                        args.len()
                    ),
                    whole,
                );
                return Res::Unresolved;
            }
            if b.class() == BuiltinClass::EventMacro && b != Builtin::InInterval {
                match &args[0].kind {
                    ExprKind::Name(id) => match id.res {
                        Res::State(i) => self.lags[i] = self.lags[i].max(1),
                        _ => {
                            self.error(
                                DiagKind::MacroArgument,
                                format!("{name}() first argument must be a declared state, got '{}' in {loc}", id.name),
                                whole,
                            );
                            return Res::Unresolved;
                        }
                    },
                    _ => {
                        self.error(
                            DiagKind::MacroArgument,
                            format!("{name}() first argument must be a state identifier (e.g. x) in {loc}"),
                            whole,
                        );
                        return Res::Unresolved;
                    }
                }
            }
            return Res::Builtin(b);
        }
        if let Some(Sym::Function(i)) = self.names.get(name).copied() {
            let f = &self.raw.functions[i];
            if f.args.len() != args.len() {
                let sig: Vec<&str> = f.args.iter().map(|a| a.value.as_str()).collect();
                self.error(
                    DiagKind::Arity,
                    format!(
                        "{name}() takes {} argument(s) ({}) but {} were given in {loc}",
                        f.args.len(),
                        sig.join(", "),
                        args.len()
                    ),
                    whole,
                );
                return Res::Unresolved;
            }
            return Res::Function(i);
        }
        match name {
            "sum" | "prod" => self.error(
                DiagKind::Unsupported,
                format!("{name}() in {loc} takes a generator: {name}(expr for i in range(n))"),
                whole,
            ),
            "range" => self.error(
                DiagKind::Unsupported,
                format!("range() in {loc} is only allowed in sum(...)/prod(...) generators"),
                whole,
            ),
            "len" => self.error(
                DiagKind::Unsupported,
                format!("len() in {loc} has no meaning on scalars"),
                whole,
            ),
            _ if self.names.contains_key(name) => self.error(
                DiagKind::UnknownFunction,
                format!("'{name}' in {loc} is not a function and cannot be called"),
                fspan,
            ),
            _ => unknown.push((name.to_string(), frange)),
        }
        Res::Unresolved
    }

    /// Equation targets, block lines and their expressions. `all_states` demands an
    /// equation for every state of a map.
    fn equations(
        &mut self,
        eqs: &RawEquations,
        which: &str,
        all_states: bool,
    ) -> Option<Vec<Equation>> {
        let raw = self.raw;
        let (rhs_loc, block_loc) = if which.is_empty() {
            ("[equations.rhs", "[equations].expr")
        } else {
            ("[equations.inverse.rhs", "[equations.inverse].expr")
        };
        let target_word = if which.is_empty() {
            "Equation"
        } else {
            "Inverse equation"
        };
        let mut out: Vec<Equation> = Vec::new();
        let mut ok = true;
        let mut rhs_targets: std::collections::HashSet<usize> = Default::default();
        let mut unknown: Vec<(String, Option<Span>)> = Vec::new();
        for (target, src) in &eqs.rhs {
            match self.state(&target.value) {
                Some(i) => {
                    rhs_targets.insert(i);
                    let loc = format!("{rhs_loc}.{}]", target.value);
                    match self.expression(src, &loc, &[]) {
                        Some(expr) => out.push(Equation { state: i, expr }),
                        None => ok = false,
                    }
                }
                None => unknown.push((target.value.clone(), target.span.clone())),
            }
        }
        let mut block_targets: Vec<(usize, Option<Span>)> = Vec::new();
        let mut block_seen: std::collections::HashSet<usize> = Default::default();
        let mut dups: Vec<&str> = Vec::new();
        if let Some(block) = &eqs.block {
            let lines = block_lines(block, block_loc, &mut self.diags);
            for line in lines {
                let lhs = line.lhs.as_str().trim();
                let is_state = |n: &str| self.state(n).is_some();
                let state = match raw.kind {
                    ModelKind::Map => match self.state(lhs) {
                        Some(i) => Some(i),
                        None if derivative_of(lhs, is_state).is_some() => {
                            self.error(
                                DiagKind::MapDerivative,
                                format!(
                                    "Map models do not support derivative notation (d(x) or dx). Use direct assignment (x = expr). Got: '{lhs}' in line: '{}'",
                                    line.line
                                ),
                                line.lhs.span(),
                            );
                            ok = false;
                            continue;
                        }
                        None => None,
                    },
                    ModelKind::Ode => {
                        let direct = self.state(lhs);
                        let deriv = derivative_of(lhs, is_state).and_then(|n| self.state(n));
                        match (direct, deriv) {
                            (Some(a), Some(b)) if a != b => {
                                self.error(
                                    DiagKind::EquationTarget,
                                    format!(
                                        "Ambiguous target '{lhs}' in {block_loc}: '{lhs}' and '{}' are both states; write d({}) or d({lhs})",
                                        raw.states[b].name.value, raw.states[b].name.value
                                    ),
                                    line.lhs.span(),
                                );
                                ok = false;
                                continue;
                            }
                            (d, v) => d.or(v),
                        }
                    }
                };
                let Some(i) = state else {
                    unknown.push((lhs.to_string(), line.lhs.span()));
                    continue;
                };
                if !block_seen.insert(i) {
                    self.error(
                        DiagKind::DuplicateTarget,
                        format!("Duplicate equation target '{}' in {block_loc}: each state may have one equation", raw.states[i].name.value),
                        line.lhs.span(),
                    );
                    ok = false;
                    continue;
                }
                block_targets.push((i, line.lhs.span()));
                if rhs_targets.contains(&i) {
                    dups.push(&raw.states[i].name.value);
                }
                match self.expression(&line.rhs, block_loc, &[]) {
                    Some(expr) => out.push(Equation { state: i, expr }),
                    None => ok = false,
                }
            }
        }
        if !unknown.is_empty() {
            let names: Vec<&str> = unknown.iter().map(|(n, _)| n.as_str()).collect();
            self.error(
                DiagKind::EquationTarget,
                format!(
                    "{target_word} targets must be declared in [states], unknown: {}",
                    quoted_list(&names)
                ),
                unknown[0].1.clone(),
            );
            ok = false;
        }
        if !dups.is_empty() {
            let span = block_targets
                .iter()
                .find(|(s, _)| raw.states[*s].name.value == dups[0])
                .and_then(|(_, sp)| sp.clone());
            let prefix = if which.is_empty() {
                "Duplicate equation targets"
            } else {
                "Duplicate inverse equation targets"
            };
            self.error(
                DiagKind::DuplicateTarget,
                format!("{prefix} across rhs and block: {}", quoted_list(&dups)),
                span,
            );
            ok = false;
        }
        if ok && all_states && raw.kind == ModelKind::Map {
            let defined: std::collections::HashSet<usize> = out.iter().map(|e| e.state).collect();
            for (i, s) in raw.states.iter().enumerate() {
                if !defined.contains(&i) {
                    self.error(
                        DiagKind::EquationTarget,
                        format!(
                            "map state '{}' has no equation in [equations]; a map must give the next value of every state (write {} = {} to hold it)",
                            s.name.value, s.name.value, s.name.value
                        ),
                        s.name.span.clone(),
                    );
                    ok = false;
                }
            }
        }
        out.sort_by_key(|e| e.state);
        ok.then_some(out)
    }

    fn jacobian(&mut self) -> Option<Vec<Vec<Expr>>> {
        let jac = self.raw.jacobian.as_ref()?;
        let n = self.raw.states.len();
        if jac.rows.len() != n {
            self.error(
                DiagKind::JacobianShape,
                format!(
                    "[equations.jacobian].expr must have {n} rows to match [states]; got {}",
                    jac.rows.len()
                ),
                jac.span.clone(),
            );
            return None;
        }
        let mut ok = true;
        let mut out = Vec::new();
        for (i, row) in jac.rows.iter().enumerate() {
            if row.len() != n {
                let span = row.first().and_then(|s| s.span()).or(jac.span.clone());
                self.error(
                    DiagKind::JacobianShape,
                    format!("[equations.jacobian].expr[{i}] must have {n} columns to match [states]; got {}", row.len()),
                    span,
                );
                ok = false;
                continue;
            }
            let mut r = Vec::new();
            for (j, entry) in row.iter().enumerate() {
                match self.expression(entry, &format!("[equations.jacobian].expr[{i}][{j}]"), &[]) {
                    Some(e) => r.push(e),
                    None => ok = false,
                }
            }
            out.push(r);
        }
        ok.then_some(out)
    }

    fn assign_target(&self, name: &str) -> Option<Target> {
        match self.names.get(name) {
            Some(Sym::State(i)) => Some(Target::State(*i)),
            Some(Sym::Param(i)) => Some(Target::Param(*i)),
            _ => None,
        }
    }

    fn events(&mut self) -> (Vec<Event>, Vec<(String, Vec<usize>)>) {
        let raw = self.raw;
        let mut out = Vec::new();
        for ev in &raw.events {
            let name = &ev.name.value;
            let loc = format!("[events.{name}]");
            let cond = self.expression(&ev.cond, &format!("{loc}.cond"), &[]);
            let mut actions = Vec::new();
            let mut illegal: Vec<(String, Option<Span>)> = Vec::new();
            match &ev.action {
                RawAction::None => {}
                RawAction::Keyed(entries) => {
                    for (target, src) in entries {
                        match self.assign_target(&target.value) {
                            Some(t) => {
                                if let Some(expr) = self.expression(
                                    src,
                                    &format!("{loc}.action.{}", target.value),
                                    &[],
                                ) {
                                    actions.push(Assignment { target: t, expr });
                                }
                            }
                            None => illegal.push((target.value.clone(), target.span.clone())),
                        }
                    }
                }
                RawAction::Block(block) => {
                    for line in block_lines(block, &format!("{loc}.action"), &mut self.diags) {
                        let lhs = line.lhs.as_str().trim();
                        match self.assign_target(lhs) {
                            Some(t) => {
                                if let Some(expr) =
                                    self.expression(&line.rhs, &format!("{loc}.action"), &[])
                                {
                                    actions.push(Assignment { target: t, expr });
                                }
                            }
                            None => illegal.push((lhs.to_string(), line.lhs.span())),
                        }
                    }
                }
            }
            if let Some((_, span)) = illegal.first() {
                let names: Vec<&str> = illegal.iter().map(|(n, _)| n.as_str()).collect();
                self.error(
                    DiagKind::IllegalAssignment,
                    format!(
                        "{loc} may mutate only states/params; illegal: {}",
                        quoted_list(&names)
                    ),
                    span.clone(),
                );
            }
            let mut log = Vec::new();
            for entry in &ev.log {
                match self.log_signal(&entry.value) {
                    Ok(s) => log.push(s),
                    Err(msg) => self.error(
                        DiagKind::InvalidLog,
                        format!("{msg} in {loc}.log"),
                        entry.span.clone(),
                    ),
                }
            }
            let mut tags: Vec<String> = Vec::new();
            for tag in &ev.tags {
                let t = tag.value.as_str();
                if t.is_empty() {
                    self.error(
                        DiagKind::InvalidTag,
                        format!("{loc} tag cannot be empty"),
                        tag.span.clone(),
                    );
                } else if !(t.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
                    && t.chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-'))
                {
                    self.error(
                        DiagKind::InvalidTag,
                        format!("{loc} tag '{t}' is invalid. Tags must start with a letter or underscore and contain only letters, digits, underscores, and hyphens."),
                        tag.span.clone(),
                    );
                } else {
                    tags.push(t.to_string());
                }
            }
            tags.sort();
            tags.dedup();
            if let Some(cond) = cond {
                out.push(Event {
                    name: name.clone(),
                    phase: ev.phase,
                    cond,
                    actions,
                    log,
                    log_names: ev.log.iter().map(|l| l.value.clone()).collect(),
                    tags,
                });
            }
        }
        let mut tag_names: Vec<&String> = out.iter().flat_map(|e| e.tags.iter()).collect();
        tag_names.sort();
        tag_names.dedup();
        let tag_index = tag_names
            .into_iter()
            .map(|t| {
                (
                    t.clone(),
                    out.iter()
                        .enumerate()
                        .filter(|(_, e)| e.tags.contains(t))
                        .map(|(i, _)| i)
                        .collect(),
                )
            })
            .collect();
        (out, tag_index)
    }

    fn log_signal(&self, entry: &str) -> Result<LogSignal, String> {
        let raw = self.raw;
        let find = |list: &[RawNumber], n: &str| list.iter().position(|x| x.name.value == n);
        let aux = |n: &str| raw.aux.iter().position(|x| x.name.value == n);
        if let Some((prefix, name)) = entry.split_once(':') {
            let name = name.trim();
            return match prefix.trim() {
                "state" => find(&raw.states, name)
                    .map(LogSignal::State)
                    .ok_or(format!("Unknown state in log signal '{entry}'")),
                "param" => find(&raw.params, name)
                    .map(LogSignal::Param)
                    .ok_or(format!("Unknown parameter in log signal '{entry}'")),
                "aux" => aux(name).map(LogSignal::Aux).ok_or(format!(
                    "Unknown auxiliary variable in log signal '{entry}'"
                )),
                p => Err(format!(
                    "Unknown log signal prefix: '{p}' (use 'state:', 'param:', or 'aux:')"
                )),
            };
        }
        let n = entry.trim();
        if n == "t" {
            return Ok(LogSignal::Time);
        }
        find(&raw.states, n)
            .map(LogSignal::State)
            .or_else(|| find(&raw.params, n).map(LogSignal::Param))
            .or_else(|| aux(n).map(LogSignal::Aux))
            .ok_or_else(|| format!("Unknown signal in log specification: '{entry}' (log entries are t, a state, param or aux name, or state:/param:/aux: NAME; expressions are not allowed)"))
    }

    fn presets(&mut self) -> Vec<Preset> {
        let raw = self.raw;
        let mut out = Vec::new();
        for p in &raw.presets {
            let loc = format!("[presets.{}]", p.name.value);
            let mut resolve = |list: &[RawNumber],
                               within: &[RawNumber],
                               what: &str,
                               plural: &str|
             -> Vec<(usize, Number)> {
                let mut found = Vec::new();
                let mut bad: Vec<&str> = Vec::new();
                for v in list {
                    match within.iter().position(|x| x.name.value == v.name.value) {
                        Some(i) => found.push((i, v.value)),
                        None => bad.push(&v.name.value),
                    }
                }
                if !bad.is_empty() {
                    let valid: Vec<&str> = within.iter().map(|x| x.name.value.as_str()).collect();
                    let span = list
                        .iter()
                        .find(|v| v.name.value == bad[0])
                        .and_then(|v| v.name.span.clone());
                    self.diags.push(
                        Diagnostic::new(
                            DiagKind::Preset,
                            format!(
                                "{loc}.{plural} contains unknown {what}(s): {}. Valid {plural}: {}",
                                quoted_list(&bad),
                                quoted_list(&valid)
                            ),
                        )
                        .at(span),
                    );
                }
                found
            };
            let params = resolve(&p.params, &raw.params, "parameter", "params");
            let states = resolve(&p.states, &raw.states, "state", "states");
            out.push(Preset {
                name: p.name.value.clone(),
                params,
                states,
            });
        }
        out
    }

    /// An ODE's default horizon must not lie before its start (every run with the default
    /// `T` would be refused).
    fn sim_horizon(&mut self) {
        let sim = &self.raw.sim;
        if let (ModelKind::Ode, Some(t_end)) = (self.raw.kind, sim.t_end) {
            let t0 = sim.t0.unwrap_or(0.0);
            if t_end < t0 {
                self.error(
                    DiagKind::Sim,
                    format!("[sim].t_end = {t_end} is before [sim].t0 = {t0}"),
                    sim.span_of("t_end"),
                );
            }
        }
    }

    /// In an integer model every state and parameter value must fit the dtype once cast
    /// the way numpy casts (floats truncate toward zero); a value out of range would
    /// silently saturate or wrap.
    fn values_fit_dtype(&mut self) {
        use crate::raw::Dtype;
        let dtype = self.raw.dtype;
        if dtype.is_float() {
            return;
        }
        let raw = self.raw;
        for (table, list) in [("states", &raw.states), ("params", &raw.params)] {
            for v in list {
                let fits = match (v.value, dtype) {
                    (Number::Int(i), Dtype::Int32) => i32::try_from(i).is_ok(),
                    (Number::Int(_), _) => true,
                    // Truncation toward zero lands in range exactly for these intervals.
                    (Number::Float(f), Dtype::Int32) => f > -2_147_483_649.0 && f < 2_147_483_648.0,
                    (Number::Float(f), _) => {
                        (-9.223_372_036_854_776e18..9.223_372_036_854_776e18).contains(&f)
                    }
                };
                if !fits {
                    let shown = match v.value {
                        Number::Int(i) => i.to_string(),
                        Number::Float(f) => f.to_string(),
                    };
                    self.error(
                        DiagKind::InvalidValue,
                        format!(
                            "[{table}].{} = {shown} is out of range for the model's dtype {}",
                            v.name.value,
                            dtype.as_str()
                        ),
                        v.name.span.clone(),
                    );
                }
            }
        }
    }

    /// Rejects user function calls nested deeper than [`MAX_CALL_DEPTH`]: every call is
    /// inlined, each level a copy of a body inside another, and a chain of thousands would
    /// exhaust the compiler rather than fail clearly. Functions must be acyclic already.
    fn call_depth(&mut self, functions: &[Function]) -> bool {
        let n = functions.len();
        let callees: Vec<Vec<usize>> = functions
            .iter()
            .map(|f| f.body.called_functions())
            .collect();
        // Longest chain from each function (1 = calls no function), by an iterative
        // post-order walk: no recursion, however long the chain.
        let mut depth = vec![0usize; n];
        let mut next = vec![0usize; n];
        for root in 0..n {
            if depth[root] > 0 {
                continue;
            }
            let mut stack = vec![root];
            while let Some(&f) = stack.last() {
                if let Some(&g) = callees[f].get(next[f]) {
                    next[f] += 1;
                    if depth[g] == 0 {
                        stack.push(g);
                    }
                } else {
                    depth[f] = 1 + callees[f].iter().map(|&g| depth[g]).max().unwrap_or(0);
                    stack.pop();
                }
            }
        }
        let Some((top, &deepest)) = depth.iter().enumerate().max_by_key(|(_, d)| **d) else {
            return true;
        };
        if deepest <= MAX_CALL_DEPTH {
            return true;
        }
        let mut chain = vec![top];
        while let Some(&g) = callees[*chain.last().expect("non-empty")]
            .iter()
            .max_by_key(|&&g| depth[g])
        {
            chain.push(g);
        }
        let names: Vec<&str> = chain.iter().map(|&f| functions[f].name.as_str()).collect();
        let shown = crate::diag::chain(&names);
        self.error(
            DiagKind::Cycle,
            format!(
                "user functions call each other {deepest} levels deep ({shown}); every call is \
                 inlined, and at most {MAX_CALL_DEPTH} levels are allowed"
            ),
            self.raw.functions[top].name.span.clone(),
        );
        false
    }

    /// Rejects cycles among aux and functions; returns an aux evaluation order in which
    /// every aux follows the aux it depends on (directly or through functions).
    fn cycles(&mut self, aux: &[Aux], functions: &[Function]) -> Option<Vec<usize>> {
        // Nodes: aux 0..na, then functions.
        let na = aux.len();
        let node_name = |n: usize| {
            if n < na {
                aux[n].name.clone()
            } else {
                functions[n - na].name.clone()
            }
        };
        let edges: Vec<Vec<usize>> = aux
            .iter()
            .map(|a| &a.expr)
            .chain(functions.iter().map(|f| &f.body))
            .map(|e| {
                let mut out = Vec::new();
                e.walk(&mut |n| match &n.kind {
                    ExprKind::Name(id) => {
                        if let Res::Aux(i) = id.res {
                            out.push(i)
                        }
                    }
                    ExprKind::Call { func, .. } => {
                        if let Res::Function(j) = func.res {
                            out.push(na + j)
                        }
                    }
                    _ => {}
                });
                out
            })
            .collect();
        // Iterative DFS with colours: 0 new, 1 on stack, 2 done.
        let total = edges.len();
        let mut colour = vec![0u8; total];
        let mut post = Vec::new();
        let mut reported = false;
        for root in 0..total {
            if colour[root] != 0 {
                continue;
            }
            let mut stack = vec![(root, 0usize)];
            colour[root] = 1;
            while let Some((node, next)) = stack.last_mut() {
                let node = *node;
                if let Some(&succ) = edges[node].get(*next) {
                    *next += 1;
                    match colour[succ] {
                        0 => {
                            colour[succ] = 1;
                            stack.push((succ, 0));
                        }
                        1 if !reported => {
                            let (span_src, loc) = if succ < na {
                                (self.raw.aux[succ].name.span.clone(), "aux")
                            } else {
                                (self.raw.functions[succ - na].name.span.clone(), "function")
                            };
                            self.error(
                                DiagKind::Cycle,
                                format!("Cyclic dependency detected involving '{}' ({loc} that depends on itself)", node_name(succ)),
                                span_src,
                            );
                            reported = true;
                        }
                        _ => {}
                    }
                } else {
                    colour[node] = 2;
                    post.push(node);
                    stack.pop();
                }
            }
        }
        if reported {
            return None;
        }
        // Post-order puts dependencies first; keep only aux, and follow functions through.
        Some(post.into_iter().filter(|&n| n < na).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derivative_forms() {
        let states = ["x", "delta", "y"];
        let is = |n: &str| states.contains(&n);
        assert_eq!(derivative_of("dx", is), Some("x"));
        assert_eq!(derivative_of("d( x )", is), Some("x"));
        assert_eq!(derivative_of("dz", is), None);
        assert_eq!(derivative_of("delta", is), None);
    }
}
