use super::*;
use crate::tabular::{TabularConfig, TabularEncoder, TabularError};

fn all(t: &CsvTable) -> Vec<usize> {
    (0..t.len()).collect()
}

/// A table of `rows` rows built from one generator per column.
fn build(headers: &[&str], rows: usize, cell: impl Fn(usize, usize) -> String) -> CsvTable {
    let mut text = headers.join(",") + "\n";
    for row in 0..rows {
        let cells: Vec<String> = (0..headers.len()).map(|c| cell(row, c)).collect();
        text += &cells.join(",");
        text += "\n";
    }
    CsvTable::parse(&text).unwrap()
}

fn flagged(t: &CsvTable) -> Vec<(String, PersonalKind)> {
    personal_columns(t, &all(t))
        .unwrap()
        .into_iter()
        .map(|p| (p.column, p.kind))
        .collect()
}

const FIRST: [&str; 6] = ["Ann", "Bob", "Chloé", "Dmitri", "Eve", "O'Neil"];

/// One column of each kind, plus a label.
fn personal_table() -> CsvTable {
    let headers = [
        "email",
        "contact",
        "customer_name",
        "code",
        "date_of_birth",
        "customerId",
        "y",
    ];
    build(&headers, 30, |r, c| match c {
        0 if r == 3 => "unknown".into(),
        0 => format!("user{r}@mail.example.com"),
        1 => format!("+1 (415) 555-{:04}", 1000 + r),
        2 => format!("{} Smith-{}", FIRST[r % 6], ["Jones", "Lee"][r % 2]),
        3 => format!("CUST-{:05}-{}", r * 7, ["A", "B"][r % 2]),
        4 => format!("19{:02}-{:02}-{:02}", 50 + r, 1 + r % 12, 1 + r % 28),
        5 => format!("u{}", 1000 - r),
        _ => ["yes", "no"][r % 2].into(),
    })
}

#[test]
fn each_kind_is_detected() {
    let t = personal_table();
    use PersonalKind::*;
    assert_eq!(
        flagged(&t),
        [
            ("email".to_string(), Email),
            ("contact".to_string(), Phone),
            ("customer_name".to_string(), Name),
            ("code".to_string(), FreeTextId),
            ("date_of_birth".to_string(), BirthDate),
            ("customerId".to_string(), FreeTextId),
        ]
    );
    let found = personal_columns(&t, &all(&t)).unwrap();
    assert_eq!(
        found[0].reason,
        "looks like e-mail addresses (96% of distinct values)"
    );
    assert!((found[0].share - 29.0 / 30.0).abs() < 1e-12);
    assert_eq!(
        found[3].reason,
        "looks like a free-text identifier (100% of values distinct)"
    );
    assert_eq!(
        found[0].to_string(),
        format!("\"email\": {}", found[0].reason)
    );
}

#[test]
fn phone_numbers_in_numeric_columns() {
    // "+1415..." reads as a number: flagged by its "+"; plain digits only by the header.
    let t = build(&["intl", "mobile", "revenue", "y"], 25, |r, c| match c {
        0 => format!("+1415555{:04}", r),
        1 | 2 => format!("{}", 4_155_550_000_u64 + r as u64 * 37),
        _ => ["a", "b"][r % 2].into(),
    });
    let kinds = flagged(&t);
    assert_eq!(
        kinds,
        [
            ("intl".to_string(), PersonalKind::Phone),
            ("mobile".to_string(), PersonalKind::Phone)
        ]
    );
    let p = &personal_columns(&t, &all(&t)).unwrap()[0];
    assert_eq!(p.reason, "looks like phone numbers (100% of values)");
}

