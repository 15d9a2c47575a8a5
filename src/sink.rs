//! Where the CLI's output goes: standard output, or a file prepared before a run starts.
//!
//! A file output is checked before any work is done (a missing folder, a directory in its
//! place or a folder that cannot be written is an error at once, not after an hour of
//! simulation), then written as a whole new file renamed over the old one, so an
//! interrupted write never leaves a torn file over a good one. The temporary file exists
//! only while the output is written (for a sweep written as it goes, the whole sweep; a
//! process killed without a chance to clean up, by SIGKILL or the OOM killer, leaves it
//! behind as a hidden `.NAME.*.tmp` beside the target). A link is followed, as a shell redirection would
//! (the link stays, its target is replaced or created). A FIFO, a device (`/dev/null`) or
//! a terminal is opened before the run and written into. A path that is this process's
//! standard output or error (`/dev/stdout`, `/proc/self/fd/2`) writes to that descriptor,
//! keeping its offset and append mode. Standard output that goes away (`| head`) ends the
//! process quietly, as with any Unix tool, instead of a panic.

use std::ffi::CString;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicPtr, Ordering};

/// An output destination, ready before the run.
pub enum Sink {
    /// Standard output.
    Stdout,
    /// Standard error (`-o /dev/stderr`).
    Stderr,
    /// A regular file, replaced on commit by a new one written beside it.
    Replace {
        /// The file to replace or create (a link's target, when the path is a link).
        target: PathBuf,
    },
    /// A FIFO, device or terminal, open: written into directly.
    Stream {
        /// The path, for messages.
        path: PathBuf,
        /// The open destination.
        file: File,
    },
}

/// Why an output cannot be written: the path and the reason.
pub fn error(path: &Path, why: impl std::fmt::Display) -> String {
    format!("{}: cannot write the output: {why}", path.display())
}

/// The most links followed to find where a path finally points (as the kernel's limit).
const MAX_LINKS: usize = 40;

impl Sink {
    /// Checks and opens the destination (`None`: standard output).
    pub fn prepare(path: Option<&Path>) -> Result<Sink, String> {
        let Some(path) = path else {
            return Ok(Sink::Stdout);
        };
        if names_a_folder(path) {
            return Err(error(
                path,
                "the path names a folder (it ends with '/', '.' or '..')",
            ));
        }
        match descriptor_named(path) {
            Some(1) => return Ok(Sink::Stdout),
            Some(2) => return Ok(Sink::Stderr),
            Some(fd) => return Sink::descriptor(path, fd),
            None => {}
        }
        match std::fs::metadata(path) {
            Ok(m) if m.is_dir() => Err(error(path, "it is a directory")),
            Ok(m) if is_descriptor(&m, 1) => Ok(Sink::Stdout),
            Ok(m) if is_descriptor(&m, 2) => Ok(Sink::Stderr),
            Ok(m) if !m.is_file() => {
                // Opened now, as a shell would before starting the command: a FIFO waits
                // for its reader here, a device that cannot be opened fails before the run.
                let file = std::fs::OpenOptions::new()
                    .write(true)
                    .open(path)
                    .map_err(|e| error(path, e))?;
                Ok(Sink::Stream {
                    path: path.to_path_buf(),
                    file,
                })
            }
            Ok(_) => {
                let target = std::fs::canonicalize(path).map_err(|e| error(path, e))?;
                Sink::replace(path, target)
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                let target = final_target(path)?;
                if names_a_folder(&target) {
                    return Err(error(
                        path,
                        format!("it links to {}, which names a folder", target.display()),
                    ));
                }
                let parent = match target.parent() {
                    Some(p) if !p.as_os_str().is_empty() => p,
                    _ => Path::new("."),
                };
                if !parent.is_dir() {
                    return Err(error(
                        path,
                        format!("the folder {} does not exist", parent.display()),
                    ));
                }
                Sink::replace(path, target)
            }
            Err(e) => Err(error(path, e)),
        }
    }

    /// A file to replace, once its folder is known to take new files (probed by creating
    /// and removing the temporary file it will be written to).
    fn replace(shown: &Path, target: PathBuf) -> Result<Sink, String> {
        if let Some(why) = cannot_replace(&target) {
            return Err(error(shown, why));
        }
        let tmp = temporary_beside(&target).ok_or_else(|| error(shown, "not a file name"))?;
        // Registered like the real one, so a signal that ends the process meanwhile
        // removes it; dropping the guard removes it otherwise.
        let probe = Pending::new(&tmp);
        match dynlib_fs::create_new(&tmp) {
            Ok(file) => {
                drop(file);
                drop(probe);
            }
            Err(e) => {
                probe.keep();
                return Err(error(shown, e));
            }
        }
        Ok(Sink::Replace { target })
    }

