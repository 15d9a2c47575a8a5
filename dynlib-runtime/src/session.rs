//! Snapshots and presets of a [`Sim`] session (runtime.md §1.5, §1.7).
//!
//! Snapshot files are JSON (`schema = "dynlib-snapshot-v1"`): the session state, the
//! stepper workspace and the pins that say which kernel it belongs to. The pins are the
//! model's structural digest, the stepper and the dtype, not the library version, so a file
//! stays usable across releases as long as the kernel's structure is the same (the
//! reference's S7). Non-finite numbers are written as the strings `"nan"`, `"inf"`, `"-inf"`.
//! Files are written atomically (a temporary file renamed into place).
//!
//! Preset files are TOML, as in the reference:
//! `[__presets__] schema = "dynlib-presets-v1"`, `[presets.NAME.params]`,
//! `[presets.NAME.states]`.

use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};

use crate::json::{dvec, float, floats, non_finite, read_dvec, read_float};
use dynlib_model::Number;

use crate::error::RuntimeError;
use crate::run::{DVec, Status, Workspace};
use crate::sim::{cast, SessionState, Sim};

/// The snapshot file schema.
pub const SNAPSHOT_SCHEMA: &str = "dynlib-snapshot-v1";
/// The preset file schema.
pub const PRESET_SCHEMA: &str = "dynlib-presets-v1";

/// A saved session.
#[derive(Clone, Debug, PartialEq)]
pub struct Snapshot {
    /// Its name (unique in the session).
    pub name: String,
    /// Free text.
    pub description: String,
    /// When it was taken (ISO 8601, UTC).
    pub created_at: String,
    /// The session state.
    pub state: SessionState,
    /// The transient's time shift at the time.
    pub time_shift: f64,
    /// The nominal step at the time.
    pub nominal_dt: f64,
}

impl Snapshot {
    pub(crate) fn new(
        name: &str,
        description: &str,
        state: SessionState,
        time_shift: f64,
        nominal_dt: f64,
    ) -> Snapshot {
        Snapshot {
            name: name.to_string(),
            description: description.to_string(),
            created_at: now_utc(),
            state,
            time_shift,
            nominal_dt,
        }
    }
}

/// What [`Sim::list_snapshots`] reports about a snapshot.
#[derive(Clone, Debug, PartialEq)]
pub struct SnapshotInfo {
    /// Name.
    pub name: String,
    /// Session time.
    pub t: f64,
    /// Session step count.
    pub step: u64,
    /// When it was taken.
    pub created_at: String,
    /// Free text.
    pub description: String,
}

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

