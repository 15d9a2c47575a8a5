//! `dynlib plot KIND`: runs the model (or sweeps it) with the options of `dynlib run` (or
//! `dynlib sweep`) and draws the picture into `-o FILE.svg` or `FILE.png` (`dynlib::plot`).

use clap::{Args, Subcommand};
use dynlib::plot::{self, PlotOptions};
use dynlib::runtime::{sweep_keeping, Grid, Keep, SessionCore};

use crate::output::RunArgs;
use crate::sweep_cli::SweepArgs;

/// The picture's size, title and ranges.
#[derive(Args)]
pub struct FigureArgs {
    /// Width in pixels.
    #[arg(long, default_value_t = 900)]
    pub width: u32,
    /// Height in pixels.
    #[arg(long, default_value_t = 600)]
    pub height: u32,
    /// The title (default: the model's name and the kind of plot).
    #[arg(long)]
    pub title: Option<String>,
    /// The horizontal range, LOW:HIGH (default: the data's).
    #[arg(long, value_name = "LOW:HIGH", value_parser = range_arg, allow_hyphen_values = true)]
    pub x_range: Option<(f64, f64)>,
    /// The vertical range, LOW:HIGH (default: the data's).
    #[arg(long, value_name = "LOW:HIGH", value_parser = range_arg, allow_hyphen_values = true)]
    pub y_range: Option<(f64, f64)>,
}

impl FigureArgs {
    fn options(&self) -> PlotOptions {
        PlotOptions {
            width: self.width,
            height: self.height,
            title: self.title.clone(),
            x_range: self.x_range,
            y_range: self.y_range,
        }
    }
}

fn range_arg(s: &str) -> Result<(f64, f64), String> {
    let bad = || format!("expected LOW:HIGH with LOW < HIGH, got '{s}'");
    let (a, b) = s.split_once(':').ok_or_else(bad)?;
    let (a, b): (f64, f64) = (
        a.trim().parse().map_err(|_| bad())?,
        b.trim().parse().map_err(|_| bad())?,
    );
    if !(a.is_finite() && b.is_finite() && a < b) {
        return Err(bad());
    }
    Ok((a, b))
}

/// The kinds of picture.
#[derive(Subcommand)]
pub enum PlotKind {
    /// Variables against time (`--vars`, default every state; `--panels` one panel each).
    Series {
        #[command(flatten)]
        run: Box<RunArgs>,
        #[command(flatten)]
        figure: FigureArgs,
        /// The variables (states, aux.NAME), comma separated.
        #[arg(long, value_delimiter = ',')]
        vars: Option<Vec<String>>,
        /// One panel per variable instead of one for all.
        #[arg(long)]
        panels: bool,
    },
    /// A phase portrait: two variables, or three as a projected 3-D view (default the
    /// first two or three states).
    Phase {
        #[command(flatten)]
        run: Box<RunArgs>,
        #[command(flatten)]
        figure: FigureArgs,
        /// Two or three variables, comma separated.
        #[arg(long, value_delimiter = ',')]
        vars: Option<Vec<String>>,
    },
    /// A map's cobweb: the iterates between the diagonal and the map.
    Cobweb {
        #[command(flatten)]
        run: Box<RunArgs>,
        #[command(flatten)]
        figure: FigureArgs,
        /// The variable (default the first state).
        #[arg(long)]
        var: Option<String>,
    },
    /// A map's return map: x(n+LAG) against x(n).
    ReturnMap {
        #[command(flatten)]
        run: Box<RunArgs>,
        #[command(flatten)]
        figure: FigureArgs,
        /// The variable (default the first state).
        #[arg(long)]
        var: Option<String>,
        /// Iterates between the two coordinates.
        #[arg(long, default_value_t = 1)]
        lag: usize,
    },
    /// A 2-D ODE's direction field over --x-range × --y-range, with the run's trajectory
    /// and those from each --from start on top.
    Vectorfield {
        #[command(flatten)]
        run: Box<RunArgs>,
        #[command(flatten)]
        figure: FigureArgs,
        /// Arrows along each side.
        #[arg(long, default_value_t = 20)]
        grid: usize,
        /// Another trajectory's start, X,Y (repeatable).
        #[arg(long, value_name = "X,Y", value_parser = point_arg, allow_hyphen_values = true)]
        from: Vec<(f64, f64)>,
    },
    /// A bifurcation diagram from a sweep (`--param NAME=START:STOP:COUNT`): every recorded
    /// sample (after --transient) against the parameter, as a density.
    Bifurcation {
        #[command(flatten)]
        sweep: Box<SweepArgs>,
        #[command(flatten)]
        figure: FigureArgs,
        /// The variable (default the first state).
        #[arg(long)]
        var: Option<String>,
    },
    /// Lyapunov exponents against the swept parameter (`--k K` for the spectrum).
    Lyapunov {
        #[command(flatten)]
        sweep: Box<SweepArgs>,
        #[command(flatten)]
        figure: FigureArgs,
    },
}

