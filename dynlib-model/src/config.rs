//! The registry configuration: which directories a `TAG://` URI searches, and where the JIT
//! disk cache lives (dsl.md §17.2, jit-cache.md §3).
//!
//! The configuration comes from two places: a TOML file (`[paths]`, `cache_root`, `[cache]`)
//! and the `DYN_MODEL_PATH` environment variable, whose roots are put in front of the file's so
//! the environment wins. It is read again by every [`Config::load`]; nothing is cached, so a
//! changed file takes effect on the next build.
//!
//! The `builtin` tag is not stored here: the builtin models are embedded in the binary, and
//! [`crate::uri::resolve`] searches them after any user roots configured for `builtin`.

use std::path::{Component, Path, PathBuf};

use crate::Error;

/// The parsed registry configuration: tag → ordered roots, plus an optional cache root.
///
/// Roots are kept as written (after `DYN_MODEL_PATH` merging) and expanded (`~`, `$VAR`) and
/// made absolute only when a URI is resolved, as the reference does, so a config value such as
/// `$PROJECT/models` follows the environment of the process that resolves it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Config {
    tags: Vec<(String, Vec<PathBuf>)>,
    cache_root: Option<PathBuf>,
    file: Option<PathBuf>,
}

impl Config {
    /// Reads the configuration of this process: the config file (see [`Config::default_path`])
    /// and `DYN_MODEL_PATH`. A missing file is not an error; the result then holds only what
    /// the environment gives.
    pub fn load() -> Result<Config, Error> {
        let env = ProcessEnv;
        let file = config_path(&env)?;
        let dyn_model_path = match std::env::var("DYN_MODEL_PATH") {
            Ok(v) => Some(v),
            Err(std::env::VarError::NotPresent) => None,
            Err(std::env::VarError::NotUnicode(v)) => {
                return Err(Error::config(format!(
                    "Invalid DYN_MODEL_PATH (not valid Unicode): {}",
                    v.to_string_lossy()
                )))
            }
        };
        Config::from_parts_in(file.as_deref(), dyn_model_path.as_deref(), &env)
    }

    /// The config file [`Config::load`] reads: `DYNLIB_CONFIG` when set (with `~` expanded, made
    /// absolute), otherwise `${XDG_CONFIG_HOME:-~/.config}/dynlib/config.toml` on Linux and
    /// other Unix systems, `~/Library/Application Support/dynlib/config.toml` on macOS and
    /// `%APPDATA%/dynlib/config.toml` on Windows.
    ///
    /// `None` when no home directory can be found, which behaves like a missing file. A missing
    /// `APPDATA` on Windows is an error, as in the reference.
    pub fn default_path() -> Result<Option<PathBuf>, Error> {
        config_path(&ProcessEnv)
    }

    /// Builds a configuration from a config file (`None`, or a path that does not exist, means
    /// no file) and the value of `DYN_MODEL_PATH`. This is the whole of [`Config::load`] except
    /// for finding the inputs, so tests and embedders can supply them explicitly.
    pub fn from_parts(file: Option<&Path>, dyn_model_path: Option<&str>) -> Result<Config, Error> {
        Config::from_parts_in(file, dyn_model_path, &ProcessEnv)
    }

    /// A configuration with no tags and no cache root (only the builtin models resolve).
    pub fn empty() -> Config {
        Config::default()
    }

    /// Adds roots to the end of `tag`'s list, creating the tag (last) when it is new. For
    /// building a configuration in code; roots are expanded at resolution like file roots.
    pub fn with_tag<I, P>(mut self, tag: &str, roots: I) -> Config
    where
        I: IntoIterator<Item = P>,
        P: Into<PathBuf>,
    {
        let roots = roots.into_iter().map(Into::into);
        match self.tags.iter_mut().find(|(t, _)| t == tag) {
            Some((_, existing)) => existing.extend(roots),
            None => self.tags.push((tag.to_string(), roots.collect())),
        }
        self
    }

