//! The on-disk layout, atomic writes, locks, integrity checks, listing and clearing.
//!
//! ```text
//! <root>/jit/<component>/<dd>/<digest>/object.o     the object file
//!                                      meta.json    labels, key inputs, size, checksum
//! <root>/jit/<component>/<dd>/.<digest>.lock         the build lock (flock; kept)
//! <root>/jit/<component>/<dd>/.<digest>.tmp-*        an entry being written
//! <root>/jit/<component>/<dd>/<digest>.corrupt-*     an entry being deleted
//! ```
//!
//! `<component>` is `triplets`, `steppers` or `runners`; `<dd>` the digest's first two hex
//! characters (a shard, so no directory grows huge). An entry is written complete into a
//! temporary directory beside its final place and renamed into place, so a reader sees a
//! whole entry or none. Every read checks the format, the digest and the SHA-256 of the
//! object bytes against `meta.json`, and that the object carries its own key's tag
//! ([`crate::key::key_tag`]): a truncated, flipped, foreign or swapped entry is reported as
//! corrupt, never returned.
//!
//! The cache never trusts what it finds under the root. Walks never follow symbolic links
//! and only directories named exactly like the layout above (2 and 64 lowercase hex
//! characters, the shard being the digest's prefix) are entries; files are opened without
//! following links (`O_NOFOLLOW`), only if they are regular files, and read up to a limit
//! (`meta.json`: [`META_LIMIT`]; `object.o`: the size `meta.json` records); anything a user
//! put under `<root>/jit` that is not an entry is never touched, even by `clear --all`.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use dynlib_fs::{create_dirs_under, create_new, read_file, real_dir, unique_suffix, Follow};
use serde_json::{json, Value};

use crate::key::{carries_tag, checksum};
use crate::{Component, Key, FORMAT_VERSION};

const OBJECT: &str = "object.o";
const META: &str = "meta.json";

/// The most `meta.json` may hold; a larger one is corrupt (entries write about 2 KB).
pub const META_LIMIT: u64 = 1 << 20;

/// The largest object file the cache reads, whatever `meta.json` claims (compiled units are
/// kilobytes to a few megabytes).
pub const OBJECT_LIMIT: u64 = 1 << 30;

/// How long [`DiskCache::lock`] waits for another process's build lock by default (the
/// reference waits 5 s too). A holder that is stopped (Ctrl-Z) or hung must not block every
/// other build of the same unit forever.
pub const LOCK_WAIT: Duration = Duration::from_secs(5);

/// What `meta.json` records for people: which model, stepper, dtype and runner variant an
/// entry was compiled for (the key itself is the digest; these are for listing and clearing).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Labels {
    /// The model's name.
    pub model: String,
    /// The stepper (empty for model functions, which serve every stepper).
    pub stepper: String,
    /// The dtype (`float64`, ...).
    pub dtype: String,
    /// The runner variant (`base`; empty for non-runners).
    pub variant: String,
}

/// One entry as `meta.json` describes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EntryInfo {
    /// The component.
    pub component: Component,
    /// The key's digest (the directory name).
    pub digest: String,
    /// The labels.
    pub labels: Labels,
    /// Size of the object file in bytes.
    pub size: u64,
    /// Creation time, seconds since the Unix epoch.
    pub created: u64,
    /// The key's inputs, readable.
    pub inputs: Vec<(String, String)>,
    /// The entry's directory.
    pub path: PathBuf,
}

impl EntryInfo {
    /// Age in days at `now` (seconds since the epoch).
    pub fn age_days(&self, now: u64) -> f64 {
        now.saturating_sub(self.created) as f64 / 86_400.0
    }
}

/// The outcome of reading an entry.
#[derive(Debug)]
pub enum Lookup {
    /// The object bytes, verified.
    Hit(Vec<u8>),
    /// No entry.
    Miss,
    /// An entry exists but is unusable; the reason says why.
    Corrupt(String),
}

/// Which entries `clear` deletes: all, or those matching every given filter.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Selector {
    /// Every entry (and the locks and leftovers beside them); anything else under
    /// `<root>/jit` stays.
    pub all: bool,
    /// Entries compiled for this stepper.
    pub stepper: Option<String>,
    /// Entries compiled for this dtype.
    pub dtype: Option<String>,
    /// Entries older than this many days.
    pub older_than_days: Option<f64>,
}

