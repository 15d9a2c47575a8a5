//! Records the translator digest (see `digest.rs`) and where cargo puts the LLVM backend
//! plugin of this build, so a program linking dynlib finds it without configuration.

include!("digest.rs");

fn main() {
    println!(
        "cargo:rustc-env=DYNLIB_TRANSLATOR_DIGEST={}",
        translator_digest()
    );
    // OUT_DIR is <target>/<profile>/build/dynlib-native-<hash>/out; cargo writes the cdylib
    // of a dependency (dynlib-llvm) to <target>/<profile>/deps.
    let out = std::path::PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    let deps = out
        .ancestors()
        .nth(3)
        .map(|profile| profile.join("deps"))
        .unwrap_or_default();
    println!("cargo:rustc-env=DYNLIB_BUILD_DEPS_DIR={}", deps.display());
    println!("cargo:rerun-if-changed=build.rs");
}
