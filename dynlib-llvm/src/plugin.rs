//! The plugin's C entry points (see `dynlib_native::abi` for the contract): what
//! dynlib-native calls after loading this crate's `cdylib`. Each one catches panics, so none
//! unwinds into the loader, and reports failures as text.

use std::ffi::c_void;
use std::panic::{catch_unwind, AssertUnwindSafe};

use dynlib_ir::FuncId;
use dynlib_native::abi::{self, Bytes, Symbol};
use dynlib_native::CodegenOptions;

use crate::jit::Loaded;

// The entry points have exactly the types the loader declares for them.
const _: abi::DigestFn = dynlib_llvm_digest;
const _: abi::HostFn = dynlib_llvm_host;
const _: abi::CompileFn = dynlib_llvm_compile;
const _: abi::LoadFn = dynlib_llvm_load;
const _: abi::LookupFn = dynlib_llvm_lookup;
const _: abi::UnloadFn = dynlib_llvm_unload;
const _: abi::FreeFn = dynlib_llvm_free;

/// The digest, NUL-terminated, for `dynlib_llvm_digest`.
static DIGEST: &str = concat!(env!("DYNLIB_TRANSLATOR_DIGEST"), "\0");

/// A borrowed slice from a pointer and a length (empty for a null pointer).
///
/// # Safety
///
/// When not null, `ptr` points to `len` readable elements that outlive the returned slice.
unsafe fn slice<'a, T>(ptr: *const T, len: usize) -> &'a [T] {
    if ptr.is_null() || len == 0 {
        &[]
    } else {
        // SAFETY: the caller's contract.
        unsafe { std::slice::from_raw_parts(ptr, len) }
    }
}

/// Runs `f`, writing its bytes (or its error, or a panic's message) into `out`.
///
/// # Safety
///
/// `out` is valid for writes.
unsafe fn respond(out: *mut Bytes, f: impl FnOnce() -> Result<Vec<u8>, String>) -> i32 {
    let (status, bytes) = match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(bytes)) => (abi::OK, bytes),
        Ok(Err(message)) => (abi::FAILED, message.into_bytes()),
        Err(panic) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "a panic".into());
            (
                abi::FAILED,
                format!("the LLVM backend panicked: {what}").into_bytes(),
            )
        }
    };
    // SAFETY: the caller's contract.
    unsafe { out.write(Bytes::from_vec(bytes)) };
    status
}

/// The translator digest this plugin was built with.
#[no_mangle]
pub extern "C" fn dynlib_llvm_digest() -> *const std::ffi::c_char {
    DIGEST.as_ptr().cast()
}

/// The host's description, `llvm_version\ntriple\ncpu\nfeatures`.
///
/// # Safety
///
/// `out` is valid for writes.
#[no_mangle]
pub unsafe extern "C" fn dynlib_llvm_host(out: *mut Bytes) -> i32 {
    let work = || {
        let h = crate::host().map_err(|e| e.to_string())?;
        Ok(format!(
            "{}\n{}\n{}\n{}",
            h.llvm_version, h.triple, h.cpu, h.features
        )
        .into_bytes())
    };
    // SAFETY: forwarded contract.
    unsafe { respond(out, work) }
}

/// Compiles the IR program `ir` (text), exporting the functions numbered `exports`.
///
/// # Safety
///
/// Every pointer/length pair describes readable memory for the call; `out` is valid for
/// writes.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn dynlib_llvm_compile(
    ir: *const u8,
    ir_len: usize,
    exports: *const u32,
    n_exports: usize,
    options: u32,
    tag: *const u8,
    tag_len: usize,
    mode: u32,
    out: *mut Bytes,
) -> i32 {
    // SAFETY: forwarded contract.
    let (ir, exports, tag) = unsafe {
        (
            slice(ir, ir_len),
            slice(exports, n_exports),
            slice(tag, tag_len),
        )
    };
    let work = || {
        let text = std::str::from_utf8(ir).map_err(|e| format!("IR text is not UTF-8: {e}"))?;
        let program = dynlib_ir::parse_program(text)
            .map_err(|e| format!("the backend could not read the IR: {e}"))?;
        let exports: Vec<FuncId> = exports.iter().map(|&i| FuncId(i)).collect();
        let opts = CodegenOptions::from_code(options)
            .ok_or_else(|| format!("no code generation options numbered {options:#x}"))?;
        let tag = String::from_utf8_lossy(tag);
        let e = |e: crate::Error| e.to_string();
        match mode {
            abi::mode::OBJECT => crate::compile(&program, &exports, &opts, &tag)
                .map(|o| o.bytes)
                .map_err(e),
            abi::mode::LLVM_IR => crate::llvm_ir(&program, &exports, &opts, &tag)
                .map(String::into_bytes)
                .map_err(e),
            abi::mode::ASSEMBLY => crate::assembly(&program, &exports, &opts, &tag)
                .map(String::into_bytes)
                .map_err(e),
            m => Err(format!("no compile mode {m}")),
        }
    };
    // SAFETY: forwarded contract.
    unsafe { respond(out, work) }
}

