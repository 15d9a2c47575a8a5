//! NumPy `.npz` files: a zip archive of `.npy` arrays (NumPy's format 1.0), stored without
//! compression as `numpy.savez` writes them; `numpy.load(path)[name]` gives each array back.
//!
//! The `.npy` encoding is written here (a 10-byte preamble, a Python-literal header padded
//! so the data starts at a multiple of 64 bytes, then the values little-endian: the format
//! NumPy specifies in `numpy.lib.format`); the archive is the `zip` crate's. Integers are
//! `<i8` / `<u8`, floats `<f8` (bit for bit), strings fixed-width UTF-32 `<U{n}`. An
//! integer column with missing values (a sweep point that failed before its first sample)
//! is written with 0 there and a boolean array `NAME.mask` beside it, true where a value is
//! missing (numpy.ma's convention: `numpy.ma.array(z[NAME], mask=z[NAME + ".mask"])`).

use std::io::{self, Write};

use crate::columnar::Col;

/// The `.npy` header of a one-dimensional array of `len` elements of type `descr`.
fn header(descr: &str, len: usize) -> Vec<u8> {
    let dict = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': ({len},), }}");
    // Magic, version 1.0, the header's length (u16), the header ending in a newline and
    // padded with spaces so the data is 64-byte aligned.
    let unpadded = 10 + dict.len() + 1;
    let total = unpadded.div_ceil(64) * 64;
    let mut out = Vec::with_capacity(total);
    out.extend_from_slice(b"\x93NUMPY\x01\x00");
    out.extend_from_slice(&((total - 10) as u16).to_le_bytes());
    out.extend_from_slice(dict.as_bytes());
    out.resize(total - 1, b' ');
    out.push(b'\n');
    out
}

/// The `.npy` bytes of `col`, missing integers as 0.
fn npy(col: &Col) -> Vec<u8> {
    match col {
        Col::U64(v) => {
            let mut out = header("<u8", v.len());
            v.iter()
                .for_each(|x| out.extend_from_slice(&x.to_le_bytes()));
            out
        }
        Col::I64(v) => {
            let mut out = header("<i8", v.len());
            v.iter()
                .for_each(|x| out.extend_from_slice(&x.unwrap_or(0).to_le_bytes()));
            out
        }
        Col::F64(v) => {
            let mut out = header("<f8", v.len());
            v.iter()
                .for_each(|x| out.extend_from_slice(&x.to_bits().to_le_bytes()));
            out
        }
        Col::Str(v) => {
            // NumPy has no zero-width strings: at least one character.
            let width = v
                .iter()
                .map(|s| s.chars().count())
                .max()
                .unwrap_or(0)
                .max(1);
            let mut out = header(&format!("<U{width}"), v.len());
            for s in v {
                let start = out.len();
                for c in s.chars() {
                    out.extend_from_slice(&u32::from(c).to_le_bytes());
                }
                out.resize(start + 4 * width, 0);
            }
            out
        }
    }
}

/// The `.npy` bytes of a boolean array.
fn npy_bool(v: &[bool]) -> Vec<u8> {
    let mut out = header("|b1", v.len());
    out.extend(v.iter().map(|&b| u8::from(b)));
    out
}

/// Writes `arrays` (name, values) as an `.npz` archive to `out`, in order. Names may hold
/// `/` (`events/spike/t`): `numpy.load` keys are the names as given. The archive is
/// assembled in memory (zip's central directory needs every member's size and offset),
/// then written in one piece.
pub fn write(arrays: Vec<(String, Col)>, out: &mut dyn Write) -> io::Result<()> {
    use zip::write::SimpleFileOptions;
    let fail = |e: zip::result::ZipError| match e {
        zip::result::ZipError::Io(io) => io,
        other => io::Error::other(format!("cannot build the .npz archive: {other}")),
    };
    let options = SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Stored)
        // Members over 4 GiB need ZIP64 records; NumPy reads them.
        .large_file(true);
    let mut zip = zip::ZipWriter::new(io::Cursor::new(Vec::new()));
    let member = |zip: &mut zip::ZipWriter<_>, name: &str, bytes: Vec<u8>| {
        zip.start_file(format!("{name}.npy"), options)
            .map_err(fail)?;
        zip.write_all(&bytes)
    };
    for (name, col) in &arrays {
        member(&mut zip, name, npy(col))?;
        if let Col::I64(v) = col {
            if v.iter().any(Option::is_none) {
                let mask: Vec<bool> = v.iter().map(Option::is_none).collect();
                member(&mut zip, &format!("{name}.mask"), npy_bool(&mask))?;
            }
        }
    }
    let bytes = zip.finish().map_err(fail)?.into_inner();
    out.write_all(&bytes)
}

