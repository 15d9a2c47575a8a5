//! Model URIs: from the string a user passes to the model text and where it came from
//! (dsl.md §17.1).
//!
//! Forms:
//! - `inline: <TOML>`: the text itself, never split on `#`;
//! - `TAG://rel/path[#fragment]`: searched in the roots of `TAG` ([`Config`]), first root wins;
//! - `builtin://kind/name[.toml]`: user roots for `builtin` first, then the models embedded
//!   in the binary ([`builtin_models`]);
//! - a plain path, absolute or relative to the working directory, `~` and `$VAR` expanded.
//!
//! An extensionless name also tries `name.toml`; when both exist the URI is ambiguous.

use std::path::{Path, PathBuf};

use crate::config::{
    absolute, expand_path, expand_str, expand_vars, resolve_path, Env, ProcessEnv,
};
use crate::{Config, Error};

/// Where a model text came from; loaders use it to name the source in messages.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Origin {
    /// The URI itself held the text (`inline:`).
    Inline,
    /// A file, by its resolved absolute path.
    File(PathBuf),
    /// An embedded builtin model, as `"kind/name"` (`"ode/lorenz"`).
    Builtin(String),
}

/// A resolved URI: the model text, its origin and the `#fragment`, if any.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResolvedUri {
    /// The model text (TOML).
    pub text: String,
    /// Where the text came from.
    pub origin: Origin,
    /// The trimmed text after the first `#` of a non-inline URI (`mod=NAME`); `None` when
    /// absent or empty.
    pub fragment: Option<String>,
}

/// A model file compiled into the binary, reachable as `builtin://kind/name`.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct BuiltinModel {
    /// `"map"` or `"ode"`: the directory the file sits in.
    pub kind: &'static str,
    /// The file name without `.toml` (`"lorenz"`).
    pub name: &'static str,
    /// The file's text.
    pub text: &'static str,
}

impl BuiltinModel {
    /// The URI that loads this model (`builtin://ode/lorenz`).
    pub fn uri(&self) -> String {
        format!("builtin://{}/{}", self.kind, self.name)
    }
}

macro_rules! builtin {
    ($kind:literal, $name:literal) => {
        BuiltinModel {
            kind: $kind,
            name: $name,
            text: include_str!(concat!("../models/", $kind, "/", $name, ".toml")),
        }
    };
}

// Sorted by kind, then name (byte order), which `builtin_models` promises.
static BUILTINS: [BuiltinModel; 19] = [
    builtin!("map", "henon"),
    builtin!("map", "henon2"),
    builtin!("map", "ikeda"),
    builtin!("map", "logistic"),
    builtin!("map", "lozi"),
    builtin!("map", "sine"),
    builtin!("map", "standard"),
    builtin!("ode", "duffing"),
    builtin!("ode", "eto-circular"),
    builtin!("ode", "exp-if"),
    builtin!("ode", "expdecay"),
    builtin!("ode", "fitzhugh-nagumo"),
    builtin!("ode", "hodgkin-huxley"),
    builtin!("ode", "izhikevich"),
    builtin!("ode", "leaky-if"),
    builtin!("ode", "lorenz"),
    builtin!("ode", "quadratic-if"),
    builtin!("ode", "resonate-if"),
    builtin!("ode", "vanderpol"),
];

/// Every embedded builtin model, sorted by kind and then name.
pub fn builtin_models() -> &'static [BuiltinModel] {
    &BUILTINS
}

/// The embedded model `"kind/name"` (`"ode/lorenz"`), if there is one.
pub fn builtin_model(kind_name: &str) -> Option<&'static BuiltinModel> {
    let (kind, name) = kind_name.split_once('/')?;
    BUILTINS.iter().find(|m| m.kind == kind && m.name == name)
}

/// The tag whose URIs also reach the embedded models.
const BUILTIN_TAG: &str = "builtin";

/// How candidates inside the embedded models are shown in "not found" messages; it is not a
/// real directory, which the angle brackets make plain.
const EMBEDDED_ROOT: &str = "<builtin>";

/// Resolves `uri` and reads the model text. See the module documentation for the forms.
///
/// Errors: [`Error::NotFound`] (with every candidate tried), [`Error::Ambiguous`] (both `p` and
/// `p.toml` exist), [`Error::PathTraversal`] (a `TAG://` path leaving its root),
/// [`Error::Config`] (an unknown tag) and [`Error::Io`] (unreadable or non-UTF-8 file).
pub fn resolve(uri: &str, config: &Config) -> Result<ResolvedUri, Error> {
    resolve_in(uri, config, &ProcessEnv)
}

/// Every `*.toml` file under the roots of every configured tag, recursively, sorted within
/// each root; tags in configuration order. Roots that do not exist are skipped. The embedded
/// builtin models are not included (see [`builtin_models`]).
pub fn list_tagged(config: &Config) -> Vec<TaggedModel> {
    list_tagged_in(config, &ProcessEnv)
}

/// A model file found under a tag root.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TaggedModel {
    /// The tag.
    pub tag: String,
    /// The URI that loads it: `TAG://rel/path` without the `.toml` suffix.
    pub uri: String,
    /// The file.
    pub path: PathBuf,
}

