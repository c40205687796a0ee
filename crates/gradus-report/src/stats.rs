//! Small statistics for reports: Student-t quantiles and the least-squares fit of a rate
//! `err ~ C t^p` on a log-log scale with its Student-t confidence interval.
//!
//! The t distribution's CDF is `1 - I_x(df/2, 1/2) / 2` for `t > 0` with `x = df / (df +
//! t^2)` (`I` the regularised incomplete beta function, evaluated by its continued fraction);
//! quantiles invert it by bisection.

/// `ln Gamma(x)` for `x > 0` (Lanczos approximation, g = 7, relative error about 1e-15).
fn ln_gamma(x: f64) -> f64 {
    const C: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        // Reflection: Gamma(x) Gamma(1 - x) = pi / sin(pi x).
        let pi = std::f64::consts::PI;
        return (pi / (pi * x).sin()).abs().ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let t = x + 7.5;
    let mut s = C[0];
    for (i, c) in C.iter().enumerate().skip(1) {
        s += c / (x + i as f64);
    }
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + s.ln()
}

/// Continued fraction of the incomplete beta function (modified Lentz), valid for
/// `x < (a + 1) / (a + b + 2)`.
fn beta_fraction(a: f64, b: f64, x: f64) -> f64 {
    const TINY: f64 = 1e-300;
    let mut c = 1.0;
    let mut d = 1.0 - (a + b) * x / (a + 1.0);
    d = 1.0 / if d.abs() < TINY { TINY } else { d };
    let mut h = d;
    for m in 1..500 {
        let m = m as f64;
        // Even step d_{2m}, then odd step d_{2m+1} of the fraction.
        for num in [
            m * (b - m) * x / ((a + 2.0 * m - 1.0) * (a + 2.0 * m)),
            -(a + m) * (a + b + m) * x / ((a + 2.0 * m) * (a + 2.0 * m + 1.0)),
        ] {
            d = 1.0 + num * d;
            d = 1.0 / if d.abs() < TINY { TINY } else { d };
            c = 1.0 + num / c;
            if c.abs() < TINY {
                c = TINY;
            }
            h *= d * c;
        }
        // The last factor d * c is within rounding of 1: converged.
        if (d * c - 1.0).abs() < 1e-15 {
            break;
        }
    }
    h
}

/// The regularised incomplete beta function `I_x(a, b)` for `a, b > 0`, `x` in `[0, 1]`,
/// given `y = 1 - x` computed by the caller without cancellation.
fn incomplete_beta(a: f64, b: f64, x: f64, y: f64) -> f64 {
    if x <= 0.0 {
        return 0.0;
    }
    if y <= 0.0 {
        return 1.0;
    }
    let ln_front = ln_gamma(a + b) - ln_gamma(a) - ln_gamma(b) + a * x.ln() + b * y.ln();
    let front = ln_front.exp();
    // The fraction converges fast on one side of the mean; use the symmetry otherwise.
    if x < (a + 1.0) / (a + b + 2.0) {
        front * beta_fraction(a, b, x) / a
    } else {
        1.0 - front * beta_fraction(b, a, y) / b
    }
}

/// `P(T <= t)` for Student's t with `df > 0` degrees of freedom (`NaN` for invalid input).
pub fn student_t_cdf(t: f64, df: f64) -> f64 {
    if !(df > 0.0) || t.is_nan() {
        return f64::NAN;
    }
    if t.is_infinite() {
        return if t > 0.0 { 1.0 } else { 0.0 };
    }
    // x = df / (df + t^2) and 1 - x = t^2 / (df + t^2), both without cancellation.
    let (x, y) = (df / (df + t * t), t * t / (df + t * t));
    let tail = 0.5 * incomplete_beta(0.5 * df, 0.5, x, y);
    if t > 0.0 { 1.0 - tail } else { tail }
}

