//! Snapshots of a session (runtime.md §1.5): the session's state under a name, and the
//! JSON files they are saved in.
//!
//! Snapshot files are JSON (`schema = "dynlib-snapshot-v1"`): the session state, the
//! stepper workspace and the pins that say which kernel it belongs to. The pins are the
//! model's structural digest, the stepper and the dtype, not the library version, so a file
//! stays usable across releases as long as the kernel's structure is the same (the
//! reference's S7). Non-finite numbers are written as the strings `"nan"`, `"inf"`, `"-inf"`.
//! Files are written atomically (a temporary file renamed into place).

use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};

use crate::error::RuntimeError;
use crate::json::{dvec, float, floats, read_dvec, read_float};
use crate::kernel::Kernel;
use crate::run::{DVec, Status};
use crate::state::{read_text, write_atomic, SessionCore, SessionState};
use crate::workspace::Workspace;

/// The snapshot file schema.
pub const SNAPSHOT_SCHEMA: &str = "dynlib-snapshot-v1";

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

/// What [`crate::Sim::list_snapshots`] reports about a snapshot.
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

/// The pins a snapshot file must match to be restored into a session of `kernel`.
fn pins(kernel: &Kernel) -> Value {
    json!({
        "model_digest": kernel.model.digest(),
        "stepper": kernel.stepper.name,
        "dtype": kernel.model.dtype.as_str(),
    })
}

impl Snapshot {
    /// `state` under `name`, taken now, with the time shift and nominal step it goes with.
    pub fn new(
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

    /// The session `core` under `name`.
    pub fn of(name: &str, description: &str, core: &SessionCore) -> Snapshot {
        Snapshot::new(
            name,
            description,
            core.state.clone(),
            core.time_shift,
            core.nominal_dt,
        )
    }

    /// What a listing shows.
    pub fn info(&self) -> SnapshotInfo {
        SnapshotInfo {
            name: self.name.clone(),
            t: self.state.t,
            step: self.state.step_count,
            created_at: self.created_at.clone(),
            description: self.description.clone(),
        }
    }

    /// Writes this snapshot of a session of `kernel` to `path` as JSON, atomically.
    pub fn write(&self, kernel: &Kernel, path: &Path) -> Result<(), RuntimeError> {
        let m = &kernel.model;
        let s = &self.state;
        let (layout, dims) = (&kernel.stepper.workspace, kernel.dims());
        let ws = s.workspace.as_ref().map(|w| w.to_json(layout, &dims));
        let doc = json!({
            "schema": SNAPSHOT_SCHEMA,
            "name": self.name,
            "description": self.description,
            "created_at": self.created_at,
            "pins": pins(kernel),
            "state_names": m.state_names(),
            "param_names": m.param_names(),
            "t": float(s.t),
            "dt": float(s.dt),
            "step_count": s.step_count,
            "status": s.status.name(),
            "time_shift": float(self.time_shift),
            "nominal_dt": float(self.nominal_dt),
            "y": dvec(&s.y),
            "params": dvec(&s.params),
            "stepper_config": {
                "names": kernel.stepper.config.iter().map(|f| f.name).collect::<Vec<_>>(),
                "values": floats(&s.stepper_config),
            },
            "workspace": ws,
        });
        let text = serde_json::to_string_pretty(&doc).expect("JSON of plain values");
        write_atomic(path, text.as_bytes())
    }

    /// Reads the snapshot file at `path` for a session of `kernel`: checks its schema, its
    /// pins and every shape. Nothing changes anywhere.
    pub fn read(kernel: &Kernel, path: &Path) -> Result<Snapshot, RuntimeError> {
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
        let pins = pins(kernel);
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
        let m = &kernel.model;
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
        let elem = kernel.elem();
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
                let (layout, dims) = (&kernel.stepper.workspace, kernel.dims());
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
                kernel.stepper.config.len(),
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
    fn timestamps_are_iso_utc() {
        let t = now_utc();
        assert_eq!(t.len(), 20, "{t}");
        assert!(t.ends_with('Z') && t.as_bytes()[10] == b'T', "{t}");
    }
}
