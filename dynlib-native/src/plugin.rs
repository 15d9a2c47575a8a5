//! Finding, loading and calling the LLVM backend plugin.
//!
//! The plugin is dynlib-llvm built as a `cdylib` (`libdynlib_llvm.so` on Linux,
//! `libdynlib_llvm.dylib` on macOS, `dynlib_llvm.dll` on Windows). Cargo builds it whenever
//! it builds dynlib with the `jit` feature and writes it to `target/<profile>/deps`. The
//! first call that needs LLVM looks for it, in order:
//!
//! 1. the path in the environment variable `DYNLIB_LLVM_PLUGIN`, if set (and nowhere else);
//! 2. next to the running executable, in its `deps/` directory, in `../deps/` (examples
//!    live in `target/<profile>/examples`) and in `../lib/` (an installed layout);
//! 3. the `deps/` directory of the build that compiled this crate.
//!
//! The first one found whose digest equals [`TRANSLATOR_DIGEST`] (built from the same
//! sources as this crate) is used; others are skipped (an older build's plugin left next to
//! the executable), and named in the error when none fits. It is loaded once per process and
//! never unloaded (compiled code and the LLJITs live in it).

use std::ffi::{c_void, CStr};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use dynlib_ir::{FuncId, Program};

use crate::abi::{self, Bytes};
use crate::{CodegenOptions, Error, Host, Object, TRANSLATOR_DIGEST};

/// The environment variable naming the plugin's path.
pub const PLUGIN_ENV: &str = "DYNLIB_LLVM_PLUGIN";

/// The plugin's file name on this platform.
pub fn file_name() -> String {
    format!(
        "{}dynlib_llvm{}",
        std::env::consts::DLL_PREFIX,
        std::env::consts::DLL_SUFFIX
    )
}

/// A loaded plugin: its entry points.
struct Backend {
    path: PathBuf,
    host: abi::HostFn,
    compile: abi::CompileFn,
    load: abi::LoadFn,
    lookup: abi::LookupFn,
    unload: abi::UnloadFn,
    free: abi::FreeFn,
    // Kept so the library stays mapped for the life of the process.
    _lib: libloading::Library,
}

static BACKEND: OnceLock<Result<Backend, String>> = OnceLock::new();

/// True once the plugin (and with it LLVM) has been loaded into this process.
pub fn is_loaded() -> bool {
    BACKEND.get().is_some_and(|b| b.is_ok())
}

/// The path of the loaded plugin, loading it if needed.
pub fn path() -> Result<PathBuf, Error> {
    Ok(backend()?.path.clone())
}

/// The places [`backend`] looks for the plugin, in order.
pub fn candidates() -> Vec<PathBuf> {
    if let Some(p) = std::env::var_os(PLUGIN_ENV) {
        return vec![PathBuf::from(p)];
    }
    let name = file_name();
    let mut out = Vec::new();
    if let Some(dir) = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(Path::to_path_buf))
    {
        out.push(dir.join(&name));
        out.push(dir.join("deps").join(&name));
        out.push(dir.join("../deps").join(&name));
        out.push(dir.join("../lib").join(&name));
    }
    let built = Path::new(env!("DYNLIB_BUILD_DEPS_DIR")).join(&name);
    if !out.contains(&built) {
        out.push(built);
    }
    out
}

fn backend() -> Result<&'static Backend, Error> {
    BACKEND
        .get_or_init(open)
        .as_ref()
        .map_err(|e| Error::Unavailable(e.clone()))
}

/// Finds and loads the plugin: the first candidate that exists and carries this build's
/// digest (a stale plugin left next to the executable by an older build is skipped).
fn open() -> Result<Backend, String> {
    let candidates = candidates();
    if let (Some(p), [only]) = (std::env::var_os(PLUGIN_ENV), candidates.as_slice()) {
        if !only.is_file() {
            return Err(format!(
                "{PLUGIN_ENV} names {}, which is not a file",
                Path::new(&p).display()
            ));
        }
    }
    let mut refused = Vec::new();
    for path in candidates.iter().filter(|p| p.is_file()) {
        match open_at(path) {
            Ok(b) => return Ok(b),
            Err(e) => refused.push(e),
        }
    }
    if refused.is_empty() {
        let list = candidates
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(", ");
        return Err(format!(
            "its plugin {} is not in any of: {list} (cargo builds it with dynlib's `jit` \
             feature into target/<profile>/deps; set {PLUGIN_ENV} to its path)",
            file_name()
        ));
    }
    Err(refused.join("; "))
}

