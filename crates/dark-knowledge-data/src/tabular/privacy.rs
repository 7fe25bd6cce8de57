//! Columns that look like personal identifiers: e-mail addresses, phone numbers, personal
//! names, free-text identifiers and exact dates of birth.
//!
//! Fitting an encoder ([`crate::tabular::TabularEncoder::fit`]) leaves such columns out unless
//! [`crate::tabular::ColumnRules::keep_personal`] names them (or `drop_personal` is `false`),
//! and lists them in [`crate::tabular::TabularEncoder::dropped_personal`]. The rules are
//! documented on [`personal_columns`].

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::tabular::column::{ColumnTransform, looks_numeric, number};
use crate::tabular::error::Result;
use crate::tabular::table::CsvTable;

/// Share of values a content rule needs.
const MATCH_SHARE: f64 = 0.8;
/// Share of distinct values among the present rows an identifier rule needs.
const DISTINCT_SHARE: f64 = 0.95;
/// Present rows the content-only identifier rule needs.
const ID_MIN_ROWS: usize = 20;

/// What a personal-looking column seems to hold.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub enum PersonalKind {
    /// E-mail addresses.
    Email,
    /// Phone numbers.
    Phone,
    /// Personal names.
    Name,
    /// Free-text identifiers (customer numbers, UUIDs, social security numbers).
    FreeTextId,
    /// Exact dates of birth.
    BirthDate,
}

impl fmt::Display for PersonalKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PersonalKind::Email => "looks like e-mail addresses",
            PersonalKind::Phone => "looks like phone numbers",
            PersonalKind::Name => "looks like personal names",
            PersonalKind::FreeTextId => "looks like a free-text identifier",
            PersonalKind::BirthDate => "looks like exact dates of birth",
        })
    }
}

/// A column flagged as personal data.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PersonalColumn {
    /// Column name in the CSV.
    pub column: String,
    /// What it seems to hold.
    pub kind: PersonalKind,
    /// Share of the judged values matching the rule (distinct share for an identifier).
    pub share: f64,
    /// Human-readable reason, e.g. `looks like e-mail addresses (93% of distinct values)`.
    pub reason: String,
}

impl PersonalColumn {
    /// The reason [`crate::tabular::TabularEncoder::dropped`] lists for the column.
    pub fn drop_reason(&self) -> String {
        format!(
            "personal data: {}; list it in keep_personal to keep it",
            self.reason
        )
    }
}

impl fmt::Display for PersonalColumn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}: {}", self.column, self.reason)
    }
}

/// Counts over the values of one column, in state that does not grow with the rows.
#[derive(Clone, Debug, Default)]
pub(crate) struct PersonalScan {
    values: usize,
    email: usize,
    phone: usize,
    phone_marked: usize,
    words: usize,
    mixed: usize,
    dates: usize,
}

/// Distinct values of a categorical column, for the identifier rules.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Distinct {
    /// Distinct present values.
    pub(crate) distinct: usize,
    /// Present rows.
    pub(crate) present: usize,
}

impl PersonalScan {
    /// Counts one present (normalized) value.
    pub(crate) fn add(&mut self, value: &str) {
        self.values += 1;
        self.email += usize::from(is_email(value));
        let date = is_date(value);
        self.dates += usize::from(date);
        // 1980-02-29 has 8 digits and dashes: a date, not a phone number.
        if let (false, Some(marked)) = (date, phone(value)) {
            self.phone += 1;
            self.phone_marked += usize::from(marked);
        }
        self.words += usize::from(is_name_words(value));
        let letters = value.chars().any(char::is_alphabetic);
        self.mixed += usize::from(letters && value.chars().any(|c| c.is_ascii_digit()));
    }

