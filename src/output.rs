//! `dynlib run`: options into a session run, results into JSON, CSV or a summary.

use std::fmt::Write as _;
use std::sync::OnceLock;
use std::time::Instant;

/// When `main` started: `timing.ready_s` in the JSON output is the time from there to a
/// ready kernel (what a user waits for in a new process, minus the dynamic loader).
pub static PROCESS_START: OnceLock<Instant> = OnceLock::new();

use clap::Args;
use serde_json::{json, Map, Value};

use dynlib::model::Number;
use dynlib::runtime::json::{float as num, floats as nums, number};
use dynlib::runtime::Column;
use dynlib::{RunOptions, RuntimeError, SetupOptions, Sim};

/// The options of `dynlib run`.
#[derive(Args, Debug)]
#[command(allow_negative_numbers = true)]
pub struct RunArgs {
    /// The model URI: builtin://kind/name, a path, TAG://rel/path, or "inline: ...".
    pub uri: String,
    /// Stepper name or alias (default: the model's [sim].stepper, else rk4 / map).
    #[arg(long)]
    pub stepper: Option<String>,
    /// Compile the kernel with LLVM.
    #[arg(long)]
    pub jit: bool,
    /// Keep compiled objects in the disk cache (with --jit).
    #[arg(long)]
    pub disk_cache: bool,
    /// A mod URI to apply (repeatable, applied in order).
    #[arg(long = "mod", value_name = "URI")]
    pub mods: Vec<String>,
    /// Compute in this dtype instead of [model].dtype (float64, float32, int64, int32).
    #[arg(long)]
    pub dtype: Option<String>,
    /// Absolute end time (ODE; for maps N = round((T - t0)/dt)).
    #[arg(
        long,
        value_name = "T",
        conflicts_with = "n",
        allow_hyphen_values = true
    )]
    pub t_end: Option<f64>,
    /// Absolute number of iterations (maps).
    #[arg(short = 'n', long = "n", value_name = "N")]
    pub n: Option<u64>,
    /// Step (ODE) or label spacing (map).
    #[arg(long, allow_hyphen_values = true)]
    pub dt: Option<f64>,
    /// Start time.
    #[arg(long, allow_hyphen_values = true)]
    pub t0: Option<f64>,
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
    /// Write the output to FILE instead of standard output.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<std::path::PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Summary)]
    pub format: Format,
}

/// How `dynlib run` prints its results.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// A few lines for people.
    Summary,
    /// One JSON object (DESIGN.md "Public interfaces").
    Json,
    /// `t,step,<series>` rows for spreadsheets.
    Csv,
}

