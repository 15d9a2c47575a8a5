//! Careful file primitives for dynlib: every file dynlib reads or writes on a user's behalf
//! goes through here, so that a careless or hostile file system cannot make it hang, run out
//! of memory, write outside the place it meant to, or lose a good file.
//!
//! - [`read_file`] reads only **regular files**, up to a **size limit**, and opens with
//!   `O_NONBLOCK`, so a FIFO, a socket, a device (`/dev/zero`) or a directory is an error that
//!   says what the path is, never a hang or an endless read. With [`Follow::No`] a symbolic
//!   link is refused too (`O_NOFOLLOW`): the cache reads its own files that way.
//! - [`write_atomic`] writes a complete temporary file beside the target (created
//!   exclusively, so nothing planted there is written through) and renames it into place: an
//!   interrupted write leaves the previous file intact, and a symbolic link at the target is
//!   replaced, never followed.
//! - [`create_new`] creates a file that must not exist yet; [`open_lock_file`] opens a lock
//!   file without following links; [`real_dir`] and [`create_dirs_under`] keep directory
//!   walks and creation on real directories.
//! - [`os`]: the two facts about the system the rest of dynlib asks the C library for (the
//!   effective uid, the physical memory), as safe functions, so the FFI lives here.
//!
//! ```
//! let dir = tempfile::tempdir()?;
//! let path = dir.path().join("out.txt");
//! dynlib_fs::write_atomic(&path, b"hello")?;
//! let bytes = dynlib_fs::read_file(&path, 1024, dynlib_fs::Follow::Yes)?;
//! assert_eq!(bytes, b"hello");
//! assert!(dynlib_fs::read_file(dir.path(), 1024, dynlib_fs::Follow::Yes).is_err());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fmt;
use std::fs::{self, File, Metadata, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

/// Whether the last component of a path may be a symbolic link.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Follow {
    /// Follow a link to its target (configuration and model files: users link them).
    Yes,
    /// Refuse a link (dynlib's own files, where a link can only have been planted).
    No,
}

/// What a path is, for messages about paths that are not regular files.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum FileKind {
    /// A regular file.
    Regular,
    /// A directory.
    Directory,
    /// A symbolic link (only reported when links are not followed).
    Symlink,
    /// A FIFO (named pipe).
    Fifo,
    /// A Unix domain socket.
    Socket,
    /// A character device (`/dev/zero`, a terminal).
    CharDevice,
    /// A block device.
    BlockDevice,
    /// Something else.
    Other,
}

impl FileKind {
    /// The kind of the file `meta` describes.
    pub fn of(meta: &Metadata) -> FileKind {
        let t = meta.file_type();
        if t.is_file() {
            return FileKind::Regular;
        }
        if t.is_dir() {
            return FileKind::Directory;
        }
        if t.is_symlink() {
            return FileKind::Symlink;
        }
        #[cfg(unix)]
        {
            use std::os::unix::fs::FileTypeExt;
            if t.is_fifo() {
                return FileKind::Fifo;
            }
            if t.is_socket() {
                return FileKind::Socket;
            }
            if t.is_char_device() {
                return FileKind::CharDevice;
            }
            if t.is_block_device() {
                return FileKind::BlockDevice;
            }
        }
        FileKind::Other
    }

    /// The kind of what is at `path` (links followed or not), if anything is there.
    pub fn at(path: &Path, follow: Follow) -> Option<FileKind> {
        let meta = match follow {
            Follow::Yes => fs::metadata(path),
            Follow::No => fs::symlink_metadata(path),
        };
        meta.ok().map(|m| FileKind::of(&m))
    }
}

impl fmt::Display for FileKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FileKind::Regular => "a regular file",
            FileKind::Directory => "a directory",
            FileKind::Symlink => "a symbolic link",
            FileKind::Fifo => "a FIFO (named pipe)",
            FileKind::Socket => "a socket",
            FileKind::CharDevice => "a character device",
            FileKind::BlockDevice => "a block device",
            FileKind::Other => "not a regular file",
        })
    }
}

/// Why [`read_file`] refused or failed.
#[derive(Debug)]
pub enum ReadError {
    /// The operating system's error (missing file, permissions, ...).
    Io(io::Error),
    /// The path is not a regular file.
    NotRegular(FileKind),
    /// The file is not UTF-8 text ([`read_text`]): where the first invalid byte is.
    NotText {
        /// Its line, from 1.
        line: usize,
        /// Its column in characters, from 1.
        column: usize,
        /// The byte.
        byte: u8,
        /// Its offset in the file.
        offset: usize,
    },
    /// The file is larger than the caller's limit.
    TooLarge {
        /// Its size in bytes (at least; a growing file may be larger).
        size: u64,
        /// The limit.
        limit: u64,
    },
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReadError::Io(e) => write!(f, "{e}"),
            ReadError::NotRegular(kind) => write!(f, "it is {kind}, not a regular file"),
            ReadError::NotText {
                line,
                column,
                byte,
                offset,
            } => write!(
                f,
                "the file is not UTF-8 text: invalid byte 0x{byte:02x} at line {line}, column {column} (byte offset {offset})"
            ),
            ReadError::TooLarge { size, limit } => write!(
                f,
                "it is {size} bytes, more than the {limit} bytes allowed for this kind of file"
            ),
        }
    }
}

