//! Links LLVM 14 statically and records what, besides the IR, decides the bytes this crate
//! generates, because every cache key must change when they change: the exact LLVM version
//! linked (`llvm-config --version`), and a digest of the translator's sources (see
//! `../dynlib-native/digest.rs`), so that changing how IR is translated invalidates cached
//! objects without anyone bumping a version by hand.
//!
//! Why static: the plugin (this crate's cdylib) is loaded by every `jit = true` process, and
//! loading the shared libLLVM (110 MB, its symbols resolved one by one, plus z3, libxml2
//! and ICU behind it) took 15–20 ms of a cold Lorenz build's ~60. With LLVM linked in, only
//! the archive members the translator uses are kept and the cdylib's symbols stay local
//! (rustc exports only the plugin's entry points): a 40 MB plugin that loads in ~3 ms.
//! llvm-sys's own static linking would name every archive `llvm-config --libnames` lists,
//! Polly too (a separate Debian package); this names them minus Polly, unbundled (the rlib
//! keeps no copy of them).

include!("../dynlib-native/digest.rs");

use std::process::Command;

/// `llvm-config` of LLVM 14: under `LLVM_SYS_140_PREFIX` when set (llvm-sys's variable),
/// else `llvm-config-14` or `llvm-config` on the path.
fn llvm_config() -> String {
    if let Some(prefix) = std::env::var_os("LLVM_SYS_140_PREFIX") {
        return std::path::Path::new(&prefix)
            .join("bin/llvm-config")
            .display()
            .to_string();
    }
    // An unversioned llvm-config may be another LLVM's: its archives would not match the
    // LLVM 14 bindings.
    for name in ["llvm-config-14", "llvm-config"] {
        let version = Command::new(name).arg("--version").output();
        if let Ok(out) = version {
            if out.status.success() && String::from_utf8_lossy(&out.stdout).starts_with("14.") {
                return name.to_string();
            }
        }
    }
    panic!("no llvm-config of LLVM 14 found: install llvm-14-dev or set LLVM_SYS_140_PREFIX");
}

/// What `llvm-config args` prints, trimmed.
fn ask(config: &str, args: &[&str]) -> String {
    let out = Command::new(config)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("running {config} {args:?}: {e}"));
    assert!(
        out.status.success(),
        "{config} {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Tells rustc to link LLVM's static archives (minus Polly) and the system libraries they
/// need.
fn link_llvm(config: &str) {
    println!(
        "cargo:rustc-link-search=native={}",
        ask(config, &["--libdir"])
    );
    for archive in ask(config, &["--link-static", "--libnames"]).split_whitespace() {
        let name = archive
            .strip_prefix("lib")
            .and_then(|n| n.strip_suffix(".a"))
            .unwrap_or_else(|| panic!("llvm-config named an archive {archive:?}"));
        if name.starts_with("Polly") {
            continue;
        }
        println!("cargo:rustc-link-lib=static:-bundle={name}");
    }
    // `-lz`, `-ltinfo`, or a path such as `/usr/lib/x86_64-linux-gnu/libz3.so`; the
    // linker drops those nothing uses (rustc links with --as-needed).
    for lib in ask(config, &["--link-static", "--system-libs"]).split_whitespace() {
        let name = match lib.strip_prefix("-l") {
            Some(name) => name.to_string(),
            None => {
                let path = std::path::Path::new(lib);
                if let Some(dir) = path.parent() {
                    println!("cargo:rustc-link-search=native={}", dir.display());
                }
                let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("");
                stem.strip_prefix("lib").unwrap_or(stem).to_string()
            }
        };
        println!("cargo:rustc-link-lib=dylib={name}");
    }
    println!("cargo:rustc-link-lib=dylib=stdc++");
    if relr_supported() {
        // 97,000 relative relocations of the plugin's 2.4 MB `.rela.dyn` become 29 KB of
        // `.relr.dyn`: dlopen of the plugin 4.8–6.9 ms → 3.8–4.2 ms (C dlopen timer, five
        // loads each, 2026-12-04).
        println!("cargo:rustc-cdylib-link-arg=-Wl,-z,pack-relative-relocs");
    }
}

/// Whether the linker packs relative relocations (binutils 2.38+) and the C library loads
/// them (glibc 2.36+: the packed plugin requires `GLIBC_ABI_DT_RELR`).
fn relr_supported() -> bool {
    let out = |cmd: &str, args: &[&str]| {
        Command::new(cmd)
            .args(args)
            .output()
            .ok()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default()
    };
    let linker = out("ld", &["--help"]).contains("pack-relative-relocs");
    // `ldd (Debian GLIBC 2.36-9+deb12u4) 2.36`: the last word of the first line.
    let glibc = out("ldd", &["--version"])
        .lines()
        .next()
        .and_then(|l| l.split_whitespace().last())
        .and_then(|v| {
            let (major, minor) = v.split_once('.')?;
            Some((major.parse::<u32>().ok()?, minor.parse::<u32>().ok()?))
        })
        .is_some_and(|v| v >= (2, 36));
    linker && glibc && std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux")
}

fn main() {
    let config = llvm_config();
    link_llvm(&config);
    let version = ask(&config, &["--version"]);
    println!("cargo:rustc-env=DYNLIB_LLVM_VERSION={version}");
    println!("cargo:rerun-if-env-changed=LLVM_SYS_140_PREFIX");

    // The same digest dynlib-native computes (the same files, the same code), so the
    // plugin can prove it was built from the sources its loader was.
    println!(
        "cargo:rustc-env=DYNLIB_TRANSLATOR_DIGEST={}",
        translator_digest()
    );
    println!("cargo:rerun-if-changed=src");
    println!("cargo:rerun-if-changed=../dynlib-ir/src");
}
