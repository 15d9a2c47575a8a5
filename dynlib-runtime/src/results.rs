//! Results of a session: the recorded samples of every run since the last fresh run,
//! stitched together (runtime.md §1.5–1.6 with the DESIGN.md fixes S1 and S2), events as
//! tables by name and by tag, and segments.

use std::sync::Arc;

use dynlib_model::Model;

use crate::error::RuntimeError;
use crate::run::{spacing, Block, DVec, EventRow, RunOutput, Series, Status};

/// One run's contribution to the results.
#[derive(Clone, Debug, PartialEq)]
pub struct Segment {
    /// Position among the segments.
    pub id: usize,
    /// The run's tag, or `run#<id>`; made unique with `-2`, `-3`, ...
    pub name: String,
    /// First sample of the segment.
    pub rec_start: usize,
    /// Number of samples it added.
    pub rec_len: usize,
    /// First event row of the segment.
    pub evt_start: usize,
    /// Number of event rows it added.
    pub evt_len: usize,
    /// First recorded time of the segment.
    pub t_start: f64,
    /// Last recorded time of the segment.
    pub t_end: f64,
    /// First recorded step number.
    pub step_start: i64,
    /// Last recorded step number.
    pub step_end: i64,
    /// True when the run resumed the previous one.
    pub resume: bool,
}

/// Logged event rows as a table: one row per firing, one column per logged field.
#[derive(Clone, Debug, PartialEq)]
pub struct EventTable {
    /// Column names (the event's `log` entries as written, e.g. `t`, `v`, `aux:e`).
    pub fields: Vec<String>,
    /// The rows, in the order the events fired: the time as a float, values as the model
    /// computes them (exact integers in integer models).
    pub rows: Vec<Vec<dynlib_model::Number>>,
    /// The name of the event that logged each row.
    pub events: Vec<String>,
    /// For each row, the index of the last sample recorded before the event fired (-1 when
    /// nothing had been recorded yet). For `end`-phase events this is the pre-step sample.
    pub record_index: Vec<i64>,
}

impl EventTable {
    /// Number of rows.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// True when no row was logged.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// One column by field name, exactly.
    pub fn values(&self, field: &str) -> Result<Vec<dynlib_model::Number>, RuntimeError> {
        let k = self.fields.iter().position(|f| f == field).ok_or_else(|| {
            RuntimeError::not_found("event field", field, self.fields.iter().map(String::as_str))
        })?;
        Ok(self.rows.iter().map(|r| r[k]).collect())
    }

    /// One column by field name, as f64 (exact for floats and integers up to 2**53;
    /// [`EventTable::values`] is always exact).
    pub fn column(&self, field: &str) -> Result<Vec<f64>, RuntimeError> {
        Ok(self
            .values(field)?
            .into_iter()
            .map(|x| x.as_f64())
            .collect())
    }
}

