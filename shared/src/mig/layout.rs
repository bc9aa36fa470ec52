//! The MIG layout language (DESIGN.md §3): terms joined by `+`; a term is
//! `PROFILE[ xN][@START][(CI terms)]`; CI terms are `Nc[ xM][@START]` joined by `+`.
//!
//! Lexical rules (the parser is whitespace-tolerant everywhere between tokens):
//! * A profile is a driver name (`3g.40gb`, `1g.10gb+me`, case-insensitive, resolved later against
//!   the GPU's table), a slice shorthand (`3g`, `1g+me`) or an NVML profile id (`9`, digits only).
//! * Inside a name, `+` followed by a letter continues the name (`1g.10gb+me`, `+gfx`); any other
//!   `+` separates terms, so `3g.40gb+4g.40gb` is two terms and `1g.10gb+me` is one.
//! * The count is `x` (or `X`, `×`) and a number. It may follow the name directly: `x` followed by a
//!   digit ends a name, because no driver profile name contains `x<digit>`. So `1g.10gb x7`,
//!   `1g.10gb x 7`, `1g.10gbx7` and `19x7` all mean seven `1g.10gb`.
//! * `xN` and `@START` may come in either order, each at most once; a `( … )` compute split comes
//!   last. Counts are 1..=255, starts and slice counts 0..=255 / 1..=255.
//! * `@START` pins the first instance of the term; with `xN` the further instances take the next
//!   allowed free starts above it (`1g.10gb x3@2` is slots 2, 3 and 4). Inside a split, `@START`
//!   is the first compute slice within the GPU instance, with the same rule for `xM`.
//! * Every term's instances get the same compute split: `3g.40gb x2(1c x3)` is six compute
//!   instances.
//!
//! Errors carry the 1-based column (in characters) and say what was expected there.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A parsed, not yet placed, layout.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LayoutSpec {
    /// GPU-instance terms in the order written.
    pub terms: Vec<GiTerm>,
}

/// One GPU-instance term: `3g.40gb x2@0(1c x3)`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GiTerm {
    /// The profile, by name or NVML id.
    pub profile: ProfileRef,
    /// How many instances (`xN`), at least 1.
    pub count: u8,
    /// Pinned start slot (`@START`) of the first instance.
    pub start: Option<u8>,
    /// Compute-instance split of each instance; `None` means one CI spanning the GPU instance.
    pub compute: Option<Vec<CiTerm>>,
}

/// How a term names its profile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ProfileRef {
    /// Driver name (`3g.40gb`, `1g.10gb+me`) or slice shorthand (`3g`).
    Name(String),
    /// NVML profile id (`9`).
    Id(u32),
}

/// One compute-instance term: `2c x3`, or pinned `2c@2`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CiTerm {
    /// Compute slices of each compute instance.
    pub compute_slices: u8,
    /// How many.
    pub count: u8,
    /// Pinned start compute slice (`@START`) of the first compute instance, inside its GPU instance.
    #[serde(default)]
    pub start: Option<u8>,
}

impl CiTerm {
    /// `count` compute instances of `compute_slices` slices each, placed by the solver.
    pub fn new(compute_slices: u8, count: u8) -> Self {
        Self {
            compute_slices,
            count,
            start: None,
        }
    }
}

impl GiTerm {
    /// `count` instances of `profile`, placed by the solver, each with one full-size CI.
    pub fn new(profile: ProfileRef, count: u8) -> Self {
        Self {
            profile,
            count,
            start: None,
            compute: None,
        }
    }
}

/// A layout string that does not follow the grammar.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid MIG layout at column {column}: {message}")]
pub struct LayoutParseError {
    /// 1-based column (in characters) in the layout string.
    pub column: usize,
    /// What is wrong and what is allowed there.
    pub message: String,
}

/// Parse a layout string.
pub fn parse_layout(input: &str) -> Result<LayoutSpec, LayoutParseError> {
    Parser {
        chars: input.chars().collect(),
        pos: 0,
    }
    .layout()
}

impl fmt::Display for ProfileRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Name(name) => f.write_str(name),
            Self::Id(id) => write!(f, "{id}"),
        }
    }
}

impl fmt::Display for CiTerm {
    /// `2c`, `2c x3`, `2c x3@2`: the form [`parse_layout`] reads back.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}c", self.compute_slices)?;
        if self.count != 1 {
            write!(f, " x{}", self.count)?;
        }
        if let Some(start) = self.start {
            write!(f, "@{start}")?;
        }
        Ok(())
    }
}