impl std::error::Error for ReadError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ReadError::Io(e) => Some(e),
            _ => None,
        }
    }
}

impl From<io::Error> for ReadError {
    fn from(e: io::Error) -> ReadError {
        ReadError::Io(e)
    }
}

impl ReadError {
    /// True when nothing exists at the path.
    pub fn is_not_found(&self) -> bool {
        matches!(self, ReadError::Io(e) if e.kind() == io::ErrorKind::NotFound)
    }
}

/// Opens `path` for reading without blocking on FIFOs (and without following a final
/// symbolic link for [`Follow::No`]); checks it is a regular file of at most `limit` bytes.
fn open_regular(path: &Path, limit: u64, follow: Follow) -> Result<(File, u64), ReadError> {
    let mut options = OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        let mut flags = libc::O_NONBLOCK | libc::O_CLOEXEC;
        if follow == Follow::No {
            flags |= libc::O_NOFOLLOW;
        }
        options.custom_flags(flags);
    }
    #[cfg(not(unix))]
    if follow == Follow::No && FileKind::at(path, Follow::No) == Some(FileKind::Symlink) {
        return Err(ReadError::NotRegular(FileKind::Symlink));
    }
    let file = match options.open(path) {
        Ok(f) => f,
        Err(e) => {
            // Sockets refuse to open (ENXIO), links under O_NOFOLLOW give ELOOP: say what
            // the path is instead of the operating system's puzzling words.
            return Err(match FileKind::at(path, follow) {
                Some(kind) if kind != FileKind::Regular => ReadError::NotRegular(kind),
                _ => ReadError::Io(e),
            });
        }
    };
    let meta = file.metadata()?;
    let kind = FileKind::of(&meta);
    if kind != FileKind::Regular {
        return Err(ReadError::NotRegular(kind));
    }
    if meta.len() > limit {
        return Err(ReadError::TooLarge {
            size: meta.len(),
            limit,
        });
    }
    Ok((file, meta.len()))
}

/// Reads a regular file of at most `limit` bytes. FIFOs, sockets, devices and directories
/// are refused with [`ReadError::NotRegular`] (never read or waited on), larger files with
/// [`ReadError::TooLarge`] (also a file that grows past the limit while being read).
pub fn read_file(path: &Path, limit: u64, follow: Follow) -> Result<Vec<u8>, ReadError> {
    let (file, size) = open_regular(path, limit, follow)?;
    let mut bytes = Vec::with_capacity(size.min(limit) as usize);
    file.take(limit.saturating_add(1)).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        return Err(ReadError::TooLarge {
            size: bytes.len() as u64,
            limit,
        });
    }
    Ok(bytes)
}

/// [`read_file`], as UTF-8 text; bytes that are not UTF-8 are [`ReadError::NotText`] with
/// the line and column of the first bad byte.
pub fn read_text(path: &Path, limit: u64, follow: Follow) -> Result<String, ReadError> {
    utf8_text(read_file(path, limit, follow)?)
}

/// The bytes as a string, or where they stop being UTF-8.
pub fn utf8_text(bytes: Vec<u8>) -> Result<String, ReadError> {
    String::from_utf8(bytes).map_err(|e| {
        let offset = e.utf8_error().valid_up_to();
        let bytes = e.as_bytes();
        let before = std::str::from_utf8(&bytes[..offset]).unwrap_or_default();
        ReadError::NotText {
            line: before.matches('\n').count() + 1,
            column: before.rsplit('\n').next().unwrap_or("").chars().count() + 1,
            byte: bytes[offset],
            offset,
        }
    })
}

/// A suffix no other process or thread uses at the same moment (process id, clock
/// nanoseconds, a counter): for temporary names beside files being written.
pub fn unique_suffix() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::time::{SystemTime, UNIX_EPOCH};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!(
        "{}-{nanos}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// The name of a temporary file beside `target`.
fn temporary_name(target: &str) -> String {
    format!(".{target}.{}.tmp", unique_suffix())
}

/// Creates `path`, which must not exist (`O_EXCL`: an existing file or a symbolic link
/// there, even a dangling one, is an `AlreadyExists` error and is never written through).
pub fn create_new(path: &Path) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_CLOEXEC | libc::O_NOFOLLOW);
    }
    options.open(path)
}