    /// Sets the cache root. The path is used as given (no expansion).
    pub fn with_cache_root(mut self, root: impl Into<PathBuf>) -> Config {
        self.cache_root = Some(root.into());
        self
    }

    /// Every configured tag with its roots, in declaration order (file order, then tags that
    /// only `DYN_MODEL_PATH` names). Environment roots come before the file's for a tag.
    pub fn tags(&self) -> &[(String, Vec<PathBuf>)] {
        &self.tags
    }

    /// The roots of `tag`, in search order, as written; empty when the tag is not configured.
    pub fn roots(&self, tag: &str) -> &[PathBuf] {
        self.tags
            .iter()
            .find(|(t, _)| t == tag)
            .map(|(_, r)| r.as_slice())
            .unwrap_or(&[])
    }

    /// The configured cache root (top-level `cache_root`, else `[cache].root`), with `~` and
    /// `$VAR` expanded and made absolute. `None` means "use the platform default".
    pub fn cache_root(&self) -> Option<&Path> {
        self.cache_root.as_deref()
    }

    /// The config file that was read, if one existed.
    pub fn file(&self) -> Option<&Path> {
        self.file.as_deref()
    }

    pub(crate) fn from_parts_in(
        file: Option<&Path>,
        dyn_model_path: Option<&str>,
        env: &dyn Env,
    ) -> Result<Config, Error> {
        let mut config = Config::default();
        if let Some(path) = file.filter(|p| p.exists()) {
            config.read_file(path, env)?;
            config.file = Some(path.to_path_buf());
        }
        for (tag, env_roots) in parse_dyn_model_path(dyn_model_path.unwrap_or(""))? {
            let env_roots = env_roots.into_iter().map(PathBuf::from);
            match config.tags.iter_mut().find(|(t, _)| *t == tag) {
                Some((_, roots)) => {
                    let file_roots = std::mem::take(roots);
                    *roots = env_roots.chain(file_roots).collect();
                }
                None => config.tags.push((tag, env_roots.collect())),
            }
        }
        Ok(config)
    }

    fn read_file(&mut self, path: &Path, env: &dyn Env) -> Result<(), Error> {
        let shown = path.display();
        let fail =
            |why: String| Error::config(format!("Failed to load config from {shown}: {why}"));
        let text = dynlib_fs::read_text(path, CONFIG_FILE_LIMIT, dynlib_fs::Follow::Yes)
            .map_err(|e| fail(e.to_string()))?;
        let doc = text
            .parse::<toml_edit::DocumentMut>()
            .map_err(|e| fail(e.to_string().trim_end().to_string()))?;

        if let Some(paths) = doc.get("paths") {
            let table = paths.as_table_like().ok_or_else(|| {
                Error::config(format!("[paths] section must be a table in {shown}"))
            })?;
            for (tag, value) in table.iter() {
                let roots = paths_entry(tag, value, &shown.to_string())?;
                self.tags.push((tag.to_string(), roots));
            }
        }

        let raw_cache_root = match doc.get("cache_root") {
            Some(item) => Some(
                item.as_str()
                    .ok_or_else(|| Error::config("cache_root must be a string path in config"))?,
            ),
            // A non-table `cache` is ignored, like any other unknown key.
            None => match doc
                .get("cache")
                .and_then(|c| c.as_table_like())
                .and_then(|c| c.get("root"))
            {
                Some(item) => Some(
                    item.as_str()
                        .ok_or_else(|| Error::config("[cache].root must be a string path"))?,
                ),
                None => None,
            },
        };
        self.cache_root =
            match raw_cache_root {
                Some(raw) => Some(cache_root_path(raw, env).map_err(|why| {
                    Error::config(format!("cache_root = {raw:?} in {shown}: {why}"))
                })?),
                None => None,
            };
        Ok(())
    }
}

/// The most a configuration file may hold (they are a few lines).
pub const CONFIG_FILE_LIMIT: u64 = 1 << 20;

