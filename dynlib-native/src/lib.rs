//! The native backend's interface, without LLVM: what a compiled unit is ([`Object`]), how
//! it is called ([`Jit`]), and the LLVM backend itself, loaded into the process on first
//! use.
//!
//! The backend (crate dynlib-llvm) links LLVM 14, 40 MB of it: linked into a program, the
//! shared libLLVM cost every process about 20 ms before `main` even ran, and the plugin
//! (with LLVM linked in statically) still takes 3–6 ms to load. A program that only
//! interprets should not pay that, so nothing here links LLVM: dynlib-llvm is also built as a plugin (`libdynlib_llvm.so`), and
//! [`compile`], [`Object::load`], [`host`], [`llvm_ir`] and [`assembly`] load it with
//! `dlopen` the first time one of them is called (see [`plugin`] for where it is looked
//! for). The two halves talk through a small C interface ([`abi`]): IR crosses it as the
//! IR's text form (which parses back to the same functions, values, blocks and instruction
//! order: everything the translator reads), objects as bytes, loaded code as addresses.
//! Calls into compiled code never cross it: [`Jit::call`] calls the entry wrapper's address
//! directly.
//!
//! Calls use one entry ABI for every function: [`Jit::call`] takes the same [`Arg`]s and
//! gives the same [`Scalar`]s as the interpreter, so the two backends are interchangeable
//! behind one call site, and agree to the bit (DESIGN.md invariant 2).
//!
//! ```no_run
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
//! let opts = dynlib_native::CodegenOptions::default();
//! let object = dynlib_native::compile(&program, &[scale], &opts, "my-unit")?;
//! let jit = object.load()?;
//! let mut data = [1.5];
//! let mut out = [Scalar::F64(0.0)];
//! // SAFETY: `scale` only touches element 0 of its array, which has one element.
//! unsafe { jit.call(scale, &mut [Arg::PtrF64(&mut data), Arg::F64(2.0)], &mut out)? };
//! assert_eq!(out, [Scalar::F64(3.0)]);
//! # Ok::<(), dynlib_native::Error>(())
//! ```

pub mod abi;
mod error;
pub mod plugin;

use dynlib_ir::{Arg, FuncId, Program, Scalar, Signature, Type};

pub use error::Error;
pub use plugin::{assembly, compile, host, llvm_ir};

/// A digest of the translator's sources (dynlib-ir, this crate and dynlib-llvm), computed at
/// build time: its identity for cache keys, so a change to how IR becomes native code
/// invalidates cached objects by itself. The plugin carries the same digest, and one built
/// from other sources is refused.
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
    /// The level's number (0–3): how it crosses the plugin interface (in
    /// [`CodegenOptions::code`]).
    pub fn code(self) -> u32 {
        match self {
            OptLevel::O0 => 0,
            OptLevel::O1 => 1,
            OptLevel::O2 => 2,
            OptLevel::O3 => 3,
        }
    }

    /// The level with number `code`, if there is one.
    pub fn from_code(code: u32) -> Option<OptLevel> {
        [OptLevel::O0, OptLevel::O1, OptLevel::O2, OptLevel::O3]
            .get(code as usize)
            .copied()
    }
}

/// What shapes the generated code besides the IR and the host: part of every cache key.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub struct CodegenOptions {
    /// The optimisation level. Default O2: on the `jit` benchmark (Lorenz RK4, 10^6 steps)
    /// O3 measured the same, 17.0 ms against 17.1 ms per run and 37.0 ms against 37.5 ms to
    /// build, so the default is the more conservative pipeline.
    pub opt_level: OptLevel,
    /// Let LLVM's vectorizers work: the SLP vectorizer packs isomorphic scalar operations
    /// into vector ones (without fast-math it never reorders arithmetic, so the bits are
    /// the same either way). It pays where the code repeats itself: lanes, per-state loops
    /// of eight, wide models. On small straight-line kernels it costs build time (half of
    /// a cold Lorenz compile) and no speed: the runtime turns it off there
    /// ([`CodegenOptions::for_kernel`]), by marking the functions `noimplicitfloat`.
    pub vectorize: bool,
}

impl Default for CodegenOptions {
    fn default() -> Self {
        CodegenOptions {
            opt_level: OptLevel::O2,
            vectorize: true,
        }
    }
}

