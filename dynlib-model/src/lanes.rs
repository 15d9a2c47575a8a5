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
        if let Some(why) = self.lanes_refusal() {
            return Err(why);
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
        // Item i of lane l at i * width + l.
        fn replicate<T, U>(items: &[T], width: usize, copy: impl Fn(&T, usize) -> U) -> Vec<U> {
            items
                .iter()
                .flat_map(|x| (0..width).map(move |l| (x, l)))
                .map(|(x, l)| copy(x, l))
                .collect()
        }
        let var = |v: &Var, l: usize| Var {
            name: format!("{}#{l}", v.name),
            value: v.value,
        };
        let mut m = self.clone();
        m.states = replicate(&self.states, width, var);
        m.params = replicate(&self.params, width, var);
        m.equations = replicate(&self.equations, width, |eq, l| Equation {
            state: eq.state * width + l,
            expr: lane_of(&eq.expr, l),
        });
        m.aux = replicate(&self.aux, width, |a, l| Aux {
            name: format!("{}#{l}", a.name),
            expr: lane_of(&a.expr, l),
        });
        m.aux_order = replicate(&self.aux_order, width, |&a, l| a * width + l);
        m.functions = replicate(&self.functions, width, |f, l| Function {
            name: format!("{}#{l}", f.name),
            args: f.args.clone(),
            body: lane_of(&f.body, l),
        });
        m.lag_depths = replicate(&self.lag_depths, width, |&d, _| d);
        m.inverse = None;
        m.jacobian = None;
        m.tag_index = Vec::new();
        m.presets = Vec::new();
        m.lanes = self.lanes * width;
        Ok(m)
    }

    /// Why this model cannot be replicated into lanes (`None`: it can): events or a stop
    /// condition, whose firing would couple the lanes' runs.
    pub fn lanes_refusal(&self) -> Option<String> {
        if let Some(e) = self.events.first() {
            return Some(format!(
                "the model has events ('{}'): each run fires its own",
                e.name
            ));
        }
        self.sim.stop.as_ref().map(|_| {
            "the model has a stop condition ([sim].stop): each run stops on its own".to_string()
        })
    }
}