/// The cache root a configured string names, after `$VAR` and `~` expansion. It must be an
/// absolute path: an empty, relative or `~user` root would silently mean a folder under
/// whatever the working directory is, and a later `dynlib cache clear --all` run
/// elsewhere would clear another folder.
fn cache_root_path(raw: &str, env: &dyn Env) -> Result<PathBuf, String> {
    if raw.trim().is_empty() {
        return Err("the cache root must not be empty; give an absolute path".into());
    }
    let expanded = expand_str(raw, env);
    if expanded.to_string_lossy().starts_with('~') {
        return Err(format!(
            "`{}` is not expanded (only `~` and `~/...` are: the home directory); give an absolute path",
            expanded.display()
        ));
    }
    if !expanded.is_absolute() {
        return Err(format!(
            "`{}` is a relative path; the cache root must be absolute (or start with `~/` or an environment variable holding one)",
            expanded.display()
        ));
    }
    Ok(resolve_path(&expanded))
}

/// One `[paths]` entry: a string is a single root, an array must hold only strings.
fn paths_entry(tag: &str, value: &toml_edit::Item, shown: &str) -> Result<Vec<PathBuf>, Error> {
    if let Some(s) = value.as_str() {
        return Ok(vec![PathBuf::from(s)]);
    }
    let non_string = || {
        Error::config(format!(
            "[paths].{tag} contains non-string entry in {shown}"
        ))
    };
    if let Some(array) = value.as_array() {
        return array
            .iter()
            .map(|v| v.as_str().map(PathBuf::from).ok_or_else(non_string))
            .collect();
    }
    // `[[paths.tag]]` is a list too, but of tables, so its entries are what is wrong.
    if value.is_array_of_tables() {
        return Err(non_string());
    }
    Err(Error::config(format!(
        "[paths].{tag} must be a string or list of strings in {shown}"
    )))
}

/// Parses `DYN_MODEL_PATH`: `TAG=root1,root2` entries separated by `:` (`;` on Windows, where
/// `:` appears in drive letters). A tag named twice keeps its last roots.
fn parse_dyn_model_path(value: &str) -> Result<Vec<(String, Vec<String>)>, Error> {
    let tag_sep = if cfg!(windows) { ';' } else { ':' };
    let mut out: Vec<(String, Vec<String>)> = Vec::new();
    for entry in value
        .split(tag_sep)
        .map(str::trim)
        .filter(|e| !e.is_empty())
    {
        let (tag, roots) = entry.split_once('=').ok_or_else(|| {
            Error::config(format!(
                "Invalid DYN_MODEL_PATH entry (missing '='): {entry}"
            ))
        })?;
        let tag = tag.trim();
        if tag.is_empty() {
            return Err(Error::config(format!(
                "Empty tag in DYN_MODEL_PATH: {entry}"
            )));
        }
        let roots: Vec<String> = roots
            .split(',')
            .map(str::trim)
            .filter(|r| !r.is_empty())
            .map(str::to_string)
            .collect();
        if roots.is_empty() {
            return Err(Error::config(format!(
                "No paths for tag '{tag}' in DYN_MODEL_PATH"
            )));
        }
        match out.iter_mut().find(|(t, _)| t == tag) {
            Some((_, r)) => *r = roots,
            None => out.push((tag.to_string(), roots)),
        }
    }
    Ok(out)
}

fn config_path(env: &dyn Env) -> Result<Option<PathBuf>, Error> {
    if let Some(over) = env.var("DYNLIB_CONFIG").filter(|v| !v.is_empty()) {
        let p = PathBuf::from(expand_user(&over, env.home().as_deref()));
        return Ok(Some(resolve_path(&absolute(&p, env))));
    }
    let base = if cfg!(windows) {
        let appdata = env
            .var("APPDATA")
            .filter(|v| !v.is_empty())
            .ok_or_else(|| Error::config("APPDATA environment variable not set on Windows"))?;
        Some(PathBuf::from(appdata))
    } else if cfg!(target_os = "macos") {
        env.home()
            .map(|h| h.join("Library").join("Application Support"))
    } else {
        match env.var("XDG_CONFIG_HOME").filter(|v| !v.is_empty()) {
            Some(x) => Some(PathBuf::from(x)),
            None => env.home().map(|h| h.join(".config")),
        }
    };
    Ok(base.map(|b| b.join("dynlib").join("config.toml")))
}

