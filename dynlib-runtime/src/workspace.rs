//! The stepper workspace: the typed layout each stepper declares ([`Layout`]: vectors of
//! length n, n×n matrices, index vectors, scalar slots), and the buffers a run carries from
//! one call to the next ([`Workspace`]: the stepper's buffers plus the lag rings).
//!
//! The layout is the single description that allocation ([`Workspace::zeros`]), the ABI
//! (one step and runner parameter per buffer, [`crate::abi::Buf`]), resumption and the
//! length checks ([`Workspace::check`]) and snapshot files ([`Workspace::to_json`],
//! [`Workspace::from_json`]) all derive from, so a stepper that needs a Jacobian and its
//! pivots declares them by name and nothing else changes.

use dynlib_ir::Elem;
use dynlib_model::Dtype;
use serde_json::{json, Map, Value};

use crate::abi::{Buf, Dims};
use crate::error::RuntimeError;
use crate::json::{dvec, floats, read_dvec, read_float};
use crate::run::DVec;

/// The buffers a stepper keeps between steps, by name, grouped by type. Every name is
/// unique across all groups (checked for every registered stepper by a test); emitters look
/// buffers up by name ([`crate::stepper::Emit`]).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Layout {
    /// Vectors of one value per state, in the model dtype (stages, histories).
    pub vectors: &'static [&'static str],
    /// n×n matrices in the model dtype, row-major (Jacobians, iteration matrices).
    pub matrices: &'static [&'static str],
    /// Vectors of one int64 per state (LU pivots).
    pub indices: &'static [&'static str],
    /// float64 scalar slots (a step index, the previous step size). The ABI passes at
    /// least one slot, so the pointer is always valid.
    pub scalars: &'static [&'static str],
}

impl Layout {
    /// No buffers at all (the map stepper).
    pub const EMPTY: Layout = Layout {
        vectors: &[],
        matrices: &[],
        indices: &[],
        scalars: &[],
    };

    /// Every vector, matrix and index buffer, in parameter order: vectors, then matrices,
    /// then index vectors. The scalar slots are one parameter of their own.
    pub fn buffers(&self) -> impl Iterator<Item = Buf> {
        let (v, m, i) = (self.vectors.len(), self.matrices.len(), self.indices.len());
        (0..v)
            .map(Buf::Vector)
            .chain((0..m).map(Buf::Matrix))
            .chain((0..i).map(Buf::Index))
    }

    /// The name of buffer `b`.
    pub fn name(&self, b: Buf) -> &'static str {
        match b {
            Buf::Vector(k) => self.vectors[k],
            Buf::Matrix(k) => self.matrices[k],
            Buf::Index(k) => self.indices[k],
        }
    }

    /// The buffer called `name`, if the layout has one.
    pub fn find(&self, name: &str) -> Option<Buf> {
        self.buffers().find(|&b| self.name(b) == name)
    }

    /// The position of scalar slot `name` in `sc`, if the layout has one.
    pub fn scalar(&self, name: &str) -> Option<usize> {
        self.scalars.iter().position(|&s| s == name)
    }

    /// The number of scalar slots the ABI passes (at least one).
    pub fn scalar_slots(&self) -> usize {
        self.scalars.len().max(1)
    }
}

/// What a run carries besides the state: the stepper's buffers ([`Layout`]) and the lag
/// rings. Resuming restores it, so a continued run is the same as one long run.
#[derive(Clone, Debug, PartialEq)]
pub struct Workspace {
    /// The stepper's vectors, in [`Layout::vectors`] order.
    pub vectors: Vec<DVec>,
    /// The stepper's matrices, row-major, in [`Layout::matrices`] order.
    pub matrices: Vec<DVec>,
    /// The stepper's index vectors, in [`Layout::indices`] order.
    pub indices: Vec<Vec<i64>>,
    /// The stepper's scalar slots ([`Layout::scalar_slots`] of them).
    pub scalars: Vec<f64>,
    /// All lag rings, back to back.
    pub ring: DVec,
    /// The head of each ring.
    pub head: Vec<i64>,
}

impl Workspace {
    /// Zeros in `layout`'s shapes for a model of `dims` (rings zero, heads zero: the kernel
    /// seeds them, [`crate::Kernel::fresh_workspace`]).
    pub fn zeros(layout: &Layout, elem: Elem, dims: &Dims) -> Workspace {
        let n = dims.states;
        Workspace {
            vectors: layout
                .vectors
                .iter()
                .map(|_| DVec::zeros(elem, n))
                .collect(),
            matrices: layout
                .matrices
                .iter()
                .map(|_| DVec::zeros(elem, n * n))
                .collect(),
            indices: layout.indices.iter().map(|_| vec![0; n]).collect(),
            scalars: vec![0.0; layout.scalar_slots()],
            ring: DVec::zeros(elem, dims.ring),
            head: vec![0; dims.heads],
        }
    }