fn point_arg(s: &str) -> Result<(f64, f64), String> {
    let bad = || format!("expected X,Y, got '{s}'");
    let (a, b) = s.split_once(',').ok_or_else(bad)?;
    Ok((
        a.trim().parse().map_err(|_| bad())?,
        b.trim().parse().map_err(|_| bad())?,
    ))
}

/// The picture's file: `-o FILE`, required.
fn output(o: &Option<std::path::PathBuf>) -> Result<&std::path::Path, dynlib::RuntimeError> {
    o.as_deref().ok_or_else(|| {
        dynlib::RuntimeError::option(
            "output",
            "give the picture's file: -o FILE.svg or -o FILE.png",
        )
    })
}

/// Draws the picture `kind` asks for; prints where it went.
pub fn run(
    kind: &mut PlotKind,
    interrupt: &dynlib::runtime::Interrupt,
) -> Result<(), Box<dyn std::error::Error>> {
    // The picture's file, size and ranges are checked before anything runs.
    let (out, figure) = match &*kind {
        PlotKind::Series { run, figure, .. }
        | PlotKind::Phase { run, figure, .. }
        | PlotKind::Cobweb { run, figure, .. }
        | PlotKind::ReturnMap { run, figure, .. }
        | PlotKind::Vectorfield { run, figure, .. } => (&run.output, figure),
        PlotKind::Bifurcation { sweep, figure, .. } | PlotKind::Lyapunov { sweep, figure } => {
            (&sweep.output, figure)
        }
    };
    figure.options().check(output(out)?)?;
    let (fig, path, opts) = match kind {
        PlotKind::Series {
            run,
            figure,
            vars,
            panels,
        } => {
            let (got, names) = samples(run, vars.clone(), 0, interrupt)?;
            let names: Vec<&str> = names.iter().map(String::as_str).collect();
            let fig = plot::series(&got.data, &names, *panels)?;
            (fig, output(&run.output)?.to_path_buf(), figure.options())
        }
        PlotKind::Phase { run, figure, vars } => {
            let (got, names) = samples(run, vars.clone(), 3, interrupt)?;
            let names: Vec<&str> = names.iter().map(String::as_str).collect();
            let fig = plot::phase(&got.data, &names)?;
            (fig, output(&run.output)?.to_path_buf(), figure.options())
        }
        PlotKind::Cobweb { run, figure, var } => {
            let (got, names) = samples(run, var.clone().map(|v| vec![v]), 1, interrupt)?;
            let params: Vec<(String, f64)> = got.sim.as_ref().map_or_else(Vec::new, |s| {
                s.params()
                    .into_iter()
                    .map(|(n, v)| (n.to_string(), v))
                    .collect()
            });
            let kernel = got.sim.as_ref().map(|s| (&**s.kernel(), params.as_slice()));
            let fig = plot::cobweb(&got.data, &names[0], kernel)?;
            (fig, output(&run.output)?.to_path_buf(), figure.options())
        }
        PlotKind::ReturnMap {
            run,
            figure,
            var,
            lag,
        } => {
            let (got, names) = samples(run, var.clone().map(|v| vec![v]), 1, interrupt)?;
            let fig = plot::return_map(&got.data, &names[0], *lag)?;
            (fig, output(&run.output)?.to_path_buf(), figure.options())
        }
        PlotKind::Vectorfield {
            run,
            figure,
            grid,
            from,
        } => {
            let mut sim = simulate(run, None, interrupt)?;
            let model = sim.model();
            let names: Vec<String> = model.state_names().iter().map(|s| s.to_string()).collect();
            if names.len() != 2 || model.kind.as_str() != "ode" {
                return Err(dynlib::RuntimeError::option(
                    "vectorfield",
                    format!(
                        "a vector field is for ODEs of two states; {} is a {} of {}",
                        model.uri,
                        model.kind.as_str(),
                        model.states.len()
                    ),
                )
                .into());
            }
            let trajectory =
                |res: &dynlib::Results| -> Result<Vec<(f64, f64)>, dynlib::RuntimeError> {
                    let x = res.series(&names[0])?;
                    let y = res.series(&names[1])?;
                    Ok(x.iter().copied().zip(y.iter().copied()).collect())
                };
            let mut lines = vec![trajectory(sim.results()?)?];
            let params: Vec<(String, f64)> = sim
                .params()
                .into_iter()
                .map(|(n, v)| (n.to_string(), v))
                .collect();
            for &(x, y) in from.iter() {
                let o = dynlib::RunOptions {
                    t0: run.t0,
                    t_end: run.horizon.t_end,
                    dt: run.horizon.dt,
                    max_steps: run.max_steps,
                    transient: run.transient,
                    record_interval: run.record_interval,
                    stepper_config: run.stepper_config.clone(),
                    ic: vec![(names[0].clone(), x.into()), (names[1].clone(), y.into())],
                    params: params
                        .iter()
                        .map(|(n, v)| (n.clone(), (*v).into()))
                        .collect(),
                    interrupt: Some(interrupt.clone()),
                    ..Default::default()
                };
                lines.push(trajectory(sim.run(&o)?)?);
            }
            // The field covers the ranges asked for, else the trajectories' (padded).
            let mut opts = figure.options();
            let extent = |k: usize| {
                let vals = lines
                    .iter()
                    .flatten()
                    .map(|p| if k == 0 { p.0 } else { p.1 })
                    .filter(|v| v.is_finite());
                let (lo, hi) = vals.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
                    (a.min(v), b.max(v))
                });
                if lo < hi {
                    let pad = 0.1 * (hi - lo);
                    (lo - pad, hi + pad)
                } else {
                    (lo - 1.0, lo + 1.0)
                }
            };
            let xr = opts.x_range.unwrap_or_else(|| extent(0));
            let yr = opts.y_range.unwrap_or_else(|| extent(1));
            opts.x_range = Some(xr);
            opts.y_range = Some(yr);
            let fig = plot::vector_field(
                sim.kernel(),
                &params,
                (&names[0], &names[1]),
                (xr, yr),
                *grid,
                &lines,
            )?;
            (fig, output(&run.output)?.to_path_buf(), opts)
        }
        PlotKind::Bifurcation { sweep, figure, var } => {
            if let Some(data) = results_file(&sweep.uri)? {
                let (param, values) = swept_column(&data)?;
                let var = match var {
                    Some(v) => v.clone(),
                    None => match data.variables().first() {
                        Some(v) => v.to_string(),
                        None => {
                            return Err(dynlib::RuntimeError::option(
                                "var",
                                format!("{} holds no recorded variable to draw", data.title),
                            )
                            .into())
                        }
                    },
                };
                let pairs = values
                    .iter()
                    .copied()
                    .zip(data.column(&var)?.iter().copied())
                    .collect();
                let fig = plot::bifurcation(&param, &var, pairs, &data.title);
                (fig, output(&sweep.output)?.to_path_buf(), figure.options())
            } else {
                if let Some(v) = var {
                    sweep.record_vars = Some(vec![v.clone()]);
                }
                let (kernel, (name, axis), sw) = run_sweep(sweep, interrupt)?;
                let var = match var {
                    Some(v) => v.clone(),
                    None => kernel.model().state_names()[0].to_string(),
                };
                let mut samples = Vec::new();
                for (k, &p) in axis.iter().enumerate().take(sw.runs().len()) {
                    if let Some(res) = sw.result(k) {
                        let x = res.series(&var)?;
                        samples.extend(x.iter().map(|&v| (p, v)));
                    }
                }
                let fig = plot::bifurcation(&name, &var, samples, &title_of(kernel.model()));
                (fig, output(&sweep.output)?.to_path_buf(), figure.options())
            }
        }
        PlotKind::Lyapunov { sweep, figure } => {
            let (name, axis, exponents, title) = match results_file(&sweep.uri)? {
                Some(data) => {
                    let (param, values) = swept_column(&data)?;
                    let exponents: Vec<Vec<f64>> = data
                        .columns
                        .iter()
                        .filter(|(n, _)| n == "mle" || n.starts_with("lyap"))
                        .map(|(_, v)| v.clone())
                        .collect();
                    if exponents.is_empty() {
                        return Err(dynlib::RuntimeError::option(
                            "lyapunov",
                            format!(
                                "{} has no exponents (columns mle, or lyap0, lyap1, ...: what \
                                 `dynlib sweep --lyapunov` writes)",
                                sweep.uri
                            ),
                        )
                        .into());
                    }
                    (param, values, exponents, data.title)
                }
                None => {
                    sweep.build.lyapunov = true;
                    let (kernel, (name, axis), sw) = run_sweep(sweep, interrupt)?;
                    let exponents = match sweep.build.k {
                        Some(k) => {
                            let per_point = sw.spectrum(k);
                            (0..k)
                                .map(|j| {
                                    per_point
                                        .iter()
                                        .map(|s| s.get(j).copied().unwrap_or(f64::NAN))
                                        .collect()
                                })
                                .collect()
                        }
                        None => vec![sw.mle()],
                    };
                    (name, axis, exponents, title_of(kernel.model()))
                }
            };
            let fig = plot::lyapunov(&name, &axis, &exponents, &title);
            (fig, output(&sweep.output)?.to_path_buf(), figure.options())
        }
    };
    let drawn = fig.save(&path, &opts)?;
    crate::say!(
        "plot     {} ({}×{} pixels, {} marks)",
        path.display(),
        drawn.size.0,
        drawn.size.1,
        drawn.marks
    );
    Ok(())
}

