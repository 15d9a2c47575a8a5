//! The `dynlib` command line.

mod cache_cli;
mod columnar;
mod npz;
mod output;
#[cfg(feature = "plot")]
mod plot_cli;
mod progress;
mod signals;
mod sink;
mod sweep_cli;

/// `println!` for the CLI: control characters are escaped
/// (`dynlib::model::diag::printable`), so no model or cache entry can send escape sequences
/// to the terminal, and a closed standard output ends the process quietly (`sink::print`).
/// Used in functions that return `Result<_, Box<dyn Error>>`.
macro_rules! say {
    ($($arg:tt)*) => {
        $crate::sink::print(&format!("{}\n", format_args!($($arg)*)))?
    };
}
pub(crate) use say;

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use dynlib::model::uri;
use dynlib::{Config, LoadOptions};

/// Simulate dynamical systems described in TOML models.
#[derive(Parser)]
#[command(name = "dynlib", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a model and print its results (summary, JSON or CSV).
    Run(Box<output::RunArgs>),
    /// Run a model once per point of a parameter grid, on every core (bifurcation data,
    /// parameter scans), optionally one shard of the grid.
    Sweep(Box<sweep_cli::SweepArgs>),
    /// Draw a picture of a run or a sweep into -o FILE.svg or FILE.png: series, phase,
    /// cobweb, return-map, vectorfield, bifurcation, lyapunov.
    #[cfg(feature = "plot")]
    Plot {
        #[command(subcommand)]
        kind: plot_cli::PlotKind,
    },
    /// Write the IR of a built model (model functions, stepper, runner) into DIR; with --jit
    /// also the LLVM IR and assembly of each compiled unit.
    ExportSources {
        /// The model URI.
        uri: String,
        /// The directory to write into (created if missing).
        dir: std::path::PathBuf,
        /// Stepper name or alias.
        #[arg(long)]
        stepper: Option<String>,
        /// Compile with LLVM and also write each unit's LLVM IR (.ll) and assembly (.s).
        #[arg(long)]
        jit: bool,
        /// A mod URI to apply (repeatable, applied in order).
        #[arg(long = "mod", value_name = "URI")]
        mods: Vec<String>,
    },
    /// Load, validate and inspect models.
    Model {
        #[command(subcommand)]
        command: ModelCommand,
    },
    /// The registered steppers.
    Steppers {
        #[command(subcommand)]
        command: SteppersCommand,
    },
    /// The disk cache of compiled units (`--jit --disk-cache`).
    Cache {
        #[command(subcommand)]
        command: cache_cli::CacheCommand,
    },
}

#[derive(Subcommand)]
enum SteppersCommand {
    /// One line per stepper: name, kind, order, time control, scheme, aliases, configuration.
    List {
        /// Only steppers for this kind of model (ode or map).
        #[arg(long, value_parser = ["ode", "map"])]
        kind: Option<String>,
    },
}

#[derive(Subcommand)]
enum ModelCommand {
    /// Validate a model: prints a one-line summary, or the problems and exits with 1.
    Validate {
        /// The model URI: builtin://kind/name, a path, TAG://rel/path, or "inline: ...".
        uri: String,
        /// A mod URI to apply (repeatable, applied in order).
        #[arg(long = "mod", value_name = "URI")]
        mods: Vec<String>,
    },
    /// Print the normalised model: equations, aux, functions, events.
    Show {
        /// The model URI.
        uri: String,
        /// A mod URI to apply (repeatable, applied in order).
        #[arg(long = "mod", value_name = "URI")]
        mods: Vec<String>,
    },
    /// List the builtin models and the models under configured tags.
    List,
    /// Compare the model's declared [equations.jacobian] with the Jacobian derived from
    /// its right-hand side and with finite differences, at the initial state and points
    /// near it; list the entries that disagree. Exits with 1 when the declared Jacobian is
    /// wrong: it disagrees with the finite differences, or with the derived one where that
    /// agrees with them.
    CheckJacobian {
        /// The model URI.
        uri: String,
        /// A mod URI to apply (repeatable, applied in order).
        #[arg(long = "mod", value_name = "URI")]
        mods: Vec<String>,
        /// Points near the initial state to compare at, besides it.
        #[arg(long, value_name = "N", default_value_t = 3)]
        points: usize,
    },
}

