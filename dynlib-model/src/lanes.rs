//! A model replicated side by side: `width` independent copies ("lanes") of one model as
//! one model, so that one run of it advances `width` runs of the original at once (the
//! runtime's lane batches).
//!
//! Layout: every state, parameter, aux and user function of the original becomes `width`
//! consecutive entries, lane-fastest (item `i` of lane `l` is item `i * width + l`, named
//! `NAME#l`). Lane-fastest keeps the copies of one equation next to each other, which is
//! what lets the compiler pack them into SIMD registers. Each copy's expressions are the
//! original's with every reference moved to its own lane, so each lane computes exactly
//! what the original computes, operation for operation.
use crate::expr::{Expr, Res};
use crate::model::{Aux, Equation, Function, Model, Var};

impl Model {
    /// This model as `width` independent lanes (module docs). Events, a stop condition, an
    /// inverse map and a declared Jacobian are not carried over: a model with events or a
    /// stop condition is refused (their firing would couple the lanes' runs), and the
    /// replicated model has no inverse or Jacobian (the steppers that can run lanes need
    /// neither). Presets are dropped.
    pub fn lanes(&self, width: usize) -> Result<Model, String> {
        if width == 0 {
            return Err("a model needs at least one lane".into());
        }
        if let Some(e) = self.events.first() {
            return Err(format!(
                "the model has events ('{}'): each run fires its own",
                e.name
            ));
        }
        if self.sim.stop.is_some() {
            return Err(
                "the model has a stop condition ([sim].stop): each run stops on its own".into(),
            );
        }
        let lane_of = |e: &Expr, l: usize| {
            let mut e = e.clone();
            e.for_each_ident_mut(&mut |id| {
                let moved = match id.res {
                    Res::State(i) => Some(Res::State(i * width + l)),
                    Res::Param(i) => Some(Res::Param(i * width + l)),
                    Res::Aux(i) => Some(Res::Aux(i * width + l)),
                    Res::Function(i) => Some(Res::Function(i * width + l)),
                    Res::Lag { state, depth } => Some(Res::Lag {
                        state: state * width + l,
                        depth,
                    }),
                    _ => None,
                };
                if let Some(res) = moved {
                    id.res = res;
                    id.name = format!("{}#{l}", id.name);
                }
            });
            e
        };
        let vars = |vs: &[Var]| -> Vec<Var> {
            vs.iter()
                .flat_map(|v| {
                    (0..width).map(move |l| Var {
                        name: format!("{}#{l}", v.name),
                        value: v.value,
                    })
                })
                .collect()
        };
        let mut m = self.clone();
        m.states = vars(&self.states);
        m.params = vars(&self.params);
        m.equations = self
            .equations
            .iter()
            .flat_map(|eq| {
                (0..width).map(move |l| Equation {
                    state: eq.state * width + l,
                    expr: lane_of(&eq.expr, l),
                })
            })
            .collect();
        m.aux = self
            .aux
            .iter()
            .flat_map(|a| {
                (0..width).map(move |l| Aux {
                    name: format!("{}#{l}", a.name),
                    expr: lane_of(&a.expr, l),
                })
            })
            .collect();
        m.aux_order = self
            .aux_order
            .iter()
            .flat_map(|&a| (0..width).map(move |l| a * width + l))
            .collect();
        m.functions = self
            .functions
            .iter()
            .flat_map(|f| {
                (0..width).map(move |l| Function {
                    name: format!("{}#{l}", f.name),
                    args: f.args.clone(),
                    body: lane_of(&f.body, l),
                })
            })
            .collect();
        m.lag_depths = self
            .lag_depths
            .iter()
            .flat_map(|&d| std::iter::repeat_n(d, width))
            .collect();
        m.inverse = None;
        m.jacobian = None;
        m.tag_index = Vec::new();
        m.presets = Vec::new();
        Ok(m)
    }
}