fn title_of(model: &dynlib::Model) -> String {
    model.name.clone().unwrap_or_else(|| model.uri.clone())
}

/// The results file `uri` names, read, when it is one (an existing `.json`, `.csv`,
/// `.npz`, `.parquet` or `.arrow` file: what `dynlib run` and `dynlib sweep` write);
/// `None` for a model.
fn results_file(uri: &str) -> Result<Option<plot::Data>, plot::PlotError> {
    let path = std::path::Path::new(uri);
    let ext = plot::extension(path);
    let results = matches!(
        ext.as_deref(),
        Some("json" | "csv" | "npz" | "parquet" | "arrow" | "feather")
    );
    if results && path.is_file() {
        plot::Data::read(path).map(Some)
    } else {
        Ok(None)
    }
}

/// A sweep file's one swept parameter and its values.
fn swept_column(data: &plot::Data) -> Result<(String, Vec<f64>), Box<dyn std::error::Error>> {
    match data.swept().as_slice() {
        [one] => Ok((one.to_string(), data.column(one)?.to_vec())),
        [] => Err(dynlib::RuntimeError::option(
            "input",
            format!(
                "{} is not a sweep's file (no swept parameter between its `point` and \
                 `status` columns)",
                data.title
            ),
        )
        .into()),
        many => Err(dynlib::RuntimeError::option(
            "input",
            format!(
                "{} sweeps {} parameters ({}); this plot draws against one",
                data.title,
                many.len(),
                many.join(", ")
            ),
        )
        .into()),
    }
}

