/// Cents in a currency as "12.50 EUR".
pub fn format_amount(cents: i64, currency: &str) -> String {
    let sign = if cents < 0 { "-" } else { "" };
    let cents = cents.abs();
    format!("{}{}.{:02} {}", sign, cents / 100, cents % 100, currency)
}
