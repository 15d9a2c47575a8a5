//! Diagnostics: model problems as data, and their rendering to text.
//!
//! A [`Diagnostic`] says what is wrong ([`DiagKind`] and a message), where in the model it is
//! (a location such as `[equations.rhs.x]`) and, when known, where in the source (a [`Span`]).
//! Rendering is a separate step ([`render`]) so the CLI, tests and an editor can each present
//! the same data their own way. The loader collects every independent problem of a model in
//! one pass and returns them together in a [`ModelErrors`].

use std::fmt;
use std::sync::Arc;

use crate::source::{SourceMap, Span};

/// What kind of problem a diagnostic reports. Tests match on these, not on wording.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum DiagKind {
    /// The text is not valid TOML.
    TomlSyntax,
    /// The file's shebang names another package (`#!snnlib`).
    NotADynlibModel,
    /// A required table or key is missing.
    Missing,
    /// A value has the wrong TOML type.
    WrongType,
    /// A key that the table does not allow (only where unknown keys are errors).
    UnknownKey,
    /// A value of the right type but not an allowed one (`type = "weird"`, a bad dtype).
    InvalidValue,
    /// A key or form that the reference removed or deprecated (`label`, `record`, phase `pre`).
    Removed,
    /// A name that is reserved (`t`, `pi`, `e`, a builtin function name for a function).
    ReservedName,
    /// A constant reused as a state, param or aux.
    ConstantCollision,
    /// A name used in more than one of states/params/aux/functions/constants.
    DuplicateName,
    /// Aux or functions that depend on themselves.
    Cycle,
    /// An equation target that is not a declared state, or a state without an equation.
    EquationTarget,
    /// The same equation target defined twice.
    DuplicateTarget,
    /// A block line that is not `target = expr`.
    BlockLine,
    /// `dx`/`d(x)` notation in a map model.
    MapDerivative,
    /// An event action assigns something other than a state or param.
    IllegalAssignment,
    /// A bad event tag.
    InvalidTag,
    /// A bad event log entry.
    InvalidLog,
    /// A bad function signature (args not identifiers, duplicated).
    FunctionSignature,
    /// A call with the wrong number of arguments, or keyword arguments.
    Arity,
    /// An expression that does not parse.
    Syntax,
    /// Valid Python that the model language does not support (strings, lambdas, bitwise, ...).
    Unsupported,
    /// A name that resolves to nothing.
    UnknownIdentifier,
    /// A call to something that is not a function.
    UnknownFunction,
    /// Lag notation misuse (not a state, bad depth).
    Lag,
    /// An event macro whose first argument is not a state.
    MacroArgument,
    /// A Jacobian of the wrong shape.
    JacobianShape,
    /// A numeric value that cannot be evaluated (division by zero, unknown name, not a number).
    Numeric,
    /// A preset that names unknown params or states, or is empty.
    Preset,
    /// A mod that cannot be applied.
    Mod,
    /// A `[sim]` value that is not usable.
    Sim,
}

/// One model problem.
#[derive(Clone, Debug, PartialEq)]
pub struct Diagnostic {
    /// What kind of problem.
    pub kind: DiagKind,
    /// One sentence saying what is wrong; it names the table and key.
    pub message: String,
    /// Where in the source, when known.
    pub span: Option<Span>,
    /// A suggestion for the fix, rendered as `help: ...`.
    pub help: Option<String>,
}

impl Diagnostic {
    /// A diagnostic without a position.
    pub fn new(kind: DiagKind, message: impl Into<String>) -> Self {
        Diagnostic {
            kind,
            message: message.into(),
            span: None,
            help: None,
        }
    }

    /// Attaches a source position (keeps an earlier one when `span` is `None`).
    pub fn at(mut self, span: Option<Span>) -> Self {
        if span.is_some() {
            self.span = span;
        }
        self
    }

    /// Attaches a suggestion.
    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }
}

/// Every problem found in one model, with the texts they point into.
#[derive(Clone)]
pub struct ModelErrors {
    /// The problems, in the order they were found.
    pub diagnostics: Vec<Diagnostic>,
    /// The texts the spans refer to.
    pub sources: Arc<SourceMap>,
}

