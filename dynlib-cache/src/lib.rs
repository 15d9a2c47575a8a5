//! The on-disk cache of compiled object files: keys, layout, locks, integrity and recovery
//! (jit-cache.md §2–4, with its fixes; DESIGN.md invariant 4).
//!
//! This crate knows only bytes, keys and files, never models or IR: the runtime builds a
//! [`Key`] from what it compiles (the IR digest of the unit, its kind, dtype, codegen options
//! and backend identity) and hands over the object bytes. Everything else is here:
//!
//! - [`root`]: where the cache lives (configured root, platform cache directory,
//!   `<tmp>/dynlib-cache`, or memory only), with one warning per fallback.
//! - [`store`]: the layout `<root>/jit/<component>/<dd>/<digest>/{object.o,meta.json}`,
//!   atomic writes (a complete temporary directory renamed into place), per-digest OS file
//!   locks that die with their process, checksummed reads that report corruption instead
//!   of returning bad bytes, listing, verifying and clearing.
//!
//! ```
//! use dynlib_cache::{Component, DiskCache, Key, Labels, Lookup};
//! let dir = tempfile::tempdir()?;
//! let cache = DiskCache::new(dir.path());
//! let key = Key::new(Component::Runners, [("ir", "0123abcd"), ("dtype", "float64")]);
//! assert!(matches!(cache.load(&key), Lookup::Miss));
//! {
//!     let _lock = cache.lock(&key)?;
//!     // Every object carries the tag of its key (compilers embed it as a data symbol).
//!     let object = format!("\x7fELF...{}", dynlib_cache::key_tag(key.digest()));
//!     cache.store(&key, &Labels::default(), object.as_bytes())?;
//! }
//! assert!(matches!(cache.load(&key), Lookup::Hit(bytes) if bytes.starts_with(b"\x7fELF")));
//! # Ok::<(), std::io::Error>(())
//! ```

pub mod key;
pub mod root;
pub mod store;

pub use key::{carries_tag, checksum, key_tag, Key};
pub use root::{resolve, Root};
pub use store::{CacheLock, DiskCache, EntryInfo, Labels, Lookup, Selector};

/// The version of the entry format (layout, `meta.json`, key encoding). Part of every key,
/// and checked on every read: an entry of another format is foreign, and is rebuilt.
pub const FORMAT_VERSION: u32 = 1;

/// What a compiled unit is.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Component {
    /// Model functions.
    Triplets,
    /// A stepper's single step.
    Steppers,
    /// A runner loop.
    Runners,
}

impl Component {
    /// Every component.
    pub const ALL: [Component; 3] = [Component::Triplets, Component::Steppers, Component::Runners];

    /// The directory name (`triplets`, `steppers`, `runners`).
    pub fn dir(self) -> &'static str {
        match self {
            Component::Triplets => "triplets",
            Component::Steppers => "steppers",
            Component::Runners => "runners",
        }
    }

    /// The component with this directory name.
    pub fn from_dir(name: &str) -> Option<Component> {
        Component::ALL.into_iter().find(|c| c.dir() == name)
    }
}
