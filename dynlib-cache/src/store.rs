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
//! object bytes against `meta.json`: a truncated, flipped or foreign entry is reported as
//! corrupt, never returned.

use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};

use crate::key::checksum;
use crate::{Component, Key, FORMAT_VERSION};

const OBJECT: &str = "object.o";
const META: &str = "meta.json";

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
    /// Everything (the whole `jit/` directory; the root itself and anything else in it stay).
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
    _file: File,
}

/// Seconds since the Unix epoch.
pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// A name no other process or thread uses at the same moment.
fn unique_suffix() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
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

/// The cache under one root directory.
#[derive(Clone, Debug)]
pub struct DiskCache {
    root: PathBuf,
}

impl DiskCache {
    /// The cache under `root` (nothing is created until an entry is written).
    pub fn new(root: impl Into<PathBuf>) -> DiskCache {
        DiskCache { root: root.into() }
    }

    /// The root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `<root>/jit`, which holds every entry.
    pub fn jit_dir(&self) -> PathBuf {
        self.root.join("jit")
    }

    fn shard(&self, key: &Key) -> PathBuf {
        self.jit_dir()
            .join(key.component().dir())
            .join(&key.digest()[..2])
    }

    /// The directory of `key`'s entry.
    pub fn entry_dir(&self, key: &Key) -> PathBuf {
        self.shard(key).join(key.digest())
    }

    /// Reads and verifies `key`'s entry.
    pub fn load(&self, key: &Key) -> Lookup {
        let dir = self.entry_dir(key);
        if !dir.exists() {
            return Lookup::Miss;
        }
        match read_entry(&dir, Some(key)) {
            Ok((_, bytes)) => Lookup::Hit(bytes),
            Err(reason) => Lookup::Corrupt(reason),
        }
    }

    /// Takes the build lock of `key`, waiting while another process or thread holds it.
    pub fn lock(&self, key: &Key) -> std::io::Result<CacheLock> {
        lock_entry(&self.entry_dir(key))
    }

    /// Deletes the entry at `dir` if it still fails verification once its lock is held (so
    /// an entry rebuilt meanwhile by another process is kept). Returns whether it deleted.
    pub fn remove_if_corrupt(&self, dir: &Path) -> std::io::Result<bool> {
        let _lock = lock_entry(dir)?;
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
            .filter(|(name, _)| name.contains(".tmp-") || name.contains(".corrupt-"))
            .filter(|(_, path)| {
                fs::metadata(path)
                    .and_then(|m| m.modified())
                    .ok()
                    .and_then(|t| now.duration_since(t).ok())
                    .is_some_and(|age| age.as_secs() >= min_age_secs)
            })
            .map(|(_, path)| path)
            .collect()
    }

    /// Deletes what [`DiskCache::debris`] lists.
    pub fn remove_debris(&self, min_age_secs: u64) -> std::io::Result<Vec<PathBuf>> {
        let found = self.debris(min_age_secs);
        for d in &found {
            fs::remove_dir_all(d)?;
        }
        Ok(found)
    }

    /// Writes `key`'s entry atomically (a complete temporary directory renamed into place).
    /// If an entry appeared meanwhile, it is kept and the new one discarded. Returns the
    /// entry's directory.
    pub fn store(&self, key: &Key, labels: &Labels, object: &[u8]) -> std::io::Result<PathBuf> {
        let shard = self.shard(key);
        fs::create_dir_all(&shard)?;
        let dir = self.entry_dir(key);
        let tmp = shard.join(format!(".{}.tmp-{}", key.digest(), unique_suffix()));
        let written = (|| {
            fs::create_dir(&tmp)?;
            fs::write(tmp.join(OBJECT), object)?;
            let meta = meta_json(key, labels, object);
            fs::write(tmp.join(META), format!("{meta:#}\n"))
        })();
        if let Err(e) = written {
            let _ = fs::remove_dir_all(&tmp);
            return Err(e);
        }
        if dir.exists() {
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
            if !dir.exists() {
                return Err(e);
            }
        }
        Ok(dir)
    }