impl ModelErrors {
    /// Wraps diagnostics with their sources.
    pub fn new(diagnostics: Vec<Diagnostic>, sources: Arc<SourceMap>) -> Self {
        ModelErrors {
            diagnostics,
            sources,
        }
    }

    /// True when some diagnostic has this kind.
    pub fn has(&self, kind: DiagKind) -> bool {
        self.diagnostics.iter().any(|d| d.kind == kind)
    }

    /// The first diagnostic (there is always at least one).
    pub fn first(&self) -> Option<&Diagnostic> {
        self.diagnostics.first()
    }
}

impl fmt::Debug for ModelErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.diagnostics.iter()).finish()
    }
}

impl fmt::Display for ModelErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.diagnostics.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            f.write_str(&render(d, &self.sources))?;
        }
        Ok(())
    }
}

impl std::error::Error for ModelErrors {}

/// Renders a diagnostic as text: the message, the `--> source:line:col` position, the
/// offending line with a caret under the column (two lines of context either side for TOML
/// syntax errors), and the help. Lines longer than [`MAX_SHOWN`] characters are shown as a
/// window around the caret; control characters from the model are escaped ([`printable`]),
/// so a model file cannot send escape sequences to the terminal.
pub fn render(d: &Diagnostic, sources: &SourceMap) -> String {
    let mut out = format!("error: {}", printable(&d.message));
    if let Some(span) = &d.span {
        if let Some(file) = sources.get(span.source) {
            let (line, col) = file.line_col(span.range.start);
            let origin = file.path.clone().unwrap_or_else(|| file.name.clone());
            out.push_str(&format!("\n  --> {}:{line}:{col}", printable(&origin)));
            let context = if d.kind == DiagKind::TomlSyntax { 2 } else { 0 };
            let first = line.saturating_sub(context).max(1);
            let last = (line + context).min(file.line_count());
            let width = last.to_string().len();
            out.push_str(&format!("\n{:width$} |", ""));
            for l in first..=last {
                let text = file.line_text(l);
                let marker = if l == line && context > 0 {
                    ">>>"
                } else {
                    "   "
                };
                let marker = if context > 0 { marker } else { "" };
                let (caret_col, caret_len) = if l == line {
                    (
                        col,
                        caret_len(text, col, span, file.line_col(span.range.end)),
                    )
                } else {
                    (1, 0)
                };
                let shown = shown_line(text, caret_col, caret_len);
                out.push_str(&format!("\n{marker}{l:>width$} | {}", shown.text));
                if l == line {
                    let pad = if context > 0 { 3 } else { 0 };
                    out.push_str(&format!(
                        "\n{:pad$}{:width$} | {}{}",
                        "",
                        "",
                        " ".repeat(shown.caret),
                        "^".repeat(shown.caret_len.max(1))
                    ));
                }
            }
        }
    }
    if let Some(help) = &d.help {
        out.push_str(&format!("\n  = help: {}", printable(help)));
    }
    out
}

/// The most characters of a source line a diagnostic shows; longer lines (a 1 MB
/// expression) are cut to a window around the caret.
pub const MAX_SHOWN: usize = 160;

/// A source line as a diagnostic shows it, and where its caret goes (in shown characters).
struct Shown {
    text: String,
    caret: usize,
    caret_len: usize,
}

/// `line` escaped for the terminal and cut to a window of [`MAX_SHOWN`] characters around
/// the caret at character column `col` (1-based), `len` characters long.
fn shown_line(line: &str, col: usize, len: usize) -> Shown {
    // Each source character as shown, so the caret lines up with escapes too.
    let pieces: Vec<String> = line.chars().map(printable_char).collect();
    let width = |range: std::ops::Range<usize>| -> usize {
        pieces[range].iter().map(|p| p.chars().count()).sum()
    };
    let n = pieces.len();
    let start_char = (col - 1).min(n);
    let end_char = (start_char + len).min(n);
    let (from, to) = if width(0..n) <= MAX_SHOWN {
        (0, n)
    } else {
        let before = MAX_SHOWN / 3;
        let from = start_char.saturating_sub(before);
        let mut to = from;
        while to < n && width(from..to + 1) <= MAX_SHOWN {
            to += 1;
        }
        (from, to.max(end_char.min(from + MAX_SHOWN)))
    };
    let lead = if from > 0 { "…" } else { "" };
    let tail = if to < n { "…" } else { "" };
    let text = format!("{lead}{}{tail}", pieces[from..to].concat());
    let caret = lead.chars().count() + width(from..start_char.max(from));
    let caret_len = width(start_char.max(from)..end_char.min(to).max(start_char.max(from)));
    Shown {
        text,
        caret,
        caret_len,
    }
}

