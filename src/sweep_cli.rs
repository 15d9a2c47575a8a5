//! `dynlib sweep`: one run per point of a parameter grid, on every core, written as a
//! summary, JSON, CSV, Parquet, Arrow or `.npz` (by `--format`, or by the `-o` file's
//! extension).
//!
//! CSV has one row per grid point and sample (`point`, the swept parameters, `status`,
//! `t`, `step`, the recorded variables), or with `--stat` (or `--lyapunov` recording
//! nothing) one row per point with the statistic of each variable and the exponents.
//! `point` is the index in the whole grid, so the CSV files of `--shard 0/N` ..
//! `--shard N-1/N` concatenated (without their repeated header lines) are exactly the
//! unsharded file. Parquet and Arrow files hold the same rows and columns (one row group
//! or record batch per point), so the shards' files read together are the whole sweep; an
//! `.npz` holds one array per column, the rows in the same order.

use std::io::{self, IsTerminal, Write};
use std::time::Instant;

use dynlib::runtime::json::{float as num, number};
use dynlib::runtime::{
    sweep_blocks, sweep_keeping, Axis, BatchOptions, Grid, Keep, SessionCore, Stat, Sweep,
};
use dynlib::{Number, RunOptions, RuntimeError};
use serde_json::{json, Value};

use crate::columnar::{Col, ColType, Tables};
use crate::output::{exact_assignment, refuse_input_as_output, Format};
use crate::sink::Sink;

/// `dynlib sweep` options.
#[derive(clap::Args)]
pub struct SweepArgs {
    /// The model URI.
    pub uri: String,
    /// A swept parameter (repeatable: the grid is the Cartesian product, the last
    /// parameter varying fastest): NAME=START:STOP:COUNT (numpy.linspace's values) or
    /// NAME=v1,v2,... (at least one; `dynlib plot bifurcation|lyapunov FILE` of a sweep's
    /// file needs none).
    #[arg(long = "param", value_name = "NAME=AXIS", value_parser = axis_arg)]
    pub params: Vec<(String, Axis)>,
    /// Start every run from the model's preset NAME (the swept parameters and `--ic`
    /// override it).
    #[arg(long, value_name = "NAME")]
    pub preset: Option<String>,
    /// Set an initial state for every run (repeatable).
    #[arg(long = "ic", value_name = "NAME=V", value_parser = exact_assignment)]
    pub ic: Vec<(String, Number)>,
    /// Set a stepper configuration field for every point, e.g. rtol=1e-8 or
    /// jacobian_mode=internal (repeatable).
    #[arg(long = "stepper-config", value_name = "NAME=V", value_parser = crate::output::assignment)]
    pub stepper_config: Vec<(String, f64)>,
    /// How to build the model.
    #[command(flatten)]
    pub build: crate::output::BuildArgs,
    /// How long and with what step.
    #[command(flatten)]
    pub horizon: crate::output::HorizonArgs,
    /// Warm up before recording: time (ODE) or iterations (map).
    #[arg(long, value_name = "X", allow_hyphen_values = true)]
    pub transient: Option<f64>,
    /// Record every K steps.
    #[arg(long, value_name = "K")]
    pub record_interval: Option<u64>,
    /// Step cap of each run (ODE).
    #[arg(long, value_name = "N")]
    pub max_steps: Option<u64>,
    /// What to record, comma separated: state names and aux.NAME (default: all states).
    #[arg(long, value_name = "a,b,aux.c", value_delimiter = ',')]
    pub record_vars: Option<Vec<String>>,
    /// Reduce each recorded variable to one number per point.
    #[arg(long, value_enum)]
    pub stat: Option<StatArg>,
    /// Worker threads (default: one per core); results do not depend on it.
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
    /// Advance N points side by side in one run (1: each point alone; at most 64). Default:
    /// 8 up to 16 states, 4 up to 64, when the stepper is fixed-step explicit, the model has
    /// no events or stop condition, the sweep has at least 8 such groups, and with --jit
    /// but no --disk-cache the points take 10^7 steps together (the replicated model is
    /// compiled too, within the sweep's time). Results do not depend on it.
    #[arg(long, value_name = "N")]
    pub lanes: Option<usize>,
    /// Rows per sample into a CSV, Parquet or Arrow file are written as the sweep goes, in
    /// blocks of N points (each block's samples in memory at once). Default: about 64 MiB
    /// of samples per block, and at least one point per thread. Results do not depend on it.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub block_points: Option<u64>,
    /// Compute only shard I of N (I counts from 0): a contiguous slice of the grid's
    /// points, for batch schedulers' job arrays.
    #[arg(long, value_name = "I/N", value_parser = shard_arg)]
    pub shard: Option<(usize, usize)>,
    /// Write the output to FILE (its format from the extension: .json, .csv, .parquet,
    /// .arrow or .npz). For `dynlib plot`: the picture, .svg or .png.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<std::path::PathBuf>,
    /// Output format (default: from the -o extension, else summary).
    #[arg(long, value_enum)]
    pub format: Option<Format>,
    /// No progress line (it shows on a terminal when a sweep takes over a second).
    #[arg(long, short = 'q')]
    pub quiet: bool,
}

