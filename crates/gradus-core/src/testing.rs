//! Support for the workspace's property tests (used by tests only; no test framework needed).
//!
//! proptest reads `PROPTEST_CASES` (default 256) for tests that use
//! `ProptestConfig::default()`, but a test that sets its count explicitly with
//! `ProptestConfig::with_cases(n)` ignores it. [`proptest_cases`] makes such counts follow the
//! same variable: `n` is the count at proptest's default of 256 cases, scaled by
//! `PROPTEST_CASES / 256`. So one variable deepens or shortens every property test together,
//! keeping the relative effort each test chose (an expensive test at 12 cases stays 50x
//! cheaper than a cheap one at 600):
//!
//! - unset (CI): every test runs its listed count;
//! - `PROPTEST_CASES=2560`: ten times deeper everywhere (a local deep run);
//! - `PROPTEST_CASES=32`: an eighth, for a quick smoke run (at least one case each).

/// proptest's own default case count, the reference the explicit counts are written against.
pub const PROPTEST_DEFAULT_CASES: u32 = 256;

/// The case count for a property test written for `n` cases at proptest's default, scaled by
/// the `PROPTEST_CASES` environment variable (see the module documentation). An unset or
/// unparsable variable leaves `n` unchanged.
pub fn proptest_cases(n: u32) -> u32 {
    let env = std::env::var("PROPTEST_CASES").ok();
    scaled_cases(n, env.as_deref())
}

/// [`proptest_cases`] with the variable's value passed in.
pub fn scaled_cases(n: u32, proptest_cases_var: Option<&str>) -> u32 {
    match proptest_cases_var.and_then(|v| v.trim().parse::<u64>().ok()) {
        Some(total) => {
            let scaled = u64::from(n) * total / u64::from(PROPTEST_DEFAULT_CASES);
            scaled.clamp(1, u64::from(u32::MAX)) as u32
        }
        None => n,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_scale_with_the_variable() {
        assert_eq!(scaled_cases(64, None), 64);
        assert_eq!(scaled_cases(64, Some("256")), 64);
        assert_eq!(scaled_cases(64, Some("2560")), 640);
        assert_eq!(scaled_cases(12, Some("32")), 1);
        assert_eq!(scaled_cases(2000, Some("32")), 250);
        assert_eq!(scaled_cases(64, Some("not a number")), 64);
        assert_eq!(scaled_cases(u32::MAX, Some("1000000")), u32::MAX);
    }
}
