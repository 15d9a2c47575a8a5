//! `dynlib cache path | list | clear | verify`: the disk cache of compiled units.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};
use dynlib::runtime::stepper;
use dynlib::Config;
use dynlib_cache::{DiskCache, EntryInfo, Root, Selector};

use crate::say;

/// The cache subcommands.
#[derive(Subcommand)]
pub enum CacheCommand {
    /// Print the cache root that builds with --disk-cache use.
    Path,
    /// One line per entry: component, model, stepper, dtype, variant, size, age, path.
    List {
        /// Only entries compiled for this stepper (name or alias).
        #[arg(long, value_parser = parse_stepper)]
        stepper: Option<String>,
        /// Only entries compiled for this dtype (float64, f64, float32, ...).
        #[arg(long, value_parser = parse_dtype)]
        dtype: Option<String>,
    },
    /// Delete entries: all of them, or those matching every given filter.
    Clear(ClearArgs),
    /// Check every entry (format, digest, object size and checksum); exits 1 if any is
    /// corrupt. Also lists leftovers of processes that died while writing.
    Verify {
        /// Also delete the corrupt entries (builds would rebuild them anyway) and the
        /// leftovers.
        #[arg(long)]
        delete: bool,
    },
}

/// `dynlib cache clear`: at least one selector is required, with or without `--dry-run`
/// (a dry run shows what the same command would delete).
#[derive(Args)]
pub struct ClearArgs {
    #[command(flatten)]
    select: ClearSelector,
    /// Print what would be deleted, delete nothing.
    #[arg(long)]
    dry_run: bool,
}

/// What `dynlib cache clear` deletes.
#[derive(Args)]
#[group(required = true, multiple = true)]
struct ClearSelector {
    /// Every entry (and the build locks and leftovers beside them); other files under
    /// <root>/jit are never touched.
    #[arg(long, conflicts_with_all = ["stepper", "dtype", "older_than"])]
    all: bool,
    /// Entries compiled for this stepper.
    #[arg(long, value_parser = parse_stepper)]
    stepper: Option<String>,
    /// Entries compiled for this dtype.
    #[arg(long, value_parser = parse_dtype)]
    dtype: Option<String>,
    /// Entries created more than DAYS days ago.
    #[arg(long, value_name = "DAYS", value_parser = parse_days)]
    older_than: Option<f64>,
}

fn parse_stepper(s: &str) -> Result<String, String> {
    stepper::lookup(s)
        .map(|spec| spec.name.to_string())
        .ok_or_else(|| {
            let known: Vec<&str> = stepper::registry().iter().map(|s| s.name).collect();
            format!("unknown stepper '{s}'; known: {}", known.join(", "))
        })
}

fn parse_dtype(s: &str) -> Result<String, String> {
    dynlib::model::Dtype::parse(s)
        .map(|d| d.as_str().to_string())
        .ok_or_else(|| format!("'{s}' is not a dtype (float64, float32, int64, int32 or an alias)"))
}

fn parse_days(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(d) if d.is_finite() && d >= 0.0 => Ok(d),
        _ => Err(format!("'{s}' is not a number of days (>= 0)")),
    }
}

/// The root builds use, or an error when there is none usable.
fn root() -> Result<PathBuf, Box<dyn std::error::Error>> {
    let config = Config::load()?;
    // Looking never creates anything (only clearing writes, inside what exists).
    match dynlib_cache::root::locate(config.cache_root()) {
        Root::Disk(p) | Root::ReadOnly(p) => Ok(p),
        Root::Memory => Err("no usable cache root: compiled code is kept in memory only".into()),
    }
}

fn human_size(bytes: u64) -> String {
    let mut x = bytes as f64;
    for unit in ["B", "KB", "MB", "GB"] {
        if x < 1024.0 || unit == "GB" {
            return if unit == "B" {
                format!("{bytes}B")
            } else {
                format!("{x:.1}{unit}")
            };
        }
        x /= 1024.0;
    }
    unreachable!()
}

fn human_age(days: f64) -> String {
    let secs = days * 86_400.0;
    if secs < 3600.0 {
        format!("{}m", (secs / 60.0).floor())
    } else if secs < 86_400.0 {
        format!("{}h", (secs / 3600.0).floor())
    } else {
        format!("{}d", days.floor())
    }
}

fn dash(s: &str) -> &str {
    if s.is_empty() {
        "-"
    } else {
        s
    }
}