/// `--stat`.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum StatArg {
    /// The last sample.
    Final,
    /// The mean of the samples.
    Mean,
    /// The largest sample.
    Max,
    /// The smallest sample.
    Min,
}

fn axis_arg(s: &str) -> Result<(String, Axis), String> {
    let (name, spec) = s
        .split_once('=')
        .ok_or_else(|| format!("expected NAME=START:STOP:COUNT or NAME=v1,v2,..., got '{s}'"))?;
    let name = name.trim();
    if name.is_empty() {
        return Err(format!("the parameter name is missing in '{s}'"));
    }
    Ok((name.to_string(), Axis::parse(spec)?))
}

fn shard_arg(s: &str) -> Result<(usize, usize), String> {
    let bad = || format!("expected I/N with 0 <= I < N (I counts from 0), got '{s}'");
    let (i, n) = s.split_once('/').ok_or_else(bad)?;
    let (i, n): (usize, usize) = (
        i.trim().parse().map_err(|_| bad())?,
        n.trim().parse().map_err(|_| bad())?,
    );
    if n == 0 || i >= n {
        return Err(bad());
    }
    Ok((i, n))
}

/// Runs the sweep and writes it; returns the exit code's cause when the sweep was
/// interrupted (its finished points are written all the same).
pub fn run(
    args: &SweepArgs,
    interrupt: &dynlib::runtime::Interrupt,
) -> Result<bool, Box<dyn std::error::Error>> {
    let format = Format::resolve(args.format, args.output.as_deref(), None)?;
    let grid = swept(args)?;
    let points = match args.shard {
        Some((i, n)) => grid.shard(i, n)?,
        None => 0..grid.len(),
    };
    let config = dynlib::Config::load()?;
    let setup = args.build.setup(&config);
    let sink = Sink::prepare(args.output.as_deref())?;
    let start = Instant::now();
    let kernel = dynlib::build(&args.uri, &setup)?;
    if let Some(out) = sink.path() {
        refuse_input_as_output(out, kernel.model(), &config)?;
    }
    let build_s = start.elapsed().as_secs_f64();
    let base = base_options(args, &kernel)?;
    let mut batch = BatchOptions::default().interrupt(interrupt);
    batch.threads = args.threads;
    batch.lanes = args.lanes;
    // Rows streamed to the terminal as the sweep goes would mix with the progress line.
    let streams_to_terminal = args.output.is_none()
        && std::io::stdout().is_terminal()
        && !matches!(format, Format::Json | Format::Summary);
    let bar = crate::progress::Bar::new(args.quiet || streams_to_terminal);
    if let Some(bar) = &bar {
        let bar = bar.clone();
        batch = batch.progress(move |p| bar.points(p.done, p.total, p.steps));
    }
    let stat = args.stat.map(|s| match s {
        StatArg::Final => Stat::Final,
        StatArg::Mean => Stat::Mean,
        StatArg::Max => Stat::Max,
        StatArg::Min => Stat::Min,
    });
    let vars = if base.record == Some(false) {
        Vec::new()
    } else {
        recorded_vars(&kernel, args)
    };
    // Output of one row per point needs no samples: each run is reduced as it ends.
    let keep = match stat {
        Some(stat) => Keep::Stats {
            vars: vars.clone(),
            stat,
        },
        None => Keep::Runs,
    };
    let start = Instant::now();
    let core = SessionCore::new(&kernel);
    let info = |run_s: f64| Info {
        uri: &kernel.model().uri,
        stepper: kernel.stepper().name,
        backend: kernel.backend_name(),
        shard: args.shard,
        timing: [build_s, run_s],
        lyapunov: args.build.lyapunov.then_some(args.build.k),
        int_model: !kernel.model().dtype.is_float(),
    };
    // Rows per sample into a file format that is written as it goes: the sweep runs block
    // by block, each block written before the next runs, so its samples are never all in
    // memory at once (the JSON and the summary describe the whole sweep: they keep it).
    if stat.is_none() && !vars.is_empty() && !matches!(format, Format::Json | Format::Summary) {
        let mut blocks = sweep_blocks(
            &kernel,
            &core,
            &grid,
            &base,
            points,
            &batch,
            &keep,
            args.block_points.map(|n| n as usize),
        )?;
        let info = info(0.0);
        let stopped = std::cell::Cell::new(false);
        let failure = std::cell::RefCell::new(None);
        // Each block in turn (options wrong for every point were `sweep_blocks`'s error,
        // before any output). Between blocks the output is being written, and a signal
        // then gets the writer's time from the alarm; once interrupted, nothing more is
        // simulated (the other points are cancelled at once).
        let sweeps = std::iter::from_fn(|| {
            if !interrupt.is_requested() {
                crate::signals::run_resumed();
            }
            let next = blocks.next();
            crate::signals::run_finished();
            next
        })
        .map_while(|sw| match sw {
            Ok(sw) => {
                stopped.set(stopped.get() || was_stopped(&sw));
                Some(sw)
            }
            Err(e) => {
                *failure.borrow_mut() = Some(e);
                None
            }
        });
        let failed = || {
            failure
                .borrow_mut()
                .take()
                .map_or(Ok(()), |e| Err(io::Error::other(e)))
        };
        // The progress line is erased before an error is printed, as after success.
        let written = match format {
            Format::Csv => sink.write(|w| {
                write_csv_header(w, &grid, &vars, None, &info)?;
                for sw in sweeps {
                    write_csv_rows(w, &sw, &vars, None, &info)?;
                }
                failed()
            }),
            _ => {
                let kind = format.columnar().expect("a columnar format");
                let fields = table_fields(&grid, &vars, None, &info);
                let var_type = var_type(&vars, None, &info);
                // Each block's tables are made one at a time as they are written.
                let tables = sweeps.flat_map(|sw| {
                    let exponents = info.lyapunov_values(&sw);
                    sample_tables(sw, &vars, var_type, exponents)
                });
                sink.write(|w| {
                    crate::columnar::write(kind, &fields, tables, &[], w)?;
                    failed()
                })
            }
        };
        if let Some(bar) = &bar {
            bar.finish();
        }
        written?;
        crate::signals::run_finished();
        return Ok(interrupt.is_requested() && stopped.get());
    }
    let sw = sweep_keeping(&kernel, &core, &grid, &base, points, &batch, &keep);
    if let Some(bar) = &bar {
        bar.finish();
    }
    let sw = sw?;
    crate::signals::run_finished();
    let info = info(start.elapsed().as_secs_f64());
    match format {
        Format::Json => sink.write(|w| write_json(w, &sw, &vars, stat, &info))?,
        Format::Csv => sink.write(|w| write_csv(w, &sw, &vars, stat, &info))?,
        Format::Parquet | Format::Arrow | Format::Npz => {
            let kind = format.columnar().expect("a columnar format");
            let (fields, tables) = tables(&sw, &vars, stat, &info)?;
            sink.write(|w| crate::columnar::write(kind, &fields, tables, &[], w))?
        }
        Format::Summary => {
            let text = summary(&sw, &vars, stat, &info);
            let text = if matches!(sink, Sink::Stdout) {
                dynlib::model::diag::printable(&text).into_owned()
            } else {
                text
            };
            sink.write(|w| w.write_all(text.as_bytes()))?
        }
    }
    Ok(interrupt.is_requested() && was_stopped(&sw))
}

