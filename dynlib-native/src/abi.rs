//! The C interface between dynlib-native and the LLVM backend plugin (dynlib-llvm built as a
//! `cdylib`). Both sides are built from the same sources, which the plugin proves by
//! returning [`TRANSLATOR_DIGEST`](crate::TRANSLATOR_DIGEST) from [`DIGEST`]; the loader
//! refuses any other plugin before calling anything else.
//!
//! Conventions: every function returns [`OK`] or [`FAILED`]; on failure the `out`/`err`
//! buffer holds the message (UTF-8). Buffers are allocated by the plugin and handed back to
//! it with [`FREE`]. Text and bytes passed in are borrowed for the call only. A panic in an
//! entry point that does work (host, compile, load, lookup) is caught there and reported as
//! a failure; digest, unload and free cannot panic short of a bug, and would abort (Rust
//! aborts a panic leaving an `extern "C"` function), never unwind across the boundary.

use std::ffi::c_void;

/// Success.
pub const OK: i32 = 0;
/// Failure; the error buffer holds the message.
pub const FAILED: i32 = 1;

/// Bytes owned by the plugin (a `Vec<u8>` taken apart); give them back with [`FREE`].
#[repr(C)]
pub struct Bytes {
    /// The first byte (dangling when `cap` is 0).
    pub ptr: *mut u8,
    /// The number of bytes.
    pub len: usize,
    /// The allocation's capacity.
    pub cap: usize,
}

impl Bytes {
    /// An empty buffer, for the plugin to fill.
    pub fn empty() -> Bytes {
        Bytes {
            ptr: std::ptr::null_mut(),
            len: 0,
            cap: 0,
        }
    }

    /// Takes `v` apart; the receiver returns it with [`FREE`].
    pub fn from_vec(v: Vec<u8>) -> Bytes {
        let mut v = std::mem::ManuallyDrop::new(v);
        Bytes {
            ptr: v.as_mut_ptr(),
            len: v.len(),
            cap: v.capacity(),
        }
    }

    /// Puts the vector back together.
    ///
    /// # Safety
    ///
    /// `self` came from [`Bytes::from_vec`] in the same binary (same allocator), once.
    pub unsafe fn into_vec(self) -> Vec<u8> {
        if self.ptr.is_null() {
            return Vec::new();
        }
        // SAFETY: the caller's contract: these are the parts of a live Vec<u8>.
        unsafe { Vec::from_raw_parts(self.ptr, self.len, self.cap) }
    }
}

/// One absolute symbol defined in every loaded unit: the math functions the interpreter
/// calls (`dynlib_ir::libm::symbols`), so native code calls the very same ones.
#[repr(C)]
pub struct Symbol {
    /// The name's bytes (no terminator).
    pub name: *const u8,
    /// The name's length.
    pub name_len: usize,
    /// The function's address.
    pub addr: usize,
}

/// What [`CompileFn`] produces.
pub mod mode {
    /// An object file.
    pub const OBJECT: u32 = 0;
    /// The optimised LLVM IR, as text.
    pub const LLVM_IR: u32 = 1;
    /// The host assembly, as text.
    pub const ASSEMBLY: u32 = 2;
}

/// `const char *dynlib_llvm_digest(void)`: the plugin's translator digest, NUL-terminated,
/// static.
pub const DIGEST: &[u8] = b"dynlib_llvm_digest\0";
/// Returns the translator digest.
pub type DigestFn = unsafe extern "C" fn() -> *const std::ffi::c_char;

/// `int dynlib_llvm_host(Bytes *out)`: `llvm_version\ntriple\ncpu\nfeatures`.
pub const HOST: &[u8] = b"dynlib_llvm_host\0";
/// Describes the host.
pub type HostFn = unsafe extern "C" fn(out: *mut Bytes) -> i32;

/// `int dynlib_llvm_compile(ir, ir_len, exports, n_exports, options, tag, tag_len, mode,
/// Bytes *out)`: compiles the IR program given as text (functions `exports`, by index) with
/// `options` ([`CodegenOptions::code`](crate::CodegenOptions::code)), producing what `mode`
/// says.
pub const COMPILE: &[u8] = b"dynlib_llvm_compile\0";
/// Compiles a unit.
pub type CompileFn = unsafe extern "C" fn(
    ir: *const u8,
    ir_len: usize,
    exports: *const u32,
    n_exports: usize,
    options: u32,
    tag: *const u8,
    tag_len: usize,
    mode: u32,
    out: *mut Bytes,
) -> i32;

/// `int dynlib_llvm_load(object, len, symbols, n_symbols, void **unit, Bytes *err)`: loads
/// an object file into a new LLJIT with `symbols` defined.
pub const LOAD: &[u8] = b"dynlib_llvm_load\0";
/// Loads a unit.
pub type LoadFn = unsafe extern "C" fn(
    object: *const u8,
    len: usize,
    symbols: *const Symbol,
    n_symbols: usize,
    unit: *mut *mut c_void,
    err: *mut Bytes,
) -> i32;

/// `int dynlib_llvm_lookup(unit, name, name_len, uint64_t *addr, Bytes *err)`: the address
/// of a symbol of a loaded unit (linking happens on the first lookup).
pub const LOOKUP: &[u8] = b"dynlib_llvm_lookup\0";
/// Looks a symbol up.
pub type LookupFn = unsafe extern "C" fn(
    unit: *mut c_void,
    name: *const u8,
    name_len: usize,
    addr: *mut u64,
    err: *mut Bytes,
) -> i32;

/// `void dynlib_llvm_unload(void *unit)`: frees a loaded unit and its code.
pub const UNLOAD: &[u8] = b"dynlib_llvm_unload\0";
/// Frees a unit.
pub type UnloadFn = unsafe extern "C" fn(unit: *mut c_void);

/// `void dynlib_llvm_free(Bytes)`: frees a buffer the plugin returned.
pub const FREE: &[u8] = b"dynlib_llvm_free\0";
/// Frees a buffer.
pub type FreeFn = unsafe extern "C" fn(bytes: Bytes);
