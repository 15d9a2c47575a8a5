//! Records the exact LLVM version this crate links (`llvm-config --version` of the LLVM that
//! llvm-sys found), because generated code, and so every cache key, depends on it.

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
}
