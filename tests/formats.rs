//! `dynlib run -o FILE` and `dynlib sweep -o FILE` in every format, read back to the very
//! numbers the JSON output holds: Parquet and Arrow with the Rust readers, `.npz` through
//! its zip archive and `.npy` headers, and, where a Python with numpy, pyarrow or polars is
//! found (`DYNLIB_TEST_PYTHON`, else `python3`), with the readers users have.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

mod common;

fn dynlib(args: &[&str]) -> Output {
    common::dynlib_ok(args)
}

/// Izhikevich with a logged reset event, recording `v` and `u` every third step.
const EVENTS: &str = "inline:[mod]\nname='log'\n[mod.replace.events.reset]\ncond='v >= v_th'\n\
                      action=\"v = c\\nu = u + d\"\nlog=['t','v']\n";

/// An integer map whose values pass 2**53 (floats could not hold them exactly).
const BIG_INTS: &str = "inline:\n[model]\ntype = \"map\"\ndtype = \"int64\"\n[states]\nx = 1\n\
                        y = -5\n[equations.rhs]\nx = \"x + 9007199254740993\"\ny = \"y - x\"\n";

/// The run's arguments, with the output `extra` (`-o FILE` or `--format json`).
fn run(model: &str, extra: &[&str]) -> Output {
    let mut a: Vec<&str> = if model == "izhikevich" {
        vec![
            "run",
            "builtin://ode/izhikevich",
            "--t-end",
            "60",
            "--mod",
            EVENTS,
            "--param",
            "I=12",
            "--record-vars",
            "v,u",
            "--record-interval",
            "3",
        ]
    } else {
        vec!["run", BIG_INTS, "-n", "30"]
    };
    a.extend_from_slice(extra);
    dynlib(&a)
}

/// A value as comparable bits: a float's bit pattern, an integer itself, a string.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Bits {
    F(u64),
    I(i64),
    S(String),
}

fn json_bits(v: &Value) -> Bits {
    match v.as_i64() {
        Some(i) if v.is_i64() => Bits::I(i),
        _ => Bits::F(
            v.as_f64()
                .unwrap_or_else(|| panic!("not a number: {v}"))
                .to_bits(),
        ),
    }
}

/// The columns the JSON output holds: `t`, `step`, the series, and each logged event's
/// fields as `events/NAME/FIELD`.
fn reference(model: &str) -> (BTreeMap<String, Vec<Bits>>, Value) {
    let o = run(model, &["--format", "json"]);
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    let mut cols = BTreeMap::new();
    let col = |xs: &Value| xs.as_array().unwrap().iter().map(json_bits).collect();
    cols.insert("t".to_string(), col(&v["t"]));
    cols.insert("step".to_string(), col(&v["step"]));
    for (name, xs) in v["series"].as_object().unwrap() {
        cols.insert(name.clone(), col(xs));
    }
    for (name, e) in v["events"].as_object().unwrap() {
        for (j, field) in e["fields"].as_array().unwrap().iter().enumerate() {
            let rows = e["rows"].as_array().unwrap();
            cols.insert(
                format!("events/{name}/{}", field.as_str().unwrap()),
                rows.iter().map(|r| json_bits(&r[j])).collect(),
            );
        }
    }
    (cols, v)
}

/// The arrays of an `.npz`, decoded from their `.npy` headers (`<f8`, `<i8`, `<u8`, `|b1`).
fn read_npz(path: &Path) -> BTreeMap<String, Vec<Bits>> {
    use std::io::Read;
    let mut z = zip::ZipArchive::new(std::fs::File::open(path).unwrap()).unwrap();
    let mut out = BTreeMap::new();
    for i in 0..z.len() {
        let mut f = z.by_index(i).unwrap();
        let name = f.name().strip_suffix(".npy").unwrap().to_string();
        let mut b = Vec::new();
        f.read_to_end(&mut b).unwrap();
        assert_eq!(&b[..8], b"\x93NUMPY\x01\x00", "{name}");
        let len = u16::from_le_bytes([b[8], b[9]]) as usize;
        let header = std::str::from_utf8(&b[10..10 + len]).unwrap();
        let data = &b[10 + len..];
        let descr = header.split('\'').nth(3).unwrap();
        let n: usize = header
            .split("'shape': (")
            .nth(1)
            .and_then(|s| s.split(',').next())
            .unwrap()
            .parse()
            .unwrap();
        let eight = |c: &[u8]| <[u8; 8]>::try_from(c).unwrap();
        let values: Vec<Bits> = match descr {
            "<f8" => data
                .chunks(8)
                .map(|c| Bits::F(u64::from_le_bytes(eight(c))))
                .collect(),
            "<i8" => data
                .chunks(8)
                .map(|c| Bits::I(i64::from_le_bytes(eight(c))))
                .collect(),
            "<u8" => data
                .chunks(8)
                .map(|c| Bits::I(u64::from_le_bytes(eight(c)) as i64))
                .collect(),
            "|b1" => data.iter().map(|&x| Bits::I(x as i64)).collect(),
            u if u.starts_with("<U") => {
                let width: usize = u[2..].parse().unwrap();
                data.chunks(4 * width)
                    .map(|c| {
                        let s: String = c
                            .chunks(4)
                            .map(|ch| u32::from_le_bytes(ch.try_into().unwrap()))
                            .take_while(|&u| u != 0)
                            .map(|u| char::from_u32(u).unwrap())
                            .collect();
                        Bits::S(s)
                    })
                    .collect()
            }
            other => panic!("{name}: dtype {other}"),
        };
        assert_eq!(values.len(), n, "{name}: shape {header}");
        out.insert(name, values);
    }
    out
}

