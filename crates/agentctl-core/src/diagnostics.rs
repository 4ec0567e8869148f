//! Problems found in a config file, each pointing at the exact spot.
//!
//! A `Diagnostic` carries a byte span into the file it came from; `Report` bundles
//! every problem of one file so the CLI can print them all at once (miette renders
//! `file:line:col`, the line, a caret and the fix).

use std::fmt;
use std::ops::Range;
use std::sync::Arc;

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

/// The text of a config file, shared by every diagnostic that points into it.
#[derive(Debug, Clone)]
pub struct SourceFile {
    pub path: String,
    pub text: Arc<str>,
}

impl SourceFile {
    pub fn new(path: impl Into<String>, text: impl Into<Arc<str>>) -> Self {
        Self { path: path.into(), text: text.into() }
    }

    /// One-based line and column of a byte offset.
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let before = &self.text[..offset];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let col = before[line_start..].chars().count() + 1;
        (line, col)
    }
}

#[derive(Debug, Clone)]
pub struct Diagnostic {
    pub severity: Severity,
    /// What is wrong, naming the variable and the offending value.
    pub message: String,
    /// Where in the file; `None` for problems with no single spot (e.g. a missing variable).
    pub span: Option<Range<usize>>,
    /// Short text under the caret.
    pub label: Option<String>,
    /// How to fix it.
    pub help: Option<String>,
}

impl Diagnostic {
    pub fn error(message: impl Into<String>) -> Self {
        Self { severity: Severity::Error, message: message.into(), span: None, label: None, help: None }
    }
    pub fn warning(message: impl Into<String>) -> Self {
        Self { severity: Severity::Warning, ..Self::error(message) }
    }
    pub fn at(mut self, span: Option<Range<usize>>) -> Self {
        self.span = span;
        self
    }
    pub fn label(mut self, label: impl Into<String>) -> Self {
        self.label = Some(label.into());
        self
    }
    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

/// Every problem found in one config file.
#[derive(Debug, Clone)]
pub struct Report {
    pub source: SourceFile,
    pub diagnostics: Vec<Diagnostic>,
}

/// A diagnostic resolved to line and column, for JSON output and plain-text logs.
#[derive(Debug, Serialize)]
pub struct LocatedDiagnostic<'a> {
    pub severity: Severity,
    pub file: &'a str,
    pub line: Option<usize>,
    pub column: Option<usize>,
    pub message: &'a str,
    pub help: Option<&'a str>,
}

impl Report {
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }
    pub fn errors(&self) -> impl Iterator<Item = &Diagnostic> {
        self.diagnostics.iter().filter(|d| d.is_error())
    }
    pub fn warnings(&self) -> impl Iterator<Item = &Diagnostic> {
        self.diagnostics.iter().filter(|d| !d.is_error())
    }
    pub fn located(&self) -> Vec<LocatedDiagnostic<'_>> {
        self.diagnostics
            .iter()
            .map(|d| {
                let (line, column) = match &d.span {
                    Some(span) => {
                        let (l, c) = self.source.line_col(span.start);
                        (Some(l), Some(c))
                    }
                    None => (None, None),
                };
                LocatedDiagnostic {
                    severity: d.severity,
                    file: &self.source.path,
                    line,
                    column,
                    message: &d.message,
                    help: d.help.as_deref(),
                }
            })
            .collect()
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// miette rendering: one diagnostic with its source snippet.
#[derive(Debug)]
pub struct MietteDiagnostic {
    inner: Diagnostic,
    source: miette::NamedSource<Arc<str>>,
}

impl MietteDiagnostic {
    pub fn new(report: &Report, d: &Diagnostic) -> Self {
        let source = miette::NamedSource::new(report.source.path.clone(), report.source.text.clone());
        Self { inner: d.clone(), source }
    }
}

impl fmt::Display for MietteDiagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.inner.message)
    }
}

impl std::error::Error for MietteDiagnostic {}

impl miette::Diagnostic for MietteDiagnostic {
    fn severity(&self) -> Option<miette::Severity> {
        Some(match self.inner.severity {
            Severity::Error => miette::Severity::Error,
            Severity::Warning => miette::Severity::Warning,
        })
    }
    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.inner.help.as_ref().map(|h| Box::new(h) as Box<dyn fmt::Display>)
    }
    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        self.inner.span.as_ref().map(|_| &self.source as &dyn miette::SourceCode)
    }
    fn labels(&self) -> Option<Box<dyn Iterator<Item = miette::LabeledSpan> + '_>> {
        let span = self.inner.span.clone()?;
        let len = span.end.saturating_sub(span.start).max(1);
        let label = miette::LabeledSpan::new(self.inner.label.clone(), span.start, len);
        Some(Box::new(std::iter::once(label)))
    }
}
