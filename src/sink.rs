//! Where the CLI's output goes: standard output, or a file prepared before a run starts.
//!
//! A file output is checked and opened before any work is done (a missing folder or a
//! directory in its place is an error at once, not after an hour of simulation), then
//! written as a whole new file renamed over the old one, so an interrupted write never
//! leaves a torn file over a good one. A link is followed (the link stays, its target is
//! replaced). A FIFO, a device (`/dev/null`) or a terminal is written into, as a shell
//! redirection would. Standard output that goes away (`| head`) ends the process quietly,
//! as with any Unix tool, instead of a panic.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

/// An output destination, ready before the run.
pub enum Sink {
    /// Standard output.
    Stdout,
    /// A regular file: written into `tmp`, renamed over `target` on commit.
    Replace {
        /// The file to replace (a link's target, when the path is a link).
        target: PathBuf,
        /// The new file, beside it.
        tmp: PathBuf,
        /// The new file, open.
        file: Option<BufWriter<File>>,
    },
    /// A FIFO, device or terminal: written into directly.
    Stream(PathBuf),
}

/// Why an output cannot be written: the path and the reason.
pub fn error(path: &Path, why: impl std::fmt::Display) -> String {
    format!("{}: cannot write the output: {why}", path.display())
}

impl Sink {
    /// Checks and opens the destination (`None`: standard output).
    pub fn prepare(path: Option<&Path>) -> Result<Sink, String> {
        let Some(path) = path else {
            return Ok(Sink::Stdout);
        };
        match std::fs::metadata(path) {
            Ok(m) if m.is_dir() => Err(error(path, "it is a directory")),
            Ok(m) if !m.is_file() => Ok(Sink::Stream(path.to_path_buf())),
            Ok(_) => {
                let target = std::fs::canonicalize(path).map_err(|e| error(path, e))?;
                Sink::new_file(path, target)
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                let parent = match path.parent() {
                    Some(p) if !p.as_os_str().is_empty() => p,
                    _ => Path::new("."),
                };
                if !parent.is_dir() {
                    return Err(error(
                        path,
                        format!("the folder {} does not exist", parent.display()),
                    ));
                }
                Sink::new_file(path, path.to_path_buf())
            }
            Err(e) => Err(error(path, e)),
        }
    }

    fn new_file(shown: &Path, target: PathBuf) -> Result<Sink, String> {
        let name = target
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .ok_or_else(|| error(shown, "not a file name"))?;
        let tmp = target.with_file_name(format!(".{name}.{}.tmp", dynlib_fs::unique_suffix()));
        let file = dynlib_fs::create_new(&tmp).map_err(|e| error(shown, e))?;
        if let Ok(m) = std::fs::metadata(&target) {
            let _ = file.set_permissions(m.permissions());
        }
        Ok(Sink::Replace {
            target,
            tmp,
            file: Some(BufWriter::new(file)),
        })
    }

    /// The path written to, if a file.
    pub fn path(&self) -> Option<&Path> {
        match self {
            Sink::Stdout => None,
            Sink::Replace { target, .. } => Some(target),
            Sink::Stream(p) => Some(p),
        }
    }

    /// Writes the output with `write` and finishes it (flush, `fsync` and rename for a
    /// file). Standard output that is closed ends the process quietly (exit 141, as
    /// `SIGPIPE` would).
    pub fn write(
        mut self,
        write: impl FnOnce(&mut dyn Write) -> io::Result<()>,
    ) -> Result<(), String> {
        match &mut self {
            Sink::Stdout => {
                let stdout = io::stdout();
                let mut w = BufWriter::new(stdout.lock());
                stdout_result(write(&mut w).and_then(|()| w.flush()))
            }
            Sink::Stream(path) => {
                let file = std::fs::OpenOptions::new()
                    .write(true)
                    .open(&*path)
                    .map_err(|e| error(path, e))?;
                let mut w = BufWriter::new(file);
                write(&mut w)
                    .and_then(|()| w.flush())
                    .map_err(|e| error(path, e))
            }
            Sink::Replace { target, tmp, file } => {
                let mut w = file.take().expect("written once");
                let done = write(&mut w)
                    .and_then(|()| w.flush())
                    .and_then(|()| w.get_ref().sync_all())
                    .and_then(|()| std::fs::rename(&*tmp, &*target));
                done.map_err(|e| error(target, e))
            }
        }
    }
}

impl Drop for Sink {
    /// An output never committed leaves nothing behind.
    fn drop(&mut self) {
        if let Sink::Replace { tmp, file, .. } = self {
            drop(file.take());
            let _ = std::fs::remove_file(&*tmp);
        }
    }
}

/// What a failed write to standard output means: closed (`| head`) ends the process
/// quietly; anything else is an error.
pub fn stdout_result(r: io::Result<()>) -> Result<(), String> {
    match r {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => std::process::exit(141),
        Err(e) => Err(format!("cannot write to standard output: {e}")),
    }
}

/// Prints `text` on standard output, with control characters escaped (it may hold model or
/// file content); a closed or full standard output is handled as [`stdout_result`] says.
pub fn print(text: &str) -> Result<(), String> {
    let escaped = dynlib::model::diag::printable(text);
    let stdout = io::stdout();
    let mut w = stdout.lock();
    stdout_result(w.write_all(escaped.as_bytes()).and_then(|()| w.flush()))
}
