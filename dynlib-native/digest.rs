// Shared by the build scripts of dynlib-native and dynlib-llvm (`include!`d by both), so the
// two compute the same digest from the same files: dynlib-native checks that the LLVM backend
// it loads was built from exactly the sources it was built from, and uses the digest as the
// translator's identity in cache keys.

/// The source files that decide how IR becomes native code and how the two halves talk:
/// dynlib-ir (the IR, its printer and parser), dynlib-native (the plugin interface) and
/// dynlib-llvm (the translator), as paths relative to either crate's manifest directory.
const DIGEST_DIRS: [&str; 3] = ["../dynlib-ir/src", "../dynlib-native/src", "../dynlib-llvm/src"];

/// The build-time files that shape the translator besides its sources.
const DIGEST_FILES: [&str; 2] = ["../dynlib-native/digest.rs", "../dynlib-llvm/build.rs"];

/// The SHA-256 of every file of [`DIGEST_DIRS`] and [`DIGEST_FILES`] (path and contents, in
/// sorted order), as hex; asks cargo to rerun the build script when any of them changes.
fn translator_digest() -> String {
    use sha2::Digest;
    let mut files = Vec::new();
    for dir in DIGEST_DIRS {
        rust_files(std::path::Path::new(dir), &mut files);
        println!("cargo:rerun-if-changed={dir}");
    }
    files.extend(DIGEST_FILES.iter().map(std::path::PathBuf::from));
    files.sort();
    let mut h = sha2::Sha256::new();
    for f in &files {
        h.update(f.to_string_lossy().as_bytes());
        h.update(std::fs::read(f).unwrap_or_default());
        println!("cargo:rerun-if-changed={}", f.display());
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// Every `.rs` file under `dir`, recursively (nothing if `dir` does not exist, as in a
/// published crate, where the version pins the others instead).
fn rust_files(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}