/// The fewest states at which a one-lane kernel is vectorized.
///
/// Measured on the project's 2-core machine (2026-12-04; Lorenz-96 written out state by
/// state, RK4, 200k–500k steps, `dynlib run ... --jit --no-tier`, two runs each, the SLP
/// vectorizer on / off): run 21.0 / 18.2 ms and build 52–71 / 55 ms at 10 states (Lorenz, 3
/// states: `cargo bench --bench jit` 17.3 / 16.75 ms, build 54 / 40 ms); at 16 states
/// run 27.1 / 27.9 ms and build 61 / 73 ms, at 20 states 11.4 / 13.6 ms, at 32 states
/// 14.7 / 26.9 ms, at 400 states (`cargo bench --bench lorenz96`) 1.1–1.3 / 1.8–2.0 ms.
/// Lane kernels always vectorize: the Lorenz 8-lane sweep (`cargo bench --bench batch
/// -- sweep/lorenz_256/threads_1`) ran 87–92 ms with SLP and 250–267 ms without.
pub const VECTORIZE_MIN_STATES: usize = 13;

impl CodegenOptions {
    /// The options a kernel of `states` states holding `lanes` independent copies of a
    /// model is compiled with: the default, vectorized only where it pays
    /// ([`VECTORIZE_MIN_STATES`], or more than one lane).
    pub fn for_kernel(states: usize, lanes: usize) -> CodegenOptions {
        CodegenOptions {
            vectorize: lanes > 1 || states >= VECTORIZE_MIN_STATES,
            ..CodegenOptions::default()
        }
    }

    /// A stable description for cache keys and metadata (`opt=O2;vectorize=on;...`).
    pub fn describe(&self) -> String {
        format!(
            "opt={:?};vectorize={};fp=ieee;contract=off;reloc=pic;code-model=small",
            self.opt_level,
            if self.vectorize { "on" } else { "off" }
        )
    }

    /// The options as one number, as they cross the plugin interface: the level's
    /// [`OptLevel::code`] in the low byte, bit 8 [`CodegenOptions::vectorize`].
    pub fn code(&self) -> u32 {
        self.opt_level.code() | (u32::from(self.vectorize) << 8)
    }

    /// The options numbered `code` ([`CodegenOptions::code`]), if they are options.
    pub fn from_code(code: u32) -> Option<CodegenOptions> {
        if code >> 9 != 0 {
            return None;
        }
        Some(CodegenOptions {
            opt_level: OptLevel::from_code(code & 0xff)?,
            vectorize: code & 0x100 != 0,
        })
    }
}

/// The identity of the code generator on this machine: LLVM's version, the target triple,
/// the host CPU and its features. Objects are only valid where all four match (cache keys
/// include [`Host::describe`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Host {
    /// The LLVM version the backend links (from `llvm-config --version` at build time).
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

/// The symbol of the entry wrapper of the IR function called `name`.
pub fn entry_symbol(name: &str) -> String {
    format!("dynlib_entry_{name}")
}

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

/// The native entry ABI: argument words in, result words out.
type EntryFn = unsafe extern "C" fn(*const u64, *mut u64);

/// A loaded, callable unit. `Send + Sync`: any number of threads may call its functions at
/// once (each with its own arrays). Dropping it frees the code.
pub struct Jit {
    entries: Vec<(Export, EntryFn)>,
    // Declared last: dropped after the entry pointers, which point into its code.
    _loaded: plugin::Loaded,
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
    /// Loads the object into a new LLJIT (loading the backend if this is its first use),
    /// checks that it carries [`Object::tag`] and the ABI of [`Object::exports`]
    /// ([`Error::Foreign`] otherwise: an object compiled for something else is never
    /// called), and resolves every export.
    pub fn load(&self) -> Result<Jit, Error> {
        let loaded = plugin::Loaded::new(&self.bytes)?;
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
            // SAFETY: the symbol is an entry wrapper emitted by the translator, whose LLVM
            // type is exactly `void(i64*, i64*)` with the C calling convention.
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_cross_the_plugin_interface_as_one_number() {
        for opt_level in [OptLevel::O0, OptLevel::O1, OptLevel::O2, OptLevel::O3] {
            for vectorize in [false, true] {
                let o = CodegenOptions {
                    opt_level,
                    vectorize,
                };
                assert_eq!(CodegenOptions::from_code(o.code()), Some(o));
            }
        }
        assert_eq!(CodegenOptions::from_code(4), None, "no level 4");
        assert_eq!(CodegenOptions::from_code(0x202), None, "no bit 9");
    }

    #[test]
    fn kernels_vectorize_when_wide_or_in_lanes() {
        let v = |states, lanes| CodegenOptions::for_kernel(states, lanes).vectorize;
        assert!(!v(3, 1) && !v(VECTORIZE_MIN_STATES - 1, 1));
        assert!(v(VECTORIZE_MIN_STATES, 1) && v(400, 1));
        assert!(v(3 * 8, 8) && v(2, 2), "lanes always");
        let (on, off) = (
            CodegenOptions::for_kernel(400, 1),
            CodegenOptions::for_kernel(3, 1),
        );
        assert_ne!(
            on.describe(),
            off.describe(),
            "the choice is part of cache keys"
        );
        assert_eq!(on.opt_level, CodegenOptions::default().opt_level);
    }
}