/// Loads an object into a new LLJIT, with `symbols` defined, returning its handle in `unit`.
///
/// # Safety
///
/// Every pointer/length pair (including each symbol's name) describes readable memory for
/// the call; `unit` and `err` are valid for writes.
#[no_mangle]
pub unsafe extern "C" fn dynlib_llvm_load(
    object: *const u8,
    len: usize,
    symbols: *const Symbol,
    n_symbols: usize,
    unit: *mut *mut c_void,
    err: *mut Bytes,
) -> i32 {
    // SAFETY: forwarded contract.
    let (object, symbols) = unsafe { (slice(object, len), slice(symbols, n_symbols)) };
    let work = || {
        let names = symbols
            .iter()
            .map(|s| {
                // SAFETY: forwarded contract (each name is readable).
                let bytes = unsafe { slice(s.name, s.name_len) };
                std::str::from_utf8(bytes)
                    .map(|n| (n, s.addr))
                    .map_err(|e| format!("symbol name is not UTF-8: {e}"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let loaded = Loaded::new(object, "dynlib-unit", &names).map_err(|e| e.to_string())?;
        // SAFETY: the caller's contract: `unit` is writable.
        unsafe { unit.write(Box::into_raw(Box::new(loaded)).cast()) };
        Ok(Vec::new())
    };
    // SAFETY: forwarded contract.
    unsafe { respond(err, work) }
}

/// The address of `name` in the loaded `unit`.
///
/// # Safety
///
/// `unit` came from `dynlib_llvm_load` and is not yet unloaded; the name is readable;
/// `addr` and `err` are valid for writes.
#[no_mangle]
pub unsafe extern "C" fn dynlib_llvm_lookup(
    unit: *mut c_void,
    name: *const u8,
    name_len: usize,
    addr: *mut u64,
    err: *mut Bytes,
) -> i32 {
    // SAFETY: forwarded contract.
    let (loaded, name) = unsafe { (&*(unit as *const Loaded), slice(name, name_len)) };
    let work = || {
        let name = std::str::from_utf8(name).map_err(|e| format!("symbol name: {e}"))?;
        let a = loaded.lookup(name).map_err(|e| e.to_string())?;
        // SAFETY: the caller's contract: `addr` is writable.
        unsafe { addr.write(a) };
        Ok(Vec::new())
    };
    // SAFETY: forwarded contract.
    unsafe { respond(err, work) }
}

/// Frees a loaded unit and its code.
///
/// # Safety
///
/// `unit` came from `dynlib_llvm_load`, is unloaded once, and its code is never called
/// afterwards.
#[no_mangle]
pub unsafe extern "C" fn dynlib_llvm_unload(unit: *mut c_void) {
    if !unit.is_null() {
        // SAFETY: the caller's contract: the box made by `dynlib_llvm_load`, freed once.
        drop(unsafe { Box::from_raw(unit as *mut Loaded) });
    }
}

/// Frees a buffer this plugin returned.
///
/// # Safety
///
/// `bytes` came from this plugin and is freed once.
#[no_mangle]
pub unsafe extern "C" fn dynlib_llvm_free(bytes: Bytes) {
    // SAFETY: the caller's contract.
    drop(unsafe { bytes.into_vec() });
}