    /// The verdict for the column `header`: `distinct` is `None` for a numeric column, whose
    /// values were each counted; a categorical column's distinct values were counted once.
    pub(crate) fn judge(&self, header: &str, distinct: Option<Distinct>) -> Option<PersonalColumn> {
        if self.values == 0 {
            return None;
        }
        let share = |n: usize| n as f64 / self.values as f64;
        let words = header_words(header);
        let has = |w: &[&str]| words.iter().any(|x| w.contains(&x.as_str()));
        let basis = if distinct.is_some() {
            "of distinct values"
        } else {
            "of values"
        };
        let phone_header = has(&[
            "phone",
            "telephone",
            "tel",
            "mobile",
            "cell",
            "fax",
            "msisdn",
        ]) || header.to_lowercase().contains("phone");
        let birth_header = header.to_lowercase().contains("birth") || has(&["dob"]);
        let (kind, share) = if share(self.email) >= MATCH_SHARE {
            (PersonalKind::Email, share(self.email))
        } else if share(self.phone) >= MATCH_SHARE
            && (share(self.phone_marked) >= MATCH_SHARE || phone_header)
        {
            (PersonalKind::Phone, share(self.phone))
        } else if birth_header && share(self.dates) >= MATCH_SHARE {
            (PersonalKind::BirthDate, share(self.dates))
        } else if is_name_header(&words) && share(self.words) >= MATCH_SHARE {
            (PersonalKind::Name, share(self.words))
        } else {
            let d = distinct?;
            let ratio = d.distinct as f64 / d.present.max(1) as f64;
            let by_content = d.present >= ID_MIN_ROWS && share(self.mixed) >= MATCH_SHARE;
            let by_header = d.present >= 2 && is_id_header(header, &words);
            if ratio < DISTINCT_SHARE || !(by_content || by_header) {
                return None;
            }
            let reason = format!(
                "{} ({}% of values distinct)",
                PersonalKind::FreeTextId,
                pct(ratio)
            );
            return Some(PersonalColumn {
                column: header.to_string(),
                kind: PersonalKind::FreeTextId,
                share: ratio,
                reason,
            });
        };
        Some(PersonalColumn {
            column: header.to_string(),
            kind,
            share,
            reason: format!("{kind} ({}% {basis})", pct(share)),
        })
    }
}

/// A share as a whole percentage, rounded down (so 100% means every value).
fn pct(share: f64) -> u32 {
    (share * 100.0).floor() as u32
}

/// Judges a categorical column from its distinct values and present rows.
pub(crate) fn judge_levels<'a>(
    header: &str,
    levels: impl IntoIterator<Item = &'a str>,
    present: usize,
) -> Option<PersonalColumn> {
    let mut scan = PersonalScan::default();
    let mut distinct = 0;
    for level in levels {
        scan.add(level);
        distinct += 1;
    }
    scan.judge(header, Some(Distinct { distinct, present }))
}

/// Judges the fitted column `col` of `table` on `train_rows` (as fitting saw them).
pub(crate) fn judge_fitted(
    table: &CsvTable,
    col: usize,
    train_rows: &[usize],
    transform: &ColumnTransform,
) -> Result<Option<PersonalColumn>> {
    let header = table.headers.get(col).map_or("", String::as_str);
    match transform {
        ColumnTransform::Categorical { levels } => {
            let mut present = 0;
            for &row in train_rows {
                present += usize::from(table.cell(row, col)?.is_some());
            }
            Ok(judge_levels(
                header,
                levels.iter().map(String::as_str),
                present,
            ))
        }
        ColumnTransform::Numeric { .. } => {
            let mut scan = PersonalScan::default();
            for &row in train_rows {
                let cell = table.cell(row, col)?;
                if let (Some(text), Ok(Some(_))) = (cell, number(cell)) {
                    scan.add(text);
                }
            }
            Ok(scan.judge(header, None))
        }
    }
}

/// The columns of `table` that look personal on the given rows (0-based indices), in header
/// order. Kinds are decided as fitting does without configuration: numeric when every present
/// value in the whole table is a number.
///
/// # Rules
///
/// Values are judged after the fitting of the column (so constant and id-like drops come
/// first), on the training rows. A categorical column is judged on its distinct values (its
/// levels), a numeric one on every present value (no set of distinct numbers is kept, so the
/// identifier rule does not apply to numeric columns).
///
/// * **Email**: at least 80% of the values read `local@domain.tld`.
/// * **Phone**: at least 80% of the values are 7 to 15 digits once spaces, dashes, dots and
///   parentheses and a leading `+` are removed, and either 80% carry such a mark (a leading
///   `+`, a space, an inner dash, a parenthesis, two dots) or the header says phone, tel,
///   mobile, cell or fax. Plain integers (a revenue of 7 digits) are not phone numbers.
/// * **BirthDate**: the header contains `birth` or the word `dob`, and at least 80% of the
///   values are dates (`YYYY-MM-DD`, `DD/MM/YYYY` or `MM/DD/YYYY`).
/// * **Name**: the header is a name header (`name`, `first_name`, `surname`, ...; words split
///   on `_`, `-` and spaces, any letter case) and at least 80% of the values are one to four
///   alphabetic words.
/// * **FreeTextId**: over at least 20 present rows, at least 95% of them hold distinct values
///   and 80% of the values mix letters and digits (`CUST-00123-A`); or the header's last word
///   is `id`, `uuid`, `guid` or `ssn` (`customerId` too) and at least 95% of at least two
///   present rows are distinct.
pub fn personal_columns(table: &CsvTable, rows: &[usize]) -> Result<Vec<PersonalColumn>> {
    let mut found = Vec::new();
    for col in 0..table.headers.len() {
        let transform = if looks_numeric(table, col)? {
            ColumnTransform::Numeric {
                mean: 0.0,
                std: 1.0,
                missing_indicator: false,
            }
        } else {
            let mut levels = std::collections::BTreeSet::new();
            for &row in rows {
                if let Some(v) = table.cell(row, col)? {
                    levels.insert(v.to_string());
                }
            }
            ColumnTransform::Categorical {
                levels: levels.into_iter().collect(),
            }
        };
        found.extend(judge_fitted(table, col, rows, &transform)?);
    }
    Ok(found)
}

