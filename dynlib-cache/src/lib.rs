//! The on-disk cache of compiled object files (keys, layout, locks, integrity, recovery).
//!
//! Not built yet: issue 5 fills this crate. It will know only bytes, keys and files, never
//! models or IR. It deliberately exports nothing until then.
