//! Reading a CSV with a header into text cells.

use std::collections::HashMap;
use std::io::Read;
use std::path::Path;

use crate::tabular::error::{Result, TabularError};
use crate::tabular::quote::open_quote;

/// Cell spellings (compared case-insensitively, after trimming) that mean "missing".
pub const MISSING_TOKENS: [&str; 5] = ["", "NA", "N/A", "NaN", "null"];

/// Trims `raw` and returns it, or `None` when it is one of the [`MISSING_TOKENS`].
pub fn normalize_cell(raw: &str) -> Option<&str> {
    let t = raw.trim();
    if MISSING_TOKENS.iter().any(|m| t.eq_ignore_ascii_case(m)) {
        None
    } else {
        Some(t)
    }
}

/// A CSV held as text cells; `None` = missing (empty cell, or NA / N/A / NaN / null,
/// case-insensitive, after trimming whitespace). Present cells are stored trimmed.
///
/// Header names are trimmed too; an empty header name becomes `column_N` (N = 1-based
/// position). The delimiter is a comma; fields may be quoted (`"a, b"`, `"say ""hi"""`,
/// newlines inside quotes). Blank lines are skipped.
#[derive(Clone, Debug, PartialEq)]
pub struct CsvTable {
    /// Column names, in file order.
    pub headers: Vec<String>,
    /// One entry per data record, each with one cell per header column.
    pub rows: Vec<Vec<Option<String>>>,
    /// Physical line (header = line 1) on which each record starts, parallel to `rows`.
    pub lines: Vec<usize>,
}

impl CsvTable {
    /// Reads a CSV (header required) from any reader; see [`CsvTable`] for the conventions.
    pub fn from_reader<R: Read>(reader: R) -> Result<Self> {
        Self::read(reader, Path::new("<reader>"))
    }

    /// Reads a CSV file; an I/O error names `path`.
    pub fn from_path(path: &Path) -> Result<Self> {
        let file = std::fs::File::open(path).map_err(|source| TabularError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Self::read(file, path)
    }

    /// Parses CSV text held in memory.
    pub fn parse(text: &str) -> Result<Self> {
        Self::read(text.as_bytes(), Path::new("<string>"))
    }

    fn read<R: Read>(mut reader: R, path: &Path) -> Result<Self> {
        let mut data = Vec::new();
        reader
            .read_to_end(&mut data)
            .map_err(|source| TabularError::Io {
                path: path.to_path_buf(),
                source,
            })?;
        // csv strips a leading UTF-8 BOM itself; line counting below ignores it too.
        let mut csv = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(data.as_slice());
        let mut counter = LineCounter::new(&data);
        let mut record = csv::ByteRecord::new();
        let mut headers: Option<Vec<String>> = None;
        let (mut rows, mut lines) = (Vec::new(), Vec::new());
        loop {
            match csv.read_byte_record(&mut record) {
                Ok(true) => {}
                Ok(false) => break,
                Err(e) => return Err(csv_error(e, path, &mut counter)),
            }
            let offset = record.position().map_or(0, |p| p.byte());
            let offset = usize::try_from(offset)
                .unwrap_or(usize::MAX)
                .min(data.len());
            let line = counter.record_line(offset);
            // Only the record that reaches the end of the input can hold an open quote.
            if usize::try_from(csv.position().byte()).unwrap_or(usize::MAX) >= data.len()
                && let Some(quote) = open_quote(&data[offset..]).unwrap_or(None)
            {
                let quote = offset + usize::try_from(quote).unwrap_or(0);
                return Err(TabularError::UnterminatedQuote {
                    line: counter.record_line(quote),
                });
            }
            let Some(headers) = &headers else {
                headers = Some(header_names(&record, line)?);
                continue;
            };
            if record.len() != headers.len() {
                return Err(TabularError::RaggedRow {
                    line,
                    expected: headers.len(),
                    got: record.len(),
                });
            }
            let mut row = Vec::with_capacity(headers.len());
            for (field, name) in record.iter().zip(headers) {
                let text = std::str::from_utf8(field).map_err(|_| TabularError::InvalidUtf8 {
                    line,
                    column: name.clone(),
                })?;
                row.push(normalize_cell(text).map(str::to_string));
            }
            rows.push(row);
            lines.push(line);
        }
        let headers = headers.ok_or(TabularError::EmptyFile)?;
        if rows.is_empty() {
            return Err(TabularError::NoDataRows);
        }
        Ok(Self {
            headers,
            rows,
            lines,
        })
    }

    /// Index of the column called `name` (surrounding whitespace ignored).
    pub fn column_index(&self, name: &str) -> Result<usize> {
        let name = name.trim();
        self.headers
            .iter()
            .position(|h| h == name)
            .ok_or_else(|| TabularError::MissingColumn {
                name: name.to_string(),
                available: self.headers.clone(),
            })
    }

    /// Number of data rows (the header is not counted).
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// True when the table has no data row.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Physical line of data row `row` (0-based); falls back to `row + 2` (the line it would
    /// have without blank lines or multi-line fields) if `lines` is shorter than `rows`.
    pub fn line(&self, row: usize) -> usize {
        self.lines
            .get(row)
            .copied()
            .unwrap_or_else(|| row.saturating_add(2))
    }

    /// The cell at data row `row` (0-based) and column `col`; `Ok(None)` means missing.
    /// Errors instead of panicking when the indices do not fit a (hand-built) table.
    pub fn cell(&self, row: usize, col: usize) -> Result<Option<&str>> {
        let cells = self.rows.get(row).ok_or(TabularError::RowOutOfRange {
            row,
            len: self.rows.len(),
        })?;
        match cells.get(col) {
            Some(cell) => Ok(cell.as_deref()),
            None => Err(TabularError::RaggedRow {
                line: self.line(row),
                expected: self.headers.len(),
                got: cells.len(),
            }),
        }
    }
}

impl std::str::FromStr for CsvTable {
    type Err = TabularError;