impl Selector {
    /// True when the selector names something (clearing with nothing selected is refused).
    pub fn is_empty(&self) -> bool {
        !self.all
            && self.stepper.is_none()
            && self.dtype.is_none()
            && self.older_than_days.is_none()
    }

    fn matches(&self, e: &EntryInfo, now: u64) -> bool {
        self.stepper.as_ref().is_none_or(|s| *s == e.labels.stepper)
            && self.dtype.as_ref().is_none_or(|d| *d == e.labels.dtype)
            && self.older_than_days.is_none_or(|d| e.age_days(now) > d)
    }
}

/// An exclusive build lock on one digest. Held while one process compiles and writes an
/// entry, so processes racing for the same unit compile it once. It is an OS file lock
/// (`flock` / `LockFileEx`): the OS releases it when its holder exits, so a lock left by a
/// dead process never stalls anyone. Released on drop.
#[derive(Debug)]
pub struct CacheLock {
    _file: fs::File,
}

/// Seconds since the Unix epoch.
pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn is_hex(s: &str, len: usize) -> bool {
    s.len() == len
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// What a name inside a shard directory is.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum Name<'a> {
    /// `<digest>`: an entry.
    Entry(&'a str),
    /// `.<digest>.tmp-*` or `<digest>.corrupt-*`: a leftover of a writer or deleter.
    Debris,
    /// `.<digest>.lock`: a build lock file.
    Lock,
    /// Not ours.
    Foreign,
}

/// Classifies `name` found in the shard `shard` (a digest must start with its shard).
fn classify<'a>(shard: &str, name: &'a str) -> Name<'a> {
    let digest_ok = |d: &str| is_hex(d, 64) && d.starts_with(shard);
    if digest_ok(name) {
        return Name::Entry(name);
    }
    if let Some(rest) = name.strip_prefix('.') {
        if let Some((d, tail)) = rest.split_once('.') {
            if digest_ok(d) && tail == "lock" {
                return Name::Lock;
            }
            if digest_ok(d) && tail.starts_with("tmp-") {
                return Name::Debris;
            }
        }
        return Name::Foreign;
    }
    match name.split_once('.') {
        Some((d, tail)) if digest_ok(d) && tail.starts_with("corrupt-") => Name::Debris,
        _ => Name::Foreign,
    }
}

/// One thing found in a shard: what it is, its path, whether it is a real directory, and
/// whether it is a symbolic link (never followed; only ever unlinked itself).
struct Found {
    kind: &'static str,
    path: PathBuf,
    is_dir: bool,
    is_link: bool,
}

/// The cache under one root directory.
#[derive(Clone, Debug)]
pub struct DiskCache {
    root: PathBuf,
    lock_wait: Duration,
    read_only: bool,
}

impl DiskCache {
    /// The cache under `root` (nothing is created until an entry is written).
    pub fn new(root: impl Into<PathBuf>) -> DiskCache {
        DiskCache {
            root: root.into(),
            lock_wait: LOCK_WAIT,
            read_only: false,
        }
    }

    /// The same cache, waiting at most `wait` for another process's build lock.
    pub fn with_lock_wait(mut self, wait: Duration) -> DiskCache {
        self.lock_wait = wait;
        self
    }

    /// The same cache, used only for reading: [`DiskCache::store`] and
    /// [`DiskCache::lock`] refuse (a warm cache on a read-only file system still serves).
    pub fn read_only(mut self, yes: bool) -> DiskCache {
        self.read_only = yes;
        self
    }

    /// True when entries are only read ([`DiskCache::read_only`]).
    pub fn is_read_only(&self) -> bool {
        self.read_only
    }

    /// The root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `<root>/jit`, which holds every entry.
    pub fn jit_dir(&self) -> PathBuf {
        self.root.join("jit")
    }

    fn shard_parts(key: &Key) -> [&str; 3] {
        ["jit", key.component().dir(), &key.digest()[..2]]
    }