/// True when a signal stopped a point of `sw` (not when it came after the last one).
fn was_stopped(sw: &Sweep) -> bool {
    (0..sw.runs().len()).any(|k| ["CANCELLED", "USER_BREAK"].contains(&status(sw, k).as_str()))
}

/// What the outputs say about the sweep besides its points.
struct Info<'a> {
    uri: &'a str,
    stepper: &'static str,
    backend: &'static str,
    shard: Option<(usize, usize)>,
    /// `[build_s, run_s]`.
    timing: [f64; 2],
    /// `--lyapunov`, with `--k`.
    lyapunov: Option<Option<usize>>,
    /// The model computes in an integer dtype (its recorded columns are integers).
    int_model: bool,
}

impl Info<'_> {
    /// The Lyapunov columns: `mle`, or `lyap0..lyap{k-1}`; none without `--lyapunov`.
    fn lyapunov_names(&self) -> Vec<String> {
        match self.lyapunov {
            None => Vec::new(),
            Some(None) => vec!["mle".into()],
            Some(Some(k)) => (0..k).map(|j| format!("lyap{j}")).collect(),
        }
    }

    /// Each Lyapunov column's values per point (NaN where a run failed).
    fn lyapunov_values(&self, sw: &Sweep) -> Vec<Vec<f64>> {
        match self.lyapunov {
            None => Vec::new(),
            Some(None) => vec![sw.mle()],
            Some(Some(k)) => {
                let rows = sw.spectrum(k);
                (0..k)
                    .map(|j| rows.iter().map(|r| r[j]).collect())
                    .collect()
            }
        }
    }
}