    fn from_str(text: &str) -> Result<Self> {
        Self::parse(text)
    }
}

/// Trimmed, validated header names (empty -> `column_N`, duplicates rejected).
pub(crate) fn header_names(record: &csv::ByteRecord, line: usize) -> Result<Vec<String>> {
    let mut names = Vec::with_capacity(record.len());
    let mut seen: HashMap<String, usize> = HashMap::new();
    for (i, field) in record.iter().enumerate() {
        let text = std::str::from_utf8(field).map_err(|_| TabularError::InvalidUtf8 {
            line,
            column: format!("#{}", i + 1),
        })?;
        let text = text.trim();
        let name = if text.is_empty() {
            format!("column_{}", i + 1)
        } else {
            text.to_string()
        };
        if let Some(&first) = seen.get(&name) {
            return Err(TabularError::DuplicateColumn {
                name,
                first,
                second: i + 1,
            });
        }
        seen.insert(name.clone(), i + 1);
        names.push(name);
    }
    Ok(names)
}

fn csv_error(e: csv::Error, path: &Path, counter: &mut LineCounter) -> TabularError {
    let offset = e.position().map_or(0, |p| p.byte());
    let line = counter.record_line(usize::try_from(offset).unwrap_or(usize::MAX));
    let message = e.to_string();
    match e.into_kind() {
        csv::ErrorKind::Io(source) => TabularError::Io {
            path: path.to_path_buf(),
            source,
        },
        _ => TabularError::Csv { line, message },
    }
}

/// Turns the byte offset where the csv parser starts scanning a record into the physical line
/// of the record's first character. The parser's own line numbers are not used: they point at
/// skipped blank lines and half-consumed `\r\n` pairs. Offsets must be non-decreasing.
struct LineCounter<'a> {
    data: &'a [u8],
    pos: usize,
    line: usize,
}

impl<'a> LineCounter<'a> {
    fn new(data: &'a [u8]) -> Self {
        Self {
            data,
            pos: 0,
            line: 1,
        }
    }

    /// True when the byte at `i` ends a line (`\n`, or a `\r` not followed by `\n`).
    fn ends_line(&self, i: usize) -> bool {
        match self.data.get(i) {
            Some(b'\n') => true,
            Some(b'\r') => self.data.get(i + 1) != Some(&b'\n'),
            _ => false,
        }
    }