fn list_tagged_in(config: &Config, env: &dyn Env) -> Vec<TaggedModel> {
    let mut out = Vec::new();
    for (tag, roots) in config.tags() {
        let mut seen: Vec<PathBuf> = Vec::new();
        for root in roots {
            let root = resolve_path(&absolute(&expand_path(root, env), env));
            let mut files = Vec::new();
            collect_toml(&root, &mut files);
            files.sort();
            for f in files {
                if !seen.contains(&f) {
                    seen.push(f.clone());
                    let rel = f.strip_prefix(&root).unwrap_or(&f).with_extension("");
                    let rel: Vec<String> = rel
                        .components()
                        .map(|c| c.as_os_str().to_string_lossy().into_owned())
                        .collect();
                    let uri = format!("{tag}://{}", rel.join("/"));
                    out.push(TaggedModel {
                        tag: tag.clone(),
                        uri,
                        path: f,
                    });
                }
            }
        }
    }
    out
}

/// Symlinked directories are not entered, so a link loop cannot make the walk endless.
fn collect_toml(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let Ok(ft) = entry.file_type() else { continue };
        if ft.is_dir() {
            collect_toml(&path, out);
        } else if path.extension().is_some_and(|e| e == "toml") && path.is_file() {
            out.push(path);
        }
    }
}

/// What a URI led to, before reading.
enum Found {
    File(PathBuf),
    Embedded(&'static BuiltinModel),
}

fn resolve_in(uri: &str, config: &Config, env: &dyn Env) -> Result<ResolvedUri, Error> {
    let trimmed = uri.trim();
    if let Some(text) = trimmed.strip_prefix("inline:") {
        return Ok(ResolvedUri {
            text: text.trim().to_string(),
            origin: Origin::Inline,
            fragment: None,
        });
    }
    let (base, fragment) = match trimmed.split_once('#') {
        Some((base, frag)) => {
            let frag = frag.trim();
            (base.trim(), (!frag.is_empty()).then(|| frag.to_string()))
        }
        None => (trimmed, None),
    };
    let found = match base.split_once("://") {
        Some((tag, rel)) => resolve_tagged(base, tag.trim(), rel.trim(), config, env)?,
        None => Found::File(resolve_plain(base, env)?),
    };
    Ok(match found {
        Found::File(path) => {
            let text = read_text(&path)?;
            ResolvedUri {
                text,
                origin: Origin::File(path),
                fragment,
            }
        }
        Found::Embedded(m) => ResolvedUri {
            text: m.text.to_string(),
            origin: Origin::Builtin(format!("{}/{}", m.kind, m.name)),
            fragment,
        },
    })
}

fn resolve_tagged(
    uri: &str,
    tag: &str,
    rel: &str,
    config: &Config,
    env: &dyn Env,
) -> Result<Found, Error> {
    let configured = config.tags().iter().any(|(t, _)| t == tag);
    if !configured && tag != BUILTIN_TAG {
        let mut known: Vec<&str> = config.tags().iter().map(|(t, _)| t.as_str()).collect();
        if !known.contains(&BUILTIN_TAG) {
            known.push(BUILTIN_TAG);
        }
        return Err(Error::config(unknown_tag_message(tag, uri, &known)));
    }
    let mut candidates = Vec::new();
    if let Some(path) = search_roots(uri, config.roots(tag), rel, env, &mut candidates)? {
        return Ok(Found::File(path));
    }
    if tag == BUILTIN_TAG {
        if let Some(m) = search_embedded(uri, rel, env, &mut candidates)? {
            return Ok(Found::Embedded(m));
        }
    }
    Err(not_found(uri, candidates))
}

/// `NotFound`, unless one of the candidates exists as something other than a regular file
/// (a directory, FIFO or device): then say what it is.
fn not_found(uri: &str, candidates: Vec<PathBuf>) -> Error {
    for c in &candidates {
        if let Some(kind) = dynlib_fs::FileKind::at(c, dynlib_fs::Follow::Yes) {
            if kind != dynlib_fs::FileKind::Regular {
                return Error::NotAFile {
                    path: c.clone(),
                    reason: format!("it is {kind}, not a regular file"),
                };
            }
        }
    }
    Error::NotFound {
        uri: uri.to_string(),
        candidates,
    }
}

fn unknown_tag_message(tag: &str, uri: &str, known: &[&str]) -> String {
    if known.is_empty() {
        format!(
            "Unknown tag '{tag}' in URI: {uri}. No tags configured. Check your config file or \
             DYN_MODEL_PATH."
        )
    } else {
        format!(
            "Unknown tag '{tag}' in URI: {uri}. Known tags: {}",
            known.join(", ")
        )
    }
}

/// Searches `roots` in order; the first root with a match wins. Every candidate tried is
/// appended to `candidates` for the "not found" message.
fn search_roots(
    uri: &str,
    roots: &[PathBuf],
    rel: &str,
    env: &dyn Env,
    candidates: &mut Vec<PathBuf>,
) -> Result<Option<PathBuf>, Error> {
    // `~` in the relative part is an ordinary name; only variables are expanded there.
    let rel = PathBuf::from(expand_vars(rel, env));
    for root in roots {
        let root = resolve_path(&absolute(&expand_path(root, env), env));
        let candidate = resolve_path(&root.join(&rel));
        check_inside(uri, &candidate, &root)?;
        // `proj://` names the root itself, whose `.toml` sibling lies outside it.
        let variants = if candidate == root {
            vec![candidate]
        } else {
            let variants = variants(&candidate);
            for v in &variants[1..] {
                // Only a symlink can take the `.toml` sibling out of the root.
                check_inside(uri, &resolve_path(v), &root)?;
            }
            variants
        };
        if let Some(found) = pick_existing(uri, &variants)? {
            return Ok(Some(resolve_path(&found)));
        }
        candidates.extend(variants);
    }
    Ok(None)
}

/// The traversal check of the reference: a candidate must lie inside its root. It runs before
/// existence is tested, so `proj://../x.toml` fails even when nothing is there.
fn check_inside(uri: &str, path: &Path, root: &Path) -> Result<(), Error> {
    if path.starts_with(root) {
        Ok(())
    } else {
        Err(Error::PathTraversal {
            uri: uri.to_string(),
            path: path.to_path_buf(),
            root: root.to_path_buf(),
        })
    }
}

/// `p`, plus `p.toml` when the last component has no suffix (`model.v2` has one, `.hidden`
/// does not, as with Python's `Path.suffix`).
fn variants(p: &Path) -> Vec<PathBuf> {
    let mut out = vec![p.to_path_buf()];
    if p.file_name().is_some() && p.extension().is_none_or(|e| e.is_empty()) {
        let mut with_toml = p.as_os_str().to_os_string();
        with_toml.push(".toml");
        out.push(PathBuf::from(with_toml));
    }
    out
}

/// The one variant that is an existing file. Directories do not count, so a directory `m`
/// next to `m.toml` is not an ambiguity.
fn pick_existing(uri: &str, variants: &[PathBuf]) -> Result<Option<PathBuf>, Error> {
    let matches: Vec<PathBuf> = variants.iter().filter(|p| p.is_file()).cloned().collect();
    match matches.len() {
        0 => Ok(None),
        1 => Ok(matches.into_iter().next()),
        _ => Err(Error::Ambiguous {
            uri: uri.to_string(),
            matches,
        }),
    }
}

fn search_embedded(
    uri: &str,
    rel: &str,
    env: &dyn Env,
    candidates: &mut Vec<PathBuf>,
) -> Result<Option<&'static BuiltinModel>, Error> {
    let rel = expand_vars(rel, env);
    let mut parts: Vec<&str> = Vec::new();
    for part in rel.split(['/', '\\']) {
        match part {
            "" | "." => {}
            ".." => {
                if parts.pop().is_none() {
                    return Err(Error::PathTraversal {
                        uri: uri.to_string(),
                        path: Path::new(EMBEDDED_ROOT).join(&rel),
                        root: PathBuf::from(EMBEDDED_ROOT),
                    });
                }
            }
            _ => parts.push(part),
        }
    }
    let key = parts.join("/");
    let tried = if parts.is_empty() {
        vec![PathBuf::from(key)]
    } else {
        variants(Path::new(&key))
    };
    for t in tried {
        let t = t.to_string_lossy().into_owned();
        let hit = t
            .strip_suffix(".toml")
            .and_then(|kind_name| builtin_model(kind_name));
        if let Some(m) = hit {
            return Ok(Some(m));
        }
        candidates.push(Path::new(EMBEDDED_ROOT).join(&t));
    }
    Ok(None)
}