/// A Parquet or Arrow file's columns and its schema's `dynlib` metadata.
#[cfg(feature = "columnar")]
fn read_columnar(path: &Path) -> (BTreeMap<String, Vec<Bits>>, Option<String>) {
    use arrow_array::{Array, Float64Array, Int64Array};
    let (schema, batches) = common::read_batches(path);
    let mut cols = BTreeMap::<String, Vec<Bits>>::new();
    for b in &batches {
        for (field, col) in schema.fields().iter().zip(b.columns()) {
            let any = col.as_any();
            let out = cols.entry(field.name().clone()).or_default();
            for i in 0..col.len() {
                assert!(!col.is_null(i), "{}", field.name());
                out.push(match any.downcast_ref::<Float64Array>() {
                    Some(a) => Bits::F(a.value(i).to_bits()),
                    None => Bits::I(any.downcast_ref::<Int64Array>().unwrap().value(i)),
                });
            }
        }
    }
    (cols, schema.metadata().get("dynlib").cloned())
}

/// The samples' columns of `cols` (events are not in Parquet and Arrow tables).
fn samples(cols: &BTreeMap<String, Vec<Bits>>) -> BTreeMap<String, Vec<Bits>> {
    cols.iter()
        .filter(|(k, _)| !k.starts_with("events/"))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

#[test]
fn run_files_hold_the_recorded_numbers_bit_for_bit() {
    let dir = tempfile::tempdir().unwrap();
    for model in ["izhikevich", "big_ints"] {
        let (want, json) = reference(model);
        assert!(want["t"].len() > 10, "{model}: {} samples", want["t"].len());
        if model == "izhikevich" {
            assert!(!want["events/reset/t"].is_empty(), "the event fired");
        } else {
            assert!(
                want["x"]
                    .iter()
                    .any(|b| matches!(b, Bits::I(i) if *i > (1 << 53) && (*i as f64) as i64 != *i)),
                "integers floats cannot hold"
            );
        }
        let file = |ext: &str| -> PathBuf {
            let p = dir.path().join(format!("{model}.{ext}"));
            run(model, &["-o", p.to_str().unwrap()]);
            p
        };

        // .npz: every column, the events too, and the events' record indices.
        let got = read_npz(&file("npz"));
        for (name, values) in &want {
            assert_eq!(got.get(name), Some(values), "{model}.npz {name}");
        }
        if let Some(e) = json["events"].as_object().unwrap().get("reset") {
            assert_eq!(
                got["events/reset/record_index"].len(),
                e["rows"].as_array().unwrap().len()
            );
        }
        let extra: Vec<&String> = got
            .keys()
            .filter(|k| !want.contains_key(*k) && !k.ends_with("/record_index"))
            .collect();
        assert!(extra.is_empty(), "{model}.npz: unexpected arrays {extra:?}");

        // .csv: the samples, in Rust's shortest round-trip form.
        let text = std::fs::read_to_string(file("csv")).unwrap();
        let mut lines = text.lines();
        let header: Vec<&str> = lines.next().unwrap().split(',').collect();
        let mut csv: BTreeMap<String, Vec<Bits>> = BTreeMap::new();
        for line in lines {
            for (h, cell) in header.iter().zip(line.split(',')) {
                let b = match cell.parse::<i64>() {
                    Ok(i)
                        if *h == "step"
                            || json["series"].get(*h).is_some_and(|s| s[0].is_i64()) =>
                    {
                        Bits::I(i)
                    }
                    _ => Bits::F(cell.parse::<f64>().unwrap().to_bits()),
                };
                csv.entry(h.to_string()).or_default().push(b);
            }
        }
        assert_eq!(csv, samples(&want), "{model}.csv");

        // .json to a file: what standard output had.
        let v: Value = serde_json::from_slice(&std::fs::read(file("json")).unwrap()).unwrap();
        assert_eq!(v["series"], json["series"], "{model}.json");

        #[cfg(feature = "columnar")]
        for ext in ["parquet", "arrow", "feather"] {
            let (cols, meta) = read_columnar(&file(ext));
            assert_eq!(cols, samples(&want), "{model}.{ext}");
            let meta: Value = serde_json::from_str(&meta.expect("dynlib metadata")).unwrap();
            for key in [
                "model", "stepper", "status", "steps", "final", "events", "warnings",
            ] {
                assert_eq!(meta[key], json[key], "{model}.{ext} metadata {key}");
            }
            assert!(meta.get("series").is_none() && meta.get("t").is_none());
        }
    }
}

#[test]
fn sweep_npz_holds_the_csv_columns() {
    let dir = tempfile::tempdir().unwrap();
    let sweep = |ext: &str| -> PathBuf {
        let p = dir.path().join(format!("s.{ext}"));
        dynlib(&[
            "sweep",
            "builtin://map/logistic",
            "--param",
            "r=2.8:4:7",
            "-n",
            "30",
            "--transient",
            "10",
            "-o",
            p.to_str().unwrap(),
        ]);
        p
    };
    let text = std::fs::read_to_string(sweep("csv")).unwrap();
    let got = read_npz(&sweep("npz"));
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    assert!(rows.len() > 100);
    for (j, name) in header.iter().enumerate() {
        let col = &got[*name];
        assert_eq!(col.len(), rows.len(), "{name}");
        for (r, row) in rows.iter().enumerate() {
            let b = match &col[r] {
                Bits::F(b) => f64::from_bits(*b).to_string(),
                Bits::I(i) => i.to_string(),
                Bits::S(s) => s.clone(),
            };
            assert_eq!(b, row[j], "{name} row {r}");
        }
    }
}

/// The Python that has `module`, if one does.
fn python_with(module: &str) -> Option<String> {
    let python = std::env::var("DYNLIB_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
    let ok = Command::new(&python)
        .args(["-c", &format!("import {module}")])
        .output()
        .is_ok_and(|o| o.status.success());
    ok.then_some(python)
}

/// Reads the run's files with numpy, pyarrow and polars (those installed) and prints each
/// column as bits; the same columns the JSON output holds.
#[test]
fn python_readers_see_the_same_numbers() {
    const SCRIPT: &str = r#"
import json, struct, sys
kind, path = sys.argv[1], sys.argv[2]
def bits(xs):
    return [["F", struct.unpack("<Q", struct.pack("<d", x))[0]] if isinstance(x, float) else ["I", int(x)] for x in xs]
out = {}
if kind == "numpy":
    import numpy as np
    z = np.load(path)
    for k in z.files:
        a = z[k]
        out[k] = bits(a.tolist()) if a.dtype.kind in "fiu" else [["S", s] for s in a.tolist()]
elif kind == "pyarrow":
    import pyarrow.parquet as pq, pyarrow.feather as pf
    t = pq.read_table(path) if path.endswith(".parquet") else pf.read_table(path)
    for name in t.column_names:
        out[name] = bits(t.column(name).to_pylist())
    out["__meta__"] = json.loads(t.schema.metadata[b"dynlib"])["status"]
elif kind == "polars":
    import polars as pl
    df = pl.read_parquet(path) if path.endswith(".parquet") else pl.read_ipc(path)
    for name in df.columns:
        out[name] = bits(df[name].to_list())
print(json.dumps(out))
"#;
    let readers: Vec<(&str, &[&str], String)> = [
        ("numpy", &["npz"][..]),
        ("pyarrow", &["parquet", "arrow"][..]),
        ("polars", &["parquet", "arrow"][..]),
    ]
    .into_iter()
    .filter(|(_, exts)| cfg!(feature = "columnar") || exts.contains(&"npz"))
    .filter_map(|(m, exts)| python_with(m).map(|p| (m, exts, p)))
    .collect();
    if readers.is_empty() {
        eprintln!(
            "skipped: no Python with numpy, pyarrow or polars (set DYNLIB_TEST_PYTHON to a \
             virtualenv's python that has them)"
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    for model in ["izhikevich", "big_ints"] {
        let (want, json) = reference(model);
        for (module, exts, python) in &readers {
            for ext in *exts {
                let p = dir.path().join(format!("{model}.{ext}"));
                if !p.exists() {
                    run(model, &["-o", p.to_str().unwrap()]);
                }
                let o = Command::new(python)
                    .args(["-c", SCRIPT, module, p.to_str().unwrap()])
                    .output()
                    .unwrap();
                assert!(
                    o.status.success(),
                    "{module} reading {ext}: {}",
                    String::from_utf8_lossy(&o.stderr)
                );
                let got: Value = serde_json::from_slice(&o.stdout).unwrap();
                let expect = if *ext == "npz" {
                    want.clone()
                } else {
                    samples(&want)
                };
                for (name, values) in &expect {
                    let col: Vec<Bits> = got[name]
                        .as_array()
                        .unwrap_or_else(|| panic!("{module} {model}.{ext}: no {name}"))
                        .iter()
                        .map(|b| match b[0].as_str() {
                            Some("F") => Bits::F(b[1].as_u64().unwrap()),
                            Some("S") => Bits::S(b[1].as_str().unwrap().to_string()),
                            _ => Bits::I(b[1].as_i64().unwrap()),
                        })
                        .collect();
                    assert_eq!(&col, values, "{module} {model}.{ext} {name}");
                }
                if *module == "pyarrow" {
                    assert_eq!(got["__meta__"], json["status"], "{model}.{ext}");
                }
            }
        }
    }
    eprintln!(
        "read back with {}",
        readers.iter().map(|r| r.0).collect::<Vec<_>>().join(", ")
    );
}