#[test]
fn churn_like_columns_are_not_flagged() {
    let headers = [
        "state",
        "account_length",
        "area_code",
        "area",
        "international_plan",
        "total_day_minutes",
        "revenue",
        "total_day_charge",
        "number_customer_service_calls",
        "plan_id",
        "y",
    ];
    let t = build(&headers, 60, |r, c| match c {
        0 => ["KS", "OH", "NJ", "NY", "CA"][r % 5].into(),
        1 => format!("{}", 50 + r * 3),
        2 => ["408", "415", "510"][r % 3].into(),
        3 => format!("area_code_{}", ["408", "415", "510"][r % 3]),
        4 => ["yes", "no"][r % 2].into(),
        5 => format!("{:.1}", 100.0 + r as f64 * 3.7),
        6 => format!("{}", 1_000_000 + r * 7919),
        7 => format!("{:.2}", 1_234_567.0 + r as f64 * 1.01),
        8 => format!("{}", r % 5),
        9 => format!("P{}", r % 4),
        _ => ["yes", "no"][r % 2].into(),
    });
    assert_eq!(flagged(&t), []);
}

#[test]
fn the_embedded_churn_data_flags_nothing() {
    let t = CsvTable::parse(crate::CHURN_CSV).unwrap();
    assert_eq!(flagged(&t), []);
    let enc = TabularEncoder::fit(&t, &all(&t), &TabularConfig::new("churn")).unwrap();
    assert!(enc.dropped_personal().is_empty());
}

#[test]
fn matchers() {
    assert!(is_email("a.b+c@x.example.org"));
    for bad in [
        "a@b",
        "@x.com",
        "a@.com",
        "a b@x.com",
        "a@x.c0m",
        "a@@x.com",
        "ax.com",
    ] {
        assert!(!is_email(bad), "{bad}");
    }
    assert_eq!(phone("+44 20 7946 0958"), Some(true));
    assert_eq!(phone("415.555.1234"), Some(true));
    assert_eq!(phone("4155551234"), Some(false));
    assert_eq!(phone("1234567.5"), Some(false));
    for bad in [
        "-4155551234",
        "415",
        "1e10",
        "12345678901234567",
        "tel 4155551234",
    ] {
        assert_eq!(phone(bad), None, "{bad}");
    }
    for date in ["1980-02-29", "31/12/1999", "12/31/1999", "1/2/2001"] {
        assert!(is_date(date), "{date}");
    }
    for bad in [
        "1980-13-01",
        "32/12/1999",
        "13/13/1999",
        "1980/02/01",
        "19800201",
        "1980-02",
    ] {
        assert!(!is_date(bad), "{bad}");
    }
    assert!(is_name_words("Mary-Jane O'Neil"));
    assert!(!is_name_words("R2D2") && !is_name_words("a b c d e"));
    assert!(is_name_header(&header_words("First Name")));
    assert!(!is_name_header(&header_words("plan_name")) && !is_name_header(&header_words("first")));
    for id in [
        "id",
        "customer_id",
        "Customer-UUID",
        "ssn",
        "userId",
        "userID",
    ] {
        assert!(is_id_header(id, &header_words(id)), "{id}");
    }
    for not_id in ["paid", "valid", "grid", "ID_card_type", "idea"] {
        assert!(!is_id_header(not_id, &header_words(not_id)), "{not_id}");
    }
}

#[test]
fn few_rows_or_repeated_values_are_not_identifiers() {
    // Letters and digits, all distinct, but under 20 rows and no id header: kept.
    let t = build(&["code", "y"], 19, |r, c| match c {
        0 => format!("X{r}Y"),
        _ => ["a", "b"][r % 2].into(),
    });
    assert_eq!(flagged(&t), []);
    // An id header with repeated values: a category, not an identifier.
    let t = build(&["store_id", "y"], 40, |r, c| match c {
        0 => format!("S{}", r % 10),
        _ => ["a", "b"][r % 2].into(),
    });
    assert_eq!(flagged(&t), []);
}