/// Writes `bytes` to `path` atomically: into a new temporary file beside it (created
/// exclusively), flushed to disk, then renamed over `path`. A reader, or a crash, sees the
/// old file or the new one, never half of one; a symbolic link at `path` is replaced by the
/// new file, never written through; an existing file's permissions are kept. `path` may
/// not be a directory.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "not a file path"))?
        .to_string_lossy()
        .into_owned();
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let existing = fs::symlink_metadata(path).ok();
    if let Some(meta) = &existing {
        if meta.is_dir() {
            return Err(io::Error::new(
                io::ErrorKind::IsADirectory,
                "it is a directory",
            ));
        }
    }
    let tmp = dir.join(temporary_name(&name));
    let mut file = create_new(&tmp)?;
    let written = (|| {
        file.write_all(bytes)?;
        if let Some(meta) = existing.as_ref().filter(|m| m.is_file()) {
            file.set_permissions(meta.permissions())?;
        }
        file.sync_all()
    })();
    drop(file);
    let renamed = written.and_then(|()| fs::rename(&tmp, path));
    if renamed.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    renamed
}

/// Opens (creating it if missing) the lock file at `path` for reading and writing, refusing
/// a symbolic link or anything but a regular file there: a planted link must not make
/// dynlib create or lock a file elsewhere.
pub fn open_lock_file(path: &Path) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.read(true).write(true).create(true).truncate(false);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_CLOEXEC | libc::O_NOFOLLOW | libc::O_NONBLOCK);
    }
    #[cfg(not(unix))]
    if FileKind::at(path, Follow::No) == Some(FileKind::Symlink) {
        return Err(not_regular(path, FileKind::Symlink));
    }
    let file = options
        .open(path)
        .map_err(|e| match FileKind::at(path, Follow::No) {
            Some(kind) if kind != FileKind::Regular => not_regular(path, kind),
            _ => e,
        })?;
    let kind = FileKind::of(&file.metadata()?);
    if kind != FileKind::Regular {
        return Err(not_regular(path, kind));
    }
    Ok(file)
}

fn not_regular(path: &Path, kind: FileKind) -> io::Error {
    io::Error::other(format!(
        "{} is {kind}, not a regular file; refusing to use it",
        path.display()
    ))
}

/// True when `a` and `b` name the same existing file (through links, hard links or
/// different spellings); false when either does not exist.
pub fn same_file(a: &Path, b: &Path) -> bool {
    let (Ok(ma), Ok(mb)) = (fs::metadata(a), fs::metadata(b)) else {
        return false;
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        ma.dev() == mb.dev() && ma.ino() == mb.ino()
    }
    #[cfg(not(unix))]
    {
        let _ = (ma, mb);
        matches!((fs::canonicalize(a), fs::canonicalize(b)), (Ok(x), Ok(y)) if x == y)
    }
}

/// Facts about the system, asked of the C library.
pub mod os {
    /// The effective user id of this process (`None` where there is none: not Unix).
    pub fn effective_uid() -> Option<u32> {
        #[cfg(unix)]
        {
            // SAFETY: geteuid has no preconditions and cannot fail.
            Some(unsafe { libc::geteuid() })
        }
        #[cfg(not(unix))]
        {
            None
        }
    }

    /// True when this process may create files in the directory `dir` (`access(W_OK)`):
    /// asks without creating anything.
    pub fn writable(dir: &std::path::Path) -> bool {
        #[cfg(unix)]
        {
            use std::os::unix::ffi::OsStrExt;
            let Ok(c) = std::ffi::CString::new(dir.as_os_str().as_bytes()) else {
                return false;
            };
            // SAFETY: a valid NUL-terminated path; access only reads.
            unsafe { libc::access(c.as_ptr(), libc::W_OK) == 0 }
        }
        #[cfg(not(unix))]
        {
            std::fs::metadata(dir).is_ok_and(|m| !m.permissions().readonly())
        }
    }

    /// The machine's physical memory in bytes, when the system says.
    pub fn physical_memory() -> Option<u64> {
        #[cfg(unix)]
        {
            // SAFETY: sysconf only reads system configuration.
            let (pages, size) = unsafe {
                (
                    libc::sysconf(libc::_SC_PHYS_PAGES),
                    libc::sysconf(libc::_SC_PAGESIZE),
                )
            };
            (pages > 0 && size > 0).then(|| (pages as u64).saturating_mul(size as u64))
        }
        #[cfg(not(unix))]
        {
            None
        }
    }
}

/// True when `path` is a directory itself, not a symbolic link to one.
pub fn real_dir(path: &Path) -> bool {
    fs::symlink_metadata(path).is_ok_and(|m| m.is_dir())
}

/// Creates the directories `base/parts[0]/parts[1]/...` that are missing, where `base`
/// must already be a directory; every component that exists must be a real directory (a
/// symbolic link or a file there is an error naming it), so nothing is ever created
/// outside `base` through a planted link. Returns the innermost directory.
pub fn create_dirs_under(base: &Path, parts: &[&str]) -> io::Result<PathBuf> {
    let mut dir = base.to_path_buf();
    for part in parts {
        dir.push(part);
        match fs::create_dir(&dir) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e),
        }
        if !real_dir(&dir) {
            // Gone again already (someone deleting concurrently): say so, so callers retry.
            let kind = FileKind::at(&dir, Follow::No).ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::NotFound,
                    format!("{} vanished while being created", dir.display()),
                )
            })?;
            return Err(io::Error::other(format!(
                "{} is {kind}, not a directory; refusing to use it",
                dir.display()
            )));
        }
    }
    Ok(dir)
}