fn main() -> ExitCode {
    output::PROCESS_START.get_or_init(std::time::Instant::now);
    // Warnings (cache fallbacks, rebuilt cache entries) go to stderr.
    tracing_subscriber::fmt()
        .with_writer(|| EscapedStderr)
        .with_max_level(tracing::Level::WARN)
        .without_time()
        .with_target(false)
        .init();
    // Parse errors echo the arguments: escape them like every other output.
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let text = e.render().to_string();
            if e.use_stderr() {
                eprint!("{}", dynlib::model::diag::printable(&text));
            } else if let Err(e) = sink::print(&text) {
                eprintln!("{e}");
            }
            return ExitCode::from(e.exit_code().clamp(0, 255) as u8);
        }
    };
    let code = match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("{}", dynlib::model::diag::printable(&e.to_string()));
            ExitCode::from(1)
        }
    };
    leave(code)
}

/// Ends the process. A tiered --jit run may end while its kernel still compiles on another
/// thread: with the disk cache the compilation is waited for (the next run loads it);
/// without, the process ends at once with `_exit` (after flushing what it wrote), since
/// nothing would keep the code and running LLVM's static destructors under a thread still
/// inside LLVM is not safe.
fn leave(code: ExitCode) -> ExitCode {
    #[cfg(feature = "jit")]
    {
        use dynlib::runtime::background;
        if output::WAIT_FOR_COMPILES.load(std::sync::atomic::Ordering::Relaxed) {
            background::wait();
        } else if background::in_flight() > 0 {
            use std::io::Write;
            let _ = std::io::stdout().flush();
            let _ = std::io::stderr().flush();
            let status = (0..=255u8)
                .find(|&c| ExitCode::from(c) == code)
                .map_or(1, i32::from);
            // SAFETY: `_exit` ends the process without running exit handlers or
            // destructors; everything this process wrote is flushed or already closed.
            unsafe { libc::_exit(status) };
        }
    }
    code
}