#[test]
fn fitting_drops_flagged_columns_unless_kept() {
    let t = personal_table();
    let rows = all(&t);
    let enc = TabularEncoder::fit(&t, &rows, &TabularConfig::new("y")).unwrap_err();
    let TabularError::NoFeatures { dropped } = enc else {
        panic!("every column is personal: {enc:?}");
    };
    assert_eq!(dropped.len(), 6);
    assert!(dropped[0].1.starts_with("personal data: looks like e-mail"));
    let mut config = TabularConfig::new("y");
    config.columns.keep_personal = vec!["code".into(), " email".into()];
    let enc = TabularEncoder::fit(&t, &rows, &config).unwrap();
    let kept: Vec<&str> = enc.columns.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(kept, ["email", "code"]);
    let names: Vec<&str> = enc
        .dropped_personal()
        .iter()
        .map(|p| p.column.as_str())
        .collect();
    assert_eq!(
        names,
        ["contact", "customer_name", "date_of_birth", "customerId"]
    );
    assert_eq!(enc.dropped.len(), 4);
    config.columns.drop_personal = false;
    let enc = TabularEncoder::fit(&t, &rows, &config).unwrap();
    assert_eq!((enc.columns.len(), enc.dropped_personal().len()), (6, 0));
    // The target is never dropped, even when it looks personal.
    let enc = TabularEncoder::fit(&t, &rows, &TabularConfig::new("email")).unwrap();
    assert_eq!(enc.columns.len(), 1);
    assert_eq!(enc.columns[0].name, "y");
    assert_eq!(enc.dropped_personal().len(), 5);
    assert!(enc.dropped_personal().iter().all(|p| p.column != "email"));
}

#[test]
fn unknown_keep_personal_names_the_column() {
    let t = personal_table();
    let mut config = TabularConfig::new("y");
    config.columns.keep_personal = vec!["e_mail".into()];
    let err = TabularEncoder::fit(&t, &all(&t), &config).unwrap_err();
    assert!(
        matches!(&err, TabularError::UnknownColumnInConfig { name, field, .. }
            if name == "e_mail" && field == "keep_personal"),
        "{err:?}"
    );
    assert!(err.to_string().contains("\"email\", \"contact\""), "{err}");
    let json = r#"{"target": "y", "keep_personal": ["code"], "drop_personal": false}"#;
    let config = TabularConfig::from_json(json).unwrap();
    assert_eq!(config.columns.keep_personal, ["code"]);
    assert!(!config.columns.drop_personal);
}

#[test]
fn id_like_and_constant_rules_come_first() {
    let t = personal_table();
    let mut config = TabularConfig::new("y");
    config.columns.drop_id_like = true;
    config.columns.keep_personal = vec!["customer_name".into()];
    let enc = TabularEncoder::fit(&t, &all(&t), &config).unwrap();
    let reason = |name: &str| {
        let found = enc.dropped.iter().find(|d| d.0 == name);
        found.map(|d| d.1.clone()).unwrap_or_default()
    };
    // Every column but the names is all distinct: dropped as id-like, as before.
    assert_eq!(
        reason("code"),
        "identifier-like: all 30 training values are distinct"
    );
    assert_eq!(
        reason("email"),
        "identifier-like: all 30 training values are distinct"
    );
    assert!(enc.dropped_personal().is_empty());
    assert_eq!(enc.columns.len(), 1);
    assert_eq!(enc.columns[0].name, "customer_name");
}

#[test]
fn encoder_json_keeps_the_dropped_personal_columns() {
    let t = personal_table();
    let mut config = TabularConfig::new("y");
    config.columns.keep_personal = vec!["code".into()];
    let enc = TabularEncoder::fit(&t, &all(&t), &config).unwrap();
    assert_eq!(enc.dropped_personal().len(), 5);
    let json = enc.to_json();
    assert!(json.contains("\"dropped_personal\""));
    assert_eq!(TabularEncoder::from_json(&json).unwrap(), enc);
    // An encoder saved before the field existed still loads, with nothing listed.
    let mut old = enc.clone();
    old.dropped_personal.clear();
    let old_json = old.to_json();
    assert!(!old_json.contains("dropped_personal"));
    let back = TabularEncoder::from_json(&old_json).unwrap();
    assert!(back.dropped_personal().is_empty());
    assert_eq!(back.columns, enc.columns);
}