/// The `p`-quantile of Student's t with `df > 0` degrees of freedom, for `p` in `(0, 1)`;
/// `None` for invalid input.
pub fn student_t_quantile(p: f64, df: f64) -> Option<f64> {
    if !(p > 0.0 && p < 1.0 && df > 0.0 && df.is_finite()) {
        return None;
    }
    // Bracket, then bisect: the CDF is increasing and continuous.
    let mut hi = 1.0;
    while student_t_cdf(hi, df) < p.max(1.0 - p) {
        hi *= 2.0;
        if hi > 1e300 {
            return None;
        }
    }
    let (mut lo, mut up) = (-hi, hi);
    for _ in 0..200 {
        let mid = 0.5 * (lo + up);
        if student_t_cdf(mid, df) < p {
            lo = mid
        } else {
            up = mid
        }
        if up - lo <= 1e-14 * up.abs().max(1.0) {
            break;
        }
    }
    Some(0.5 * (lo + up))
}

/// A fitted rate `err ~ C t^slope`: least squares of `log10 err` on `log10 t`, with the
/// two-sided Student-t confidence interval of the slope (`n - 2` degrees of freedom).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateFit {
    /// Fitted exponent `p`.
    pub slope: f64,
    /// `log10 C`.
    pub intercept: f64,
    /// Lower end of the interval.
    pub lo: f64,
    /// Upper end of the interval.
    pub hi: f64,
    /// Confidence level of the interval, e.g. 0.95.
    pub level: f64,
    /// Points used (positive `err` only).
    pub points: usize,
}

impl RateFit {
    /// Whether `p` lies within the interval.
    pub fn contains(&self, p: f64) -> bool {
        self.lo <= p && p <= self.hi
    }

    /// `-0.98 [-1.03, -0.93]`.
    pub fn cell(&self) -> String {
        format!("{:.2} [{:.2}, {:.2}]", self.slope, self.lo, self.hi)
    }
}

/// Why a rate could not be fitted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FitError(pub String);

impl std::fmt::Display for FitError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for FitError {}

/// Fits `err ~ C t^p` to the points `(t, err)` with `t > 0`; points with `err <= 0` are
/// left out (a log-log fit cannot use them). Errors on non-finite input, a level outside
/// `(0, 1)`, fewer than 3 usable points, or all `t` equal.
pub fn fit_rate(points: &[(f64, f64)], level: f64) -> Result<RateFit, FitError> {
    if !(level > 0.0 && level < 1.0) {
        return Err(FitError(format!("confidence level {level} is not in (0, 1)")));
    }
    if let Some(p) = points.iter().find(|p| !p.0.is_finite() || !p.1.is_finite() || p.0 <= 0.0) {
        return Err(FitError(format!("point ({}, {}) is not a finite (t > 0, err)", p.0, p.1)));
    }
    let sel: Vec<(f64, f64)> =
        points.iter().filter(|p| p.1 > 0.0).map(|p| (p.0.log10(), p.1.log10())).collect();
    let n = sel.len();
    if n < 3 {
        return Err(FitError(format!("{n} positive points; a rate with an interval needs 3")));
    }
    let nf = n as f64;
    let mx = sel.iter().map(|p| p.0).sum::<f64>() / nf;
    let my = sel.iter().map(|p| p.1).sum::<f64>() / nf;
    let sxx: f64 = sel.iter().map(|p| (p.0 - mx).powi(2)).sum();
    if sxx <= 0.0 {
        return Err(FitError("all points share one t".into()));
    }
    let sxy: f64 = sel.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    let slope = sxy / sxx;
    let intercept = my - slope * mx;
    let rss: f64 = sel.iter().map(|p| (p.1 - intercept - slope * p.0).powi(2)).sum();
    let se = (rss / (nf - 2.0) / sxx).sqrt();
    let q = student_t_quantile(0.5 + 0.5 * level, nf - 2.0)
        .ok_or_else(|| FitError("no t quantile".into()))?;
    Ok(RateFit { slope, intercept, lo: slope - q * se, hi: slope + q * se, level, points: n })
}