/// What a run-based picture draws: a results file named as the URI, or a run of the model
/// as `dynlib run` would make it (the session kept, for the model's functions).
struct Samples {
    data: plot::Data,
    sim: Option<dynlib::Sim>,
}

/// The samples and the variables to draw: `vars`, else the first `default` variables (all
/// with 0).
fn samples(
    args: &mut RunArgs,
    vars: Option<Vec<String>>,
    default: usize,
    interrupt: &dynlib::runtime::Interrupt,
) -> Result<(Samples, Vec<String>), Box<dyn std::error::Error>> {
    let got = match results_file(&args.uri)? {
        Some(data) => Samples { data, sim: None },
        None => {
            let sim = simulate(args, vars.as_deref(), interrupt)?;
            Samples {
                data: plot::Data::of_run(sim.results()?, sim.model()),
                sim: Some(sim),
            }
        }
    };
    if got.data.columns.first().is_none_or(|(_, v)| v.is_empty()) {
        return Err(dynlib::RuntimeError::option(
            "record",
            format!(
                "{} holds no samples to draw (a run with --no-record, or one that failed at once)",
                got.data.title
            ),
        )
        .into());
    }
    let names = match vars {
        Some(v) => v,
        None => {
            let all = got.data.variables();
            if all.is_empty() {
                return Err(dynlib::RuntimeError::option(
                    "vars",
                    format!("{} holds no recorded variable to draw", got.data.title),
                )
                .into());
            }
            let n = if default == 0 {
                all.len()
            } else {
                default.min(all.len())
            };
            all[..n].iter().map(|s| s.to_string()).collect()
        }
    };
    Ok((got, names))
}