/// A recorded series as the model computed it: floats in float models, ints in integer
/// models (an int64 value above 2**53 is never rounded through a float).
#[derive(Copy, Clone, Debug, PartialEq)]
pub enum Column<'a> {
    /// A float model's series.
    Float(&'a [f64]),
    /// An integer model's series.
    Int(&'a [i64]),
}

impl Column<'_> {
    /// Number of samples.
    pub fn len(&self) -> usize {
        match self {
            Column::Float(v) => v.len(),
            Column::Int(v) => v.len(),
        }
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Sample `i` exactly.
    pub fn number(&self, i: usize) -> dynlib_model::Number {
        match self {
            Column::Float(v) => dynlib_model::Number::Float(v[i]),
            Column::Int(v) => dynlib_model::Number::Int(v[i]),
        }
    }

    /// The samples as f64: exact for floats and for integers up to 2**53.
    pub fn to_f64(&self) -> Vec<f64> {
        match self {
            Column::Float(v) => v.to_vec(),
            Column::Int(v) => v.iter().map(|&x| x as f64).collect(),
        }
    }
}

impl<'a> From<&'a Series> for Column<'a> {
    fn from(s: &'a Series) -> Column<'a> {
        match s {
            Series::Float(v) => Column::Float(v),
            Series::Int(v) => Column::Int(v),
        }
    }
}

/// The results of a session's recording: samples, events and segments of the last fresh
/// run and every run that resumed it.
#[derive(Clone, Debug)]
pub struct Results {
    model: Arc<Model>,
    /// How the last run ended.
    pub status: Status,
    /// Recorded times (shifted back by a transient so they start at `t0`).
    pub t: Vec<f64>,
    /// Recorded step numbers (counted from the start of the recording, transient excluded).
    pub step: Vec<i64>,
    names: Vec<String>,
    /// Recorded states' series, in recording order; see [`Results::names`].
    states: Block,
    /// Recorded aux series, after the states in [`Results::names`].
    aux: Block,
    /// Logged event rows, with stitched record indices.
    pub events: Vec<EventRow>,
    /// One segment per run that recorded at least one sample.
    pub segments: Vec<Segment>,
    /// Things the user should know that did not stop the run (e.g. `max_steps` reached).
    pub warnings: Vec<String>,
    /// Final time of the session (absolute: not shifted by a transient).
    pub t_final: f64,
    /// Final state of the session, in the model dtype.
    pub y_final: DVec,
    /// Final parameters of the session, in the model dtype.
    pub params_final: DVec,
    /// Steps taken by the session, transients included.
    pub step_count: u64,
    /// Of the steps of the runs these results hold (transients included), those native
    /// code took; the rest ran in the interpreter (an interpreted kernel, or a tiered one
    /// before its native code was ready). Which backend took a step never changes a bit.
    pub native_steps: u64,
    /// The runner variant of the last run (`base`, `analysis`).
    pub variant: crate::runner::RunnerVariant,
    /// The observers' results of the last run (empty without observers); trace times are
    /// recorded times.
    pub observers: Vec<crate::observer::ObserverResult>,
    /// What the solver did over the runs these results hold (a resumed session's runs
    /// together), transients included.
    pub stats: crate::run::SolverStats,
}

impl Results {
    /// Empty results for recording `states` and `aux` (indices into the model's lists).
    pub(crate) fn new(model: Arc<Model>, states: &[usize], aux: &[usize]) -> Results {
        let names = Results::column_names(&model, states, aux);
        let elem = dynlib_ir::lower::elem_of(model.dtype);
        Results {
            states: Block::empty(elem, states.len()),
            aux: Block::empty(elem, aux.len()),
            names,
            status: Status::Done,
            t: Vec::new(),
            step: Vec::new(),
            events: Vec::new(),
            segments: Vec::new(),
            warnings: Vec::new(),
            variant: crate::runner::RunnerVariant::Base,
            observers: Vec::new(),
            stats: crate::run::SolverStats::default(),
            t_final: 0.0,
            y_final: DVec::zeros(elem, 0),
            params_final: DVec::zeros(elem, 0),
            step_count: 0,
            native_steps: 0,
            model,
        }
    }

    /// The columns' names for recording `states` and `aux`: states, then aux.
    fn column_names(model: &Model, states: &[usize], aux: &[usize]) -> Vec<String> {
        let mut names: Vec<String> = states
            .iter()
            .map(|&i| model.states[i].name.clone())
            .collect();
        names.extend(aux.iter().map(|&i| model.aux[i].name.clone()));
        names
    }

    /// True when these results record exactly `states` and then `aux`.
    pub(crate) fn has_columns(&self, states: &[usize], aux: &[usize]) -> bool {
        self.names == Results::column_names(&self.model, states, aux)
    }

    /// The model the results belong to.
    pub fn model(&self) -> &Arc<Model> {
        &self.model
    }

    /// Number of samples.
    pub fn len(&self) -> usize {
        self.t.len()
    }

    /// True when nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.t.is_empty()
    }

    /// Names of the recorded series, in recording order (states first, then aux).
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// True when the last run ended with `DONE` or `EARLY_EXIT`.
    pub fn ok(&self) -> bool {
        self.status.is_success()
    }

    /// The index of a recorded series by name (a state, an aux, or `aux.NAME`).
    fn position(&self, name: &str) -> Result<usize, RuntimeError> {
        let bare = name.strip_prefix("aux.").unwrap_or(name);
        self.names.iter().position(|n| n == bare).ok_or_else(|| {
            RuntimeError::not_found(
                "recorded variable",
                name,
                self.names.iter().map(String::as_str),
            )
        })
    }

    /// A recorded series of a float model: a state name, an aux name, or `aux.NAME`. An
    /// integer model's series are ints ([`Results::int_series`], [`Results::column`]): asking
    /// for them as floats is an error rather than a silent rounding above 2**53.
    pub fn series(&self, name: &str) -> Result<&[f64], RuntimeError> {
        match self.col(self.position(name)?) {
            Column::Float(v) => Ok(v),
            Column::Int(_) => Err(RuntimeError::Incompatible(format!(
                "'{name}' is a series of the integer model ({}): read it exactly with \
                 int_series(\"{name}\") or column(\"{name}\")",
                self.model.dtype.as_str()
            ))),
        }
    }

    /// A recorded series of an integer model, exactly.
    pub fn int_series(&self, name: &str) -> Result<&[i64], RuntimeError> {
        match self.col(self.position(name)?) {
            Column::Int(v) => Ok(v),
            Column::Float(_) => Err(RuntimeError::Incompatible(format!(
                "'{name}' is a series of the float model ({}): read it with series(\"{name}\")",
                self.model.dtype.as_str()
            ))),
        }
    }

    /// A recorded series as the model computed it, whatever its dtype.
    pub fn column(&self, name: &str) -> Result<Column<'_>, RuntimeError> {
        Ok(self.col(self.position(name)?))
    }

    /// Recorded series `k` (states, then aux).
    fn col(&self, k: usize) -> Column<'_> {
        match k.checked_sub(self.states.cols()) {
            None => self.states.column(k),
            Some(a) => self.aux.column(a),
        }
    }

    /// Every recorded series with its name, in recording order.
    pub fn all_series(&self) -> impl Iterator<Item = (&str, Column<'_>)> {
        self.names
            .iter()
            .map(String::as_str)
            .zip((0..self.names.len()).map(|k| self.col(k)))
    }

    /// The rows logged by one event.
    pub fn event(&self, name: &str) -> Result<EventTable, RuntimeError> {
        let idx = self
            .model
            .events
            .iter()
            .position(|e| e.name == name)
            .ok_or_else(|| {
                RuntimeError::not_found(
                    "event",
                    name,
                    self.model.events.iter().map(|e| e.name.as_str()),
                )
            })?;
        Ok(self.table(&[idx], self.model.events[idx].log_names.clone()))
    }

    /// The rows logged by every event carrying `tag`, in firing order. The columns are the
    /// fields all of them log (in the first event's order).
    pub fn events_by_tag(&self, tag: &str) -> Result<EventTable, RuntimeError> {
        let (_, idx) = self
            .model
            .tag_index
            .iter()
            .find(|(t, _)| t == tag)
            .ok_or_else(|| {
                RuntimeError::not_found(
                    "event tag",
                    tag,
                    self.model.tag_index.iter().map(|(t, _)| t.as_str()),
                )
            })?;
        let first = &self.model.events[idx[0]].log_names;
        let fields = first
            .iter()
            .filter(|f| {
                idx.iter()
                    .all(|&i| self.model.events[i].log_names.contains(f))
            })
            .cloned()
            .collect();
        Ok(self.table(idx, fields))
    }

    /// Names of the events that logged at least one row, with their counts.
    pub fn event_counts(&self) -> Vec<(&str, usize)> {
        self.model
            .events
            .iter()
            .enumerate()
            .map(|(i, e)| {
                (
                    e.name.as_str(),
                    self.events.iter().filter(|r| r.event == i).count(),
                )
            })
            .filter(|(_, n)| *n > 0)
            .collect()
    }

    fn table(&self, idx: &[usize], fields: Vec<String>) -> EventTable {
        let mut t = EventTable {
            fields,
            rows: Vec::new(),
            events: Vec::new(),
            record_index: Vec::new(),
        };
        for r in self.events.iter().filter(|r| idx.contains(&r.event)) {
            let ev = &self.model.events[r.event];
            t.rows.push(
                t.fields
                    .iter()
                    .map(|f| r.values[ev.log_names.iter().position(|g| g == f).unwrap_or(0)])
                    .collect(),
            );
            t.events.push(ev.name.clone());
            t.record_index.push(r.record_index);
        }
        t
    }

    /// A segment by name.
    pub fn segment(&self, name: &str) -> Result<&Segment, RuntimeError> {
        self.segments
            .iter()
            .find(|s| s.name == name)
            .ok_or_else(|| {
                RuntimeError::not_found(
                    "segment",
                    name,
                    self.segments.iter().map(|s| s.name.as_str()),
                )
            })
    }

    /// Appends one run's output. `step_offset` is the session's step count at the start of
    /// the recorded run (transient excluded), so STEP numbers continue across resumes
    /// (fixing the reference's S2). A first sample equal in time to the last one already
    /// held is the same sample and is dropped; the events of that first step are kept
    /// (fixing S1) and point at the held sample.
    pub(crate) fn stitch(
        &mut self,
        out: &RunOutput,
        step_offset: i64,
        resume: bool,
        tag: Option<&str>,
    ) -> Result<(), RuntimeError> {
        let prev_n = self.t.len();
        let skip = match (self.t.last(), out.t.first()) {
            (Some(&a), Some(&b)) => {
                let tol = spacing(a.abs().max(b.abs()).max(1.0));
                if b < a - tol {
                    return Err(RuntimeError::Internal(format!(
                        "recorded time went backwards when stitching runs ({b} after {a})"
                    )));
                }
                usize::from((a - b).abs() <= tol)
            }
            _ => 0,
        };
        let rec_start = prev_n;
        let evt_start = self.events.len();
        self.t.extend_from_slice(&out.t[skip.min(out.t.len())..]);
        self.step
            .extend(out.step.iter().skip(skip).map(|s| s + step_offset));
        self.states.append(&out.states, skip);
        self.aux.append(&out.aux, skip);
        let shift = prev_n as i64 - skip as i64;
        for e in &out.events {
            let mut e = e.clone();
            if e.record_index >= 0 {
                e.record_index += shift;
            } else if prev_n > 0 {
                e.record_index = prev_n as i64 - 1;
            }
            self.events.push(e);
        }
        self.push_segment(rec_start, evt_start, resume, tag);
        self.status = out.status;
        Ok(())
    }

    /// Takes a fresh run's output into these results, which hold nothing yet: the samples
    /// are moved, not copied ([`Results::stitch`] for results that hold samples).
    pub(crate) fn take_first(
        &mut self,
        out: RunOutput,
        step_offset: i64,
        resume: bool,
        tag: Option<&str>,
    ) {
        debug_assert!(self.t.is_empty() && self.events.is_empty() && self.segments.is_empty());
        let RunOutput {
            t,
            mut step,
            states,
            aux,
            events,
            status,
            ..
        } = out;
        if step_offset != 0 {
            step.iter_mut().for_each(|s| *s += step_offset);
        }
        (self.t, self.step, self.events) = (t, step, events);
        debug_assert_eq!(
            (states.cols(), aux.cols()),
            (self.states.cols(), self.aux.cols())
        );
        (self.states, self.aux) = (states, aux);
        self.push_segment(0, 0, resume, tag);
        self.status = status;
    }

    /// Records the samples and events added from `rec_start` and `evt_start` as a segment
    /// (a run that recorded nothing adds none).
    fn push_segment(
        &mut self,
        rec_start: usize,
        evt_start: usize,
        resume: bool,
        tag: Option<&str>,
    ) {
        let added = self.t.len() - rec_start;
        if added > 0 {
            let id = self.segments.len();
            let base = tag.map_or_else(|| format!("run#{id}"), str::to_string);
            let mut name = base.clone();
            let mut k = 2;
            while self.segments.iter().any(|s| s.name == name) {
                name = format!("{base}-{k}");
                k += 1;
            }
            self.segments.push(Segment {
                id,
                name,
                rec_start,
                rec_len: added,
                evt_start,
                evt_len: self.events.len() - evt_start,
                t_start: self.t[rec_start],
                t_end: *self.t.last().expect("added > 0"),
                step_start: self.step[rec_start],
                step_end: *self.step.last().expect("added > 0"),
                resume,
            });
        }
    }

    /// Shifts recorded times, trace times and logged `t` fields back by `shift` (a transient's length).
    pub(crate) fn unshift(model: &Model, out: &mut RunOutput, shift: f64) {
        if shift == 0.0 {
            return;
        }
        for t in &mut out.t {
            *t -= shift;
        }
        for t in out.observers.iter_mut().flat_map(|o| &mut o.trace_t) {
            *t -= shift;
        }
        for e in &mut out.events {
            for (k, name) in model.events[e.event].log_names.iter().enumerate() {
                if let (true, dynlib_model::Number::Float(t)) = (name == "t", e.values[k]) {
                    e.values[k] = dynlib_model::Number::Float(t - shift);
                }
            }
        }
    }
}