/// The grid of `--param` axes (an error says what to give when there is none).
pub(crate) fn swept(args: &SweepArgs) -> Result<Grid, RuntimeError> {
    if args.params.is_empty() {
        return Err(RuntimeError::option(
            "param",
            "give the swept parameter: --param NAME=START:STOP:COUNT (or NAME=v1,v2,...)",
        ));
    }
    Grid::new(args.params.clone())
}

/// The options every point's run starts from: the sweep's horizon, recording, transient,
/// initial state and preset (the swept parameters are set per point).
pub(crate) fn base_options(
    args: &SweepArgs,
    kernel: &dynlib::Kernel,
) -> Result<RunOptions, RuntimeError> {
    let (params, ic) =
        crate::output::with_preset(kernel.model(), args.preset.as_deref(), &[], &args.ic)?;
    Ok(RunOptions {
        t_end: args.horizon.t_end,
        n: args.horizon.n,
        dt: args.horizon.dt,
        transient: args.transient,
        record_interval: args.record_interval,
        max_steps: args.max_steps,
        record_vars: args.record_vars.clone(),
        ic,
        params,
        stepper_config: args.stepper_config.clone(),
        // A Lyapunov sweep records nothing unless asked (analysis.md A7).
        record: (args.build.lyapunov && args.record_vars.is_none() && args.stat.is_none())
            .then_some(false),
        fastpath: args.build.fastpath(),
        // No output of a sweep shows the observers' traces.
        trace: Some(false),
        ..RunOptions::default()
    })
}

/// The recorded variables' names as `record_vars` gives them (default: every state), in
/// recording order: the states, then the aux (as the results hold them).
pub(crate) fn recorded_vars(kernel: &dynlib::Kernel, args: &SweepArgs) -> Vec<String> {
    let m = kernel.model();
    match &args.record_vars {
        Some(v) => {
            let is_state = |n: &String| !n.starts_with("aux.") && m.state_index(n).is_some();
            let states = v.iter().filter(|n| is_state(n));
            states
                .chain(v.iter().filter(|n| !is_state(n)))
                .cloned()
                .collect()
        }
        None => m.state_names().iter().map(|s| s.to_string()).collect(),
    }
}