    /// Checks that this workspace has `layout`'s shapes for a model of `dims` in `dtype`;
    /// the error names the buffer (`whose` says where the workspace came from). Native
    /// code indexes these buffers without bounds checks, so nothing unchecked reaches it.
    pub fn check(
        &self,
        layout: &Layout,
        dtype: Dtype,
        dims: &Dims,
        whose: &str,
    ) -> Result<(), RuntimeError> {
        let elem = dynlib_ir::lower::elem_of(dtype);
        let n = dims.states;
        let shape = |what: String, unit: &'static str, expected: usize, found: usize| {
            if expected == found {
                Ok(())
            } else {
                Err(RuntimeError::Shape {
                    whose: format!("{what} of {whose}"),
                    what: unit,
                    expected,
                    at_least: false,
                    found,
                })
            }
        };
        for (group, expected, found) in [
            ("vectors", layout.vectors.len(), self.vectors.len()),
            ("matrices", layout.matrices.len(), self.matrices.len()),
            ("index vectors", layout.indices.len(), self.indices.len()),
        ] {
            shape(format!("the stepper {group}"), "buffers", expected, found)?;
        }
        for (name, v) in layout.vectors.iter().zip(&self.vectors) {
            shape(format!("vector '{name}'"), "values", n, v.len())?;
        }
        for (name, m) in layout.matrices.iter().zip(&self.matrices) {
            shape(format!("matrix '{name}'"), "values", n * n, m.len())?;
        }
        for (name, i) in layout.indices.iter().zip(&self.indices) {
            shape(format!("index vector '{name}'"), "values", n, i.len())?;
        }
        let s = layout.scalar_slots();
        shape("the scalar slots".into(), "values", s, self.scalars.len())?;
        shape("the lag rings".into(), "values", dims.ring, self.ring.len())?;
        shape(
            "the lag heads".into(),
            "values",
            dims.heads,
            self.head.len(),
        )?;
        let same_dtype = self
            .vectors
            .iter()
            .chain(&self.matrices)
            .chain([&self.ring])
            .all(|v| v.elem() == elem);
        if same_dtype {
            Ok(())
        } else {
            Err(RuntimeError::Incompatible(format!(
                "the values of {whose} are not in the model's dtype {}",
                dtype.as_str()
            )))
        }
    }

    /// The workspace as a snapshot file holds it: each buffer under its name
    /// (`vectors.<name>`, `matrices.<name>` as rows, `indices.<name>`), the scalar slots,
    /// the rings and the heads. Model-dtype values are exact (integers as JSON integers).
    pub fn to_json(&self, layout: &Layout, dims: &Dims) -> Value {
        let n = dims.states;
        let named = |names: &[&str], values: Vec<Value>| -> Map<String, Value> {
            names.iter().map(|s| s.to_string()).zip(values).collect()
        };
        let rows = |m: &DVec| -> Value {
            let all = m.numbers();
            Value::Array(
                all.chunks(n.max(1))
                    .map(|r| Value::Array(r.iter().map(|&x| crate::json::number(x)).collect()))
                    .collect(),
            )
        };
        let mut doc = json!({
            "vectors": named(layout.vectors, self.vectors.iter().map(dvec).collect()),
            "scalars": floats(&self.scalars),
            "ring": dvec(&self.ring),
            "head": self.head,
        });
        // Written only when the layout has them, so the files of steppers without any are
        // what they were before these buffers existed.
        if !layout.matrices.is_empty() {
            doc["matrices"] =
                named(layout.matrices, self.matrices.iter().map(rows).collect()).into();
        }
        if !layout.indices.is_empty() {
            let values = self.indices.iter().map(|i| json!(i)).collect();
            doc["indices"] = named(layout.indices, values).into();
        }
        doc
    }

    /// Reads what [`Workspace::to_json`] wrote, checking every shape against `layout` and
    /// `dims`. The error names the key at fault (`workspace.vectors.k1 has 2 values,
    /// expected 3`). `matrices` and `indices` may be absent when the layout has none (files
    /// written before they existed).
    pub fn from_json(
        w: &Value,
        layout: &Layout,
        elem: Elem,
        dims: &Dims,
    ) -> Result<Workspace, String> {
        let n = dims.states;
        let sized = |key: &str, len: usize, found: usize| {
            if found == len {
                Ok(())
            } else {
                Err(format!("'{key}' has {found} values, expected {len}"))
            }
        };
        let values = |v: &Value, key: &str, len: usize| -> Result<DVec, String> {
            let d = read_dvec(elem, v).map_err(|why| format!("'{key}' {why}"))?;
            sized(key, len, d.len())?;
            Ok(d)
        };
        let vectors = layout
            .vectors
            .iter()
            .map(|name| {
                values(
                    &w["vectors"][*name],
                    &format!("workspace.vectors.{name}"),
                    n,
                )
            })
            .collect::<Result<Vec<_>, _>>()?;
        let matrices = layout
            .matrices
            .iter()
            .map(|name| {
                let key = format!("workspace.matrices.{name}");
                let rows = w["matrices"][*name]
                    .as_array()
                    .ok_or_else(|| format!("'{key}' must be an array of rows"))?;
                sized(&key, n, rows.len())
                    .map_err(|_| format!("'{key}' has {} rows, expected {n}", rows.len()))?;
                let mut m = DVec::zeros(elem, n * n);
                for (r, row) in rows.iter().enumerate() {
                    let row = values(row, &format!("{key}[{r}]"), n)?;
                    for c in 0..n {
                        m.copy_from(r * n + c, &row, c);
                    }
                }
                Ok(m)
            })
            .collect::<Result<Vec<_>, String>>()?;
        let indices = layout
            .indices
            .iter()
            .map(|name| {
                let key = format!("workspace.indices.{name}");
                let v = integers(&w["indices"][*name])
                    .ok_or_else(|| format!("'{key}' must be an array of integers"))?;
                sized(&key, n, v.len())?;
                Ok(v)
            })
            .collect::<Result<Vec<_>, String>>()?;
        let head = integers(&w["head"])
            .filter(|h| h.len() == dims.heads)
            .ok_or("'workspace.head' must hold one integer per lag ring")?;
        let scalars = w["scalars"]
            .as_array()
            .ok_or("'workspace.scalars' must be an array")?
            .iter()
            .map(read_float)
            .collect::<Option<Vec<f64>>>()
            .ok_or("'workspace.scalars' must hold numbers")?;
        sized("workspace.scalars", layout.scalar_slots(), scalars.len())?;
        Ok(Workspace {
            vectors,
            matrices,
            indices,
            scalars,
            ring: values(&w["ring"], "workspace.ring", dims.ring)?,
            head,
        })
    }
}

