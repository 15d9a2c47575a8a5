//! Columnar files that pandas, polars, DuckDB, Arrow and numpy read without dynlib: Parquet
//! (`.parquet`), the Arrow IPC file format (`.arrow`) and numpy's `.npz` (crate::npz). A
//! file is a sequence of tables with one schema (for a run: one table; for a sweep's
//! samples: one table per grid point; its per-point rows: one table), written as one
//! record batch (Arrow) or row group (Parquet) each, uncompressed; `.npz` holds one array
//! per field, the tables' rows one after another.

/// One column's values.
#[derive(Clone, Debug)]
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
    /// Appends `other`'s values (of the same type).
    pub fn append(&mut self, other: Col) {
        match (self, other) {
            (Col::U64(a), Col::U64(b)) => a.extend(b),
            (Col::I64(a), Col::I64(b)) => a.extend(b),
            (Col::F64(a), Col::F64(b)) => a.extend(b),
            (Col::Str(a), Col::Str(b)) => a.extend(b),
            _ => panic!("columns of different types"),
        }
    }

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

/// A column's type (the schema, also for a file without rows).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum ColType {
    /// Unsigned 64-bit integers.
    U64,
    /// Signed 64-bit integers, nullable.
    I64,
    /// 64-bit floats.
    F64,
    /// UTF-8 strings.
    Str,
}

/// A file's contents: its fields (name and type) and its tables (a column per field),
/// made one at a time as they are written.
pub type Tables<'a> = (
    Vec<(String, ColType)>,
    Box<dyn Iterator<Item = Vec<Col>> + 'a>,
);

/// Which columnar format.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Apache Parquet.
    Parquet,
    /// The Arrow IPC file format (Feather v2).
    Arrow,
    /// numpy's `.npz` (an array per field).
    Npz,
}

/// Writes a file of `kind` with the columns `fields` holding `tables` (each a column per
/// field, of its type) to `out`. The schema is the fields', so a file without rows (an
/// empty shard) reads together with the others. Parquet and Arrow files are written one
/// table at a time (what is held in memory is one table and its encoding, not the file),
/// with `metadata` as the schema's key-value metadata; `.npz` archives are assembled in
/// memory (crate::npz) and carry no metadata.
pub fn write(
    kind: Kind,
    fields: &[(String, ColType)],
    tables: impl Iterator<Item = Vec<Col>>,
    metadata: &[(String, String)],
    out: &mut dyn std::io::Write,
) -> std::io::Result<()> {
    match kind {
        Kind::Npz => crate::npz::write_tables(fields, tables, out),
        Kind::Parquet | Kind::Arrow => write_arrow(kind, fields, tables, metadata, out),
    }
}

/// Parquet or Arrow ([`write`]).
#[cfg(feature = "columnar")]
fn write_arrow(
    kind: Kind,
    fields: &[(String, ColType)],
    tables: impl Iterator<Item = Vec<Col>>,
    metadata: &[(String, String)],
    out: &mut dyn std::io::Write,
) -> std::io::Result<()> {
    use std::io::{Error, ErrorKind};
    use std::sync::Arc;

    use arrow_array::{ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray, UInt64Array};
    use arrow_schema::{DataType, Field, Schema};

    let schema = Arc::new(Schema::new_with_metadata(
        fields
            .iter()
            .map(|(n, t)| {
                let (k, nullable) = match t {
                    ColType::U64 => (DataType::UInt64, false),
                    ColType::I64 => (DataType::Int64, true),
                    ColType::F64 => (DataType::Float64, false),
                    ColType::Str => (DataType::Utf8, false),
                };
                Field::new(n, k, nullable)
            })
            .collect::<Vec<_>>(),
        metadata.iter().cloned().collect(),
    ));
    // The writers' errors: an I/O error of `out` keeps its kind (a closed pipe ends the
    // output quietly, a full disk is reported with the file's name); anything else is an
    // encoding error.
    fn fail(e: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Error {
        let e = e.into();
        match e.downcast::<Error>() {
            Ok(io) => *io,
            Err(other) => Error::new(
                ErrorKind::InvalidData,
                format!("cannot encode the table: {other}"),
            ),
        }
    }
    let fail_arrow = |e: arrow_schema::ArrowError| match e {
        arrow_schema::ArrowError::IoError(_, io) => io,
        other => fail(other),
    };
    let fail_parquet = |e: parquet::errors::ParquetError| match e {
        parquet::errors::ParquetError::External(inner) => fail(inner),
        other => fail(other),
    };
    let mut batches = tables.map(|cols| {
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
        RecordBatch::try_new(schema.clone(), arrays).map_err(fail_arrow)
    });
    match kind {
        Kind::Npz => unreachable!("written by crate::npz"),
        Kind::Arrow => {
            let mut w = arrow_ipc::writer::FileWriter::try_new(out, &schema).map_err(fail_arrow)?;
            for b in batches {
                w.write(&b?).map_err(fail_arrow)?;
            }
            w.finish().map_err(fail_arrow)?;
        }
        Kind::Parquet => {
            let props = parquet::file::properties::WriterProperties::builder()
                .set_compression(parquet::basic::Compression::UNCOMPRESSED)
                .set_created_by(format!("dynlib {}", env!("CARGO_PKG_VERSION")))
                .build();
            // The writer wants a `Send` sink; it writes into this buffer, which is passed
            // on to `out` after every row group (the writer counts offsets itself).
            let mut w =
                parquet::arrow::ArrowWriter::try_new(Vec::new(), schema.clone(), Some(props))
                    .map_err(fail_parquet)?;
            for b in batches.by_ref() {
                w.write(&b?).map_err(fail_parquet)?;
                // One row group per table: a reader can skip points it does not want.
                w.flush().map_err(fail_parquet)?;
                let bytes = std::mem::take(w.inner_mut());
                out.write_all(&bytes)?;
            }
            let rest = w.into_inner().map_err(fail_parquet)?;
            out.write_all(&rest)?;
        }
    }
    Ok(())
}

/// Without the `columnar` feature there is no Parquet or Arrow writer.
#[cfg(not(feature = "columnar"))]
fn write_arrow(
    kind: Kind,
    _: &[(String, ColType)],
    _: impl Iterator<Item = Vec<Col>>,
    _: &[(String, String)],
    _: &mut dyn std::io::Write,
) -> std::io::Result<()> {
    Err(std::io::Error::other(format!(
        "this dynlib was built without the `columnar` feature: no {kind:?} output; use .npz, \
         .csv or .json, or rebuild with the default features"
    )))
}
