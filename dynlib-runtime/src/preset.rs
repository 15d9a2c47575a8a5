//! Presets (runtime.md §1.7): named sets of parameter and state values, from the model's
//! `[presets]` and from preset files, and the files they are saved in.
//!
//! Preset files are TOML, as in the reference:
//! `[__presets__] schema = "dynlib-presets-v1"`, `[presets.NAME.params]`,
//! `[presets.NAME.states]`. Values are exact (TOML integers stay integers); the non-finite
//! floats are the strings `"nan"`, `"+inf"`, `"-inf"`.

use std::path::Path;

use dynlib_model::{Model, Number};

use crate::error::RuntimeError;
use crate::json::non_finite;
use crate::kernel::Kernel;
use crate::options::cast;
use crate::state::{read_text, write_atomic, SessionState};

/// The preset file schema.
pub const PRESET_SCHEMA: &str = "dynlib-presets-v1";

/// A named set of parameter and state values.
#[derive(Clone, Debug, PartialEq)]
pub struct Preset {
    /// Its name.
    pub name: String,
    /// (parameter index, value), exact.
    pub params: Vec<(usize, Number)>,
    /// (state index, value), exact.
    pub states: Vec<(usize, Number)>,
}

/// Named values, in order (`("a", 0.02)`): what `--param` and `--ic` give a run.
pub type Assignments = Vec<(String, Number)>;

impl Preset {
    /// The preset as named assignments, `(parameters, states)`, for run options (the command
    /// line's `--preset`): a run that sets them starts where [`Preset::apply`] would put the
    /// session, and assignments after them override them.
    pub fn assignments(&self, model: &Model) -> (Assignments, Assignments) {
        let params = self
            .params
            .iter()
            .map(|&(i, v)| (model.params[i].name.clone(), v))
            .collect();
        let states = self
            .states
            .iter()
            .map(|&(i, v)| (model.states[i].name.clone(), v))
            .collect();
        (params, states)
    }

    /// Writes the preset's parameters, then its states, into `state`.
    pub fn apply(&self, state: &mut SessionState) {
        for &(i, v) in &self.params {
            state.params.set_number(i, v);
        }
        for &(i, v) in &self.states {
            state.y.set_number(i, v);
        }
    }

    /// A preset of a model of `kernel` from (name, value) pairs, cast to its dtype; with
    /// neither states nor params given it takes all of `current`'s values.
    pub fn from_values(
        kernel: &Kernel,
        name: &str,
        states: Option<&[(String, Number)]>,
        params: Option<&[(String, Number)]>,
        current: &SessionState,
    ) -> Result<Preset, RuntimeError> {
        let m = &kernel.model;
        let elem = kernel.elem();
        if name.trim().is_empty() {
            return Err(RuntimeError::Session(
                "a preset needs a non-empty name".into(),
            ));
        }
        let preset = if states.is_none() && params.is_none() {
            Preset {
                name: name.to_string(),
                params: current.params.numbers().into_iter().enumerate().collect(),
                states: current.y.numbers().into_iter().enumerate().collect(),
            }
        } else {
            let mut p = Preset {
                name: name.to_string(),
                params: Vec::new(),
                states: Vec::new(),
            };
            for (n, v) in params.unwrap_or_default() {
                let i = m.param_index(n).ok_or_else(|| {
                    RuntimeError::not_found("parameter", n, m.param_names().into_iter())
                })?;
                p.params.push((i, cast(elem, "preset", n, *v)?));
            }
            for (n, v) in states.unwrap_or_default() {
                let i = m.state_index(n).ok_or_else(|| {
                    RuntimeError::not_found("state", n, m.state_names().into_iter())
                })?;
                p.states.push((i, cast(elem, "preset", n, *v)?));
            }
            if p.params.is_empty() && p.states.is_empty() {
                return Err(RuntimeError::Session(format!(
                    "preset '{name}' has no values"
                )));
            }
            p
        };
        Ok(preset)
    }
}

/// What to do when a loaded preset has the name of one already in the bank.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum OnConflict {
    /// Refuse the whole load.
    Error,
    /// Keep the preset already in the bank.
    Keep,
    /// Replace it with the loaded one.
    Replace,
}

