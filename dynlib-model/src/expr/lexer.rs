//! The tokenizer of the expression language (dsl.md §16.1).
//!
//! Tokens follow Python's lexical rules for the supported subset. Python syntax the language
//! rejects outright (strings, bitwise operators, `;`, `:=`, augmented assignment, keywords such
//! as `lambda` or `None`) is reported here, because no parser context can make it valid; the
//! tokens whose message depends on context (`=`, `[`, `{`, `in`, `is`, `for`) are passed on to
//! the parser.
//!
//! The lexer stops at its first error and hands over the tokens before it together with the
//! error, so the parser can still report an earlier mistake first: errors come out in text
//! order, as if tokens were read on demand.

use super::ast::TextRange;
use super::ParseError;
use crate::diag::DiagKind;

/// A token kind. Names carry no text: the parser reads it from the token's span.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Tok {
    /// An integer literal, already in range.
    Int(i64),
    /// An integer literal beyond 64 bits, as the nearest float (see `ExprKind::BigInt`).
    BigInt(f64),
    /// The integer literal 2**63: beyond int64, but negated it is int64's minimum
    /// (`-9223372036854775808` is an int64 in Python and numpy alike).
    TwoToThe63,
    /// A float literal.
    Float(f64),
    /// An identifier that is not a keyword.
    Name,
    /// `True`
    True,
    /// `False`
    False,
    /// `if`
    If,
    /// `else`
    Else,
    /// `and`
    And,
    /// `or`
    Or,
    /// `not`
    Not,
    /// `for`
    For,
    /// `in`
    In,
    /// `is`
    Is,
    /// `+`
    Plus,
    /// `-`
    Minus,
    /// `*`
    Star,
    /// `/`
    Slash,
    /// `//`
    DoubleSlash,
    /// `%`
    Percent,
    /// `**` or `^` (the language has no XOR: `^` is power).
    Pow,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `==`
    EqEq,
    /// `!=`
    NotEq,
    /// `(`
    LParen,
    /// `)`
    RParen,
    /// `[`
    LBracket,
    /// `]`
    RBracket,
    /// `{`
    LBrace,
    /// `}`
    RBrace,
    /// `,`
    Comma,
    /// `.`
    Dot,
    /// `:`
    Colon,
    /// `=`
    Assign,
    /// The end of the tokens: the end of the text, or where the lexer stopped at an error.
    Eof,
}

/// A token and its byte range in the expression text.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Token {
    /// What it is.
    pub kind: Tok,
    /// Where it is.
    pub span: TextRange,
}

/// The result of tokenizing: the tokens up to the first error (always ending with
/// [`Tok::Eof`]) and that error, if any.
#[derive(Clone, Debug)]
pub(crate) struct Lexed {
    /// The tokens, the last one [`Tok::Eof`].
    pub tokens: Vec<Token>,
    /// The first lexical error; it sits where the final [`Tok::Eof`] is.
    pub error: Option<ParseError>,
}

/// Tokenizes an expression.
pub(crate) fn lex(text: &str) -> Lexed {
    let mut lexer = Lexer {
        text,
        bytes: text.as_bytes(),
        pos: 0,
        depth: 0,
        newline: None,
        tokens: Vec::new(),
    };
    let error = lexer.run().err();
    let end = text.len();
    lexer.tokens.push(Token {
        kind: Tok::Eof,
        span: end..end,
    });
    Lexed {
        tokens: lexer.tokens,
        error,
    }
}

const PYTHON_KEYWORDS: &[&str] = &[
    "as", "assert", "async", "await", "break", "class", "continue", "def", "del", "elif", "except",
    "finally", "from", "global", "import", "lambda", "nonlocal", "None", "pass", "raise", "return",
    "try", "while", "with", "yield",
];

/// Python's string prefixes (lowercased); `t` is Python 3.14's template strings.
const STRING_PREFIXES: &[&str] = &["r", "u", "f", "b", "br", "rb", "fr", "rf", "t", "tr", "rt"];

/// A [`DiagKind::Syntax`] error: text that is not a Python expression.
pub(crate) fn syntax(message: impl Into<String>, span: TextRange) -> ParseError {
    ParseError {
        kind: DiagKind::Syntax,
        message: message.into(),
        span,
    }
}

/// A [`DiagKind::Unsupported`] error: Python the model language does not accept.
pub(crate) fn unsupported(message: impl Into<String>, span: TextRange) -> ParseError {
    ParseError {
        kind: DiagKind::Unsupported,
        message: message.into(),
        span,
    }
}

