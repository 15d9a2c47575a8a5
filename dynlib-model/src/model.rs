//! The validated model: what every later stage (lowering, steppers, runners) consumes.
//!
//! Architecture invariant: a [`Model`] is always valid. Every identifier in its expressions
//! is resolved, every equation target is a state, every event assignment targets a state or
//! param, aux and functions are acyclic, lags are collected. Later stages never re-validate.

use std::fmt::Write as _;
use std::sync::Arc;

use sha2::{Digest as _, Sha256};

use crate::expr::{print, Expr, ExprKind, Number, Res};
pub use crate::raw::{Dtype, ModelKind, Phase, SimValue};
use crate::source::SourceMap;

/// A named value: a state with its initial value or a param with its default.
#[derive(Clone, Debug, PartialEq)]
pub struct Var {
    /// The name.
    pub name: String,
    /// The value as written (an int stays an int); cast to the dtype at run time.
    pub value: Number,
}

/// A named constant, inlined as a literal wherever it is used.
#[derive(Clone, Debug, PartialEq)]
pub struct Constant {
    /// The name.
    pub name: String,
    /// The evaluated value.
    pub value: Number,
}

/// An equation: the derivative (ODE) or the next value (map) of one state.
#[derive(Clone, Debug, PartialEq)]
pub struct Equation {
    /// The state it defines.
    pub state: usize,
    /// The right-hand side.
    pub expr: Expr,
}

/// An auxiliary variable: a named expression, inlined where used and recordable.
#[derive(Clone, Debug, PartialEq)]
pub struct Aux {
    /// The name.
    pub name: String,
    /// The expression.
    pub expr: Expr,
}

/// A user function, inlined at each call (call by expression).
#[derive(Clone, Debug, PartialEq)]
pub struct Function {
    /// The name.
    pub name: String,
    /// Argument names; in the body they resolve to [`Res::Arg`].
    pub args: Vec<String>,
    /// The body.
    pub body: Expr,
}

/// What an event assignment writes.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// A state, by index.
    State(usize),
    /// A param, by index (it keeps the new value for the rest of the run).
    Param(usize),
}

/// One assignment of an event action. Assignments run in order, each seeing the previous.
#[derive(Clone, Debug, PartialEq)]
pub struct Assignment {
    /// What is written.
    pub target: Target,
    /// The new value.
    pub expr: Expr,
}

/// One logged signal of an event.
#[derive(Clone, Debug, PartialEq)]
pub enum LogSignal {
    /// The time of evaluation (always logged as f64).
    Time,
    /// A state's value after the actions.
    State(usize),
    /// A param's value after the actions.
    Param(usize),
    /// An aux value after the actions.
    Aux(usize),
}

/// An event: a condition checked at its phase, actions and a log.
#[derive(Clone, Debug, PartialEq)]
pub struct Event {
    /// The name; its index in [`Model::events`] is the one global event code.
    pub name: String,
    /// When it is evaluated.
    pub phase: Phase,
    /// The condition (truthy fires).
    pub cond: Expr,
    /// The actions, in order.
    pub actions: Vec<Assignment>,
    /// The logged signals, in order.
    pub log: Vec<LogSignal>,
    /// The log column names, as written (`t`, `x`, `aux:E`).
    pub log_names: Vec<String>,
    /// Tags, deduplicated and sorted.
    pub tags: Vec<String>,
}

/// Run defaults from `[sim]`, with the documented defaults filled in.
#[derive(Clone, Debug, PartialEq)]
pub struct SimDefaults {
    /// Initial time (0.0).
    pub t0: f64,
    /// Default horizon (1.0).
    pub t_end: f64,
    /// Step or label spacing (0.01).
    pub dt: f64,
    /// Stepper name, when the model names one.
    pub stepper: Option<String>,
    /// Whether runs record by default (true).
    pub record: bool,
    /// Absolute tolerance (1e-8).
    pub atol: f64,
    /// Relative tolerance (1e-5).
    pub rtol: f64,
    /// Step cap for ODEs, default iteration count for maps (1,000,000).
    pub max_steps: u64,
    /// Early-exit condition, checked after every committed step.
    pub stop: Option<Expr>,
    /// Other keys: stepper configuration defaults.
    pub extras: Vec<(String, SimValue)>,
}

