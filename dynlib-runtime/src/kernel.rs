//! A compiled kernel: the model functions, one stepper, its runner and the initial-step
//! heuristic in one IR program, ready on a backend.

use std::sync::Arc;

use dynlib_interp::{Interpreter, Machine};
use dynlib_ir::lower::{lower_model, ModelFunctions};
use dynlib_ir::{Elem, FuncId, Program};
use dynlib_model::{Model, ModelKind};

use crate::error::RuntimeError;
use crate::runner::emit_runner;
use crate::stepper::{emit_initial_step, lookup, StepperKind, StepperSpec};

/// The model functions, stepper, runner and initial-step function of one model, as IR and
/// ready to run: the reference's `FullModel` (also exported under that name).
pub struct Kernel {
    /// The model.
    pub model: Arc<Model>,
    /// The stepper.
    pub stepper: &'static StepperSpec,
    /// The program and the ids of the model functions in it.
    pub functions: ModelFunctions,
    /// The single-step function.
    pub step_fn: FuncId,
    /// The runner loop.
    pub runner: FuncId,
    /// The adaptive initial step (adaptive steppers only).
    pub initial_step: Option<FuncId>,
    /// The interpreter over [`Kernel::functions`]'s program.
    pub(crate) interp: Interpreter,
}

impl Kernel {
    /// Lowers `model`, emits `stepper_name` (or the model's default stepper) and its runner,
    /// optimises the program and prepares the interpreter.
    pub fn build(model: Arc<Model>, stepper_name: Option<&str>) -> Result<Kernel, RuntimeError> {
        Kernel::build_with(model, stepper_name, true)
    }

    /// [`Kernel::build`], choosing whether the optimisation passes run (they never change a
    /// result bit; tests check exactly that).
    pub fn build_with(
        model: Arc<Model>,
        stepper_name: Option<&str>,
        optimize: bool,
    ) -> Result<Kernel, RuntimeError> {
        let name = stepper_name
            .unwrap_or_else(|| model.default_stepper())
            .to_string();
        let stepper = lookup(&name).ok_or_else(|| RuntimeError::UnknownStepper {
            name: name.clone(),
            known: crate::stepper::registry()
                .iter()
                .map(|s| s.name)
                .collect::<Vec<_>>()
                .join(", "),
        })?;
        let wanted = match model.kind {
            ModelKind::Ode => StepperKind::Ode,
            ModelKind::Map => StepperKind::Map,
        };
        if stepper.kind != wanted {
            return Err(RuntimeError::StepperKindMismatch {
                stepper: stepper.name.to_string(),
                stepper_kind: stepper.kind.as_str(),
                model_kind: model.kind.as_str(),
            });
        }
        let mut functions = lower_model(&model);
        let n = model.states.len();
        let step_fn = stepper.emit(&mut functions, n);
        let initial_step = stepper
            .adaptive
            .then(|| emit_initial_step(&mut functions, n, stepper.order));
        let runner = emit_runner(&model, &mut functions, stepper, step_fn);
        // Both backends run the optimised program; the passes never change a result bit.
        if optimize {
            dynlib_ir::passes::optimize(&mut functions.program);
        }
        let interp = Interpreter::new(&functions.program)
            .map_err(|e| RuntimeError::Backend(e.to_string()))?;
        Ok(Kernel {
            model,
            stepper,
            functions,
            step_fn,
            runner,
            initial_step,
            interp,
        })
    }

    /// The IR program.
    pub fn program(&self) -> &Program {
        &self.functions.program
    }

    /// The dtype's element type.
    pub fn elem(&self) -> Elem {
        self.functions.elem
    }

    /// The IR text of every function, by role: `rhs`, `inv_rhs`, `events_pre`,
    /// `events_post`, `update_aux`, `jacobian`, `jvp` (those the model has), `stepper`,
    /// `initial_step` (adaptive steppers) and `runner`; each as the backends run it.
    pub fn sources(&self) -> Vec<(&'static str, String)> {
        let f = &self.functions;
        let roles = [
            ("rhs", Some(f.rhs)),
            ("inv_rhs", f.inv_rhs),
            ("events_pre", Some(f.events_pre)),
            ("events_post", Some(f.events_post)),
            ("update_aux", Some(f.update_aux)),
            ("jacobian", f.jacobian),
            ("jvp", f.jvp),
            ("stepper", Some(self.step_fn)),
            ("initial_step", self.initial_step),
            ("runner", Some(self.runner)),
        ];
        roles
            .into_iter()
            .filter_map(|(role, id)| {
                id.map(|id| {
                    (
                        role,
                        dynlib_ir::print_function(self.program().func(id), Some(self.program())),
                    )
                })
            })
            .collect()
    }

    /// Writes each of [`Kernel::sources`] to `dir/<role>.ir` and the whole program (which the
    /// IR parser reads back) to `dir/program.ir`, creating `dir`. Returns the files written.
    pub fn export_sources(
        &self,
        dir: &std::path::Path,
    ) -> Result<Vec<std::path::PathBuf>, RuntimeError> {
        std::fs::create_dir_all(dir).map_err(|e| RuntimeError::file(dir, e))?;
        let mut written = Vec::new();
        let whole = ("program", dynlib_ir::print_program(self.program()));
        for (role, text) in self.sources().into_iter().chain([whole]) {
            let path = dir.join(format!("{role}.ir"));
            std::fs::write(&path, text).map_err(|e| RuntimeError::file(&path, e))?;
            written.push(path);
        }
        Ok(written)
    }

    /// A fresh per-thread interpreter workspace.
    pub fn machine(&self) -> Machine {
        Machine::new()
    }
}

/// The reference's name for a built model.
pub type FullModel = Kernel;