/// The runner variants the points ran through (one name: every point of a sweep takes
/// the same one), as JSON: the name, or a list when they differ, null when none ran.
fn runners(sw: &Sweep) -> Value {
    let mut names: Vec<&str> = Vec::new();
    for r in sw.runs().iter().flatten() {
        let name = r.output().variant.name();
        if !names.contains(&name) {
            names.push(name);
        }
    }
    match names.as_slice() {
        [] => Value::Null,
        [one] => json!(one),
        many => json!(many),
    }
}

/// How the points ran side by side: the widest pack and how many points ran in packs.
fn lanes(sw: &Sweep) -> (usize, usize) {
    let widths = sw.runs().iter().flatten().map(|r| r.output().lanes);
    widths.fold((1, 0), |(w, n), l| (w.max(l), n + (l > 1) as usize))
}

/// A point's status: the run's (`DONE`, `NAN_DETECTED`...) or why it did not run.
fn status(sw: &Sweep, k: usize) -> String {
    match &sw.runs()[k] {
        Ok(ex) => ex.output().status.name().to_string(),
        Err(RuntimeError::Cancelled) => "CANCELLED".to_string(),
        // A transient that failed or was interrupted.
        Err(RuntimeError::RunFailed { status, .. }) => status.name().to_string(),
        Err(e) => format!("ERROR: {e}"),
    }
}

/// Each variable's statistic per point.
fn stats(sw: &Sweep, vars: &[String], stat: Stat) -> Result<Vec<Vec<f64>>, RuntimeError> {
    vars.iter().map(|v| sw.scalar(v, stat)).collect()
}

fn write_json(
    w: &mut dyn Write,
    sw: &Sweep,
    vars: &[String],
    stat: Option<Stat>,
    info: &Info,
) -> io::Result<()> {
    let grid = sw.grid();
    let points = sw.points();
    let axes: serde_json::Map<String, Value> = grid
        .names()
        .iter()
        .enumerate()
        .map(|(a, name)| {
            let values: Vec<Value> = points.clone().map(|i| num(grid.point(i)[a])).collect();
            (name.clone(), Value::Array(values))
        })
        .collect();
    let statuses: Vec<String> = (0..sw.runs().len()).map(|k| status(sw, k)).collect();
    let (width, packed) = lanes(sw);
    let mut doc = json!({
        "model": info.uri,
        "stepper": info.stepper,
        "backend": info.backend,
        "runner": runners(sw),
        "steps": sw.runs().iter().flatten().map(|r| r.steps_taken()).sum::<u64>(),
        // Of those, the ones native code took (a tiered kernel interprets until it is
        // compiled; the numbers are the same either way).
        "native_steps": sw.runs().iter().flatten().map(|r| r.output().native_steps).sum::<u64>(),
        "lanes": {"width": width, "packed_points": packed},
        "params": grid.names(),
        "points": grid.len(),
        "shard": info.shard.map(|(i, n)| json!({"index": i, "count": n})),
        "first_point": points.start,
        "grid": axes,
        "status": statuses,
        "timing": {"build_s": info.timing[0], "run_s": info.timing[1]},
    });
    if info.lyapunov.is_some() {
        // Per point: the maximum exponent, or the spectrum; null where the run failed.
        let ok = sw.statuses();
        let per_point: Vec<Value> = sw
            .observers()
            .into_iter()
            .zip(ok)
            .map(|(o, st)| match st {
                Ok(st) if st.is_success() => crate::output::lyapunov_json(o),
                _ => Value::Null,
            })
            .collect();
        doc["lyapunov"] = Value::Array(per_point);
    }
    match stat {
        None if vars.is_empty() => {}
        Some(stat) => {
            let values = stats(sw, vars, stat).map_err(io::Error::other)?;
            let per_var: serde_json::Map<String, Value> = vars
                .iter()
                .zip(values)
                .map(|(v, xs)| (v.clone(), Value::Array(xs.into_iter().map(num).collect())))
                .collect();
            doc["stat"] = json!(stat.name());
            doc["stats"] = Value::Object(per_var);
        }
        None => {
            let runs: Vec<Value> = sw
                .results()
                .into_iter()
                .map(|r| match r {
                    None => Value::Null,
                    Some(r) => {
                        let series: serde_json::Map<String, Value> = r
                            .all_series()
                            .map(|(n, c)| {
                                let xs: Vec<Value> =
                                    (0..c.len()).map(|i| number(c.number(i))).collect();
                                (n.to_string(), Value::Array(xs))
                            })
                            .collect();
                        json!({
                            "t": r.t.iter().map(|&x| num(x)).collect::<Vec<_>>(),
                            "step": r.step,
                            "series": series,
                        })
                    }
                })
                .collect();
            doc["runs"] = Value::Array(runs);
        }
    }
    serde_json::to_writer(&mut *w, &doc).map_err(io::Error::other)?;
    w.write_all(b"\n")
}