    /// The directory of `key`'s entry.
    pub fn entry_dir(&self, key: &Key) -> PathBuf {
        let mut p = self.root.clone();
        for part in Self::shard_parts(key) {
            p.push(part);
        }
        p.join(key.digest())
    }

    /// Creates the shard directory of `key`, refusing links or files on the way.
    fn make_shard(&self, key: &Key) -> std::io::Result<PathBuf> {
        if self.read_only {
            return Err(read_only_error(&self.root));
        }
        fs::create_dir_all(&self.root)?;
        create_dirs_under(&self.root, &Self::shard_parts(key))
    }

    /// Reads and verifies `key`'s entry.
    pub fn load(&self, key: &Key) -> Lookup {
        let dir = self.entry_dir(key);
        match fs::symlink_metadata(&dir) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Lookup::Miss,
            _ => {}
        }
        match read_entry(&dir, Some(key)) {
            Ok((_, bytes)) => Lookup::Hit(bytes),
            Err(reason) => Lookup::Corrupt(reason),
        }
    }

    /// Takes the build lock of `key`, waiting while another process or thread holds it, but
    /// at most the lock wait ([`LOCK_WAIT`] unless [`DiskCache::with_lock_wait`] says
    /// otherwise); after that it fails with [`std::io::ErrorKind::TimedOut`].
    pub fn lock(&self, key: &Key) -> std::io::Result<CacheLock> {
        let shard = self.make_shard(key)?;
        lock_file(
            &shard.join(format!(".{}.lock", key.digest())),
            self.lock_wait,
        )
    }

    /// Deletes the entry at `dir` if it still fails verification once its lock is held (so
    /// an entry rebuilt meanwhile by another process is kept). Returns whether it deleted.
    /// `dir` must be an entry directory of this cache.
    pub fn remove_if_corrupt(&self, dir: &Path) -> std::io::Result<bool> {
        self.check_inside(dir)?;
        let name = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let _lock = lock_file(&dir.with_file_name(format!(".{name}.lock")), self.lock_wait)?;
        if read_entry(dir, None).is_ok() {
            return Ok(false);
        }
        remove_entry_dir(dir)?;
        Ok(true)
    }

    /// Leftovers of writers or deleters that died midway (`.<digest>.tmp-*` and
    /// `<digest>.corrupt-*` directories) older than `min_age_secs`: nothing reads them;
    /// [`DiskCache::remove_debris`] deletes them.
    pub fn debris(&self, min_age_secs: u64) -> Vec<PathBuf> {
        let now = SystemTime::now();
        self.walk()
            .into_iter()
            .filter(|f| f.kind == "debris" && f.is_dir)
            .filter(|f| {
                fs::symlink_metadata(&f.path)
                    .and_then(|m| m.modified())
                    .ok()
                    .and_then(|t| now.duration_since(t).ok())
                    .is_some_and(|age| age.as_secs() >= min_age_secs)
            })
            .map(|f| f.path)
            .collect()
    }

    /// Deletes what [`DiskCache::debris`] lists.
    pub fn remove_debris(&self, min_age_secs: u64) -> std::io::Result<Vec<PathBuf>> {
        let found = self.debris(min_age_secs);
        for d in &found {
            self.check_inside(d)?;
            fs::remove_dir_all(d)?;
        }
        Ok(found)
    }

    /// Writes `key`'s entry atomically (a complete temporary directory renamed into place).
    /// If an entry appeared meanwhile, it is kept and the new one discarded. Returns the
    /// entry's directory.
    pub fn store(&self, key: &Key, labels: &Labels, object: &[u8]) -> std::io::Result<PathBuf> {
        use std::io::Write;
        let shard = self.make_shard(key)?;
        let dir = shard.join(key.digest());
        let tmp = shard.join(format!(".{}.tmp-{}", key.digest(), unique_suffix()));
        let written = (|| {
            fs::create_dir(&tmp)?;
            create_new(&tmp.join(OBJECT))?.write_all(object)?;
            let meta = meta_json(key, labels, object);
            create_new(&tmp.join(META))?.write_all(format!("{meta:#}\n").as_bytes())
        })();
        if let Err(e) = written {
            let _ = fs::remove_dir_all(&tmp);
            return Err(e);
        }
        if fs::symlink_metadata(&dir).is_ok() {
            // Keep a valid entry someone else wrote; replace one that does not verify.
            if read_entry(&dir, Some(key)).is_ok() {
                let _ = fs::remove_dir_all(&tmp);
                return Ok(dir);
            }
            if let Err(e) = remove_entry_dir(&dir) {
                let _ = fs::remove_dir_all(&tmp);
                return Err(e);
            }
        }
        if let Err(e) = fs::rename(&tmp, &dir) {
            let _ = fs::remove_dir_all(&tmp);
            if !real_dir(&dir) {
                return Err(e);
            }
        }
        Ok(dir)
    }

    /// Deletes `key`'s entry (renamed aside first, so readers never see half of it).
    pub fn remove(&self, key: &Key) -> std::io::Result<()> {
        let dir = self.entry_dir(key);
        match fs::symlink_metadata(&dir) {
            Err(_) => Ok(()),
            // A link or a file in an entry's place: unlink it (never what it points to).
            Ok(m) if !m.is_dir() => fs::remove_file(&dir),
            Ok(_) => {
                self.check_inside(&dir)?;
                remove_entry_dir(&dir)
            }
        }
    }

    /// Every entry directory under the root, with what its `meta.json` says (or why it
    /// cannot be read), sorted by component, stepper, dtype and digest. Does not read the
    /// object files; [`DiskCache::verify`] does.
    pub fn list(&self) -> Vec<(PathBuf, Result<EntryInfo, String>)> {
        self.each_entry(|dir| read_meta(dir).and_then(|m| info_from_meta(dir, &m)))
    }

    /// Every entry, fully checked (format, digest, object size, checksum and key tag).
    pub fn verify(&self) -> Vec<(PathBuf, Result<EntryInfo, String>)> {
        self.each_entry(|dir| read_entry(dir, None).map(|(info, _)| info))
    }

    /// `read` of every entry directory, sorted by component, stepper, dtype and path.
    fn each_entry(
        &self,
        read: impl Fn(&Path) -> Result<EntryInfo, String>,
    ) -> Vec<(PathBuf, Result<EntryInfo, String>)> {
        let mut out: Vec<_> = self
            .entry_dirs()
            .into_iter()
            .map(|dir| {
                let r = read(&dir);
                (dir, r)
            })
            .collect();
        out.sort_by_key(sort_key);
        out
    }

    /// Deletes what `selector` selects (nothing when `dry_run`) and returns the entries it
    /// deleted or would delete. `all` also deletes the build locks nobody holds and the
    /// leftovers of dead writers, and then the shard and component directories left
    /// empty; it never deletes anything else under `<root>/jit`. Entries whose
    /// `meta.json` cannot be read match only `all`.
    pub fn clear(&self, selector: &Selector, dry_run: bool) -> std::io::Result<Vec<PathBuf>> {
        let now = now();
        let mut deleted = Vec::new();
        for (dir, info) in self.list() {
            let chosen = selector.all || info.is_ok_and(|info| selector.matches(&info, now));
            if chosen {
                if !dry_run {
                    self.check_inside(&dir)?;
                    remove_entry_dir(&dir)?;
                }
                deleted.push(dir);
            }
        }
        if selector.all && !dry_run {
            self.remove_planted()?;
            for f in self.walk() {
                match f.kind {
                    "debris" if f.is_dir => {
                        self.check_inside(&f.path)?;
                        fs::remove_dir_all(&f.path)?;
                    }
                    "lock" if !f.is_dir => remove_free_lock(&f.path),
                    _ => {}
                }
            }
            self.remove_empty_dirs();
        }
        Ok(deleted)
    }

    /// Removes shard and component directories that are empty (`rmdir` only deletes an
    /// empty directory, so nothing anyone put there can go).
    fn remove_empty_dirs(&self) {
        for component in Component::ALL {
            let dir = self.jit_dir().join(component.dir());
            for (_, shard) in self.shards(component) {
                let _ = fs::remove_dir(shard);
            }
            if real_dir(&dir) {
                let _ = fs::remove_dir(dir);
            }
        }
    }

    /// Fails unless `path` is a real directory or file inside `<root>/jit`, reached without
    /// any symbolic link: the last guard before anything is deleted.
    fn check_inside(&self, path: &Path) -> std::io::Result<()> {
        let outside = || {
            std::io::Error::other(format!(
                "{} is not inside the cache directory {}; refusing to delete it",
                path.display(),
                self.jit_dir().display()
            ))
        };
        let jit = fs::canonicalize(self.jit_dir()).map_err(|_| outside())?;
        let meta = fs::symlink_metadata(path)?;
        if meta.file_type().is_symlink() || !real_dir(&self.jit_dir()) {
            return Err(outside());
        }
        let real = fs::canonicalize(path)?;
        if !real.starts_with(&jit) || real == jit {
            return Err(outside());
        }
        Ok(())
    }

    /// `<root>/jit/<component>/<dd>` shard directories (real directories with a two hex
    /// digit name), if `<root>/jit/<component>` is a real directory.
    fn shards(&self, component: Component) -> Vec<(String, PathBuf)> {
        let jit = self.jit_dir();
        let dir = jit.join(component.dir());
        if !real_dir(&jit) || !real_dir(&dir) {
            return Vec::new();
        }
        let Ok(read) = fs::read_dir(&dir) else {
            return Vec::new();
        };
        read.flatten()
            .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
            .filter_map(|e| {
                let name = e.file_name().to_str()?.to_string();
                is_hex(&name, 2).then(|| (name, e.path()))
            })
            .collect()
    }

    /// Everything of ours inside the shards (entries, debris, locks), never following a
    /// symbolic link (`DirEntry::file_type` does not follow them).
    fn walk(&self) -> Vec<Found> {
        let mut out = Vec::new();
        for component in Component::ALL {
            for (shard_name, shard) in self.shards(component) {
                let Ok(entries) = fs::read_dir(&shard) else {
                    continue;
                };
                for e in entries.flatten() {
                    let Some(name) = e.file_name().to_str().map(str::to_string) else {
                        continue;
                    };
                    let Ok(t) = e.file_type() else { continue };
                    let kind = match classify(&shard_name, &name) {
                        Name::Entry(_) => "entry",
                        Name::Debris => "debris",
                        Name::Lock => "lock",
                        Name::Foreign => continue,
                    };
                    out.push(Found {
                        kind,
                        path: e.path(),
                        is_dir: t.is_dir() && !t.is_symlink(),
                        is_link: t.is_symlink(),
                    });
                }
            }
        }
        out
    }

    /// `<root>/jit/<component>/<dd>/<digest>` entry directories.
    fn entry_dirs(&self) -> Vec<PathBuf> {
        self.walk()
            .into_iter()
            .filter(|f| f.kind == "entry" && f.is_dir)
            .map(|f| f.path)
            .collect()
    }

    /// Things under the layout's names that dynlib never makes: symbolic links named like
    /// an entry, a lock or a leftover (planted, or copied in by someone), and entries or
    /// locks of the wrong file type. Nothing reads them; [`DiskCache::remove_planted`]
    /// unlinks them (a link itself, never what it points to).
    pub fn planted(&self) -> Vec<(PathBuf, String)> {
        self.walk()
            .into_iter()
            .filter_map(|f| {
                let why = if f.is_link {
                    "a symbolic link where dynlib keeps its own files".to_string()
                } else if f.kind == "entry" && !f.is_dir {
                    "not a directory, where an entry should be".to_string()
                } else if f.kind == "lock" && f.is_dir {
                    "a directory, where a lock file should be".to_string()
                } else {
                    return None;
                };
                Some((f.path, why))
            })
            .collect()
    }

    /// Unlinks what [`DiskCache::planted`] lists (directories in a lock's place are left:
    /// they may hold someone's files). Returns what it removed.
    pub fn remove_planted(&self) -> std::io::Result<Vec<PathBuf>> {
        let mut removed = Vec::new();
        for (path, _) in self.planted() {
            if fs::symlink_metadata(&path).is_ok_and(|m| !m.is_dir()) {
                fs::remove_file(&path)?;
                removed.push(path);
            }
        }
        Ok(removed)
    }
}