fn line(e: &EntryInfo, now: u64) -> String {
    format!(
        "{:<9} {:<24} {:<9} {:<8} {:<7} {:>8} {:>5}  {}",
        e.component.dir(),
        dash(&e.labels.model),
        dash(&e.labels.stepper),
        dash(&e.labels.dtype),
        dash(&e.labels.variant),
        human_size(e.size),
        human_age(e.age_days(now)),
        e.path.display()
    )
}

/// Runs a cache subcommand.
pub fn run(command: CacheCommand) -> Result<ExitCode, Box<dyn std::error::Error>> {
    let now = dynlib_cache::store::now();
    match command {
        CacheCommand::Path => say!("{}", root()?.display()),
        CacheCommand::List { stepper, dtype } => {
            let cache = DiskCache::new(root()?);
            let mut any = false;
            for (path, info) in cache.list() {
                match info {
                    Ok(e) => {
                        if stepper.as_ref().is_some_and(|s| *s != e.labels.stepper)
                            || dtype.as_ref().is_some_and(|d| *d != e.labels.dtype)
                        {
                            continue;
                        }
                        if !any {
                            say!(
                                "{:<9} {:<24} {:<9} {:<8} {:<7} {:>8} {:>5}  path",
                                "component",
                                "model",
                                "stepper",
                                "dtype",
                                "variant",
                                "size",
                                "age"
                            );
                        }
                        any = true;
                        say!("{}", line(&e, now));
                    }
                    Err(reason) if stepper.is_none() && dtype.is_none() => {
                        any = true;
                        say!("unreadable entry {}: {reason}", path.display());
                    }
                    Err(_) => {}
                }
            }
            if !any {
                say!("No cache entries found.");
            }
        }
        CacheCommand::Clear(a) => {
            let cache = DiskCache::new(root()?);
            let selector = Selector {
                all: a.select.all,
                stepper: a.select.stepper,
                dtype: a.select.dtype,
                older_than_days: a.select.older_than,
            };
            let paths = cache
                .clear(&selector, a.dry_run)
                .map_err(|e| format!("clearing the cache under {}: {e}", cache.root().display()))?;
            if paths.is_empty() {
                say!("No matching cache entries found.");
            }
            for p in paths {
                if a.dry_run {
                    say!("[dry-run] would delete {}", p.display());
                } else {
                    say!("deleted {}", p.display());
                }
            }
        }
        CacheCommand::Verify { delete } => {
            let cache = DiskCache::new(root()?);
            let (mut ok, mut bad, mut failed) = (0, 0, 0);
            for (path, r) in cache.verify() {
                match r {
                    Ok(_) => ok += 1,
                    Err(reason) => {
                        bad += 1;
                        say!("corrupt {}: {reason}", path.display());
                        if delete {
                            // One entry that cannot be deleted does not stop the others.
                            match cache.remove_if_corrupt(&path) {
                                Ok(true) => say!("deleted {}", path.display()),
                                Ok(false) => say!("kept {} (rebuilt meanwhile)", path.display()),
                                Err(e) => {
                                    failed += 1;
                                    say!("cannot delete {}: {e}", path.display());
                                }
                            }
                        }
                    }
                }
            }
            for (path, why) in cache.planted() {
                bad += 1;
                say!("suspicious {}: {why}", path.display());
            }
            if delete {
                match cache.remove_planted() {
                    Ok(gone) => {
                        for p in gone {
                            say!("unlinked {}", p.display());
                        }
                    }
                    Err(e) => {
                        failed += 1;
                        say!("cannot unlink: {e}");
                    }
                }
                // Directories in a lock's place are never deleted (they may hold someone's
                // files), so the cache is still not clean: say so, and fail.
                for (path, _) in cache.planted() {
                    failed += 1;
                    say!("left {}: remove it yourself", path.display());
                }
            }
            // Leftovers of processes that died while writing or deleting (an hour old, so
            // no live writer's temporary directory is touched).
            let debris = if delete {
                cache.remove_debris(3600).unwrap_or_else(|e| {
                    failed += 1;
                    let _ = crate::sink::print(&format!("cannot delete leftovers: {e}\n"));
                    Vec::new()
                })
            } else {
                cache.debris(3600)
            };
            for d in &debris {
                let verb = if delete {
                    "deleted leftover"
                } else {
                    "leftover"
                };
                say!("{verb} {}", d.display());
            }
            say!("{ok} entries ok, {bad} corrupt or suspicious");
            if (bad > 0 && !delete) || failed > 0 {
                return Ok(ExitCode::from(1));
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
