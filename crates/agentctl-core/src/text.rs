//! Building text output: lines, and tables whose columns are as wide as their
//! content. Every command's text goes through these, so alignment is computed
//! once, here, instead of by hand-set widths.

use std::fmt;

/// Text built line by line. Appending to a `String` cannot fail, so there is no
/// `fmt::Result` to ignore.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Text(String);

impl Text {
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends `line` and a newline.
    pub fn line(&mut self, line: impl fmt::Display) -> &mut Self {
        self.0.push_str(&line.to_string());
        self.0.push('\n');
        self
    }

    /// Appends an empty line.
    pub fn blank(&mut self) -> &mut Self {
        self.0.push('\n');
        self
    }

    /// Appends text that ends its own lines (a rendered table).
    pub fn push(&mut self, text: &str) -> &mut Self {
        self.0.push_str(text);
        self
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl From<Text> for String {
    fn from(text: Text) -> String {
        text.0
    }
}

impl fmt::Display for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Rows of cells; each column is as wide as its widest cell.
///
/// - A row's last cell is not padded, so lines carry no trailing blanks
///   (a right-aligned column is padded on its left as usual).
/// - A row with fewer cells than the table ends in a cell that runs on over the
///   remaining columns: a note under a row. It does not widen its column.
/// - The continuation lines of a multi-line last cell start under the cell.
/// - A row without cells is an empty line.
#[derive(Debug, Clone)]
pub struct Table {
    indent: usize,
    separator: String,
    right_aligned: Vec<usize>,
    rows: Vec<Vec<String>>,
}

impl Default for Table {
    fn default() -> Self {
        Self { indent: 0, separator: "  ".to_owned(), right_aligned: Vec::new(), rows: Vec::new() }
    }
}

fn width(cell: &str) -> usize {
    cell.lines().map(|l| l.chars().count()).max().unwrap_or(0)
}

impl Table {
    /// Columns separated by two spaces, no indent.
    pub fn new() -> Self {
        Self::default()
    }

    /// Spaces before every line.
    pub fn indent(mut self, spaces: usize) -> Self {
        self.indent = spaces;
        self
    }

    /// What stands between two columns (default two spaces).
    pub fn separator(mut self, separator: &str) -> Self {
        self.separator = separator.to_owned();
        self
    }

    /// Aligns `column` (0-based) to the right: numbers.
    pub fn right_align(mut self, column: usize) -> Self {
        self.right_aligned.push(column);
        self
    }

    pub fn row<I>(&mut self, cells: I) -> &mut Self
    where
        I: IntoIterator,
        I::Item: Into<String>,
    {
        self.rows.push(cells.into_iter().map(Into::into).collect());
        self
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    fn columns(&self) -> usize {
        self.rows.iter().map(Vec::len).max().unwrap_or(0)
    }

    fn widths(&self) -> Vec<usize> {
        let columns = self.columns();
        let mut widths = vec![0; columns];
        for row in &self.rows {
            for (i, cell) in row.iter().enumerate() {
                let runs_on = i + 1 == row.len() && row.len() < columns;
                if !runs_on {
                    widths[i] = widths[i].max(width(cell));
                }
            }
        }
        widths
    }

    /// One string per row, without its newline: for callers that put other
    /// lines between the rows (a plan's attributes under each resource).
    pub fn lines(&self) -> Vec<String> {
        let widths = self.widths();
        let columns = widths.len();
        self.rows
            .iter()
            .map(|row| {
                if row.is_empty() {
                    return String::new();
                }
                let mut line = " ".repeat(self.indent);
                for (i, cell) in row.iter().enumerate() {
                    if i > 0 {
                        line.push_str(&self.separator);
                    }
                    let last = i + 1 == row.len();
                    let pad = if last && row.len() < columns { 0 } else { widths[i] - width(cell) };
                    if self.right_aligned.contains(&i) {
                        line.push_str(&" ".repeat(pad));
                    }
                    let start = line.chars().count();
                    line.push_str(&cell.replace('\n', &format!("\n{}", " ".repeat(start))));
                    if !last && !self.right_aligned.contains(&i) {
                        line.push_str(&" ".repeat(pad));
                    }
                }
                line.trim_end_matches(' ').to_owned()
            })
            .collect()
    }

    /// Every row as a line, each ended by a newline.
    pub fn render(&self) -> String {
        self.lines().into_iter().map(|l| l + "\n").collect()
    }
}

impl fmt::Display for Table {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.render())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_are_as_wide_as_their_widest_cell() {
        let mut t = Table::new().indent(2).right_align(1);
        t.row(["TASK", "COUNT", "NOTE"]).row(["a", "10", "first"]).row(["longer", "7", "x"]);
        assert_eq!(t.render(), "  TASK    COUNT  NOTE\n  a          10  first\n  longer      7  x\n");
    }

    #[test]
    fn a_short_row_runs_on_and_an_empty_row_is_a_blank_line() {
        let mut t = Table::new().right_align(1).right_align(2);
        t.row(["label", "$1.00", "$2.00"]).row(["", "a note wider than the columns"]).row(Vec::<String>::new());
        t.row(["x", "$10.00", "$3.00"]);
        assert_eq!(t.render(), "label   $1.00  $2.00\n       a note wider than the columns\n\nx      $10.00  $3.00\n");
    }

    #[test]
    fn a_multi_line_last_cell_continues_under_itself() {
        let mut t = Table::new().indent(4).separator(" = ");
        t.row(["k", "{\n  \"a\": 1\n}"]).row(["long_key", "2"]);
        assert_eq!(t.render(), "    k        = {\n                 \"a\": 1\n               }\n    long_key = 2\n");
    }

    #[test]
    fn text_appends_lines() {
        let mut t = Text::new();
        t.line("a").blank().line(format_args!("{}-{}", 1, 2)).push("tail\n");
        assert_eq!(String::from(t), "a\n\n1-2\ntail\n");
    }
}