fn read_only_error(root: &Path) -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::PermissionDenied,
        format!("the cache root {} is read-only", root.display()),
    )
}

/// Takes the lock on the lock file `path` (created if missing, never through a link),
/// waiting at most `wait` for another holder.
fn lock_file(path: &Path, wait: Duration) -> std::io::Result<CacheLock> {
    let file = dynlib_fs::open_lock_file(path)?;
    let deadline = Instant::now() + wait;
    let mut pause = Duration::from_millis(1);
    loop {
        match file.try_lock() {
            Ok(()) => return Ok(CacheLock { _file: file }),
            Err(fs::TryLockError::Error(e)) => return Err(e),
            Err(fs::TryLockError::WouldBlock) => {}
        }
        let now = Instant::now();
        if now >= deadline {
            return Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                format!(
                    "another process has held {} for more than {:.1} s",
                    path.display(),
                    wait.as_secs_f64()
                ),
            ));
        }
        std::thread::sleep(pause.min(deadline - now));
        pause = (pause * 2).min(Duration::from_millis(50));
    }
}

/// Deletes a lock file if nobody holds its lock (taken without waiting, deleted while held).
fn remove_free_lock(path: &Path) {
    if let Ok(file) = dynlib_fs::open_lock_file(path) {
        if file.try_lock().is_ok() {
            let _ = fs::remove_file(path);
        }
    }
}