fn resolve_plain(uri: &str, env: &dyn Env) -> Result<PathBuf, Error> {
    let path = resolve_path(&absolute(&expand_str(uri, env), env));
    let variants = if uri.is_empty() {
        vec![path]
    } else {
        variants(&path)
    };
    match pick_existing(uri, &variants)? {
        Some(found) => Ok(resolve_path(&found)),
        None => Err(not_found(uri, variants)),
    }
}

/// The largest model or mod file dynlib reads (a model of thousands of states is a few
/// megabytes; anything larger is a mistake, such as a link to a disk image).
pub const MODEL_FILE_LIMIT: u64 = 64 << 20;

/// Reads a model file as UTF-8: a regular file (never a FIFO or a device, which could hang
/// or never end) of at most [`MODEL_FILE_LIMIT`] bytes; other encodings are an I/O error of
/// kind `InvalidData` that gives the line and column of the first bad byte.
fn read_text(path: &Path) -> Result<String, Error> {
    let bytes = match dynlib_fs::read_file(path, MODEL_FILE_LIMIT, dynlib_fs::Follow::Yes) {
        Ok(b) => b,
        Err(dynlib_fs::ReadError::Io(source)) => {
            return Err(Error::Io {
                path: path.to_path_buf(),
                source,
            })
        }
        Err(other) => {
            return Err(Error::NotAFile {
                path: path.to_path_buf(),
                reason: other.to_string(),
            })
        }
    };
    dynlib_fs::utf8_text(bytes).map_err(|why| Error::Io {
        path: path.to_path_buf(),
        source: std::io::Error::new(std::io::ErrorKind::InvalidData, why.to_string()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::tests::{TempDir, TestEnv};

    const MODEL: &str = "#! dynlib\n[model]\ntype = \"ode\"\n[states]\nx = 1.0\n";

    fn env_in(dir: &TempDir) -> TestEnv {
        TestEnv::new(dir.path())
    }

    fn file_of(r: &ResolvedUri) -> &Path {
        match &r.origin {
            Origin::File(p) => p,
            other => panic!("expected a file origin, got {other:?}"),
        }
    }

    #[test]
    fn inline_forms() {
        let c = Config::empty();
        let r = resolve("inline: [model]\ntype='ode'", &c).unwrap();
        assert_eq!(r.text, "[model]\ntype='ode'");
        assert_eq!(r.origin, Origin::Inline);
        assert_eq!(r.fragment, None);
        // Separate-line style, with whitespace the reference would reject on either side.
        let r = resolve("  \n inline:  \n    [model]\n    type='map'\n", &c).unwrap();
        assert_eq!(r.text, "[model]\n    type='map'");
        // Never split on '#': the fragment is a TOML comment.
        let r = resolve("inline: [model] #mod=drive\ntype='ode'", &c).unwrap();
        assert_eq!(r.text, "[model] #mod=drive\ntype='ode'");
        assert_eq!(r.fragment, None);
    }

    #[test]
    fn fragment_split() {
        let dir = TempDir::new("frag");
        let f = dir.write("m.toml", MODEL);
        let env = env_in(&dir);
        let r = resolve_in(" m.toml # mod=drive ", &Config::empty(), &env).unwrap();
        assert_eq!(r.fragment.as_deref(), Some("mod=drive"));
        assert_eq!(file_of(&r), f);
        assert_eq!(r.text, MODEL);
        let r = resolve_in("m.toml#", &Config::empty(), &env).unwrap();
        assert_eq!(r.fragment, None);
        // Only the first '#' splits.
        let r = resolve_in("m.toml#a#b", &Config::empty(), &env).unwrap();
        assert_eq!(r.fragment.as_deref(), Some("a#b"));
    }

    #[test]
    fn plain_paths_and_extension_inference() {
        let dir = TempDir::new("plain");
        let f = dir.write("sub/model.toml", MODEL);
        let env = env_in(&dir);
        let c = Config::empty();
        assert_eq!(file_of(&resolve_in("sub/model", &c, &env).unwrap()), f);
        assert_eq!(file_of(&resolve_in("sub/model.toml", &c, &env).unwrap()), f);
        assert_eq!(
            file_of(&resolve_in("./sub/../sub/model", &c, &env).unwrap()),
            f
        );
        let abs = f.display().to_string();
        assert_eq!(file_of(&resolve_in(&abs, &c, &Env2).unwrap()), f);
        // A name with a suffix gets no `.toml` attempt.
        dir.write("sub/model.v2.toml", MODEL);
        match resolve_in("sub/model.v2", &c, &env).unwrap_err() {
            Error::NotFound { uri, candidates } => {
                assert_eq!(uri, "sub/model.v2");
                assert_eq!(candidates, [dir.path().join("sub/model.v2")]);
            }
            other => panic!("{other:?}"),
        }
        match resolve_in("nope", &c, &env).unwrap_err() {
            Error::NotFound { candidates, .. } => {
                assert_eq!(
                    candidates,
                    [dir.path().join("nope"), dir.path().join("nope.toml")]
                );
            }
            other => panic!("{other:?}"),
        }
    }

    /// An environment with nothing set and no working directory, for absolute paths.
    struct Env2;
    impl Env for Env2 {
        fn var(&self, _: &str) -> Option<String> {
            None
        }
        fn home(&self) -> Option<PathBuf> {
            None
        }
        fn cwd(&self) -> Option<PathBuf> {
            None
        }
    }

    #[test]
    fn home_and_var_expansion() {
        let dir = TempDir::new("expand");
        let f = dir.write("home/models/m.toml", MODEL);
        let mut env = TestEnv::new(Path::new("/nonexistent-cwd"));
        env.home = Some(dir.path().join("home"));
        env.vars.push((
            "DYNLIB_URI_TEST_MODELS".into(),
            dir.path().join("home/models").display().to_string(),
        ));
        let c = Config::empty();
        assert_eq!(file_of(&resolve_in("~/models/m", &c, &env).unwrap()), f);
        assert_eq!(
            file_of(&resolve_in("$DYNLIB_URI_TEST_MODELS/m.toml", &c, &env).unwrap()),
            f
        );
        assert_eq!(
            file_of(&resolve_in("${DYNLIB_URI_TEST_MODELS}/m", &c, &env).unwrap()),
            f
        );
        // Tag roots expand too, and so do variables in the relative part.
        let c = Config::empty().with_tag("proj", ["~/models"]);
        assert_eq!(file_of(&resolve_in("proj://m", &c, &env).unwrap()), f);
        let c = Config::empty().with_tag("proj", ["$DYNLIB_URI_TEST_MODELS"]);
        assert_eq!(file_of(&resolve_in("proj://m.toml", &c, &env).unwrap()), f);
        env.vars.push(("DYNLIB_URI_TEST_NAME".into(), "m".into()));
        assert_eq!(
            file_of(&resolve_in("proj://$DYNLIB_URI_TEST_NAME", &c, &env).unwrap()),
            f
        );
    }

    #[test]
    fn real_env_expansion_through_resolve() {
        // A variable no other test uses, set once, so parallel tests cannot race on it.
        let dir = TempDir::new("realenv");
        let f = dir.write("m.toml", MODEL);
        std::env::set_var("DYNLIB_MODEL_URI_RS_UNIQUE_DIR", dir.path());
        let r = resolve("$DYNLIB_MODEL_URI_RS_UNIQUE_DIR/m", &Config::empty()).unwrap();
        assert_eq!(file_of(&r), f);
    }

    #[test]
    fn first_root_wins_and_nested_paths() {
        let a = TempDir::new("rootA");
        let b = TempDir::new("rootB");
        b.write("only_b.toml", MODEL);
        let fa = a.write("both.toml", "#! dynlib\n# a\n");
        b.write("both.toml", "#! dynlib\n# b\n");
        let fn_ = b.write("deep/er/nested.toml", MODEL);
        let c = Config::empty().with_tag("proj", [a.path(), b.path()]);
        let env = env_in(&a);
        let r = resolve_in("proj://both", &c, &env).unwrap();
        assert_eq!(file_of(&r), fa);
        assert_eq!(r.text, "#! dynlib\n# a\n");
        let r = resolve_in("proj://only_b.toml", &c, &env).unwrap();
        assert_eq!(file_of(&r), b.path().join("only_b.toml"));
        let r = resolve_in("proj://deep/er/nested#mod=x", &c, &env).unwrap();
        assert_eq!(file_of(&r), fn_);
        assert_eq!(r.fragment.as_deref(), Some("mod=x"));
        // Going up and down again inside the root is fine.
        let r = resolve_in("proj://deep/../deep/er/nested", &c, &env).unwrap();
        assert_eq!(file_of(&r), fn_);
    }

    #[test]
    fn relative_roots_use_the_working_directory() {
        let dir = TempDir::new("relroot");
        let f = dir.write("models/m.toml", MODEL);
        let c = Config::empty().with_tag("proj", ["models"]);
        assert_eq!(
            file_of(&resolve_in("proj://m", &c, &env_in(&dir)).unwrap()),
            f
        );
    }

    #[test]
    fn ambiguous_extensionless() {
        let dir = TempDir::new("ambig");
        let p = dir.write("m", MODEL);
        let pt = dir.write("m.toml", MODEL);
        let env = env_in(&dir);
        let c = Config::empty().with_tag("proj", [dir.path()]);
        for uri in ["m", "proj://m"] {
            match resolve_in(uri, &c, &env).unwrap_err() {
                e @ Error::Ambiguous { .. } => {
                    let Error::Ambiguous { uri: u, matches } = &e else {
                        unreachable!()
                    };
                    assert_eq!(u, uri);
                    assert_eq!(matches, &[p.clone(), pt.clone()]);
                    assert!(e.to_string().contains("Please use an explicit filename."));
                }
                other => panic!("{other:?}"),
            }
        }
        // Explicit names are not ambiguous; a directory does not count as a match.
        assert_eq!(file_of(&resolve_in("proj://m.toml", &c, &env).unwrap()), pt);
        std::fs::create_dir(dir.path().join("d")).unwrap();
        let pd = dir.write("d.toml", MODEL);
        assert_eq!(file_of(&resolve_in("proj://d", &c, &env).unwrap()), pd);
    }

    #[test]
    fn traversal_is_rejected_before_existence() {
        let dir = TempDir::new("trav");
        let root = dir.path().join("root");
        std::fs::create_dir_all(&root).unwrap();
        dir.write("secret.toml", MODEL);
        let c = Config::empty().with_tag("proj", [&root]);
        let env = env_in(&dir);
        for uri in [
            "proj://../secret.toml",
            "proj://../missing.toml",
            "proj://a/../../secret",
        ] {
            let e = resolve_in(uri, &c, &env).unwrap_err();
            assert!(e.to_string().contains(uri), "{e}");
            match e {
                Error::PathTraversal {
                    uri: u,
                    root: r,
                    path,
                } => {
                    assert_eq!(u, uri);
                    assert_eq!(r, root);
                    assert!(!path.starts_with(&root));
                }
                other => panic!("{other:?}"),
            }
        }
        let abs = format!("proj://{}", dir.path().join("secret.toml").display());
        assert!(matches!(
            resolve_in(&abs, &c, &env),
            Err(Error::PathTraversal { .. })
        ));
        // A traversal out of the builtin tag is caught too.
        assert!(matches!(
            resolve_in("builtin://../ode/lorenz", &Config::empty(), &env),
            Err(Error::PathTraversal { .. })
        ));
    }

    #[cfg(unix)]
    #[test]
    fn symlink_out_of_the_root_is_traversal() {
        let dir = TempDir::new("symtrav");
        let root = dir.path().join("root");
        std::fs::create_dir_all(&root).unwrap();
        let secret = dir.write("secret.toml", MODEL);
        std::os::unix::fs::symlink(&secret, root.join("link.toml")).unwrap();
        let c = Config::empty().with_tag("proj", [&root]);
        let env = env_in(&dir);
        assert!(matches!(
            resolve_in("proj://link.toml", &c, &env),
            Err(Error::PathTraversal { .. })
        ));
        assert!(matches!(
            resolve_in("proj://link", &c, &env),
            Err(Error::PathTraversal { .. })
        ));
    }

    #[test]
    fn not_found_lists_every_candidate() {
        let a = TempDir::new("nfA");
        let b = TempDir::new("nfB");
        let c = Config::empty().with_tag("proj", [a.path(), b.path()]);
        let e = resolve_in("proj://sub/m#mod=x", &c, &env_in(&a)).unwrap_err();
        let text = e.to_string();
        match e {
            Error::NotFound { uri, candidates } => {
                assert_eq!(uri, "proj://sub/m");
                let want = [
                    a.path().join("sub/m"),
                    a.path().join("sub/m.toml"),
                    b.path().join("sub/m"),
                    b.path().join("sub/m.toml"),
                ];
                assert_eq!(candidates, want);
            }
            other => panic!("{other:?}"),
        }
        assert!(
            text.starts_with("Model not found: proj://sub/m\nSearched locations:"),
            "{text}"
        );
        // `proj://` names the root directory (its `.toml` sibling is not tried), and a
        // directory is not a model: the error says what it is.
        match resolve_in("proj://", &c, &env_in(&a)).unwrap_err() {
            Error::NotAFile { path, reason } => {
                assert_eq!(path, a.path());
                assert!(reason.contains("directory"), "{reason}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn unknown_tag_lists_known_ones() {
        let dir = TempDir::new("unk");
        let env = env_in(&dir);
        let c = Config::empty()
            .with_tag("proj", ["/a"])
            .with_tag("user", ["/b"]);
        let m = resolve_in("nope://x.toml#mod=a", &c, &env)
            .unwrap_err()
            .to_string();
        assert_eq!(
            m,
            "Unknown tag 'nope' in URI: nope://x.toml. Known tags: proj, user, builtin"
        );
        // `builtin` is always known, so even an empty config names it.
        let m = resolve_in("nope://x", &Config::empty(), &env)
            .unwrap_err()
            .to_string();
        assert!(m.ends_with("Known tags: builtin"), "{m}");
        let m = unknown_tag_message("x", "x://y", &[]);
        assert!(
            m.ends_with("No tags configured. Check your config file or DYN_MODEL_PATH."),
            "{m}"
        );
        // A configured `builtin` tag is listed once, in its place.
        let c = Config::empty()
            .with_tag("builtin", ["/a"])
            .with_tag("proj", ["/b"]);
        let m = resolve_in("nope://x", &c, &env).unwrap_err().to_string();
        assert!(m.ends_with("Known tags: builtin, proj"), "{m}");
    }

    #[test]
    fn builtin_lookup() {
        let c = Config::empty();
        for uri in [
            "builtin://ode/lorenz",
            "builtin://ode/lorenz.toml",
            " builtin:// ode/./lorenz # mod=m ",
        ] {
            let r = resolve(uri, &c).unwrap();
            assert_eq!(r.origin, Origin::Builtin("ode/lorenz".into()), "{uri}");
            assert!(r.text.contains("Lorenz System"));
        }
        assert_eq!(
            resolve(" builtin://ode/lorenz#mod=m", &c)
                .unwrap()
                .fragment
                .as_deref(),
            Some("mod=m")
        );
        match resolve("builtin://ode/nope", &c).unwrap_err() {
            Error::NotFound { uri, candidates } => {
                assert_eq!(uri, "builtin://ode/nope");
                assert_eq!(
                    candidates,
                    [
                        PathBuf::from("<builtin>/ode/nope"),
                        PathBuf::from("<builtin>/ode/nope.toml")
                    ]
                );
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            resolve("builtin://map/lorenz", &c),
            Err(Error::NotFound { .. })
        ));
        assert!(matches!(
            resolve("builtin://ode/lorenz.v2", &c),
            Err(Error::NotFound { .. })
        ));
    }

    #[test]
    fn user_builtin_root_overrides_embedded() {
        let dir = TempDir::new("override");
        let f = dir.write("ode/lorenz.toml", "#! dynlib\n# mine\n");
        let c = Config::empty().with_tag("builtin", [dir.path()]);
        let env = env_in(&dir);
        let r = resolve_in("builtin://ode/lorenz", &c, &env).unwrap();
        assert_eq!(file_of(&r), f);
        assert_eq!(r.text, "#! dynlib\n# mine\n");
        // Other builtin models still come from the binary.
        let r = resolve_in("builtin://ode/vanderpol", &c, &env).unwrap();
        assert_eq!(r.origin, Origin::Builtin("ode/vanderpol".into()));
        // A miss lists the user root's candidates, then the embedded ones.
        match resolve_in("builtin://ode/nope", &c, &env).unwrap_err() {
            Error::NotFound { candidates, .. } => {
                assert_eq!(candidates.len(), 4);
                assert_eq!(candidates[0], dir.path().join("ode/nope"));
                assert_eq!(candidates[3], PathBuf::from("<builtin>/ode/nope.toml"));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn non_utf8_file_is_invalid_data() {
        let dir = TempDir::new("utf8");
        let p = dir.write("bad.toml", "");
        std::fs::write(&p, b"#! dynlib\nx = \"\xff\"\n").unwrap();
        match resolve_in("bad.toml", &Config::empty(), &env_in(&dir)).unwrap_err() {
            Error::Io { path, source } => {
                assert_eq!(path, p);
                assert_eq!(source.kind(), std::io::ErrorKind::InvalidData);
                let why = source.to_string();
                assert!(why.contains("not UTF-8"), "{why}");
                // Where the bad byte is, as a person counts: line and column.
                assert!(why.contains("line 2, column 6"), "{why}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[cfg(unix)]
    #[test]
    fn directories_fifos_and_devices_are_named_not_missing() {
        let dir = TempDir::new("kinds");
        let env = env_in(&dir);
        std::fs::create_dir(dir.path().join("adir.toml")).unwrap();
        let fifo = dir.path().join("pipe.toml");
        let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        std::os::unix::fs::symlink("/dev/zero", dir.path().join("zero.toml")).unwrap();
        for (uri, what) in [
            ("adir.toml", "a directory"),
            ("adir", "a directory"),
            ("pipe.toml", "a FIFO"),
            ("zero.toml", "a character device"),
        ] {
            let e = resolve_in(uri, &Config::empty(), &env).unwrap_err();
            let text = e.to_string();
            assert!(
                matches!(e, Error::NotAFile { .. }) && text.contains(what),
                "{uri}: {text}"
            );
        }
    }

    #[test]
    fn list_tagged_finds_toml_files() {
        let a = TempDir::new("listA");
        let b = TempDir::new("listB");
        a.write("z.toml", MODEL);
        a.write("sub/b.toml", MODEL);
        a.write("notes.txt", "x");
        b.write("m.toml", MODEL);
        let c = Config::empty()
            .with_tag("proj", [a.path(), a.path()])
            .with_tag("user", [b.path().to_path_buf(), b.path().join("missing")]);
        let got: Vec<(String, PathBuf)> = list_tagged_in(&c, &env_in(&a))
            .into_iter()
            .map(|m| (m.uri, m.path))
            .collect();
        let want = vec![
            ("proj://sub/b".to_string(), a.path().join("sub/b.toml")),
            ("proj://z".to_string(), a.path().join("z.toml")),
            ("user://m".to_string(), b.path().join("m.toml")),
        ];
        assert_eq!(got, want);
        assert!(list_tagged(&Config::empty()).is_empty());
    }

    #[test]
    fn embedded_models() {
        let models = builtin_models();
        assert_eq!(models.len(), 19);
        assert_eq!(models.iter().filter(|m| m.kind == "map").count(), 7);
        assert!(models
            .windows(2)
            .all(|w| (w[0].kind, w[0].name) < (w[1].kind, w[1].name)));
        for m in models {
            assert!(m.text.starts_with("#! dynlib\n"), "{}/{}", m.kind, m.name);
            let doc: toml_edit::DocumentMut = m
                .text
                .parse()
                .unwrap_or_else(|e| panic!("{}: {e}", m.uri()));
            assert_eq!(doc["model"]["type"].as_str(), Some(m.kind), "{}", m.uri());
            assert!(doc["states"].is_table(), "{}", m.uri());
            assert!(!m.text.contains('\r'));
            assert_eq!(builtin_model(&format!("{}/{}", m.kind, m.name)), Some(m));
        }
        assert_eq!(models[0].uri(), "builtin://map/henon");
        assert!(builtin_model("ode").is_none());
    }

    /// Initial states and params, in order, as the Python library reported them
    /// (reference/golden/<kind>_<name>.json); `beta` of lorenz is the string "8.0/3.0".
    #[test]
    fn embedded_models_match_the_golden_values() {
        type Vals = &'static [(&'static str, f64)];
        let table: &[(&str, Vals, Vals)] = &[
            (
                "map/henon",
                &[("x", 0.0), ("y", 0.0)],
                &[("a", 1.4), ("b", 0.3)],
            ),
            (
                "map/henon2",
                &[("x", 0.0), ("y", 0.0)],
                &[("a", 1.4), ("b", 0.3)],
            ),
            (
                "map/ikeda",
                &[("x", 0.1), ("y", 0.0)],
                &[("u", 0.9), ("a", 0.4), ("b", 6.0)],
            ),
            ("map/logistic", &[("x", 0.1)], &[("r", 4.0)]),
            (
                "map/lozi",
                &[("x", 0.0), ("y", 0.0)],
                &[("a", 1.7), ("b", 0.5)],
            ),
            ("map/sine", &[("x", 0.5)], &[("r", 0.9)]),
            (
                "map/standard",
                &[("p", 0.0), ("theta", 0.1)],
                &[("K", 0.971635)],
            ),
            (
                "ode/duffing",
                &[("x", 0.1), ("y", 0.1)],
                &[
                    ("delta", 0.2),
                    ("alpha", -1.0),
                    ("beta", 1.0),
                    ("gamma", 0.3),
                    ("omega", 1.2),
                ],
            ),
            (
                "ode/eto-circular",
                &[("x", 0.1), ("y", 0.1)],
                &[("a", 2.0), ("mu", 0.8)],
            ),
            (
                "ode/exp-if",
                &[("v", -70.0)],
                &[
                    ("tau", 15.0),
                    ("v_rest", -72.0),
                    ("v_th", -45.0),
                    ("v_reset", -75.0),
                    ("vt", -55.0),
                    ("D", 2.0),
                    ("I", 0.0),
                ],
            ),
            ("ode/expdecay", &[("x", 1.0)], &[("a", 1.0)]),
            (
                "ode/fitzhugh-nagumo",
                &[("V", -1.74), ("w", -1.48)],
                &[
                    ("a", 0.7),
                    ("b", 0.7),
                    ("R", 0.1),
                    ("I", 0.0),
                    ("tau", 12.5),
                ],
            ),
            (
                "ode/hodgkin-huxley",
                &[("V", -65.0), ("n", 0.31), ("m", 0.06), ("h", 0.61)],
                &[
                    ("C", 1.0),
                    ("EK", -77.0),
                    ("ENa", 55.0),
                    ("EL", -54.0),
                    ("gK", 36.0),
                    ("gNa", 120.0),
                    ("gL", 0.3),
                    ("I", 0.0),
                    ("Vmid_m", -40.0),
                    ("k_m", 9.0),
                    ("Vmax_m", -38.0),
                    ("sigma_m", 30.0),
                    ("Camp_m", 0.46),
                    ("Cbase_m", 0.04),
                    ("Vmid_h", -62.0),
                    ("k_h", -7.0),
                    ("Vmax_h", -67.0),
                    ("sigma_h", 20.0),
                    ("Camp_h", 7.4),
                    ("Cbase_h", 1.2),
                    ("Vmid_n", -53.0),
                    ("k_n", 15.0),
                    ("Vmax_n", -79.0),
                    ("sigma_n", 50.0),
                    ("Camp_n", 4.7),
                    ("Cbase_n", 1.1),
                ],
            ),
            (
                "ode/izhikevich",
                &[("v", -65.0), ("u", -13.0)],
                &[
                    ("a", 0.02),
                    ("b", 0.2),
                    ("c", -65.0),
                    ("d", 8.0),
                    ("I", 10.0),
                    ("v_th", 30.0),
                ],
            ),
            (
                "ode/leaky-if",
                &[("v", -65.0)],
                &[
                    ("tau", 10.0),
                    ("v_rest", -65.0),
                    ("v_th", -50.0),
                    ("v_reset", -65.0),
                    ("I", 0.0),
                ],
            ),
            (
                "ode/lorenz",
                &[("x", 1.0), ("y", 1.0), ("z", 1.0)],
                &[("sigma", 10.0), ("rho", 28.0), ("beta", 8.0 / 3.0)],
            ),
            (
                "ode/quadratic-if",
                &[("v", -65.0)],
                &[
                    ("tau", 15.0),
                    ("v_rest", -65.0),
                    ("v_th", 5.0),
                    ("v_reset", -70.0),
                    ("I", 0.0),
                    ("vt", -50.0),
                    ("R", 10.0),
                ],
            ),
            (
                "ode/resonate-if",
                &[("x", 0.0), ("y", 0.0)],
                &[
                    ("I", 0.0),
                    ("b", -0.05),
                    ("w", 0.25),
                    ("y_th", 1.0),
                    ("x_reset", 0.0),
                    ("y_reset", 1.0),
                ],
            ),
            ("ode/vanderpol", &[("x", 2.0), ("y", 0.0)], &[("mu", 1.0)]),
        ];
        assert_eq!(table.len(), 19);
        let values = |doc: &toml_edit::DocumentMut, t: &str| -> Vec<(String, f64)> {
            let Some(tbl) = doc.get(t).and_then(|i| i.as_table()) else {
                return Vec::new();
            };
            tbl.iter()
                .map(|(k, v)| {
                    let x = match (v.as_float(), v.as_str()) {
                        (Some(f), _) => f,
                        (None, Some("8.0/3.0")) => 8.0 / 3.0,
                        _ => panic!("{t}.{k} is not a float literal: {v}"),
                    };
                    (k.to_string(), x)
                })
                .collect()
        };
        for (id, states, params) in table {
            let m = builtin_model(id).unwrap();
            let doc: toml_edit::DocumentMut = m.text.parse().unwrap();
            let own = |v: Vals| {
                v.iter()
                    .map(|(k, x)| (k.to_string(), *x))
                    .collect::<Vec<_>>()
            };
            assert_eq!(values(&doc, "states"), own(states), "{id}");
            assert_eq!(values(&doc, "params"), own(params), "{id}");
        }
    }
}
