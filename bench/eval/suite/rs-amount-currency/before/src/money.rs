/// Cents as "12.50".
pub fn format_amount(cents: i64) -> String {
    let sign = if cents < 0 { "-" } else { "" };
    let cents = cents.abs();
    format!("{}{}.{:02}", sign, cents / 100, cents % 100)
}
