//! Reading a CSV file record by record, with the conventions of [`CsvTable`] (header,
//! trimming, missing tokens, physical line numbers) but never holding more than one record.
//!
//! [`CsvTable`]: crate::tabular::CsvTable

use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use crate::tabular::{TabularError, header_names, normalize_cell, open_quote};

/// One pass over a CSV file: the header, then one data record at a time.
pub(crate) struct CsvRecords {
    path: PathBuf,
    reader: csv::Reader<File>,
    record: csv::StringRecord,
    headers: Vec<String>,
    rows: usize,
    /// The file's length: a record that reaches it may hold an unterminated quote.
    len: u64,
}

impl CsvRecords {
    /// Opens `path` and reads its header line ([`TabularError::EmptyFile`] without one).
    pub(crate) fn open(path: &Path) -> Result<Self, TabularError> {
        let io = |source| TabularError::Io {
            path: path.to_path_buf(),
            source,
        };
        let file = File::open(path).map_err(io)?;
        let len = file.metadata().map_err(io)?.len();
        // The same parser settings as `CsvTable` (which strips a leading UTF-8 BOM too).
        let reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(file);
        let mut records = CsvRecords {
            path: path.to_path_buf(),
            reader,
            record: csv::StringRecord::new(),
            headers: Vec::new(),
            rows: 0,
            len,
        };
        let mut header = csv::ByteRecord::new();
        match records.reader.read_byte_record(&mut header) {
            Ok(true) => {}
            Ok(false) => return Err(TabularError::EmptyFile),
            Err(e) => return Err(records.csv_error(e)),
        }
        records.check_quotes_closed(offset_of(header.position()))?;
        let line = records.line_at(offset_of(header.position()))?;
        records.headers = header_names(&header, line)?;
        Ok(records)
    }

    /// The column names (trimmed; an empty one is `column_N`).
    pub(crate) fn headers(&self) -> &[String] {
        &self.headers
    }

    /// Data records read so far.
    pub(crate) fn rows(&self) -> usize {
        self.rows
    }

    /// Reads the next data record; `false` at the end of the file. A record with another
    /// number of fields than the header, text that is not UTF-8 or malformed CSV is an error
    /// naming its line, as [`CsvTable`](crate::tabular::CsvTable) reports it.
    pub(crate) fn advance(&mut self) -> Result<bool, TabularError> {
        let mut bytes = std::mem::take(&mut self.record).into_byte_record();
        match self.reader.read_byte_record(&mut bytes) {
            Ok(true) => {}
            Ok(false) => return Ok(false),
            Err(e) => return Err(self.csv_error(e)),
        }
        self.check_quotes_closed(offset_of(bytes.position()))?;
        if bytes.len() != self.headers.len() {
            return Err(TabularError::RaggedRow {
                line: self.line_at(offset_of(bytes.position()))?,
                expected: self.headers.len(),
                got: bytes.len(),
            });
        }
        self.record = match csv::StringRecord::from_byte_record(bytes) {
            Ok(record) => record,
            Err(e) => {
                let field = e.utf8_error().field();
                let line = self.line_at(offset_of(e.into_byte_record().position()))?;
                return Err(TabularError::InvalidUtf8 {
                    line,
                    column: self.headers.get(field).cloned().unwrap_or_default(),
                });
            }
        };
        self.rows += 1;
        Ok(true)
    }

    /// The cell of the current record in column `col`, trimmed; `None` when missing.
    pub(crate) fn cell(&self, col: usize) -> Option<&str> {
        self.record.get(col).and_then(normalize_cell)
    }

    /// Byte offset at which the parser started reading the current record.
    pub(crate) fn offset(&self) -> u64 {
        offset_of(self.record.position())
    }

    /// The physical line (header = line 1) of the record that starts at byte `offset`:
    /// computed by reading the file up to there again, so only on the way to an error.
    pub(crate) fn line_at(&self, offset: u64) -> Result<usize, TabularError> {
        line_in(&self.path, offset)
    }

    /// The physical line of the current record.
    pub(crate) fn line(&self) -> Result<usize, TabularError> {
        self.line_at(self.offset())
    }

    /// After reading the record that starts at byte `start`: when it reaches the end of
    /// the file, the error for a quoted field it leaves open (read again from `start`).
    fn check_quotes_closed(&self, start: u64) -> Result<(), TabularError> {
        if self.reader.position().byte() < self.len {
            return Ok(());
        }
        let io = |source| TabularError::Io {
            path: self.path.clone(),
            source,
        };
        let mut file = File::open(&self.path).map_err(io)?;
        file.seek(SeekFrom::Start(start)).map_err(io)?;
        match open_quote(file).map_err(io)? {
            Some(quote) => Err(TabularError::UnterminatedQuote {
                line: self.line_at(start + quote)?,
            }),
            None => Ok(()),
        }
    }

