//! What the CLI's integration tests share.

use std::process::{Command, Output};

/// Runs the `dynlib` binary with `args` and returns what it did; fails the test with its
/// standard error unless it succeeded.
#[allow(dead_code)] // not every test runs the binary this way
pub fn dynlib_ok(args: &[&str]) -> Output {
    let o = Command::new(env!("CARGO_BIN_EXE_dynlib"))
        .args(args)
        .output()
        .expect("the dynlib binary runs");
    assert!(
        o.status.success(),
        "dynlib {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    o
}

/// A Parquet (`.parquet`) or Arrow IPC file's schema and record batches.
#[cfg(feature = "columnar")]
#[allow(dead_code)] // not every test reads columnar files
pub fn read_batches(
    path: &std::path::Path,
) -> (arrow_schema::SchemaRef, Vec<arrow_array::RecordBatch>) {
    let f = std::fs::File::open(path).unwrap();
    if path.extension().unwrap() == "parquet" {
        let b = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(f).unwrap();
        let schema = b.schema().clone();
        (schema, b.build().unwrap().map(Result::unwrap).collect())
    } else {
        let r = arrow_ipc::reader::FileReader::try_new(f, None).unwrap();
        let schema = r.schema();
        (schema, r.map(Result::unwrap).collect())
    }
}
