//! `dynlib run`: options into a session run, results into a summary, JSON, CSV, Parquet,
//! Arrow or `.npz` (by `--format`, or by the `-o` file's extension).
//!
//! CSV, Parquet and Arrow hold one table: `t`, `step`, then one column per recorded
//! variable (floats, or exact integers for an integer model). Parquet and Arrow files carry
//! the rest of the JSON output as the JSON text of their schema's `dynlib` metadata key
//! (model, stepper, status, steps, final state, event tables, warnings). An `.npz` holds
//! the arrays `t`, `step`, one per recorded variable, and per logged event one array per
//! field, `events/NAME/FIELD`, plus `events/NAME/record_index`.

use std::fmt::Write as _;
use std::io::{self, Write};
use std::sync::OnceLock;
use std::time::Instant;

/// When `main` started: `timing.ready_s` in the JSON output is the time from there to a
/// ready kernel (what a user waits for in a new process, minus the dynamic loader).
pub static PROCESS_START: OnceLock<Instant> = OnceLock::new();

use clap::Args;
use serde_json::{json, Map, Value};

use dynlib::model::Number;
use dynlib::runtime::json::{float as num, number};
use dynlib::runtime::Column;
use dynlib::{Results, RunOptions, RuntimeError, SetupOptions, Sim};

use crate::columnar::{Col, ColType};
use crate::sink::Sink;

/// Set when a command asked for the disk cache with --jit: a background compilation still
/// running at exit is then waited for (its unit goes to the cache) instead of abandoned.
pub static WAIT_FOR_COMPILES: std::sync::atomic::AtomicBool =
    std::sync::atomic::AtomicBool::new(false);

/// How `dynlib run` and `dynlib sweep` build their model.
#[derive(Args, Debug)]
pub struct BuildArgs {
    /// Stepper name or alias (default: the model's [sim].stepper, else rk4 / map).
    #[arg(long)]
    pub stepper: Option<String>,
    /// Compile the kernel with LLVM.
    #[arg(long)]
    pub jit: bool,
    /// With --jit: no tiered start. By default a --jit run starts at once in the
    /// interpreter while the kernel compiles and switches to native code when it is ready
    /// (the same numbers); with --no-tier it waits for the compiled kernel and every step
    /// runs natively (for timing native code).
    #[arg(long)]
    pub no_tier: bool,
    /// Keep compiled objects in the disk cache (with --jit). A tiered run that ends before
    /// its kernel is compiled waits for it at exit, so the cache holds it next time.
    #[arg(long)]
    pub disk_cache: bool,
    /// A mod URI to apply (repeatable, applied in order).
    #[arg(long = "mod", value_name = "URI")]
    pub mods: Vec<String>,
    /// Compute the maximum Lyapunov exponent along each run (through the model's
    /// [equations.jacobian], or the one derived from its right-hand side; flows need a
    /// fixed-step euler, rk2, rk4, ab2 or ab3).
    #[arg(long)]
    pub lyapunov: bool,
    /// With --lyapunov: the first K exponents (the spectrum) instead of the maximum one.
    #[arg(long, value_name = "K", requires = "lyapunov")]
    pub k: Option<usize>,
    /// Run the ordinary loop even where the fast path could (the same results; for
    /// comparisons).
    #[arg(long)]
    pub no_fastpath: bool,
}

impl BuildArgs {
    /// The setup options these arguments ask for, with `config`.
    pub fn setup(&self, config: &dynlib::Config) -> SetupOptions {
        let mut setup = SetupOptions::default()
            .jit(self.jit)
            .tiered(!self.no_tier)
            .disk_cache(self.disk_cache)
            .config(config.clone());
        if self.jit && self.disk_cache {
            WAIT_FOR_COMPILES.store(true, std::sync::atomic::Ordering::Relaxed);
        }
        setup.stepper = self.stepper.clone();
        setup.mods = self.mods.clone();
        if self.lyapunov {
            use dynlib::runtime::{LyapunovMle, LyapunovSpectrum, Observers};
            setup.observers = Some(match self.k {
                Some(k) => Observers::one(LyapunovSpectrum::new(k)),
                None => Observers::one(LyapunovMle),
            });
        }
        setup
    }

    /// The runs' fast-path choice: automatic, or never with `--no-fastpath`.
    pub fn fastpath(&self) -> Option<bool> {
        self.no_fastpath.then_some(false)
    }
}

