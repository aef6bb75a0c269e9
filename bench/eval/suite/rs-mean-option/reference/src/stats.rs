/// The arithmetic mean of `values`, or None when there are none. Summed in i128, so large
/// readings do not overflow.
pub fn mean(values: &[i64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let sum: i128 = values.iter().map(|&v| v as i128).sum();
    Some(sum as f64 / values.len() as f64)
}

/// A one-line summary for the dashboard: "n=3 mean=2.50" ("n=0 mean=-" when empty).
pub fn describe(values: &[i64]) -> String {
    match mean(values) {
        Some(m) => format!("n={} mean={:.2}", values.len(), m),
        None => "n=0 mean=-".to_string(),
    }
}

/// The smallest and largest reading.
pub fn range(values: &[i64]) -> Option<(i64, i64)> {
    Some((*values.iter().min()?, *values.iter().max()?))
}