/// True for characters that must not reach a terminal as they are: control characters
/// (but newline and tab) and the invisible direction overrides that reorder text.
fn needs_escape(c: char) -> bool {
    (c.is_control() && c != '\n' && c != '\t')
        || matches!(c, '\u{200e}' | '\u{200f}' | '\u{061c}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

fn printable_char(c: char) -> String {
    if needs_escape(c) {
        c.escape_unicode().to_string()
    } else if c == '\t' {
        " ".to_string()
    } else {
        c.to_string()
    }
}

/// A chain of names joined with arrows, its middle elided when long (a call chain of a
/// thousand functions in a message shows its first three and last two).
pub fn chain(names: &[&str]) -> String {
    if names.len() > 6 {
        format!(
            "{} → … → {}",
            names[..3].join(" → "),
            names[names.len() - 2..].join(" → ")
        )
    } else {
        names.join(" → ")
    }
}

/// `s` with every control character (but newline and tab) and direction override written
/// as a `\u{..}` escape: text from a model file that is safe to print on a terminal (an
/// escape sequence in a model cannot recolour, retitle or clear it).
pub fn printable(s: &str) -> std::borrow::Cow<'_, str> {
    if !s.chars().any(needs_escape) {
        return std::borrow::Cow::Borrowed(s);
    }
    std::borrow::Cow::Owned(
        s.chars()
            .map(|c| {
                if needs_escape(c) {
                    c.escape_unicode().to_string()
                } else {
                    c.to_string()
                }
            })
            .collect(),
    )
}

/// Carets under the whole span when it stays on one line, else one.
fn caret_len(line: &str, col: usize, span: &Span, end: (usize, usize)) -> usize {
    let line_chars = line.chars().count();
    if span.range.is_empty() {
        return 1;
    }
    let (_, end_col) = end;
    if end_col > col && end_col - 1 <= line_chars {
        end_col - col
    } else {
        1
    }
}

/// The closest candidate to `word`, by the same similarity ratio as Python's difflib
/// (cutoff 0.6), for "did you mean" suggestions.
pub fn did_you_mean<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let mut best: Option<(&str, f64)> = None;
    for c in candidates {
        let r = similarity(word, c);
        if r >= 0.6 && best.is_none_or(|(_, b)| r > b) {
            best = Some((c, r));
        }
    }
    best.map(|(c, _)| c)
}

/// The valid key `word` is most likely a typo of: the same word in another case, or one
/// edit away (a letter inserted, deleted, or two neighbours swapped; a letter replaced
/// only in keys of four letters or more, as `sim`/`sin` or `log`/`lag` are different words
/// rather than slips). Deliberately narrower than [`did_you_mean`]: a key this matches
/// becomes an error, and a user's own table (`[tests]`, `[vars]`) or note (`date`) that
/// merely resembles a valid key must still load, as in the reference.
pub fn misspelling_of<'a>(word: &str, valid: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let w: Vec<char> = word.chars().collect();
    valid.into_iter().find(|v| {
        if v.eq_ignore_ascii_case(word) {
            return true;
        }
        let c: Vec<char> = v.chars().collect();
        let replaced = w.len() == c.len() && w.iter().zip(&c).filter(|(a, b)| a != b).count() == 1;
        osa_distance(&w, &c) == 1 && (!replaced || c.len() >= 4)
    })
}

/// Optimal-string-alignment distance: insertions, deletions, replacements and swaps of
/// neighbours, each costing 1.
fn osa_distance(a: &[char], b: &[char]) -> usize {
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = best;
        }
    }
    d[a.len()][b.len()]
}

/// 2·matches / total length, matches counted by longest common blocks (Ratcliff/Obershelp).
fn similarity(a: &str, b: &str) -> f64 {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let total = a.len() + b.len();
    if total == 0 {
        return 1.0;
    }
    2.0 * matching(&a, &b) as f64 / total as f64
}