/// The Lyapunov exponent(s) of a run's observers: the maximum exponent as a number, the
/// spectrum as an array (`null` when the run has none).
pub(crate) fn lyapunov_json(observers: &[dynlib::runtime::ObserverResult]) -> Value {
    observers
        .iter()
        .find_map(|o| match o.key.as_str() {
            "lyapunov_mle" => o.mle().map(num),
            "lyapunov_spectrum" => o
                .spectrum()
                .map(|s| Value::Array(s.into_iter().map(num).collect())),
            _ => None,
        })
        .unwrap_or(Value::Null)
}

/// The horizon and step of `dynlib run` and `dynlib sweep`.
#[derive(Args, Debug)]
pub struct HorizonArgs {
    /// Absolute end time (ODE; for maps N = round((T - t0)/dt)).
    #[arg(
        long,
        value_name = "T",
        conflicts_with = "n",
        allow_hyphen_values = true
    )]
    pub t_end: Option<f64>,
    /// Absolute number of iterations (maps; after the transient).
    #[arg(short = 'n', long = "n", value_name = "N")]
    pub n: Option<u64>,
    /// Step (ODE) or label spacing (map).
    #[arg(long, allow_hyphen_values = true)]
    pub dt: Option<f64>,
}

/// The options of `dynlib run`.
#[derive(Args, Debug)]
#[command(allow_negative_numbers = true)]
pub struct RunArgs {
    /// The model URI: builtin://kind/name, a path, TAG://rel/path, or "inline: ...".
    pub uri: String,
    /// How to build the model.
    #[command(flatten)]
    pub build: BuildArgs,
    /// Compute in this dtype instead of [model].dtype (float64, float32, int64, int32).
    #[arg(long)]
    pub dtype: Option<String>,
    /// How long and with what step.
    #[command(flatten)]
    pub horizon: HorizonArgs,
    /// Start time.
    #[arg(long, allow_hyphen_values = true)]
    pub t0: Option<f64>,
    /// Start from the model's preset NAME (its parameters and states; `--param` and `--ic`
    /// override it).
    #[arg(long, value_name = "NAME")]
    pub preset: Option<String>,
    /// Set a parameter (repeatable; integers are exact: 9007199254740993 stays itself).
    #[arg(long = "param", value_name = "NAME=V", value_parser = exact_assignment)]
    pub params: Vec<(String, Number)>,
    /// Set an initial state (repeatable; integers are exact).
    #[arg(long = "ic", value_name = "NAME=V", value_parser = exact_assignment)]
    pub ic: Vec<(String, Number)>,
    /// Set a stepper configuration field, e.g. rtol=1e-8 (repeatable).
    #[arg(long = "stepper-config", value_name = "NAME=V", value_parser = assignment)]
    pub stepper_config: Vec<(String, f64)>,
    /// Record every K steps.
    #[arg(long, value_name = "K")]
    pub record_interval: Option<u64>,
    /// What to record, comma separated: state names and aux.NAME (default: all states).
    #[arg(long, value_name = "a,b,aux.c", value_delimiter = ',')]
    pub record_vars: Option<Vec<String>>,
    /// Record no samples (events are still logged).
    #[arg(long)]
    pub no_record: bool,
    /// Warm up before recording: time (ODE) or iterations (map).
    #[arg(long, value_name = "X", allow_hyphen_values = true)]
    pub transient: Option<f64>,
    /// Step cap (ODE).
    #[arg(long, value_name = "N")]
    pub max_steps: Option<u64>,
    /// Write the output to FILE instead of standard output (its format from the extension:
    /// .json, .csv, .parquet, .arrow or .npz; any other, the summary). For `dynlib plot`: the
    /// picture, .svg or .png.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<std::path::PathBuf>,
    /// Output format (default: from the -o extension, else summary).
    #[arg(long, value_enum)]
    pub format: Option<Format>,
    /// No progress line (it shows on a terminal when a run takes over a second).
    #[arg(long, short = 'q')]
    pub quiet: bool,
}

/// How `dynlib run` and `dynlib sweep` write their results.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// A few lines for people.
    Summary,
    /// One JSON object (DESIGN.md "Public interfaces").
    Json,
    /// Rows for spreadsheets and data frames.
    Csv,
    /// The CSV's rows and columns as Apache Parquet.
    Parquet,
    /// The CSV's rows and columns as an Arrow IPC file.
    Arrow,
    /// numpy's `.npz`: one array per column.
    Npz,
}