fn write_csv(
    w: &mut dyn Write,
    sw: &Sweep,
    vars: &[String],
    stat: Option<Stat>,
    info: &Info,
) -> io::Result<()> {
    write_csv_header(w, sw.grid(), vars, stat, info)?;
    write_csv_rows(w, sw, vars, stat, info)
}

/// One row per point with --stat, or when nothing is recorded (a Lyapunov sweep); else
/// one per sample.
fn per_point(vars: &[String], stat: Option<Stat>) -> bool {
    stat.is_some() || vars.is_empty()
}

fn write_csv_header(
    w: &mut dyn Write,
    grid: &Grid,
    vars: &[String],
    stat: Option<Stat>,
    info: &Info,
) -> io::Result<()> {
    let per_point = per_point(vars, stat);
    let lyap = info.lyapunov_names();
    w.write_all(b"point")?;
    for name in grid.names() {
        write!(w, ",{name}")?;
    }
    w.write_all(b",status")?;
    if !per_point {
        w.write_all(b",t,step")?;
    }
    for v in vars.iter().chain(&lyap) {
        write!(w, ",{v}")?;
    }
    w.write_all(b"\n")
}

/// The CSV rows of the points of `sw` (a whole sweep or one block of it).
fn write_csv_rows(
    w: &mut dyn Write,
    sw: &Sweep,
    vars: &[String],
    stat: Option<Stat>,
    info: &Info,
) -> io::Result<()> {
    let grid = sw.grid();
    let per_point = per_point(vars, stat);
    let prefix = |w: &mut dyn Write, k: usize| -> io::Result<()> {
        let i = sw.points().start + k;
        write!(w, "{i}")?;
        for x in grid.point(i) {
            write!(w, ",{x}")?;
        }
        write!(w, ",{}", csv_field(&status(sw, k)))
    };
    if per_point {
        let mut values = match stat {
            Some(stat) => stats(sw, vars, stat).map_err(io::Error::other)?,
            None => Vec::new(),
        };
        values.extend(info.lyapunov_values(sw));
        for k in 0..sw.runs().len() {
            prefix(w, k)?;
            for xs in &values {
                write!(w, ",{}", xs[k])?;
            }
            w.write_all(b"\n")?;
        }
        return Ok(());
    }
    let exponents = info.lyapunov_values(sw);
    for k in 0..sw.runs().len() {
        let r = sw.result(k);
        let mut tail = String::new();
        for xs in &exponents {
            tail.push_str(&format!(",{}", xs[k]));
        }
        // A point without samples still has its row, with its status.
        let r = match r {
            Some(r) if !r.is_empty() => r,
            _ => {
                prefix(w, k)?;
                writeln!(w, ",,{}{tail}", ",".repeat(vars.len()))?;
                continue;
            }
        };
        let cols: Vec<_> = r.all_series().map(|(_, c)| c).collect();
        for s in 0..r.len() {
            prefix(w, k)?;
            write!(w, ",{},{}", r.t[s], r.step[s])?;
            // Floats as `dynlib run`'s CSV writes them (Rust's shortest form).
            for c in &cols {
                match c {
                    dynlib::runtime::Column::Float(v) => write!(w, ",{}", v[s])?,
                    dynlib::runtime::Column::Int(v) => write!(w, ",{}", v[s])?,
                }
            }
            writeln!(w, "{tail}")?;
        }
    }
    Ok(())
}