    fn record_line(&mut self, offset: usize) -> usize {
        let offset = offset.min(self.data.len());
        while self.pos < offset {
            if self.ends_line(self.pos) {
                self.line += 1;
            }
            self.pos += 1;
        }
        // Skip the blank lines (and line-terminator remains) the parser skipped.
        while matches!(self.data.get(self.pos), Some(b'\r' | b'\n')) {
            if self.ends_line(self.pos) {
                self.line += 1;
            }
            self.pos += 1;
        }
        self.line
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_fields_and_physical_lines() {
        let text =
            "name,note\n\"Smith, J\",\"he said \"\"hi\"\"\"\n\n\"multi\nline\",x\r\n\r\nlast,y\n";
        let t = CsvTable::parse(text).unwrap();
        assert_eq!(t.headers, ["name", "note"]);
        assert_eq!(t.rows[0][0].as_deref(), Some("Smith, J"));
        assert_eq!(t.rows[0][1].as_deref(), Some("he said \"hi\""));
        assert_eq!(t.rows[1][0].as_deref(), Some("multi\nline"));
        assert_eq!(t.rows[2][0].as_deref(), Some("last"));
        // line 2: Smith; 3: blank; 4-5: multi-line record; 6: blank; 7: last.
        assert_eq!(t.lines, [2, 4, 7]);
        assert_eq!(t.len(), 3);
        assert!(!t.is_empty());
    }

    #[test]
    fn missing_tokens_and_trimming() {
        let t = CsvTable::parse("a,b,c,d,e,f,g\n,na, N/A ,nan,NULL, x ,None\n").unwrap();
        let row: Vec<Option<&str>> = t.rows[0].iter().map(|c| c.as_deref()).collect();
        assert_eq!(row, [None, None, None, None, None, Some("x"), Some("None")]);
    }

    #[test]
    fn bom_is_stripped_and_headers_trimmed() {
        let t = CsvTable::from_reader(&b"\xEF\xBB\xBF id , y\n1,2\n"[..]).unwrap();
        assert_eq!(t.headers, ["id", "y"]);
        assert_eq!(t.column_index("id").unwrap(), 0);
        assert_eq!(t.column_index(" y ").unwrap(), 1);
    }

    #[test]
    fn empty_header_name_is_renamed() {
        let t = CsvTable::parse(",a\n0,1\n").unwrap();
        assert_eq!(t.headers, ["column_1", "a"]);
    }

    #[test]
    fn empty_and_header_only_inputs() {
        assert!(matches!(CsvTable::parse(""), Err(TabularError::EmptyFile)));
        assert!(matches!(
            CsvTable::parse("\n\n"),
            Err(TabularError::EmptyFile)
        ));
        assert!(matches!(
            CsvTable::parse("a,b\n"),
            Err(TabularError::NoDataRows)
        ));
    }

    #[test]
    fn ragged_row_names_line_and_counts() {
        let err = CsvTable::parse("a,b,c\n1,2,3\n\n4,5\n").unwrap_err();
        assert!(matches!(
            err,
            TabularError::RaggedRow {
                line: 4,
                expected: 3,
                got: 2
            }
        ));
        assert!(err.to_string().starts_with("line 4: expected 3 fields"));
    }

    #[test]
    fn unterminated_quote_names_the_line_it_opens_on() {
        // Read as a field running to the end, the quote used to show as a short record.
        for (text, line) in [
            ("a,b,c\n1,2,3\n\n4,\"5,6\n7,8,9\n", 4),
            ("a,b\n1,\"2\n3,4\n", 2),
            ("a,\"b\n1,2\n", 1),
            ("a,b\r\n1,2\r\n3,\"x\"\"y", 3),
        ] {
            let err = CsvTable::parse(text).unwrap_err();
            assert!(
                matches!(err, TabularError::UnterminatedQuote { line: l } if l == line),
                "{text:?}: {err:?}"
            );
            assert!(err.to_string().contains("never closed"), "{err}");
        }
        // Closed quotes at the end of the file are fine.
        let t = CsvTable::parse("a,b\n1,\"2\n3\"").unwrap();
        assert_eq!(t.rows[0][1].as_deref(), Some("2\n3"));
    }

    #[test]
    fn duplicate_column_is_rejected() {
        let err = CsvTable::parse("a,b,a\n1,2,3\n").unwrap_err();
        assert!(matches!(
            err,
            TabularError::DuplicateColumn { ref name, first: 1, second: 3 } if name == "a"
        ));
    }

    #[test]
    fn column_index_lists_available() {
        let t = CsvTable::parse("a,b\n1,2\n").unwrap();
        let err = t.column_index("c").unwrap_err();
        assert_eq!(
            err.to_string(),
            r#"no column named "c"; available columns: "a", "b""#
        );
    }

    #[test]
    fn invalid_utf8_names_line_and_column() {
        let err = CsvTable::from_reader(&b"a,b\n1,2\n3,\xFF\n"[..]).unwrap_err();
        assert!(matches!(
            err,
            TabularError::InvalidUtf8 { line: 3, ref column } if column == "b"
        ));
    }

    #[test]
    fn io_error_names_path() {
        let path = Path::new("/nonexistent/dir/data.csv");
        let err = CsvTable::from_path(path).unwrap_err();
        assert!(matches!(err, TabularError::Io { .. }));
        assert!(err.to_string().contains("/nonexistent/dir/data.csv"));
    }

    #[test]
    fn cell_access_out_of_range_is_an_error() {
        let mut t: CsvTable = "a,b\n1,2\n".parse().unwrap();
        assert_eq!(t.cell(0, 1).unwrap(), Some("2"));
        assert!(matches!(
            t.cell(5, 0),
            Err(TabularError::RowOutOfRange { row: 5, len: 1 })
        ));
        t.rows[0].pop();
        assert!(matches!(
            t.cell(0, 1),
            Err(TabularError::RaggedRow { line: 2, .. })
        ));
    }
}
