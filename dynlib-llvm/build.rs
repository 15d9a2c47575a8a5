//! Records what, besides the IR, decides the bytes this crate generates, because every cache
//! key must change when they change: the exact LLVM version linked (`llvm-config --version`
//! of the LLVM llvm-sys found), and a digest of the translator's sources (see
//! `../dynlib-native/digest.rs`), so that changing how IR is translated invalidates cached
//! objects without anyone bumping a version by hand.

include!("../dynlib-native/digest.rs");

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

    // The same digest dynlib-native computes (the same files, the same code), so the
    // plugin can prove it was built from the sources its loader was.
    println!(
        "cargo:rustc-env=DYNLIB_TRANSLATOR_DIGEST={}",
        translator_digest()
    );
    println!("cargo:rerun-if-changed=src");
    println!("cargo:rerun-if-changed=../dynlib-ir/src");
}
