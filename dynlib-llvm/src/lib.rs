//! Compiles dynlib IR to native code with LLVM 14: the `jit = true` backend.
//!
//! The pipeline has two halves so the disk cache (dynlib-cache) can sit between them:
//!
//! 1. [`compile`]: IR → LLVM IR (module `translate`) in a fresh LLVM context, verified,
//!    optimised with the new pass manager (`default<O2>` or `<O3>`, no fast-math, no
//!    floating-point contraction), and emitted as an object file for the host by a
//!    `TargetMachine` with the host's CPU name and features. The result is an [`Object`]:
//!    the bytes plus the list of exported functions and their signatures.
//! 2. [`Object::load`]: the object goes into an ORC LLJIT of its own, whose process symbol
//!    generator resolves libm; every export is looked up once. The result, a [`Jit`], is
//!    `Send + Sync`: compiled functions are plain code and may run on many threads at once.
//!    Dropping it frees the code.
//!
//! Calls use one entry ABI for every function (see `translate`): [`Jit::call`] takes the
//! same [`Arg`]s and gives the same [`Scalar`]s as the interpreter, so the two backends are
//! interchangeable behind one call site, and agree to the bit (DESIGN.md invariant 2).
//!
//! One limit of "to the bit": the payload of a NaN. Where two NaNs with different payloads
//! meet in a commutative operation (`a + b` with both NaN), x86 returns the first operand's
//! payload, and LLVM may order the operands of a commutative instruction differently from
//! rustc's code for the interpreter. Both backends produce a NaN in the same places, and
//! every status, time and finite value is identical; only which NaN payload comes out can
//! differ. No builtin model produces NaN payloads other than the default one.
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
//! # Ok::<(), dynlib_llvm::Error>(())
//! ```

mod error;
mod jit;
mod translate;

use std::sync::OnceLock;

use inkwell::context::Context;
use inkwell::module::Module;
use inkwell::passes::PassBuilderOptions;
use inkwell::targets::{
    CodeModel, FileType, InitializationConfig, RelocMode, Target, TargetMachine, TargetTriple,
};
use inkwell::OptimizationLevel;

use dynlib_ir::{Arg, FuncId, Program, Scalar, Signature, Type};

pub use dynlib_ir as ir;
pub use error::Error;
pub use translate::entry_symbol;

/// A digest of the translator's source (this crate's and dynlib-ir's), computed at build
/// time: its identity for cache keys, so a change to how IR becomes LLVM IR invalidates
/// cached objects by itself.
pub const TRANSLATOR_DIGEST: &str = env!("DYNLIB_TRANSLATOR_DIGEST");

/// The optimisation level of LLVM's pipeline.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum OptLevel {
    /// No optimisation (`default<O0>`): fastest to compile, for debugging the backend.
    O0,
    /// `default<O1>`.
    O1,
    /// `default<O2>`.
    O2,
    /// `default<O3>`.
    O3,
}

impl OptLevel {
    fn pipeline(self) -> &'static str {
        match self {
            OptLevel::O0 => "default<O0>",
            OptLevel::O1 => "default<O1>",
            OptLevel::O2 => "default<O2>",
            OptLevel::O3 => "default<O3>",
        }
    }

    fn codegen(self) -> OptimizationLevel {
        match self {
            OptLevel::O0 => OptimizationLevel::None,
            OptLevel::O1 => OptimizationLevel::Less,
            OptLevel::O2 => OptimizationLevel::Default,
            OptLevel::O3 => OptimizationLevel::Aggressive,
        }
    }
}

/// What shapes the generated code besides the IR and the host: part of every cache key.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub struct CodegenOptions {
    /// The optimisation level. Default O2: on the `jit` benchmark (Lorenz RK4, 10^6 steps)
    /// O3 measured the same, 17.0 ms against 17.1 ms per run and 37.0 ms against 37.5 ms to
    /// build, so the default is the more conservative pipeline.
    pub opt_level: OptLevel,
}

impl Default for CodegenOptions {
    fn default() -> Self {
        CodegenOptions {
            opt_level: OptLevel::O2,
        }
    }
}

impl CodegenOptions {
    /// A stable description for cache keys and metadata (`opt=O2;fp=ieee;contract=off`).
    pub fn describe(&self) -> String {
        format!(
            "opt={:?};fp=ieee;contract=off;reloc=pic;code-model=small",
            self.opt_level
        )
    }
}

/// The identity of the code generator on this machine: LLVM's version, the target triple,
/// the host CPU and its features. Objects are only valid where all four match (cache keys
/// include [`Host::describe`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Host {
    /// The LLVM version this crate links (from `llvm-config --version` at build time).
    pub llvm_version: String,
    /// The target triple.
    pub triple: String,
    /// The host CPU name (`znver3`, `skylake`, ...).
    pub cpu: String,
    /// The host CPU features (`+avx2,+fma,...`).
    pub features: String,
}

