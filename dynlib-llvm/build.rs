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

    let mut files: Vec<_> = std::fs::read_dir("src")
        .expect("dynlib-llvm/src")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "rs"))
        .collect();
    files.sort();
    let mut h = Sha256::new();
    for f in &files {
        h.update(f.file_name().unwrap_or_default().as_encoded_bytes());
        h.update(std::fs::read(f).expect("readable source"));
        println!("cargo:rerun-if-changed={}", f.display());
    }
    h.update(std::fs::read(Path::new("build.rs")).unwrap_or_default());
    let digest: String = h.finalize().iter().map(|b| format!("{b:02x}")).collect();
    println!("cargo:rustc-env=DYNLIB_TRANSLATOR_DIGEST={digest}");
    println!("cargo:rerun-if-changed=src");
}
