//! The checks the model configurations share.

use dark_knowledge_core::error as dk;

/// [`dk::Error::InvalidValue`] for setting `name`, as an `Err`.
pub(crate) fn invalid(name: &'static str, value: String, allowed: &'static str) -> dk::Result<()> {
    Err(dk::Error::InvalidValue {
        name,
        value,
        allowed,
    })
}

/// A class count of at least 2.
pub(crate) fn check_num_classes(num_classes: usize) -> dk::Result<()> {
    if num_classes < 2 {
        return invalid("num_classes", num_classes.to_string(), "an integer >= 2");
    }
    Ok(())
}

/// A dropout probability in `[0, 1)`.
pub(crate) fn check_dropout(dropout: f64) -> dk::Result<()> {
    if !(dropout.is_finite() && (0.0..1.0).contains(&dropout)) {
        return invalid("dropout", dropout.to_string(), "a probability in [0, 1)");
    }
    Ok(())
}