fn sort_key(e: &(PathBuf, Result<EntryInfo, String>)) -> (u8, String, String, PathBuf) {
    match &e.1 {
        Ok(i) => (
            i.component as u8,
            i.labels.stepper.clone(),
            i.labels.dtype.clone(),
            e.0.clone(),
        ),
        Err(_) => (u8::MAX, String::new(), String::new(), e.0.clone()),
    }
}

fn meta_json(key: &Key, labels: &Labels, object: &[u8]) -> Value {
    let inputs: serde_json::Map<String, Value> = key
        .inputs()
        .iter()
        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
        .collect();
    json!({
        "format": FORMAT_VERSION,
        "component": key.component().dir(),
        "digest": key.digest(),
        "model": labels.model,
        "stepper": labels.stepper,
        "dtype": labels.dtype,
        "variant": labels.variant,
        "object": OBJECT,
        "size": object.len(),
        "checksum": checksum(object),
        "created": now(),
        "inputs": inputs,
    })
}

/// Refuses an entry path that is not a real directory (a planted link is corrupt).
fn check_entry_dir(dir: &Path) -> Result<(), String> {
    match fs::symlink_metadata(dir) {
        Ok(m) if m.is_dir() => Ok(()),
        Ok(m) => Err(format!(
            "the entry is {}, not a directory",
            dynlib_fs::FileKind::of(&m)
        )),
        Err(e) => Err(format!("the entry cannot be read: {e}")),
    }
}

