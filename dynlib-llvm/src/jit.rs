//! Loading object files into an ORC LLJIT (llvm-sys; inkwell has no ORC wrapper).
//!
//! One [`Loaded`] owns one LLJIT holding one object file. The object's libm symbols (`sin`,
//! `pow`, `fmod`, ...) are defined as absolute symbols at the addresses of the very
//! functions the interpreter calls (the caller passes `dynlib_ir::libm::symbols`, from its
//! own side of the plugin boundary); a process symbol generator
//! resolves anything else against the running process. Dropping
//! the [`Loaded`] disposes of the LLJIT and frees its code.

use std::ffi::{CStr, CString};
use std::ptr;

use llvm_sys::error::{LLVMDisposeErrorMessage, LLVMErrorRef, LLVMGetErrorMessage};
use llvm_sys::orc2::lljit::*;
use llvm_sys::orc2::*;

use crate::error::Error;

/// An LLJIT with one object loaded.
pub(crate) struct Loaded {
    jit: LLVMOrcLLJITRef,
}

// SAFETY: after construction the LLJIT is only used through `lookup`, which ORC guards with
// its own session lock, and through the addresses of finished code, which is immutable;
// disposal happens once, in `drop`, when no other reference exists.
unsafe impl Send for Loaded {}
unsafe impl Sync for Loaded {}

/// Takes an LLVM error's message and frees the error.
fn take(err: LLVMErrorRef) -> String {
    // SAFETY: `err` is a non-null error just returned by LLVM; getting its message consumes
    // it, and the message is freed with the matching function after copying.
    unsafe {
        let msg = LLVMGetErrorMessage(err);
        let text = CStr::from_ptr(msg).to_string_lossy().into_owned();
        LLVMDisposeErrorMessage(msg);
        text
    }
}

fn check(err: LLVMErrorRef, what: &str) -> Result<(), Error> {
    if err.is_null() {
        Ok(())
    } else {
        Err(Error::Load(format!("{what}: {}", take(err))))
    }
}

impl Loaded {
    /// Creates an LLJIT and adds `object` (an object file for the host) to it.
    pub(crate) fn new(object: &[u8], name: &str, libm: &[(&str, usize)]) -> Result<Loaded, Error> {
        crate::init_native()?;
        let cname = CString::new(name).unwrap_or_default();
        // SAFETY: each call below follows the ORC C API's ownership rules: the builder is
        // consumed by LLVMOrcCreateLLJIT, the generator by LLVMOrcJITDylibAddGenerator, the
        // memory buffer (a copy of `object`) by LLVMOrcLLJITAddObjectFile; on every early
        // return the LLJIT created so far is disposed by `Loaded`'s drop.
        unsafe {
            let mut jit: LLVMOrcLLJITRef = ptr::null_mut();
            let builder = LLVMOrcCreateLLJITBuilder();
            check(LLVMOrcCreateLLJIT(&mut jit, builder), "creating the LLJIT")?;
            let loaded = Loaded { jit };
            let dylib = LLVMOrcLLJITGetMainJITDylib(jit);
            let mut generator: LLVMOrcDefinitionGeneratorRef = ptr::null_mut();
            check(
                LLVMOrcCreateDynamicLibrarySearchGeneratorForProcess(
                    &mut generator,
                    LLVMOrcLLJITGetGlobalPrefix(jit),
                    None,
                    ptr::null_mut(),
                ),
                "creating the process symbol generator",
            )?;
            LLVMOrcJITDylibAddGenerator(dylib, generator);
            // The libm functions resolve to exactly the ones the interpreter calls (not
            // whatever the dynamic symbol table offers under the same name): see
            // `dynlib_ir::libm`. Definitions take precedence over the generator.
            let mut pairs: Vec<LLVMJITCSymbolMapPair> = libm
                .iter()
                .map(|&(name, addr)| {
                    let cname = CString::new(name).expect("libm names have no NUL");
                    LLVMJITCSymbolMapPair {
                        Name: LLVMOrcLLJITMangleAndIntern(jit, cname.as_ptr()),
                        Sym: LLVMJITEvaluatedSymbol {
                            Address: addr as LLVMOrcExecutorAddress,
                            Flags: LLVMJITSymbolFlags {
                                GenericFlags: LLVMJITSymbolGenericFlags::LLVMJITSymbolGenericFlagsExported
                                    as u8
                                    | LLVMJITSymbolGenericFlags::LLVMJITSymbolGenericFlagsCallable
                                        as u8,
                                TargetFlags: 0,
                            },
                        },
                    }
                })
                .collect();
            // The unit takes ownership of the interned names (they were retained for it).
            let unit = LLVMOrcAbsoluteSymbols(pairs.as_mut_ptr(), pairs.len());
            let err = LLVMOrcJITDylibDefine(dylib, unit);
            if !err.is_null() {
                // On failure the unit is still ours to dispose of.
                LLVMOrcDisposeMaterializationUnit(unit);
                check(err, "defining the libm symbols")?;
            }
            let buffer = llvm_sys::core::LLVMCreateMemoryBufferWithMemoryRangeCopy(
                object.as_ptr() as *const _,
                object.len(),
                cname.as_ptr(),
            );
            check(
                LLVMOrcLLJITAddObjectFile(jit, dylib, buffer),
                "adding the object file",
            )?;
            Ok(loaded)
        }
    }

    /// The address of `symbol` (unmangled); linking happens on the first lookup.
    pub(crate) fn lookup(&self, symbol: &str) -> Result<u64, Error> {
        let name = CString::new(symbol)
            .map_err(|_| Error::Load(format!("symbol name {symbol:?} contains a NUL")))?;
        let mut addr: LLVMOrcExecutorAddress = 0;
        // SAFETY: `self.jit` is alive; `name` outlives the call; `addr` is written on success.
        let err = unsafe { LLVMOrcLLJITLookup(self.jit, &mut addr, name.as_ptr()) };
        check(err, &format!("looking up `{symbol}`"))?;
        if addr == 0 {
            return Err(Error::Load(format!("`{symbol}` resolved to address 0")));
        }
        Ok(addr)
    }
}

impl Drop for Loaded {
    fn drop(&mut self) {
        // SAFETY: the LLJIT was created by LLVMOrcCreateLLJIT and is disposed exactly once;
        // nothing can call into its code afterwards (`Jit` owns the only `Loaded`).
        let err = unsafe { LLVMOrcDisposeLLJIT(self.jit) };
        if !err.is_null() {
            // Nothing to recover at drop time; free the message.
            let _ = take(err);
        }
    }
}