impl Format {
    /// The format: `explicit`, else the output file's extension, else a summary. An
    /// extension that names no format (`run.txt`, `/dev/fd/3`) gives `otherwise` when there
    /// is one (`dynlib run` writes its summary there, as it always did), else an error that
    /// lists the extensions.
    pub fn resolve(
        explicit: Option<Format>,
        output: Option<&std::path::Path>,
        otherwise: Option<Format>,
    ) -> Result<Format, RuntimeError> {
        if let Some(f) = explicit {
            return Ok(f);
        }
        let Some(path) = output else {
            return Ok(Format::Summary);
        };
        let ext = path.extension().and_then(|e| e.to_str());
        match ext.map(str::to_ascii_lowercase).as_deref() {
            Some("json") => Ok(Format::Json),
            Some("csv") => Ok(Format::Csv),
            Some("parquet") => Ok(Format::Parquet),
            Some("arrow" | "feather") => Ok(Format::Arrow),
            Some("npz") => Ok(Format::Npz),
            _ => otherwise.ok_or_else(|| {
                RuntimeError::option(
                    "output",
                    format!(
                        "cannot tell the format of {} from its extension {}: use .json, .csv, \
                         .parquet, .arrow or .npz, or give --format",
                        path.display(),
                        ext.map_or("(none)".to_string(), |e| format!(".{e}"))
                    ),
                )
            }),
        }
    }

    /// The columnar file kind of this format, if it is one.
    pub fn columnar(self) -> Option<crate::columnar::Kind> {
        use crate::columnar::Kind;
        match self {
            Format::Parquet => Some(Kind::Parquet),
            Format::Arrow => Some(Kind::Arrow),
            Format::Npz => Some(Kind::Npz),
            Format::Summary | Format::Json | Format::Csv => None,
        }
    }
}

/// `NAME=VALUE` where VALUE is an integer (kept exact, all 64 bits) or a float.
pub(crate) fn exact_assignment(s: &str) -> Result<(String, Number), String> {
    let (name, _) = assignment(s)?;
    let value = s.split_once('=').map(|(_, v)| v.trim()).unwrap_or_default();
    let digits = value.strip_prefix(['-', '+']).unwrap_or(value);
    let is_int = !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit());
    let number = if is_int {
        value
            .parse::<i64>()
            .map(Number::Int)
            .map_err(|_| format!("'{value}' does not fit a 64-bit integer (in '{s}')"))?
    } else {
        Number::Float(assignment(s)?.1)
    };
    Ok((name, number))
}

/// `NAME=V` for a stepper configuration field: a number or one of the field's named values.
pub(crate) fn assignment(s: &str) -> Result<(String, f64), String> {
    let (name, value) = s
        .split_once('=')
        .ok_or_else(|| format!("expected NAME=VALUE, got '{s}'"))?;
    let name = name.trim();
    if name.is_empty() {
        return Err(format!("expected NAME=VALUE, got '{s}'"));
    }
    let value = value.trim();
    // A number, or the name of one of the field's values (`jacobian_mode=auto`).
    let v = match value.parse::<f64>() {
        Ok(v) => v,
        Err(_) => dynlib::runtime::stepper::config_choice(name, value)?,
    };
    Ok((name.to_string(), v))
}

/// Runs the model and writes its results (summary, JSON or CSV) where `args` says; returns
/// the failure of a run that failed (its partial results are written all the same). The
/// output is checked and opened before the run starts.
pub fn run(
    args: &RunArgs,
    interrupt: &dynlib::runtime::Interrupt,
) -> Result<Option<RuntimeError>, Box<dyn std::error::Error>> {
    let format = Format::resolve(args.format, args.output.as_deref(), Some(Format::Summary))?;
    let sink = Sink::prepare(args.output.as_deref())?;
    let (sim, failure, timing) = simulate(args, sink.path(), interrupt)?;
    let [build_s, _, run_s] = timing;
    // JSON, CSV and the summary are streamed from the results; Parquet and Arrow copy the
    // samples into one table, and an .npz is assembled whole (zip's directory needs every
    // member's size) before it is written.
    let res = sim.results()?;
    match format {
        Format::Json => sink.write(|w| write_json(w, &sim, res, timing, true))?,
        Format::Csv => sink.write(|w| write_csv(w, res))?,
        Format::Npz => sink.write(|w| crate::npz::write(npz_arrays(sim.model(), res)?, w))?,
        Format::Parquet | Format::Arrow => {
            let kind = format.columnar().expect("a columnar format");
            let (fields, table) = sample_table(res);
            let meta = [("dynlib".to_string(), metadata_json(&sim, res, timing)?)];
            sink.write(|w| crate::columnar::write(kind, &fields, std::iter::once(table), &meta, w))?
        }
        Format::Summary => {
            let text = summary(&sim, build_s, run_s)?;
            let text = if matches!(sink, Sink::Stdout) {
                dynlib::model::diag::printable(&text).into_owned()
            } else {
                text
            };
            sink.write(|w| w.write_all(text.as_bytes()))?
        }
    }
    Ok(failure)
}

