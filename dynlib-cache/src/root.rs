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
    /// A warm cache this process cannot write (a read-only file system or directory):
    /// entries are loaded from it, units it lacks are compiled and kept in memory.
    ReadOnly(PathBuf),
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

/// Creates `root/jit` (a real directory: a link there is refused) and writes and deletes a
/// probe file in it. A probe that fails because the folder vanished meanwhile (a concurrent
/// `dynlib cache clear`, or `rm -r`) is retried, rather than moving the run elsewhere.
pub fn probe(root: &Path) -> std::io::Result<()> {
    let mut last = None;
    for _ in 0..5 {
        match probe_once(root) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => last = Some(e),
            other => return other,
        }
    }
    Err(last.unwrap_or_else(|| std::io::Error::other("the probe failed")))
}

fn probe_once(root: &Path) -> std::io::Result<()> {
    use std::io::Write;
    std::fs::create_dir_all(root)?;
    let jit = dynlib_fs::create_dirs_under(root, &["jit"])?;
    let probe = jit.join(format!(".dynlib-write-test-{}", dynlib_fs::unique_suffix()));
    dynlib_fs::create_new(&probe)?.write_all(b"dynlib")?;
    std::fs::remove_file(&probe)
}

/// True when `root/jit` is a real directory this process can list: a cache it could at
/// least read.
fn readable(root: &Path) -> bool {
    let jit = root.join("jit");
    dynlib_fs::real_dir(&jit) && std::fs::read_dir(&jit).is_ok()
}

fn is_read_only(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::PermissionDenied | std::io::ErrorKind::ReadOnlyFilesystem
    )
}

/// Makes sure `dir` is a directory only this user can write, creating it (mode 0700) if
/// missing. The fallback lives in the shared temporary directory, where another local user
/// could otherwise create it first and plant object files this process would run.
pub fn private_dir(dir: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        if !dir.exists() {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)?;
        }
    }
    #[cfg(not(unix))]
    std::fs::create_dir_all(dir)?;
    check_private(dir)
}

/// Why `dir`, which exists, is not a directory only this user can write, if it is not.
fn check_private(dir: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
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
    }
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

/// The uid that owns files this process creates: its effective uid.
#[cfg(unix)]
fn tempfile_uid(_dir: &Path) -> std::io::Result<u32> {
    dynlib_fs::os::effective_uid().ok_or_else(|| std::io::Error::other("no user id"))
}