fn read_meta(dir: &Path) -> Result<Value, String> {
    check_entry_dir(dir)?;
    let bytes =
        read_file(&dir.join(META), META_LIMIT, Follow::No).map_err(|e| format!("{META}: {e}"))?;
    serde_json::from_slice(&bytes).map_err(|e| format!("{META} is not valid JSON: {e}"))
}

fn info_from_meta(dir: &Path, m: &Value) -> Result<EntryInfo, String> {
    let s = |k: &str| {
        m.get(k)
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| format!("{META} has no string `{k}`"))
    };
    let n = |k: &str| {
        m.get(k)
            .and_then(Value::as_u64)
            .ok_or_else(|| format!("{META} has no number `{k}`"))
    };
    let format = n("format")?;
    if format != u64::from(FORMAT_VERSION) {
        return Err(format!(
            "format {format}, this dynlib writes format {FORMAT_VERSION}"
        ));
    }
    let component_name = s("component")?;
    let component = Component::from_dir(&component_name)
        .ok_or_else(|| format!("unknown component `{component_name}`"))?;
    let inputs = m
        .get("inputs")
        .and_then(Value::as_object)
        .map(|o| {
            o.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                .collect()
        })
        .unwrap_or_default();
    Ok(EntryInfo {
        component,
        digest: s("digest")?,
        labels: Labels {
            model: s("model")?,
            stepper: s("stepper")?,
            dtype: s("dtype")?,
            variant: s("variant")?,
        },
        size: n("size")?,
        created: n("created")?,
        inputs,
        path: dir.to_path_buf(),
    })
}