/// The CSV's columns, with their types, and its rows as tables: one per point with its
/// samples (the point, the swept parameters, the status, `t`, `step`, the recorded
/// variables, then the exponents repeated on each row; a point without samples has one
/// row with nulls and NaNs), or with `--stat` or a Lyapunov sweep that records nothing, one
/// table of one row per point with the statistics and the exponents.
fn tables<'a>(
    sw: &'a Sweep,
    vars: &'a [String],
    stat: Option<Stat>,
    info: &Info,
) -> Result<Tables<'a>, RuntimeError> {
    let grid = sw.grid();
    let fields = table_fields(grid, vars, stat, info);
    let exponents = info.lyapunov_values(sw);
    if per_point(vars, stat) {
        let mut values = match stat {
            Some(stat) => stats(sw, vars, stat)?,
            None => Vec::new(),
        };
        values.extend(exponents);
        // One table: a row group per point would be all footer.
        let n = sw.runs().len();
        let mut cols: Vec<Col> = fields.iter().map(|_| Col::F64(Vec::new())).collect();
        cols[0] = Col::U64(Vec::with_capacity(n));
        cols[1 + grid.names().len()] = Col::Str(Vec::with_capacity(n));
        for k in 0..n {
            for (c, part) in cols.iter_mut().zip(prefix(sw, k, 1)) {
                c.append(part);
            }
        }
        for (c, xs) in cols[2 + grid.names().len()..].iter_mut().zip(values) {
            *c = Col::F64(xs);
        }
        return Ok((fields, Box::new(std::iter::once(cols))));
    }
    let var_type = var_type(vars, stat, info);
    Ok((
        fields,
        Box::new(sample_tables(sw, vars, var_type, exponents)),
    ))
}

/// The point, swept parameters and status columns of point `k` of `sw`, `rows` long.
fn prefix(sw: &Sweep, k: usize, rows: usize) -> Vec<Col> {
    let i = sw.points().start + k;
    let mut cols = vec![Col::U64(vec![i as u64; rows])];
    cols.extend(
        sw.grid()
            .point(i)
            .into_iter()
            .map(|x| Col::F64(vec![x; rows])),
    );
    cols.push(Col::Str(vec![status(sw, k); rows]));
    cols
}

/// One table per point of `sw` (held by the iterator, so a block can be handed over and
/// dropped when its last table is written), made only when the writer asks for it.
fn sample_tables<'a, S: std::borrow::Borrow<Sweep> + 'a>(
    sw: S,
    vars: &'a [String],
    var_type: ColType,
    exponents: Vec<Vec<f64>>,
) -> impl Iterator<Item = Vec<Col>> + 'a {
    let n = sw.borrow().runs().len();
    (0..n).map(move |k| {
        let sw = sw.borrow();
        let result = sw.result(k);
        let (rows, r) = match &result {
            Some(r) if !r.is_empty() => (r.len(), Some(r)),
            _ => (1, None),
        };
        let mut cols = prefix(sw, k, rows);
        match r {
            Some(r) => {
                cols.push(Col::F64(r.t.clone()));
                cols.push(Col::I64(r.step.iter().map(|&s| Some(s)).collect()));
                for (_, c) in r.all_series() {
                    cols.push(match c {
                        dynlib::runtime::Column::Float(v) => Col::F64(v.to_vec()),
                        dynlib::runtime::Column::Int(v) => {
                            Col::I64(v.iter().map(|&x| Some(x)).collect())
                        }
                    });
                }
            }
            None => {
                cols.push(Col::F64(vec![f64::NAN]));
                cols.push(Col::I64(vec![None]));
                for _ in vars {
                    cols.push(match var_type {
                        ColType::I64 => Col::I64(vec![None]),
                        _ => Col::F64(vec![f64::NAN]),
                    });
                }
            }
        }
        cols.extend(exponents.iter().map(|xs| Col::F64(vec![xs[k]; rows])));
        cols
    })
}

