//! Loading: URI → text → TOML → normal form → mods → validated [`Model`].

use std::sync::Arc;

use toml_edit::{Document, TableLike};

use crate::check;
use crate::config::Config;
use crate::diag::{DiagKind, Diagnostic, ModelErrors};
use crate::error::Error;
use crate::model::Model;
use crate::mods::{self, Mod};
use crate::raw::{self, Cx, RawNumber};
use crate::source::{SourceId, SourceMap, Span};
use crate::uri::{self, Origin, ResolvedUri};

/// Options for [`load`].
#[derive(Clone, Debug, Default)]
pub struct LoadOptions {
    /// External mod URIs, applied in order after a `#mod=NAME` fragment's mod.
    pub mods: Vec<String>,
    /// The registry configuration; `None` reads it from the environment ([`Config::load`]).
    pub config: Option<Config>,
}

impl LoadOptions {
    /// Adds an external mod URI.
    pub fn with_mod(mut self, uri: impl Into<String>) -> Self {
        self.mods.push(uri.into());
        self
    }

    /// Uses this configuration instead of reading the environment.
    pub fn with_config(mut self, config: Config) -> Self {
        self.config = Some(config);
        self
    }
}

/// Loads and validates the model at `uri` (`builtin://ode/lorenz`, a path, `TAG://rel`,
/// `inline: [model] ...`), with the mods of `options`.
pub fn load(uri: &str, options: &LoadOptions) -> Result<Model, Error> {
    let config = match &options.config {
        Some(c) => c.clone(),
        None => Config::load()?,
    };
    let resolved = uri::resolve(uri, &config)?;
    load_resolved(uri, resolved, options, &config)
}

/// Loads a model from TOML text (as if given as `inline:` text).
pub fn load_text(text: &str, options: &LoadOptions) -> Result<Model, Error> {
    let config = match &options.config {
        Some(c) => c.clone(),
        None => Config::load()?,
    };
    let resolved = ResolvedUri {
        text: text.to_string(),
        origin: Origin::Inline,
        fragment: None,
    };
    load_resolved("inline model", resolved, options, &config)
}

fn source_name(origin: &Origin, what: &str) -> (String, Option<String>) {
    match origin {
        Origin::Inline => (format!("inline {what}"), None),
        Origin::File(p) => (
            format!("{what} file '{}'", p.display()),
            Some(p.display().to_string()),
        ),
        Origin::Builtin(name) => (
            format!("builtin {what} '{name}'"),
            Some(format!("builtin://{name}.toml")),
        ),
    }
}

fn load_resolved(
    uri: &str,
    resolved: ResolvedUri,
    options: &LoadOptions,
    config: &Config,
) -> Result<Model, Error> {
    let mut sources = SourceMap::new();
    let (name, path) = source_name(&resolved.origin, "model");
    let id = sources.add(name.clone(), path, resolved.text.clone());
    let fail = |diags: Vec<Diagnostic>, sources: SourceMap| {
        Err(Error::Model(ModelErrors::new(diags, Arc::new(sources))))
    };

    if !matches!(resolved.origin, Origin::Inline) {
        if let Some(d) = check_shebang(&resolved.text, id, &name) {
            return fail(vec![d], sources);
        }
    }
    let doc = match parse_toml(&resolved.text, id, &name) {
        Ok(doc) => doc,
        Err(d) => return fail(vec![d], sources),
    };
    let mut cx = Cx::new(id, &resolved.text);
    let raw_model = raw::parse_model(doc.as_table(), &mut cx);
    if !cx.diags.is_empty() {
        return fail(cx.diags, sources);
    }
    let Some(mut raw_model) = raw_model else {
        return fail(cx.diags, sources);
    };

    // Mods: the fragment's mod from this document, then external ones, in one batch.
    let mut batch: Vec<Mod> = Vec::new();
    let mut diags: Vec<Diagnostic> = Vec::new();
    if let Some(name) = resolved
        .fragment
        .as_deref()
        .and_then(|f| f.strip_prefix("mod="))
    {
        let name = name.trim();
        match find_named_mod(doc.as_table(), name, uri) {
            Ok((table, span)) => {
                if let Some(m) = mods::parse_mod(
                    table,
                    name.to_string(),
                    cx.span(span),
                    &raw_model.constants,
                    &mut cx,
                ) {
                    batch.push(m);
                }
            }
            Err(msg) => cx.error(DiagKind::Mod, msg, None),
        }
    }
    diags.append(&mut cx.diags);
    for mod_uri in &options.mods {
        match load_mod(mod_uri, config, &raw_model.constants, &mut sources) {
            Ok((m, mut d)) => {
                diags.append(&mut d);
                batch.extend(m);
            }
            Err(e @ Error::Model(_)) => {
                if let Error::Model(m) = e {
                    diags.extend(m.diagnostics);
                }
            }
            Err(e) => return Err(e),
        }
    }
    if !diags.is_empty() {
        return fail(diags, sources);
    }
    let mut cx = Cx::new(id, &resolved.text);
    if mods::check_groups(&batch, &mut cx) {
        mods::apply(&mut raw_model, &batch, &mut cx);
    }
    if !cx.diags.is_empty() {
        return fail(cx.diags, sources);
    }
    let sources = Arc::new(sources);
    check::check(&raw_model, uri.trim(), sources.clone())
        .map_err(|d| Error::Model(ModelErrors::new(d, sources)))
}

