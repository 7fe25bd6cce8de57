//! Finding a quoted field that a CSV never closes.
//!
//! The csv parser takes an unterminated quote as a field running to the end of the file, so
//! the mistake shows as a record with too few fields far from where it is, or not at all.
//! A field still open at the end of the input is only possible in the last record the
//! parser returns; [`open_quote`] scans that record again, as the parser reads it (comma
//! delimiter, `"` quotes, `""` for a quote inside a quoted field, a quote only opening a
//! field at its start), and finds the quote that opened it.

use std::io::{BufReader, Read};

/// Where the scan is within a record.
#[derive(Clone, Copy)]
enum State {
    /// At the start of a field (or of a record).
    FieldStart,
    /// Inside an unquoted field (a `"` there is text).
    Unquoted,
    /// Inside a quoted field opened at `opened` (offset from the scan's start).
    Quoted { opened: u64 },
    /// Just after a `"` inside a quoted field: the field's end, or the first of `""`.
    QuoteInQuoted { opened: u64 },
}

/// The offset, from the start of `input`, of the quote opening a field that is still open
/// when `input` ends; `None` when every quoted field is closed. `input` must start where
/// the parser starts a record.
pub(crate) fn open_quote(input: impl Read) -> std::io::Result<Option<u64>> {
    let mut state = State::FieldStart;
    for (offset, byte) in (0u64..).zip(BufReader::new(input).bytes()) {
        let byte = byte?;
        let ends_field = matches!(byte, b',' | b'\n' | b'\r');
        state = match state {
            State::FieldStart if byte == b'"' => State::Quoted { opened: offset },
            State::FieldStart | State::Unquoted if ends_field => State::FieldStart,
            State::FieldStart | State::Unquoted => State::Unquoted,
            State::Quoted { opened } if byte == b'"' => State::QuoteInQuoted { opened },
            State::Quoted { opened } => State::Quoted { opened },
            State::QuoteInQuoted { opened } if byte == b'"' => State::Quoted { opened },
            State::QuoteInQuoted { .. } if ends_field => State::FieldStart,
            State::QuoteInQuoted { .. } => State::Unquoted,
        };
    }
    Ok(match state {
        State::Quoted { opened } => Some(opened),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::open_quote;

    fn open(text: &str) -> Option<u64> {
        open_quote(text.as_bytes()).unwrap()
    }

    #[test]
    fn finds_the_quote_left_open() {
        assert_eq!(open("1,\"2,3\n4,5,6\n"), Some(2));
        assert_eq!(open("\"a"), Some(0));
        assert_eq!(open("x,\"he said \"\"hi\"\"\n"), Some(2));
    }

    #[test]
    fn closed_and_literal_quotes_are_fine() {
        for text in [
            "1,\"2,3\",4\n",
            "\"a\"\"b\",c",
            "ab\"c,d\n",
            "\"multi\nline\",x\r\n",
            "\"\"",
            "\"a\"b,c\n",
            "",
        ] {
            assert_eq!(open(text), None, "{text:?}");
        }
    }
}
