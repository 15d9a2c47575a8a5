//! The `dynlib` command line.

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
    /// Load, validate and inspect models.
    Model {
        #[command(subcommand)]
        command: ModelCommand,
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
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{e}");
            ExitCode::from(1)
        }
    }
}

fn run(cli: Cli) -> Result<(), dynlib::Error> {
    match cli.command {
        Command::Model { command } => match command {
            ModelCommand::Validate { uri, mods } => {
                let model = dynlib::load(&uri, &options(mods)?)?;
                println!("{}", model.summary());
            }
            ModelCommand::Show { uri, mods } => {
                let model = dynlib::load(&uri, &options(mods)?)?;
                print!("{}", model.show());
            }
            ModelCommand::List => {
                let config = Config::load()?;
                for m in uri::builtin_models() {
                    println!("builtin://{}/{}", m.kind, m.name);
                }
                for m in uri::list_tagged(&config) {
                    println!("{}  ({})", m.uri, m.path.display());
                }
            }
        },
    }
    Ok(())
}

fn options(mods: Vec<String>) -> Result<LoadOptions, dynlib::Error> {
    Ok(LoadOptions {
        mods,
        config: Some(Config::load()?),
    })
}
