//! Compiles dynlib IR to native code with LLVM 14: the `jit = true` backend.
//!
//! The pipeline has two halves so the disk cache (dynlib-cache) can sit between them:
//!
//! 1. [`compile`]: IR (its long blocks cut into calls of bounded functions by
//!    [`dynlib_ir::passes::outline::outlined`]) → LLVM IR (module `translate`) in a
//!    fresh LLVM context, verified,
//!    optimised with the new pass manager (`default<O2>` or `<O3>`, vectorized where
//!    [`CodegenOptions::vectorize`] says, no fast-math, no floating-point contraction), and emitted as an object file for the host by a
//!    `TargetMachine` with the host's CPU name and features. The result is an [`Object`]:
//!    the bytes plus the list of exported functions and their signatures.
//! 2. Loading (module `jit`): the object goes into an ORC LLJIT of its own, with libm
//!    defined as the interpreter's functions and a process symbol generator for anything
//!    else.
//!
//! This crate is also built as a plugin (`cdylib`, module `plugin`): programs use it through
//! dynlib-native, which loads the plugin, and with it libLLVM, only when something is
//! compiled, so a process that only interprets never pays for loading LLVM. The shared types
//! ([`Object`], [`Export`], [`CodegenOptions`], [`Jit`]) live in dynlib-native and are
//! re-exported here; [`Object::load`] always goes through the plugin.
//!
//! One limit of "to the bit" (DESIGN.md invariant 2): the payload of a NaN. Where two NaNs
//! with different payloads meet in a commutative operation (`a + b` with both NaN), x86
//! returns the first operand's payload, and LLVM may order the operands of a commutative
//! instruction differently from rustc's code for the interpreter. Both backends produce a
//! NaN in the same places, and every status, time and finite value is identical; only which
//! NaN payload comes out can differ. No builtin model produces NaN payloads other than the
//! default one.
//!
//! ```
//! use dynlib_ir::{Arg, Elem, Function, FunctionBuilder, Program, Scalar, Signature, Type};
//!
//! let mut f = Function::new("scale", Signature {
//!     params: vec![Type::Ptr(Elem::F64), Type::F64],
//!     returns: vec![Type::F64],
//! });
//! let mut b = FunctionBuilder::new(&mut f);
//! let (x, k) = (b.param(0), b.param(1));
//! let zero = b.i64(0);
//! let x0 = b.load(x, zero);
//! let y = b.mul(x0, k);
//! b.store(x, zero, y);
//! b.ret(&[y]);
//! let mut program = Program::new();
//! let scale = program.add(f);
//!
//! let opts = dynlib_llvm::CodegenOptions::default();
//! let object = dynlib_llvm::compile(&program, &[scale], &opts, "my-unit")?;
//! let jit = object.load()?;
//! let mut data = [1.5];
//! let mut out = [Scalar::F64(0.0)];
//! // SAFETY: `scale` only touches element 0 of its array, which has one element.
//! unsafe { jit.call(scale, &mut [Arg::PtrF64(&mut data), Arg::F64(2.0)], &mut out)? };
//! assert_eq!(out, [Scalar::F64(3.0)]);
//! assert_eq!(data, [3.0]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod error;
mod jit;
mod plugin;
mod translate;

use std::sync::OnceLock;

use inkwell::context::Context;
use inkwell::module::Module;
use inkwell::passes::PassBuilderOptions;
use inkwell::targets::{
    CodeModel, FileType, InitializationConfig, RelocMode, Target, TargetMachine, TargetTriple,
};
use inkwell::OptimizationLevel;

use dynlib_ir::{FuncId, Program, Type};

pub use dynlib_ir as ir;
pub use dynlib_native::{
    abi_of, entry_symbol, exports_of, CodegenOptions, Export, Host, Jit, Object, OptLevel,
    ABI_LEN_SYMBOL, ABI_SYMBOL, TAG_LEN_SYMBOL, TAG_SYMBOL, TRANSLATOR_DIGEST,
};
pub use error::Error;