/// The `[mods.NAME]` table of a document, or the message saying it is missing.
fn find_named_mod<'d>(
    top: &'d dyn TableLike,
    name: &str,
    uri: &str,
) -> Result<(&'d dyn TableLike, Option<std::ops::Range<usize>>), String> {
    let available: Vec<String> = top
        .get("mods")
        .and_then(|m| m.as_table_like())
        .map(|m| m.iter().map(|(k, _)| k.to_string()).collect())
        .unwrap_or_default();
    let found = top
        .get("mods")
        .and_then(|m| m.as_table_like())
        .and_then(|m| m.get_key_value(name));
    match found {
        Some((k, item)) => match item.as_table_like() {
            Some(t) => Ok((t, k.span())),
            None => Err(format!("[mods.{name}] in {uri} must be a table")),
        },
        None => {
            let list = if available.is_empty() {
                "none".to_string()
            } else {
                available.join(", ")
            };
            Err(format!(
                "Mod '{name}' not found in {uri}; existing mods: {list}"
            ))
        }
    }
}

/// A mod table chosen from a document, its name and where its key is written.
type SelectedMod<'d> = (&'d dyn TableLike, String, Option<std::ops::Range<usize>>);

/// Reads one external mod URI: `#mod=NAME` selects `[mods.NAME]`; otherwise `[mod]`, or
/// the only `[mods.*]` table.
fn load_mod(
    uri_text: &str,
    config: &Config,
    constants: &[RawNumber],
    sources: &mut SourceMap,
) -> Result<(Option<Mod>, Vec<Diagnostic>), Error> {
    let resolved = uri::resolve(uri_text, config)?;
    let (name, path) = source_name(&resolved.origin, "mod");
    let id = sources.add(name.clone(), path, resolved.text.clone());
    let doc = match parse_toml(&resolved.text, id, &name) {
        Ok(doc) => doc,
        Err(d) => return Ok((None, vec![d])),
    };
    let mut cx = Cx::new(id, &resolved.text);
    let top = doc.as_table();
    let selected: Result<SelectedMod, String> = match resolved
        .fragment
        .as_deref()
        .and_then(|f| f.strip_prefix("mod="))
    {
        Some(n) => {
            find_named_mod(top, n.trim(), uri_text).map(|(t, s)| (t, n.trim().to_string(), s))
        }
        None => {
            if let Some((k, item)) = top.get_key_value("mod") {
                match item.as_table_like() {
                    Some(t) => {
                        let n = t
                            .get("name")
                            .and_then(|n| n.as_str())
                            .unwrap_or("unnamed")
                            .to_string();
                        Ok((t, n, k.span()))
                    }
                    None => Err(format!("[mod] in {uri_text} must be a table")),
                }
            } else if let Some(all) = top.get("mods").and_then(|m| m.as_table_like()) {
                let names: Vec<String> = all.iter().map(|(k, _)| k.to_string()).collect();
                if names.len() == 1 {
                    find_named_mod(top, &names[0], uri_text).map(|(t, s)| (t, names[0].clone(), s))
                } else {
                    Err(format!(
                            "Mod file {uri_text} contains multiple mods: {}. Please specify which one using #mod=NAME",
                            names.join(", ")
                        ))
                }
            } else {
                Err(format!("No [mod] or [mods.*] table found in {uri_text}"))
            }
        }
    };
    match selected {
        Ok((table, name, span)) => {
            let m = mods::parse_mod(table, name, cx.span(span), constants, &mut cx);
            Ok((m, cx.diags))
        }
        Err(msg) => Ok((None, vec![Diagnostic::new(DiagKind::Mod, msg)])),
    }
}

