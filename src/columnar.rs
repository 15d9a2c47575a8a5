//! Columnar files that pandas, polars, DuckDB and Arrow read without dynlib: Parquet
//! (`.parquet`) and the Arrow IPC file format (`.arrow`). A file is a sequence of tables
//! with one schema (for a sweep: one table per grid point), written as one record batch
//! (Arrow) or row group (Parquet) each, uncompressed.

/// One column's values.
#[derive(Clone, Debug)]
// Without the writer nothing reads them.
#[cfg_attr(not(feature = "columnar"), allow(dead_code))]
pub enum Col {
    /// Unsigned integers (grid point indices).
    U64(Vec<u64>),
    /// Signed integers (steps; an integer model's values); `None` is null.
    I64(Vec<Option<i64>>),
    /// Floats.
    F64(Vec<f64>),
    /// Strings (statuses).
    Str(Vec<String>),
}

impl Col {
    #[cfg_attr(not(feature = "columnar"), allow(dead_code))]
    fn len(&self) -> usize {
        match self {
            Col::U64(v) => v.len(),
            Col::I64(v) => v.len(),
            Col::F64(v) => v.len(),
            Col::Str(v) => v.len(),
        }
    }
}

/// Which columnar format.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Apache Parquet.
    Parquet,
    /// The Arrow IPC file format (Feather v2).
    Arrow,
}

/// The bytes of a file of `kind` holding `tables` (each `(name, column)` in the same
/// order and types; at least the header when there is no table). `names` are the
/// columns' names, used when `tables` is empty.
#[cfg(feature = "columnar")]
pub fn encode(kind: Kind, names: &[String], tables: Vec<Vec<Col>>) -> Result<Vec<u8>, String> {
    use std::sync::Arc;

    use arrow_array::{ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray, UInt64Array};
    use arrow_schema::{DataType, Field, Schema};

    let kinds: Vec<DataType> = match tables.first() {
        Some(t) => t
            .iter()
            .map(|c| match c {
                Col::U64(_) => DataType::UInt64,
                Col::I64(_) => DataType::Int64,
                Col::F64(_) => DataType::Float64,
                Col::Str(_) => DataType::Utf8,
            })
            .collect(),
        None => vec![DataType::Float64; names.len()],
    };
    let schema = Arc::new(Schema::new(
        names
            .iter()
            .zip(&kinds)
            .map(|(n, k)| Field::new(n, k.clone(), *k == DataType::Int64))
            .collect::<Vec<_>>(),
    ));
    let fail = |e: &dyn std::fmt::Display| format!("cannot encode the table: {e}");
    let batches = tables.into_iter().map(|cols| {
        let rows = cols.first().map_or(0, Col::len);
        debug_assert!(cols.iter().all(|c| c.len() == rows));
        let arrays: Vec<ArrayRef> = cols
            .into_iter()
            .map(|c| -> ArrayRef {
                match c {
                    Col::U64(v) => Arc::new(UInt64Array::from(v)),
                    Col::I64(v) => Arc::new(Int64Array::from(v)),
                    Col::F64(v) => Arc::new(Float64Array::from(v)),
                    Col::Str(v) => Arc::new(StringArray::from(v)),
                }
            })
            .collect();
        RecordBatch::try_new(schema.clone(), arrays).map_err(|e| fail(&e))
    });
    let mut bytes = Vec::new();
    match kind {
        Kind::Arrow => {
            let mut w = arrow_ipc::writer::FileWriter::try_new(&mut bytes, &schema)
                .map_err(|e| fail(&e))?;
            for b in batches {
                w.write(&b?).map_err(|e| fail(&e))?;
            }
            w.finish().map_err(|e| fail(&e))?;
        }
        Kind::Parquet => {
            let props = parquet::file::properties::WriterProperties::builder()
                .set_compression(parquet::basic::Compression::UNCOMPRESSED)
                .set_created_by(format!("dynlib {}", env!("CARGO_PKG_VERSION")))
                .build();
            let mut w =
                parquet::arrow::ArrowWriter::try_new(&mut bytes, schema.clone(), Some(props))
                    .map_err(|e| fail(&e))?;
            for b in batches {
                w.write(&b?).map_err(|e| fail(&e))?;
                // One row group per table: a reader can skip points it does not want.
                w.flush().map_err(|e| fail(&e))?;
            }
            w.close().map_err(|e| fail(&e))?;
        }
    }
    Ok(bytes)
}

/// Without the `columnar` feature there is no writer.
#[cfg(not(feature = "columnar"))]
pub fn encode(kind: Kind, _: &[String], _: Vec<Vec<Col>>) -> Result<Vec<u8>, String> {
    Err(format!(
        "this dynlib was built without the `columnar` feature: no {kind:?} output; use .csv or \
         .json, or rebuild with the default features"
    ))
}
