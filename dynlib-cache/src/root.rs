//! Where the cache lives: the configured root, else the platform cache directory, else
//! `<tmp>/dynlib-cache`, else memory only (jit-cache.md §2.6, with one rule for configured
//! and default roots alike).

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// The cache root chosen for this process.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Root {
    /// Entries live under this directory (in `jit/`).
    Disk(PathBuf),
    /// No usable directory: compiled code is kept in memory only.
    Memory,
}

/// The platform cache directory for dynlib: `$XDG_CACHE_HOME/dynlib` or `~/.cache/dynlib`
/// on Linux, `~/Library/Caches/dynlib` on macOS, `%LOCALAPPDATA%/dynlib/Cache` on Windows.
pub fn platform_root() -> Option<PathBuf> {
    let base = directories::BaseDirs::new()?;
    let root = base.cache_dir().join("dynlib");
    Some(if cfg!(windows) {
        root.join("Cache")
    } else {
        root
    })
}

/// The root the configuration asks for, else the platform's; nothing is created or probed
/// (what `dynlib cache path` prints).
pub fn primary_root(configured: Option<&Path>) -> Option<PathBuf> {
    configured.map(Path::to_path_buf).or_else(platform_root)
}

/// The fallback root, `<tmp>/dynlib-cache`.
pub fn fallback_root() -> PathBuf {
    std::env::temp_dir().join("dynlib-cache")
}

/// Creates `root/jit` and writes and deletes a probe file in it.
pub fn probe(root: &Path) -> std::io::Result<()> {
    let jit = root.join("jit");
    std::fs::create_dir_all(&jit)?;
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let probe = jit.join(format!(".dynlib-write-test-{}-{nanos}", std::process::id()));
    std::fs::write(&probe, b"dynlib")?;
    std::fs::remove_file(&probe)
}

/// Makes sure `dir` is a directory only this user can write, creating it (mode 0700) if
/// missing. The fallback lives in the shared temporary directory, where another local user
/// could otherwise create it first and plant object files this process would run.
pub fn private_dir(dir: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{DirBuilderExt, MetadataExt};
        if !dir.exists() {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)?;
        }
        let meta = std::fs::symlink_metadata(dir)?;
        if !meta.is_dir() {
            return Err(std::io::Error::other(format!(
                "{} is not a directory",
                dir.display()
            )));
        }
        // Our uid is the owner of a file we create.
        let mine = tempfile_uid(dir)?;
        if meta.uid() != mine {
            return Err(std::io::Error::other(format!(
                "{} belongs to another user",
                dir.display()
            )));
        }
        if meta.mode() & 0o022 != 0 {
            return Err(std::io::Error::other(format!(
                "{} is writable by other users",
                dir.display()
            )));
        }
        Ok(())
    }
    #[cfg(not(unix))]
    {
        std::fs::create_dir_all(dir)
    }
}

/// The uid that owns files this process creates (found by creating one in `dir`'s parent,
/// or in `dir` itself if the parent is not writable).
#[cfg(unix)]
fn tempfile_uid(dir: &Path) -> std::io::Result<u32> {
    use std::os::unix::fs::MetadataExt;
    let probe = dir.with_file_name(format!(
        ".dynlib-uid-probe-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0)
    ));
    std::fs::write(&probe, b"")?;
    let uid = std::fs::metadata(&probe).map(|m| m.uid());
    let _ = std::fs::remove_file(&probe);
    uid
}

/// Chooses the root: the configured or platform root if it can be written; else
/// `<tmp>/dynlib-cache` with one warning, if it is a directory private to this user
/// ([`private_dir`]); else memory only with a warning. Warnings go
/// through `tracing`, once per process and message.
pub fn resolve(configured: Option<&Path>) -> Root {
    let primary = primary_root(configured);
    let problem = match &primary {
        Some(p) => match probe(p) {
            Ok(()) => return Root::Disk(p.clone()),
            Err(e) => format!("dynlib cache root {} is not writable ({e})", p.display()),
        },
        None => "dynlib found no home directory for its cache root".to_string(),
    };
    let fallback = fallback_root();
    match private_dir(&fallback).and_then(|()| probe(&fallback)) {
        Ok(()) => {
            warn_once(format!("{problem}; using {} instead", fallback.display()));
            Root::Disk(fallback)
        }
        Err(e) => {
            warn_once(format!(
                "{problem}, and neither is the fallback {} ({e}); compiled code is kept in memory only",
                fallback.display()
            ));
            Root::Memory
        }
    }
}

/// Emits a `tracing` warning unless the same message was emitted before in this process.
pub fn warn_once(message: String) {
    static SEEN: Mutex<Option<HashSet<String>>> = Mutex::new(None);
    let mut seen = SEEN.lock().unwrap_or_else(|e| e.into_inner());
    if seen
        .get_or_insert_with(HashSet::new)
        .insert(message.clone())
    {
        tracing::warn!("{message}");
    }
}
