//! Temperature scaling at scoring time: a role's `calibration.json` (written by `evaluate`)
//! holds a temperature `T`, and the calibrated probabilities are `softmax(logits / T)`.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// The file, in a role's folder (`RUN/<role>/`), that holds the fitted temperature.
pub const CALIBRATION_FILE: &str = "calibration.json";

/// A temperature read from a role's [`CALIBRATION_FILE`].
#[derive(Debug, Clone, PartialEq)]
pub struct Calibration {
    /// The temperature `T` (finite, > 0).
    pub temperature: f32,
    /// The file it was read from.
    pub path: PathBuf,
}

/// Reads `role_dir/calibration.json` through the folder's `CHECKSUMS`; `Ok(None)` when the
/// file is not there.
///
/// # Errors
/// [`Error::Calibration`] naming the file when it cannot be read, is not JSON, has no
/// `temperature` number, or its temperature is not finite and > 0.
pub fn read_calibration(role_dir: &Path) -> Result<Option<Calibration>> {
    let path = role_dir.join(CALIBRATION_FILE);
    let bad = |reason: String| Error::Calibration {
        path: path.clone(),
        reason,
    };
    let bytes = match dark_knowledge_core::checksums::read_verified(&path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(bad(format!("cannot read it ({e})"))),
    };
    let value: serde_json::Value =
        serde_json::from_slice(&bytes).map_err(|e| bad(format!("not valid JSON ({e})")))?;
    let t = match value.get("temperature") {
        Some(serde_json::Value::Number(n)) => n.as_f64().unwrap_or(f64::NAN),
        Some(other) => return Err(bad(format!("temperature is {other}, not a number"))),
        None => return Err(bad("no \"temperature\" field".into())),
    };
    let temperature = t as f32;
    if !(temperature.is_finite() && temperature > 0.0) {
        return Err(bad(format!("temperature {t} is not a finite number > 0")));
    }
    if let Some(stale) = stale_weights(role_dir, &value) {
        log::warn!(
            "{} was fitted for other weights ({stale}): not applied, the scores are \
             uncalibrated; run evaluate again to refit it",
            path.display()
        );
        return Ok(None);
    }
    Ok(Some(Calibration { temperature, path }))
}

/// Why the temperature does not belong to the role's weights, when `calibration.json`
/// names the weights file it was fitted for (`"weights": {"file", "blake3"}`) and that
/// file now has another hash (the model was trained again after `evaluate`).
fn stale_weights(role_dir: &Path, value: &serde_json::Value) -> Option<String> {
    let weights = value.get("weights")?;
    let file = weights.get("file")?.as_str()?;
    let expected = weights.get("blake3")?.as_str()?;
    // Only a plain file name in the role's folder is looked at.
    if file.contains(['/', '\\']) || file == ".." {
        return None;
    }
    let bytes = std::fs::read(role_dir.join(file)).ok()?;
    let actual = blake3::hash(&bytes).to_hex();
    (actual.as_str() != expected).then(|| format!("{file} has changed since"))
}

/// `softmax(logits / temperature)` of one row, numerically stable (`temperature` 1 is the
/// plain softmax).
pub fn softmax_with_temperature(logits: &[f32], temperature: f32) -> Vec<f32> {
    let scaled: Vec<f32> = logits.iter().map(|z| z / temperature).collect();
    let max = scaled.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let exp: Vec<f32> = scaled.iter().map(|z| (z - max).exp()).collect();
    let sum: f32 = exp.iter().sum();
    exp.into_iter().map(|e| e / sum).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("dk-infer-cal-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn a_missing_file_is_no_calibration_and_a_bad_one_is_named() {
        let d = dir("bad");
        assert_eq!(read_calibration(&d).unwrap(), None);
        for (text, word) in [
            ("{\"temperature\": 0}", "not a finite number > 0"),
            ("{\"temperature\": -1.5}", "not a finite number > 0"),
            ("{\"temperature\": \"2\"}", "not a number"),
            ("{}", "no \"temperature\""),
            ("nope", "not valid JSON"),
        ] {
            std::fs::write(d.join(CALIBRATION_FILE), text).unwrap();
            let e = read_calibration(&d).unwrap_err().to_string();
            assert!(e.contains(word) && e.contains(CALIBRATION_FILE), "{e}");
        }
        std::fs::write(
            d.join(CALIBRATION_FILE),
            "{\"temperature\": 2.0, \"ece\": 0.1}",
        )
        .unwrap();
        assert_eq!(read_calibration(&d).unwrap().unwrap().temperature, 2.0);
        // Fitted for weights that have changed since: not applied.
        std::fs::write(d.join("model.bpk"), b"new weights").unwrap();
        let record = |bytes: &[u8]| {
            format!(
                "{{\"temperature\": 2.0, \"weights\": {{\"file\": \"model.bpk\", \"blake3\": \"{}\"}}}}",
                blake3::hash(bytes).to_hex()
            )
        };
        std::fs::write(d.join(CALIBRATION_FILE), record(b"old weights")).unwrap();
        assert_eq!(read_calibration(&d).unwrap(), None);
        std::fs::write(d.join(CALIBRATION_FILE), record(b"new weights")).unwrap();
        assert!(read_calibration(&d).unwrap().is_some());
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn temperature_softens_the_softmax() {
        let p = softmax_with_temperature(&[2.0, 0.0], 2.0);
        let e = 1f32.exp();
        assert!((p[0] - e / (e + 1.0)).abs() < 1e-6, "{p:?}");
        assert!((p.iter().sum::<f32>() - 1.0).abs() < 1e-6);
    }
}