/// `#!pkg[:version]` on the first line must name dynlib (dsl.md §1.2).
fn check_shebang(text: &str, id: SourceId, name: &str) -> Option<Diagnostic> {
    let first = text.lines().next()?;
    let rest = first.strip_prefix("#!")?.trim();
    let (pkg, version) = match rest.split_once(':') {
        Some((p, v)) => (p.trim(), Some(v.trim())),
        None => (rest, None),
    };
    let pkg_ok = !pkg.is_empty()
        && pkg
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c));
    let ver_ok = version.is_none_or(|v| {
        !v.is_empty()
            && v.chars()
                .all(|c| c.is_ascii_alphanumeric() || "_.+-".contains(c))
    });
    if !pkg_ok || !ver_ok || pkg == "dynlib" {
        return None;
    }
    Some(
        Diagnostic::new(
            DiagKind::NotADynlibModel,
            format!("This is not a dynlib model: {name} declares '#!{pkg}'"),
        )
        .at(Some(Span::new(id, 0..first.len()))),
    )
}

/// Parses TOML; a syntax error becomes a diagnostic with context and a hint.
fn parse_toml(text: &str, id: SourceId, name: &str) -> Result<Document<String>, Diagnostic> {
    Document::parse(text.to_string()).map_err(|e| {
        let message = e.message().trim().to_string();
        let span = e.span().map(|r| Span::new(id, r));
        let line = span.as_ref().map(|s| {
            let start = s.range.start.min(text.len());
            let ls = text[..start].rfind('\n').map_or(0, |i| i + 1);
            let le = text[ls..].find('\n').map_or(text.len(), |i| ls + i);
            &text[ls..le]
        });
        let hint = toml_hint(&message, line.unwrap_or(""));
        let mut d = Diagnostic::new(
            DiagKind::TomlSyntax,
            format!("Failed to parse {name}: {message}"),
        )
        .at(span);
        if let Some(h) = hint {
            d = d.with_help(h);
        }
        d
    })
}

/// The reference's hints for common TOML mistakes.
fn toml_hint(message: &str, line: &str) -> Option<String> {
    let value = line.split_once('=').map(|(_, v)| v.trim()).unwrap_or("");
    let bare_division = value.contains('/') && !value.starts_with(['"', '\'']);
    if bare_division {
        return Some(
            "Hint: Division (/) in numeric values is not TOML. WRONG: beta=8/3 CORRECT: beta=2.667 or beta='8/3' (a quoted numeric expression). Also check for missing quotes around expressions and unclosed brackets.".to_string(),
        );
    }
    let m = message.to_lowercase();
    if m.contains("expected") && (m.contains('=') || m.contains("key")) {
        return Some("Hint: each entry must have the form key = value; expressions must be quoted strings (x = \"a*b\").".to_string());
    }
    if m.contains("invalid") {
        return Some("Hint: check for typos, missing quotes around expressions, and unclosed brackets or strings.".to_string());
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shebang_rules() {
        let id = SourceId(0);
        assert!(check_shebang("#! dynlib\n", id, "f").is_none());
        assert!(check_shebang("#!dynlib:0.13\n", id, "f").is_none());
        assert!(check_shebang("#!dynlib 0.3\n", id, "f").is_none());
        let d = check_shebang("#! snnlib:1.0\n", id, "f").unwrap();
        assert!(
            d.message.contains("This is not a dynlib model"),
            "{}",
            d.message
        );
    }

    #[test]
    fn division_hint() {
        let d = parse_toml("[params]\nbeta=8/3\n", SourceId(0), "inline model").unwrap_err();
        assert_eq!(d.kind, DiagKind::TomlSyntax);
        assert!(
            d.help
                .as_deref()
                .unwrap()
                .contains("Division (/) in numeric values"),
            "{d:?}"
        );
    }
}