    /// Deletes `key`'s entry (renamed aside first, so readers never see half of it).
    pub fn remove(&self, key: &Key) -> std::io::Result<()> {
        remove_entry_dir(&self.entry_dir(key))
    }

    /// Every entry directory under the root, with what its `meta.json` says (or why it
    /// cannot be read), sorted by component, stepper, dtype and digest. Does not read the
    /// object files; [`DiskCache::verify`] does.
    pub fn list(&self) -> Vec<(PathBuf, Result<EntryInfo, String>)> {
        self.each_entry(|dir| read_meta(dir).and_then(|m| info_from_meta(dir, &m)))
    }

    /// Every entry, fully checked (format, digest, object size and checksum).
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

    /// Deletes what `selector` selects (nothing when `dry_run`) and returns the paths it
    /// deleted or would delete: `<root>/jit` for `all`, else the matching entries.
    /// Entries whose `meta.json` cannot be read match only `all`.
    pub fn clear(&self, selector: &Selector, dry_run: bool) -> std::io::Result<Vec<PathBuf>> {
        if selector.all {
            let jit = self.jit_dir();
            if !jit.exists() {
                return Ok(Vec::new());
            }
            if !dry_run {
                fs::remove_dir_all(&jit)?;
            }
            return Ok(vec![jit]);
        }
        let now = now();
        let mut deleted = Vec::new();
        for (dir, info) in self.list() {
            if let Ok(info) = info {
                if selector.matches(&info, now) {
                    if !dry_run {
                        remove_entry_dir(&dir)?;
                    }
                    deleted.push(dir);
                }
            }
        }
        Ok(deleted)
    }

    /// `<root>/jit/<component>/<dd>/<digest>` directories (temporary and tombstone
    /// directories excluded).
    fn entry_dirs(&self) -> Vec<PathBuf> {
        self.walk()
            .into_iter()
            .filter(|(name, _)| !name.starts_with('.') && !name.contains(".corrupt-"))
            .map(|(_, path)| path)
            .collect()
    }

    /// Every directory inside a shard, with its name.
    fn walk(&self) -> Vec<(String, PathBuf)> {
        let mut out = Vec::new();
        for component in Component::ALL {
            let Ok(shards) = fs::read_dir(self.jit_dir().join(component.dir())) else {
                continue;
            };
            for shard in shards.flatten() {
                let Ok(entries) = fs::read_dir(shard.path()) else {
                    continue;
                };
                for e in entries.flatten() {
                    if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                        out.push((e.file_name().to_string_lossy().into_owned(), e.path()));
                    }
                }
            }
        }
        out
    }
}

/// Takes the build lock of the entry at `dir` (`.<digest>.lock` beside it).
fn lock_entry(dir: &Path) -> std::io::Result<CacheLock> {
    let shard = dir
        .parent()
        .ok_or_else(|| std::io::Error::other(format!("{} has no parent", dir.display())))?;
    let digest = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    fs::create_dir_all(shard)?;
    let file = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(shard.join(format!(".{digest}.lock")))?;
    file.lock()?;
    Ok(CacheLock { _file: file })
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

fn read_meta(dir: &Path) -> Result<Value, String> {
    let text = fs::read_to_string(dir.join(META)).map_err(|e| format!("{META}: {e}"))?;
    serde_json::from_str(&text).map_err(|e| format!("{META} is not valid JSON: {e}"))
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

/// Reads an entry and checks everything: meta, digest (against the directory name and
/// `expect`), object size and checksum.
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
    if let Some(key) = expect {
        if info.digest != key.digest() || info.component != key.component() {
            return Err(format!("{META} belongs to another key"));
        }
    }
    let bytes = fs::read(dir.join(OBJECT)).map_err(|e| format!("{OBJECT}: {e}"))?;
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
    Ok((info, bytes))
}

/// Renames an entry aside, then deletes it; if the rename fails, deletes it in place.
fn remove_entry_dir(dir: &Path) -> std::io::Result<()> {
    if !dir.exists() {
        return Ok(());
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
