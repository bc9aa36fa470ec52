//! Campaign sources and the errors found in them, each pointing at `path:line:col`.
//!
//! The parser works on byte spans (what the TOML parser reports); users read lines and columns. This
//! module owns the conversion, so every error a campaign file can produce is located the same way,
//! and collects all of them so one run shows everything that needs fixing.

use std::fmt;
use std::ops::Range;

/// A file's name and text. The parser never reads files: the command line does, and hands them over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    /// Path as it should appear in error messages (`deploy/campaigns/h100.toml`).
    pub path: String,
    /// The file's contents.
    pub text: String,
}

impl Source {
    /// A source from a path and its text.
    pub fn new(path: impl Into<String>, text: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            text: text.into(),
        }
    }

    /// The 1-based line and column (in characters) of a byte offset; offsets past the end or inside
    /// a character are moved back to the nearest character boundary.
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        line_col(&self.text, offset)
    }

    /// An error at the start of `span`.
    pub(crate) fn error(
        &self,
        kind: ErrorKind,
        span: Range<usize>,
        message: impl Into<String>,
    ) -> CampaignError {
        let (line, col) = self.line_col(span.start);
        CampaignError {
            path: self.path.clone(),
            line,
            col,
            kind,
            message: message.into(),
        }
    }
}

/// 1-based line and character column of byte `offset` in `text`.
pub(crate) fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let line = before.matches('\n').count() + 1;
    let col = before[line_start..].chars().count() + 1;
    (line, col)
}

/// What kind of mistake an error reports, for callers that act on it without reading the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// The file is not valid TOML.
    Syntax,
    /// A key the schema does not have, a value of the wrong type, or a required key missing.
    Schema,
    /// A value outside its allowed set or range (unknown choice, bad number, bad regex).
    Value,
    /// A name that refers to nothing (an unknown workload).
    Reference,
    /// Something defined or listed twice.
    Duplicate,
    /// A key that does not belong with the others (a key of another sharing mode, MPS on MIG).
    Conflict,
    /// A MIG layout or profile that does not parse, or does not fit a targeted GPU model.
    Layout,
}

/// One problem in a campaign or catalog file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}:{line}:{col}: {message}")]
pub struct CampaignError {
    /// The file's path as given in its [`Source`].
    pub path: String,
    /// 1-based line.
    pub line: usize,
    /// 1-based column, in characters.
    pub col: usize,
    /// What kind of mistake this is.
    pub kind: ErrorKind,
    /// What is wrong and what is allowed.
    pub message: String,
}

/// Every problem found in a campaign and its catalog files, ordered by file and position.
///
/// Never empty when returned as an error. When a file is not valid TOML it holds that syntax error
/// alone, since nothing after it can be trusted.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CampaignErrors {
    errors: Vec<CampaignError>,
}

impl CampaignErrors {
    /// Collects `errors`, sorted by the order of `paths` (unknown paths last), then line and column.
    pub(crate) fn sorted(mut errors: Vec<CampaignError>, paths: &[&str]) -> Self {
        let rank = |p: &str| paths.iter().position(|q| *q == p).unwrap_or(paths.len());
        errors.sort_by_key(|e| (rank(&e.path), e.line, e.col));
        errors.dedup();
        Self { errors }
    }

    /// The errors.
    pub fn as_slice(&self) -> &[CampaignError] {
        &self.errors
    }

    /// The errors, by value.
    pub fn into_vec(self) -> Vec<CampaignError> {
        self.errors
    }

    /// How many errors there are.
    pub fn len(&self) -> usize {
        self.errors.len()
    }

    /// Whether there are none (never the case for a returned error).
    pub fn is_empty(&self) -> bool {
        self.errors.is_empty()
    }

    /// Iterate over the errors.
    pub fn iter(&self) -> std::slice::Iter<'_, CampaignError> {
        self.errors.iter()
    }
}

impl fmt::Display for CampaignErrors {
    /// One error a line, `path:line:col: message`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.errors.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for CampaignErrors {}

impl IntoIterator for CampaignErrors {
    type Item = CampaignError;
    type IntoIter = std::vec::IntoIter<CampaignError>;

    fn into_iter(self) -> Self::IntoIter {
        self.errors.into_iter()
    }
}

impl<'a> IntoIterator for &'a CampaignErrors {
    type Item = &'a CampaignError;
    type IntoIter = std::slice::Iter<'a, CampaignError>;

    fn into_iter(self) -> Self::IntoIter {
        self.errors.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_col_counts_lines_and_characters() {
        let text = "ab\ncé d\n";
        assert_eq!(line_col(text, 0), (1, 1));
        assert_eq!(line_col(text, 2), (1, 3));
        assert_eq!(line_col(text, 3), (2, 1));
        // `é` is two bytes: the `d` after it is the 4th character of line 2.
        assert_eq!(line_col(text, 7), (2, 4));
        // Inside `é`: moved back to its start.
        assert_eq!(line_col(text, 5), (2, 2));
        assert_eq!(line_col(text, 999), (3, 1));
    }

    #[test]
    fn display_is_path_line_col_message() {
        let src = Source::new("c.toml", "x = 1\ny = 2\n");
        let e = src.error(ErrorKind::Value, 6..7, "bad y");
        assert_eq!(e.to_string(), "c.toml:2:1: bad y");
        let all = CampaignErrors::sorted(
            vec![e.clone(), src.error(ErrorKind::Value, 0..1, "bad x")],
            &["c.toml"],
        );
        assert_eq!(all.to_string(), "c.toml:1:1: bad x\nc.toml:2:1: bad y");
    }
}