/// Writes a file of tables as `.npz`: one array per field, the tables' rows one after
/// another (a sweep's points in order), as its Parquet and Arrow files hold them.
pub fn write_tables(
    fields: &[(String, crate::columnar::ColType)],
    tables: impl Iterator<Item = Vec<Col>>,
    out: &mut dyn Write,
) -> io::Result<()> {
    use crate::columnar::ColType;
    let mut cols: Vec<Col> = fields
        .iter()
        .map(|(_, t)| match t {
            ColType::U64 => Col::U64(Vec::new()),
            ColType::I64 => Col::I64(Vec::new()),
            ColType::F64 => Col::F64(Vec::new()),
            ColType::Str => Col::Str(Vec::new()),
        })
        .collect();
    for table in tables {
        for (c, t) in cols.iter_mut().zip(table) {
            c.append(t);
        }
    }
    write(
        fields.iter().map(|(n, _)| n.clone()).zip(cols).collect(),
        out,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reads back what `npy` wrote: the header's dictionary and the data bytes.
    fn parse(bytes: &[u8]) -> (String, &[u8]) {
        assert_eq!(&bytes[..8], b"\x93NUMPY\x01\x00");
        let len = u16::from_le_bytes([bytes[8], bytes[9]]) as usize;
        assert_eq!((10 + len) % 64, 0, "the data is 64-byte aligned");
        let header = std::str::from_utf8(&bytes[10..10 + len]).unwrap();
        assert!(header.ends_with('\n'));
        (header.trim_end().to_string(), &bytes[10 + len..])
    }

    #[test]
    fn arrays_are_npy_with_their_bits() {
        let xs = vec![1.5, -0.0, f64::NAN, f64::MIN_POSITIVE / 4.0, f64::INFINITY];
        let (h, data) = {
            let b = npy(&Col::F64(xs.clone()));
            let (h, d) = parse(&b);
            (h, d.to_vec())
        };
        assert_eq!(
            h,
            "{'descr': '<f8', 'fortran_order': False, 'shape': (5,), }"
        );
        let back: Vec<u64> = data
            .chunks(8)
            .map(|c| u64::from_le_bytes(c.try_into().unwrap()))
            .collect();
        assert_eq!(back, xs.iter().map(|x| x.to_bits()).collect::<Vec<_>>());

        let b = npy(&Col::Str(vec!["ok".into(), "failed".into(), "€".into()]));
        let (h, d) = parse(&b);
        assert!(h.contains("'<U6'"), "{h}");
        assert_eq!(d.len(), 3 * 6 * 4);
        assert_eq!(&d[48..52], &u32::from('€').to_le_bytes());

        let b = npy(&Col::I64(vec![Some(-3), None, Some(i64::MAX)]));
        let (h, d) = parse(&b);
        assert!(h.contains("'<i8'") && h.contains("(3,)"), "{h}");
        assert_eq!(&d[16..24], &i64::MAX.to_le_bytes());
    }

    #[test]
    fn empty_arrays_have_a_shape_of_zero() {
        let b = npy(&Col::Str(Vec::new()));
        let (h, d) = parse(&b);
        assert!(h.contains("'<U1'") && h.contains("(0,)"), "{h}");
        assert!(d.is_empty());
    }

    #[test]
    fn the_archive_holds_one_member_per_array_and_masks_missing_integers() {
        let mut out = Vec::new();
        write(
            vec![
                ("t".into(), Col::F64(vec![0.0, 0.5])),
                ("events/spike/t".into(), Col::F64(vec![])),
                ("step".into(), Col::I64(vec![Some(0), None])),
            ],
            &mut out,
        )
        .unwrap();
        let mut z = zip::ZipArchive::new(io::Cursor::new(out)).unwrap();
        let names: Vec<String> = z.file_names().map(String::from).collect();
        let mut sorted = names.clone();
        sorted.sort();
        assert_eq!(
            sorted,
            ["events/spike/t.npy", "step.mask.npy", "step.npy", "t.npy"]
        );
        let mut mask = Vec::new();
        io::Read::read_to_end(&mut z.by_name("step.mask.npy").unwrap(), &mut mask).unwrap();
        let (h, d) = parse(&mask);
        assert!(h.contains("'|b1'"), "{h}");
        assert_eq!(d, [0, 1]);
    }
}