impl Host {
    /// A stable one-line description.
    pub fn describe(&self) -> String {
        format!(
            "llvm={};triple={};cpu={};features={}",
            self.llvm_version, self.triple, self.cpu, self.features
        )
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
            opts.opt_level.codegen(),
            RelocMode::PIC,
            CodeModel::Small,
        )
        .ok_or_else(|| Error::Target(format!("no target machine for {}", host.triple)))
}

/// One exported function of a compiled unit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Export {
    /// Its id in the program it was compiled from.
    pub func: FuncId,
    /// Its IR name.
    pub name: String,
    /// Its signature (checked on every call).
    pub sig: Signature,
}

/// A compiled unit: an object file for the host and what it exports. This is what the disk
/// cache stores.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Object {
    /// The object file's bytes (ELF on Linux, Mach-O on macOS, COFF on Windows).
    pub bytes: Vec<u8>,
    /// The exported functions.
    pub exports: Vec<Export>,
    /// The identity the object was compiled with (the disk cache's key tag), embedded in
    /// it as the data symbol [`TAG_SYMBOL`] and checked by [`Object::load`].
    pub tag: String,
}

/// The exported data symbol holding an object's tag (bytes, no terminator).
pub const TAG_SYMBOL: &str = "dynlib_unit_tag";
/// The exported data symbol holding the tag's length (a 64-bit integer).
pub const TAG_LEN_SYMBOL: &str = "dynlib_unit_tag_len";
/// The exported data symbol holding the unit's ABI: [`abi_of`] its exports.
pub const ABI_SYMBOL: &str = "dynlib_unit_abi";
/// The exported data symbol holding the ABI text's length.
pub const ABI_LEN_SYMBOL: &str = "dynlib_unit_abi_len";