/// What path expansion needs from the process, behind a trait so tests can supply their own
/// variables, home and working directory instead of mutating the (shared) process state.
pub(crate) trait Env {
    /// An environment variable, `None` when unset or not Unicode.
    fn var(&self, name: &str) -> Option<String>;
    /// The directory `~` stands for.
    fn home(&self) -> Option<PathBuf>;
    /// The directory relative paths are resolved against.
    fn cwd(&self) -> Option<PathBuf>;
}

/// The real process environment.
pub(crate) struct ProcessEnv;

impl Env for ProcessEnv {
    fn var(&self, name: &str) -> Option<String> {
        std::env::var(name).ok()
    }

    fn home(&self) -> Option<PathBuf> {
        // Like Python's expanduser: the variable first, so a test harness or sandbox that sets
        // HOME is honoured, then the platform's idea of the home directory.
        let var = if cfg!(windows) { "USERPROFILE" } else { "HOME" };
        self.var(var)
            .filter(|h| !h.is_empty())
            .map(PathBuf::from)
            .or_else(|| directories::BaseDirs::new().map(|b| b.home_dir().to_path_buf()))
    }

    fn cwd(&self) -> Option<PathBuf> {
        std::env::current_dir().ok()
    }
}

/// Expands `$VAR` and `${VAR}` like Python's `os.path.expandvars`: a variable that is not set
/// is left exactly as written, so a literal `$` in a path survives.
pub(crate) fn expand_vars(s: &str, env: &dyn Env) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(pos) = rest.find('$') {
        out.push_str(&rest[..pos]);
        let after = &rest[pos + 1..];
        let (name, len) = if let Some(braced) = after.strip_prefix('{') {
            match braced.find('}') {
                Some(end) => (&braced[..end], end + 2),
                None => ("", 0),
            }
        } else {
            let end = after
                .char_indices()
                .find(|&(_, c)| !(c.is_alphanumeric() || c == '_'))
                .map_or(after.len(), |(i, _)| i);
            (&after[..end], end)
        };
        match (len > 0 && !name.is_empty())
            .then(|| env.var(name))
            .flatten()
        {
            Some(value) => out.push_str(&value),
            None => out.push_str(&rest[pos..pos + 1 + len]),
        }
        rest = &after[len..];
    }
    out.push_str(rest);
    out
}

/// Expands a leading `~` (alone or followed by a separator) to the home directory. `~user` is
/// left alone: looking up other users' homes is not worth a platform dependency.
pub(crate) fn expand_user(s: &str, home: Option<&Path>) -> String {
    let Some(rest) = s.strip_prefix('~') else {
        return s.to_string();
    };
    let is_sep = |c: char| c == '/' || (cfg!(windows) && c == '\\');
    match home {
        Some(home) if rest.is_empty() || rest.starts_with(is_sep) => {
            let rest = rest.trim_start_matches(is_sep);
            if rest.is_empty() {
                home.to_string_lossy().into_owned()
            } else {
                home.join(rest).to_string_lossy().into_owned()
            }
        }
        _ => s.to_string(),
    }
}

/// Variables first, then `~`, in the reference's order (so `$HOME_ALIAS` may expand to `~/x`).
pub(crate) fn expand_str(s: &str, env: &dyn Env) -> PathBuf {
    PathBuf::from(expand_user(&expand_vars(s, env), env.home().as_deref()))
}

/// [`expand_str`] for a path that may not be Unicode; such a path is used unexpanded.
pub(crate) fn expand_path(p: &Path, env: &dyn Env) -> PathBuf {
    match p.to_str() {
        Some(s) => expand_str(s, env),
        None => p.to_path_buf(),
    }
}