impl SimDefaults {
    /// The numeric `[sim]` value named `key` (a documented key or a numeric extra): stepper
    /// configuration fields of the same name take their defaults from here.
    pub fn number(&self, key: &str) -> Option<f64> {
        match key {
            "t0" => Some(self.t0),
            "t_end" => Some(self.t_end),
            "dt" => Some(self.dt),
            "atol" => Some(self.atol),
            "rtol" => Some(self.rtol),
            "max_steps" => Some(self.max_steps as f64),
            _ => self
                .extras
                .iter()
                .find(|(k, _)| k == key)
                .and_then(|(_, v)| match v {
                    SimValue::Int(i) => Some(*i as f64),
                    SimValue::Float(x) => Some(*x),
                    _ => None,
                }),
        }
    }
}

/// A named set of param and state values.
#[derive(Clone, Debug, PartialEq)]
pub struct Preset {
    /// The name.
    pub name: String,
    /// Param index → value.
    pub params: Vec<(usize, Number)>,
    /// State index → value.
    pub states: Vec<(usize, Number)>,
}

/// A validated model.
#[derive(Clone, Debug)]
pub struct Model {
    /// ODE or map.
    pub kind: ModelKind,
    /// `[model].name`.
    pub name: Option<String>,
    /// The numeric type.
    pub dtype: Dtype,
    /// `[constants]`, in order.
    pub constants: Vec<Constant>,
    /// `[states]`, in order: the state vector.
    pub states: Vec<Var>,
    /// `[params]`, in order: the parameter vector.
    pub params: Vec<Var>,
    /// One equation per state that has one, sorted by state index. ODE states without one
    /// hold their value (zero derivative); maps must define every state.
    pub equations: Vec<Equation>,
    /// The inverse map, when declared.
    pub inverse: Option<Vec<Equation>>,
    /// The Jacobian, `jacobian[i][j]` = ∂f_i/∂x_j, when declared.
    pub jacobian: Option<Vec<Vec<Expr>>>,
    /// `[aux]`, in declaration order (their recording columns).
    pub aux: Vec<Aux>,
    /// An order in which every aux comes after the aux it uses.
    pub aux_order: Vec<usize>,
    /// `[functions]`, in declaration order.
    pub functions: Vec<Function>,
    /// `[events]`, in declaration order (the order is their priority).
    pub events: Vec<Event>,
    /// Tag → indices of the events carrying it, in declaration order; tags sorted.
    pub tag_index: Vec<(String, Vec<usize>)>,
    /// Per state, the deepest lag requested (0 = no ring).
    pub lag_depths: Vec<u32>,
    /// True when an equation uses a lag, directly or through aux, functions or macros.
    pub equations_use_lag: bool,
    /// `[sim]` defaults.
    pub sim: SimDefaults,
    /// `[presets]`, in order.
    pub presets: Vec<Preset>,
    /// The URI the model was loaded from.
    pub uri: String,
    /// The texts read while loading (for messages about the model later).
    pub sources: Arc<SourceMap>,
    /// How many independent copies of a model this one holds side by side: 1 for a model
    /// as loaded, the width for one [`Model::lanes`] replicated (code generation
    /// vectorizes across lanes).
    pub lanes: usize,
}

/// Version of the canonical form behind [`Model::digest`]; part of what is hashed.
const DIGEST_FORMAT: &str = "dynlib-model-digest-v1";

impl Model {
    /// State names in order.
    pub fn state_names(&self) -> Vec<&str> {
        self.states.iter().map(|s| s.name.as_str()).collect()
    }

    /// Param names in order.
    pub fn param_names(&self) -> Vec<&str> {
        self.params.iter().map(|s| s.name.as_str()).collect()
    }

    /// Index of a state by name.
    pub fn state_index(&self, name: &str) -> Option<usize> {
        self.states.iter().position(|s| s.name == name)
    }

    /// Index of a param by name.
    pub fn param_index(&self, name: &str) -> Option<usize> {
        self.params.iter().position(|s| s.name == name)
    }

    /// Index of an aux by name.
    pub fn aux_index(&self, name: &str) -> Option<usize> {
        self.aux.iter().position(|s| s.name == name)
    }