/// The ABI of a unit as text: one `name#id(params)->(returns)` line per export, in order.
/// Embedded in every object and compared on load, so an object is only ever called with
/// the arguments it was compiled for.
pub fn abi_of(exports: &[Export]) -> String {
    let list = |ts: &[Type]| {
        ts.iter()
            .map(|t| t.to_string())
            .collect::<Vec<_>>()
            .join(",")
    };
    exports
        .iter()
        .map(|e| {
            format!(
                "{}#{}({})->({})\n",
                e.name,
                e.func.0,
                list(&e.sig.params),
                list(&e.sig.returns)
            )
        })
        .collect()
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
    translate::translate(&ctx, &module, program, exports)?;
    add_bytes_symbol(&ctx, &module, TAG_SYMBOL, TAG_LEN_SYMBOL, tag.as_bytes());
    let abi = abi_of(&exports_of(program, exports));
    add_bytes_symbol(&ctx, &module, ABI_SYMBOL, ABI_LEN_SYMBOL, abi.as_bytes());
    module
        .verify()
        .map_err(|e| Error::Codegen(format!("LLVM rejected the module: {e}")))?;
    module
        .run_passes(opts.opt_level.pipeline(), &tm, PassBuilderOptions::create())
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

/// The [`Export`] list of a unit compiled from `program` with these exports: what an object
/// read back from a cache needs to be loaded again.
pub fn exports_of(program: &Program, exports: &[FuncId]) -> Vec<Export> {
    exports
        .iter()
        .map(|&id| {
            let f = program.func(id);
            Export {
                func: id,
                name: f.name.clone(),
                sig: f.sig.clone(),
            }
        })
        .collect()
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

/// The native entry ABI: argument words in, result words out.
type EntryFn = unsafe extern "C" fn(*const u64, *mut u64);

/// A loaded, callable unit. `Send + Sync`: any number of threads may call its functions at
/// once (each with its own arrays). Dropping it frees the code.
pub struct Jit {
    entries: Vec<(Export, EntryFn)>,
    // Declared last: dropped after the entry pointers, which point into its code.
    _loaded: jit::Loaded,
}

impl std::fmt::Debug for Jit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Jit")
            .field(
                "exports",
                &self
                    .entries
                    .iter()
                    .map(|(e, _)| &e.name)
                    .collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl Object {
    /// Loads the object into a new LLJIT, checks that it carries [`Object::tag`] and the
    /// ABI of [`Object::exports`] ([`Error::Foreign`] otherwise: an object compiled for
    /// something else is never called), and resolves every export.
    pub fn load(&self) -> Result<Jit, Error> {
        let loaded = jit::Loaded::new(&self.bytes, "dynlib-unit")?;
        let expect = |what: &'static str, sym: &str, len_sym: &str, want: &[u8]| {
            let found = loaded.read_bytes(sym, len_sym, want.len())?;
            if found.as_deref() == Some(want) {
                Ok(())
            } else {
                Err(Error::Foreign {
                    what,
                    expected: String::from_utf8_lossy(want).into_owned(),
                    found: found.map_or_else(
                        || "nothing of that length".to_string(),
                        |f| String::from_utf8_lossy(&f).into_owned(),
                    ),
                })
            }
        };
        expect("tag", TAG_SYMBOL, TAG_LEN_SYMBOL, self.tag.as_bytes())?;
        expect(
            "ABI",
            ABI_SYMBOL,
            ABI_LEN_SYMBOL,
            abi_of(&self.exports).as_bytes(),
        )?;
        let mut entries = Vec::with_capacity(self.exports.len());
        for e in &self.exports {
            let addr = loaded.lookup(&entry_symbol(&e.name))?;
            // SAFETY: the symbol is an entry wrapper emitted by `translate`, whose LLVM type is
            // exactly `void(i64*, i64*)` with the C calling convention.
            let f: EntryFn = unsafe { std::mem::transmute::<usize, EntryFn>(addr as usize) };
            entries.push((e.clone(), f));
        }
        Ok(Jit {
            entries,
            _loaded: loaded,
        })
    }
}

/// Most calls pass fewer words than this; they use the stack instead of allocating.
const INLINE_WORDS: usize = 32;

impl Jit {
    /// True when `func` is one of the unit's exports.
    pub fn exports(&self, func: FuncId) -> bool {
        self.entries.iter().any(|(e, _)| e.func == func)
    }

    /// The exported functions.
    pub fn export_list(&self) -> impl Iterator<Item = &Export> {
        self.entries.iter().map(|(e, _)| e)
    }

    /// Calls `func` with `args`, writing its results into `results` (one per return value).
    /// Arguments are checked against the signature as the interpreter checks them.
    ///
    /// # Safety
    ///
    /// Native code does not check array bounds. Every load and store the function performs
    /// for these arguments must fall inside the slices passed: the interpreter would trap
    /// where compiled code would read or write out of bounds. dynlib's runtime guarantees it
    /// by construction (its kernels index only within the buffers it sizes from the same
    /// model and run specification).
    pub unsafe fn call(
        &self,
        func: FuncId,
        args: &mut [Arg<'_>],
        results: &mut [Scalar],
    ) -> Result<(), Error> {
        let (export, entry) = self
            .entries
            .iter()
            .find(|(e, _)| e.func == func)
            .ok_or_else(|| Error::NotExported(func.to_string()))?;
        let sig = &export.sig;
        let count = |what, expected, found| Error::Count {
            function: export.name.clone(),
            what,
            expected,
            found,
        };
        if args.len() != sig.params.len() {
            return Err(count("arguments", sig.params.len(), args.len()));
        }
        if results.len() != sig.returns.len() {
            return Err(count("results", sig.returns.len(), results.len()));
        }
        let mut inline = [0u64; INLINE_WORDS];
        let mut heap = Vec::new();
        let words: &mut [u64] = if args.len() + results.len() <= INLINE_WORDS {
            &mut inline[..args.len() + results.len()]
        } else {
            heap.resize(args.len() + results.len(), 0);
            &mut heap
        };
        let (arg_words, ret_words) = words.split_at_mut(args.len());
        for (position, (arg, &ty)) in args.iter_mut().zip(&sig.params).enumerate() {
            if arg.ty() != ty {
                return Err(Error::ArgumentType {
                    function: export.name.clone(),
                    position,
                    expected: ty,
                    found: arg.ty(),
                });
            }
            arg_words[position] = match arg {
                Arg::F64(x) => x.to_bits(),
                Arg::F32(x) => x.to_bits() as u64,
                Arg::I64(x) => *x as u64,
                Arg::I32(x) => *x as i64 as u64,
                Arg::Bool(x) => *x as u64,
                Arg::PtrF64(s) => s.as_mut_ptr() as u64,
                Arg::PtrF32(s) => s.as_mut_ptr() as u64,
                Arg::PtrI64(s) => s.as_mut_ptr() as u64,
                Arg::PtrI32(s) => s.as_mut_ptr() as u64,
            };
        }
        // SAFETY: `entry` has the entry ABI; the argument words match the signature (checked
        // above); arrays stay borrowed for the call; in-bounds access is the caller's
        // contract.
        unsafe { entry(arg_words.as_ptr(), ret_words.as_mut_ptr()) };
        for ((slot, &w), &ty) in results.iter_mut().zip(ret_words.iter()).zip(&sig.returns) {
            *slot = Scalar::from_bits(w, ty);
        }
        Ok(())
    }
}