/// A JSON array of integers.
fn integers(v: &Value) -> Option<Vec<i64>> {
    v.as_array()?.iter().map(Value::as_i64).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const IMPLICIT: Layout = Layout {
        vectors: &["y_nm1", "f"],
        matrices: &["jac"],
        indices: &["piv"],
        scalars: &["step_index", "h_prev"],
    };

    fn dims(n: usize) -> Dims {
        Dims {
            states: n,
            ring: 4,
            heads: 2,
            ..Dims::default()
        }
    }

    fn sample() -> Workspace {
        let d = dims(3);
        let mut w = Workspace::zeros(&IMPLICIT, Elem::F64, &d);
        for (k, v) in w.vectors.iter_mut().enumerate() {
            for i in 0..3 {
                v.set(i, (k * 10 + i) as f64 + 0.25);
            }
        }
        for i in 0..9 {
            w.matrices[0].set(i, i as f64 - 4.5);
        }
        w.matrices[0].set(4, f64::NAN);
        w.indices[0] = vec![2, 0, 1];
        w.scalars = vec![3.0, 0.125];
        w.head = vec![1, 3];
        w
    }

    #[test]
    fn zeros_follow_the_layout() {
        let w = Workspace::zeros(&IMPLICIT, Elem::F32, &dims(3));
        assert_eq!(w.vectors.len(), 2);
        assert!(w
            .vectors
            .iter()
            .all(|v| v.len() == 3 && v.elem() == Elem::F32));
        assert_eq!(w.matrices[0].len(), 9);
        assert_eq!(w.indices, vec![vec![0; 3]]);
        assert_eq!(w.scalars.len(), 2);
        assert_eq!((w.ring.len(), w.head.len()), (4, 2));
        w.check(&IMPLICIT, Dtype::Float32, &dims(3), "x").unwrap();
        // A layout without scalars still passes one slot.
        let bare = Workspace::zeros(&Layout::EMPTY, Elem::F64, &dims(0));
        assert_eq!(bare.scalars, vec![0.0]);
        let order: Vec<Buf> = IMPLICIT.buffers().collect();
        assert_eq!(
            order,
            [
                Buf::Vector(0),
                Buf::Vector(1),
                Buf::Matrix(0),
                Buf::Index(0)
            ]
        );
        assert_eq!(IMPLICIT.find("piv"), Some(Buf::Index(0)));
        assert_eq!(IMPLICIT.scalar("h_prev"), Some(1));
    }

    #[test]
    fn check_names_the_buffer_at_fault() {
        let mut w = sample();
        w.matrices[0].resize(8);
        let e = w
            .check(
                &IMPLICIT,
                Dtype::Float64,
                &dims(3),
                "the workspace to resume from",
            )
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "matrix 'jac' of the workspace to resume from needs 9 values, got 8"
        );
        let mut w = sample();
        w.indices.clear();
        let e = w
            .check(&IMPLICIT, Dtype::Float64, &dims(3), "it")
            .unwrap_err();
        assert!(e
            .to_string()
            .starts_with("the stepper index vectors of it needs 1 buffers"));
        let e = sample()
            .check(&IMPLICIT, Dtype::Float32, &dims(3), "it")
            .unwrap_err();
        assert!(e.to_string().ends_with("dtype float32"), "{e}");
    }

    #[test]
    fn json_round_trips_every_buffer_kind_exactly() {
        let w = sample();
        let d = dims(3);
        let doc = w.to_json(&IMPLICIT, &d);
        assert_eq!(doc["matrices"]["jac"][1][1], "nan");
        // A layout without matrices or index vectors writes no keys for them.
        let plain = Layout {
            vectors: &["k1"],
            ..Layout::EMPTY
        };
        let doc = Workspace::zeros(&plain, Elem::F64, &d).to_json(&plain, &d);
        assert!(doc.get("matrices").is_none() && doc.get("indices").is_none());
        let doc = sample().to_json(&IMPLICIT, &d);
        assert_eq!(doc["indices"]["piv"], json!([2, 0, 1]));
        let text = serde_json::to_string(&doc).unwrap();
        let back: Value = serde_json::from_str(&text).unwrap();
        let r = Workspace::from_json(&back, &IMPLICIT, Elem::F64, &d).unwrap();
        let bits = |w: &Workspace| -> Vec<Vec<u64>> {
            w.vectors
                .iter()
                .chain(&w.matrices)
                .map(DVec::bits)
                .collect()
        };
        assert_eq!(bits(&r), bits(&w));
        assert_eq!(
            (r.indices, r.scalars, r.head),
            (w.indices, w.scalars, w.head)
        );
    }

    #[test]
    fn json_errors_name_the_key() {
        let d = dims(3);
        let good = sample().to_json(&IMPLICIT, &d);
        let fails = |edit: &dyn Fn(&mut Value)| {
            let mut doc = good.clone();
            edit(&mut doc);
            Workspace::from_json(&doc, &IMPLICIT, Elem::F64, &d).unwrap_err()
        };
        assert_eq!(
            fails(&|d| d["matrices"]["jac"][2] = json!([1, 2])),
            "'workspace.matrices.jac[2]' has 2 values, expected 3"
        );
        assert_eq!(
            fails(&|d| d["matrices"]["jac"] = json!([[1, 2, 3]])),
            "'workspace.matrices.jac' has 1 rows, expected 3"
        );
        assert_eq!(
            fails(&|d| d["indices"]["piv"] = json!([0, 1.5, 2])),
            "'workspace.indices.piv' must be an array of integers"
        );
        assert_eq!(
            fails(&|d| d["vectors"].as_object_mut().unwrap().clear()),
            "'workspace.vectors.y_nm1' must be an array"
        );
        assert_eq!(
            fails(&|d| d["scalars"] = json!([1])),
            "'workspace.scalars' has 1 values, expected 2"
        );
        assert_eq!(
            fails(&|d| d["scalars"] = json!({})),
            "'workspace.scalars' must be an array"
        );
        assert_eq!(
            fails(&|d| d["scalars"] = json!([1, "x"])),
            "'workspace.scalars' must hold numbers"
        );
        // The heads are checked before the scalars, as they always were.
        assert_eq!(
            fails(&|d| {
                d["scalars"] = json!([]);
                d["head"] = json!([1]);
            }),
            "'workspace.head' must hold one integer per lag ring"
        );
    }
}