/// Loads the plugin at `path`, checking its digest.
fn open_at(path: &Path) -> Result<Backend, String> {
    // SAFETY: loading runs the library's initialisers (for the plugin, Rust's and LLVM's
    // static constructors, which have no preconditions). Only the places listed in the
    // module docs are tried, so a library found there is trusted as much as the program
    // itself; the digest check below refuses a stale or foreign one before any entry point
    // but the digest is called (it cannot undo what a hostile initialiser did).
    let lib = unsafe { libloading::Library::new(path) }.map_err(|e| {
        let e = e.to_string();
        let hint = if e.contains("cannot open shared object file") {
            " (a shared library the backend links is missing: it needs libstdc++, zlib, \
             libtinfo and libffi; LLVM itself is linked in)"
        } else {
            ""
        };
        format!("cannot load {}: {e}{hint}", path.display())
    })?;
    let missing = |e: libloading::Error| format!("{} is not dynlib's backend: {e}", path.display());
    // SAFETY: each symbol is looked up with the type abi.rs declares for it; the digest
    // entry is checked first, so a foreign library sharing the names is refused before use.
    unsafe {
        let digest = *lib.get::<abi::DigestFn>(abi::DIGEST).map_err(missing)?;
        let found = CStr::from_ptr(digest()).to_string_lossy().into_owned();
        if found != TRANSLATOR_DIGEST {
            return Err(format!(
                "{} was built from other sources (digest {found}, this program expects \
                 {TRANSLATOR_DIGEST}); rebuild dynlib, or point {PLUGIN_ENV} at the \
                 matching plugin",
                path.display()
            ));
        }
        Ok(Backend {
            path: path.to_path_buf(),
            host: *lib.get::<abi::HostFn>(abi::HOST).map_err(missing)?,
            compile: *lib.get::<abi::CompileFn>(abi::COMPILE).map_err(missing)?,
            load: *lib.get::<abi::LoadFn>(abi::LOAD).map_err(missing)?,
            lookup: *lib.get::<abi::LookupFn>(abi::LOOKUP).map_err(missing)?,
            unload: *lib.get::<abi::UnloadFn>(abi::UNLOAD).map_err(missing)?,
            free: *lib.get::<abi::FreeFn>(abi::FREE).map_err(missing)?,
            _lib: lib,
        })
    }
}

impl Backend {
    /// Takes back a buffer the plugin filled: its bytes, freed on the plugin's side.
    fn take(&self, bytes: Bytes) -> Vec<u8> {
        if bytes.ptr.is_null() {
            return Vec::new();
        }
        // SAFETY: the plugin filled `bytes` (ptr, len) and still owns the allocation, which
        // it frees on `free`, after the copy.
        let v = unsafe { std::slice::from_raw_parts(bytes.ptr, bytes.len) }.to_vec();
        // SAFETY: handing the plugin's buffer back to it, once.
        unsafe { (self.free)(bytes) };
        v
    }

    /// Makes a call that fills a buffer (its result, or its error message) and returns
    /// status: the bytes on success, the error otherwise.
    fn call(&self, f: impl FnOnce(&mut Bytes) -> i32) -> Result<Vec<u8>, Error> {
        let mut out = Bytes::empty();
        let status = f(&mut out);
        let bytes = self.take(out);
        if status == abi::OK {
            Ok(bytes)
        } else {
            Err(Error::Backend(String::from_utf8_lossy(&bytes).into_owned()))
        }
    }
}

/// The code generator's identity on this machine (loads the backend).
pub fn host() -> Result<&'static Host, Error> {
    static HOST: OnceLock<Result<Host, String>> = OnceLock::new();
    let b = backend()?;
    HOST.get_or_init(|| {
        // SAFETY: `out` is a valid buffer for the plugin to fill.
        let text = b
            .call(|out| unsafe { (b.host)(out) })
            .map_err(|e| e.to_string())?;
        let text = String::from_utf8_lossy(&text).into_owned();
        let mut parts = text.splitn(4, '\n').map(str::to_string);
        let mut next = || parts.next().unwrap_or_default();
        Ok(Host {
            llvm_version: next(),
            triple: next(),
            cpu: next(),
            features: next(),
        })
    })
    .as_ref()
    .map_err(|e| Error::Backend(e.clone()))
}

/// Runs the plugin's compiler on `program` in `mode`.
fn run_compile(
    program: &Program,
    exports: &[FuncId],
    opts: &CodegenOptions,
    tag: &str,
    mode: u32,
) -> Result<Vec<u8>, Error> {
    let b = backend()?;
    let ir = dynlib_ir::print_program(program);
    let ids: Vec<u32> = exports.iter().map(|f| f.0).collect();
    // SAFETY: every pointer/length pair describes a live slice for the duration of the call;
    // `out` is a valid buffer for the plugin to fill.
    b.call(|out| unsafe {
        (b.compile)(
            ir.as_ptr(),
            ir.len(),
            ids.as_ptr(),
            ids.len(),
            opts.code(),
            tag.as_ptr(),
            tag.len(),
            mode,
            out,
        )
    })
}