/// Chooses the root: the configured or platform root if it can be written; if it cannot be
/// written but holds a cache that can be read, that cache read-only ([`Root::ReadOnly`],
/// one warning); else `<tmp>/dynlib-cache` with one warning, if it is a directory private
/// to this user ([`private_dir`]); else memory only with a warning. Warnings go through
/// `tracing`, once per process and message.
pub fn resolve(configured: Option<&Path>) -> Root {
    let problem = match primary_root(configured) {
        Some(p) => match choose(&p, probe(&p)) {
            Ok(root) => return root,
            Err(problem) => problem,
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

/// The root builds would choose ([`resolve`]), found without creating or writing anything:
/// for commands that only look (`dynlib cache path`, `list`, `verify`, a dry run), which
/// must not leave a `jit` folder behind (under `/`, say, when that is the configured root).
pub fn locate(configured: Option<&Path>) -> Root {
    locate_with(configured, fallback_root())
}

fn locate_with(configured: Option<&Path>, fallback: PathBuf) -> Root {
    if let Some(p) = primary_root(configured) {
        let jit = p.join("jit");
        if dynlib_fs::real_dir(&jit) {
            return if dynlib_fs::os::writable(&jit) {
                Root::Disk(p)
            } else {
                Root::ReadOnly(p)
            };
        }
        // Not there yet: a build would create it if the nearest existing folder allows.
        let mut ancestor = Some(jit.as_path());
        while let Some(a) = ancestor {
            if let Some(kind) = dynlib_fs::FileKind::at(a, dynlib_fs::Follow::Yes) {
                if kind == dynlib_fs::FileKind::Directory && dynlib_fs::os::writable(a) {
                    return Root::Disk(p);
                }
                break;
            }
            ancestor = a.parent();
        }
    }
    // The fallback, under the same condition [`resolve`] puts on it: a folder private to
    // this user, or one a build could create as such.
    let usable = if fallback.symlink_metadata().is_ok() {
        let jit = fallback.join("jit");
        check_private(&fallback).is_ok()
            && (jit.symlink_metadata().is_err() || dynlib_fs::real_dir(&jit))
    } else {
        fallback
            .parent()
            .is_some_and(|tmp| tmp.is_dir() && dynlib_fs::os::writable(tmp))
    };
    if usable {
        Root::Disk(fallback)
    } else {
        Root::Memory
    }
}

/// What the probe of the primary root `p` means: the root itself, read-only use of a warm
/// cache it holds, or why neither (then the fallbacks are tried).
fn choose(p: &Path, probed: std::io::Result<()>) -> Result<Root, String> {
    match probed {
        Ok(()) => Ok(Root::Disk(p.to_path_buf())),
        Err(e) if is_read_only(&e) && readable(p) => {
            warn_once(format!(
                "dynlib cache root {} is read-only ({e}): compiled units are loaded from it, \
                 new ones are kept in memory only",
                p.display()
            ));
            Ok(Root::ReadOnly(p.to_path_buf()))
        }
        Err(e) => Err(format!(
            "dynlib cache root {} is not writable ({e})",
            p.display()
        )),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_warm_root_that_cannot_be_written_is_used_read_only() {
        let dir = std::env::temp_dir().join(format!("dynlib-ro-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let denied = || std::io::Error::from(std::io::ErrorKind::PermissionDenied);
        let rofs = || std::io::Error::from(std::io::ErrorKind::ReadOnlyFilesystem);
        // No cache there yet: nothing to read, so the fallbacks are tried.
        assert!(choose(&dir, Err(denied())).is_err());
        std::fs::create_dir(dir.join("jit")).unwrap();
        assert_eq!(choose(&dir, Err(denied())), Ok(Root::ReadOnly(dir.clone())));
        assert_eq!(choose(&dir, Err(rofs())), Ok(Root::ReadOnly(dir.clone())));
        assert_eq!(choose(&dir, Ok(())), Ok(Root::Disk(dir.clone())));
        // Other failures are not a read-only cache.
        let other = std::io::Error::other("disk on fire");
        assert!(choose(&dir, Err(other))
            .unwrap_err()
            .contains("disk on fire"));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn locating_reports_the_fallback_only_where_a_build_would_use_it() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        // A configured root under a file: no build could create it, so the fallback counts.
        std::fs::write(dir.path().join("file"), b"").unwrap();
        let configured = dir.path().join("file/root");
        let at = |fallback: &Path| locate_with(Some(&configured), fallback.to_path_buf());
        let fallback = dir.path().join("dynlib-cache");
        // Missing, in a folder this user can write: a build creates it.
        assert_eq!(at(&fallback), Root::Disk(fallback.clone()));
        std::fs::create_dir(&fallback).unwrap();
        std::fs::set_permissions(&fallback, std::fs::Permissions::from_mode(0o700)).unwrap();
        assert_eq!(at(&fallback), Root::Disk(fallback.clone()));
        // Another user could plant objects in it: a build refuses it, so looking does too.
        std::fs::set_permissions(&fallback, std::fs::Permissions::from_mode(0o777)).unwrap();
        assert_eq!(at(&fallback), Root::Memory);
        assert!(private_dir(&fallback).is_err());
        let link = dir.path().join("link");
        std::fs::set_permissions(&fallback, std::fs::Permissions::from_mode(0o700)).unwrap();
        std::os::unix::fs::symlink(&fallback, &link).unwrap();
        assert_eq!(at(&link), Root::Memory);
        // Its `jit` must be a real folder too, as the probe of a build requires.
        std::fs::write(fallback.join("jit"), b"").unwrap();
        assert_eq!(at(&fallback), Root::Memory);
    }
}
