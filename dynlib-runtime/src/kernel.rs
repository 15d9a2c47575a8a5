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
/// ready to run.
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
    /// and prepares the interpreter.
    pub fn build(model: Arc<Model>, stepper_name: Option<&str>) -> Result<Kernel, RuntimeError> {
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

    /// A fresh per-thread interpreter workspace.
    pub fn machine(&self) -> Machine {
        Machine::new()
    }
}
