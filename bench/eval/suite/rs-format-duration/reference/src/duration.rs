/// A number of seconds for people: 3725 -> "1h 2m 5s".
pub fn format_duration(secs: u64) -> String {
    if secs == 0 {
        return "0s".to_string();
    }
    let parts = [
        (secs / 86_400, "d"),
        ((secs % 86_400) / 3600, "h"),
        ((secs % 3600) / 60, "m"),
        (secs % 60, "s"),
    ];
    parts
        .iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, unit)| format!("{n}{unit}"))
        .collect::<Vec<_>>()
        .join(" ")
}
