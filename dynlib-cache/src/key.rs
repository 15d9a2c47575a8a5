//! Cache keys: a digest of everything that shapes a compiled object, and nothing else.

use sha2::{Digest, Sha256};

use crate::{Component, FORMAT_VERSION};

/// The key of one compiled unit: its component and named inputs (the IR digest, dtype,
/// codegen options, backend identity, ...), and their SHA-256 digest.
///
/// The digest is computed over a canonical, unambiguous encoding: the format version, the
/// component, then every input sorted by name, each name and value length-prefixed. Equal
/// inputs give equal digests in every process; any change of any input gives a new digest.
/// The inputs are kept in readable form so `meta.json` can show what the key was made of.
///
/// ```
/// use dynlib_cache::{Component, Key};
/// let a = Key::new(Component::Runners, [("ir", "ab12"), ("dtype", "float64")]);
/// let b = Key::new(Component::Runners, [("dtype", "float64"), ("ir", "ab12")]);
/// let c = Key::new(Component::Runners, [("dtype", "float32"), ("ir", "ab12")]);
/// assert_eq!(a.digest(), b.digest());
/// assert_ne!(a.digest(), c.digest());
/// assert_eq!(a.digest().len(), 64);
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Key {
    component: Component,
    inputs: Vec<(String, String)>,
    digest: String,
}

impl Key {
    /// A key for `component` from named inputs (order does not matter; a repeated name keeps
    /// its last value).
    pub fn new<K: Into<String>, V: Into<String>>(
        component: Component,
        inputs: impl IntoIterator<Item = (K, V)>,
    ) -> Key {
        let mut map = std::collections::BTreeMap::new();
        for (k, v) in inputs {
            map.insert(k.into(), v.into());
        }
        let inputs: Vec<(String, String)> = map.into_iter().collect();
        let mut h = Sha256::new();
        h.update(b"dynlib-cache-key\n");
        h.update(format!("format={FORMAT_VERSION}\ncomponent={}\n", component.dir()).as_bytes());
        for (k, v) in &inputs {
            h.update(format!("{}:{k}={}:{v}\n", k.len(), v.len()).as_bytes());
        }
        let digest = hex(&h.finalize());
        Key {
            component,
            inputs,
            digest,
        }
    }

    /// The component.
    pub fn component(&self) -> Component {
        self.component
    }

    /// The digest: 64 lowercase hex characters.
    pub fn digest(&self) -> &str {
        &self.digest
    }

    /// The inputs, sorted by name.
    pub fn inputs(&self) -> &[(String, String)] {
        &self.inputs
    }
}

/// Lowercase hex of bytes.
pub(crate) fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

/// The SHA-256 of `bytes`, as hex (the object checksum in `meta.json`).
pub fn checksum(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inputs_cannot_run_into_each_other() {
        let a = Key::new(Component::Steppers, [("a", "b=c")]);
        let b = Key::new(Component::Steppers, [("a=b", "c")]);
        assert_ne!(a.digest(), b.digest());
        let c = Key::new(Component::Runners, [("a", "b=c")]);
        assert_ne!(a.digest(), c.digest(), "the component is part of the key");
    }
}
