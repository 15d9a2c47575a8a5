//! Compiled units and their caches: the process-wide in-memory cache of loaded units, the
//! disk cache (dynlib-cache) between object emission and loading, and the counters a build
//! reports.
//!
//! A unit's key is a digest of exactly what is compiled: the printed IR of its functions
//! (the exports and everything they call), which unit it is and the runner variant, the
//! dtype, the codegen options, the backend's identity (LLVM version, a digest of the
//! translator's own source, target triple, CPU name and features) and the cache format.
//! Parameters and initial states are runtime data, never IR, so they never enter a key;
//! changing a stepper or runner template changes its IR, so it changes the key by itself.
//!
//! Lookup order for each unit: the in-memory cache (a second `build` in the same process
//! compiles and loads nothing), then the disk cache when `disk_cache = true` (verified by
//! checksum; an entry that is corrupt, foreign or fails to load is deleted and rebuilt, with
//! one warning), then compilation under the entry's build lock (so racing processes compile
//! a unit once; the one that waited finds the entry and loads it).

#[cfg(feature = "jit")]
use std::sync::{Arc, Mutex};

#[cfg(feature = "jit")]
use dynlib_cache::{DiskCache, Key, Labels, Lookup};
#[cfg(feature = "jit")]
use dynlib_ir::{FuncId, Program};

#[cfg(feature = "jit")]
use crate::error::RuntimeError;

/// The codegen options that are part of every unit key.
#[cfg(feature = "jit")]
pub use dynlib_native::CodegenOptions;

/// What the caches did for one build: units found (in memory or on disk), units not found,
/// units compiled, and corrupt disk entries rebuilt.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct CacheStats {
    /// Units found in the in-process or disk cache.
    pub hits: u32,
    /// Units found in neither.
    pub misses: u32,
    /// Units compiled by LLVM.
    pub compiled: u32,
    /// Disk entries found corrupt (or foreign, or not loadable), deleted and rebuilt.
    pub recovered: u32,
}

impl CacheStats {
    /// Both counts added.
    pub fn plus(self, o: CacheStats) -> CacheStats {
        CacheStats {
            hits: self.hits + o.hits,
            misses: self.misses + o.misses,
            compiled: self.compiled + o.compiled,
            recovered: self.recovered + o.recovered,
        }
    }
}

/// How many loaded units the in-process cache keeps (least recently used go first).
pub const MEMORY_CACHE_UNITS: usize = 64;

#[cfg(feature = "jit")]
type Loaded = Arc<dynlib_native::Jit>;

#[cfg(feature = "jit")]
static MEMORY: Mutex<Vec<(String, Loaded)>> = Mutex::new(Vec::new());

/// Empties the in-process cache of loaded units, so the next `build` compiles (or loads
/// from disk) again. Kernels already built keep their code.
pub fn clear_memory_cache() {
    #[cfg(feature = "jit")]
    MEMORY.lock().unwrap_or_else(|e| e.into_inner()).clear();
}

#[cfg(feature = "jit")]
fn memory_get(digest: &str) -> Option<Loaded> {
    let mut m = MEMORY.lock().unwrap_or_else(|e| e.into_inner());
    let at = m.iter().position(|(d, _)| d == digest)?;
    let entry = m.remove(at);
    let jit = entry.1.clone();
    m.push(entry);
    Some(jit)
}

#[cfg(feature = "jit")]
fn memory_put(digest: &str, jit: &Loaded) {
    let mut m = MEMORY.lock().unwrap_or_else(|e| e.into_inner());
    m.retain(|(d, _)| d != digest);
    m.push((digest.to_string(), jit.clone()));
    if m.len() > MEMORY_CACHE_UNITS {
        m.remove(0);
    }
}

/// One unit to compile: the program, its exports and its key.
#[cfg(feature = "jit")]
pub(crate) struct UnitRequest<'a> {
    pub name: &'static str,
    pub program: &'a Program,
    pub exports: Vec<FuncId>,
    pub key: Key,
    pub labels: Labels,
}

/// The key of a unit: `exports` of `program` (with everything they call) compiled as
/// `unit` (`triplets`, `stepper`, `runner`) — for a runner, of its variant and (analysis
/// runners) its observers' signature — for `dtype` with `opts` on this machine's LLVM.
#[cfg(feature = "jit")]
pub fn unit_key(
    program: &Program,
    exports: &[FuncId],
    component: dynlib_cache::Component,
    unit: &str,
    runner: Option<(crate::runner::RunnerVariant, Option<&str>)>,
    dtype: &str,
    opts: &dynlib_native::CodegenOptions,
) -> Result<Key, RuntimeError> {
    use sha2::{Digest, Sha256};
    let host = dynlib_native::host().map_err(|e| RuntimeError::native("host", e))?;
    let mut ir = Sha256::new();
    for id in program.reachable(exports) {
        ir.update(dynlib_ir::print_function(program.func(id), Some(program)).as_bytes());
        ir.update(b"\n");
    }
    let ir: String = ir.finalize().iter().map(|b| format!("{b:02x}")).collect();
    // Loaded code is called by the ids of the program it was compiled from, so the ids are
    // part of what a unit is: the same functions at other ids are another unit.
    let names: Vec<String> = exports
        .iter()
        .map(|&id| format!("{}#{}", program.func(id).name, id.0))
        .collect();
    let variant = runner.map(|r| r.0);
    // Analysis runners only: the observers' signature (the other keys stay as they were).
    let observers = runner
        .and_then(|r| r.1)
        .map(|o| ("observers", o.to_string()));
    Ok(Key::new(
        component,
        observers.into_iter().chain([
            ("ir", ir),
            ("exports", names.join(",")),
            ("unit", unit.to_string()),
            // Empty for units that are not runners (as before variants were a type).
            ("variant", variant.map_or("", |v| v.name()).to_string()),
            ("dtype", dtype.to_string()),
            ("codegen", opts.describe()),
            ("llvm", host.llvm_version.clone()),
            ("translator", dynlib_native::TRANSLATOR_DIGEST.to_string()),
            ("triple", host.triple.clone()),
            ("cpu", host.cpu.clone()),
            ("features", host.features.clone()),
        ]),
    ))
}

