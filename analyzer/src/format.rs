//! Number formatting shared by every report (the DOT picture here, the CLI's text report).

/// A call rate for people: whole numbers from 100 up, three significant digits below (trace
/// rates can be tiny).
pub fn qps(q: f64) -> String {
    if q >= 100.0 || q == 0.0 || !q.is_finite() {
        format!("{q:.0}")
    } else {
        let decimals = (2 - q.log10().floor() as i32).clamp(0, 9) as usize;
        format!("{q:.decimals$}")
    }
}

#[cfg(test)]
mod tests {
    use super::qps;

    #[test]
    fn rates_keep_three_significant_digits() {
        assert_eq!(qps(9500.0), "9500");
        assert_eq!(qps(89.0), "89.0");
        assert_eq!(qps(1.0), "1.00");
        assert_eq!(qps(0.00746), "0.00746");
        assert_eq!(qps(0.0), "0");
    }
}