impl Preset {
    /// The model's `[presets]`.
    pub(crate) fn from_model(m: &dynlib_model::Model) -> Vec<Preset> {
        m.presets
            .iter()
            .map(|p| Preset {
                name: p.name.clone(),
                params: p.params.clone(),
                states: p.states.clone(),
            })
            .collect()
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

impl Sim {
    /// A snapshot by name.
    pub fn snapshot(&self, name: &str) -> Result<&Snapshot, RuntimeError> {
        self.snapshots
            .iter()
            .find(|s| s.name == name)
            .ok_or_else(|| {
                RuntimeError::not_found(
                    "snapshot",
                    name,
                    self.snapshots.iter().map(|s| s.name.as_str()),
                )
            })
    }

    /// Saves the current session under `name` (which must be new). The `initial` snapshot is
    /// created first if it does not exist yet.
    pub fn create_snapshot(&mut self, name: &str, description: &str) -> Result<(), RuntimeError> {
        if name.trim().is_empty() {
            return Err(RuntimeError::Session(
                "a snapshot needs a non-empty name".into(),
            ));
        }
        if self.snapshots.iter().any(|s| s.name == name) {
            return Err(RuntimeError::Session(format!(
                "a snapshot named '{name}' already exists"
            )));
        }
        if name != "initial" && !self.snapshots.iter().any(|s| s.name == "initial") {
            let fresh = Sim::new(self.kernel.clone());
            let initial = Snapshot::new(
                "initial",
                "the model's initial values",
                fresh.state.clone(),
                0.0,
                fresh.nominal_dt,
            );
            self.snapshots.push(initial);
        }
        let snap = Snapshot::new(
            name,
            description,
            self.state.clone(),
            self.time_shift,
            self.nominal_dt,
        );
        self.snapshots.push(snap);
        Ok(())
    }

    /// The snapshots, in creation order.
    pub fn list_snapshots(&self) -> Vec<SnapshotInfo> {
        self.snapshots
            .iter()
            .map(|s| SnapshotInfo {
                name: s.name.clone(),
                t: s.state.t,
                step: s.state.step_count,
                created_at: s.created_at.clone(),
                description: s.description.clone(),
            })
            .collect()
    }

    fn pins(&self) -> Value {
        json!({
            "model_digest": self.kernel.model.digest(),
            "stepper": self.kernel.stepper.name,
            "dtype": self.kernel.model.dtype.as_str(),
        })
    }

    /// Writes the current session (`name = None`) or a named snapshot to `path` as JSON.
    pub fn export_snapshot(&self, path: &Path, name: Option<&str>) -> Result<(), RuntimeError> {
        let current;
        let snap = match name {
            Some(n) => self.snapshot(n)?,
            None => {
                current = Snapshot::new(
                    "current",
                    "",
                    self.state.clone(),
                    self.time_shift,
                    self.nominal_dt,
                );
                &current
            }
        };
        let m = &self.kernel.model;
        let s = &snap.state;
        let (layout, dims) = (&self.kernel.stepper.workspace, self.kernel.dims());
        let ws = s.workspace.as_ref().map(|w| w.to_json(layout, &dims));
        let doc = json!({
            "schema": SNAPSHOT_SCHEMA,
            "name": snap.name,
            "description": snap.description,
            "created_at": snap.created_at,
            "pins": self.pins(),
            "state_names": m.state_names(),
            "param_names": m.param_names(),
            "t": float(s.t),
            "dt": float(s.dt),
            "step_count": s.step_count,
            "status": s.status.name(),
            "time_shift": float(snap.time_shift),
            "nominal_dt": float(snap.nominal_dt),
            "y": dvec(&s.y),
            "params": dvec(&s.params),
            "stepper_config": {
                "names": self.kernel.stepper.config.iter().map(|f| f.name).collect::<Vec<_>>(),
                "values": floats(&s.stepper_config),
            },
            "workspace": ws,
        });
        let text = serde_json::to_string_pretty(&doc).expect("JSON of plain values");
        write_atomic(path, text.as_bytes())
    }

    /// Reads a snapshot file without changing the session: checks its schema, shapes and
    /// pins against this session's kernel.
    pub fn inspect_snapshot(&self, path: &Path) -> Result<Snapshot, RuntimeError> {
        let text = read_text(path)?;
        let doc: Value = serde_json::from_str(&text).map_err(|e| {
            RuntimeError::file(path, format!("not a snapshot file (invalid JSON: {e})"))
        })?;
        let err = |msg: String| RuntimeError::file(path, msg);
        if doc["schema"] != SNAPSHOT_SCHEMA {
            return Err(err(format!(
                "not a snapshot file: schema is {}, expected \"{SNAPSHOT_SCHEMA}\"",
                doc["schema"]
            )));
        }
        let pins = self.pins();
        for key in ["model_digest", "stepper", "dtype"] {
            if doc["pins"][key] != pins[key] {
                return Err(RuntimeError::Incompatible(format!(
                    "{}: the snapshot was taken with {key} {}, this session has {}",
                    path.display(),
                    doc["pins"][key],
                    pins[key]
                )));
            }
        }
        let m = &self.kernel.model;
        let n = m.states.len();
        let get = |key: &str| -> Result<f64, RuntimeError> {
            read_float(&doc[key]).ok_or_else(|| err(format!("'{key}' must be a number")))
        };
        let vec = |v: &Value, key: &str, len: usize| -> Result<Vec<f64>, RuntimeError> {
            let xs = v
                .as_array()
                .ok_or_else(|| err(format!("'{key}' must be an array")))?
                .iter()
                .map(read_float)
                .collect::<Option<Vec<f64>>>()
                .ok_or_else(|| err(format!("'{key}' must hold numbers")))?;
            if xs.len() != len {
                return Err(err(format!(
                    "'{key}' has {} values, expected {len}",
                    xs.len()
                )));
            }
            Ok(xs)
        };
        let elem = self.kernel.elem();
        // Values in the model dtype, exactly (integers are JSON integers).
        let values = |v: &Value, key: &str, len: usize| -> Result<DVec, RuntimeError> {
            let d = read_dvec(elem, v).map_err(|why| err(format!("'{key}' {why}")))?;
            if d.len() != len {
                return Err(err(format!(
                    "'{key}' has {} values, expected {len}",
                    d.len()
                )));
            }
            Ok(d)
        };
        let workspace = match &doc["workspace"] {
            Value::Null => None,
            w => {
                let (layout, dims) = (&self.kernel.stepper.workspace, self.kernel.dims());
                Some(Workspace::from_json(w, layout, elem, &dims).map_err(err)?)
            }
        };
        let status = doc["status"]
            .as_str()
            .and_then(Status::from_name)
            .ok_or_else(|| err(format!("unknown status {}", doc["status"])))?;
        let state = SessionState {
            t: get("t")?,
            y: values(&doc["y"], "y", n)?,
            params: values(&doc["params"], "params", m.params.len())?,
            dt: get("dt")?,
            step_count: doc["step_count"]
                .as_u64()
                .ok_or_else(|| err("'step_count' must be a whole number".into()))?,
            workspace,
            status,
            stepper_config: vec(
                &doc["stepper_config"]["values"],
                "stepper_config.values",
                self.kernel.stepper.config.len(),
            )?,
        };
        Ok(Snapshot {
            name: doc["name"].as_str().unwrap_or("imported").to_string(),
            description: doc["description"].as_str().unwrap_or("").to_string(),
            created_at: doc["created_at"].as_str().unwrap_or("").to_string(),
            state,
            time_shift: get("time_shift")?,
            nominal_dt: get("nominal_dt")?,
        })
    }

    /// Replaces the session with the snapshot in `path` (checked first; on any problem the
    /// session is unchanged) and drops the results.
    pub fn import_snapshot(&mut self, path: &Path) -> Result<(), RuntimeError> {
        let snap = self.inspect_snapshot(path)?;
        self.restore(&snap);
        Ok(())
    }

    /// Names of the presets matching a glob pattern (`*`, `?`), sorted.
    pub fn list_presets(&self, pattern: &str) -> Vec<&str> {
        let mut names: Vec<&str> = self
            .presets
            .iter()
            .map(|p| p.name.as_str())
            .filter(|n| glob(pattern, n))
            .collect();
        names.sort_unstable();
        names
    }

    /// A preset by name.
    pub fn preset(&self, name: &str) -> Result<&Preset, RuntimeError> {
        self.presets.iter().find(|p| p.name == name).ok_or_else(|| {
            RuntimeError::not_found("preset", name, self.presets.iter().map(|p| p.name.as_str()))
        })
    }

    /// Writes a preset's parameters, then its states, into the session (time, step,
    /// workspace and results are untouched).
    pub fn apply_preset(&mut self, name: &str) -> Result<(), RuntimeError> {
        let p = self.preset(name)?.clone();
        for (i, v) in p.params {
            self.state.params.set_number(i, v);
        }
        for (i, v) in p.states {
            self.state.y.set_number(i, v);
        }
        Ok(())
    }

    /// Adds a preset from (name, value) pairs; with neither states nor params given it takes
    /// all of the session's current values.
    pub fn add_preset(
        &mut self,
        name: &str,
        states: Option<&[(&str, f64)]>,
        params: Option<&[(&str, f64)]>,
        overwrite: bool,
    ) -> Result<(), RuntimeError> {
        let exact = |v: &[(&str, f64)]| -> Vec<(String, Number)> {
            v.iter()
                .map(|(n, x)| (n.to_string(), Number::Float(*x)))
                .collect()
        };
        self.add_preset_values(
            name,
            states.map(exact).as_deref(),
            params.map(exact).as_deref(),
            overwrite,
        )
    }

    /// [`Sim::add_preset`] with exact values (integers stay integers).
    pub fn add_preset_values(
        &mut self,
        name: &str,
        states: Option<&[(String, Number)]>,
        params: Option<&[(String, Number)]>,
        overwrite: bool,
    ) -> Result<(), RuntimeError> {
        let m = &self.kernel.model;
        let elem = self.kernel.elem();
        if name.trim().is_empty() {
            return Err(RuntimeError::Session(
                "a preset needs a non-empty name".into(),
            ));
        }
        let preset = if states.is_none() && params.is_none() {
            Preset {
                name: name.to_string(),
                params: self
                    .state
                    .params
                    .numbers()
                    .into_iter()
                    .enumerate()
                    .collect(),
                states: self.state.y.numbers().into_iter().enumerate().collect(),
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
        self.insert_preset(
            preset,
            if overwrite {
                OnConflict::Replace
            } else {
                OnConflict::Error
            },
        )
    }

    fn insert_preset(&mut self, p: Preset, on_conflict: OnConflict) -> Result<(), RuntimeError> {
        match self.presets.iter().position(|q| q.name == p.name) {
            None => self.presets.push(p),
            Some(i) => match on_conflict {
                OnConflict::Error => {
                    return Err(RuntimeError::Session(format!(
                        "a preset named '{}' already exists (overwrite to replace it)",
                        p.name
                    )))
                }
                OnConflict::Keep => {}
                OnConflict::Replace => self.presets[i] = p,
            },
        }
        Ok(())
    }

    /// Loads the presets matching `pattern` from a preset file; returns how many were added
    /// or replaced. Everything is checked before the bank changes.
    pub fn load_presets(
        &mut self,
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
        let m = &self.kernel.model;
        let elem = self.kernel.elem();
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
            if on_conflict == OnConflict::Error && self.presets.iter().any(|q| q.name == p.name) {
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
            self.insert_preset(p, on_conflict)?;
        }
        Ok(count)
    }

    /// Writes a preset into a preset file, merging with the presets already in it.
    pub fn save_preset(
        &self,
        name: &str,
        path: &Path,
        overwrite: bool,
    ) -> Result<(), RuntimeError> {
        let p = self.preset(name)?;
        let m = &self.kernel.model;
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

/// Writes through a temporary file in the same directory and renames it into place, so a
/// reader never sees half a file and a link at `path` is replaced, never written through.
fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), RuntimeError> {
    dynlib_fs::write_atomic(path, bytes).map_err(|e| RuntimeError::file(path, e))
}

/// The most a snapshot or preset file may hold (a snapshot of a model with a million
/// states and deep lags is tens of megabytes).
pub const SESSION_FILE_LIMIT: u64 = 1 << 30;

/// Reads a snapshot or preset file: a regular file (never a FIFO or device) within
/// [`SESSION_FILE_LIMIT`], as UTF-8.
fn read_text(path: &Path) -> Result<String, RuntimeError> {
    dynlib_fs::read_text(path, SESSION_FILE_LIMIT, dynlib_fs::Follow::Yes)
        .map_err(|e| RuntimeError::file(path, e))
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

/// The current time as `YYYY-MM-DDTHH:MM:SSZ`.
fn now_utc() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
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

    #[test]
    fn timestamps_are_iso_utc() {
        let t = now_utc();
        assert_eq!(t.len(), 20, "{t}");
        assert!(t.ends_with('Z') && t.as_bytes()[10] == b'T', "{t}");
    }
}