fn run(cli: Cli) -> Result<ExitCode, Box<dyn std::error::Error>> {
    match cli.command {
        Command::Run(args) => {
            let interrupt = signals::install();
            if let Some(e) = output::run(&args, &interrupt)? {
                eprintln!("{}", dynlib::model::diag::printable(&e.to_string()));
                let code = match &e {
                    dynlib::RuntimeError::RunFailed {
                        status: dynlib::Status::UserBreak,
                        ..
                    } => signals::exit_code(&interrupt),
                    _ => 1,
                };
                return Ok(ExitCode::from(code));
            }
        }
        #[cfg(feature = "plot")]
        Command::Plot { mut kind } => {
            let interrupt = signals::install();
            plot_cli::run(&mut kind, &interrupt)?;
        }
        Command::Sweep(args) => {
            let interrupt = signals::install();
            if sweep_cli::run(&args, &interrupt)? {
                eprintln!(
                    "dynlib: the sweep was interrupted; the points that finished are written"
                );
                return Ok(ExitCode::from(signals::exit_code(&interrupt)));
            }
        }
        Command::ExportSources {
            uri,
            dir,
            stepper,
            jit,
            mods,
        } => {
            let mut setup = dynlib::SetupOptions::default().jit(jit).tiered(false);
            setup.stepper = stepper;
            setup.mods = mods;
            setup.config = Some(Config::load()?);
            let kernel = dynlib::build(&uri, &setup)?;
            for path in kernel.export_sources(&dir)? {
                say!("{}", path.display());
            }
        }
        Command::Cache { command } => return cache_cli::run(command),
        Command::Model { command } => match command {
            ModelCommand::Validate { uri, mods } => {
                let model = dynlib::load(&uri, &options(mods)?)?;
                // What a run with the model's own settings would refuse, refused here too.
                let stepper = dynlib::runtime::stepper::resolve(&model, None)?;
                dynlib::runtime::stepper::check_sim(&model, stepper)?;
                if model.kind == dynlib::model::ModelKind::Ode && !stepper.adaptive {
                    let s = &model.sim;
                    dynlib::runtime::options::check_time_resolution(s.t0, s.t_end, s.dt)
                        .map_err(|e| format!("[sim]: {e}"))?;
                }
                say!("{}", model.summary());
            }
            ModelCommand::Show { uri, mods } => {
                let model = dynlib::load(&uri, &options(mods)?)?;
                sink::print(&model.show())?;
            }
            ModelCommand::CheckJacobian { uri, mods, points } => {
                let model = dynlib::load(&uri, &options(mods)?)?;
                let check = dynlib::runtime::jacobian::check(&model, points)?;
                let text = check_jacobian_text(&model, &check);
                sink::print(&dynlib::model::diag::printable(&text))?;
                if check.declared_is_wrong() {
                    return Ok(ExitCode::from(1));
                }
            }
            ModelCommand::List => {
                let config = Config::load()?;
                for m in uri::builtin_models() {
                    say!("builtin://{}/{}", m.kind, m.name);
                }
                for m in uri::list_tagged(&config) {
                    say!("{}  ({})", m.uri, m.path.display());
                }
            }
        },
        Command::Steppers {
            command: SteppersCommand::List { kind },
        } => {
            for s in dynlib::runtime::stepper::registry() {
                if kind.as_deref().is_some_and(|k| k != s.kind.as_str()) {
                    continue;
                }
                let config: Vec<String> = s
                    .config
                    .iter()
                    .map(|c| match c.choices.iter().find(|(_, v)| *v == c.default) {
                        Some((name, _)) => format!("{}={name}", c.name),
                        None => format!("{}={}", c.name, c.default),
                    })
                    .collect();
                // What `--lyapunov` can do with it on a flow: advance the tangent with the
                // state, alone, or not at all (maps take J·v directly).
                let tangent = match s.tangent_modes() {
                    [] => "-",
                    [_] => "alone",
                    _ => "with-state",
                };
                say!(
                    "{:<8} kind={:<3} order={} control={:<8} scheme={:<8} tangent={:<10} aliases={} config={}",
                    s.name,
                    s.kind.as_str(),
                    match s.max_order {
                        Some(top) => format!("{}-{top}", s.order),
                        None => s.order.to_string(),
                    },
                    if s.adaptive { "adaptive" } else { "fixed" },
                    if s.implicit { "implicit" } else { "explicit" },
                    tangent,
                    if s.aliases.is_empty() {
                        "-".to_string()
                    } else {
                        s.aliases.join(",")
                    },
                    if config.is_empty() {
                        "-".to_string()
                    } else {
                        config.join(",")
                    },
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Standard error with control characters escaped: warnings name paths and cache labels,
/// which come from the file system.
struct EscapedStderr;

impl std::io::Write for EscapedStderr {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let text = String::from_utf8_lossy(buf);
        std::io::stderr().write_all(dynlib::model::diag::printable(&text).as_bytes())?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

fn options(mods: Vec<String>) -> Result<LoadOptions, dynlib::Error> {
    Ok(LoadOptions {
        mods,
        config: Some(Config::load()?),
    })
}

/// The report of `dynlib model check-jacobian`: what was compared, then each comparison
/// with the entries that disagree (at most 20 each).
fn check_jacobian_text(
    model: &dynlib::model::Model,
    check: &dynlib::runtime::jacobian::JacobianCheck,
) -> String {
    use dynlib::runtime::jacobian::{Disagreement, DECLARED_TOLERANCE, DIFFERENCES_TOLERANCE};
    use std::fmt::Write as _;
    let mut s = String::new();
    let names = &check.states;
    // An inline model's URI is its whole text.
    let uri = match model.uri.starts_with("inline:") {
        true => "inline model",
        false => model.uri.as_str(),
    };
    let _ = writeln!(
        s,
        "model    {uri} ({} states: {})",
        names.len(),
        names.join(", ")
    );
    let declared = model.jacobian.is_some();
    let _ = writeln!(
        s,
        "jacobian {}derived from the right-hand side; compared at {} points (the initial \
         state and points near it)",
        if declared {
            "declared; "
        } else {
            "not declared; "
        },
        check.points.len()
    );
    let mut section = |what: &str, tol: f64, found: &[Disagreement], a: &str, b: &str| {
        if found.is_empty() {
            let _ = writeln!(s, "{what}: agree (within {tol:e} of each column's scale)");
            return;
        }
        let _ = writeln!(s, "{what}: {} entries disagree", found.len());
        for d in found.iter().take(20) {
            let p = &check.points[d.point];
            let _ = writeln!(
                s,
                "  J[{}, {}] at point {} (t = {}, y = {:?}): {a} {}, {b} {}",
                names[d.row], names[d.col], d.point, p.t, p.y, d.values.0, d.values.1
            );
        }
        if found.len() > 20 {
            let _ = writeln!(s, "  ... and {} more", found.len() - 20);
        }
    };
    if declared {
        section(
            "declared vs derived",
            DECLARED_TOLERANCE,
            &check.declared_vs_derived,
            "declared",
            "derived",
        );
        section(
            "declared vs finite differences",
            DIFFERENCES_TOLERANCE,
            &check.declared_vs_differences,
            "declared",
            "differences",
        );
    }
    section(
        "derived vs finite differences",
        DIFFERENCES_TOLERANCE,
        &check.derived_vs_differences,
        "derived",
        "differences",
    );
    s
}
