//! Forward-mode dual numbers in f64: a value and its derivative along one input, so the
//! reference formulas give exact gradients (one evaluation per input) without a tape.

use std::ops::{Add, Div, Mul, Neg, Sub};

/// `v + d·ε` with `ε² = 0`.
#[derive(Debug, Clone, Copy)]
pub struct D {
    pub v: f64,
    pub d: f64,
}

impl D {
    /// A constant (derivative 0).
    pub const fn c(v: f64) -> Self {
        Self { v, d: 0.0 }
    }

    pub fn exp(self) -> Self {
        let e = self.v.exp();
        Self {
            v: e,
            d: self.d * e,
        }
    }

    pub fn ln(self) -> Self {
        Self {
            v: self.v.ln(),
            d: self.d / self.v,
        }
    }

    /// `sqrt`, with the derivative cut below `1e-30` (where the loss clamps the squared norm
    /// and cuts its gradient; `sqrt(0)` would give an infinite slope).
    pub fn sqrt_norm(self) -> Self {
        if self.v < 1e-30 {
            return Self { v: 1e-15, d: 0.0 };
        }
        self.sqrt()
    }

    pub fn sqrt(self) -> Self {
        let s = self.v.sqrt();
        Self {
            v: s,
            d: self.d / (2.0 * s),
        }
    }

    /// The value clamped below at `floor`, the derivative left as it is: the semantics of
    /// PyTorch's `cosine_similarity` eps (clamp in value, gradient of the unclamped norm).
    pub fn lift(self, floor: f64) -> Self {
        Self {
            v: self.v.max(floor),
            d: self.d,
        }
    }
}

impl Add for D {
    type Output = D;
    fn add(self, o: D) -> D {
        D {
            v: self.v + o.v,
            d: self.d + o.d,
        }
    }
}

impl Sub for D {
    type Output = D;
    fn sub(self, o: D) -> D {
        D {
            v: self.v - o.v,
            d: self.d - o.d,
        }
    }
}

impl Mul for D {
    type Output = D;
    fn mul(self, o: D) -> D {
        D {
            v: self.v * o.v,
            d: self.d * o.v + self.v * o.d,
        }
    }
}

impl Div for D {
    type Output = D;
    fn div(self, o: D) -> D {
        D {
            v: self.v / o.v,
            d: (self.d * o.v - self.v * o.d) / (o.v * o.v),
        }
    }
}

impl Neg for D {
    type Output = D;
    fn neg(self) -> D {
        D {
            v: -self.v,
            d: -self.d,
        }
    }
}

impl Mul<f64> for D {
    type Output = D;
    fn mul(self, k: f64) -> D {
        D {
            v: self.v * k,
            d: self.d * k,
        }
    }
}

impl Div<f64> for D {
    type Output = D;
    fn div(self, k: f64) -> D {
        D {
            v: self.v / k,
            d: self.d / k,
        }
    }
}

/// Σ of a sequence.
pub fn sum(xs: impl IntoIterator<Item = D>) -> D {
    xs.into_iter().fold(D::c(0.0), |a, b| a + b)
}