/// Runs the model as `dynlib run` would, recording `vars` when given (and no
/// `--record-vars`); what was recorded before a failure is drawn, the failure said.
fn simulate(
    args: &mut RunArgs,
    vars: Option<&[String]>,
    interrupt: &dynlib::runtime::Interrupt,
) -> Result<dynlib::Sim, Box<dyn std::error::Error>> {
    if let Some(v) = vars {
        if args.record_vars.is_none() {
            args.record_vars = Some(v.to_vec());
        }
    }
    let out = output(&args.output)?.to_path_buf();
    let (sim, failure, _) = crate::output::simulate(args, Some(&out), interrupt)?;
    if let Some(e) = failure {
        eprintln!(
            "warning: {}",
            dynlib::model::diag::printable(&e.to_string())
        );
    }
    Ok(sim)
}

/// The one swept parameter of a bifurcation or Lyapunov plot, and each point's value.
fn one_axis(grid: &Grid) -> Result<(String, Vec<f64>), dynlib::RuntimeError> {
    if grid.names().len() != 1 {
        return Err(dynlib::RuntimeError::option(
            "param",
            format!(
                "this plot sweeps one parameter, got {}: {}",
                grid.names().len(),
                grid.names().join(", ")
            ),
        ));
    }
    Ok((
        grid.names()[0].clone(),
        (0..grid.len()).map(|i| grid.point(i)[0]).collect(),
    ))
}

/// A finished sweep of one parameter: the kernel, the parameter's name and each point's
/// value, the sweep.
type Swept = (
    std::sync::Arc<dynlib::Kernel>,
    (String, Vec<f64>),
    dynlib::runtime::Sweep,
);

/// Runs the sweep as `dynlib sweep` would, keeping every point's run.
fn run_sweep(
    args: &SweepArgs,
    interrupt: &dynlib::runtime::Interrupt,
) -> Result<Swept, Box<dyn std::error::Error>> {
    let grid = crate::sweep_cli::swept(args)?;
    // Refused before the sweep runs, not after.
    let axis = one_axis(&grid)?;
    let config = dynlib::Config::load()?;
    let kernel = dynlib::build(&args.uri, args.build.setup(&config))?;
    let out = output(&args.output)?;
    crate::output::refuse_input_as_output(out, kernel.model(), &config)?;
    let base = crate::sweep_cli::base_options(args, &kernel)?;
    let mut batch = dynlib::runtime::BatchOptions::default().interrupt(interrupt);
    batch.threads = args.threads;
    batch.lanes = args.lanes;
    let bar = crate::progress::Bar::new(args.quiet);
    if let Some(bar) = &bar {
        let bar = bar.clone();
        batch = batch.progress(move |p| bar.points(p.done, p.total, p.steps));
    }
    let core = SessionCore::new(&kernel);
    let sw = sweep_keeping(
        &kernel,
        &core,
        &grid,
        &base,
        0..grid.len(),
        &batch,
        &Keep::Runs,
    );
    if let Some(bar) = &bar {
        bar.finish();
    }
    crate::signals::run_finished();
    Ok((kernel.clone(), axis, sw?))
}