/// `NAME=VALUE` where VALUE is an integer (kept exact, all 64 bits) or a float.
fn exact_assignment(s: &str) -> Result<(String, Number), String> {
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

fn assignment(s: &str) -> Result<(String, f64), String> {
    let (name, value) = s
        .split_once('=')
        .ok_or_else(|| format!("expected NAME=VALUE, got '{s}'"))?;
    let name = name.trim();
    if name.is_empty() {
        return Err(format!("expected NAME=VALUE, got '{s}'"));
    }
    let v = value
        .trim()
        .parse::<f64>()
        .map_err(|_| format!("'{}' is not a number (in '{s}')", value.trim()))?;
    Ok((name.to_string(), v))
}

/// Runs the model; returns the rendered output and whether the run succeeded. A failed run
/// (STEPFAIL, NAN_DETECTED) still renders its partial results.
pub fn run(
    args: &RunArgs,
    interrupt: &dynlib::runtime::Interrupt,
) -> Result<(String, Option<RuntimeError>), RuntimeError> {
    let mut setup = SetupOptions::default()
        .jit(args.jit)
        .disk_cache(args.disk_cache);
    setup.stepper = args.stepper.clone();
    setup.mods = args.mods.clone();
    setup.dtype = args.dtype.clone();
    let config = dynlib::Config::load()?;
    setup.config = Some(config.clone());
    let start = Instant::now();
    let mut sim = dynlib::setup(&args.uri, &setup)?;
    if let Some(out) = &args.output {
        refuse_input_as_output(out, &sim, &config)?;
    }
    let build_s = start.elapsed().as_secs_f64();
    let ready_s = PROCESS_START
        .get()
        .unwrap_or(&start)
        .elapsed()
        .as_secs_f64();
    let o = RunOptions {
        t0: args.t0,
        t_end: args.t_end,
        n: args.n,
        dt: args.dt,
        max_steps: args.max_steps,
        record: args.no_record.then_some(false),
        record_interval: args.record_interval,
        record_vars: args.record_vars.clone(),
        transient: args.transient,
        ic: args.ic.clone(),
        params: args.params.clone(),
        stepper_config: args.stepper_config.clone(),
        interrupt: Some(interrupt.clone()),
        ..RunOptions::default()
    };
    let start = Instant::now();
    let failure = match sim.run(&o) {
        Ok(_) => None,
        Err(e @ RuntimeError::RunFailed { .. }) => Some(e),
        Err(e) => return Err(e),
    };
    let run_s = start.elapsed().as_secs_f64();
    let text = match args.format {
        Format::Json => {
            let mut s = serde_json::to_string(&to_json(&sim, [build_s, ready_s, run_s])?)
                .expect("plain JSON");
            s.push('\n');
            s
        }
        Format::Csv => to_csv(&sim)?,
        Format::Summary => summary(&sim, build_s, run_s)?,
    };
    Ok((text, failure))
}

/// Refuses an output path that is one of the run's inputs (the model, a mod file, the
/// configuration file): writing the results there would destroy it.
fn refuse_input_as_output(
    out: &std::path::Path,
    sim: &Sim,
    config: &dynlib::Config,
) -> Result<(), RuntimeError> {
    let files = sim.model().sources.files();
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

/// `timing` is `[build_s, ready_s, run_s]`.
fn to_json(sim: &Sim, timing: [f64; 3]) -> Result<Value, RuntimeError> {
    let [build_s, ready_s, run_s] = timing;
    let res = sim.results()?;
    let m = sim.model();
    let series: Map<String, Value> = res
        .all_series()
        .map(|(name, v)| (name.to_string(), column_json(v)))
        .collect();
    let state: Map<String, Value> = sim
        .state_values()
        .into_iter()
        .map(|(n, v)| (n.to_string(), number(v)))
        .collect();
    let mut events = Map::new();
    for e in &m.events {
        if e.log.is_empty() {
            continue;
        }
        let table = res.event(&e.name)?;
        events.insert(
            e.name.clone(),
            json!({
                "fields": table.fields,
                "rows": table
                    .rows
                    .iter()
                    .map(|r| Value::Array(r.iter().map(|&x| number(x)).collect()))
                    .collect::<Vec<_>>(),
            }),
        );
    }
    let cache = sim.kernel().cache_stats();
    Ok(json!({
        "model": m.uri,
        "stepper": sim.kernel().stepper().name,
        "backend": sim.kernel().backend_name(),
        "status": res.status.name(),
        "steps": res.step_count,
        "t": nums(&res.t),
        "step": res.step,
        "series": series,
        "final": { "t": num(res.t_final), "state": state },
        "events": events,
        "warnings": res.warnings,
        "timing": { "build_s": build_s, "ready_s": ready_s, "run_s": run_s },
        "cache": {
            "hits": cache.hits,
            "misses": cache.misses,
            "compiled": cache.compiled,
            "recovered": cache.recovered,
        },
    }))
}

/// A series as JSON: an integer model's values as JSON integers (exact), a float model's
/// as floats.
fn column_json(c: Column<'_>) -> Value {
    match c {
        Column::Float(v) => nums(v),
        Column::Int(v) => Value::Array(v.iter().map(|&x| Value::from(x)).collect()),
    }
}

fn to_csv(sim: &Sim) -> Result<String, RuntimeError> {
    let res = sim.results()?;
    let mut out = String::from("t,step");
    for (name, _) in res.all_series() {
        out.push(',');
        out.push_str(name);
    }
    out.push('\n');
    let cols: Vec<Column<'_>> = res.all_series().map(|(_, v)| v).collect();
    for i in 0..res.len() {
        let _ = write!(out, "{},{}", res.t[i], res.step[i]);
        for c in &cols {
            match c {
                Column::Float(v) => write!(out, ",{}", v[i]),
                Column::Int(v) => write!(out, ",{}", v[i]),
            }
            .ok();
        }
        out.push('\n');
    }
    Ok(out)
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
    let _ = writeln!(s, "stepper  {} ({backend})", k.stepper().name);
    let _ = writeln!(s, "status   {}", res.status.name());
    let span = match (res.t.first(), res.t.last()) {
        (Some(a), Some(b)) => format!(", t = {a} .. {b}"),
        _ => String::new(),
    };
    let _ = writeln!(
        s,
        "steps    {}, {} samples{span}",
        res.step_count,
        res.len()
    );
    let _ = writeln!(s, "final    t = {}", res.t_final);
    for (name, v) in sim.state_values() {
        let v = match v {
            Number::Int(i) => i.to_string(),
            Number::Float(x) => x.to_string(),
        };
        let _ = writeln!(s, "         {name} = {v}");
    }
    for (name, count) in res.event_counts() {
        let _ = writeln!(s, "event    {name}: {count} rows");
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