/// A session's presets, in the order they were added.
#[derive(Clone, Debug, Default)]
pub struct Presets(Vec<Preset>);

impl Presets {
    /// The model's `[presets]`.
    pub fn from_model(m: &Model) -> Presets {
        Presets(
            m.presets
                .iter()
                .map(|p| Preset {
                    name: p.name.clone(),
                    params: p.params.clone(),
                    states: p.states.clone(),
                })
                .collect(),
        )
    }

    /// Names of the presets matching a glob pattern (`*`, `?`), sorted.
    pub fn list(&self, pattern: &str) -> Vec<&str> {
        let mut names: Vec<&str> = self
            .0
            .iter()
            .map(|p| p.name.as_str())
            .filter(|n| glob(pattern, n))
            .collect();
        names.sort_unstable();
        names
    }

    /// A preset by name.
    pub fn get(&self, name: &str) -> Result<&Preset, RuntimeError> {
        self.0.iter().find(|p| p.name == name).ok_or_else(|| {
            RuntimeError::not_found("preset", name, self.0.iter().map(|p| p.name.as_str()))
        })
    }

    /// Adds `p`; a preset of the same name is handled as `on_conflict` says.
    pub fn insert(&mut self, p: Preset, on_conflict: OnConflict) -> Result<(), RuntimeError> {
        match self.0.iter().position(|q| q.name == p.name) {
            None => self.0.push(p),
            Some(i) => match on_conflict {
                OnConflict::Error => {
                    return Err(RuntimeError::Session(format!(
                        "a preset named '{}' already exists (overwrite to replace it)",
                        p.name
                    )))
                }
                OnConflict::Keep => {}
                OnConflict::Replace => self.0[i] = p,
            },
        }
        Ok(())
    }

    /// Loads the presets matching `pattern` from a preset file for a model of `kernel`;
    /// returns how many were added or replaced. Everything is checked before the bank
    /// changes.
    pub fn load(
        &mut self,
        kernel: &Kernel,
        path: &Path,
        pattern: &str,
        on_conflict: OnConflict,
    ) -> Result<usize, RuntimeError> {
        let text = read_text(path)?;
        let doc: toml_edit::DocumentMut = text
            .parse()
            .map_err(|e| RuntimeError::file(path, format!("invalid TOML: {e}")))?;
        let schema = doc
            .get("__presets__")
            .and_then(|t| t.get("schema"))
            .and_then(|s| s.as_str());
        if schema != Some(PRESET_SCHEMA) {
            return Err(RuntimeError::file(
                path,
                format!("[__presets__] schema must be \"{PRESET_SCHEMA}\""),
            ));
        }
        let table = doc
            .get("presets")
            .and_then(|t| t.as_table_like())
            .ok_or_else(|| RuntimeError::file(path, "no [presets] table"))?;
        let m = &kernel.model;
        let elem = kernel.elem();
        let mut loaded = Vec::new();
        for (name, body) in table.iter() {
            if !glob(pattern, name) {
                continue;
            }
            let mut p = Preset {
                name: name.to_string(),
                params: Vec::new(),
                states: Vec::new(),
            };
            for (section, is_param) in [("params", true), ("states", false)] {
                let Some(sub) = body.get(section) else {
                    continue;
                };
                let sub = sub.as_table_like().ok_or_else(|| {
                    RuntimeError::file(path, format!("presets.{name}.{section} must be a table"))
                })?;
                for (key, item) in sub.iter() {
                    let v = item.as_value().and_then(toml_number).ok_or_else(|| {
                        RuntimeError::file(
                            path,
                            format!("presets.{name}.{section}.{key} must be a number"),
                        )
                    })?;
                    let index = if is_param {
                        m.param_index(key)
                    } else {
                        m.state_index(key)
                    };
                    let i = index.ok_or_else(|| {
                        let known = if is_param {
                            m.param_names()
                        } else {
                            m.state_names()
                        };
                        RuntimeError::file(
                            path,
                            RuntimeError::not_found(
                                if is_param { "parameter" } else { "state" },
                                key,
                                known.into_iter(),
                            ),
                        )
                    })?;
                    let v = cast(elem, "preset", key, v)?;
                    if is_param {
                        p.params.push((i, v))
                    } else {
                        p.states.push((i, v))
                    }
                }
            }
            if p.params.is_empty() && p.states.is_empty() {
                return Err(RuntimeError::file(
                    path,
                    format!("preset '{name}' has no values"),
                ));
            }
            if on_conflict == OnConflict::Error && self.0.iter().any(|q| q.name == p.name) {
                return Err(RuntimeError::file(
                    path,
                    format!("a preset named '{name}' already exists in the session"),
                ));
            }
            loaded.push(p);
        }
        if loaded.is_empty() {
            return Err(RuntimeError::file(
                path,
                format!("no preset matches '{pattern}'"),
            ));
        }
        let count = loaded.len();
        for p in loaded {
            self.insert(p, on_conflict)?;
        }
        Ok(count)
    }