/// A finished run: the session, the failure of a run that failed, `[build_s, ready_s,
/// run_s]`.
pub(crate) type Simulated = (Sim, Option<RuntimeError>, [f64; 3]);

/// Builds the model and runs it as `args` say (with a progress line on a terminal), after
/// refusing an `output` that is one of the run's inputs; returns the session, the failure
/// of a run that failed (its partial results are in the session all the same) and the
/// timing `[build_s, ready_s, run_s]`.
pub(crate) fn simulate(
    args: &RunArgs,
    output: Option<&std::path::Path>,
    interrupt: &dynlib::runtime::Interrupt,
) -> Result<Simulated, Box<dyn std::error::Error>> {
    let config = dynlib::Config::load()?;
    let mut setup = args.build.setup(&config);
    setup.dtype = args.dtype.clone();
    let start = Instant::now();
    let mut sim = dynlib::setup(&args.uri, &setup)?;
    if let Some(out) = output {
        refuse_input_as_output(out, sim.model(), &config)?;
    }
    let build_s = start.elapsed().as_secs_f64();
    let ready_s = PROCESS_START
        .get()
        .unwrap_or(&start)
        .elapsed()
        .as_secs_f64();
    let (params, ic) = with_preset(sim.model(), args.preset.as_deref(), &args.params, &args.ic)?;
    let o = RunOptions {
        t0: args.t0,
        t_end: args.horizon.t_end,
        n: args.horizon.n,
        dt: args.horizon.dt,
        max_steps: args.max_steps,
        record: args.no_record.then_some(false),
        record_interval: args.record_interval,
        record_vars: args.record_vars.clone(),
        transient: args.transient,
        ic,
        params,
        stepper_config: args.stepper_config.clone(),
        interrupt: Some(interrupt.clone()),
        fastpath: args.build.fastpath(),
        ..RunOptions::default()
    };
    let bar = crate::progress::Bar::new(args.quiet);
    let o = match &bar {
        Some(bar) => {
            let bar = bar.clone();
            RunOptions {
                progress: Some(dynlib::runtime::ProgressHook::new(move |p| bar.run(p))),
                ..o
            }
        }
        None => o,
    };
    let start = Instant::now();
    let outcome = sim.run(&o);
    if let Some(bar) = &bar {
        bar.finish();
    }
    let failure = match outcome {
        Ok(_) => None,
        Err(e @ RuntimeError::RunFailed { .. }) => Some(e),
        Err(e) => return Err(e.into()),
    };
    crate::signals::run_finished();
    let run_s = start.elapsed().as_secs_f64();
    Ok((sim, failure, [build_s, ready_s, run_s]))
}

/// The run's parameter and state assignments: the model's preset `preset` (an error names
/// the presets there are), then `params` and `ic`, which override it.
pub(crate) fn with_preset(
    model: &dynlib::Model,
    preset: Option<&str>,
    params: &[(String, Number)],
    ic: &[(String, Number)],
) -> Result<
    (
        dynlib::runtime::preset::Assignments,
        dynlib::runtime::preset::Assignments,
    ),
    RuntimeError,
> {
    let (mut p, mut s) = match preset {
        Some(name) => dynlib::runtime::Presets::from_model(model)
            .get(name)?
            .assignments(model),
        None => (Vec::new(), Vec::new()),
    };
    p.extend(params.iter().cloned());
    s.extend(ic.iter().cloned());
    Ok((p, s))
}