    /// An upper bound on how deeply lowering this model recurses, in expression levels: the
    /// deepest equation, event, aux or Jacobian expression plus the longest chain of
    /// function calls below it, counted as the sum of the bodies' heights along the chain
    /// (each call is inlined inside its caller). Aux are lowered one after another, never
    /// inside each other, so a long aux chain adds nothing. Small for almost every model;
    /// the runtime gives a model with a large bound a thread with a bigger stack.
    pub fn lowering_depth_bound(&self) -> usize {
        let mut deepest = 0;
        let mut see = |e: &Expr| deepest = deepest.max(e.height());
        for eq in self.equations.iter().chain(self.inverse.iter().flatten()) {
            see(&eq.expr);
        }
        for row in self.jacobian.iter().flatten() {
            row.iter().for_each(&mut see);
        }
        for ev in &self.events {
            see(&ev.cond);
            ev.actions.iter().for_each(|a| see(&a.expr));
        }
        self.aux.iter().for_each(|a| see(&a.expr));
        // The checker has made the calls acyclic and at most MAX_CALL_DEPTH deep, so the
        // recursion over the call graph is shallow.
        let callees: Vec<Vec<usize>> = self
            .functions
            .iter()
            .map(|f| f.body.called_functions())
            .collect();
        fn chain(f: usize, height: &[usize], callees: &[Vec<usize>], memo: &mut [usize]) -> usize {
            if memo[f] == 0 {
                let below = callees[f]
                    .iter()
                    .map(|&g| chain(g, height, callees, memo))
                    .max()
                    .unwrap_or(0);
                memo[f] = height[f] + below;
            }
            memo[f]
        }
        let height: Vec<usize> = self.functions.iter().map(|f| f.body.height()).collect();
        let mut memo = vec![0; self.functions.len()];
        let calls = (0..self.functions.len())
            .map(|f| chain(f, &height, &callees, &mut memo))
            .max()
            .unwrap_or(0);
        deepest + calls
    }

    /// True when some state has a lag ring.
    pub fn uses_lag(&self) -> bool {
        self.lag_depths.iter().any(|&d| d > 0)
    }

    /// The stepper used when a run names none: `[sim].stepper`, else `rk4` (ODE) or `map`.
    pub fn default_stepper(&self) -> &str {
        self.sim.stepper.as_deref().unwrap_or(match self.kind {
            ModelKind::Ode => "rk4",
            ModelKind::Map => "map",
        })
    }

    /// One line for people: `Model OK: kind=ode dtype=float64 states=3 stepper=rk4`.
    pub fn summary(&self) -> String {
        format!(
            "Model OK: kind={} dtype={} states={} stepper={}",
            self.kind.as_str(),
            self.dtype.as_str(),
            self.states.len(),
            self.default_stepper()
        )
    }

    /// The normalised expression text (single spaces, minimal parentheses).
    pub fn expr_text(&self, e: &Expr) -> String {
        print::to_string(e)
    }