/// The new pass manager's pipeline for a level.
fn pipeline(level: OptLevel) -> &'static str {
    match level {
        OptLevel::O0 => "default<O0>",
        OptLevel::O1 => "default<O1>",
        OptLevel::O2 => "default<O2>",
        OptLevel::O3 => "default<O3>",
    }
}

/// The code generator's optimisation level for a level.
fn codegen_level(level: OptLevel) -> OptimizationLevel {
    match level {
        OptLevel::O0 => OptimizationLevel::None,
        OptLevel::O1 => OptimizationLevel::Less,
        OptLevel::O2 => OptimizationLevel::Default,
        OptLevel::O3 => OptimizationLevel::Aggressive,
    }
}

/// Initialises LLVM's native target once per process.
fn init_native() -> Result<(), Error> {
    static INIT: OnceLock<Result<(), String>> = OnceLock::new();
    INIT.get_or_init(|| Target::initialize_native(&InitializationConfig::default()))
        .clone()
        .map_err(Error::Target)
}

/// The code generator's identity on this machine.
pub fn host() -> Result<&'static Host, Error> {
    static HOST: OnceLock<Host> = OnceLock::new();
    init_native()?;
    Ok(HOST.get_or_init(|| Host {
        llvm_version: env!("DYNLIB_LLVM_VERSION").to_string(),
        triple: TargetMachine::get_default_triple()
            .as_str()
            .to_string_lossy()
            .into_owned(),
        cpu: TargetMachine::get_host_cpu_name().to_string(),
        features: TargetMachine::get_host_cpu_features().to_string(),
    }))
}

/// A host target machine.
fn target_machine(opts: &CodegenOptions) -> Result<TargetMachine, Error> {
    let host = host()?;
    let triple = TargetTriple::create(&host.triple);
    let target = Target::from_triple(&triple).map_err(|e| Error::Target(e.to_string()))?;
    target
        .create_target_machine(
            &triple,
            &host.cpu,
            &host.features,
            codegen_level(opts.opt_level),
            RelocMode::PIC,
            CodeModel::Small,
        )
        .ok_or_else(|| Error::Target(format!("no target machine for {}", host.triple)))
}

/// Adds the constant `name` holding `bytes` and `len_name` holding their length, both
/// exported, so a loader can read them back.
fn add_bytes_symbol<'c>(
    ctx: &'c Context,
    module: &Module<'c>,
    name: &str,
    len_name: &str,
    bytes: &[u8],
) {
    use inkwell::module::Linkage;
    let value = ctx.const_string(bytes, false);
    let g = module.add_global(value.get_type(), None, name);
    g.set_initializer(&value);
    g.set_constant(true);
    g.set_linkage(Linkage::External);
    let i64t = ctx.i64_type();
    let len = module.add_global(i64t, None, len_name);
    len.set_initializer(&i64t.const_int(bytes.len() as u64, false));
    len.set_constant(true);
    len.set_linkage(Linkage::External);
}

