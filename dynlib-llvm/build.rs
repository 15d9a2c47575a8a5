//! Records what, besides the IR, decides the bytes this crate generates, because every cache
//! key must change when they change: the exact LLVM version linked (`llvm-config --version`
//! of the LLVM llvm-sys found), and a digest of this crate's own source (the translator),
//! so that changing how IR is translated invalidates cached objects without anyone bumping
//! a version by hand.

use std::path::Path;

use sha2::{Digest, Sha256};

fn main() {
    let version = std::env::var("DEP_LLVM_14_CONFIG_PATH")
        .ok()
        .and_then(|path| {
            std::process::Command::new(path)
                .arg("--version")
                .output()
                .ok()
        })
        .filter(|out| out.status.success())
        .map(|out| String::from_utf8_lossy(&out.stdout).trim().to_string())
        .unwrap_or_else(|| "14".to_string());
    println!("cargo:rustc-env=DYNLIB_LLVM_VERSION={version}");
    println!("cargo:rerun-if-env-changed=DEP_LLVM_14_CONFIG_PATH");

    // The translator is this crate's source plus the dynlib-ir code it relies on (block
    // order from the dominator tree, reachability, types); hashing all of both is
    // conservative: at worst an unrelated change invalidates cached objects.
    let mut files = Vec::new();
    rust_files(Path::new("src"), &mut files);
    rust_files(Path::new("../dynlib-ir/src"), &mut files);
    files.sort();
    let mut h = Sha256::new();
    for f in &files {
        h.update(f.to_string_lossy().as_bytes());
        h.update(std::fs::read(f).expect("readable source"));
        println!("cargo:rerun-if-changed={}", f.display());
    }
    h.update(std::fs::read(Path::new("build.rs")).unwrap_or_default());
    let digest: String = h.finalize().iter().map(|b| format!("{b:02x}")).collect();
    println!("cargo:rustc-env=DYNLIB_TRANSLATOR_DIGEST={digest}");
    println!("cargo:rerun-if-changed=src");
    println!("cargo:rerun-if-changed=../dynlib-ir/src");
}

/// Every `.rs` file under `dir`, recursively (nothing if `dir` does not exist, as in a
/// published crate, where the version pins dynlib-ir instead).
fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
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