/// The table cell of a fit that may have failed: `-0.98 [-1.03, -0.93]` or `error: ...`.
pub fn fit_cell(r: &Result<RateFit, FitError>) -> String {
    match r {
        Ok(f) => f.cell(),
        Err(e) => format!("error: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn t_cdf_matches_closed_forms() {
        // df = 1 is Cauchy, df = 2 has CDF 1/2 + t / (2 sqrt(2 + t^2)).
        for t in [-30.0, -2.5, -0.3, 0.0, 0.7, 4.0, 100.0] {
            let cauchy = 0.5 + f64::atan(t) / std::f64::consts::PI;
            assert!((student_t_cdf(t, 1.0) - cauchy).abs() < 1e-12, "t = {t}");
            let two = 0.5 + t / (2.0 * (2.0 + t * t).sqrt());
            assert!((student_t_cdf(t, 2.0) - two).abs() < 1e-12, "t = {t}");
        }
        // Large df: the normal CDF at 1.959964 is 0.975.
        assert!((student_t_cdf(1.959_963_984_540_054, 1e7) - 0.975).abs() < 1e-6);
    }

    #[test]
    fn t_quantiles_match_tables() {
        for (df, q) in [
            (1.0, 12.706_204_736),
            (2.0, 4.302_652_730),
            (5.0, 2.570_581_836),
            (30.0, 2.042_272_456),
        ] {
            let got = student_t_quantile(0.975, df).unwrap();
            assert!((got - q).abs() < 1e-7, "df {df}: {got} vs {q}");
            assert!((student_t_quantile(0.025, df).unwrap() + q).abs() < 1e-7);
        }
        assert_eq!(student_t_quantile(1.0, 3.0), None);
        assert_eq!(student_t_quantile(0.5, 0.0), None);
        assert!(student_t_quantile(0.5, 4.0).unwrap().abs() < 1e-12);
    }

    #[test]
    fn exact_power_law_is_recovered_with_a_zero_width_interval() {
        let pts: Vec<(f64, f64)> = (1..20)
            .map(|k| (10f64.powf(k as f64 / 4.0), 3.0 * 10f64.powf(-0.75 * k as f64 / 4.0)))
            .collect();
        let f = fit_rate(&pts, 0.95).unwrap();
        assert!((f.slope + 0.75).abs() < 1e-12);
        assert!((f.intercept - 3f64.log10()).abs() < 1e-12);
        assert!(f.hi - f.lo < 1e-10);
        assert_eq!(f.points, 19);
    }

    #[test]
    fn interval_matches_a_hand_computed_regression() {
        // log10 t = 0, 1, 2, 3; log10 err = 0, -1.1, -1.9, -3.0.
        let pts: Vec<(f64, f64)> = [0.0, -1.1, -1.9, -3.0]
            .iter()
            .enumerate()
            .map(|(k, &y)| (10f64.powi(k as i32), 10f64.powf(y)))
            .collect();
        let f = fit_rate(&pts, 0.95).unwrap();
        // slope = sxy / sxx = -4.9 / 5, intercept -0.03; residuals 0.03, -0.09, 0.09, -0.03;
        // se = sqrt(rss / 2 / 5); t(0.975, 2) = 4.302653.
        assert!((f.slope + 0.98).abs() < 1e-12);
        assert!((f.intercept + 0.03).abs() < 1e-12);
        let rss: f64 = [0.03f64, -0.09, 0.09, -0.03].iter().map(|r| r * r).sum();
        let half = 4.302_652_730 * (rss / 2.0 / 5.0).sqrt();
        assert!((f.hi - f.slope - half).abs() < 1e-7);
        assert!((f.slope - f.lo - half).abs() < 1e-7);
        assert!(f.contains(-0.98) && !f.contains(-2.0));
        assert_eq!(f.cell(), format!("-0.98 [{:.2}, {:.2}]", f.lo, f.hi));
    }

    #[test]
    fn bad_input_is_an_error() {
        assert!(fit_rate(&[(1.0, 1.0), (2.0, 0.5)], 0.95).is_err());
        assert!(fit_rate(&[(1.0, 1.0), (2.0, 0.5), (3.0, f64::NAN)], 0.95).is_err());
        assert!(fit_rate(&[(1.0, 1.0), (2.0, 0.5), (0.0, 0.1)], 0.95).is_err());
        assert!(fit_rate(&[(2.0, 1.0), (2.0, 0.5), (2.0, 0.1)], 0.95).is_err());
        assert!(fit_rate(&[(1.0, 1.0), (2.0, 0.5), (3.0, 0.1)], 1.0).is_err());
        // Non-positive errors are left out, leaving too few points.
        let r = fit_rate(&[(1.0, 1.0), (2.0, 0.5), (3.0, 0.0)], 0.95);
        assert!(fit_cell(&r).starts_with("error: 2 positive points"));
    }
}
