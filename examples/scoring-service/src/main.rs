//! A service-style scoring loop on a distilled student, with the inference crate only (no
//! trainer): the model and its preprocessing are loaded once, then each line of stdin is a
//! JSON object of field → value (as in the training CSV) and each answer is one JSON line:
//!
//! ```text
//! $ cargo run --release -p scoring-service -- runs/demo-churn distilled
//! {"state": "KS", "international_plan": "yes", "total_day_minutes": 265.1, ...}
//! {"predicted":"yes","probabilities":{"no":0.31,"yes":0.69},"micros":14.2}
//! ```
//!
//! A line that is not a JSON object, a record that lacks a training column (the error names
//! it; `null` is a missing value) or that cannot be encoded (text in a numeric field) gets
//! `{"error": "..."}` and the loop goes on. At the end (EOF) the median and
//! 99th-percentile latency of the answered records go to stderr. Replace stdin/stdout by
//! your transport (HTTP, a queue): `Predictor` is `Clone`, load it once per worker.

use std::collections::HashMap;
use std::io::{BufRead, Write};
use std::time::Instant;

use dark_knowledge_infer::Predictor;
use serde_json::{Map, Value, json};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.is_empty() || args.len() > 3 || args[0] == "--help" {
        eprintln!(
            "usage: scoring-service RUN_DIR [MODEL (default distilled)] [DEVICE (default cpu)]\n\
             reads one JSON object per line on stdin, writes one JSON answer per line"
        );
        std::process::exit(2);
    }
    let model = args.get(1).map_or("distilled", String::as_str);
    let device_name = args.get(2).map_or("cpu", String::as_str);
    if let Err(e) = serve(&args[0], model, device_name) {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

fn serve(run_dir: &str, model: &str, device_name: &str) -> Result<(), String> {
    let device = dark_knowledge_core::device_from_name(device_name).map_err(|e| e.to_string())?;
    let predictor = Predictor::load(run_dir.as_ref(), model, &device).map_err(|e| e.to_string())?;
    eprintln!(
        "loaded {} ({}); classes {:?}; reading JSON records from stdin",
        predictor.info().role,
        predictor.info().description,
        predictor.class_names()
    );
    let stdin = std::io::stdin();
    let mut stdout = std::io::stdout().lock();
    let mut micros = Vec::new();
    for line in stdin.lock().lines() {
        let line = line.map_err(|e| format!("reading stdin: {e}"))?;
        if line.trim().is_empty() {
            continue;
        }
        let answer = match parse_record(&line) {
            Err(e) => json!({ "error": e }),
            Ok(record) => {
                let started = Instant::now();
                match predictor.predict_proba_record(&record) {
                    Err(e) => json!({ "error": e.to_string() }),
                    Ok(p) => {
                        let us = started.elapsed().as_secs_f64() * 1e6;
                        micros.push(us);
                        answer(predictor.class_names(), &p, us)
                    }
                }
            }
        };
        writeln!(stdout, "{answer}").map_err(|e| format!("writing stdout: {e}"))?;
    }
    if !micros.is_empty() {
        micros.sort_by(f64::total_cmp);
        let at = |q: f64| micros[((micros.len() - 1) as f64 * q).round() as usize];
        eprintln!(
            "{} records scored; latency per record (encode + forward): median {:.1} µs, p99 {:.1} µs",
            micros.len(),
            at(0.5),
            at(0.99)
        );
    }
    Ok(())
}

/// A JSON object as a record: strings as they are, numbers and booleans as text, `null` as
/// a missing value (an empty field).
fn parse_record(line: &str) -> Result<HashMap<String, String>, String> {
    let value: Value = serde_json::from_str(line).map_err(|e| format!("not JSON: {e}"))?;
    let Value::Object(fields) = value else {
        return Err("expected a JSON object of field -> value".into());
    };
    let mut record = HashMap::with_capacity(fields.len());
    for (name, v) in fields {
        let text = match v {
            Value::Null => String::new(),
            Value::String(s) => s,
            Value::Number(n) => n.to_string(),
            Value::Bool(b) => b.to_string(),
            other => {
                return Err(format!(
                    "field {name:?}: expected a string or number, got {other}"
                ));
            }
        };
        record.insert(name, text);
    }
    Ok(record)
}

fn answer(classes: &[String], p: &[f32], micros: f64) -> Value {
    let best = (0..p.len()).fold(0, |b, i| if p[i] > p[b] { i } else { b });
    let probabilities: Map<String, Value> = classes
        .iter()
        .zip(p)
        .map(|(c, v)| (c.clone(), json!(f64::from(*v))))
        .collect();
    json!({
        "predicted": classes[best],
        "probabilities": probabilities,
        "micros": (micros * 10.0).round() / 10.0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_are_parsed_from_json_objects() {
        let r = parse_record(r#"{"a": "x", "b": 1.5, "c": null, "d": true}"#).unwrap();
        assert_eq!(r["a"], "x");
        assert_eq!(r["b"], "1.5");
        assert_eq!(r["d"], "true");
        assert_eq!(r["c"], "", "null is a missing value (an empty field)");
        assert!(parse_record("[1, 2]").unwrap_err().contains("object"));
        assert!(parse_record("{oops").unwrap_err().contains("not JSON"));
        assert!(parse_record(r#"{"a": [1]}"#).unwrap_err().contains("\"a\""));
    }

    #[test]
    fn answers_name_the_most_likely_class() {
        let classes = vec!["no".to_string(), "yes".to_string()];
        let a = answer(&classes, &[0.25, 0.75], 12.34);
        assert_eq!(a["predicted"], "yes");
        assert_eq!(a["probabilities"]["no"], 0.25);
        assert_eq!(a["micros"], 12.3);
    }
}