/// Builds, verifies and optimises the LLVM module of `exports` (and the functions they
/// call), running `f` on it with the target machine.
fn with_module<T>(
    program: &Program,
    exports: &[FuncId],
    opts: &CodegenOptions,
    tag: &str,
    f: impl FnOnce(&Module<'_>, &TargetMachine) -> Result<T, Error>,
) -> Result<T, Error> {
    if let Err(errors) = dynlib_ir::verify_program(program) {
        let first = errors
            .first()
            .map(|e| e.to_string())
            .unwrap_or_else(|| "rejected".into());
        return Err(Error::Invalid(first));
    }
    for &id in exports {
        let func = program
            .functions
            .get(id.index())
            .ok_or_else(|| Error::Codegen(format!("export {id} is not in the program")))?;
        if func.sig.returns.iter().any(|t| matches!(t, Type::Ptr(_))) {
            return Err(Error::Invalid(format!("@{} returns a pointer", func.name)));
        }
    }
    let tm = target_machine(opts)?;
    // One context per compilation: contexts are not thread-safe, compilations may run on
    // many threads at once.
    let ctx = Context::create();
    let module = ctx.create_module("dynlib");
    module.set_triple(&tm.get_triple());
    module.set_data_layout(&tm.get_target_data().get_data_layout());
    // LLVM's block-local passes grow faster than a block's length: the native code is
    // built from a copy of the program whose long blocks are cut into calls of bounded
    // functions (same operations in the same order, so the same bits).
    let outlined = dynlib_ir::passes::outline::outlined(program, exports);
    debug_assert!(
        outlined
            .as_ref()
            .is_none_or(|(p, _)| dynlib_ir::verify_program(p).is_ok()),
        "outlining broke the IR"
    );
    let (program, parts) = match &outlined {
        Some((copy, parts)) => (copy, parts.as_slice()),
        None => (program, &[][..]),
    };
    translate::translate(&ctx, &module, program, exports, parts)?;
    if !opts.vectorize {
        // The vectorizers skip functions that may not use floating-point or vector
        // registers implicitly; the arithmetic as written still runs in SSE registers.
        // (The pipeline's own SLP switch, `PassBuilderOptions::set_loop_slp_vectorization`,
        // is ignored by LLVM 14's `default<On>` pipelines: measured.)
        let kind = inkwell::attributes::Attribute::get_named_enum_kind_id("noimplicitfloat");
        let attr = ctx.create_enum_attribute(kind, 0);
        for f in module
            .get_functions()
            .filter(|f| f.count_basic_blocks() > 0)
        {
            f.add_attribute(inkwell::attributes::AttributeLoc::Function, attr);
        }
    }
    add_bytes_symbol(&ctx, &module, TAG_SYMBOL, TAG_LEN_SYMBOL, tag.as_bytes());
    let abi = abi_of(&exports_of(program, exports));
    add_bytes_symbol(&ctx, &module, ABI_SYMBOL, ABI_LEN_SYMBOL, abi.as_bytes());
    module
        .verify()
        .map_err(|e| Error::Codegen(format!("LLVM rejected the module: {e}")))?;
    module
        .run_passes(pipeline(opts.opt_level), &tm, PassBuilderOptions::create())
        .map_err(|e| Error::Optimize(e.to_string()))?;
    f(&module, &tm)
}

/// Compiles the functions `exports` of `program` (and everything they call) into an object
/// file for this machine, carrying `tag` (its identity: the disk cache passes its key tag)
/// and its ABI as data symbols. Fails with [`Error::Invalid`] on IR the verifier rejects.
pub fn compile(
    program: &Program,
    exports: &[FuncId],
    opts: &CodegenOptions,
    tag: &str,
) -> Result<Object, Error> {
    let bytes = with_module(program, exports, opts, tag, |module, tm| {
        tm.write_to_memory_buffer(module, FileType::Object)
            .map(|buf| buf.as_slice().to_vec())
            .map_err(|e| Error::Emit(e.to_string()))
    })?;
    Ok(Object {
        bytes,
        exports: exports_of(program, exports),
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
    with_module(program, exports, opts, tag, |module, _| {
        Ok(module.print_to_string().to_string())
    })
}

/// The host assembly of the unit [`compile`] would build, as text.
pub fn assembly(
    program: &Program,
    exports: &[FuncId],
    opts: &CodegenOptions,
    tag: &str,
) -> Result<String, Error> {
    with_module(program, exports, opts, tag, |module, tm| {
        tm.write_to_memory_buffer(module, FileType::Assembly)
            .map(|buf| String::from_utf8_lossy(buf.as_slice()).into_owned())
            .map_err(|e| Error::Emit(e.to_string()))
    })
}
