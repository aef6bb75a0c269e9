/// The arithmetic mean of `values`.
pub fn mean(values: &[i64]) -> f64 {
    let sum: i64 = values.iter().sum();
    sum as f64 / values.len() as f64
}

/// A one-line summary for the dashboard: "n=3 mean=2.50".
pub fn describe(values: &[i64]) -> String {
    format!("n={} mean={:.2}", values.len(), mean(values))
}

/// The smallest and largest reading.
pub fn range(values: &[i64]) -> Option<(i64, i64)> {
    Some((*values.iter().min()?, *values.iter().max()?))
}