/// Refuses an output path that is one of the run's inputs (the model, a mod file, the
/// configuration file): writing the results there would destroy it.
pub(crate) fn refuse_input_as_output(
    out: &std::path::Path,
    model: &dynlib::Model,
    config: &dynlib::Config,
) -> Result<(), RuntimeError> {
    let files = model.sources.files();
    let inputs = files
        .iter()
        .filter_map(|f| f.path.as_deref().map(std::path::Path::new))
        .chain(config.file());
    for input in inputs {
        if dynlib_fs::same_file(out, input) {
            return Err(RuntimeError::option(
                "output",
                format!(
                    "{} is an input of this run ({}); writing the results there would \
                     overwrite it: choose another file",
                    out.display(),
                    input.display()
                ),
            ));
        }
    }
    Ok(())
}

/// Writes a JSON array of many items, one `item` call each (nothing built in memory).
fn array<T>(
    w: &mut dyn Write,
    items: impl IntoIterator<Item = T>,
    mut item: impl FnMut(&mut dyn Write, T) -> io::Result<()>,
) -> io::Result<()> {
    w.write_all(b"[")?;
    for (k, x) in items.into_iter().enumerate() {
        if k > 0 {
            w.write_all(b",")?;
        }
        item(w, x)?;
    }
    w.write_all(b"]")
}

/// Writes one JSON value.
fn value(w: &mut dyn Write, v: &Value) -> io::Result<()> {
    serde_json::to_writer(&mut *w, v).map_err(io::Error::other)
}

/// The solver statistics as JSON: `{accepted, rejected, rhs, jacobians, newton, lu}`.
pub(crate) fn solver_json(st: &dynlib::runtime::SolverStats) -> Value {
    json!({
        "accepted": st.accepted,
        "rejected": st.rejected,
        "rhs": st.rhs,
        "jacobians": st.jacobians,
        "newton": st.newton,
        "lu": st.lu,
    })
}

/// The summary's solver line: the steps, then the work that is not zero.
fn solver_line(st: &dynlib::runtime::SolverStats) -> String {
    let mut parts = vec![
        format!("{} accepted", st.accepted),
        format!("{} rejected", st.rejected),
        format!("{} rhs evaluations", st.rhs),
    ];
    for (n, what) in [
        (st.jacobians, "jacobians"),
        (st.newton, "newton iterations"),
        (st.lu, "LU factorisations"),
    ] {
        if n > 0 {
            parts.push(format!("{n} {what}"));
        }
    }
    parts.join(", ")
}