fn matching(a: &[char], b: &[char]) -> usize {
    let (mut best, mut ai, mut bi) = (0, 0, 0);
    for i in 0..a.len() {
        for j in 0..b.len() {
            let mut k = 0;
            while i + k < a.len() && j + k < b.len() && a[i + k] == b[j + k] {
                k += 1;
            }
            if k > best {
                (best, ai, bi) = (k, i, j);
            }
        }
    }
    if best == 0 {
        return 0;
    }
    best + matching(&a[..ai], &b[..bi]) + matching(&a[ai + best..], &b[bi + best..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestion_uses_difflib_ratio() {
        assert_eq!(
            did_you_mean("exprs", ["rhs", "expr", "jacobian"]),
            Some("expr")
        );
        assert_eq!(did_you_mean("zzz", ["rhs", "expr"]), None);
    }

    #[test]
    fn misspellings_are_one_edit_away() {
        let valid = ["dtype", "action", "expr", "params", "sim", "log"];
        for (typo, meant) in [
            ("dtyp", "dtype"),
            ("acton", "action"),
            ("actoin", "action"),
            ("exp", "expr"),
            ("param", "params"),
            ("Params", "params"),
            ("SIM", "sim"),
            ("sims", "sim"),
            ("lgo", "log"),
        ] {
            assert_eq!(misspelling_of(typo, valid), Some(meant), "{typo}");
        }
        for other in ["date", "active", "tests", "sin", "lag", "vars", "direction"] {
            assert_eq!(misspelling_of(other, valid), None, "{other}");
        }
    }

    #[test]
    fn long_lines_show_a_window_around_the_caret() {
        let mut map = SourceMap::new();
        let long = format!(
            "x = \"{} + $ + {}\"",
            "a".repeat(500_000),
            "b".repeat(500_000)
        );
        let at = long.find('$').unwrap();
        let id = map.add("inline model", None, long.clone());
        let d = Diagnostic::new(DiagKind::Syntax, "unexpected character '$'")
            .at(Some(Span::new(id, at..at + 1)));
        let text = render(&d, &map);
        assert!(text.len() < 1000, "{} bytes", text.len());
        let lines: Vec<&str> = text.lines().collect();
        let (src, caret) = (lines[3], lines[4]);
        assert!(
            src.contains("…a") && src.contains("$") && src.ends_with('…'),
            "{src}"
        );
        // The caret is under the `$`.
        let dollar = src.chars().position(|c| c == '$').unwrap();
        assert_eq!(
            caret.chars().position(|c| c == '^'),
            Some(dollar),
            "{src}\n{caret}"
        );
    }

    #[test]
    fn control_characters_are_escaped_and_the_caret_still_lines_up() {
        let mut map = SourceMap::new();
        let text = "x = \"\u{1b}[2J\u{1b}]0;owned\u{7} + ?\"\n";
        let id = map.add("inline model", None, text);
        let at = text.find('?').unwrap();
        let d = Diagnostic::new(DiagKind::Syntax, "bad name '\u{1b}[31mred'")
            .at(Some(Span::new(id, at..at + 1)));
        let out = render(&d, &map);
        assert!(!out.contains('\u{1b}') && !out.contains('\u{7}'), "{out:?}");
        assert!(
            out.contains("\\u{1b}[2J") && out.contains("'\\u{1b}[31mred'"),
            "{out}"
        );
        let lines: Vec<&str> = out.lines().collect();
        let q = lines[3].chars().position(|c| c == '?').unwrap();
        assert_eq!(lines[4].chars().position(|c| c == '^'), Some(q), "{out}");
        assert_eq!(printable("plain\ttext\n"), "plain\ttext\n");
        assert_eq!(printable("a\u{202e}b"), "a\\u{202e}b");
    }

    #[test]
    fn render_shows_line_and_caret() {
        let mut map = SourceMap::new();
        let id = map.add("inline model", None, "[model]\ntype = \"weird\"\n");
        let d = Diagnostic::new(
            DiagKind::InvalidValue,
            "[model].type must be 'ode' or 'map'",
        )
        .at(Some(Span::new(id, 15..22)));
        let text = render(&d, &map);
        assert!(text.contains("inline model:2:8"), "{text}");
        assert!(text.contains("2 | type = \"weird\""), "{text}");
        assert!(text.contains("  |        ^^^^^^^"), "{text}");
    }
}