    /// Writes into the open descriptor `fd` (a duplicate of it), as a shell's `>&N`.
    fn descriptor(path: &Path, fd: i32) -> Result<Sink, String> {
        #[cfg(unix)]
        {
            use std::os::fd::BorrowedFd;
            // SAFETY: the descriptor is only borrowed to duplicate it; `fcntl` fails
            // cleanly (EBADF) when it is not open.
            if unsafe { libc::fcntl(fd, libc::F_GETFD) } == -1 {
                return Err(error(path, format!("descriptor {fd} is not open")));
            }
            // SAFETY: checked open just above; the duplicate is ours.
            let own = unsafe { BorrowedFd::borrow_raw(fd) }
                .try_clone_to_owned()
                .map_err(|e| error(path, e))?;
            Ok(Sink::Stream {
                path: path.to_path_buf(),
                file: File::from(own),
            })
        }
        #[cfg(not(unix))]
        {
            let _ = fd;
            Err(error(path, "descriptors are not supported here"))
        }
    }

    /// The path written to, if a file.
    pub fn path(&self) -> Option<&Path> {
        match self {
            Sink::Stdout | Sink::Stderr => None,
            Sink::Replace { target } => Some(target),
            Sink::Stream { path, .. } => Some(path),
        }
    }

    /// Writes the output with `write` and finishes it (flush, `fsync` and rename for a
    /// file). Standard output that is closed ends the process quietly (exit 141, as
    /// `SIGPIPE` would).
    pub fn write(self, write: impl FnOnce(&mut dyn Write) -> io::Result<()>) -> Result<(), String> {
        match self {
            Sink::Stdout => {
                let stdout = io::stdout();
                let mut w = BufWriter::new(stdout.lock());
                stdout_result(write(&mut w).and_then(|()| w.flush()))
            }
            Sink::Stderr => {
                let stderr = io::stderr();
                let mut w = BufWriter::new(stderr.lock());
                write(&mut w)
                    .and_then(|()| w.flush())
                    .map_err(|e| format!("cannot write to standard error: {e}"))
            }
            Sink::Stream { path, file } => {
                let mut w = BufWriter::new(file);
                write(&mut w)
                    .and_then(|()| w.flush())
                    .map_err(|e| error(&path, e))
            }
            Sink::Replace { target } => {
                let tmp = temporary_beside(&target).expect("checked by prepare");
                // Registered before the file exists, so a signal that ends the process
                // at any moment from here removes it.
                let pending = Pending::new(&tmp);
                let file = match dynlib_fs::create_new(&tmp) {
                    Ok(f) => f,
                    Err(e) => {
                        pending.keep();
                        return Err(error(&target, e));
                    }
                };
                if let Ok(m) = std::fs::metadata(&target) {
                    let _ = file.set_permissions(m.permissions());
                }
                let mut w = BufWriter::new(file);
                write(&mut w)
                    .and_then(|()| w.flush())
                    .and_then(|()| w.get_ref().sync_all())
                    .map_err(|e| error(&target, e))?;
                // Complete: from here on the file is kept whatever happens, so a rename
                // that fails (or a signal during it) never costs the results.
                pending.keep();
                std::fs::rename(&tmp, &target).map_err(|e| {
                    error(
                        &target,
                        format!("{e}; the complete output is kept in {}", tmp.display()),
                    )
                })
            }
        }
    }
}

/// True when `path` ends in a way that names a directory: `/`, or a last component `.` or
/// `..` (which `Path::file_name` would silently skip over).
fn names_a_folder(path: &Path) -> bool {
    let text = path.as_os_str().as_encoded_bytes();
    let last = text.rsplit(|&b| b == b'/').next().unwrap_or(text);
    text.ends_with(b"/") || last == b"." || last == b".."
}

/// The descriptor a path names by number, as shells and `/dev/fd` do: `/dev/stdout`,
/// `/dev/stderr`, `/dev/fd/N`, `/proc/self/fd/N` or `/proc/<this pid>/fd/N`. Written to
/// directly (keeping its offset and append mode: `-o /dev/fd/3 3>>log` appends); opened
/// anew and replaced, the file would lose what it had.
fn descriptor_named(path: &Path) -> Option<i32> {
    let text = path.to_str()?;
    match text {
        "/dev/stdout" => return Some(1),
        "/dev/stderr" => return Some(2),
        _ => {}
    }
    let own = format!("/proc/{}/fd/", std::process::id());
    let n = ["/dev/fd/", "/proc/self/fd/", own.as_str()]
        .iter()
        .find_map(|prefix| text.strip_prefix(prefix))?;
    if n.is_empty() || !n.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    n.parse().ok().filter(|&fd| fd > 0)
}