impl fmt::Display for GiTerm {
    /// `3g.40gb x2@0(2c + 1c)`: the form [`parse_layout`] reads back.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.profile)?;
        if self.count != 1 {
            write!(f, " x{}", self.count)?;
        }
        if let Some(start) = self.start {
            write!(f, "@{start}")?;
        }
        if let Some(cis) = &self.compute {
            f.write_str("(")?;
            for (i, ci) in cis.iter().enumerate() {
                if i > 0 {
                    f.write_str(" + ")?;
                }
                write!(f, "{ci}")?;
            }
            f.write_str(")")?;
        }
        Ok(())
    }
}

impl fmt::Display for LayoutSpec {
    /// Terms joined by ` + `: the canonical text of a parsed layout.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, term) in self.terms.iter().enumerate() {
            if i > 0 {
                f.write_str(" + ")?;
            }
            write!(f, "{term}")?;
        }
        Ok(())
    }
}

struct Parser {
    chars: Vec<char>,
    pos: usize,
}

type PResult<T> = Result<T, LayoutParseError>;

impl Parser {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn peek_at(&self, offset: usize) -> Option<char> {
        self.chars.get(self.pos + offset).copied()
    }

    fn skip_ws(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.pos += 1;
        }
    }

    fn error_at(&self, pos: usize, message: impl Into<String>) -> LayoutParseError {
        LayoutParseError {
            column: pos + 1,
            message: message.into(),
        }
    }

    /// What stands at the current position, for "found …" in messages.
    fn found(&self) -> String {
        match self.peek() {
            Some(c) => format!("found `{c}`"),
            None => "found the end of the layout".to_string(),
        }
    }

    fn layout(mut self) -> PResult<LayoutSpec> {
        self.skip_ws();
        if self.peek().is_none() {
            return Err(self.error_at(
                self.pos,
                "empty layout: expected a profile such as `3g.40gb`, `1g.10gb+me`, `3g` or a \
                 profile id such as `9`",
            ));
        }
        let mut terms = Vec::new();
        loop {
            terms.push(self.term()?);
            self.skip_ws();
            match self.peek() {
                None => break,
                Some('+') => {
                    self.pos += 1;
                    self.skip_ws();
                }
                Some(_) => {
                    return Err(self.error_at(
                        self.pos,
                        format!(
                            "expected `+` before the next term, ` xN`, `@START`, `(` or the end of \
                             the layout, {}",
                            self.found()
                        ),
                    ));
                }
            }
        }
        Ok(LayoutSpec { terms })
    }

    fn term(&mut self) -> PResult<GiTerm> {
        let profile = self.profile()?;
        let mut count = None;
        let mut start = None;
        let mut compute = None;
        loop {
            self.skip_ws();
            let at = self.pos;
            match self.peek() {
                Some(c) if is_times(c) => {
                    if count.is_some() {
                        return Err(self.error_at(at, "the count `xN` is given twice in this term"));
                    }
                    self.pos += 1;
                    count = Some(self.count("instances")?);
                }
                Some('@') => {
                    if start.is_some() {
                        return Err(
                            self.error_at(at, "the start `@START` is given twice in this term")
                        );
                    }
                    self.pos += 1;
                    start = Some(self.small_number("a start slot after `@`")?);
                }
                Some('(') => {
                    self.pos += 1;
                    compute = Some(self.ci_list()?);
                    break;
                }
                _ => break,
            }
        }
        Ok(GiTerm {
            profile,
            count: count.unwrap_or(1),
            start,
            compute,
        })
    }

    fn profile(&mut self) -> PResult<ProfileRef> {
        let begin = self.pos;
        let mut name = String::new();
        while let Some(c) = self.peek() {
            let continues = if c.is_alphanumeric() || matches!(c, '.' | '-' | '_') {
                // `x` followed by a digit is the count, not part of the name.
                !(is_times(c) && !name.is_empty() && self.peek_at(1).is_some_and(is_digit))
            } else if c == '+' {
                // `+me`, `+gfx`: a `+` followed by a letter continues the name.
                !name.is_empty() && self.peek_at(1).is_some_and(char::is_alphabetic)
            } else {
                false
            };
            if !continues {
                break;
            }
            name.push(c);
            self.pos += 1;
        }
        if name.is_empty() {
            return Err(self.error_at(
                begin,
                format!(
                    "expected a profile name (such as `3g.40gb` or `1g.10gb+me`), a shorthand \
                     (`3g`) or a profile id (`9`), {}",
                    self.found()
                ),
            ));
        }
        if name.chars().all(is_digit) {
            return match name.parse::<u32>() {
                Ok(id) => Ok(ProfileRef::Id(id)),
                Err(_) => Err(self.error_at(
                    begin,
                    format!("profile id `{name}` is too large (at most {})", u32::MAX),
                )),
            };
        }
        Ok(ProfileRef::Name(name))
    }

    /// `(` already consumed: `Nc[ xM][@S] (+ …)* )`.
    fn ci_list(&mut self) -> PResult<Vec<CiTerm>> {
        let mut cis = Vec::new();
        self.skip_ws();
        if self.peek() == Some(')') {
            return Err(self.error_at(
                self.pos,
                "empty compute-instance split: expected a term such as `2c` or `1c x3` before `)`",
            ));
        }
        loop {
            self.skip_ws();
            cis.push(self.ci_term()?);
            self.skip_ws();
            match self.peek() {
                Some('+') => self.pos += 1,
                Some(')') => {
                    self.pos += 1;
                    return Ok(cis);
                }
                _ => {
                    return Err(self.error_at(
                        self.pos,
                        format!(
                            "expected `+` and another compute-instance term, ` xM`, `@START` or \
                             `)` closing the split, {}",
                            self.found()
                        ),
                    ));
                }
            }
        }
    }

    fn ci_term(&mut self) -> PResult<CiTerm> {
        let begin = self.pos;
        let compute_slices = self.small_number("a compute-instance size such as `2c`")?;
        if compute_slices == 0 {
            return Err(self.error_at(begin, "a compute instance needs at least 1 compute slice"));
        }
        if !matches!(self.peek(), Some('c' | 'C')) {
            return Err(self.error_at(
                self.pos,
                format!(
                    "expected `c` after the compute-slice count (as in `{compute_slices}c`), {}",
                    self.found()
                ),
            ));
        }
        self.pos += 1;
        let mut count = None;
        let mut start = None;
        loop {
            self.skip_ws();
            let at = self.pos;
            match self.peek() {
                Some(c) if is_times(c) => {
                    if count.is_some() {
                        return Err(self.error_at(
                            at,
                            "the count `xM` is given twice in this compute-instance term",
                        ));
                    }
                    self.pos += 1;
                    count = Some(self.count("compute instances")?);
                }
                Some('@') => {
                    if start.is_some() {
                        return Err(self.error_at(
                            at,
                            "the start `@START` is given twice in this compute-instance term",
                        ));
                    }
                    self.pos += 1;
                    start = Some(self.small_number("a start compute slice after `@`")?);
                }
                _ => break,
            }
        }
        Ok(CiTerm {
            compute_slices,
            count: count.unwrap_or(1),
            start,
        })
    }

    /// After `x`: a count of 1..=255.
    fn count(&mut self, what: &str) -> PResult<u8> {
        self.skip_ws();
        let begin = self.pos;
        let n = self.small_number("a count after `x` (as in `x2`)")?;
        if n == 0 {
            return Err(self.error_at(begin, format!("the number of {what} must be at least 1")));
        }
        Ok(n)
    }

    /// A decimal number 0..=255.
    fn small_number(&mut self, expected: &str) -> PResult<u8> {
        self.skip_ws();
        let begin = self.pos;
        let mut value: u64 = 0;
        while let Some(d) = self.peek().and_then(|c| c.to_digit(10)) {
            value = value.saturating_mul(10).saturating_add(u64::from(d));
            self.pos += 1;
        }
        if self.pos == begin {
            return Err(self.error_at(begin, format!("expected {expected}, {}", self.found())));
        }
        u8::try_from(value).map_err(|_| {
            self.error_at(
                begin,
                format!("number {value} is too large: expected {expected} of at most 255"),
            )
        })
    }
}

fn is_times(c: char) -> bool {
    matches!(c, 'x' | 'X' | '×')
}

fn is_digit(c: char) -> bool {
    c.is_ascii_digit()
}

#[cfg(test)]
#[path = "layout_tests.rs"]
mod tests;