/// Joins a relative path onto the working directory of `env`.
pub(crate) fn absolute(p: &Path, env: &dyn Env) -> PathBuf {
    if p.is_absolute() {
        return p.to_path_buf();
    }
    match env.cwd() {
        Some(cwd) => cwd.join(p),
        None => p.to_path_buf(),
    }
}

/// Like Python's `Path.resolve(strict=False)`: symlinks are resolved for the part of the path
/// that exists, and the rest is normalised lexically. Resolving the existing prefix (rather
/// than the whole path or nothing) keeps a root and a candidate below it comparable even when
/// the candidate does not exist and the root sits behind a symlink (`/tmp` on macOS).
pub(crate) fn resolve_path(p: &Path) -> PathBuf {
    if let Ok(c) = std::fs::canonicalize(p) {
        return c;
    }
    let mut out = PathBuf::new();
    let mut existing = true;
    for comp in p.components() {
        match comp {
            Component::Prefix(_) | Component::RootDir => out.push(comp),
            Component::CurDir => {}
            // Everything in `out` is already free of symlinks, so popping is the real parent.
            Component::ParentDir => {
                out.pop();
            }
            Component::Normal(name) => {
                out.push(name);
                if existing {
                    match std::fs::canonicalize(&out) {
                        Ok(c) => out = c,
                        Err(_) => existing = false,
                    }
                }
            }
        }
    }
    out
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A fake process environment, so tests never read or change the real one.
    pub(crate) struct TestEnv {
        pub vars: Vec<(String, String)>,
        pub home: Option<PathBuf>,
        pub cwd: PathBuf,
    }

    impl TestEnv {
        pub fn new(cwd: &Path) -> TestEnv {
            TestEnv {
                vars: Vec::new(),
                home: None,
                cwd: cwd.to_path_buf(),
            }
        }
    }

    impl Env for TestEnv {
        fn var(&self, name: &str) -> Option<String> {
            self.vars
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        }
        fn home(&self) -> Option<PathBuf> {
            self.home.clone()
        }
        fn cwd(&self) -> Option<PathBuf> {
            Some(self.cwd.clone())
        }
    }

    /// A directory under the system temp dir, removed when dropped.
    pub(crate) struct TempDir(pub PathBuf);

    impl TempDir {
        pub fn new(label: &str) -> TempDir {
            static COUNTER: AtomicUsize = AtomicUsize::new(0);
            let n = COUNTER.fetch_add(1, Ordering::Relaxed);
            let dir = std::env::temp_dir().join(format!(
                "dynlib-model-test-{}-{label}-{n}",
                std::process::id()
            ));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).unwrap();
            // Canonical, so expected paths compare equal to resolved ones.
            TempDir(std::fs::canonicalize(&dir).unwrap())
        }

        pub fn path(&self) -> &Path {
            &self.0
        }

        /// Writes `text` to `rel`, creating parent directories.
        pub fn write(&self, rel: &str, text: &str) -> PathBuf {
            let p = self.0.join(rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(&p, text).unwrap();
            p
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn message(e: Error) -> String {
        match e {
            Error::Config { message } => message,
            other => panic!("expected a config error, got {other:?}"),
        }
    }

    fn from_text(text: &str) -> Result<Config, Error> {
        let dir = TempDir::new("cfg");
        let file = dir.write("config.toml", text);
        let env = TestEnv::new(dir.path());
        Config::from_parts_in(Some(&file), None, &env)
    }

    #[test]
    fn empty_and_missing_file() {
        assert_eq!(Config::empty(), Config::default());
        assert!(Config::empty().tags().is_empty());
        assert!(Config::empty().cache_root().is_none());
        let dir = TempDir::new("missing");
        let missing = dir.path().join("nope.toml");
        let c = Config::from_parts(Some(&missing), None).unwrap();
        assert_eq!(c, Config::empty());
        assert!(c.file().is_none());
        assert_eq!(Config::from_parts(None, None).unwrap(), Config::empty());
    }

    #[test]
    fn dyn_model_path_parsing() {
        let s = if cfg!(windows) {
            " proj = /a , /b ;; user=/c; "
        } else {
            " proj = /a , /b :: user=/c: "
        };
        let c = Config::from_parts(None, Some(s)).unwrap();
        assert_eq!(c.roots("proj"), [PathBuf::from("/a"), PathBuf::from("/b")]);
        assert_eq!(c.roots("user"), [PathBuf::from("/c")]);
        assert!(c.roots("other").is_empty());
        assert_eq!(c.tags().len(), 2);
        assert_eq!(c.tags()[0].0, "proj");
        assert_eq!(parse_dyn_model_path("   ").unwrap(), vec![]);
        assert_eq!(
            parse_dyn_model_path("a=/x,,").unwrap(),
            vec![("a".into(), vec!["/x".into()])]
        );
    }

    #[test]
    fn dyn_model_path_errors() {
        let m = message(parse_dyn_model_path("proj").unwrap_err());
        assert_eq!(m, "Invalid DYN_MODEL_PATH entry (missing '='): proj");
        let m = message(parse_dyn_model_path(" =/x").unwrap_err());
        assert_eq!(m, "Empty tag in DYN_MODEL_PATH: =/x");
        let m = message(parse_dyn_model_path("x= , ").unwrap_err());
        assert_eq!(m, "No paths for tag 'x' in DYN_MODEL_PATH");
        // The form config-file.md documents splits into a second, '='-less entry.
        if !cfg!(windows) {
            let m = message(parse_dyn_model_path("TAG=/path/one:/path/two").unwrap_err());
            assert!(m.contains("missing '='"), "{m}");
        }
    }

    #[test]
    fn file_paths_strings_and_lists() {
        let c = from_text("[paths]\nproj = \"/a\"\nlib = [\"/b\", \"/c\"]\nnone = []\n").unwrap();
        assert_eq!(c.roots("proj"), [PathBuf::from("/a")]);
        assert_eq!(c.roots("lib"), [PathBuf::from("/b"), PathBuf::from("/c")]);
        assert!(c.roots("none").is_empty());
        let names: Vec<_> = c.tags().iter().map(|(t, _)| t.as_str()).collect();
        assert_eq!(names, ["proj", "lib", "none"]);
        assert!(c.file().unwrap().ends_with("config.toml"));
        // An inline table is a table too.
        let c = from_text("paths = { proj = \"/a\" }\n").unwrap();
        assert_eq!(c.roots("proj"), [PathBuf::from("/a")]);
    }

    #[test]
    fn env_roots_come_first() {
        let dir = TempDir::new("merge");
        let file = dir.write("c.toml", "[paths]\nproj = \"/file\"\nlib = \"/lib\"\n");
        let sep = if cfg!(windows) { ';' } else { ':' };
        let dmp = format!("proj=/env1,/env2{sep}extra=/x");
        let c = Config::from_parts(Some(&file), Some(&dmp)).unwrap();
        let want: Vec<PathBuf> = ["/env1", "/env2", "/file"]
            .iter()
            .map(PathBuf::from)
            .collect();
        assert_eq!(c.roots("proj"), want.as_slice());
        let names: Vec<_> = c.tags().iter().map(|(t, _)| t.as_str()).collect();
        assert_eq!(names, ["proj", "lib", "extra"]);
    }

    #[test]
    fn malformed_toml() {
        let dir = TempDir::new("bad");
        let file = dir.write("config.toml", "[paths\nproj = 1");
        let env = TestEnv::new(dir.path());
        let m = message(Config::from_parts_in(Some(&file), None, &env).unwrap_err());
        let want = format!("Failed to load config from {}: ", file.display());
        assert!(m.starts_with(&want), "{m}");
        let file = dir.write("latin1.toml", "");
        std::fs::write(&file, b"x = \"\xe9\"\n").unwrap();
        let m = message(Config::from_parts_in(Some(&file), None, &env).unwrap_err());
        assert!(
            m.starts_with("Failed to load config from ") && m.contains("UTF-8"),
            "{m}"
        );
        // A directory exists but cannot be read as a file.
        let m = message(Config::from_parts_in(Some(dir.path()), None, &env).unwrap_err());
        assert!(m.starts_with("Failed to load config from "), "{m}");
    }

    #[test]
    fn paths_type_errors() {
        let m = message(from_text("paths = 3\n").unwrap_err());
        assert!(m.starts_with("[paths] section must be a table in "), "{m}");
        let m = message(from_text("[[paths]]\nproj = \"/a\"\n").unwrap_err());
        assert!(m.starts_with("[paths] section must be a table in "), "{m}");
        let m = message(from_text("[paths]\nproj = 123\n").unwrap_err());
        assert!(
            m.starts_with("[paths].proj must be a string or list of strings in "),
            "{m}"
        );
        let m = message(from_text("[paths.proj]\nroot = \"/a\"\n").unwrap_err());
        assert!(m.contains("must be a string or list of strings"), "{m}");
        let m = message(from_text("[paths]\nproj = [\"/a\", 1]\n").unwrap_err());
        assert!(
            m.starts_with("[paths].proj contains non-string entry in "),
            "{m}"
        );
        let m = message(from_text("[[paths.proj]]\nx = 1\n").unwrap_err());
        assert!(m.contains("contains non-string entry"), "{m}");
    }

    #[test]
    fn cache_root_precedence_and_errors() {
        let dir = TempDir::new("cache");
        let env = TestEnv::new(dir.path());
        let read = |text: &str| {
            let f = dir.write("c.toml", text);
            Config::from_parts_in(Some(&f), None, &env)
        };
        let c = read("cache_root = \"/top\"\n[cache]\nroot = \"/section\"\n").unwrap();
        assert_eq!(
            c.cache_root(),
            Some(resolve_path(Path::new("/top")).as_path())
        );
        let c = read("[cache]\nroot = \"/section\"\n").unwrap();
        assert_eq!(
            c.cache_root(),
            Some(resolve_path(Path::new("/section")).as_path())
        );
        // Empty, relative and `~user` roots would mean a folder under the working
        // directory: refused, with the value and the reason.
        for (text, why) in [
            ("cache_root = \"rel/cache\"\n", "relative path"),
            ("cache_root = \"\"\n", "must not be empty"),
            ("cache_root = \"  \"\n", "must not be empty"),
            ("[cache]\nroot = \"~nobody-here/c\"\n", "not expanded"),
            ("cache_root = \"$DYNLIB_SURELY_UNSET/c\"\n", "relative path"),
        ] {
            let m = message(read(text).unwrap_err());
            assert!(m.contains(why) && m.contains("c.toml"), "{text}: {m}");
        }
        // The pitfall: after a [paths] header it is a tag, not the cache root.
        let c = read("[paths]\ncache_root = \"/x\"\n").unwrap();
        assert!(c.cache_root().is_none());
        assert_eq!(c.roots("cache_root"), [PathBuf::from("/x")]);
        // A non-table [cache] is ignored.
        assert!(read("cache = 3\n").unwrap().cache_root().is_none());
        let m = message(read("cache_root = 1\n").unwrap_err());
        assert_eq!(m, "cache_root must be a string path in config");
        let m = message(read("[cache]\nroot = true\n").unwrap_err());
        assert_eq!(m, "[cache].root must be a string path");
    }

    #[test]
    fn cache_root_expansion() {
        let dir = TempDir::new("cachex");
        let mut env = TestEnv::new(dir.path());
        env.home = Some(dir.path().join("home"));
        env.vars.push((
            "DYNLIB_TEST_CACHE".into(),
            dir.path().join("v").display().to_string(),
        ));
        let f = dir.write("c.toml", "cache_root = \"~/cache\"\n");
        let c = Config::from_parts_in(Some(&f), None, &env).unwrap();
        assert_eq!(
            c.cache_root(),
            Some(dir.path().join("home/cache").as_path())
        );
        let f = dir.write("c.toml", "[cache]\nroot = \"${DYNLIB_TEST_CACHE}/c\"\n");
        let c = Config::from_parts_in(Some(&f), None, &env).unwrap();
        assert_eq!(c.cache_root(), Some(dir.path().join("v/c").as_path()));
    }

    #[test]
    fn var_expansion() {
        let mut env = TestEnv::new(Path::new("/"));
        env.vars.push(("A".into(), "alpha".into()));
        env.vars.push(("B_2".into(), "beta".into()));
        assert_eq!(expand_vars("$A/x", &env), "alpha/x");
        assert_eq!(expand_vars("${A}x/$B_2", &env), "alphax/beta");
        assert_eq!(expand_vars("$Ax", &env), "$Ax");
        assert_eq!(
            expand_vars("$UNSET/${UNSET}/$/${}/${A", &env),
            "$UNSET/${UNSET}/$/${}/${A"
        );
        assert_eq!(expand_vars("a$A.b$", &env), "aalpha.b$");
        assert_eq!(expand_vars("ü$A", &env), "üalpha");
    }

    #[test]
    fn user_expansion() {
        let home = Path::new("/home/u");
        assert_eq!(PathBuf::from(expand_user("~", Some(home))), home);
        assert_eq!(
            PathBuf::from(expand_user("~/a/b", Some(home))),
            home.join("a/b")
        );
        assert_eq!(expand_user("~other/a", Some(home)), "~other/a");
        assert_eq!(expand_user("a/~", Some(home)), "a/~");
        assert_eq!(expand_user("~/a", None), "~/a");
        let mut env = TestEnv::new(Path::new("/"));
        env.home = Some(home.to_path_buf());
        env.vars.push(("M".into(), "~/m".into()));
        assert_eq!(expand_str("$M/x", &env), home.join("m/x"));
    }

    #[test]
    fn config_file_location() {
        let mut env = TestEnv::new(Path::new("/work"));
        env.home = Some(PathBuf::from("/home/u"));
        env.vars.push(("DYNLIB_CONFIG".into(), "~/my.toml".into()));
        env.vars.push(("APPDATA".into(), "/appdata".into()));
        assert_eq!(
            config_path(&env).unwrap(),
            Some(resolve_path(Path::new("/home/u/my.toml")))
        );
        env.vars.retain(|(k, _)| k != "DYNLIB_CONFIG");
        let p = config_path(&env).unwrap().unwrap();
        assert!(p.ends_with("dynlib/config.toml"), "{}", p.display());
        if cfg!(all(unix, not(target_os = "macos"))) {
            assert_eq!(p, PathBuf::from("/home/u/.config/dynlib/config.toml"));
            env.vars.push(("XDG_CONFIG_HOME".into(), "/xdg".into()));
            assert_eq!(
                config_path(&env).unwrap().unwrap(),
                PathBuf::from("/xdg/dynlib/config.toml")
            );
        }
    }

    #[test]
    fn builder() {
        let c = Config::empty()
            .with_tag("a", ["/1"])
            .with_tag("b", ["/2"])
            .with_tag("a", ["/3"])
            .with_cache_root("/c");
        assert_eq!(c.roots("a"), [PathBuf::from("/1"), PathBuf::from("/3")]);
        assert_eq!(c.tags()[1].0, "b");
        assert_eq!(c.cache_root(), Some(Path::new("/c")));
    }

    #[test]
    fn resolve_path_normalises_missing_tails() {
        let dir = TempDir::new("resolve");
        std::fs::create_dir_all(dir.path().join("a")).unwrap();
        let p = resolve_path(&dir.path().join("a/./missing/../../b/c.toml"));
        assert_eq!(p, dir.path().join("b/c.toml"));
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink(dir.path().join("a"), dir.path().join("link")).unwrap();
            let p = resolve_path(&dir.path().join("link/new.toml"));
            assert_eq!(p, dir.path().join("a/new.toml"));
        }
    }
}