/// Why `target` exists but this user may not replace it, if so: a file of another user's
/// in a sticky folder (`/tmp`), which only its owner may rename over or remove. Found
/// before the run, not when the finished output is renamed.
fn cannot_replace(target: &Path) -> Option<String> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let file = std::fs::symlink_metadata(target).ok()?;
        let folder = std::fs::metadata(target.parent()?).ok()?;
        let me = dynlib_fs::os::effective_uid()?;
        let sticky = folder.mode() & 0o1000 != 0;
        if sticky && me != 0 && file.uid() != me && folder.uid() != me {
            return Some(
                "it belongs to another user, in a folder where only a file's owner may \
                 replace it (sticky, as /tmp); remove it or choose another path"
                    .to_string(),
            );
        }
        None
    }
    #[cfg(not(unix))]
    {
        let _ = target;
        None
    }
}

/// True when `m` is the file open as this process's descriptor `fd`.
fn is_descriptor(m: &std::fs::Metadata, fd: i32) -> bool {
    #[cfg(unix)]
    {
        use std::os::fd::BorrowedFd;
        use std::os::unix::fs::MetadataExt;
        // SAFETY: 1 and 2 are open for the life of the process (or the clone fails).
        let fd = unsafe { BorrowedFd::borrow_raw(fd) };
        let Ok(own) = fd.try_clone_to_owned() else {
            return false;
        };
        let Ok(own) = File::from(own).metadata() else {
            return false;
        };
        own.dev() == m.dev() && own.ino() == m.ino()
    }
    #[cfg(not(unix))]
    {
        let _ = (m, fd);
        false
    }
}

/// Where `path` finally points when it does not exist: itself, or the end of its chain of
/// links (a dangling link is created through, as a shell redirection would).
fn final_target(path: &Path) -> Result<PathBuf, String> {
    let mut at = path.to_path_buf();
    for _ in 0..MAX_LINKS {
        match std::fs::symlink_metadata(&at) {
            Ok(m) if m.file_type().is_symlink() => {
                let next = std::fs::read_link(&at).map_err(|e| error(path, e))?;
                at = match at.parent() {
                    Some(dir) if next.is_relative() => dir.join(next),
                    _ => next,
                };
            }
            _ => return Ok(at),
        }
    }
    Err(error(path, "too many levels of symbolic links"))
}

/// `.<name>.<unique>.tmp` beside `target`.
fn temporary_beside(target: &Path) -> Option<PathBuf> {
    let name = target.file_name()?.to_string_lossy().into_owned();
    Some(target.with_file_name(format!(".{name}.{}.tmp", dynlib_fs::unique_suffix())))
}

/// The temporary output file being written, for [`discard_partial_output`] (a leaked C
/// string, or null).
static PENDING: AtomicPtr<libc::c_char> = AtomicPtr::new(std::ptr::null_mut());

/// A temporary output file that is removed unless renamed into place: on an error, and
/// from a signal handler ([`discard_partial_output`]) when the process must stop.
struct Pending {
    path: PathBuf,
}

impl Pending {
    fn new(path: &Path) -> Pending {
        if let Ok(c) = CString::new(path.as_os_str().as_encoded_bytes()) {
            let old = PENDING.swap(c.into_raw(), Ordering::SeqCst);
            free(old);
        }
        Pending {
            path: path.to_path_buf(),
        }
    }

    /// The file is complete, or was never created: nothing to remove.
    fn keep(self) {
        free(PENDING.swap(std::ptr::null_mut(), Ordering::SeqCst));
        std::mem::forget(self);
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        free(PENDING.swap(std::ptr::null_mut(), Ordering::SeqCst));
        let _ = std::fs::remove_file(&self.path);
    }
}

fn free(p: *mut libc::c_char) {
    if !p.is_null() {
        // SAFETY: every non-null pointer in PENDING came from CString::into_raw, and the
        // swap that took it out made this the only owner.
        drop(unsafe { CString::from_raw(p) });
    }
}

/// Removes the temporary output file being written, if any. Async-signal-safe (an atomic
/// swap and `unlink(2)`): called from the signal handler that ends a process which could
/// not finish in time. The C string is leaked, as the process is about to exit.
pub fn discard_partial_output() {
    let p = PENDING.swap(std::ptr::null_mut(), Ordering::SeqCst);
    #[cfg(unix)]
    if !p.is_null() {
        // SAFETY: `p` is a NUL-terminated string nobody else owns any more.
        unsafe { libc::unlink(p) };
    }
    #[cfg(not(unix))]
    let _ = p;
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
