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

/// The prefix of a key tag: see [`key_tag`].
pub const KEY_TAG_PREFIX: &str = "dynlib-unit-key:";

/// The bytes that bind a compiled object to its key: `dynlib-unit-key:<digest>`. The
/// compiler embeds them in every object it writes for that key (the LLVM backend as the
/// exported data symbol `dynlib_unit_key`), so an object copied under another key's entry,
/// even with its size and checksum fixed up in `meta.json`, is caught as corrupt instead of
/// being run with another model's arguments.
pub fn key_tag(digest: &str) -> String {
    format!("{KEY_TAG_PREFIX}{digest}")
}

/// Checks that `object` carries the tag of `digest`, and no other key's tag.
pub fn carries_tag(object: &[u8], digest: &str) -> Result<(), String> {
    let prefix = KEY_TAG_PREFIX.as_bytes();
    let mut found = false;
    let mut at = 0;
    while let Some(pos) = find(&object[at..], prefix) {
        let start = at + pos + prefix.len();
        let tagged = object.get(start..start + 64).unwrap_or_default();
        if tagged != digest.as_bytes() {
            return Err(format!(
                "was compiled for another key ({})",
                String::from_utf8_lossy(tagged)
            ));
        }
        found = true;
        at = start;
    }
    if found {
        Ok(())
    } else {
        Err("carries no key tag: it was not written by this dynlib for this key".into())
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
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

    #[test]
    fn tags_bind_an_object_to_one_key() {
        let a = Key::new(Component::Steppers, [("ir", "a")]);
        let b = Key::new(Component::Steppers, [("ir", "b")]);
        let object = format!("\x7fELF...{}...", key_tag(a.digest()));
        assert!(carries_tag(object.as_bytes(), a.digest()).is_ok());
        let e = carries_tag(object.as_bytes(), b.digest()).unwrap_err();
        assert!(e.contains("another key"), "{e}");
        assert!(carries_tag(b"\x7fELF no tag", a.digest()).is_err());
        let both = format!("{}{}", key_tag(a.digest()), key_tag(b.digest()));
        assert!(carries_tag(both.as_bytes(), a.digest()).is_err());
        let cut = &key_tag(a.digest())[..40];
        assert!(
            carries_tag(cut.as_bytes(), a.digest()).is_err(),
            "a cut tag is no tag"
        );
    }
}