/// Lower-case words of a header, split on `_`, `-`, `.` and spaces.
fn header_words(header: &str) -> Vec<String> {
    header
        .split(['_', '-', ' ', '.'])
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

fn is_name_header(words: &[String]) -> bool {
    const NAMES: [&str; 22] = [
        "name",
        "first_name",
        "last_name",
        "middle_name",
        "surname",
        "full_name",
        "customer_name",
        "client_name",
        "contact_name",
        "person_name",
        "given_name",
        "family_name",
        "maiden_name",
        "firstname",
        "lastname",
        "fullname",
        "givenname",
        "familyname",
        "forename",
        "first",
        "last",
        "patient_name",
    ];
    let joined = words.join("_");
    // "first" / "last" alone are too vague: only as part of a longer listed name.
    joined != "first" && joined != "last" && NAMES.contains(&joined.as_str())
}

fn is_id_header(header: &str, words: &[String]) -> bool {
    let last = words.last().map_or("", String::as_str);
    if ["id", "uuid", "guid", "ssn"].contains(&last) {
        return true;
    }
    // camelCase: customerId, customerID.
    let chars: Vec<char> = header.trim().chars().collect();
    matches!(chars.as_slice(), [.., p, 'I', 'd' | 'D'] if p.is_lowercase())
}

/// `local@domain.tld`: one `@`, no spaces, a dotted domain ending in two or more letters.
fn is_email(value: &str) -> bool {
    let Some((local, domain)) = value.split_once('@') else {
        return false;
    };
    let Some((host, tld)) = domain.rsplit_once('.') else {
        return false;
    };
    let clean = |s: &str| !s.is_empty() && !s.contains(|c: char| c.is_whitespace() || c == '@');
    clean(local)
        && clean(host)
        && host.split('.').all(|label| !label.is_empty())
        && tld.len() >= 2
        && tld.chars().all(|c| c.is_ascii_alphabetic())
}

/// `Some(marked)` when the value is 7 to 15 digits with phone separators; `marked` when it
/// carries a sign of a phone number (a leading `+`, a space, an inner dash, a parenthesis,
/// two or more dots) rather than reading as a plain number.
fn phone(value: &str) -> Option<bool> {
    let (plus, rest) = match value.strip_prefix('+') {
        Some(rest) => (true, rest),
        None => (false, value),
    };
    let (mut digits, mut dots, mut marked) = (0usize, 0usize, plus);
    for (i, c) in rest.char_indices() {
        match c {
            '0'..='9' => digits += 1,
            '-' if i == 0 => return None, // a negative number
            ' ' | '-' | '(' | ')' => marked = true,
            '.' => dots += 1,
            _ => return None,
        }
    }
    (7..=15).contains(&digits).then_some(marked || dots >= 2)
}

/// One to four words of letters (apostrophes, dashes and dots allowed inside).
fn is_name_words(value: &str) -> bool {
    let words: Vec<&str> = value.split_whitespace().collect();
    (1..=4).contains(&words.len())
        && words.iter().all(|w| {
            w.chars().any(char::is_alphabetic)
                && w.chars()
                    .all(|c| c.is_alphabetic() || matches!(c, '\'' | '-' | '.'))
        })
}

/// `YYYY-MM-DD`, `DD/MM/YYYY` or `MM/DD/YYYY` with a plausible month and day.
fn is_date(value: &str) -> bool {
    let num = |s: &str, len: std::ops::RangeInclusive<usize>| -> Option<u32> {
        (len.contains(&s.len()) && s.chars().all(|c| c.is_ascii_digit()))
            .then(|| s.parse().ok())
            .flatten()
    };
    let month = |m: u32| (1..=12).contains(&m);
    let day = |d: u32| (1..=31).contains(&d);
    let parts: Vec<&str> = value.split(['-', '/']).collect();
    let [a, b, c] = parts.as_slice() else {
        return false;
    };
    if value.contains('-') && !value.contains('/') {
        return match (num(a, 4..=4), num(b, 1..=2), num(c, 1..=2)) {
            (Some(_), Some(m), Some(d)) => month(m) && day(d),
            _ => false,
        };
    }
    if value.contains('/') && !value.contains('-') {
        return match (num(a, 1..=2), num(b, 1..=2), num(c, 4..=4)) {
            (Some(x), Some(y), Some(_)) => (day(x) && month(y)) || (month(x) && day(y)),
            _ => false,
        };
    }
    false
}

#[cfg(test)]
#[path = "privacy_tests.rs"]
mod tests;
