//! Source texts and positions.
//!
//! Every model problem points back into the text the user wrote. A [`SourceMap`] owns the
//! texts read while loading one model (the model file, mod files, inline strings); a [`Span`]
//! is a byte range in one of them. Expression strings live inside TOML strings, where escapes
//! make the decoded text differ from the raw bytes, so a [`SrcStr`] keeps, for every byte of
//! the decoded text, the offset of the raw byte it came from.

use std::fmt;
use std::ops::Range;
use std::sync::Arc;

/// Index of a text in a [`SourceMap`].
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SourceId(pub u32);

/// A byte range in one source text.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Span {
    /// The text the range is in.
    pub source: SourceId,
    /// Byte offsets into that text.
    pub range: Range<usize>,
}

impl Span {
    /// A span covering `range` in `source`.
    pub fn new(source: SourceId, range: Range<usize>) -> Self {
        Span { source, range }
    }
}

/// One text that was read, with the name used in messages (`model file '/abs/x.toml'`,
/// `inline model`, `builtin model 'ode/lorenz'`, ...).
#[derive(Clone, Debug)]
pub struct SourceFile {
    /// How messages name the text.
    pub name: String,
    /// A file path, when the text came from a file (messages show it as `path:line:col`).
    pub path: Option<String>,
    /// The full text.
    pub text: String,
}

impl SourceFile {
    /// 1-based line and column (in characters) of a byte offset.
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let before = &self.text[..floor_char_boundary(&self.text, offset)];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let col = before[line_start..].chars().count() + 1;
        (line, col)
    }

    /// The text of a 1-based line, without its line break.
    pub fn line_text(&self, line: usize) -> &str {
        self.text
            .split('\n')
            .nth(line.saturating_sub(1))
            .map(|l| l.strip_suffix('\r').unwrap_or(l))
            .unwrap_or("")
    }

    /// Number of lines in the text.
    pub fn line_count(&self) -> usize {
        self.text.split('\n').count()
    }
}

/// Largest char boundary not after `i`, so slicing never panics on user text.
pub(crate) fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    i = i.min(s.len());
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// The texts read while loading one model. Shared by the model and its errors.
#[derive(Clone, Debug, Default)]
pub struct SourceMap {
    files: Vec<SourceFile>,
}

impl SourceMap {
    /// An empty map.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a text and returns its id.
    pub fn add(
        &mut self,
        name: impl Into<String>,
        path: Option<String>,
        text: impl Into<String>,
    ) -> SourceId {
        let id = SourceId(self.files.len() as u32);
        self.files.push(SourceFile {
            name: name.into(),
            path,
            text: text.into(),
        });
        id
    }

    /// The text with this id.
    pub fn get(&self, id: SourceId) -> Option<&SourceFile> {
        self.files.get(id.0 as usize)
    }

    /// All texts, in the order they were added.
    pub fn files(&self) -> &[SourceFile] {
        &self.files
    }
}

/// A string value from a model, with the raw source offset of every decoded byte.
///
/// `offsets.len() == text.len() + 1`: the last entry is the offset just past the text, so
/// an empty range at the end still has a position.
#[derive(Clone, PartialEq)]
pub struct SrcStr {
    text: String,
    source: Option<SourceId>,
    offsets: Arc<[u32]>,
    start: usize,
}

impl fmt::Debug for SrcStr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.text)
    }
}

impl SrcStr {
    /// A string with no position in any source (for example built through the API).
    pub fn detached(text: impl Into<String>) -> Self {
        let text = text.into();
        let offsets: Arc<[u32]> = vec![0u32; text.len() + 1].into();
        SrcStr {
            text,
            source: None,
            offsets,
            start: 0,
        }
    }

    /// A string whose every byte maps to the raw offset in `offsets` (one more than bytes).
    pub fn mapped(text: String, source: SourceId, offsets: Vec<u32>) -> Self {
        debug_assert_eq!(offsets.len(), text.len() + 1);
        SrcStr {
            text,
            source: Some(source),
            offsets: offsets.into(),
            start: 0,
        }
    }

    /// A string copied verbatim from `source` starting at byte `at`.
    pub fn verbatim(text: String, source: SourceId, at: usize) -> Self {
        let offsets = (0..=text.len()).map(|i| (at + i) as u32).collect();
        Self::mapped(text, source, offsets)
    }

    /// A string that all maps to one raw position (used when escapes could not be traced).
    pub fn pinned(text: String, source: SourceId, at: usize) -> Self {
        let offsets = vec![at as u32; text.len() + 1];
        Self::mapped(text, source, offsets)
    }

    /// The decoded text.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The source the text came from, if any.
    pub fn source(&self) -> Option<SourceId> {
        self.source
    }

    /// The part of the text in `range` (byte offsets into [`SrcStr::as_str`]), keeping positions.
    pub fn slice(&self, range: Range<usize>) -> SrcStr {
        let text = self.text[range.clone()].to_string();
        SrcStr {
            text,
            source: self.source,
            offsets: self.offsets.clone(),
            start: self.start + range.start,
        }
    }

    /// The source span of a byte range of the decoded text.
    pub fn span_of(&self, range: Range<usize>) -> Option<Span> {
        let source = self.source?;
        let end = range.end.min(self.text.len());
        let start = range.start.min(end);
        let a = self.offsets[self.start + start] as usize;
        let b = if end > start {
            self.offsets[self.start + end - 1] as usize + 1
        } else {
            a
        };
        Some(Span::new(source, a..b.max(a)))
    }

    /// The span of the whole text.
    pub fn span(&self) -> Option<Span> {
        self.span_of(0..self.text.len())
    }
}

impl fmt::Display for SrcStr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// A value with an optional source position.
#[derive(Clone, Debug, PartialEq)]
pub struct Spanned<T> {
    /// The value.
    pub value: T,
    /// Where it was written, if it came from a source.
    pub span: Option<Span>,
}

impl<T> Spanned<T> {
    /// Wraps a value with its position.
    pub fn new(value: T, span: Option<Span>) -> Self {
        Spanned { value, span }
    }
}