/// Finds or compiles one unit, counting what happened in `stats`.
#[cfg(feature = "jit")]
pub(crate) fn obtain(
    req: &UnitRequest<'_>,
    disk: Option<&DiskCache>,
    opts: &dynlib_native::CodegenOptions,
    stats: &mut CacheStats,
) -> Result<Loaded, RuntimeError> {
    let digest = req.key.digest().to_string();
    if let Some(jit) = memory_get(&digest) {
        stats.hits += 1;
        return Ok(jit);
    }
    fn hit(stats: &mut CacheStats, digest: &str, jit: Loaded) -> Loaded {
        stats.hits += 1;
        memory_put(digest, &jit);
        jit
    }
    let fail = |e: dynlib_native::Error| RuntimeError::native(req.name, e);
    // Every object carries its key's tag: an entry holding another key's object (even with
    // its checksum fixed up) is refused by the cache and again by the loader.
    let tag = dynlib_cache::key_tag(&digest);
    let compile = || dynlib_native::compile(req.program, &req.exports, opts, &tag).map_err(fail);
    let from_bytes = |bytes: Vec<u8>| {
        dynlib_native::Object {
            bytes,
            exports: dynlib_native::exports_of(req.program, &req.exports),
            tag: tag.clone(),
        }
        .load()
    };
    let Some(disk) = disk else {
        stats.misses += 1;
        let object = compile()?;
        stats.compiled += 1;
        let jit = Arc::new(object.load().map_err(fail)?);
        memory_put(&digest, &jit);
        return Ok(jit);
    };

    // A verified entry that loads, or why there is none (`None`: no entry at all).
    let look = || -> Result<Loaded, Option<String>> {
        match disk.load(&req.key) {
            Lookup::Hit(bytes) => from_bytes(bytes)
                .map(Arc::new)
                .map_err(|e| Some(format!("its object does not load ({e})"))),
            Lookup::Miss => Err(None),
            Lookup::Corrupt(reason) => Err(Some(reason)),
        }
    };
    // Read without the lock first: entries appear by atomic rename, so a reader never sees
    // half of one, and a warm cache never waits for anyone.
    let mut corrupt = match look() {
        Ok(jit) => return Ok(hit(stats, &digest, jit)),
        Err(problem) => problem,
    };
    let entry = disk.entry_dir(&req.key);
    let lock = build_lock(disk, &req.key, &entry);
    // Under the lock, look again: another process may have built (or repaired) the entry
    // while we waited.
    if lock.is_some() {
        corrupt = match look() {
            Ok(jit) => return Ok(hit(stats, &digest, jit)),
            Err(problem) => problem,
        };
    }
    if let Some(reason) = corrupt.take() {
        discard_corrupt(disk, &req.key, &entry, &reason, lock.is_some(), stats);
    }
    stats.misses += 1;
    let object = compile()?;
    stats.compiled += 1;
    if lock.is_some() {
        if let Err(e) = disk.store(&req.key, &req.labels, &object.bytes) {
            dynlib_cache::root::warn_once(format!(
                "dynlib cannot write the cache entry {} ({e}); the compiled code stays in memory",
                entry.display()
            ));
        }
    }
    drop(lock);
    let jit = Arc::new(object.load().map_err(fail)?);
    memory_put(&digest, &jit);
    Ok(jit)
}

/// The build lock of `key`'s entry, or `None` when the cache is read-only (it serves what
/// it has; the rest is compiled and kept in memory, and the root's resolution already
/// warned once) or the lock cannot be had (warned once: the unit is compiled in memory).
#[cfg(feature = "jit")]
fn build_lock(
    disk: &DiskCache,
    key: &Key,
    entry: &std::path::Path,
) -> Option<dynlib_cache::CacheLock> {
    if disk.is_read_only() {
        return None;
    }
    match disk.lock(key) {
        Ok(lock) => Some(lock),
        Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {
            dynlib_cache::root::warn_once(format!(
                "dynlib did not wait for the cache entry {} any longer: {e} (a stopped or \
                 hung process?); compiling it in memory",
                entry.display()
            ));
            None
        }
        Err(e) => {
            dynlib_cache::root::warn_once(format!(
                "dynlib disk cache disabled for {}: cannot take its lock ({e}); compiling in memory",
                entry.display()
            ));
            None
        }
    }
}

/// Deletes a corrupt entry so it is rebuilt, when we hold its lock; without the lock
/// (read-only cache, or a holder that never let go) it is left for its owner to repair.
/// Either way says so once.
#[cfg(feature = "jit")]
fn discard_corrupt(
    disk: &DiskCache,
    key: &Key,
    entry: &std::path::Path,
    reason: &str,
    locked: bool,
    stats: &mut CacheStats,
) {
    let removed = if locked {
        disk.remove(key)
    } else {
        Err(std::io::Error::other("its build lock is not held"))
    };
    match removed {
        Ok(()) => {
            stats.recovered += 1;
            dynlib_cache::root::warn_once(format!(
                "dynlib cache entry {} is corrupt: {reason}; it was deleted and rebuilt",
                entry.display()
            ));
        }
        Err(e) => dynlib_cache::root::warn_once(format!(
            "dynlib cache entry {} is corrupt ({reason}) and cannot be deleted ({e}); \
             the unit is compiled in memory",
            entry.display()
        )),
    }
}