    /// The structural digest: SHA-256 (hex) of a canonical text of everything that shapes
    /// compiled code: kind, dtype, state and param names in order, constants, equations,
    /// inverse, Jacobian, aux, functions, events (with tags), lag depths and the stop
    /// condition. Param values, initial states, presets, the name and the other `[sim]`
    /// defaults are runtime data and do not enter it; layout and spacing of the source do
    /// not either, because expressions are hashed in their normalised form.
    pub fn digest(&self) -> String {
        let hash = Sha256::digest(self.canonical_text().as_bytes());
        hash.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// The text [`Model::digest`] hashes; exposed so a change in a digest can be explained.
    pub fn canonical_text(&self) -> String {
        let mut s = String::new();
        let p = |e: &Expr| print::to_string(e);
        let _ = writeln!(
            s,
            "{DIGEST_FORMAT}\nkind {}\ndtype {}",
            self.kind.as_str(),
            self.dtype.as_str()
        );
        let _ = writeln!(s, "states {}", self.state_names().join(","));
        let _ = writeln!(s, "params {}", self.param_names().join(","));
        for c in &self.constants {
            let _ = writeln!(s, "const {} = {}", c.name, number_key(c.value));
        }
        for e in &self.equations {
            let _ = writeln!(s, "eq {} = {}", self.states[e.state].name, p(&e.expr));
        }
        for e in self.inverse.iter().flatten() {
            let _ = writeln!(s, "inv {} = {}", self.states[e.state].name, p(&e.expr));
        }
        for row in self.jacobian.iter().flatten() {
            let _ = writeln!(
                s,
                "jac {}",
                row.iter().map(p).collect::<Vec<_>>().join(" ; ")
            );
        }
        for a in &self.aux {
            let _ = writeln!(s, "aux {} = {}", a.name, p(&a.expr));
        }
        for f in &self.functions {
            let _ = writeln!(s, "fn {}({}) = {}", f.name, f.args.join(","), p(&f.body));
        }
        for ev in &self.events {
            let _ = writeln!(
                s,
                "event {} {} if {}",
                ev.name,
                ev.phase.as_str(),
                p(&ev.cond)
            );
            for a in &ev.actions {
                let _ = writeln!(s, "  set {} = {}", self.target_name(a.target), p(&a.expr));
            }
            let _ = writeln!(s, "  log {}", ev.log_names.join(","));
            let _ = writeln!(s, "  tags {}", ev.tags.join(","));
        }
        let _ = writeln!(s, "lags {:?}", self.lag_depths);
        if let Some(stop) = &self.sim.stop {
            let _ = writeln!(s, "stop {}", p(stop));
        }
        s
    }

    /// The name of an assignment target.
    pub fn target_name(&self, t: Target) -> &str {
        match t {
            Target::State(i) => &self.states[i].name,
            Target::Param(i) => &self.params[i].name,
        }
    }

    /// A human description of the normalised model: `dynlib model show` prints it.
    pub fn show(&self) -> String {
        let mut s = String::new();
        let p = |e: &Expr| print::to_string(e);
        let _ = writeln!(s, "model: {}", self.name.as_deref().unwrap_or("(unnamed)"));
        let _ = writeln!(s, "uri: {}", self.uri);
        let _ = writeln!(
            s,
            "kind: {}  dtype: {}  stepper: {}",
            self.kind.as_str(),
            self.dtype.as_str(),
            self.default_stepper()
        );
        let _ = writeln!(s, "digest: {}", self.digest());
        let vars = |vs: &[Var]| {
            vs.iter()
                .map(|v| format!("{}={}", v.name, v.value))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let _ = writeln!(s, "\nstates: {}", vars(&self.states));
        let _ = writeln!(s, "params: {}", vars(&self.params));
        if !self.constants.is_empty() {
            let cs = self
                .constants
                .iter()
                .map(|c| format!("{}={}", c.name, c.value))
                .collect::<Vec<_>>()
                .join(", ");
            let _ = writeln!(s, "constants: {cs}");
        }
        let _ = writeln!(s, "\nequations:");
        for st in 0..self.states.len() {
            let name = &self.states[st].name;
            match (self.equations.iter().find(|e| e.state == st), self.kind) {
                (Some(e), ModelKind::Ode) => writeln!(s, "  d{name}/dt = {}", p(&e.expr)),
                (Some(e), ModelKind::Map) => writeln!(s, "  {name}' = {}", p(&e.expr)),
                (None, _) => writeln!(s, "  d{name}/dt = 0  (no equation: held constant)"),
            }
            .ok();
        }
        if let Some(inv) = &self.inverse {
            let _ = writeln!(s, "\ninverse:");
            for e in inv {
                let _ = writeln!(s, "  {} = {}", self.states[e.state].name, p(&e.expr));
            }
        }
        if let Some(j) = &self.jacobian {
            let _ = writeln!(s, "\njacobian:");
            for row in j {
                let _ = writeln!(
                    s,
                    "  [{}]",
                    row.iter().map(p).collect::<Vec<_>>().join(", ")
                );
            }
        }
        if !self.aux.is_empty() {
            let _ = writeln!(s, "\naux:");
            for a in &self.aux {
                let _ = writeln!(s, "  {} = {}", a.name, p(&a.expr));
            }
        }
        if !self.functions.is_empty() {
            let _ = writeln!(s, "\nfunctions:");
            for f in &self.functions {
                let _ = writeln!(s, "  {}({}) = {}", f.name, f.args.join(", "), p(&f.body));
            }
        }
        if !self.events.is_empty() {
            let _ = writeln!(s, "\nevents:");
            for ev in &self.events {
                let _ = writeln!(
                    s,
                    "  {} [{}]: when {}",
                    ev.name,
                    ev.phase.as_str(),
                    p(&ev.cond)
                );
                for a in &ev.actions {
                    let _ = writeln!(s, "    {} = {}", self.target_name(a.target), p(&a.expr));
                }
                if !ev.log_names.is_empty() {
                    let _ = writeln!(s, "    log: {}", ev.log_names.join(", "));
                }
                if !ev.tags.is_empty() {
                    let _ = writeln!(s, "    tags: {}", ev.tags.join(", "));
                }
            }
        }
        let lags: Vec<String> = self
            .lag_depths
            .iter()
            .enumerate()
            .filter(|(_, &d)| d > 0)
            .map(|(i, d)| format!("{}:{d}", self.states[i].name))
            .collect();
        if !lags.is_empty() {
            let _ = writeln!(s, "\nlags: {}", lags.join(", "));
        }
        if let Some(stop) = &self.sim.stop {
            let _ = writeln!(s, "\nstop: {}", p(stop));
        }
        if !self.presets.is_empty() {
            let names: Vec<&str> = self.presets.iter().map(|p| p.name.as_str()).collect();
            let _ = writeln!(s, "\npresets: {}", names.join(", "));
        }
        s
    }
}

/// A number in the canonical text: exact bits for floats, so equal text means equal value.
fn number_key(n: Number) -> String {
    match n {
        Number::Int(i) => format!("i{i}"),
        Number::Float(f) => format!("f{:016x}", f.to_bits()),
    }
}

/// True when `e` reads a lag, directly, through a macro, or through the given aux and
/// function bodies (which must be acyclic). See [`LagUse`] to ask for many expressions.
pub fn uses_lag(e: &Expr, aux: &[Aux], functions: &[Function]) -> bool {
    LagUse::new(aux, functions).uses(e)
}

/// Which aux and functions read a lag, directly or through others: found once for all of
/// them, without recursion (chains of any length use constant stack) and in linear time
/// (each body is scanned once, each reference followed once, backwards from the readers).
pub struct LagUse {
    aux: Vec<bool>,
    functions: Vec<bool>,
}

/// What one expression references: whether it reads a lag itself, and the aux and
/// functions it names.
fn references(e: &Expr) -> (bool, Vec<usize>, Vec<usize>) {
    let mut direct = false;
    let (mut aux, mut functions) = (Vec::new(), Vec::new());
    e.walk(&mut |n| match &n.kind {
        ExprKind::Call { func, .. } => match &func.res {
            Res::Lag { .. } => direct = true,
            Res::Builtin(b) if b.needs_lag() => direct = true,
            Res::Function(i) => functions.push(*i),
            _ => {}
        },
        ExprKind::Name(id) => {
            if let Res::Aux(i) = id.res {
                aux.push(i);
            }
        }
        _ => {}
    });
    (direct, aux, functions)
}

impl LagUse {
    /// The analysis of a model's aux and functions.
    pub fn new(aux: &[Aux], functions: &[Function]) -> LagUse {
        // Nodes: aux 0..na, then functions. Edges go from a body to what it names; the
        // flag flows backwards, from the readers of lags to whoever names them.
        let na = aux.len();
        let total = na + functions.len();
        let mut referrers: Vec<Vec<usize>> = vec![Vec::new(); total];
        let mut flagged = vec![false; total];
        let mut queue = Vec::new();
        let bodies = aux
            .iter()
            .map(|a| &a.expr)
            .chain(functions.iter().map(|f| &f.body));
        for (node, body) in bodies.enumerate() {
            let (direct, a, f) = references(body);
            for target in a.into_iter().chain(f.into_iter().map(|j| na + j)) {
                referrers[target].push(node);
            }
            if direct {
                flagged[node] = true;
                queue.push(node);
            }
        }
        while let Some(node) = queue.pop() {
            for &r in &referrers[node] {
                if !flagged[r] {
                    flagged[r] = true;
                    queue.push(r);
                }
            }
        }
        let functions = flagged.split_off(na);
        LagUse {
            aux: flagged,
            functions,
        }
    }

    /// True when `e` reads a lag, itself or through the aux and functions it names.
    pub fn uses(&self, e: &Expr) -> bool {
        let (direct, aux, functions) = references(e);
        direct
            || aux.into_iter().any(|i| self.aux[i])
            || functions.into_iter().any(|i| self.functions[i])
    }
}
