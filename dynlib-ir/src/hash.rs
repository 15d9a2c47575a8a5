//! The hash maps of the passes and of lowering. Their keys are value ids, constants'
//! bits and instruction shapes: std's SipHash was a fifth of the IR passes' time on small
//! models. foldhash is several times faster and still seeded per process, so a model
//! cannot be written to make its constants collide.

/// A hash map keyed by IR values and the like.
pub(crate) type Map<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;

/// A hash set of IR values and the like.
pub(crate) type Set<T> = std::collections::HashSet<T, foldhash::fast::RandomState>;
