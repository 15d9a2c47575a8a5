//! The `dynlib` command line.

mod cache_cli;
mod output;
mod signals;

/// `println!` for text that may hold model or file content: control characters are
/// escaped (`dynlib::model::diag::printable`), so no model or cache entry can send escape
/// sequences to the terminal.
macro_rules! say {
    ($($arg:tt)*) => {
        println!("{}", dynlib::model::diag::printable(&format!($($arg)*)))
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
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("{}", dynlib::model::diag::printable(&e.to_string()));
            ExitCode::from(1)
        }
    }
}

fn run(cli: Cli) -> Result<ExitCode, Box<dyn std::error::Error>> {
    match cli.command {
        Command::Run(args) => {
            let interrupt = signals::install();
            let (text, failure) = output::run(&args, &interrupt)?;
            match &args.output {
                // A whole new file renamed over the old one: an interrupted write never
                // leaves a truncated file over a previous good one.
                Some(path) => dynlib_fs::write_atomic(path, text.as_bytes())
                    .map_err(|e| format!("{}: cannot write the output: {e}", path.display()))?,
                // JSON and CSV are data (JSON escapes control characters itself); the
                // summary is for a terminal.
                None if args.format == output::Format::Summary => {
                    print!("{}", dynlib::model::diag::printable(&text))
                }
                None => print!("{text}"),
            }
            if let Some(e) = failure {
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
        Command::ExportSources {
            uri,
            dir,
            stepper,
            jit,
            mods,
        } => {
            let mut setup = dynlib::SetupOptions::default().jit(jit);
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
                println!("{}", model.summary());
            }
            ModelCommand::Show { uri, mods } => {
                let model = dynlib::load(&uri, &options(mods)?)?;
                print!("{}", dynlib::model::diag::printable(&model.show()));
            }
            ModelCommand::List => {
                let config = Config::load()?;
                for m in uri::builtin_models() {
                    println!("builtin://{}/{}", m.kind, m.name);
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
                    .map(|c| format!("{}={}", c.name, c.default))
                    .collect();
                println!(
                    "{:<8} kind={:<3} order={} control={:<8} scheme={:<8} aliases={} config={}",
                    s.name,
                    s.kind.as_str(),
                    s.order,
                    if s.adaptive { "adaptive" } else { "fixed" },
                    if s.implicit { "implicit" } else { "explicit" },
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