/// Reads an entry and checks everything: meta, digest (against the directory name, its
/// component directory and `expect`), object size, checksum and the key tag inside it.
fn read_entry(dir: &Path, expect: Option<&Key>) -> Result<(EntryInfo, Vec<u8>), String> {
    let meta = read_meta(dir)?;
    let info = info_from_meta(dir, &meta)?;
    let dir_name = dir.file_name().map(|n| n.to_string_lossy().into_owned());
    if dir_name.as_deref() != Some(info.digest.as_str()) {
        return Err(format!(
            "{META} names digest {} but the entry is {}",
            info.digest,
            dir.display()
        ));
    }
    let component_dir = dir
        .parent()
        .and_then(Path::parent)
        .and_then(Path::file_name)
        .and_then(|n| n.to_str());
    if component_dir != Some(info.component.dir()) {
        return Err(format!(
            "{META} says component {} but the entry is not under {}/",
            info.component.dir(),
            info.component.dir()
        ));
    }
    if let Some(key) = expect {
        if info.digest != key.digest() || info.component != key.component() {
            return Err(format!("{META} belongs to another key"));
        }
    }
    if info.size > OBJECT_LIMIT {
        return Err(format!(
            "{META} claims an object of {} bytes, more than the {OBJECT_LIMIT} allowed",
            info.size
        ));
    }
    let bytes = match read_file(&dir.join(OBJECT), info.size, Follow::No) {
        Ok(b) => b,
        Err(dynlib_fs::ReadError::TooLarge { size, .. }) => {
            return Err(format!(
                "{OBJECT} has {size} bytes, {META} says {}",
                info.size
            ))
        }
        Err(e) => return Err(format!("{OBJECT}: {e}")),
    };
    if bytes.len() as u64 != info.size {
        return Err(format!(
            "{OBJECT} has {} bytes, {META} says {}",
            bytes.len(),
            info.size
        ));
    }
    let want = meta
        .get("checksum")
        .and_then(Value::as_str)
        .ok_or_else(|| format!("{META} has no checksum"))?;
    if checksum(&bytes) != want {
        return Err(format!("{OBJECT} does not match its checksum"));
    }
    carries_tag(&bytes, &info.digest).map_err(|why| format!("{OBJECT} {why}"))?;
    Ok((info, bytes))
}

/// Renames an entry aside, then deletes it; if the rename fails, deletes it in place. A
/// path that is not a real directory is never followed: a link is removed itself.
fn remove_entry_dir(dir: &Path) -> std::io::Result<()> {
    let meta = match fs::symlink_metadata(dir) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    if !meta.is_dir() {
        return fs::remove_file(dir);
    }
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tomb = dir.with_file_name(format!("{name}.corrupt-{}", unique_suffix()));
    match fs::rename(dir, &tomb) {
        Ok(()) => fs::remove_dir_all(&tomb),
        Err(_) => fs::remove_dir_all(dir),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_classified_strictly() {
        let d = "ab".to_string() + &"0".repeat(62);
        assert_eq!(classify("ab", &d), Name::Entry(&d));
        assert_eq!(classify("cd", &d), Name::Foreign, "the shard is the prefix");
        assert_eq!(classify("ab", &format!(".{d}.lock")), Name::Lock);
        assert_eq!(classify("ab", &format!(".{d}.tmp-1-2-3")), Name::Debris);
        assert_eq!(classify("ab", &format!("{d}.corrupt-1-2")), Name::Debris);
        assert_eq!(classify("ab", "Documents"), Name::Foreign);
        assert_eq!(classify("ab", &d.to_uppercase()), Name::Foreign);
        assert_eq!(classify("ab", &format!("{d}x")), Name::Foreign);
        assert_eq!(classify("ab", &format!(".{d}.lockx")), Name::Foreign);
    }
}