/// The JSON object of DESIGN.md "Public interfaces", streamed; `timing` is
/// `[build_s, ready_s, run_s]`. Integer models' values are JSON integers (exact). Without
/// `samples`, the object lacks `t`, `step` and `series` (a columnar file's metadata).
fn write_json(
    w: &mut dyn Write,
    sim: &Sim,
    res: &Results,
    timing: [f64; 3],
    samples: bool,
) -> io::Result<()> {
    let [build_s, ready_s, run_s] = timing;
    let m = sim.model();
    let k = sim.kernel();
    let key = |w: &mut dyn Write, name: &str| -> io::Result<()> {
        value(w, &Value::from(name))?;
        w.write_all(b":")
    };
    w.write_all(b"{")?;
    for (name, v) in [
        ("model", json!(m.uri)),
        ("stepper", json!(k.stepper().name)),
        ("backend", json!(k.backend_name())),
        ("runner", json!(res.variant.name())),
        ("status", json!(res.status.name())),
        ("steps", json!(res.step_count)),
        ("native_steps", json!(res.native_steps)),
        ("solver", solver_json(&res.stats)),
    ] {
        key(w, name)?;
        value(w, &v)?;
        w.write_all(b",")?;
    }
    if samples {
        key(w, "t")?;
        array(w, &res.t, |w, &x| value(w, &num(x)))?;
        w.write_all(b",")?;
        key(w, "step")?;
        array(w, &res.step, |w, &x| write!(w, "{x}"))?;
        w.write_all(b",")?;
        key(w, "series")?;
        w.write_all(b"{")?;
        for (n, (name, col)) in res.all_series().enumerate() {
            if n > 0 {
                w.write_all(b",")?;
            }
            key(w, name)?;
            match col {
                Column::Float(v) => array(w, v, |w, &x| value(w, &num(x)))?,
                Column::Int(v) => array(w, v, |w, &x| write!(w, "{x}"))?,
            }
        }
        w.write_all(b"},")?;
    }
    let state: Map<String, Value> = sim
        .state_values()
        .into_iter()
        .map(|(n, v)| (n.to_string(), number(v)))
        .collect();
    key(w, "final")?;
    value(w, &json!({ "t": num(res.t_final), "state": state }))?;
    w.write_all(b",")?;
    key(w, "events")?;
    w.write_all(b"{")?;
    let logged = m.events.iter().filter(|e| !e.log.is_empty());
    for (n, e) in logged.enumerate() {
        if n > 0 {
            w.write_all(b",")?;
        }
        let table = res.event(&e.name).map_err(io::Error::other)?;
        key(w, &e.name)?;
        w.write_all(b"{")?;
        key(w, "fields")?;
        value(w, &json!(table.fields))?;
        w.write_all(b",")?;
        key(w, "rows")?;
        array(w, &table.rows, |w, row| {
            array(w, row, |w, &x| value(w, &number(x)))
        })?;
        w.write_all(b"}")?;
    }
    w.write_all(b"},")?;
    let cache = k.cache_stats();
    let observers: Map<String, Value> = res
        .observers
        .iter()
        .map(|o| {
            let outputs: Map<String, Value> = o
                .outputs
                .iter()
                .map(|(n, v)| (n.clone(), num(*v)))
                .collect();
            let trace: Map<String, Value> = o
                .trace_names
                .iter()
                .zip(&o.trace)
                .map(|(n, xs)| {
                    (
                        n.clone(),
                        Value::Array(xs.iter().map(|&x| num(x)).collect()),
                    )
                })
                .collect();
            let v = json!({
                "outputs": outputs,
                "trace": {
                    "t": o.trace_t.iter().map(|&x| num(x)).collect::<Vec<_>>(),
                    "step": o.trace_step,
                    "columns": trace,
                },
            });
            (o.key.clone(), v)
        })
        .collect();
    for (name, v) in [
        ("lyapunov", lyapunov_json(&res.observers)),
        ("observers", Value::Object(observers)),
        ("warnings", json!(res.warnings)),
        (
            "timing",
            json!({ "build_s": build_s, "ready_s": ready_s, "run_s": run_s }),
        ),
        (
            "cache",
            json!({
                "hits": cache.hits,
                "misses": cache.misses,
                "compiled": cache.compiled,
                "recovered": cache.recovered,
            }),
        ),
    ] {
        key(w, name)?;
        value(w, &v)?;
        if name != "cache" {
            w.write_all(b",")?;
        }
    }
    w.write_all(b"}\n")
}

/// The samples as one table: `t`, `step`, then each recorded variable (the CSV's columns).
fn sample_table(res: &Results) -> (Vec<(String, ColType)>, Vec<Col>) {
    let mut fields = vec![
        ("t".to_string(), ColType::F64),
        ("step".to_string(), ColType::I64),
    ];
    let mut cols = vec![
        Col::F64(res.t.clone()),
        Col::I64(res.step.iter().map(|&s| Some(s)).collect()),
    ];
    for (name, c) in res.all_series() {
        let (t, c) = series_col(c);
        fields.push((name.to_string(), t));
        cols.push(c);
    }
    (fields, cols)
}

/// A recorded series as a column: floats, or an integer model's exact integers.
fn series_col(c: Column<'_>) -> (ColType, Col) {
    match c {
        Column::Float(v) => (ColType::F64, Col::F64(v.to_vec())),
        Column::Int(v) => (ColType::I64, Col::I64(v.iter().map(|&x| Some(x)).collect())),
    }
}

/// The arrays of a run's `.npz`: `t`, `step`, the recorded variables, and per logged event
/// `events/NAME/FIELD` for each field plus `events/NAME/record_index`.
fn npz_arrays(model: &dynlib::Model, res: &Results) -> io::Result<Vec<(String, Col)>> {
    let (fields, cols) = sample_table(res);
    let mut arrays: Vec<(String, Col)> = fields.into_iter().map(|(n, _)| n).zip(cols).collect();
    for e in model.events.iter().filter(|e| !e.log.is_empty()) {
        let table = res.event(&e.name).map_err(io::Error::other)?;
        for (j, field) in table.fields.iter().enumerate() {
            let values = table.rows.iter().map(|r| r[j]);
            // Integers stay exact where every value is one (an integer model's states).
            let ints: Option<Vec<Option<i64>>> = values
                .clone()
                .map(|x| match x {
                    Number::Int(i) => Some(Some(i)),
                    Number::Float(_) => None,
                })
                .collect();
            let col = if let Some(ints) = ints {
                Col::I64(ints)
            } else {
                Col::F64(values.map(Number::as_f64).collect())
            };
            arrays.push((format!("events/{}/{field}", e.name), col));
        }
        arrays.push((
            format!("events/{}/record_index", e.name),
            Col::I64(table.record_index.iter().map(|&i| Some(i)).collect()),
        ));
    }
    Ok(arrays)
}

