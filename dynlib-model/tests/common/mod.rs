//! Shared helpers: load inline model text with an empty configuration, and check errors.
#![allow(dead_code)]

use dynlib_model::{load_text, Config, DiagKind, Error, LoadOptions, Model, ModelErrors};

/// Options that never read the user's configuration.
pub fn opts() -> LoadOptions {
    LoadOptions::default().with_config(Config::default())
}

/// Loads model text.
pub fn load(src: &str) -> Result<Model, Error> {
    load_text(src, &opts())
}

/// Loads model text that must be valid.
pub fn ok(src: &str) -> Model {
    match load(src) {
        Ok(m) => m,
        Err(e) => panic!("expected the model to load, got:\n{e}"),
    }
}

/// Loads model text that must fail with model diagnostics.
pub fn errors(src: &str) -> ModelErrors {
    match load(src) {
        Ok(_) => panic!("expected an error for:\n{src}"),
        Err(Error::Model(m)) => m,
        Err(e) => panic!("expected a model error, got: {e}"),
    }
}

/// Asserts that loading fails with a diagnostic of `kind` whose message contains `fragment`.
/// Returns the rendered error text.
pub fn check_err(src: &str, kind: DiagKind, fragment: &str) -> String {
    let errs = errors(src);
    let text = errs.to_string();
    assert!(
        errs.diagnostics
            .iter()
            .any(|d| d.kind == kind && d.message.contains(fragment)),
        "expected {kind:?} containing {fragment:?}, got:\n{text}\n{errs:?}"
    );
    text
}

/// Like [`check_err`], and the rendered text must point at `line:col`.
pub fn check_err_at(src: &str, kind: DiagKind, fragment: &str, line: usize, col: usize) -> String {
    let text = check_err(src, kind, fragment);
    let pos = format!(":{line}:{col}");
    assert!(text.contains(&pos), "expected position {pos} in:\n{text}");
    text
}

/// A small valid ODE, to which tests append tables.
pub const BASE: &str = "[model]\ntype = \"ode\"\n[states]\nx = 1.0\n[params]\na = 2.0\n[equations.rhs]\nx = \"-a*x\"\n";

/// [`BASE`] followed by `extra`.
pub fn with(extra: &str) -> String {
    format!("{BASE}{extra}")
}

/// True when the kind is the one expected (helps readable asserts).
pub fn has(errs: &ModelErrors, kind: DiagKind) -> bool {
    errs.has(kind)
}

/// `extra` (top-level keys) followed by [`BASE`]: top-level keys must precede any table.
pub fn top(extra: &str) -> String {
    format!("{extra}{BASE}")
}