/// Compiles the functions `exports` of `program` (and everything they call) into an object
/// file for this machine, carrying `tag` (its identity: the disk cache passes its key tag)
/// and its ABI as data symbols. Fails with [`Error::Backend`] on IR the verifier rejects.
pub fn compile(
    program: &Program,
    exports: &[FuncId],
    opts: &CodegenOptions,
    tag: &str,
) -> Result<Object, Error> {
    let bytes = run_compile(program, exports, opts, tag, abi::mode::OBJECT)?;
    Ok(Object {
        bytes,
        exports: crate::exports_of(program, exports),
        tag: tag.to_string(),
    })
}

/// The optimised LLVM IR of the unit [`compile`] would build, as text.
pub fn llvm_ir(
    program: &Program,
    exports: &[FuncId],
    opts: &CodegenOptions,
    tag: &str,
) -> Result<String, Error> {
    let text = run_compile(program, exports, opts, tag, abi::mode::LLVM_IR)?;
    Ok(String::from_utf8_lossy(&text).into_owned())
}

/// The host assembly of the unit [`compile`] would build, as text.
pub fn assembly(
    program: &Program,
    exports: &[FuncId],
    opts: &CodegenOptions,
    tag: &str,
) -> Result<String, Error> {
    let text = run_compile(program, exports, opts, tag, abi::mode::ASSEMBLY)?;
    Ok(String::from_utf8_lossy(&text).into_owned())
}

/// One object loaded into an LLJIT of the plugin; dropping it frees the code.
pub(crate) struct Loaded {
    backend: &'static Backend,
    unit: *mut c_void,
}

// SAFETY: the plugin's unit is only used through `lookup`, which ORC guards with its own
// session lock, and through the addresses of finished code, which is immutable; it is freed
// once, in `drop`, when no other reference exists.
unsafe impl Send for Loaded {}
unsafe impl Sync for Loaded {}

impl Loaded {
    /// Loads `object` with the interpreter's math functions defined in it.
    pub(crate) fn new(object: &[u8]) -> Result<Loaded, Error> {
        let backend = backend()?;
        let libm = dynlib_ir::libm::symbols();
        let symbols: Vec<abi::Symbol> = libm
            .iter()
            .map(|(name, addr)| abi::Symbol {
                name: name.as_ptr(),
                name_len: name.len(),
                addr: *addr,
            })
            .collect();
        let mut unit = std::ptr::null_mut();
        // SAFETY: the object and the symbol table (whose names `libm` owns) outlive the
        // call; `unit` and the error buffer are valid for the plugin to write.
        backend.call(|err| unsafe {
            (backend.load)(
                object.as_ptr(),
                object.len(),
                symbols.as_ptr(),
                symbols.len(),
                &mut unit,
                err,
            )
        })?;
        Ok(Loaded { backend, unit })
    }

    /// The address of `symbol` (unmangled); linking happens on the first lookup.
    pub(crate) fn lookup(&self, symbol: &str) -> Result<u64, Error> {
        let mut addr = 0u64;
        // SAFETY: `self.unit` is alive; the name outlives the call; `addr` and the error
        // buffer are valid for the plugin to write.
        self.backend.call(|err| unsafe {
            (self.backend.lookup)(self.unit, symbol.as_ptr(), symbol.len(), &mut addr, err)
        })?;
        if addr == 0 {
            return Err(Error::Backend(format!("`{symbol}` resolved to address 0")));
        }
        Ok(addr)
    }

    /// The `len` bytes at the data symbol `symbol`, if the symbol `len_symbol` (a 64-bit
    /// length) says it holds exactly that many; `None` when it holds another number.
    pub(crate) fn read_bytes(
        &self,
        symbol: &str,
        len_symbol: &str,
        len: usize,
    ) -> Result<Option<Vec<u8>>, Error> {
        let len_addr = self.lookup(len_symbol)?;
        // SAFETY: the symbol was resolved in this unit's linked code: an 8-byte constant
        // global emitted by the compiler, alive as long as `self`.
        let stored = unsafe { std::ptr::read_unaligned(len_addr as usize as *const u64) };
        if stored != len as u64 {
            return Ok(None);
        }
        let addr = self.lookup(symbol)?;
        // SAFETY: as above; the global holds `stored` = `len` bytes.
        let bytes = unsafe { std::slice::from_raw_parts(addr as usize as *const u8, len) };
        Ok(Some(bytes.to_vec()))
    }
}

impl Drop for Loaded {
    fn drop(&mut self) {
        // SAFETY: the unit came from the plugin's `load` and is freed exactly once; nothing
        // calls into its code afterwards (`Jit` owns the only `Loaded`).
        unsafe { (self.backend.unload)(self.unit) };
    }
}