    /// Writes preset `name` into a preset file, merging with the presets already in it.
    pub fn save(
        &self,
        model: &Model,
        name: &str,
        path: &Path,
        overwrite: bool,
    ) -> Result<(), RuntimeError> {
        let p = self.get(name)?;
        let m = model;
        let mut doc: toml_edit::DocumentMut = if path.exists() {
            let text = read_text(path)?;
            text.parse()
                .map_err(|e| RuntimeError::file(path, format!("invalid TOML: {e}")))?
        } else {
            toml_edit::DocumentMut::new()
        };
        doc["__presets__"]["schema"] = toml_edit::value(PRESET_SCHEMA);
        if doc.get("presets").is_none() {
            let mut t = toml_edit::Table::new();
            t.set_implicit(true);
            doc["presets"] = toml_edit::Item::Table(t);
        }
        if doc["presets"].get(name).is_some() && !overwrite {
            return Err(RuntimeError::file(
                path,
                format!("already holds a preset named '{name}' (overwrite to replace it)"),
            ));
        }
        let mut body = toml_edit::Table::new();
        body.set_implicit(true);
        for (section, values, names) in [
            ("params", &p.params, m.param_names()),
            ("states", &p.states, m.state_names()),
        ] {
            if values.is_empty() {
                continue;
            }
            let mut t = toml_edit::Table::new();
            for (i, v) in values {
                t[names[*i]] = match *v {
                    Number::Int(n) => toml_edit::value(n),
                    Number::Float(x) if x.is_finite() => toml_edit::value(x),
                    Number::Float(x) => toml_edit::value(if x.is_nan() {
                        "nan"
                    } else if x > 0.0 {
                        "+inf"
                    } else {
                        "-inf"
                    }),
                };
            }
            body[section] = toml_edit::Item::Table(t);
        }
        doc["presets"][name] = toml_edit::Item::Table(body);
        write_atomic(path, doc.to_string().as_bytes())
    }
}

/// A preset value: TOML integers exactly, floats, and the non-finite strings.
fn toml_number(v: &toml_edit::Value) -> Option<Number> {
    match v {
        toml_edit::Value::Float(f) => Some(Number::Float(*f.value())),
        toml_edit::Value::Integer(i) => Some(Number::Int(*i.value())),
        toml_edit::Value::String(s) => non_finite(s.value()).map(Number::Float),
        _ => None,
    }
}

/// fnmatch-style matching with `*` and `?`.
fn glob(pattern: &str, name: &str) -> bool {
    fn go(p: &[char], n: &[char]) -> bool {
        match (p.first(), n.first()) {
            (None, None) => true,
            (Some('*'), _) => go(&p[1..], n) || (!n.is_empty() && go(p, &n[1..])),
            (Some('?'), Some(_)) => go(&p[1..], &n[1..]),
            (Some(a), Some(b)) if a == b => go(&p[1..], &n[1..]),
            _ => false,
        }
    }
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    go(&p, &n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob_matches_like_fnmatch() {
        assert!(glob("*", "anything"));
        assert!(glob("fast*", "fast_spiking"));
        assert!(glob("r?s", "rxs"));
        assert!(!glob("r?s", "rs"));
        assert!(glob("a*b*c", "aXXbYc"));
        assert!(!glob("a*b", "ac"));
    }
}
