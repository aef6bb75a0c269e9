//! The `uptime` line of the status page.

pub mod duration;

/// "up 1h 5s" for the status page.
pub fn uptime_line(secs: u64) -> String {
    format!("up {}", duration::format_duration(secs))
}