/// What a run's JSON output says besides its samples (`dynlib run --format json` without
/// `t`, `step` and `series`): the `dynlib` metadata of its Parquet and Arrow files.
fn metadata_json(sim: &Sim, res: &Results, timing: [f64; 3]) -> io::Result<String> {
    let mut json = Vec::new();
    write_json(&mut json, sim, res, timing, false)?;
    String::from_utf8(json).map_err(io::Error::other)
}

/// `t,step,<series>` rows, streamed.
fn write_csv(w: &mut dyn Write, res: &Results) -> io::Result<()> {
    w.write_all(b"t,step")?;
    for (name, _) in res.all_series() {
        write!(w, ",{name}")?;
    }
    w.write_all(b"\n")?;
    let cols: Vec<Column<'_>> = res.all_series().map(|(_, v)| v).collect();
    for i in 0..res.len() {
        write!(w, "{},{}", res.t[i], res.step[i])?;
        for c in &cols {
            match c {
                Column::Float(v) => write!(w, ",{}", v[i])?,
                Column::Int(v) => write!(w, ",{}", v[i])?,
            }
        }
        w.write_all(b"\n")?;
    }
    Ok(())
}

fn summary(sim: &Sim, build_s: f64, run_s: f64) -> Result<String, RuntimeError> {
    let res = sim.results()?;
    let m = sim.model();
    let mut s = String::new();
    let _ = writeln!(
        s,
        "model    {} ({}, {}, {} states, {} params)",
        m.uri,
        m.kind.as_str(),
        m.dtype.as_str(),
        m.states.len(),
        m.params.len()
    );
    let k = sim.kernel();
    let backend = if k.backend_name() == "llvm" {
        "native code, LLVM"
    } else {
        "interpreter"
    };
    let _ = writeln!(
        s,
        "stepper  {} ({backend}, {} runner)",
        k.stepper().name,
        res.variant.name()
    );
    let _ = writeln!(s, "status   {}", res.status.name());
    let span = match (res.t.first(), res.t.last()) {
        (Some(&a), Some(&b)) => format!(", t = {} .. {}", Number::Float(a), Number::Float(b)),
        _ => String::new(),
    };
    let interpreted = res.step_count.saturating_sub(res.native_steps);
    let tiered = if k.is_tiered() && interpreted > 0 {
        format!(" ({interpreted} interpreted while the kernel compiled)")
    } else {
        String::new()
    };
    let _ = writeln!(
        s,
        "steps    {}, {} samples{span}{tiered}",
        res.step_count,
        res.len()
    );
    let _ = writeln!(s, "solver   {}", solver_line(&res.stats));
    let _ = writeln!(s, "final    t = {}", Number::Float(res.t_final));
    for (name, v) in sim.state_values() {
        let _ = writeln!(s, "         {name} = {v}");
    }
    for (name, count) in res.event_counts() {
        let _ = writeln!(s, "event    {name}: {count} rows");
    }
    for o in &res.observers {
        if let Some(mle) = o.mle().filter(|_| o.key == "lyapunov_mle") {
            let _ = writeln!(s, "lyapunov maximum exponent {}", Number::Float(mle));
        }
        if let Some(sp) = o.spectrum() {
            let xs: Vec<String> = sp.iter().map(|&x| Number::Float(x).to_string()).collect();
            let _ = writeln!(s, "lyapunov spectrum {}", xs.join(", "));
        }
    }
    for w in &res.warnings {
        let _ = writeln!(s, "warning  {w}");
    }
    let _ = writeln!(s, "time     build {build_s:.3} s, run {run_s:.3} s");
    if k.backend_name() == "llvm" {
        let c = k.cache_stats();
        let _ = writeln!(
            s,
            "cache    {} hits, {} misses, {} compiled, {} recovered",
            c.hits, c.misses, c.compiled, c.recovered
        );
    }
    Ok(s)
}