struct Lexer<'t> {
    text: &'t str,
    bytes: &'t [u8],
    pos: usize,
    /// Bracket depth, for the rule that newlines are only allowed inside brackets.
    depth: usize,
    /// A line break seen outside brackets after the first token; only an error if another
    /// token follows, since trailing blank lines and comments are harmless.
    newline: Option<TextRange>,
    tokens: Vec<Token>,
}

impl Lexer<'_> {
    fn byte(&self, i: usize) -> u8 {
        self.bytes.get(i).copied().unwrap_or(0)
    }

    fn run(&mut self) -> Result<(), ParseError> {
        loop {
            self.skip_trivia()?;
            if self.pos >= self.bytes.len() {
                return Ok(());
            }
            if let Some(nl) = self.newline.take() {
                return Err(syntax(
                    "an expression must fit on one line; wrap it in parentheses to continue it",
                    nl,
                ));
            }
            let start = self.pos;
            let kind = self.token()?;
            self.tokens.push(Token {
                kind,
                span: start..self.pos,
            });
        }
    }

    fn skip_trivia(&mut self) -> Result<(), ParseError> {
        while self.pos < self.bytes.len() {
            match self.bytes[self.pos] {
                b' ' | b'\t' | b'\x0c' => self.pos += 1,
                b'#' => {
                    while self.pos < self.bytes.len()
                        && !matches!(self.bytes[self.pos], b'\n' | b'\r')
                    {
                        self.pos += 1;
                    }
                }
                b'\n' | b'\r' => {
                    let len = if self.bytes[self.pos] == b'\r' && self.byte(self.pos + 1) == b'\n' {
                        2
                    } else {
                        1
                    };
                    if self.depth == 0 && !self.tokens.is_empty() && self.newline.is_none() {
                        self.newline = Some(self.pos..self.pos + len);
                    }
                    self.pos += len;
                }
                b'\\' if matches!(self.byte(self.pos + 1), b'\n' | b'\r') => {
                    return Err(unsupported(
                        concat!(
                            "line continuation with '\\' is not supported; ",
                            "wrap the expression in parentheses"
                        ),
                        self.pos..self.pos + 1,
                    ));
                }
                _ => break,
            }
        }
        Ok(())
    }

    /// Lexes one token starting at `self.pos` (not trivia, not the end).
    fn token(&mut self) -> Result<Tok, ParseError> {
        let start = self.pos;
        let b = self.bytes[start];
        let next = self.byte(start + 1);
        let next2 = self.byte(start + 2);
        // Operators: (length, token) or an error for the ones Python has and the language lacks.
        let (len, tok) = match b {
            b'0'..=b'9' => return self.number(),
            b'.' if next.is_ascii_digit() => return self.number(),
            b'a'..=b'z' | b'A'..=b'Z' | b'_' => return self.word(),
            b'\'' | b'"' => return self.string(start, start),
            b'.' if next == b'.' && next2 == b'.' => {
                return Err(unsupported(
                    "'...' (Ellipsis) is not supported",
                    start..start + 3,
                ));
            }
            b'.' => (1, Tok::Dot),
            b'(' | b'[' | b'{' => {
                self.depth += 1;
                (
                    1,
                    match b {
                        b'(' => Tok::LParen,
                        b'[' => Tok::LBracket,
                        _ => Tok::LBrace,
                    },
                )
            }
            b')' | b']' | b'}' => {
                self.depth = self.depth.saturating_sub(1);
                (
                    1,
                    match b {
                        b')' => Tok::RParen,
                        b']' => Tok::RBracket,
                        _ => Tok::RBrace,
                    },
                )
            }
            b',' => (1, Tok::Comma),
            b'+' | b'-' | b'%' | b'@' | b'&' | b'|' if next == b'=' => {
                return Err(self.augmented(2))
            }
            b'*' if next == b'*' && next2 == b'=' => return Err(self.augmented(3)),
            b'/' if next == b'/' && next2 == b'=' => return Err(self.augmented(3)),
            b'<' if next == b'<' && next2 == b'=' => return Err(self.augmented(3)),
            b'>' if next == b'>' && next2 == b'=' => return Err(self.augmented(3)),
            b'*' | b'/' | b'^' if next == b'=' => return Err(self.augmented(2)),
            b'+' => (1, Tok::Plus),
            b'-' if next == b'>' => return Err(syntax("unexpected '->'", start..start + 2)),
            b'-' => (1, Tok::Minus),
            b'*' if next == b'*' => (2, Tok::Pow),
            b'*' => (1, Tok::Star),
            b'^' => (1, Tok::Pow),
            b'/' if next == b'/' => (2, Tok::DoubleSlash),
            b'/' => (1, Tok::Slash),
            b'%' => (1, Tok::Percent),
            b'<' if next == b'<' => return Err(bitwise("<<", "", start..start + 2)),
            b'>' if next == b'>' => return Err(bitwise(">>", "", start..start + 2)),
            b'<' if next == b'=' => (2, Tok::Le),
            b'>' if next == b'=' => (2, Tok::Ge),
            b'<' => (1, Tok::Lt),
            b'>' => (1, Tok::Gt),
            b'=' if next == b'=' => (2, Tok::EqEq),
            b'=' if next == b'>' || next == b'<' => {
                let fix = if next == b'>' { ">=" } else { "<=" };
                let op = &self.text[start..start + 2];
                return Err(syntax(
                    format!("'{op}' is not an operator; did you mean '{fix}'?"),
                    start..start + 2,
                ));
            }
            b'=' => (1, Tok::Assign),
            b'!' if next == b'=' => (2, Tok::NotEq),
            b'!' => {
                return Err(syntax(
                    "unexpected character '!'; use 'not' for negation",
                    start..start + 1,
                ))
            }
            b'&' if next == b'&' => {
                return Err(syntax(
                    "'&&' is not an operator; use 'and'",
                    start..start + 2,
                ))
            }
            b'|' if next == b'|' => {
                return Err(syntax(
                    "'||' is not an operator; use 'or'",
                    start..start + 2,
                ))
            }
            b'&' => return Err(bitwise("&", " (use 'and' for logic)", start..start + 1)),
            b'|' => return Err(bitwise("|", " (use 'or' for logic)", start..start + 1)),
            b'~' => return Err(bitwise("~", " (use 'not' for logic)", start..start + 1)),
            b':' if next == b'=' => {
                return Err(unsupported(
                    "assignment expressions (':=') are not supported",
                    start..start + 2,
                ));
            }
            b':' => (1, Tok::Colon),
            b';' => {
                return Err(unsupported(
                    "multiple statements (';') are not supported: write a single expression",
                    start..start + 1,
                ));
            }
            _ => return Err(self.invalid_char()),
        };
        self.pos += len;
        Ok(tok)
    }

    fn augmented(&self, len: usize) -> ParseError {
        let op = &self.text[self.pos..self.pos + len];
        unsupported(
            format!("augmented assignment ('{op}') is not an expression"),
            self.pos..self.pos + len,
        )
    }

    fn invalid_char(&self) -> ParseError {
        // `pos` is always on a char boundary: every token and trivia run ends on an ASCII byte.
        let c = self.text[self.pos..].chars().next().unwrap_or('\u{fffd}');
        let span = self.pos..self.pos + c.len_utf8();
        let message = if c.is_ascii_graphic() {
            format!("unexpected character '{c}'")
        } else if c.is_alphabetic() {
            format!(
                "invalid character '{c}' (U+{:04X}): names must be ASCII",
                u32::from(c)
            )
        } else if c.is_control() || c.is_whitespace() {
            format!("invalid character U+{:04X}", u32::from(c))
        } else {
            format!("invalid character '{c}' (U+{:04X})", u32::from(c))
        };
        syntax(message, span)
    }

    /// A name, keyword, or a string with a prefix (`f"..."`).
    fn word(&mut self) -> Result<Tok, ParseError> {
        let start = self.pos;
        while self.pos < self.bytes.len()
            && (self.bytes[self.pos].is_ascii_alphanumeric() || self.bytes[self.pos] == b'_')
        {
            self.pos += 1;
        }
        let word = &self.text[start..self.pos];
        if matches!(self.byte(self.pos), b'\'' | b'"')
            && STRING_PREFIXES.contains(&word.to_ascii_lowercase().as_str())
        {
            return self.string(start, self.pos);
        }
        let span = start..self.pos;
        Ok(match word {
            "True" => Tok::True,
            "False" => Tok::False,
            "if" => Tok::If,
            "else" => Tok::Else,
            "and" => Tok::And,
            "or" => Tok::Or,
            "not" => Tok::Not,
            "for" => Tok::For,
            "in" => Tok::In,
            "is" => Tok::Is,
            "None" => return Err(unsupported("None is not supported", span)),
            "lambda" => {
                return Err(unsupported(
                    concat!(
                        "lambda expressions are not supported ",
                        "('lambda' is a Python keyword and cannot be used as a name)"
                    ),
                    span,
                ));
            }
            "await" | "yield" => {
                return Err(unsupported(
                    format!("'{word}' expressions are not supported"),
                    span,
                ))
            }
            _ if PYTHON_KEYWORDS.contains(&word) => {
                return Err(unsupported(
                    format!("'{word}' is a Python keyword and cannot be used in an expression"),
                    span,
                ));
            }
            _ => Tok::Name,
        })
    }

    /// A string literal starting at `start` (its prefix) with the quote at `quote`; always an
    /// error, reported over the whole literal.
    fn string(&mut self, start: usize, quote: usize) -> Result<Tok, ParseError> {
        let q = self.bytes[quote];
        let triple = self.byte(quote + 1) == q && self.byte(quote + 2) == q;
        let mut i = quote + if triple { 3 } else { 1 };
        let end = loop {
            if i >= self.bytes.len() {
                return Err(syntax(
                    "unterminated string literal",
                    start..self.bytes.len(),
                ));
            }
            match self.bytes[i] {
                b'\\' => i += 2,
                c if c == q && (!triple || (self.byte(i + 1) == q && self.byte(i + 2) == q)) => {
                    break i + if triple { 3 } else { 1 };
                }
                b'\n' | b'\r' if !triple => {
                    return Err(syntax("unterminated string literal", start..i))
                }
                _ => i += 1,
            }
        };
        let prefix = self.text[start..quote].to_ascii_lowercase();
        let what = if prefix.contains('f') {
            "f-strings are not supported"
        } else if prefix.contains('t') {
            "template strings are not supported"
        } else if prefix.contains('b') {
            "bytes literals are not supported"
        } else {
            "string literals are not supported"
        };
        Err(unsupported(what, start..end))
    }

    /// A number in Python's literal syntax.
    fn number(&mut self) -> Result<Tok, ParseError> {
        let start = self.pos;
        let prefix = self.byte(start + 1).to_ascii_lowercase();
        if self.bytes[start] == b'0' && matches!(prefix, b'x' | b'o' | b'b') {
            return self.radix_number(prefix);
        }
        let mut i = start;
        let mut int_digits = String::new();
        if self.bytes[i].is_ascii_digit() {
            i = self.digits(i, &mut int_digits)?;
        }
        let mut frac_digits = String::new();
        let mut is_float = false;
        if self.byte(i) == b'.' {
            is_float = true;
            i += 1;
            if self.byte(i).is_ascii_digit() {
                i = self.digits(i, &mut frac_digits)?;
            }
        }
        let mut exp_digits = String::new();
        if matches!(self.byte(i), b'e' | b'E') {
            let mut j = i + 1;
            if matches!(self.byte(j), b'+' | b'-') {
                j += 1;
            }
            if self.byte(j).is_ascii_digit() {
                exp_digits.push_str(&self.text[i + 1..j]);
                i = self.digits(j, &mut exp_digits)?;
                is_float = true;
            }
        }
        if matches!(self.byte(i), b'j' | b'J') && self.number_ends(i + 1) {
            return Err(unsupported(
                "complex literals are not supported",
                start..i + 1,
            ));
        }
        if !self.number_ends(i) {
            let end = self.word_end(i);
            let literal = &self.text[start..end];
            let number = &self.text[start..i];
            let rest = &self.text[i..end];
            // `2x` is likely a missing `*`; `1e` or `1e_5` is a broken exponent, not a product.
            let r = rest.as_bytes();
            let broken_exponent = matches!(r[0], b'e' | b'E')
                && r.get(1).is_none_or(|c| c.is_ascii_digit() || *c == b'_');
            let hint = if r[0].is_ascii_alphabetic() && !broken_exponent {
                format!("; to multiply, write '{number}*{rest}'")
            } else {
                String::new()
            };
            return Err(syntax(
                format!("invalid number literal '{literal}'{hint}"),
                start..end,
            ));
        }
        self.pos = i;
        let span = start..i;
        if is_float {
            // Rebuilt in a canonical form (`1.` and `.5` have empty parts) that `str::parse`
            // reads with correct rounding, like Python.
            let int_part = if int_digits.is_empty() {
                "0"
            } else {
                &int_digits
            };
            let frac_part = if frac_digits.is_empty() {
                "0"
            } else {
                &frac_digits
            };
            let exp_part = if exp_digits.is_empty() {
                "0"
            } else {
                &exp_digits
            };
            let canonical = format!("{int_part}.{frac_part}e{exp_part}");
            return canonical
                .parse::<f64>()
                .map(Tok::Float)
                .map_err(|_| syntax("invalid float literal", span));
        }
        if int_digits.len() > 1
            && int_digits.starts_with('0')
            && int_digits.bytes().any(|d| d != b'0')
        {
            return Err(syntax(
                concat!(
                    "leading zeros in decimal integer literals are not permitted; ",
                    "use an 0o prefix for octal integers"
                ),
                span,
            ));
        }
        match int_digits.parse::<i64>() {
            Ok(i) => Ok(Tok::Int(i)),
            Err(_) if int_digits == "9223372036854775808" => Ok(Tok::TwoToThe63),
            // Beyond 64 bits: the nearest float (parsing decimal digits rounds correctly).
            Err(_) => int_digits
                .parse::<f64>()
                .map(Tok::BigInt)
                .map_err(|_| syntax("integer literal too large", span)),
        }
    }

    /// `0x..`, `0o..`, `0b..` with Python's underscore rules (one `_` allowed after the prefix
    /// and between digits).
    fn radix_number(&mut self, prefix: u8) -> Result<Tok, ParseError> {
        let start = self.pos;
        let radix = match prefix {
            b'x' => 16,
            b'o' => 8,
            _ => 2,
        };
        let mut i = start + 2;
        let mut digits = String::new();
        loop {
            let underscore = self.byte(i) == b'_';
            let d = self.byte(i + usize::from(underscore));
            if (d as char).is_digit(radix) {
                digits.push(d as char);
                i += 1 + usize::from(underscore);
            } else if underscore || digits.is_empty() {
                return Err(self.bad_literal(start, i));
            } else {
                break;
            }
        }
        if !self.number_ends(i) {
            return Err(self.bad_literal(start, i));
        }
        self.pos = i;
        match i64::from_str_radix(&digits, radix) {
            Ok(v) => Ok(Tok::Int(v)),
            Err(_) if u128::from_str_radix(&digits, radix) == Ok(1 << 63) => Ok(Tok::TwoToThe63),
            // Up to 128 bits, as the nearest float (u128 -> f64 rounds correctly).
            Err(_) => u128::from_str_radix(&digits, radix)
                .map(|v| Tok::BigInt(v as f64))
                .map_err(|_| syntax("integer literal too large", start..i)),
        }
    }

    /// Decimal digits with single underscores between them, appended to `out`; returns the
    /// index after them. `i` is at a digit.
    fn digits(&self, mut i: usize, out: &mut String) -> Result<usize, ParseError> {
        loop {
            let b = self.byte(i);
            if b.is_ascii_digit() {
                out.push(b as char);
                i += 1;
            } else if b == b'_' && self.byte(i + 1).is_ascii_digit() {
                i += 1;
            } else if b == b'_' {
                // `self.pos` is still where the number began: report the whole literal.
                return Err(self.bad_literal(self.pos, i));
            } else {
                return Ok(i);
            }
        }
    }

    fn bad_literal(&self, start: usize, at: usize) -> ParseError {
        let end = self.word_end(at);
        syntax(
            format!("invalid number literal '{}'", &self.text[start..end]),
            start..end,
        )
    }

    /// Whether a number may end at `i`: not inside a word, except that like Python a keyword
    /// may follow directly (`1if x else 2`, `1or 2`).
    fn number_ends(&self, i: usize) -> bool {
        const KEYWORDS: &[&str] = &["and", "else", "for", "if", "in", "is", "not", "or"];
        !is_word_byte(self.byte(i)) || KEYWORDS.iter().any(|k| self.text[i..].starts_with(k))
    }

    fn word_end(&self, mut i: usize) -> usize {
        while is_word_byte(self.byte(i)) {
            i += 1;
        }
        i
    }
}

fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

fn bitwise(op: &str, hint: &str, span: TextRange) -> ParseError {
    unsupported(
        format!("bitwise operator '{op}' is not supported{hint}"),
        span,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(text: &str) -> Vec<Tok> {
        let lexed = lex(text);
        assert!(lexed.error.is_none(), "{text:?}: {:?}", lexed.error);
        lexed.tokens.into_iter().map(|t| t.kind).collect()
    }

    fn error(text: &str) -> ParseError {
        lex(text)
            .error
            .unwrap_or_else(|| panic!("{text:?} lexed without error"))
    }

    fn number(text: &str) -> Tok {
        let k = kinds(text);
        assert_eq!(k.len(), 2, "{text:?} gave {k:?}");
        k[0].clone()
    }

    #[test]
    fn operators() {
        use Tok::*;
        assert_eq!(
            kinds("+ - * / // % ** ^ < <= > >= == != ( ) [ ] { } , . : ="),
            vec![
                Plus,
                Minus,
                Star,
                Slash,
                DoubleSlash,
                Percent,
                Pow,
                Pow,
                Lt,
                Le,
                Gt,
                Ge,
                EqEq,
                NotEq,
                LParen,
                RParen,
                LBracket,
                RBracket,
                LBrace,
                RBrace,
                Comma,
                Dot,
                Colon,
                Assign,
                Eof
            ]
        );
        assert_eq!(kinds("a***b"), vec![Name, Pow, Star, Name, Eof]);
        assert_eq!(kinds("x^-1"), vec![Name, Pow, Minus, Int(1), Eof]);
    }

    #[test]
    fn keywords_and_names() {
        use Tok::*;
        assert_eq!(
            kinds("if else and or not for in is True False true _x x1 match"),
            vec![If, Else, And, Or, Not, For, In, Is, True, False, Name, Name, Name, Name, Eof]
        );
        let lexed = lex("abc_1 + d");
        assert_eq!(lexed.tokens[0].span, 0..5);
        assert_eq!(lexed.tokens[2].span, 8..9);
        assert_eq!(lexed.tokens[3].span, 9..9);
    }

    #[test]
    fn python_keywords_are_unsupported() {
        for kw in PYTHON_KEYWORDS {
            let e = error(&format!("x + {kw}"));
            assert_eq!(e.kind, DiagKind::Unsupported, "{kw}");
            assert_eq!(e.span, 4..4 + kw.len());
            assert!(e.message.contains(kw), "{kw}: {}", e.message);
        }
        assert!(error("lambda x: x")
            .message
            .starts_with("lambda expressions are not supported"));
        assert_eq!(error("None").message, "None is not supported");
    }

    #[test]
    fn decimal_numbers() {
        assert_eq!(number("0"), Tok::Int(0));
        assert_eq!(number("00"), Tok::Int(0));
        assert_eq!(number("0_0"), Tok::Int(0));
        assert_eq!(number("7"), Tok::Int(7));
        assert_eq!(number("1_000_000"), Tok::Int(1_000_000));
        assert_eq!(number("9223372036854775807"), Tok::Int(i64::MAX));
        assert_eq!(number("1.5"), Tok::Float(1.5));
        assert_eq!(number(".5"), Tok::Float(0.5));
        assert_eq!(number("1."), Tok::Float(1.0));
        assert_eq!(number("1e-3"), Tok::Float(1e-3));
        assert_eq!(number("1E3"), Tok::Float(1000.0));
        assert_eq!(number("1.e2"), Tok::Float(100.0));
        assert_eq!(number("2.5e+2"), Tok::Float(250.0));
        assert_eq!(number("1_0.2_5e1_0"), Tok::Float(10.25e10));
        assert_eq!(number("012.5"), Tok::Float(12.5));
        assert_eq!(number("012e1"), Tok::Float(120.0));
        assert_eq!(number("0.1"), Tok::Float(0.1));
        assert_eq!(number("1e400"), Tok::Float(f64::INFINITY));
        assert_eq!(number("1e-400"), Tok::Float(0.0));
        assert_eq!(
            number("1e99999999999999999999999"),
            Tok::Float(f64::INFINITY)
        );
        // Correct rounding: the halfway case between two doubles rounds to even.
        assert_eq!(number("9007199254740993.0"), Tok::Float(9007199254740992.0));
        assert_eq!(
            number("2.2250738585072011e-308"),
            Tok::Float(2.225_073_858_507_201e-308)
        );
    }

    #[test]
    fn integers_beyond_64_bits_are_the_nearest_float() {
        assert_eq!(
            number("9223372036854775809"),
            Tok::BigInt(9.223_372_036_854_776e18)
        );
        // 2**63 itself is kept apart: negated, it is an int64.
        assert_eq!(number("9223372036854775808"), Tok::TwoToThe63);
        assert_eq!(number("9_223_372_036_854_775_808"), Tok::TwoToThe63);
        assert_eq!(number("0x8000000000000000"), Tok::TwoToThe63);
        assert_eq!(number("99999999999999999999"), Tok::BigInt(1e20));
        assert_eq!(number("1_0000_0000_0000_0000_0000"), Tok::BigInt(1e20));
        assert_eq!(
            number("0x8000000000000001"),
            Tok::BigInt(9.223_372_036_854_776e18)
        );
        // Rounded once, correctly: 2**64 + 1 is nearest to 2**64.
        assert_eq!(
            number("18446744073709551617"),
            Tok::BigInt(18446744073709551616.0)
        );
        let huge = "1".repeat(400);
        assert_eq!(number(&huge), Tok::BigInt(f64::INFINITY));
    }

    #[test]
    fn radix_numbers() {
        assert_eq!(number("0x10"), Tok::Int(16));
        assert_eq!(number("0XfF"), Tok::Int(255));
        assert_eq!(number("0x_1f"), Tok::Int(31));
        assert_eq!(number("0o17"), Tok::Int(15));
        assert_eq!(number("0b101"), Tok::Int(5));
        assert_eq!(number("0b_1_0"), Tok::Int(2));
        assert_eq!(number("0x7fffffffffffffff"), Tok::Int(i64::MAX));
    }

    #[test]
    fn keyword_right_after_number() {
        use Tok::*;
        assert_eq!(
            kinds("1if x else 2"),
            vec![Int(1), If, Name, Else, Int(2), Eof]
        );
        assert_eq!(kinds("1else"), vec![Int(1), Else, Eof]);
        assert_eq!(kinds("0x1or 2"), vec![Int(1), Or, Int(2), Eof]);
        assert_eq!(kinds("0b1and 1"), vec![Int(1), And, Int(1), Eof]);
        assert_eq!(kinds("1.5and 2"), vec![Float(1.5), And, Int(2), Eof]);
        assert_eq!(kinds("1e5if"), vec![Float(1e5), If, Eof]);
        assert_eq!(
            lex("1jif 1 else 2").error.unwrap().kind,
            DiagKind::Unsupported
        );
    }

    #[test]
    fn bad_numbers() {
        let cases: &[(&str, &str, TextRange)] = &[
            (
                "012",
                "leading zeros in decimal integer literals are not permitted",
                0..3,
            ),
            ("0_1", "leading zeros", 0..3),
            ("1__0", "invalid number literal '1__0'", 0..4),
            ("1_", "invalid number literal '1_'", 0..2),
            ("1_.5", "invalid number literal '1_'", 0..2),
            ("1._5", "invalid number literal '1._5'", 0..4),
            ("1e", "invalid number literal '1e'", 0..2),
            ("1e+", "invalid number literal '1e'", 0..2),
            ("1e_5", "invalid number literal '1e_5'", 0..4),
            (
                "2x",
                "invalid number literal '2x'; to multiply, write '2*x'",
                0..2,
            ),
            ("3pi + 1", "write '3*pi'", 0..3),
            ("0x", "invalid number literal '0x'", 0..2),
            ("0x__1", "invalid number literal '0x__1'", 0..5),
            ("0x1_", "invalid number literal '0x1_'", 0..4),
            ("0o8", "invalid number literal '0o8'", 0..3),
            ("0b102", "invalid number literal '0b102'", 0..5),
            ("0x1g", "invalid number literal '0x1g'", 0..4),
            (
                "0x1000000000000000000000000000000000",
                "integer literal too large",
                0..36,
            ),
        ];
        for (text, message, span) in cases {
            let e = error(text);
            assert_eq!(e.kind, DiagKind::Syntax, "{text}");
            assert!(e.message.contains(message), "{text}: {}", e.message);
            assert_eq!(&e.span, span, "{text}");
        }
    }

    #[test]
    fn complex_literals_are_unsupported() {
        for (text, span) in [("1j", 0..2), ("x + 1.5J", 4..8), ("1e3j", 0..4)] {
            let e = error(text);
            assert_eq!(e.kind, DiagKind::Unsupported);
            assert_eq!(e.message, "complex literals are not supported");
            assert_eq!(e.span, span);
        }
    }

    #[test]
    fn comments_and_whitespace() {
        use Tok::*;
        assert_eq!(
            kinds("  a\t+\x0cb # a comment"),
            vec![Name, Plus, Name, Eof]
        );
        assert_eq!(kinds("# only a comment"), vec![Eof]);
        assert_eq!(
            kinds("(a +  # first line\n b)"),
            vec![LParen, Name, Plus, Name, RParen, Eof]
        );
        assert_eq!(
            kinds("(a +\r\n b)"),
            vec![LParen, Name, Plus, Name, RParen, Eof]
        );
        assert_eq!(
            kinds("\n\n  a + b\n\n# trailing\n"),
            vec![Name, Plus, Name, Eof]
        );
        assert_eq!(kinds("a + b\r\n"), vec![Name, Plus, Name, Eof]);
    }

    #[test]
    fn newline_outside_brackets() {
        for (text, span) in [
            ("a +\nb", 3..4),
            ("a\r\n+ b", 1..3),
            ("a # c\n+ b", 5..6),
            ("(a)\n+ b", 3..4),
            ("a\r+b", 1..2),
        ] {
            let e = error(text);
            assert_eq!(e.kind, DiagKind::Syntax);
            assert!(
                e.message.starts_with("an expression must fit on one line"),
                "{}",
                e.message
            );
            assert_eq!(e.span, span, "{text:?}");
        }
        // The tokens before the line break are kept for the parser.
        assert_eq!(lex("a +\nb").tokens.len(), 3);
        let e = error("a + \\\n b");
        assert_eq!(e.kind, DiagKind::Unsupported);
        assert_eq!(e.span, 4..5);
    }

    #[test]
    fn strings_are_unsupported() {
        let cases: &[(&str, &str, TextRange)] = &[
            ("'abc'", "string literals are not supported", 0..5),
            ("x + \"a\\\"b\"", "string literals are not supported", 4..10),
            ("f'{x}'", "f-strings are not supported", 0..6),
            ("Rb'x' + 1", "bytes literals are not supported", 0..5),
            ("'''a\nb''' + 1", "string literals are not supported", 0..9),
            ("u\"x\"", "string literals are not supported", 0..4),
        ];
        for (text, message, span) in cases {
            let e = error(text);
            assert_eq!(e.kind, DiagKind::Unsupported, "{text}");
            assert_eq!(&e.message, message);
            assert_eq!(&e.span, span, "{text}");
        }
        for (text, span) in [
            ("'abc", 0..4),
            ("'ab\nc'", 0..3),
            ("f\"\"\"x", 0..5),
            ("'\\", 0..2),
        ] {
            let e = error(text);
            assert_eq!(e.kind, DiagKind::Syntax, "{text}");
            assert_eq!(e.message, "unterminated string literal");
            assert_eq!(e.span, span, "{text:?}");
        }
        // A prefix-like name not followed by a quote is a name.
        assert_eq!(
            kinds("f + rb"),
            vec![Tok::Name, Tok::Plus, Tok::Name, Tok::Eof]
        );
    }

    #[test]
    fn unsupported_operators() {
        let cases: &[(&str, &str, TextRange)] = &[
            ("a | b", "bitwise operator '|' is not supported", 2..3),
            ("a & b", "bitwise operator '&' is not supported", 2..3),
            ("~a", "bitwise operator '~' is not supported", 0..1),
            ("a << 2", "bitwise operator '<<' is not supported", 2..4),
            ("a >> 2", "bitwise operator '>>' is not supported", 2..4),
            (
                "(x := 1)",
                "assignment expressions (':=') are not supported",
                3..5,
            ),
            ("a; b", "multiple statements (';') are not supported", 1..2),
            (
                "x += 1",
                "augmented assignment ('+=') is not an expression",
                2..4,
            ),
            (
                "x **= 2",
                "augmented assignment ('**=') is not an expression",
                2..5,
            ),
            (
                "x ^= 2",
                "augmented assignment ('^=') is not an expression",
                2..4,
            ),
            (
                "x //= 2",
                "augmented assignment ('//=') is not an expression",
                2..5,
            ),
            (
                "x >>= 2",
                "augmented assignment ('>>=') is not an expression",
                2..5,
            ),
            (
                "x |= 2",
                "augmented assignment ('|=') is not an expression",
                2..4,
            ),
            ("...", "'...' (Ellipsis) is not supported", 0..3),
        ];
        for (text, message, span) in cases {
            let e = error(text);
            assert_eq!(e.kind, DiagKind::Unsupported, "{text}");
            assert!(e.message.starts_with(message), "{text}: {}", e.message);
            assert_eq!(&e.span, span, "{text}");
        }
    }

    #[test]
    fn invalid_characters() {
        let cases: &[(&str, &str, TextRange)] = &[
            ("a $ b", "unexpected character '$'", 2..3),
            ("a ? b", "unexpected character '?'", 2..3),
            ("a @ b", "unexpected character '@'", 2..3),
            ("`a`", "unexpected character '`'", 0..1),
            ("a \\ b", "unexpected character '\\'", 2..3),
            (
                "!a",
                "unexpected character '!'; use 'not' for negation",
                0..1,
            ),
            (
                "x + α",
                "invalid character 'α' (U+03B1): names must be ASCII",
                4..6,
            ),
            ("x\u{a0}+ 1", "invalid character U+00A0", 1..3),
            ("x + 1\0", "invalid character U+0000", 5..6),
            ("x + 😀", "invalid character '😀' (U+1F600)", 4..8),
            (
                "a => b",
                "'=>' is not an operator; did you mean '>='?",
                2..4,
            ),
            ("a && b", "'&&' is not an operator; use 'and'", 2..4),
            ("a -> b", "unexpected '->'", 2..4),
        ];
        for (text, message, span) in cases {
            let e = error(text);
            assert_eq!(e.kind, DiagKind::Syntax, "{text}");
            assert_eq!(&e.message, message, "{text}");
            assert_eq!(&e.span, span, "{text}");
        }
    }
}