/// The recorded variables' column type: integers for an integer model's samples, else
/// floats (statistics are floats).
fn var_type(vars: &[String], stat: Option<Stat>, info: &Info) -> ColType {
    if per_point(vars, stat) || !info.int_model {
        ColType::F64
    } else {
        ColType::I64
    }
}

/// The columns of [`tables`], with their types (they depend on the sweep's settings, not
/// on its runs).
fn table_fields(
    grid: &Grid,
    vars: &[String],
    stat: Option<Stat>,
    info: &Info,
) -> Vec<(String, ColType)> {
    let mut fields = vec![("point".to_string(), ColType::U64)];
    fields.extend(grid.names().iter().map(|n| (n.clone(), ColType::F64)));
    fields.push(("status".into(), ColType::Str));
    if !per_point(vars, stat) {
        fields.extend([
            ("t".to_string(), ColType::F64),
            ("step".to_string(), ColType::I64),
        ]);
    }
    let var_type = var_type(vars, stat, info);
    fields.extend(vars.iter().map(|v| (v.clone(), var_type)));
    fields.extend(info.lyapunov_names().into_iter().map(|n| (n, ColType::F64)));
    fields
}

/// A CSV field, quoted when it holds a comma, a quote or a line break.
fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

fn summary(sw: &Sweep, vars: &[String], stat: Option<Stat>, info: &Info) -> String {
    use std::fmt::Write as _;
    let grid = sw.grid();
    let mut s = String::new();
    let backend = if info.backend == "llvm" {
        "native code, LLVM"
    } else {
        "interpreter"
    };
    let _ = writeln!(s, "model    {}", info.uri);
    let _ = writeln!(s, "stepper  {} ({backend})", info.stepper);
    let (width, packed) = lanes(sw);
    if packed > 0 {
        let _ = writeln!(
            s,
            "lanes    {width} points side by side ({packed} of {} points)",
            sw.runs().len()
        );
    }
    let axes: Vec<String> = grid
        .names()
        .iter()
        .enumerate()
        .map(|(a, n)| format!("{n} ({} values)", grid.axis(a).len()))
        .collect();
    let _ = writeln!(s, "grid     {} points: {}", grid.len(), axes.join(" x "));
    if let Some((i, n)) = info.shard {
        let p = sw.points();
        let _ = writeln!(s, "shard    {i} of {n}: points {} .. {}", p.start, p.end);
    }
    let mut counts: Vec<(String, usize)> = Vec::new();
    for k in 0..sw.runs().len() {
        let st = status(sw, k);
        match counts.iter_mut().find(|(n, _)| *n == st) {
            Some((_, c)) => *c += 1,
            None => counts.push((st, 1)),
        }
    }
    for (st, c) in counts {
        let _ = writeln!(s, "status   {st}: {c} points");
    }
    if let Some(stat) = stat {
        if let Ok(values) = stats(sw, vars, stat) {
            for (v, xs) in vars.iter().zip(values) {
                let _ = writeln!(s, "{:<8} {v}: {}", stat.name(), range_of(&xs));
            }
        }
    }
    for (name, xs) in info.lyapunov_names().iter().zip(info.lyapunov_values(sw)) {
        let _ = writeln!(s, "lyapunov {name}: {}", range_of(&xs));
    }
    let _ = writeln!(
        s,
        "time     build {:.3} s, sweep {:.3} s",
        info.timing[0], info.timing[1]
    );
    s
}

/// `lo .. hi over N points` of the finite values, or `no finite values`.
fn range_of(xs: &[f64]) -> String {
    let finite: Vec<f64> = xs.iter().copied().filter(|x| x.is_finite()).collect();
    if finite.is_empty() {
        return "no finite values".to_string();
    }
    let lo = finite.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = finite.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    format!(
        "{} .. {} over {} points",
        Number::Float(lo),
        Number::Float(hi),
        finite.len()
    )
}