    fn csv_error(&self, e: csv::Error) -> TabularError {
        let offset = offset_of(e.position());
        let message = e.to_string();
        match e.into_kind() {
            csv::ErrorKind::Io(source) => TabularError::Io {
                path: self.path.clone(),
                source,
            },
            _ => match self.line_at(offset) {
                Ok(line) => TabularError::Csv { line, message },
                Err(io) => io,
            },
        }
    }
}

/// The physical line of the record that starts at byte `offset` of the CSV at `path`.
pub(crate) fn line_in(path: &Path, offset: u64) -> Result<usize, TabularError> {
    File::open(path)
        .and_then(|f| physical_line(f, offset))
        .map_err(|source| TabularError::Io {
            path: path.to_path_buf(),
            source,
        })
}

fn offset_of(position: Option<&csv::Position>) -> u64 {
    position.map_or(0, csv::Position::byte)
}

/// The physical line on which a record whose scan starts at byte `offset` begins: 1 + the
/// line ends before `offset` (`\n`, or `\r` not followed by `\n`), then 1 more for each line
/// end among the `\r` / `\n` bytes from `offset` on (blank lines the parser skips). This is
/// what `CsvTable` counts for its `lines`.
pub(crate) fn physical_line(reader: impl Read, offset: u64) -> std::io::Result<usize> {
    let mut bytes = BufReader::new(reader).bytes().peekable();
    let mut line = 1;
    let mut pos = 0u64;
    let mut skipping = false;
    loop {
        if pos >= offset {
            skipping = true;
        }
        let Some(b) = bytes.next_if(|b| !skipping || matches!(b, Ok(b'\r' | b'\n'))) else {
            return Ok(line);
        };
        let b = b?;
        let next_is_lf = matches!(bytes.peek(), Some(Ok(b'\n')));
        if b == b'\n' || (b == b'\r' && !next_is_lf) {
            line += 1;
        }
        pos += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tabular::CsvTable;

    /// Lines of every record, as the streaming reader finds them.
    fn streamed_lines(text: &str) -> Vec<usize> {
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(text.as_bytes());
        let mut record = csv::ByteRecord::new();
        let mut lines = Vec::new();
        while reader.read_byte_record(&mut record).unwrap() {
            let offset = offset_of(record.position());
            lines.push(physical_line(text.as_bytes(), offset).unwrap());
        }
        lines.remove(0); // the header
        lines
    }

    #[test]
    fn an_unterminated_quote_is_reported_where_it_opens() {
        let path = std::env::temp_dir().join(format!("dk-quote-{}.csv", std::process::id()));
        std::fs::write(&path, "a,b,c\n1,2,3\n4,\"5,6\n7,8,9\n").unwrap();
        let mut records = CsvRecords::open(&path).unwrap();
        assert!(records.advance().unwrap());
        let err = records.advance().unwrap_err();
        assert!(
            matches!(err, TabularError::UnterminatedQuote { line: 3 }),
            "{err:?}"
        );
        std::fs::write(&path, "a,\"b\n1,2\n").unwrap();
        assert!(matches!(
            CsvRecords::open(&path),
            Err(TabularError::UnterminatedQuote { line: 1 })
        ));
        let _ = std::fs::remove_file(&path);
    }

    #[test]
    fn lines_match_the_in_memory_table() {
        let texts = [
            "name,note\n\"Smith, J\",\"he said \"\"hi\"\"\"\n\n\"multi\nline\",x\r\n\r\nlast,y\n",
            "a,b\r\n1,2\r\n\r\n\r\n3,4",
            "a,b\r1,2\r\r3,4\r",
            "\n\n\u{feff}a,b\n1,2\n\n\n\"x\ny\",\"\r\n\"\n5,6\n",
            "a\n1\n\n\n",
        ];
        for text in texts {
            let table = CsvTable::parse(text).unwrap();
            assert_eq!(streamed_lines(text), table.lines, "{text:?}");
        }
    }

    #[test]
    fn generated_texts_give_the_same_lines() {
        // Every combination of separators and quoted line breaks over a few records.
        let pieces = ["\n", "\r\n", "\r", "\n\n", "\r\n\r\n", "\n\r\n"];
        let cells = ["1", "\"a\nb\"", "\"\r\"", " x "];
        for (i, sep) in pieces.iter().enumerate() {
            for (j, cell) in cells.iter().enumerate() {
                let other = pieces[(i + j + 1) % pieces.len()];
                let text = format!("h,k{sep}{cell},2{other}3,{cell}{sep}4,5{other}");
                let table = CsvTable::parse(&text).unwrap();
                assert_eq!(streamed_lines(&text), table.lines, "{text:?}");
            }
        }
    }
}
